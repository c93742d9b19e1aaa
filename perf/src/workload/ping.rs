//! `ping`: GF-DUMP PING (123451501 v1 proc 2), what glusterd peers and clients send to check a
//! connection is alive. No arguments; the answer is `gf_common_rsp { int op_ret; int op_errno;
//! opaque xdata<> }`, all zero (reference §3.1).

use super::{Procedure, ResultsError, Workload};
use brickd::proto::dump;
use brickd::proto::xdr::{XdrReader, XDR_BYTES_MAX};

/// Calls DUMP's PING procedure.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ping;

impl Workload for Ping {
    fn name(&self) -> &str {
        "ping"
    }

    fn procedure(&self) -> Procedure {
        Procedure {
            prog: dump::PROGRAM,
            vers: dump::VERSION,
            proc_num: dump::PROC_PING,
        }
    }

    fn encode_args(&self, _out: &mut Vec<u8>) {}

    fn check_results(&self, results: &[u8]) -> Result<(), ResultsError> {
        let mut r = XdrReader::new(results);
        let op_ret = r.i32()?;
        let op_errno = r.i32()?;
        r.opaque(XDR_BYTES_MAX)?;
        r.finish()?;
        if op_ret != 0 {
            return Err(ResultsError::OpFailed { op_ret, op_errno });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickd::proto::xdr::XdrError;

    #[test]
    fn ping_checks_gf_common_rsp() {
        let mut good = Vec::new();
        dump::encode_ping_reply(&mut good);
        assert_eq!(Ping.check_results(&good), Ok(()));

        let mut failed = good.clone();
        failed[..4].copy_from_slice(&(-1i32).to_be_bytes());
        failed[4..8].copy_from_slice(&107i32.to_be_bytes());
        assert_eq!(
            Ping.check_results(&failed),
            Err(ResultsError::OpFailed {
                op_ret: -1,
                op_errno: 107
            })
        );

        assert!(matches!(
            Ping.check_results(&good[..8]),
            Err(ResultsError::Xdr(XdrError::Truncated { .. }))
        ));
        let mut trailing = good.clone();
        trailing.extend_from_slice(&[0; 4]);
        assert!(matches!(
            Ping.check_results(&trailing),
            Err(ResultsError::Xdr(XdrError::Trailing { count: 4 }))
        ));
    }
}
