//! Fuzz target for `proto::auth::decode_credential`.
//!
//! The first 4 bytes (big-endian) pick the flavor: their value modulo 8 selects AUTH_NULL,
//! AUTH_UNIX, AUTH_GLUSTERFS, -v2 or -v3 (0..=4), or, for 5..=7, the raw word itself is used
//! as the flavor (almost always one brickd does not know). The rest, cut to the 400-byte
//! credential cap `decode_call` enforces, is the body. The decoder must not panic, the size
//! rules of reference §2 must hold for every accepted credential, and an accepted v2
//! credential must survive `encode_gluster_v2`.
#![no_main]

use brickd::proto::auth::{
    decode_credential, encode_gluster_v2, Credential, AUTH_GLUSTERFS, AUTH_GLUSTERFS_V2,
    AUTH_GLUSTERFS_V3, AUTH_NULL, AUTH_UNIX, GLUSTERFS_V1_GROUP_SLOTS,
    GLUSTERFS_V2_GROUPS_PLUS_LK_MAX, GLUSTERFS_V3_GROUPS_PLUS_LK_MAX, UNIX_GROUPS_MAX,
    UNIX_MACHINE_NAME_BYTES_MAX,
};
use brickd::proto::rpc::AUTH_BODY_BYTES_MAX;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let word = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let flavor = match word % 8 {
        0 => AUTH_NULL,
        1 => AUTH_UNIX,
        2 => AUTH_GLUSTERFS,
        3 => AUTH_GLUSTERFS_V2,
        4 => AUTH_GLUSTERFS_V3,
        _ => word,
    };
    let body = &data[4..data.len().min(4 + AUTH_BODY_BYTES_MAX)];
    let Ok(credential) = decode_credential(flavor, body) else {
        return;
    };
    match credential {
        Credential::Null => assert_eq!(flavor, AUTH_NULL),
        Credential::Unix {
            machine_name,
            groups,
            ..
        } => {
            assert_eq!(flavor, AUTH_UNIX);
            assert!(machine_name.len() <= UNIX_MACHINE_NAME_BYTES_MAX);
            assert!(groups.len() <= UNIX_GROUPS_MAX);
        }
        Credential::GlusterV1 { groups, .. } => {
            assert_eq!(flavor, AUTH_GLUSTERFS);
            assert!(groups.len() <= GLUSTERFS_V1_GROUP_SLOTS);
        }
        Credential::GlusterV2 {
            pid,
            uid,
            gid,
            groups,
            lk_owner,
        } => {
            assert_eq!(flavor, AUTH_GLUSTERFS_V2);
            assert!(groups.len() + lk_owner.len() <= GLUSTERFS_V2_GROUPS_PLUS_LK_MAX);
            let group_ids: Vec<u32> = groups.iter().collect();
            assert_eq!(group_ids.len(), groups.len());
            let mut encoded = Vec::new();
            encode_gluster_v2(&mut encoded, pid, uid, gid, &group_ids, Some(lk_owner));
            assert!(encoded.len() <= body.len());
            assert_eq!(
                decode_credential(AUTH_GLUSTERFS_V2, &encoded).expect("re-encoded v2 must decode"),
                credential
            );
        }
        Credential::GlusterV3 {
            groups, lk_owner, ..
        } => {
            assert_eq!(flavor, AUTH_GLUSTERFS_V3);
            assert!(groups.len() + lk_owner.len() <= GLUSTERFS_V3_GROUPS_PLUS_LK_MAX);
        }
        Credential::Other { flavor: other } => {
            assert_eq!(other, flavor);
            assert!(![
                AUTH_NULL,
                AUTH_UNIX,
                AUTH_GLUSTERFS,
                AUTH_GLUSTERFS_V2,
                AUTH_GLUSTERFS_V3
            ]
            .contains(&other));
        }
    }
});
