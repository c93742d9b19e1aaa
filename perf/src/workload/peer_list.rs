//! `peer-list`: what `gluster peer status` sends, CLI program 1238463 v2 proc 3 (LIST_FRIENDS)
//! with `gf1_cli_peer_list_req { flags = 1, dict = empty opaque }` (reference §6.1).
//!
//! The answer is `gf1_cli_peer_list_rsp { op_ret, op_errno, opaque friends<> }`. A good answer
//! has op_ret 0 and a friends dict that decodes and has a `count` (glusterd sends `{count=0}`
//! for an empty cluster, so an empty opaque, which the CLI prints as "No peers present", is
//! not what either server sends and counts as bad). The dict is checked in place (`DictRef`),
//! so judging a reply allocates nothing.

use super::{Procedure, ResultsError, Workload};
use brickd::proto::cli;
use brickd::proto::dict::{DictLimits, DictRef};

/// `GF_CLI_LIST_PEERS`: the flags of `peer status` (`pool list` sends 2).
pub const FLAGS_PEER_STATUS: i32 = 1;

/// Calls LIST_FRIENDS as `peer status` does.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerList;

impl Workload for PeerList {
    fn name(&self) -> &str {
        "peer-list"
    }

    fn procedure(&self) -> Procedure {
        Procedure {
            prog: cli::PROGRAM,
            vers: cli::VERSION,
            proc_num: cli::PROC_LIST_FRIENDS,
        }
    }

    fn encode_args(&self, out: &mut Vec<u8>) {
        cli::encode_peer_list_req(out, FLAGS_PEER_STATUS, &[]);
    }

    fn check_results(&self, results: &[u8]) -> Result<(), ResultsError> {
        let (op_ret, op_errno, friends) = cli::decode_peer_list_rsp(results)?;
        if op_ret != 0 {
            return Err(ResultsError::OpFailed { op_ret, op_errno });
        }
        let dict = DictRef::decode(friends, DictLimits::default())?.ok_or(ResultsError::Empty {
            what: "friends dict",
        })?;
        dict.get_u32("count")
            .map_err(|_| ResultsError::Unexpected { what: "count" })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::CallEncoder;
    use crate::workload;
    use brickd::proto::dict::Dict;
    use std::sync::Arc;

    /// What glusterd 10.3 answered to `peer status` on a node with no peers
    /// (tests/golden/tcp-cli-peer-status.reply.bin, results only).
    const NO_PEERS_RESULTS: [u8; 32] = [
        0, 0, 0, 0, // op_ret
        0, 0, 0, 0, // op_errno
        0, 0, 0, 20, // friends<> length
        0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 2, b'c', b'o', b'u', b'n', b't', 0, b'0', 0,
    ];

    fn golden(name: &str) -> Vec<u8> {
        let path = format!("{}/../tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn peer_list_call_is_the_real_clis_bytes() {
        let encoder = CallEncoder::new(Arc::new(PeerList));
        let mut out = Vec::new();
        encoder.append(&mut out, 2);
        // The golden files are record bodies without the record mark (tests/golden/README.md).
        assert_eq!(out[..4], [0x80, 0, 0, 72]);
        assert_eq!(out[4..], golden("tcp-cli-peer-status.call.bin"));
        assert_eq!(out[4..], golden("unix-cli-peer-status.call.bin"));
    }

    #[test]
    fn parse_knows_peer_list() {
        let workload = workload::parse("peer-list").unwrap();
        assert_eq!(workload.name(), "peer-list");
        assert_eq!(workload.procedure().proc_num, 3);
    }

    #[test]
    fn peer_list_accepts_glusterds_reply() {
        let reply = golden("tcp-cli-peer-status.reply.bin");
        // 24 bytes of accepted-reply header, then the results.
        assert_eq!(reply[24..], NO_PEERS_RESULTS);
        assert_eq!(PeerList.check_results(&NO_PEERS_RESULTS), Ok(()));
        for len in 0..NO_PEERS_RESULTS.len() {
            assert!(
                PeerList.check_results(&NO_PEERS_RESULTS[..len]).is_err(),
                "len {len}"
            );
        }
    }

    #[test]
    fn peer_list_accepts_peers() {
        let mut friends = Dict::new();
        friends.set_str("friend1.uuid", "9bc79563-9ed1-48d7-801d-1fb249cfea5b");
        friends.set_str("friend1.hostname", "node-b");
        friends.set_u32("count", 1);
        let mut bytes = Vec::new();
        friends.encode(&mut bytes);
        let mut results = Vec::new();
        cli::encode_peer_list_rsp(&mut results, 0, 0, &bytes);
        assert_eq!(PeerList.check_results(&results), Ok(()));
    }

    #[test]
    fn peer_list_refuses_failures_missing_and_broken_dicts() {
        let mut failed = Vec::new();
        cli::encode_peer_list_rsp(&mut failed, -1, 22, &[]);
        assert_eq!(
            PeerList.check_results(&failed),
            Err(ResultsError::OpFailed {
                op_ret: -1,
                op_errno: 22
            })
        );
        let mut no_dict = Vec::new();
        cli::encode_peer_list_rsp(&mut no_dict, 0, 0, &[]);
        assert_eq!(
            PeerList.check_results(&no_dict),
            Err(ResultsError::Empty {
                what: "friends dict"
            })
        );
        let mut broken = Vec::new();
        cli::encode_peer_list_rsp(&mut broken, 0, 0, &[0, 0, 0, 1, 0, 0]);
        assert!(matches!(
            PeerList.check_results(&broken),
            Err(ResultsError::Dict(_))
        ));
        let mut no_count = Vec::new();
        cli::encode_peer_list_rsp(&mut no_count, 0, 0, &[0, 0, 0, 0]);
        assert_eq!(
            PeerList.check_results(&no_count),
            Err(ResultsError::Unexpected { what: "count" })
        );
    }
}
