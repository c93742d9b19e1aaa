//! `vol-info:NAME`: what `gluster volume info NAME` sends, CLI program 1238463 v2 proc 5
//! (GET_VOLUME) with `gf_cli_req { dict }`, the dict holding `flags="2"` (one volume by name)
//! and `volname="NAME"`, in that wire order (reference §6.1; no `cmd-str` for GET_VOLUME).
//!
//! The answer is `gf_cli_rsp { op_ret, op_errno, op_errstr, dict }`. A good answer has op_ret 0
//! and a dict that decodes with `count=1` and `volume0.name` = NAME (a missing volume comes back
//! as op_ret -1, op_errno 30806, `count=0`). The arguments are encoded once; the reply is
//! checked in place (`DictRef`), so neither side allocates per request.

use super::{Procedure, ResultsError, Workload};
use brickd::proto::cli;
use brickd::proto::dict::{Dict, DictLimits, DictRef};

/// `GF_CLI_GET_VOLUME`: one volume by name.
pub const FLAGS_ONE_VOLUME: i32 = 2;

/// Calls GET_VOLUME for one volume, as `volume info NAME` does.
#[derive(Debug, Clone)]
pub struct VolInfo {
    name: String,
    volname: String,
    args: Vec<u8>,
}

impl VolInfo {
    /// The workload for volume `volname` (the text after `vol-info:`).
    pub fn parse(volname: &str) -> Result<VolInfo, &'static str> {
        if volname.is_empty() {
            return Err("the volume name is empty");
        }
        if volname.contains('\0') {
            return Err("the volume name has a NUL byte");
        }
        // Insertion order is the reverse of wire order: volname first puts flags first on
        // the wire, as the CLI sends it.
        let mut dict = Dict::new();
        dict.set_str("volname", volname);
        dict.set_i32("flags", FLAGS_ONE_VOLUME);
        let mut bytes = Vec::with_capacity(dict.encoded_len());
        dict.encode(&mut bytes);
        let mut args = Vec::new();
        cli::encode_cli_req(&mut args, &bytes);
        Ok(VolInfo {
            name: format!("vol-info:{volname}"),
            volname: volname.to_string(),
            args,
        })
    }
}

impl Workload for VolInfo {
    fn name(&self) -> &str {
        &self.name
    }

    fn procedure(&self) -> Procedure {
        Procedure {
            prog: cli::PROGRAM,
            vers: cli::VERSION,
            proc_num: cli::PROC_GET_VOLUME,
        }
    }

    fn encode_args(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.args);
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
        if dict.get_u32("count") != Ok(1) {
            return Err(ResultsError::Unexpected { what: "count=1" });
        }
        if dict.get_str("volume0.name") != Ok(self.volname.as_str()) {
            return Err(ResultsError::Unexpected {
                what: "volume0.name",
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

    /// The call record body (no record mark) of the real `gluster --mode=script volume info
    /// vol0007` (glusterfs-cli 10.3), recorded by a fake server on its `--glusterd-sock`: the
    /// CLI's v2 credential, then `gf_cli_req` with the dict flags="2", volname="vol0007".
    const CLI_VOLUME_INFO_VOL0007: [u8; 112] = [
        0, 0, 0, 2, // xid
        0, 0, 0, 0, // CALL
        0, 0, 0, 2, // rpcvers
        0x00, 0x12, 0xe5, 0xbf, // prog 1238463
        0, 0, 0, 2, // vers
        0, 0, 0, 5, // proc GET_VOLUME
        0, 0x05, 0xf3, 0x97, // AUTH_GLUSTERFS_v2
        0, 0, 0, 24, // cred length
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, // cred body
        0, 0, 0, 0, 0, 0, 0, 0, // AUTH_NULL verifier
        0, 0, 0, 44, // dict<> length
        0, 0, 0, 2, // pair count
        0, 0, 0, 5, 0, 0, 0, 2, b'f', b'l', b'a', b'g', b's', 0, b'2', 0, // flags="2"
        0, 0, 0, 7, 0, 0, 0, 8, b'v', b'o', b'l', b'n', b'a', b'm', b'e', 0, // volname=
        b'v', b'o', b'l', b'0', b'0', b'0', b'7', 0, // "vol0007"
    ];

    fn reply(op_ret: i32, dict: Option<&Dict>) -> Vec<u8> {
        let mut bytes = Vec::new();
        if let Some(dict) = dict {
            dict.encode(&mut bytes);
        }
        let mut out = Vec::new();
        cli::encode_cli_rsp(
            &mut out,
            &cli::CliRsp {
                op_ret,
                op_errno: if op_ret == 0 { 0 } else { 30806 },
                op_errstr: if op_ret == 0 {
                    ""
                } else {
                    "Volume does not exist"
                },
                dict: &bytes,
            },
        );
        out
    }

    fn volume_dict(count: u32, name: &str) -> Dict {
        let mut dict = Dict::new();
        dict.set_str("volume0.name", name);
        dict.set_u32("volume0.type", 0);
        dict.set_u32("volume0.opt_count", 0);
        dict.set_u32("count", count);
        dict
    }

    #[test]
    fn vol_info_call_is_the_real_clis_bytes() {
        let encoder = CallEncoder::new(workload::parse("vol-info:vol0007").unwrap());
        let mut out = Vec::new();
        encoder.append(&mut out, 2);
        assert_eq!(out[..4], [0x80, 0, 0, 112]);
        assert_eq!(out[4..], CLI_VOLUME_INFO_VOL0007);
    }

    #[test]
    fn vol_info_args_decode_as_brickd_reads_them() {
        let workload = VolInfo::parse("v1").unwrap();
        assert_eq!(workload.name(), "vol-info:v1");
        let mut args = Vec::new();
        workload.encode_args(&mut args);
        let dict = Dict::decode(cli::decode_cli_req(&args).unwrap(), DictLimits::default())
            .unwrap()
            .unwrap();
        let wire: Vec<&str> = dict.iter().map(|(key, _)| key).collect();
        assert_eq!(wire, ["flags", "volname"]);
        assert_eq!(dict.get_i32("flags"), Ok(2));
        assert_eq!(dict.get_str("volname"), Ok("v1"));
    }

    #[test]
    fn vol_info_accepts_one_volume_of_that_name() {
        let workload = VolInfo::parse("vol0007").unwrap();
        let good = reply(0, Some(&volume_dict(1, "vol0007")));
        assert_eq!(workload.check_results(&good), Ok(()));
        for len in 0..good.len() {
            assert!(workload.check_results(&good[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn vol_info_refuses_missing_other_and_empty_answers() {
        let workload = VolInfo::parse("vol0007").unwrap();
        let mut none = Dict::new();
        none.set_u32("count", 0);
        assert_eq!(
            workload.check_results(&reply(-1, Some(&none))),
            Err(ResultsError::OpFailed {
                op_ret: -1,
                op_errno: 30806
            })
        );
        assert_eq!(
            workload.check_results(&reply(0, Some(&none))),
            Err(ResultsError::Unexpected { what: "count=1" })
        );
        assert_eq!(
            workload.check_results(&reply(0, Some(&volume_dict(1, "vol0008")))),
            Err(ResultsError::Unexpected {
                what: "volume0.name"
            })
        );
        assert_eq!(
            workload.check_results(&reply(0, None)),
            Err(ResultsError::Empty { what: "reply dict" })
        );
    }

    #[test]
    fn vol_info_needs_a_name() {
        assert!(matches!(
            workload::parse("vol-info:"),
            Err(WorkloadParseError::BadArgument { .. })
        ));
        assert!(VolInfo::parse("a\0b").is_err());
    }
}
