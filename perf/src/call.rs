//! Call records out, reply records in: the byte-level part of the load generator.
//!
//! [`CallEncoder`] encodes the fixed part of a call (record mark, RPC header with the gluster
//! CLI's AUTH_GLUSTERFS_v2 credential and an AUTH_NULL verifier) once; each call copies it,
//! patches its xid and record length and appends the workload's arguments, so sending allocates
//! nothing once the write buffer has grown. [`check_reply`] turns one reply record into a
//! verdict. Neither touches a socket or a clock.

use crate::workload::Workload;
use brickd::proto::auth::{AUTH_GLUSTERFS_V2, CLI_CREDENTIAL_V2};
use brickd::proto::record::fragment_header;
use brickd::proto::rpc::{self, CallHeader, OpaqueAuth, ReplyError, ReplyStatus};
use std::sync::Arc;

/// Offset of the xid inside an encoded call: it follows the 4-byte record mark.
const XID_OFFSET: usize = 4;

/// Encodes calls of one workload.
pub struct CallEncoder {
    workload: Arc<dyn Workload>,
    prefix: Vec<u8>,
}

impl CallEncoder {
    /// Pre-encodes the record mark placeholder and the call header of `workload`.
    pub fn new(workload: Arc<dyn Workload>) -> Self {
        let procedure = workload.procedure();
        let mut prefix = vec![0; XID_OFFSET];
        rpc::encode_call(
            &mut prefix,
            &CallHeader {
                xid: 0,
                prog: procedure.prog,
                vers: procedure.vers,
                proc_num: procedure.proc_num,
                cred: OpaqueAuth {
                    flavor: AUTH_GLUSTERFS_V2,
                    body: &CLI_CREDENTIAL_V2,
                },
                verf: OpaqueAuth::NULL,
            },
        );
        CallEncoder { workload, prefix }
    }

    /// Appends one whole call record (one fragment, last bit set) with `xid` to `out`.
    pub fn append(&self, out: &mut Vec<u8>, xid: u32) {
        let start = out.len();
        out.extend_from_slice(&self.prefix);
        out[start + XID_OFFSET..start + XID_OFFSET + 4].copy_from_slice(&xid.to_be_bytes());
        self.workload.encode_args(out);
        let record_len = out.len() - start - 4;
        out[start..start + 4].copy_from_slice(&fragment_header(record_len));
    }
}

/// What a well-formed reply says about the call it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A successful round trip for this workload.
    Ok,
    /// The status is not one the workload accepts.
    StatusNotAccepted,
    /// SUCCESS, but the result bytes are wrong.
    BadResults,
}

/// A reply record, judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedReply {
    /// The xid it answers.
    pub xid: u32,
    /// Its status.
    pub status: ReplyStatus,
    /// What it means for the workload.
    pub verdict: Verdict,
}

/// Decodes the reply header of `record` and judges it for `workload`.
pub fn check_reply(workload: &dyn Workload, record: &[u8]) -> Result<CheckedReply, ReplyError> {
    let (header, results) = rpc::decode_reply(record)?;
    let verdict = if !workload.accepts(header.status) {
        Verdict::StatusNotAccepted
    } else if header.status == ReplyStatus::Success && workload.check_results(results).is_err() {
        Verdict::BadResults
    } else {
        Verdict::Ok
    };
    Ok(CheckedReply {
        xid: header.xid,
        status: header.status,
        verdict,
    })
}

/// The xid of a record that is not a well-formed reply, if it is long enough to have one, so
/// its call can still be retired.
pub fn salvage_xid(record: &[u8]) -> Option<u32> {
    record
        .get(..4)
        .map(|word| u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload;
    use brickd::proto::dump;
    use brickd::proto::record::RecordDecoder;
    use brickd::proto::rpc::AuthStat;

    /// The DUMP PING call a libgfrpc client sends first on a connection (xid 2), as laid out in
    /// reference §1: header words, the CLI's 24-byte v2 credential, AUTH_NULL verifier.
    const FIRST_PING_CALL: [u8; 68] = [
        0x80, 0, 0, 64, // record mark: last fragment, 64 bytes
        0, 0, 0, 2, // xid
        0, 0, 0, 0, // CALL
        0, 0, 0, 2, // rpcvers
        0x07, 0x5b, 0xb8, 0x6d, // prog 123451501
        0, 0, 0, 1, // vers
        0, 0, 0, 2, // proc PING
        0, 0x05, 0xf3, 0x97, // AUTH_GLUSTERFS_v2
        0, 0, 0, 24, // cred length
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, // cred body
        0, 0, 0, 0, 0, 0, 0, 0, // AUTH_NULL verifier
    ];

    fn reply(xid: u32, status: ReplyStatus, results: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        rpc::encode_reply(&mut out, xid, OpaqueAuth::NULL, status);
        out.extend_from_slice(results);
        out
    }

    #[test]
    fn ping_call_matches_the_libgfrpc_layout() {
        let encoder = CallEncoder::new(workload::parse("ping").unwrap());
        let mut out = Vec::new();
        encoder.append(&mut out, 2);
        assert_eq!(out, FIRST_PING_CALL);
    }

    #[test]
    fn batched_calls_decode_one_by_one_with_their_arguments() {
        let encoder = CallEncoder::new(workload::parse("dump").unwrap());
        let mut out = Vec::new();
        for xid in 2..5 {
            encoder.append(&mut out, xid);
        }
        let mut decoder = RecordDecoder::new(1024);
        let mut input = &out[..];
        let mut xids = Vec::new();
        while !input.is_empty() {
            let (used, record) = decoder.decode(input).unwrap();
            let (call, args) = rpc::decode_call(record.unwrap()).unwrap();
            assert_eq!((call.prog, call.proc_num), (dump::PROGRAM, dump::PROC_DUMP));
            assert_eq!(call.cred.body, CLI_CREDENTIAL_V2);
            assert_eq!(dump::decode_request(args), Ok(0xcafe));
            xids.push(call.xid);
            input = &input[used..];
        }
        assert_eq!(xids, [2, 3, 4]);
    }

    #[test]
    fn replies_are_judged_by_status_and_results() {
        let ping = workload::parse("ping").unwrap();
        let mut ok_results = Vec::new();
        dump::encode_ping_reply(&mut ok_results);
        let checked = check_reply(&*ping, &reply(7, ReplyStatus::Success, &ok_results)).unwrap();
        assert_eq!(
            checked,
            CheckedReply {
                xid: 7,
                status: ReplyStatus::Success,
                verdict: Verdict::Ok
            }
        );
        let short = check_reply(&*ping, &reply(8, ReplyStatus::Success, &ok_results[..4]));
        assert_eq!(short.unwrap().verdict, Verdict::BadResults);
        let unavail = check_reply(&*ping, &reply(9, ReplyStatus::ProcUnavail, &[])).unwrap();
        assert_eq!(unavail.verdict, Verdict::StatusNotAccepted);
        let denied = check_reply(
            &*ping,
            &reply(10, ReplyStatus::AuthError(AuthStat::Ok), &[]),
        )
        .unwrap();
        assert_eq!(denied.verdict, Verdict::StatusNotAccepted);

        let null = workload::parse("null").unwrap();
        let unavail = check_reply(&*null, &reply(11, ReplyStatus::ProcUnavail, &[])).unwrap();
        assert_eq!(unavail.verdict, Verdict::Ok);
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        let ping = workload::parse("ping").unwrap();
        let good = reply(3, ReplyStatus::Success, &[0; 12]);
        for len in 0..24 {
            assert!(check_reply(&*ping, &good[..len]).is_err(), "len {len}");
        }
        let mut call = FIRST_PING_CALL[4..].to_vec();
        assert!(matches!(
            check_reply(&*ping, &call),
            Err(ReplyError::NotAReply(0))
        ));
        call[4..8].copy_from_slice(&[0, 0, 0, 1]);
        call[8..12].copy_from_slice(&[0, 0, 0, 9]);
        assert!(check_reply(&*ping, &call).is_err());
        assert_eq!(salvage_xid(&good), Some(3));
        assert_eq!(salvage_xid(&good[..3]), None);
    }
}
