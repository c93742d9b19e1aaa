//! The two calls of a FUSE mount that do work, one at a time on kept connections (without the
//! connection churn of `mount-storm`, perf/src/bin/mount-storm.rs):
//!
//! - `getspec:KEY`: Handshake (14398633 v2) proc 2 GETSPEC `{ flags = 1, key = KEY, xdata =
//!   { max-op-version = "100000", min-op-version = "1" } }`, what `mount -t glusterfs
//!   HOST:/VOL` sends with KEY `/VOL`. A good answer has op_ret = the volfile's length > 0.
//! - `port-by-brick:PATH`: Portmap (34123456 v1) proc 1 PORTBYBRICK `{ brick = PATH }`, what the
//!   client asks per brick. A good answer has op_ret 0 and a port.

use super::{Procedure, ResultsError, Workload};
use brickd::proto::dict::Dict;
use brickd::proto::{hndsk, pmap};

/// Largest volfile accepted.
const SPEC_BYTES_MAX: usize = 4 << 20;

/// GETSPEC of one volfile id.
#[derive(Debug, Clone)]
pub struct Getspec {
    name: String,
    args: Vec<u8>,
}

impl Getspec {
    /// The workload for the text after `getspec:`.
    pub fn parse(key: &str) -> Result<Getspec, &'static str> {
        if key.is_empty() {
            return Err("the volfile id is empty");
        }
        if key.len() > hndsk::KEY_BYTES_MAX {
            return Err("the volfile id is too long");
        }
        // Wire order max-op-version, min-op-version: insertion order is the reverse.
        let mut dict = Dict::new();
        dict.set_str("min-op-version", "1");
        dict.set_str("max-op-version", "100000");
        let mut xdata = Vec::new();
        dict.encode(&mut xdata);
        let mut args = Vec::new();
        hndsk::encode_getspec_req(
            &mut args,
            &hndsk::GetspecReq {
                flags: hndsk::GETSPEC_FLAG_SERVERS_LIST,
                key,
                xdata: &xdata,
            },
        );
        Ok(Getspec {
            name: format!("getspec:{key}"),
            args,
        })
    }
}

impl Workload for Getspec {
    fn name(&self) -> &str {
        &self.name
    }

    fn procedure(&self) -> Procedure {
        Procedure {
            prog: hndsk::PROGRAM,
            vers: hndsk::VERSION,
            proc_num: hndsk::PROC_GETSPEC,
        }
    }

    fn encode_args(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.args);
    }

    fn check_results(&self, results: &[u8]) -> Result<(), ResultsError> {
        let rsp = hndsk::decode_getspec_rsp(results, SPEC_BYTES_MAX)?;
        if rsp.op_ret < 0 {
            return Err(ResultsError::OpFailed {
                op_ret: rsp.op_ret,
                op_errno: rsp.op_errno,
            });
        }
        if rsp.spec.is_empty() {
            return Err(ResultsError::Empty { what: "volfile" });
        }
        if rsp.op_ret as usize != rsp.spec.len() {
            return Err(ResultsError::Unexpected {
                what: "op_ret = volfile length",
            });
        }
        Ok(())
    }
}

/// PORTBYBRICK of one brick path.
#[derive(Debug, Clone)]
pub struct PortByBrick {
    name: String,
    args: Vec<u8>,
}

impl PortByBrick {
    /// The workload for the text after `port-by-brick:`.
    pub fn parse(brick: &str) -> Result<PortByBrick, &'static str> {
        if brick.is_empty() {
            return Err("the brick path is empty");
        }
        if brick.len() > pmap::BRICK_BYTES_MAX {
            return Err("the brick path is too long");
        }
        let mut args = Vec::new();
        pmap::encode_port_by_brick_req(&mut args, brick);
        Ok(PortByBrick {
            name: format!("port-by-brick:{brick}"),
            args,
        })
    }
}

impl Workload for PortByBrick {
    fn name(&self) -> &str {
        &self.name
    }

    fn procedure(&self) -> Procedure {
        Procedure {
            prog: pmap::PROGRAM,
            vers: pmap::VERSION,
            proc_num: pmap::PROC_PORTBYBRICK,
        }
    }

    fn encode_args(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.args);
    }

    fn check_results(&self, results: &[u8]) -> Result<(), ResultsError> {
        let rsp = pmap::decode_port_by_brick_rsp(results)?;
        if rsp.op_ret != 0 {
            return Err(ResultsError::OpFailed {
                op_ret: rsp.op_ret,
                op_errno: rsp.op_errno,
            });
        }
        if rsp.port <= 0 {
            return Err(ResultsError::Unexpected { what: "port" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{self, WorkloadParseError};
    use brickd::proto::dict::DictLimits;

    #[test]
    fn getspec_sends_the_mounts_request() {
        let workload = workload::parse("getspec:/v2").unwrap();
        assert_eq!(workload.name(), "getspec:/v2");
        assert_eq!(
            workload.procedure(),
            Procedure {
                prog: 14_398_633,
                vers: 2,
                proc_num: 2
            }
        );
        let mut args = Vec::new();
        workload.encode_args(&mut args);
        let req = hndsk::decode_getspec_req(&args).unwrap();
        assert_eq!((req.flags, req.key), (1, "/v2"));
        let dict = Dict::decode(req.xdata, DictLimits::default())
            .unwrap()
            .unwrap();
        let wire: Vec<&str> = dict.iter().map(|(k, _)| k).collect();
        assert_eq!(wire, ["max-op-version", "min-op-version"]);
    }

    #[test]
    fn getspec_wants_the_volfile_and_its_length() {
        let workload = Getspec::parse("/v").unwrap();
        let reply = |op_ret, spec| {
            let mut out = Vec::new();
            hndsk::encode_getspec_rsp(
                &mut out,
                &hndsk::GetspecRsp {
                    op_ret,
                    op_errno: if op_ret < 0 { 2 } else { 0 },
                    spec,
                    xdata: &[],
                },
            );
            out
        };
        let good = reply(4, "abcd");
        assert_eq!(workload.check_results(&good), Ok(()));
        for len in 0..good.len() {
            assert!(workload.check_results(&good[..len]).is_err());
        }
        assert!(workload.check_results(&reply(3, "abcd")).is_err());
        assert!(workload.check_results(&reply(0, "")).is_err());
        assert_eq!(
            workload.check_results(&reply(-1, "")),
            Err(ResultsError::OpFailed {
                op_ret: -1,
                op_errno: 2
            })
        );
    }

    #[test]
    fn port_by_brick_wants_a_port() {
        let workload = workload::parse("port-by-brick:/b/1").unwrap();
        assert_eq!(workload.procedure().prog, 34_123_456);
        let mut args = Vec::new();
        workload.encode_args(&mut args);
        assert_eq!(pmap::decode_port_by_brick_req(&args), Ok("/b/1"));
        let reply = |op_ret, port| {
            let mut out = Vec::new();
            pmap::encode_port_by_brick_rsp(
                &mut out,
                &pmap::PortByBrickRsp {
                    op_ret,
                    op_errno: 0,
                    status: 0,
                    port,
                },
            );
            out
        };
        assert_eq!(workload.check_results(&reply(0, 50_000)), Ok(()));
        assert!(workload.check_results(&reply(-1, 0)).is_err());
        assert!(workload.check_results(&reply(0, 0)).is_err());
        assert!(workload.check_results(&reply(0, 50_000)[..12]).is_err());
    }

    #[test]
    fn empty_arguments_are_refused() {
        for spec in ["getspec:", "port-by-brick:"] {
            assert!(
                matches!(
                    workload::parse(spec),
                    Err(WorkloadParseError::BadArgument { .. })
                ),
                "{spec}"
            );
        }
    }
}
