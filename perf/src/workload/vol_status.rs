//! `vol-status:NAME`: what `gluster volume status NAME` sends, CLI program 1238463 v2 proc 27
//! (STATUS_VOLUME) with `gf_cli_req { dict }`, the dict holding `cmd-str="volume status NAME"`,
//! `cmd="256"` (GF_CLI_STATUS_VOL) and `volname="NAME"`, in that wire order: byte for byte the
//! real CLI's one call (tests/golden/cli/nodeb-down-volume-status-started.1.call.bin).
//!
//! `vol-status:PREFIX{A..B}` spreads the calls over the volumes PREFIXA … PREFIXB (decimal, as
//! wide as A is written: `sv{000..099}` is sv000 … sv099), one after another; every call of
//! the run takes the next name, so 16 connections ask 16 different volumes at a time.
//! glusterd takes a lock on the volume for each status, and two at once on the same volume
//! refuse one of them ("Another transaction is in progress"); spreading shows the daemon's
//! throughput apart from that.
//!
//! The answer is `gf_cli_rsp { op_ret, op_errno, op_errstr, dict }`. A good answer has op_ret
//! 0 and a dict with `volname` one of the asked names, `count` ≥ 1 and `brick0.status` = 1 (the
//! first brick online). The arguments of every name are encoded once.

use super::{Procedure, ResultsError, Workload};
use brickd::proto::cli;
use brickd::proto::dict::{Dict, DictLimits, DictRef};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `GF_CLI_STATUS_VOL`.
pub const CMD_STATUS_VOL: u32 = 256;
/// Cap on the names of a `{A..B}` range.
const NAMES_MAX: usize = 100_000;

/// Calls STATUS_VOLUME for one volume or a rotation of volumes.
#[derive(Debug)]
pub struct VolStatus {
    name: String,
    /// Sorted, for the reply check.
    names: Vec<String>,
    /// The encoded arguments, in call order.
    args: Vec<Vec<u8>>,
    next: AtomicUsize,
}

/// Expands `PREFIX{A..B}` (or a plain name) into names.
fn expand(spec: &str) -> Result<Vec<String>, &'static str> {
    let Some(open) = spec.find('{') else {
        return Ok(vec![spec.to_string()]);
    };
    let prefix = &spec[..open];
    let range = spec[open + 1..]
        .strip_suffix('}')
        .ok_or("a range must end the name: PREFIX{A..B}")?;
    let (a, b) = range.split_once("..").ok_or("a range is {A..B}")?;
    let width = a.len();
    let first: usize = a.parse().map_err(|_| "range bounds are decimal numbers")?;
    let last: usize = b.parse().map_err(|_| "range bounds are decimal numbers")?;
    if last < first {
        return Err("the range is empty");
    }
    if last - first >= NAMES_MAX {
        return Err("the range is too long");
    }
    Ok((first..=last)
        .map(|i| format!("{prefix}{i:0width$}"))
        .collect())
}

impl VolStatus {
    /// The workload for the text after `vol-status:`.
    pub fn parse(spec: &str) -> Result<VolStatus, &'static str> {
        let names = expand(spec)?;
        let mut args = Vec::with_capacity(names.len());
        for volname in &names {
            if volname.is_empty() {
                return Err("the volume name is empty");
            }
            if volname.contains('\0') {
                return Err("the volume name has a NUL byte");
            }
            // Insertion order is the reverse of wire order.
            let mut dict = Dict::new();
            dict.set_str("volname", volname);
            dict.set_u32("cmd", CMD_STATUS_VOL);
            dict.set_str("cmd-str", &format!("volume status {volname}"));
            let mut bytes = Vec::with_capacity(dict.encoded_len());
            dict.encode(&mut bytes);
            let mut encoded = Vec::new();
            cli::encode_cli_req(&mut encoded, &bytes);
            args.push(encoded);
        }
        let mut sorted = names;
        sorted.sort();
        Ok(VolStatus {
            name: format!("vol-status:{spec}"),
            names: sorted,
            args,
            next: AtomicUsize::new(0),
        })
    }
}

impl Workload for VolStatus {
    fn name(&self) -> &str {
        &self.name
    }

    fn procedure(&self) -> Procedure {
        Procedure {
            prog: cli::PROGRAM,
            vers: cli::VERSION,
            proc_num: cli::PROC_STATUS_VOLUME,
        }
    }

    fn encode_args(&self, out: &mut Vec<u8>) {
        let i = if self.args.len() == 1 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % self.args.len()
        };
        out.extend_from_slice(&self.args[i]);
    }

    fn check_results(&self, results: &[u8]) -> Result<(), ResultsError> {
        let rsp = cli::decode_cli_rsp(results)?;
        if rsp.op_ret != 0 {
            return Err(ResultsError::OpFailed {
                op_ret: rsp.op_ret,
                op_errno: rsp.op_errno,
            });
        }
        let dict = DictRef::decode(rsp.dict, DictLimits::default())?
            .ok_or(ResultsError::Empty { what: "reply dict" })?;
        let volname = dict
            .get_str("volname")
            .map_err(|_| ResultsError::Unexpected { what: "volname" })?;
        if self
            .names
            .binary_search_by(|n| n.as_str().cmp(volname))
            .is_err()
        {
            return Err(ResultsError::Unexpected { what: "volname" });
        }
        if !matches!(dict.get_u32("count"), Ok(n) if n >= 1) {
            return Err(ResultsError::Empty { what: "bricks" });
        }
        if dict.get_i32("brick0.status") != Ok(1) {
            return Err(ResultsError::Unexpected {
                what: "brick0.status=1 (online)",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::CallEncoder;
    use crate::workload::{self, WorkloadParseError};

    fn golden(name: &str) -> Vec<u8> {
        let path = format!("{}/../tests/golden/cli/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn vol_status_call_is_the_real_clis_bytes() {
        let encoder = CallEncoder::new(workload::parse("vol-status:started").unwrap());
        let mut out = Vec::new();
        encoder.append(&mut out, 2);
        let call = golden("nodeb-down-volume-status-started.1.call.bin");
        assert_eq!(out[..4], [0x80, 0, 0, call.len() as u8]);
        assert_eq!(out[4..], call);
    }

    #[test]
    fn vol_status_accepts_glusterds_reply_of_a_started_volume() {
        let reply = golden("nodeb-down-volume-status-started.1.reply.bin");
        // 24 bytes of accepted-reply header, then the results.
        let results = &reply[24..];
        let workload = VolStatus::parse("started").unwrap();
        assert_eq!(workload.check_results(results), Ok(()));
        for len in 0..results.len() {
            assert!(
                workload.check_results(&results[..len]).is_err(),
                "len {len}"
            );
        }
        let other = VolStatus::parse("v{0..9}").unwrap();
        assert_eq!(
            other.check_results(results),
            Err(ResultsError::Unexpected { what: "volname" })
        );
    }

    fn reply(op_ret: i32, dict: &Dict) -> Vec<u8> {
        let mut bytes = Vec::new();
        dict.encode(&mut bytes);
        let mut out = Vec::new();
        cli::encode_cli_rsp(
            &mut out,
            &cli::CliRsp {
                op_ret,
                op_errno: if op_ret == 0 { 0 } else { 30800 },
                op_errstr: if op_ret == 0 {
                    ""
                } else {
                    "Volume sv001 is not started"
                },
                dict: &bytes,
            },
        );
        out
    }

    #[test]
    fn vol_status_refuses_offline_bricks_and_failures() {
        let workload = VolStatus::parse("sv{000..099}").unwrap();
        let mut dict = Dict::new();
        dict.set_str("volname", "sv001");
        dict.set_u32("count", 1);
        dict.set_i32("brick0.status", 1);
        assert_eq!(workload.check_results(&reply(0, &dict)), Ok(()));
        dict.set_i32("brick0.status", 0);
        assert!(workload.check_results(&reply(0, &dict)).is_err());
        assert_eq!(
            workload.check_results(&reply(-1, &dict)),
            Err(ResultsError::OpFailed {
                op_ret: -1,
                op_errno: 30800
            })
        );
        dict.set_u32("count", 0);
        dict.set_i32("brick0.status", 1);
        assert!(workload.check_results(&reply(0, &dict)).is_err());
    }

    #[test]
    fn ranges_rotate_over_the_names() {
        let workload = VolStatus::parse("sv{008..011}").unwrap();
        assert_eq!(workload.name(), "vol-status:sv{008..011}");
        assert_eq!(workload.names, ["sv008", "sv009", "sv010", "sv011"]);
        let mut asked = Vec::new();
        for _ in 0..5 {
            let mut args = Vec::new();
            workload.encode_args(&mut args);
            let dict = Dict::decode(cli::decode_cli_req(&args).unwrap(), DictLimits::default())
                .unwrap()
                .unwrap();
            assert_eq!(dict.get_u32("cmd"), Ok(256));
            asked.push(dict.get_str("volname").unwrap().to_string());
        }
        assert_eq!(asked, ["sv008", "sv009", "sv010", "sv011", "sv008"]);
        assert_eq!(expand("x{1..3}").unwrap(), ["x1", "x2", "x3"]);
    }

    #[test]
    fn bad_names_and_ranges_are_refused() {
        for spec in [
            "vol-status:",
            "vol-status:a{1..}",
            "vol-status:a{3..1}",
            "vol-status:a{1..2}b",
            "vol-status:a{x..2}",
        ] {
            assert!(
                matches!(
                    workload::parse(spec),
                    Err(WorkloadParseError::BadArgument { .. })
                ),
                "{spec}"
            );
        }
        assert!(VolStatus::parse("a\0b").is_err());
    }
}
