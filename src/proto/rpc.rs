//! ONC RPC v2 messages (RFC 5531): call headers in, reply headers out.
//!
//! `decode_call` reads a whole record and returns the call header, the credential and verifier
//! bodies as slices, and the procedure arguments as a slice. `encode_reply` writes a reply
//! header for any accept or reject status. Nothing here allocates.
//!
//! Where glusterd departs from the RFC we follow the RFC; docs/rpc-deviations.md lists each case.

use super::xdr::{XdrError, XdrReader, XdrWriter};
use thiserror::Error;

/// The only RPC protocol version (RFC 5531 `rpcvers`).
pub const RPC_VERSION: u32 = 2;
/// `msg_type` CALL.
pub const MSG_CALL: u32 = 0;
/// `msg_type` REPLY.
pub const MSG_REPLY: u32 = 1;
/// `reply_stat` MSG_ACCEPTED.
pub const MSG_ACCEPTED: u32 = 0;
/// `reply_stat` MSG_DENIED.
pub const MSG_DENIED: u32 = 1;
/// RFC 5531 cap on an opaque_auth body (MAX_AUTH_BYTES).
pub const AUTH_BODY_BYTES_MAX: usize = 400;

/// `opaque_auth`: a flavor and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaqueAuth<'a> {
    /// Auth flavor number.
    pub flavor: u32,
    /// Raw body, at most 400 bytes.
    pub body: &'a [u8],
}

impl OpaqueAuth<'static> {
    /// AUTH_NULL with an empty body.
    pub const NULL: OpaqueAuth<'static> = OpaqueAuth {
        flavor: 0,
        body: &[],
    };
}

/// A decoded call header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallHeader<'a> {
    /// Transaction id, echoed in the reply.
    pub xid: u32,
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number.
    pub proc_num: u32,
    /// Credential.
    pub cred: OpaqueAuth<'a>,
    /// Verifier (glusterd echoes it in the reply; so do we).
    pub verf: OpaqueAuth<'a>,
}

/// Why a record is not a call brickd can answer normally. Each variant says how to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CallError {
    /// Too short to hold even an xid: nothing can be answered; the server closes the
    /// connection (its stream cannot be trusted).
    #[error("record of {len} bytes is too short to carry an RPC xid")]
    NoXid {
        /// Record length.
        len: usize,
    },
    /// A REPLY (or another msg_type) sent to a server: drop it.
    #[error("message type {msg_type} is not CALL (xid {xid:#x})")]
    NotACall {
        /// The xid.
        xid: u32,
        /// msg_type found.
        msg_type: u32,
    },
    /// rpcvers is not 2: answer MSG_DENIED / RPC_MISMATCH(2, 2).
    #[error("RPC version {rpcvers} is not 2 (xid {xid:#x})")]
    RpcMismatch {
        /// The xid.
        xid: u32,
        /// rpcvers found.
        rpcvers: u32,
    },
    /// Credential or verifier malformed or longer than 400 bytes: answer MSG_DENIED /
    /// AUTH_ERROR / AUTH_BADCRED (or AUTH_BADVERF).
    #[error("malformed {which} in call xid {xid:#x}: {cause}")]
    BadAuth {
        /// The xid.
        xid: u32,
        /// The auth_stat to answer with.
        stat: AuthStat,
        /// "credential" or "verifier".
        which: &'static str,
        /// What was wrong.
        cause: XdrError,
    },
    /// The header ended early after the xid: answer GARBAGE_ARGS.
    #[error("truncated call header (xid {xid:#x}): {cause}")]
    Truncated {
        /// The xid.
        xid: u32,
        /// What was wrong.
        cause: XdrError,
    },
}

/// `auth_stat` values (RFC 5531).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum AuthStat {
    /// AUTH_OK.
    Ok = 0,
    /// AUTH_BADCRED.
    BadCred = 1,
    /// AUTH_REJECTEDCRED.
    RejectedCred = 2,
    /// AUTH_BADVERF.
    BadVerf = 3,
    /// AUTH_REJECTEDVERF.
    RejectedVerf = 4,
    /// AUTH_TOOWEAK.
    TooWeak = 5,
}

impl AuthStat {
    /// Maps a wire value back to the enum.
    pub fn from_u32(value: u32) -> Option<AuthStat> {
        Some(match value {
            0 => AuthStat::Ok,
            1 => AuthStat::BadCred,
            2 => AuthStat::RejectedCred,
            3 => AuthStat::BadVerf,
            4 => AuthStat::RejectedVerf,
            5 => AuthStat::TooWeak,
            _ => return None,
        })
    }
}

/// Everything a reply can say after its verifier, accepted or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyStatus {
    /// MSG_ACCEPTED / SUCCESS: the procedure's results follow.
    Success,
    /// MSG_ACCEPTED / PROG_UNAVAIL.
    ProgUnavail,
    /// MSG_ACCEPTED / PROG_MISMATCH with the versions this server has.
    ProgMismatch {
        /// Lowest version served.
        low: u32,
        /// Highest version served.
        high: u32,
    },
    /// MSG_ACCEPTED / PROC_UNAVAIL.
    ProcUnavail,
    /// MSG_ACCEPTED / GARBAGE_ARGS.
    GarbageArgs,
    /// MSG_ACCEPTED / SYSTEM_ERR.
    SystemErr,
    /// MSG_DENIED / RPC_MISMATCH with the RPC versions served.
    RpcMismatch {
        /// Lowest RPC version.
        low: u32,
        /// Highest RPC version.
        high: u32,
    },
    /// MSG_DENIED / AUTH_ERROR.
    AuthError(AuthStat),
}

impl ReplyStatus {
    /// The accept_stat number, for accepted replies.
    pub fn accept_stat(self) -> Option<u32> {
        Some(match self {
            ReplyStatus::Success => 0,
            ReplyStatus::ProgUnavail => 1,
            ReplyStatus::ProgMismatch { .. } => 2,
            ReplyStatus::ProcUnavail => 3,
            ReplyStatus::GarbageArgs => 4,
            ReplyStatus::SystemErr => 5,
            ReplyStatus::RpcMismatch { .. } | ReplyStatus::AuthError(_) => return None,
        })
    }

    /// A short name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ReplyStatus::Success => "SUCCESS",
            ReplyStatus::ProgUnavail => "PROG_UNAVAIL",
            ReplyStatus::ProgMismatch { .. } => "PROG_MISMATCH",
            ReplyStatus::ProcUnavail => "PROC_UNAVAIL",
            ReplyStatus::GarbageArgs => "GARBAGE_ARGS",
            ReplyStatus::SystemErr => "SYSTEM_ERR",
            ReplyStatus::RpcMismatch { .. } => "RPC_MISMATCH",
            ReplyStatus::AuthError(_) => "AUTH_ERROR",
        }
    }
}

fn read_auth<'a>(r: &mut XdrReader<'a>) -> Result<OpaqueAuth<'a>, XdrError> {
    let flavor = r.u32()?;
    let body = r.opaque(super::rpc::AUTH_BODY_BYTES_MAX)?;
    Ok(OpaqueAuth { flavor, body })
}

/// Decodes a call header from a whole record; returns it with the argument bytes.
pub fn decode_call(record: &[u8]) -> Result<(CallHeader<'_>, &[u8]), CallError> {
    let mut r = XdrReader::new(record);
    let xid = r
        .u32()
        .map_err(|_| CallError::NoXid { len: record.len() })?;
    let truncated = |cause| CallError::Truncated { xid, cause };
    let msg_type = r.u32().map_err(truncated)?;
    if msg_type != MSG_CALL {
        return Err(CallError::NotACall { xid, msg_type });
    }
    let rpcvers = r.u32().map_err(truncated)?;
    if rpcvers != RPC_VERSION {
        return Err(CallError::RpcMismatch { xid, rpcvers });
    }
    let prog = r.u32().map_err(truncated)?;
    let vers = r.u32().map_err(truncated)?;
    let proc_num = r.u32().map_err(truncated)?;
    let cred = read_auth(&mut r).map_err(|cause| CallError::BadAuth {
        xid,
        stat: AuthStat::BadCred,
        which: "credential",
        cause,
    })?;
    let verf = read_auth(&mut r).map_err(|cause| CallError::BadAuth {
        xid,
        stat: AuthStat::BadVerf,
        which: "verifier",
        cause,
    })?;
    Ok((
        CallHeader {
            xid,
            prog,
            vers,
            proc_num,
            cred,
            verf,
        },
        r.rest(),
    ))
}

/// Writes a call header (used by the load generator, tests and, later, the peer client).
pub fn encode_call(out: &mut Vec<u8>, call: &CallHeader<'_>) {
    let mut w = XdrWriter::new(out);
    w.u32(call.xid);
    w.u32(MSG_CALL);
    w.u32(RPC_VERSION);
    w.u32(call.prog);
    w.u32(call.vers);
    w.u32(call.proc_num);
    w.u32(call.cred.flavor);
    w.opaque(call.cred.body);
    w.u32(call.verf.flavor);
    w.opaque(call.verf.body);
}

/// Writes a reply header. For [`ReplyStatus::Success`] the caller appends the results.
/// Denied replies carry no verifier, as RFC 5531 lays them out.
pub fn encode_reply(out: &mut Vec<u8>, xid: u32, verf: OpaqueAuth<'_>, status: ReplyStatus) {
    let mut w = XdrWriter::new(out);
    w.u32(xid);
    w.u32(MSG_REPLY);
    match status {
        ReplyStatus::RpcMismatch { low, high } => {
            w.u32(MSG_DENIED);
            w.u32(0);
            w.u32(low);
            w.u32(high);
        }
        ReplyStatus::AuthError(stat) => {
            w.u32(MSG_DENIED);
            w.u32(1);
            w.u32(stat as u32);
        }
        accepted => {
            w.u32(MSG_ACCEPTED);
            w.u32(verf.flavor);
            w.opaque(verf.body);
            w.u32(accepted.accept_stat().unwrap_or(5));
            if let ReplyStatus::ProgMismatch { low, high } = accepted {
                w.u32(low);
                w.u32(high);
            }
        }
    }
}

/// A decoded reply header (client side: load generator, tests, later the peer client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader<'a> {
    /// xid of the call this answers.
    pub xid: u32,
    /// Verifier (empty for denied replies).
    pub verf: OpaqueAuth<'a>,
    /// Status.
    pub status: ReplyStatus,
}

/// Why bytes are not a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReplyError {
    /// The XDR ended early or a length was too large.
    #[error("malformed reply: {0}")]
    Xdr(#[from] XdrError),
    /// msg_type was not REPLY.
    #[error("message type {0} is not REPLY")]
    NotAReply(u32),
    /// An unknown reply_stat, accept_stat, reject_stat or auth_stat.
    #[error("unknown {what} {value}")]
    UnknownStatus {
        /// Which field.
        what: &'static str,
        /// Its value.
        value: u32,
    },
}

/// Decodes a reply header; returns it with the result bytes that follow.
pub fn decode_reply(record: &[u8]) -> Result<(ReplyHeader<'_>, &[u8]), ReplyError> {
    let mut r = XdrReader::new(record);
    let xid = r.u32()?;
    let msg_type = r.u32()?;
    if msg_type != MSG_REPLY {
        return Err(ReplyError::NotAReply(msg_type));
    }
    let reply_stat = r.u32()?;
    let (verf, status) = match reply_stat {
        MSG_ACCEPTED => {
            let verf = read_auth(&mut r)?;
            let status = match r.u32()? {
                0 => ReplyStatus::Success,
                1 => ReplyStatus::ProgUnavail,
                2 => ReplyStatus::ProgMismatch {
                    low: r.u32()?,
                    high: r.u32()?,
                },
                3 => ReplyStatus::ProcUnavail,
                4 => ReplyStatus::GarbageArgs,
                5 => ReplyStatus::SystemErr,
                value => {
                    return Err(ReplyError::UnknownStatus {
                        what: "accept_stat",
                        value,
                    })
                }
            };
            (verf, status)
        }
        MSG_DENIED => {
            let status = match r.u32()? {
                0 => ReplyStatus::RpcMismatch {
                    low: r.u32()?,
                    high: r.u32()?,
                },
                1 => {
                    let value = r.u32()?;
                    ReplyStatus::AuthError(AuthStat::from_u32(value).ok_or(
                        ReplyError::UnknownStatus {
                            what: "auth_stat",
                            value,
                        },
                    )?)
                }
                value => {
                    return Err(ReplyError::UnknownStatus {
                        what: "reject_stat",
                        value,
                    })
                }
            };
            (OpaqueAuth::NULL, status)
        }
        value => {
            return Err(ReplyError::UnknownStatus {
                what: "reply_stat",
                value,
            })
        }
    };
    Ok((ReplyHeader { xid, verf, status }, r.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LIST_FRIENDS call of `gluster --remote-host=127.0.0.1 pool list` (reference §6.5),
    /// without its record mark.
    const POOL_LIST_CALL: [u8; 72] = [
        0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x12, 0xe5, 0xbf, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0x05,
        0xf3, 0x97, 0, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0,
    ];

    #[test]
    fn decodes_the_cli_pool_list_call() {
        let (call, args) = decode_call(&POOL_LIST_CALL).unwrap();
        assert_eq!(call.xid, 2);
        assert_eq!((call.prog, call.vers, call.proc_num), (1_238_463, 2, 3));
        assert_eq!(call.cred.flavor, 390_039);
        assert_eq!(call.cred.body.len(), 24);
        assert_eq!(call.verf, OpaqueAuth::NULL);
        assert_eq!(args, &[0, 0, 0, 2, 0, 0, 0, 0]);
    }

    #[test]
    fn encode_call_reproduces_the_cli_bytes() {
        let (call, args) = decode_call(&POOL_LIST_CALL).unwrap();
        let mut out = Vec::new();
        encode_call(&mut out, &call);
        out.extend_from_slice(args);
        assert_eq!(out, POOL_LIST_CALL);
    }

    #[test]
    fn success_reply_matches_glusterd_header_bytes() {
        let mut out = Vec::new();
        encode_reply(&mut out, 2, OpaqueAuth::NULL, ReplyStatus::Success);
        assert_eq!(
            out,
            [0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn reply_echoes_an_arbitrary_verifier() {
        let verf = OpaqueAuth {
            flavor: 7,
            body: b"ABCDEFGH",
        };
        let mut out = Vec::new();
        encode_reply(&mut out, 9, verf, ReplyStatus::Success);
        assert_eq!(
            &out[12..28],
            &[0, 0, 0, 7, 0, 0, 0, 8, b'A', b'B', b'C', b'D', b'E', b'F', b'G', b'H']
        );
        let (hdr, rest) = decode_reply(&out).unwrap();
        assert_eq!(hdr.verf, verf);
        assert!(rest.is_empty());
    }

    #[test]
    fn every_status_round_trips() {
        let all = [
            ReplyStatus::Success,
            ReplyStatus::ProgUnavail,
            ReplyStatus::ProgMismatch { low: 2, high: 3 },
            ReplyStatus::ProcUnavail,
            ReplyStatus::GarbageArgs,
            ReplyStatus::SystemErr,
            ReplyStatus::RpcMismatch { low: 2, high: 2 },
            ReplyStatus::AuthError(AuthStat::Ok),
            ReplyStatus::AuthError(AuthStat::BadCred),
            ReplyStatus::AuthError(AuthStat::RejectedCred),
            ReplyStatus::AuthError(AuthStat::BadVerf),
            ReplyStatus::AuthError(AuthStat::RejectedVerf),
            ReplyStatus::AuthError(AuthStat::TooWeak),
        ];
        for status in all {
            let mut out = Vec::new();
            encode_reply(&mut out, 77, OpaqueAuth::NULL, status);
            let (hdr, rest) = decode_reply(&out).unwrap();
            assert_eq!((hdr.xid, hdr.status), (77, status));
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn prog_mismatch_carries_the_range_after_the_status() {
        let mut out = Vec::new();
        encode_reply(
            &mut out,
            1,
            OpaqueAuth::NULL,
            ReplyStatus::ProgMismatch { low: 2, high: 3 },
        );
        assert_eq!(&out[20..], &[0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]);
    }

    #[test]
    fn rpc_version_three_is_a_mismatch_with_the_real_xid() {
        let mut rec = POOL_LIST_CALL;
        rec[11] = 3;
        assert_eq!(
            decode_call(&rec).unwrap_err(),
            CallError::RpcMismatch { xid: 2, rpcvers: 3 }
        );
    }

    #[test]
    fn reply_sent_to_a_server_is_not_a_call() {
        let mut rec = POOL_LIST_CALL;
        rec[7] = 1;
        assert!(matches!(
            decode_call(&rec),
            Err(CallError::NotACall {
                xid: 2,
                msg_type: 1
            })
        ));
    }

    #[test]
    fn credential_over_400_bytes_is_bad_cred() {
        let mut rec = POOL_LIST_CALL[..28].to_vec();
        rec.extend_from_slice(&404u32.to_be_bytes());
        rec.extend_from_slice(&[0; 404]);
        rec.extend_from_slice(&[0; 8]);
        assert!(matches!(
            decode_call(&rec),
            Err(CallError::BadAuth {
                xid: 2,
                stat: AuthStat::BadCred,
                ..
            })
        ));
    }

    #[test]
    fn every_truncation_of_a_call_is_an_error_not_a_panic() {
        for len in 0..64 {
            let err = decode_call(&POOL_LIST_CALL[..len]).unwrap_err();
            if len < 4 {
                assert_eq!(err, CallError::NoXid { len });
            } else {
                assert!(
                    matches!(
                        err,
                        CallError::Truncated { xid: 2, .. } | CallError::BadAuth { xid: 2, .. }
                    ),
                    "{len}: {err:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn call_round_trips(xid: u32, prog: u32, vers: u32, proc_num: u32, flavor: u32,
                            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
                            args in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..32)) {
            let call = CallHeader { xid, prog, vers, proc_num, cred: OpaqueAuth { flavor, body: &body }, verf: OpaqueAuth::NULL };
            let mut out = Vec::new();
            encode_call(&mut out, &call);
            out.extend_from_slice(&args);
            let (got, rest) = decode_call(&out).unwrap();
            proptest::prop_assert_eq!(got, call);
            proptest::prop_assert_eq!(rest, &args[..]);
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128)) {
            let _ = decode_call(&bytes);
            let _ = decode_reply(&bytes);
        }
    }

    /// Near-valid records for the decoders. Random bytes mostly fail on the first header
    /// words; these start from valid calls and replies (the programs brickd serves and
    /// others, every credential flavor `auth` decodes and unknown ones, credentials,
    /// verifiers and arguments of many lengths) and then break them where the decoders
    /// branch: every truncation, and length, count and header words overwritten with
    /// boundary values. proptest prints a failing case with its seed and keeps the seed in
    /// `proptest-regressions/` so the next run tries it first.
    mod near_valid {
        use super::*;
        use crate::proto::auth::{self, Credential};
        use crate::proto::programs;
        use crate::proto::xdr::XdrWriter;
        use proptest::collection::vec;
        use proptest::prelude::*;
        use proptest::test_runner::TestCaseError;

        /// A credential as the generator built it, with the fields `decode_credential`
        /// must give back.
        #[derive(Debug, Clone)]
        enum CredSpec {
            /// AUTH_NULL ignores its body.
            Null(Vec<u8>),
            Unix {
                stamp: u32,
                machine_name: Vec<u8>,
                uid: u32,
                gid: u32,
                groups: Vec<u32>,
            },
            GlusterV1 {
                lk_owner: u64,
                pid: u32,
                uid: u32,
                gid: u32,
                ngrps: u32,
                slots: Vec<u32>,
            },
            GlusterV2 {
                pid: i32,
                uid: u32,
                gid: u32,
                groups: Vec<u32>,
                lk_owner: Vec<u8>,
            },
            GlusterV3 {
                pid: i32,
                uid: u32,
                gid: u32,
                flags: u32,
                ctime_nsec: u32,
                ctime_sec: u64,
                groups: Vec<u32>,
                lk_owner: Vec<u8>,
            },
            /// A flavor brickd does not know.
            Other { flavor: u32, body: Vec<u8> },
        }

        const KNOWN_FLAVORS: [u32; 5] = [
            auth::AUTH_NULL,
            auth::AUTH_UNIX,
            auth::AUTH_GLUSTERFS,
            auth::AUTH_GLUSTERFS_V2,
            auth::AUTH_GLUSTERFS_V3,
        ];

        impl CredSpec {
            fn flavor(&self) -> u32 {
                match self {
                    CredSpec::Null(_) => auth::AUTH_NULL,
                    CredSpec::Unix { .. } => auth::AUTH_UNIX,
                    CredSpec::GlusterV1 { .. } => auth::AUTH_GLUSTERFS,
                    CredSpec::GlusterV2 { .. } => auth::AUTH_GLUSTERFS_V2,
                    CredSpec::GlusterV3 { .. } => auth::AUTH_GLUSTERFS_V3,
                    CredSpec::Other { flavor, .. } => *flavor,
                }
            }

            /// The body, and the offsets in it of its length and count words.
            fn encode(&self) -> (Vec<u8>, Vec<usize>) {
                if let CredSpec::Null(raw) | CredSpec::Other { body: raw, .. } = self {
                    return (raw.clone(), Vec::new());
                }
                if let CredSpec::GlusterV2 {
                    pid,
                    uid,
                    gid,
                    groups,
                    lk_owner,
                } = self
                {
                    // The project's own encoder; its count words follow pid, uid and gid, and
                    // the groups.
                    let mut body = Vec::new();
                    auth::encode_gluster_v2(&mut body, *pid, *uid, *gid, groups, Some(lk_owner));
                    return (body, vec![12, 16 + 4 * groups.len()]);
                }
                let mut body = Vec::new();
                let mut lengths = Vec::new();
                let mut w = XdrWriter::new(&mut body);
                match self {
                    CredSpec::Null(_) | CredSpec::Other { .. } | CredSpec::GlusterV2 { .. } => {}
                    CredSpec::Unix {
                        stamp,
                        machine_name,
                        uid,
                        gid,
                        groups,
                    } => {
                        w.u32(*stamp);
                        lengths.push(w.len());
                        w.opaque(machine_name);
                        w.u32(*uid);
                        w.u32(*gid);
                        lengths.push(w.len());
                        w.u32(groups.len() as u32);
                        groups.iter().for_each(|g| w.u32(*g));
                    }
                    CredSpec::GlusterV1 {
                        lk_owner,
                        pid,
                        uid,
                        gid,
                        ngrps,
                        slots,
                    } => {
                        w.u64(*lk_owner);
                        w.u32(*pid);
                        w.u32(*uid);
                        w.u32(*gid);
                        lengths.push(w.len());
                        w.u32(*ngrps);
                        slots.iter().for_each(|g| w.u32(*g));
                    }
                    CredSpec::GlusterV3 {
                        pid,
                        uid,
                        gid,
                        flags,
                        ctime_nsec,
                        ctime_sec,
                        groups,
                        lk_owner,
                    } => {
                        w.i32(*pid);
                        w.u32(*uid);
                        w.u32(*gid);
                        w.u32(*flags);
                        w.u32(*ctime_nsec);
                        w.u64(*ctime_sec);
                        lengths.push(w.len());
                        w.u32(groups.len() as u32);
                        groups.iter().for_each(|g| w.u32(*g));
                        lengths.push(w.len());
                        w.opaque(lk_owner);
                    }
                }
                (body, lengths)
            }

            /// Fails unless `got` carries exactly the generated fields.
            fn check(&self, got: Credential<'_>) -> Result<(), TestCaseError> {
                let groups_of = |groups: auth::Groups<'_>| groups.iter().collect::<Vec<u32>>();
                match (self, got) {
                    (CredSpec::Null(_), Credential::Null) => {}
                    (
                        CredSpec::Unix {
                            stamp,
                            machine_name,
                            uid,
                            gid,
                            groups,
                        },
                        Credential::Unix {
                            stamp: s,
                            machine_name: m,
                            uid: u,
                            gid: g,
                            groups: gs,
                        },
                    ) => {
                        prop_assert_eq!((*stamp, *uid, *gid), (s, u, g));
                        prop_assert_eq!(&machine_name[..], m);
                        prop_assert_eq!(groups, &groups_of(gs));
                    }
                    (
                        CredSpec::GlusterV1 {
                            lk_owner,
                            pid,
                            uid,
                            gid,
                            ngrps,
                            slots,
                        },
                        Credential::GlusterV1 {
                            lk_owner: l,
                            pid: p,
                            uid: u,
                            gid: g,
                            groups: gs,
                        },
                    ) => {
                        prop_assert_eq!((*lk_owner, *pid, *uid, *gid), (l, p, u, g));
                        prop_assert_eq!(&slots[..*ngrps as usize], &groups_of(gs)[..]);
                    }
                    (
                        CredSpec::GlusterV2 {
                            pid,
                            uid,
                            gid,
                            groups,
                            lk_owner,
                        },
                        Credential::GlusterV2 {
                            pid: p,
                            uid: u,
                            gid: g,
                            groups: gs,
                            lk_owner: l,
                        },
                    ) => {
                        prop_assert_eq!((*pid, *uid, *gid), (p, u, g));
                        prop_assert_eq!(groups, &groups_of(gs));
                        prop_assert_eq!(&lk_owner[..], l);
                    }
                    (
                        CredSpec::GlusterV3 {
                            pid,
                            uid,
                            gid,
                            flags,
                            ctime_nsec,
                            ctime_sec,
                            groups,
                            lk_owner,
                        },
                        Credential::GlusterV3 {
                            pid: p,
                            uid: u,
                            gid: g,
                            flags: f,
                            ctime_nsec: n,
                            ctime_sec: c,
                            groups: gs,
                            lk_owner: l,
                        },
                    ) => {
                        prop_assert_eq!(
                            (*pid, *uid, *gid, *flags, *ctime_nsec, *ctime_sec),
                            (p, u, g, f, n, c)
                        );
                        prop_assert_eq!(groups, &groups_of(gs));
                        prop_assert_eq!(&lk_owner[..], l);
                    }
                    (CredSpec::Other { flavor, .. }, Credential::Other { flavor: f }) => {
                        prop_assert_eq!(*flavor, f);
                    }
                    (spec, got) => {
                        return Err(TestCaseError::fail(format!("{spec:?} decoded as {got:?}")))
                    }
                }
                Ok(())
            }
        }

        /// Groups and lk_owner bytes whose sum stays within `max` (the v2 and v3 limits).
        fn groups_and_lk_owner(max: usize) -> impl Strategy<Value = (Vec<u32>, Vec<u8>)> {
            (0..=max).prop_flat_map(move |groups| {
                (
                    vec(any::<u32>(), groups),
                    vec(any::<u8>(), 0..=max - groups),
                )
            })
        }

        fn body(len_max: usize) -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                Just(Vec::new()),
                vec(any::<u8>(), 0..=16),
                vec(any::<u8>(), 0..=len_max),
            ]
        }

        fn credential() -> impl Strategy<Value = CredSpec> {
            prop_oneof![
                body(AUTH_BODY_BYTES_MAX).prop_map(CredSpec::Null),
                (
                    any::<u32>(),
                    vec(any::<u8>(), 0..=auth::UNIX_MACHINE_NAME_BYTES_MAX),
                    any::<u32>(),
                    any::<u32>(),
                    vec(any::<u32>(), 0..=auth::UNIX_GROUPS_MAX),
                )
                    .prop_map(|(stamp, machine_name, uid, gid, groups)| {
                        CredSpec::Unix {
                            stamp,
                            machine_name,
                            uid,
                            gid,
                            groups,
                        }
                    }),
                (
                    any::<u64>(),
                    any::<u32>(),
                    any::<u32>(),
                    any::<u32>(),
                    0..=auth::GLUSTERFS_V1_GROUP_SLOTS as u32,
                    vec(any::<u32>(), auth::GLUSTERFS_V1_GROUP_SLOTS),
                )
                    .prop_map(|(lk_owner, pid, uid, gid, ngrps, slots)| {
                        CredSpec::GlusterV1 {
                            lk_owner,
                            pid,
                            uid,
                            gid,
                            ngrps,
                            slots,
                        }
                    }),
                (
                    any::<i32>(),
                    any::<u32>(),
                    any::<u32>(),
                    groups_and_lk_owner(auth::GLUSTERFS_V2_GROUPS_PLUS_LK_MAX),
                )
                    .prop_map(|(pid, uid, gid, (groups, lk_owner))| {
                        CredSpec::GlusterV2 {
                            pid,
                            uid,
                            gid,
                            groups,
                            lk_owner,
                        }
                    }),
                (
                    any::<i32>(),
                    any::<u32>(),
                    any::<u32>(),
                    any::<u32>(),
                    any::<u32>(),
                    any::<u64>(),
                    groups_and_lk_owner(auth::GLUSTERFS_V3_GROUPS_PLUS_LK_MAX),
                )
                    .prop_map(
                        |(pid, uid, gid, flags, ctime_nsec, ctime_sec, (groups, lk_owner))| {
                            CredSpec::GlusterV3 {
                                pid,
                                uid,
                                gid,
                                flags,
                                ctime_nsec,
                                ctime_sec,
                                groups,
                                lk_owner,
                            }
                        }
                    ),
                (
                    any::<u32>().prop_filter("a flavor auth does not decode", |flavor| {
                        !KNOWN_FLAVORS.contains(flavor)
                    }),
                    body(AUTH_BODY_BYTES_MAX),
                )
                    .prop_map(|(flavor, body)| CredSpec::Other { flavor, body }),
            ]
        }

        /// A valid call record, with what it was built from.
        #[derive(Debug, Clone)]
        struct Call {
            xid: u32,
            prog: u32,
            vers: u32,
            proc_num: u32,
            cred: CredSpec,
            verf_flavor: u32,
            verf: Vec<u8>,
            args: Vec<u8>,
        }

        /// The encoded record, the length of its header (where the arguments start) and the
        /// offsets of every length and count word in it.
        struct Built {
            bytes: Vec<u8>,
            header_bytes: usize,
            length_words: Vec<usize>,
        }

        impl Call {
            fn build(&self) -> Built {
                let (cred_body, cred_lengths) = self.cred.encode();
                let mut bytes = Vec::new();
                encode_call(
                    &mut bytes,
                    &CallHeader {
                        xid: self.xid,
                        prog: self.prog,
                        vers: self.vers,
                        proc_num: self.proc_num,
                        cred: OpaqueAuth {
                            flavor: self.cred.flavor(),
                            body: &cred_body,
                        },
                        verf: OpaqueAuth {
                            flavor: self.verf_flavor,
                            body: &self.verf,
                        },
                    },
                );
                let header_bytes = bytes.len();
                bytes.extend_from_slice(&self.args);
                // xid, msg_type, rpcvers, prog, vers, proc, cred flavor; then the lengths.
                let cred_len_at = 7 * 4;
                let cred_body_at = cred_len_at + 4;
                let verf_len_at = cred_body_at + cred_body.len().next_multiple_of(4) + 4;
                let mut length_words = vec![cred_len_at, verf_len_at];
                length_words.extend(cred_lengths.iter().map(|at| cred_body_at + at));
                Built {
                    bytes,
                    header_bytes,
                    length_words,
                }
            }
        }

        fn call() -> impl Strategy<Value = Call> {
            let prog = prop_oneof![
                Just(programs::CLI),
                Just(programs::MGMT),
                Just(programs::PEER),
                Just(programs::PORTMAP),
                Just(programs::HANDSHAKE),
                Just(programs::MGMT_HANDSHAKE),
                Just(programs::DUMP),
                Just(programs::CALLBACK),
                any::<u32>(),
            ];
            let verf_flavor = prop_oneof![
                Just(auth::AUTH_NULL),
                Just(auth::AUTH_UNIX),
                Just(auth::AUTH_GLUSTERFS_V2),
                any::<u32>(),
            ];
            (
                any::<u32>(),
                prog,
                prop_oneof![0..=4u32, any::<u32>()],
                prop_oneof![0..=40u32, any::<u32>()],
                credential(),
                verf_flavor,
                body(AUTH_BODY_BYTES_MAX),
                body(64),
            )
                .prop_map(
                    |(xid, prog, vers, proc_num, cred, verf_flavor, verf, args)| Call {
                        xid,
                        prog,
                        vers,
                        proc_num,
                        cred,
                        verf_flavor,
                        verf,
                        args,
                    },
                )
        }

        /// Values where decoders branch: zero, one, the auth and group caps and one past
        /// them, and lengths that read as negative or overflow a 32-bit sum.
        fn boundary_word() -> impl Strategy<Value = u32> {
            prop_oneof![
                4 => proptest::sample::select(vec![
                    0u32, 1, 2, 3, 4, 5, 16, 17, 24, 91, 92, 95, 96, 255, 256, 399, 400, 401,
                    404, 0x7fff_fffc, 0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_fffc,
                    0xffff_ffff,
                ]),
                1 => any::<u32>(),
            ]
        }

        /// One change to a valid record. Indexes are taken modulo what the record has.
        #[derive(Debug, Clone)]
        enum Mutation {
            /// Overwrites one of the record's length or count words.
            LengthWord { which: usize, value: u32 },
            /// Overwrites an aligned word (the header's first words included).
            Word { index: usize, value: u32 },
            /// Overwrites four bytes at any offset.
            Unaligned { offset: usize, value: u32 },
            /// Flips one bit.
            FlipBit { bit: usize },
            /// Cuts the record.
            Truncate { len: usize },
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            prop_oneof![
                3 => (any::<usize>(), boundary_word())
                    .prop_map(|(which, value)| Mutation::LengthWord { which, value }),
                3 => (any::<usize>(), boundary_word())
                    .prop_map(|(index, value)| Mutation::Word { index, value }),
                1 => (any::<usize>(), boundary_word())
                    .prop_map(|(offset, value)| Mutation::Unaligned { offset, value }),
                1 => any::<usize>().prop_map(|bit| Mutation::FlipBit { bit }),
                1 => any::<usize>().prop_map(|len| Mutation::Truncate { len }),
            ]
        }

        fn apply(bytes: &mut Vec<u8>, length_words: &[usize], mutation: &Mutation) {
            let put = |bytes: &mut Vec<u8>, at: usize, value: u32| {
                let end = bytes.len().min(at + 4);
                if at < end {
                    bytes[at..end].copy_from_slice(&value.to_be_bytes()[..end - at]);
                }
            };
            match *mutation {
                Mutation::LengthWord { which, value } => {
                    let at = length_words[which % length_words.len()];
                    put(bytes, at, value);
                }
                Mutation::Word { index, value } => {
                    let words = bytes.len() / 4;
                    if words > 0 {
                        put(bytes, index % words * 4, value);
                    }
                }
                Mutation::Unaligned { offset, value } => {
                    if !bytes.is_empty() {
                        put(bytes, offset % bytes.len(), value);
                    }
                }
                Mutation::FlipBit { bit } => {
                    if !bytes.is_empty() {
                        let bit = bit % (bytes.len() * 8);
                        bytes[bit / 8] ^= 1 << (bit % 8);
                    }
                }
                Mutation::Truncate { len } => bytes.truncate(len % (bytes.len() + 1)),
            }
        }

        /// Whatever `decode_call` accepts stays within its caps and leaves the arguments as
        /// the record's tail; a credential that decodes stays within its flavor's caps.
        fn check_accepted_call(bytes: &[u8]) -> Result<(), TestCaseError> {
            let Ok((call, args)) = decode_call(bytes) else {
                return Ok(());
            };
            prop_assert!(call.cred.body.len() <= AUTH_BODY_BYTES_MAX);
            prop_assert!(call.verf.body.len() <= AUTH_BODY_BYTES_MAX);
            let header_bytes = 10 * 4
                + call.cred.body.len().next_multiple_of(4)
                + call.verf.body.len().next_multiple_of(4);
            prop_assert_eq!(header_bytes + args.len(), bytes.len());
            prop_assert_eq!(args, &bytes[header_bytes..]);
            match auth::decode_credential(call.cred.flavor, call.cred.body) {
                Ok(Credential::Unix {
                    machine_name,
                    groups,
                    ..
                }) => {
                    prop_assert!(machine_name.len() <= auth::UNIX_MACHINE_NAME_BYTES_MAX);
                    prop_assert!(groups.len() <= auth::UNIX_GROUPS_MAX);
                }
                Ok(Credential::GlusterV1 { groups, .. }) => {
                    prop_assert!(groups.len() <= auth::GLUSTERFS_V1_GROUP_SLOTS);
                }
                Ok(Credential::GlusterV2 {
                    groups, lk_owner, ..
                }) => {
                    prop_assert!(
                        groups.len() + lk_owner.len() <= auth::GLUSTERFS_V2_GROUPS_PLUS_LK_MAX
                    );
                }
                Ok(Credential::GlusterV3 {
                    groups, lk_owner, ..
                }) => {
                    prop_assert!(
                        groups.len() + lk_owner.len() <= auth::GLUSTERFS_V3_GROUPS_PLUS_LK_MAX
                    );
                }
                Ok(Credential::Null) | Ok(Credential::Other { .. }) | Err(_) => {}
            }
            Ok(())
        }

        fn status() -> impl Strategy<Value = ReplyStatus> {
            let auth_stat = (0..=5u32).prop_map(|v| AuthStat::from_u32(v).unwrap());
            prop_oneof![
                Just(ReplyStatus::Success),
                Just(ReplyStatus::ProgUnavail),
                (any::<u32>(), any::<u32>())
                    .prop_map(|(low, high)| ReplyStatus::ProgMismatch { low, high }),
                Just(ReplyStatus::ProcUnavail),
                Just(ReplyStatus::GarbageArgs),
                Just(ReplyStatus::SystemErr),
                (any::<u32>(), any::<u32>())
                    .prop_map(|(low, high)| ReplyStatus::RpcMismatch { low, high }),
                auth_stat.prop_map(ReplyStatus::AuthError),
            ]
        }

        proptest::proptest! {
            #[test]
            fn valid_calls_decode_to_what_was_encoded_and_every_cut_is_an_error(call in call()) {
                let built = call.build();
                let (got, args) = decode_call(&built.bytes).unwrap();
                prop_assert_eq!(
                    (got.xid, got.prog, got.vers, got.proc_num),
                    (call.xid, call.prog, call.vers, call.proc_num)
                );
                prop_assert_eq!(got.cred.flavor, call.cred.flavor());
                prop_assert_eq!(got.cred.body, &call.cred.encode().0[..]);
                prop_assert_eq!(got.verf, OpaqueAuth { flavor: call.verf_flavor, body: &call.verf });
                prop_assert_eq!(args, &call.args[..]);
                call.cred.check(auth::decode_credential(got.cred.flavor, got.cred.body).unwrap())?;
                // Cut anywhere in the header: an error that names the xid once there is
                // one. Cut in the arguments: the header, with the arguments that are left.
                for len in 0..built.bytes.len() {
                    let cut = &built.bytes[..len];
                    match decode_call(cut) {
                        Err(CallError::NoXid { len: l }) => prop_assert!(len < 4 && l == len),
                        Err(CallError::Truncated { xid, .. } | CallError::BadAuth { xid, .. }) => {
                            prop_assert!((4..built.header_bytes).contains(&len), "cut at {}", len);
                            prop_assert_eq!(xid, call.xid);
                        }
                        Err(e) => return Err(TestCaseError::fail(format!("cut at {len}: {e:?}"))),
                        Ok((head, rest)) => {
                            prop_assert!(len >= built.header_bytes, "cut at {} decoded", len);
                            prop_assert_eq!(head, got);
                            prop_assert_eq!(rest, &call.args[..len - built.header_bytes]);
                        }
                    }
                    check_accepted_call(cut)?;
                    let _ = decode_reply(cut);
                }
            }

            #[test]
            fn mutated_calls_never_panic_and_what_decodes_keeps_its_bounds(
                call in call(),
                mutations in vec(mutation(), 1..=4),
            ) {
                let built = call.build();
                let mut bytes = built.bytes.clone();
                for mutation in &mutations {
                    apply(&mut bytes, &built.length_words, mutation);
                }
                check_accepted_call(&bytes)?;
                let _ = decode_reply(&bytes);
            }

            #[test]
            fn valid_replies_round_trip_and_mutated_ones_never_panic(
                xid: u32,
                verf_flavor: u32,
                verf in body(AUTH_BODY_BYTES_MAX),
                status in status(),
                results in body(64),
                mutations in vec(mutation(), 1..=4),
            ) {
                let mut bytes = Vec::new();
                encode_reply(&mut bytes, xid, OpaqueAuth { flavor: verf_flavor, body: &verf }, status);
                let header_bytes = bytes.len();
                if status == ReplyStatus::Success {
                    bytes.extend_from_slice(&results);
                }
                let (got, rest) = decode_reply(&bytes).unwrap();
                prop_assert_eq!((got.xid, got.status), (xid, status));
                if status.accept_stat().is_some() {
                    prop_assert_eq!(got.verf, OpaqueAuth { flavor: verf_flavor, body: &verf });
                }
                prop_assert_eq!(rest, &bytes[header_bytes..]);
                for len in 0..header_bytes {
                    prop_assert!(decode_reply(&bytes[..len]).is_err(), "cut at {}", len);
                }
                // The verifier's length word sits after xid, msg_type, reply_stat, flavor.
                let length_words = [4 * 4];
                for mutation in &mutations {
                    apply(&mut bytes, &length_words, mutation);
                }
                if let Ok((reply, rest)) = decode_reply(&bytes) {
                    prop_assert!(reply.verf.body.len() <= AUTH_BODY_BYTES_MAX);
                    prop_assert_eq!(rest, &bytes[bytes.len() - rest.len()..]);
                }
                let _ = decode_call(&bytes);
            }
        }
    }
}
