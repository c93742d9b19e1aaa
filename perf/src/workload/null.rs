//! `null`: procedure 0 of GF-DUMP (123451501 v1), the cheapest possible round trip.
//!
//! glusterd registers no actor for DUMP's NULL and answers PROC_UNAVAIL (reference §1, §3.1).
//! That is still a complete round trip through its RPC layer, so this workload accepts it as
//! well as a SUCCESS with empty results.

use super::{Procedure, ResultsError, Workload};
use brickd::proto::dump;
use brickd::proto::rpc::ReplyStatus;
use brickd::proto::xdr::XdrReader;

/// Calls DUMP's NULL procedure with no arguments.
#[derive(Debug, Clone, Copy, Default)]
pub struct Null;

impl Workload for Null {
    fn name(&self) -> &str {
        "null"
    }

    fn procedure(&self) -> Procedure {
        Procedure {
            prog: dump::PROGRAM,
            vers: dump::VERSION,
            proc_num: dump::PROC_NULL,
        }
    }

    fn encode_args(&self, _out: &mut Vec<u8>) {}

    fn accepts(&self, status: ReplyStatus) -> bool {
        matches!(status, ReplyStatus::Success | ReplyStatus::ProcUnavail)
    }

    fn check_results(&self, results: &[u8]) -> Result<(), ResultsError> {
        XdrReader::new(results).finish()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_accepts_proc_unavail_and_empty_success_only() {
        assert!(Null.accepts(ReplyStatus::Success));
        assert!(Null.accepts(ReplyStatus::ProcUnavail));
        assert!(!Null.accepts(ReplyStatus::GarbageArgs));
        assert!(Null.check_results(&[]).is_ok());
        assert!(Null.check_results(&[0; 4]).is_err());
        let mut args = Vec::new();
        Null.encode_args(&mut args);
        assert!(args.is_empty());
    }
}
