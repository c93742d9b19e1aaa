//! RPC credentials: AUTH_NULL, AUTH_UNIX and the three AUTH_GLUSTERFS flavors.
//!
//! Decoding borrows the credential body; group lists stay as byte slices until iterated, so no
//! credential allocates. The size rules are glusterd's (reference §2): AUTH_GLUSTERFS v1 allows
//! at most 16 groups, v2 requires `groups + lk_owner bytes <= 95`, v3 `<= 91`. A flavor brickd
//! does not know is served as AUTH_NULL, as glusterd does. A refused credential is answered
//! with MSG_DENIED / AUTH_ERROR / AUTH_BADCRED (glusterd sends auth_stat 0 there, which is a
//! bug; see docs/rpc-deviations.md).

use super::xdr::{XdrError, XdrReader, XdrWriter};
use thiserror::Error;

/// AUTH_NULL.
pub const AUTH_NULL: u32 = 0;
/// AUTH_UNIX (AUTH_SYS).
pub const AUTH_UNIX: u32 = 1;
/// AUTH_GLUSTERFS (v1).
pub const AUTH_GLUSTERFS: u32 = 5;
/// AUTH_GLUSTERFS-v2: what the CLI and glusterd send.
pub const AUTH_GLUSTERFS_V2: u32 = 390_039;
/// AUTH_GLUSTERFS-v3: what the protocol/client xlator sends after its handshake.
pub const AUTH_GLUSTERFS_V3: u32 = 390_040;

/// AUTH_UNIX machine name cap (RFC 5531: `string machinename<255>`).
pub const UNIX_MACHINE_NAME_BYTES_MAX: usize = 255;
/// AUTH_UNIX gids cap (RFC 5531: `unsigned int gids<16>`).
pub const UNIX_GROUPS_MAX: usize = 16;
/// AUTH_GLUSTERFS v1 carries exactly this many group slots.
pub const GLUSTERFS_V1_GROUP_SLOTS: usize = 16;
/// AUTH_GLUSTERFS v2: groups count plus lk_owner length may not pass this.
pub const GLUSTERFS_V2_GROUPS_PLUS_LK_MAX: usize = 95;
/// AUTH_GLUSTERFS v3: groups count plus lk_owner length may not pass this.
pub const GLUSTERFS_V3_GROUPS_PLUS_LK_MAX: usize = 91;

/// A list of 32-bit group ids, still in wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Groups<'a> {
    raw: &'a [u8],
}

impl<'a> Groups<'a> {
    /// Number of groups.
    pub fn len(&self) -> usize {
        self.raw.len() / 4
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The group ids in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        self.raw
            .chunks_exact(4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    }
}

/// A decoded credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// AUTH_NULL.
    Null,
    /// AUTH_UNIX / AUTH_SYS.
    Unix {
        /// Arbitrary stamp.
        stamp: u32,
        /// Caller's host name, raw bytes.
        machine_name: &'a [u8],
        /// Effective uid.
        uid: u32,
        /// Effective gid.
        gid: u32,
        /// Supplementary groups.
        groups: Groups<'a>,
    },
    /// AUTH_GLUSTERFS v1.
    GlusterV1 {
        /// Lock owner as a 64-bit number.
        lk_owner: u64,
        /// Caller pid.
        pid: u32,
        /// uid.
        uid: u32,
        /// gid.
        gid: u32,
        /// The first `ngrps` of the 16 group slots.
        groups: Groups<'a>,
    },
    /// AUTH_GLUSTERFS v2.
    GlusterV2 {
        /// Caller pid.
        pid: i32,
        /// uid.
        uid: u32,
        /// gid.
        gid: u32,
        /// Groups.
        groups: Groups<'a>,
        /// Lock owner bytes.
        lk_owner: &'a [u8],
    },
    /// AUTH_GLUSTERFS v3.
    GlusterV3 {
        /// Caller pid.
        pid: i32,
        /// uid.
        uid: u32,
        /// gid.
        gid: u32,
        /// Flags.
        flags: u32,
        /// ctime nanoseconds.
        ctime_nsec: u32,
        /// ctime seconds.
        ctime_sec: u64,
        /// Groups.
        groups: Groups<'a>,
        /// Lock owner bytes.
        lk_owner: &'a [u8],
    },
    /// A flavor brickd does not know; served as AUTH_NULL, like glusterd.
    Other {
        /// The flavor number.
        flavor: u32,
    },
}

/// Why a credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The body does not decode.
    #[error("credential flavor {flavor} does not decode: {cause}")]
    Malformed {
        /// Flavor.
        flavor: u32,
        /// Decode error.
        cause: XdrError,
    },
    /// AUTH_GLUSTERFS v1 with more than 16 groups.
    #[error("AUTH_GLUSTERFS credential claims {ngrps} groups (at most 16)")]
    TooManyV1Groups {
        /// Groups claimed.
        ngrps: u32,
    },
    /// AUTH_GLUSTERFS v2/v3 with groups + lk_owner over the limit.
    #[error("AUTH_GLUSTERFS v{version} credential has {groups} groups and a {lk_owner_bytes}-byte lk_owner (sum at most {max})")]
    GroupsPlusLkOwner {
        /// 2 or 3.
        version: u8,
        /// Groups count.
        groups: usize,
        /// lk_owner length.
        lk_owner_bytes: usize,
        /// The limit for that version.
        max: usize,
    },
}

fn groups<'a>(r: &mut XdrReader<'a>, count_max: usize) -> Result<Groups<'a>, XdrError> {
    let offset = r.offset();
    let count = r.u32()? as usize;
    if count > count_max {
        return Err(XdrError::TooLong {
            offset,
            len: count as u64,
            max: count_max,
        });
    }
    Ok(Groups {
        raw: r.fixed_opaque(count * 4)?,
    })
}

/// Decodes the credential body of `flavor`. The body has already passed the 400-byte cap.
pub fn decode_credential(flavor: u32, body: &[u8]) -> Result<Credential<'_>, AuthError> {
    let malformed = |cause| AuthError::Malformed { flavor, cause };
    let mut r = XdrReader::new(body);
    // A 400-byte body holds at most 100 words, so no count can need more than that.
    let words_max = body.len() / 4;
    match flavor {
        AUTH_NULL => Ok(Credential::Null),
        AUTH_UNIX => {
            let stamp = r.u32().map_err(malformed)?;
            let machine_name = r
                .string_bytes(UNIX_MACHINE_NAME_BYTES_MAX)
                .map_err(malformed)?;
            let uid = r.u32().map_err(malformed)?;
            let gid = r.u32().map_err(malformed)?;
            let groups = groups(&mut r, UNIX_GROUPS_MAX).map_err(malformed)?;
            Ok(Credential::Unix {
                stamp,
                machine_name,
                uid,
                gid,
                groups,
            })
        }
        AUTH_GLUSTERFS => {
            let lk_owner = r.u64().map_err(malformed)?;
            let pid = r.u32().map_err(malformed)?;
            let uid = r.u32().map_err(malformed)?;
            let gid = r.u32().map_err(malformed)?;
            let ngrps = r.u32().map_err(malformed)?;
            let slots = r
                .fixed_opaque(GLUSTERFS_V1_GROUP_SLOTS * 4)
                .map_err(malformed)?;
            if ngrps as usize > GLUSTERFS_V1_GROUP_SLOTS {
                return Err(AuthError::TooManyV1Groups { ngrps });
            }
            Ok(Credential::GlusterV1 {
                lk_owner,
                pid,
                uid,
                gid,
                groups: Groups {
                    raw: &slots[..ngrps as usize * 4],
                },
            })
        }
        AUTH_GLUSTERFS_V2 => {
            let pid = r.i32().map_err(malformed)?;
            let uid = r.u32().map_err(malformed)?;
            let gid = r.u32().map_err(malformed)?;
            let groups = groups(&mut r, words_max).map_err(malformed)?;
            let lk_owner = r.opaque(body.len()).map_err(malformed)?;
            check_sum(
                2,
                groups.len(),
                lk_owner.len(),
                GLUSTERFS_V2_GROUPS_PLUS_LK_MAX,
            )?;
            Ok(Credential::GlusterV2 {
                pid,
                uid,
                gid,
                groups,
                lk_owner,
            })
        }
        AUTH_GLUSTERFS_V3 => {
            let pid = r.i32().map_err(malformed)?;
            let uid = r.u32().map_err(malformed)?;
            let gid = r.u32().map_err(malformed)?;
            let flags = r.u32().map_err(malformed)?;
            let ctime_nsec = r.u32().map_err(malformed)?;
            let ctime_sec = r.u64().map_err(malformed)?;
            let groups = groups(&mut r, words_max).map_err(malformed)?;
            let lk_owner = r.opaque(body.len()).map_err(malformed)?;
            check_sum(
                3,
                groups.len(),
                lk_owner.len(),
                GLUSTERFS_V3_GROUPS_PLUS_LK_MAX,
            )?;
            Ok(Credential::GlusterV3 {
                pid,
                uid,
                gid,
                flags,
                ctime_nsec,
                ctime_sec,
                groups,
                lk_owner,
            })
        }
        flavor => Ok(Credential::Other { flavor }),
    }
}

fn check_sum(
    version: u8,
    groups: usize,
    lk_owner_bytes: usize,
    max: usize,
) -> Result<(), AuthError> {
    if groups + lk_owner_bytes > max {
        return Err(AuthError::GroupsPlusLkOwner {
            version,
            groups,
            lk_owner_bytes,
            max,
        });
    }
    Ok(())
}

/// Encodes an AUTH_GLUSTERFS v2 body. With no `lk_owner` the 4-byte pid-derived owner is used,
/// little-endian, as libgfrpc clients do (reference §2).
pub fn encode_gluster_v2(
    out: &mut Vec<u8>,
    pid: i32,
    uid: u32,
    gid: u32,
    groups: &[u32],
    lk_owner: Option<&[u8]>,
) {
    let mut w = XdrWriter::new(out);
    w.i32(pid);
    w.u32(uid);
    w.u32(gid);
    w.u32(groups.len() as u32);
    for g in groups {
        w.u32(*g);
    }
    match lk_owner {
        Some(lk) => w.opaque(lk),
        None => w.opaque(&(pid as u32).to_le_bytes()),
    }
}

/// The 24-byte credential body the gluster CLI sends (pid 0, uid 0, gid 0, no groups,
/// lk_owner 00 00 00 00).
pub const CLI_CREDENTIAL_V2: [u8; 24] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(groups: usize, lk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let g: Vec<u32> = (0..groups as u32).collect();
        encode_gluster_v2(&mut out, 0, 0, 0, &g, Some(&vec![0xab; lk]));
        out
    }

    fn v3(groups: usize, lk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = XdrWriter::new(&mut out);
        w.i32(42);
        w.u32(1);
        w.u32(2);
        w.u32(3);
        w.u32(4);
        w.u64(5);
        w.u32(groups as u32);
        for g in 0..groups as u32 {
            w.u32(g);
        }
        w.opaque(&vec![1; lk]);
        out
    }

    #[test]
    fn cli_credential_decodes() {
        let mut built = Vec::new();
        encode_gluster_v2(&mut built, 0, 0, 0, &[], None);
        assert_eq!(built, CLI_CREDENTIAL_V2);
        assert_eq!(
            decode_credential(AUTH_GLUSTERFS_V2, &CLI_CREDENTIAL_V2).unwrap(),
            Credential::GlusterV2 {
                pid: 0,
                uid: 0,
                gid: 0,
                groups: Groups::default(),
                lk_owner: &[0, 0, 0, 0]
            }
        );
    }

    #[test]
    fn pid_derived_lk_owner_is_little_endian() {
        let mut out = Vec::new();
        encode_gluster_v2(&mut out, 0x0102_0304, 0, 0, &[], None);
        assert_eq!(&out[16..24], &[0, 0, 0, 4, 4, 3, 2, 1]);
    }

    /// The boundary cases glusterd was probed with (reference §2).
    #[test]
    fn v2_groups_plus_lk_owner_limit_matches_glusterd() {
        for (lk, groups, ok) in [
            (95, 0, true),
            (96, 0, false),
            (4, 91, true),
            (4, 92, false),
            (90, 5, true),
            (90, 6, false),
        ] {
            let body = v2(groups, lk);
            let got = decode_credential(AUTH_GLUSTERFS_V2, &body);
            assert_eq!(got.is_ok(), ok, "lk {lk} groups {groups}: {got:?}");
        }
    }

    #[test]
    fn v3_limit_is_91() {
        assert!(decode_credential(AUTH_GLUSTERFS_V3, &v3(0, 91)).is_ok());
        assert_eq!(
            decode_credential(AUTH_GLUSTERFS_V3, &v3(1, 91)).unwrap_err(),
            AuthError::GroupsPlusLkOwner {
                version: 3,
                groups: 1,
                lk_owner_bytes: 91,
                max: 91
            }
        );
        let body = v3(3, 8);
        let Credential::GlusterV3 {
            pid,
            flags,
            ctime_sec,
            groups,
            ..
        } = decode_credential(AUTH_GLUSTERFS_V3, &body).unwrap()
        else {
            panic!("not v3")
        };
        assert_eq!((pid, flags, ctime_sec), (42, 3, 5));
        assert_eq!(groups.iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    fn v1(ngrps: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = XdrWriter::new(&mut out);
        w.u64(0x0807_0605_0403_0201);
        w.u32(10);
        w.u32(11);
        w.u32(12);
        w.u32(ngrps);
        for g in 0..16 {
            w.u32(100 + g);
        }
        out
    }

    #[test]
    fn v1_is_88_bytes_and_allows_16_groups() {
        assert_eq!(v1(16).len(), 88);
        let body = v1(2);
        let Credential::GlusterV1 { groups, pid, .. } =
            decode_credential(AUTH_GLUSTERFS, &body).unwrap()
        else {
            panic!("not v1")
        };
        assert_eq!(pid, 10);
        assert_eq!(groups.iter().collect::<Vec<_>>(), vec![100, 101]);
        assert!(decode_credential(AUTH_GLUSTERFS, &v1(16)).is_ok());
        assert_eq!(
            decode_credential(AUTH_GLUSTERFS, &v1(17)).unwrap_err(),
            AuthError::TooManyV1Groups { ngrps: 17 }
        );
    }

    #[test]
    fn auth_unix_decodes_and_caps_groups() {
        let mut body = Vec::new();
        let mut w = XdrWriter::new(&mut body);
        w.u32(7);
        w.string("host");
        w.u32(0);
        w.u32(0);
        w.u32(2);
        w.u32(10);
        w.u32(20);
        let Credential::Unix {
            machine_name,
            groups,
            ..
        } = decode_credential(AUTH_UNIX, &body).unwrap()
        else {
            panic!("not unix")
        };
        assert_eq!(machine_name, b"host");
        assert_eq!(groups.len(), 2);
        let n = body.len();
        body[n - 12..n - 8].copy_from_slice(&17u32.to_be_bytes());
        assert!(matches!(
            decode_credential(AUTH_UNIX, &body),
            Err(AuthError::Malformed { .. })
        ));
    }

    #[test]
    fn unknown_flavor_is_served_as_null() {
        assert_eq!(
            decode_credential(12345, b"whatever").unwrap(),
            Credential::Other { flavor: 12345 }
        );
    }

    #[test]
    fn truncated_and_negative_counts_are_malformed() {
        for flavor in [
            AUTH_UNIX,
            AUTH_GLUSTERFS,
            AUTH_GLUSTERFS_V2,
            AUTH_GLUSTERFS_V3,
        ] {
            let full = match flavor {
                AUTH_GLUSTERFS => v1(3),
                AUTH_GLUSTERFS_V2 => v2(3, 8),
                AUTH_GLUSTERFS_V3 => v3(3, 8),
                _ => {
                    let mut b = Vec::new();
                    let mut w = XdrWriter::new(&mut b);
                    w.u32(1);
                    w.string("h");
                    w.u32(0);
                    w.u32(0);
                    w.u32(0);
                    b
                }
            };
            assert!(decode_credential(flavor, &full).is_ok());
            for len in 0..full.len() {
                assert!(
                    decode_credential(flavor, &full[..len]).is_err(),
                    "flavor {flavor} len {len}"
                );
            }
        }
        let mut neg = v2(0, 4);
        neg[12..16].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            decode_credential(AUTH_GLUSTERFS_V2, &neg),
            Err(AuthError::Malformed { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn v2_round_trips(pid: i32, uid: u32, gid: u32,
                          groups in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..40),
                          lk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..50)) {
            let mut body = Vec::new();
            encode_gluster_v2(&mut body, pid, uid, gid, &groups, Some(&lk));
            let got = decode_credential(AUTH_GLUSTERFS_V2, &body);
            if groups.len() + lk.len() <= 95 {
                let Credential::GlusterV2 { pid: p, uid: u, gid: g, groups: gs, lk_owner } = got.unwrap() else { panic!() };
                proptest::prop_assert_eq!((p, u, g), (pid, uid, gid));
                proptest::prop_assert_eq!(gs.iter().collect::<Vec<_>>(), groups);
                proptest::prop_assert_eq!(lk_owner, &lk[..]);
            } else {
                proptest::prop_assert!(got.is_err());
            }
        }

        #[test]
        fn decoder_never_panics(flavor in 0u32..6, body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let flavor = match flavor { 2 => AUTH_GLUSTERFS_V2, 3 => AUTH_GLUSTERFS_V3, 4 => AUTH_GLUSTERFS, f => f };
            let _ = decode_credential(flavor, &body);
        }
    }
}
