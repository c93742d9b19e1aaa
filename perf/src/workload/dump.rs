//! `dump`: GF-DUMP DUMP (123451501 v1 proc 1), the program list a peer asks for on connect.
//!
//! Sends `gf_dump_req { gfs_id = 0xcafe }` as glusterd does when it dumps a peer, and walks the
//! `gf_dump_rsp` list in place (no allocation per reply, unlike `proto::dump::decode_reply`,
//! which collects the entries). A good answer has op_ret 0 and lists at least one program.

use super::{Procedure, ResultsError, Workload};
use brickd::proto::dump;
use brickd::proto::xdr::{XdrError, XdrReader};

/// The gfs_id glusterd puts in the DUMP requests it sends to peers.
const GFS_ID: u64 = 0xcafe;

/// Calls DUMP's DUMP procedure.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dump;

impl Workload for Dump {
    fn name(&self) -> &str {
        "dump"
    }

    fn procedure(&self) -> Procedure {
        Procedure {
            prog: dump::PROGRAM,
            vers: dump::VERSION,
            proc_num: dump::PROC_DUMP,
        }
    }

    fn encode_args(&self, out: &mut Vec<u8>) {
        dump::encode_request(out, GFS_ID);
    }

    fn check_results(&self, results: &[u8]) -> Result<(), ResultsError> {
        let mut r = XdrReader::new(results);
        let _gfs_id = r.u64()?;
        let op_ret = r.i32()?;
        let op_errno = r.i32()?;
        let mut programs = 0usize;
        while r.bool()? {
            if programs == dump::PROGRAMS_MAX {
                return Err(XdrError::TooLong {
                    offset: r.offset(),
                    len: dump::PROGRAMS_MAX as u64 + 1,
                    max: dump::PROGRAMS_MAX,
                }
                .into());
            }
            r.string_bytes(dump::PROGRAM_NAME_BYTES_MAX)?;
            r.u64()?;
            r.u64()?;
            programs += 1;
        }
        r.finish()?;
        if op_ret != 0 {
            return Err(ResultsError::OpFailed { op_ret, op_errno });
        }
        if programs == 0 {
            return Err(ResultsError::Empty { what: "programs" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickd::proto::dump::ProgramEntry;

    fn reply(names: &[&'static str]) -> Vec<u8> {
        let mut out = Vec::new();
        dump::encode_reply(
            &mut out,
            names.iter().enumerate().map(|(i, name)| ProgramEntry {
                name,
                number: i as u64,
                version: 1,
            }),
        );
        out
    }

    #[test]
    fn dump_sends_gfs_id_cafe() {
        let mut args = Vec::new();
        Dump.encode_args(&mut args);
        assert_eq!(dump::decode_request(&args), Ok(0xcafe));
    }

    #[test]
    fn dump_accepts_what_the_proto_decoder_accepts() {
        let good = reply(&["GF-DUMP", "GlusterD svc cli"]);
        assert!(dump::decode_reply(&good).is_ok());
        assert_eq!(Dump.check_results(&good), Ok(()));
        for len in 0..good.len() {
            assert!(Dump.check_results(&good[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn dump_refuses_an_empty_list_and_a_failed_op() {
        assert_eq!(
            Dump.check_results(&reply(&[])),
            Err(ResultsError::Empty { what: "programs" })
        );
        let mut failed = reply(&["GF-DUMP"]);
        failed[8..12].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            Dump.check_results(&failed),
            Err(ResultsError::OpFailed { op_ret: -1, .. })
        ));
    }
}
