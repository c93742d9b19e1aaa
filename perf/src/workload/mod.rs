//! Workloads: which procedure a load run calls, with which arguments, and what a good answer
//! looks like.
//!
//! A workload is pure: it appends XDR arguments to a buffer and judges a reply's result bytes.
//! It never touches a socket or a clock, so the driver can call it once per request without
//! allocating. Adding a workload (such as the CLI's `peer-list`, program 1238463 v2 proc 3
//! with `gf1_cli_peer_list_req{flags=1, dict=empty}`) is one file with a type implementing
//! [`Workload`] and one arm in [`parse`].

mod dump;
mod mount;
mod null;
mod peer_list;
mod ping;
mod raw;
mod vol_get;
mod vol_info;
mod vol_status;

use brickd::proto::dict::DictError;
use brickd::proto::rpc::ReplyStatus;
use brickd::proto::xdr::XdrError;
use std::sync::Arc;
use thiserror::Error;

pub use dump::Dump;
pub use mount::{Getspec, PortByBrick};
pub use null::Null;
pub use peer_list::PeerList;
pub use ping::Ping;
pub use raw::Raw;
pub use vol_get::VolGet;
pub use vol_info::VolInfo;
pub use vol_status::VolStatus;

/// The procedure a workload calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Procedure {
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number.
    pub proc_num: u32,
}

/// Why the result bytes of a SUCCESS reply are not what the workload expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ResultsError {
    /// The results do not decode as the procedure's reply struct.
    #[error("results do not decode: {0}")]
    Xdr(#[from] XdrError),
    /// A dict inside the results does not decode.
    #[error("dict does not decode: {0}")]
    Dict(#[from] DictError),
    /// The reply decodes but reports a failed operation.
    #[error("operation failed: op_ret {op_ret}, op_errno {op_errno}")]
    OpFailed {
        /// op_ret from the reply.
        op_ret: i32,
        /// op_errno from the reply.
        op_errno: i32,
    },
    /// The reply decodes but is empty where it must not be.
    #[error("reply lists no {what}")]
    Empty {
        /// What was missing.
        what: &'static str,
    },
    /// The reply decodes but a value is missing or not the expected one.
    #[error("reply has no good {what}")]
    Unexpected {
        /// The value that is wrong.
        what: &'static str,
    },
}

/// One kind of request a load run sends over and over.
pub trait Workload: Send + Sync {
    /// The name printed in reports (`ping`, `raw:123451501:1:0`, …).
    fn name(&self) -> &str;

    /// The procedure every call of this workload goes to.
    fn procedure(&self) -> Procedure;

    /// Appends the XDR-encoded procedure arguments to `out`. Called once per request, so it
    /// must not allocate beyond growing `out` (which the caller reuses).
    fn encode_args(&self, out: &mut Vec<u8>);

    /// Whether a reply with `status` is a successful round trip. Only SUCCESS by default.
    fn accepts(&self, status: ReplyStatus) -> bool {
        status == ReplyStatus::Success
    }

    /// Checks the result bytes that follow a SUCCESS reply header.
    fn check_results(&self, results: &[u8]) -> Result<(), ResultsError>;
}

/// Why a `--workload` value is not understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WorkloadParseError {
    /// No workload has that name.
    #[error(
        "unknown workload {0:?} (expected null, ping, dump, peer-list, vol-info:NAME, vol-status:NAME, vol-get:NAME:KEY, getspec:KEY, port-by-brick:PATH or raw:PROG:VERS:PROC)"
    )]
    Unknown(String),
    /// `raw:` followed by something other than three numbers.
    #[error("bad raw workload {spec:?}: {reason} (expected raw:PROG:VERS:PROC)")]
    BadRaw {
        /// The whole value.
        spec: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A workload that takes an argument (`vol-info:NAME`) with a bad one.
    #[error("bad workload {spec:?}: {reason}")]
    BadArgument {
        /// The whole value.
        spec: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Parses a `--workload` value.
pub fn parse(spec: &str) -> Result<Arc<dyn Workload>, WorkloadParseError> {
    match spec {
        "null" => Ok(Arc::new(Null)),
        "ping" => Ok(Arc::new(Ping)),
        "dump" => Ok(Arc::new(Dump)),
        "peer-list" => Ok(Arc::new(PeerList)),
        _ => {
            if let Some(rest) = spec.strip_prefix("raw:") {
                Ok(Arc::new(Raw::parse(rest).map_err(|reason| {
                    WorkloadParseError::BadRaw {
                        spec: spec.to_string(),
                        reason,
                    }
                })?))
            } else if let Some(volname) = spec.strip_prefix("vol-info:") {
                Ok(Arc::new(VolInfo::parse(volname).map_err(|reason| {
                    WorkloadParseError::BadArgument {
                        spec: spec.to_string(),
                        reason,
                    }
                })?))
            } else if let Some(rest) = spec.strip_prefix("vol-get:") {
                Ok(Arc::new(VolGet::parse(rest).map_err(|reason| {
                    WorkloadParseError::BadArgument {
                        spec: spec.to_string(),
                        reason,
                    }
                })?))
            } else if let Some(key) = spec.strip_prefix("getspec:") {
                Ok(Arc::new(Getspec::parse(key).map_err(|reason| {
                    WorkloadParseError::BadArgument {
                        spec: spec.to_string(),
                        reason,
                    }
                })?))
            } else if let Some(brick) = spec.strip_prefix("port-by-brick:") {
                Ok(Arc::new(PortByBrick::parse(brick).map_err(|reason| {
                    WorkloadParseError::BadArgument {
                        spec: spec.to_string(),
                        reason,
                    }
                })?))
            } else if let Some(volname) = spec.strip_prefix("vol-status:") {
                Ok(Arc::new(VolStatus::parse(volname).map_err(|reason| {
                    WorkloadParseError::BadArgument {
                        spec: spec.to_string(),
                        reason,
                    }
                })?))
            } else {
                Err(WorkloadParseError::Unknown(spec.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickd::proto::dump;

    #[test]
    fn named_workloads_call_the_dump_program() {
        for (spec, proc_num) in [
            ("null", dump::PROC_NULL),
            ("dump", dump::PROC_DUMP),
            ("ping", dump::PROC_PING),
        ] {
            let workload = parse(spec).unwrap();
            assert_eq!(workload.name(), spec);
            assert_eq!(
                workload.procedure(),
                Procedure {
                    prog: dump::PROGRAM,
                    vers: dump::VERSION,
                    proc_num
                }
            );
        }
    }

    #[test]
    fn raw_takes_decimal_or_hex_numbers() {
        let workload = parse("raw:1238463:2:0x15").unwrap();
        assert_eq!(
            workload.procedure(),
            Procedure {
                prog: 1_238_463,
                vers: 2,
                proc_num: 21
            }
        );
        assert_eq!(workload.name(), "raw:1238463:2:21");
    }

    #[test]
    fn bad_workloads_are_refused_with_a_reason() {
        assert_eq!(
            parse("pong").err(),
            Some(WorkloadParseError::Unknown("pong".into()))
        );
        for spec in ["raw:", "raw:1:2", "raw:1:2:3:4", "raw:1:x:3", "raw:1:2:-3"] {
            assert!(
                matches!(parse(spec), Err(WorkloadParseError::BadRaw { .. })),
                "{spec}"
            );
        }
    }
}
