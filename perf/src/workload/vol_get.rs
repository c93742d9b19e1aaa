//! `vol-get:NAME:KEY`: what `gluster volume get NAME KEY` sends, CLI program 1238463 v2 proc 41
//! (GET_VOL_OPT) with `gf_cli_req { dict }`, the dict holding `cmd-str="volume get NAME KEY"`,
//! `key="KEY"` and `volname="NAME"`, in that wire order: byte for byte the real CLI's call
//! (tests/golden/cli/volume-get-opts-cache-size.1.call.bin). `vol-get:v1:all` asks every
//! option of v1, as `volume get v1 all` does. The volume name ends at the first `:` (glusterd
//! refuses volume names with one); the key is the rest.
//!
//! The answer is `gf_cli_rsp { op_ret, op_errno, op_errstr, dict }`. A good answer has op_ret 0
//! and a dict with `count` ≥ 1 and a `key1` (glusterd answers `count`, then `keyN`/`valueN` for
//! each option, beside the request's own pairs; an unknown key or volume is op_ret -1). The
//! arguments are encoded once; the reply is checked in place (`DictRef`), so neither side
//! allocates per request.

use super::{Procedure, ResultsError, Workload};
use brickd::proto::cli;
use brickd::proto::dict::{Dict, DictLimits, DictRef};

/// Calls GET_VOL_OPT for one volume and key, as `volume get NAME KEY` does.
#[derive(Debug, Clone)]
pub struct VolGet {
    name: String,
    args: Vec<u8>,
}

impl VolGet {
    /// The workload for the text after `vol-get:`: `NAME:KEY`.
    pub fn parse(spec: &str) -> Result<VolGet, &'static str> {
        let (volname, key) = spec
            .split_once(':')
            .ok_or("expected vol-get:NAME:KEY (KEY may be all)")?;
        if volname.is_empty() {
            return Err("the volume name is empty");
        }
        if key.is_empty() {
            return Err("the key is empty (all asks every option)");
        }
        if spec.contains('\0') {
            return Err("the volume name or key has a NUL byte");
        }
        // Insertion order is the reverse of wire order: volname first puts cmd-str first on
        // the wire, as the CLI sends it.
        let mut dict = Dict::new();
        dict.set_str("volname", volname);
        dict.set_str("key", key);
        dict.set_str("cmd-str", &format!("volume get {volname} {key}"));
        let mut bytes = Vec::with_capacity(dict.encoded_len());
        dict.encode(&mut bytes);
        let mut args = Vec::new();
        cli::encode_cli_req(&mut args, &bytes);
        Ok(VolGet {
            name: format!("vol-get:{spec}"),
            args,
        })
    }
}

impl Workload for VolGet {
    fn name(&self) -> &str {
        &self.name
    }

    fn procedure(&self) -> Procedure {
        Procedure {
            prog: cli::PROGRAM,
            vers: cli::VERSION,
            proc_num: cli::PROC_GET_VOL_OPT,
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
        if !matches!(dict.get_u32("count"), Ok(n) if n >= 1) {
            return Err(ResultsError::Empty { what: "options" });
        }
        if !dict.contains_key("key1") {
            return Err(ResultsError::Unexpected { what: "key1" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::CallEncoder;
    use crate::workload::{self, WorkloadParseError};
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Counts the allocations of a thread while it is counting (for the per-request test). The
    /// test binary's allocator: every other test runs through it uncounted.
    struct CountingAlloc;

    thread_local! {
        static COUNTING: Cell<bool> = const { Cell::new(false) };
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    fn note_allocation() {
        // try_with: a thread being torn down has no locals left, and counts nothing.
        let _ = COUNTING.try_with(|counting| {
            if counting.get() {
                let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            }
        });
    }

    // SAFETY: every call goes straight to the system allocator; counting touches only
    // `const`-initialised thread locals, which never allocate.
    unsafe impl GlobalAlloc for CountingAlloc {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note_allocation();
            // SAFETY: the caller's contract is passed on unchanged.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note_allocation();
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note_allocation();
            // SAFETY: as above.
            unsafe { System.realloc(ptr, layout, new_size) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: CountingAlloc = CountingAlloc;

    /// How many allocations `f` makes on this thread.
    fn allocations_in(f: impl FnOnce()) -> usize {
        ALLOCATIONS.with(|n| n.set(0));
        COUNTING.with(|c| c.set(true));
        f();
        COUNTING.with(|c| c.set(false));
        ALLOCATIONS.with(Cell::get)
    }

    fn golden(name: &str) -> Vec<u8> {
        let path = format!("{}/../tests/golden/cli/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

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
                op_errno: 0,
                op_errstr: if op_ret == 0 {
                    ""
                } else {
                    "Volume v1 does not exist"
                },
                dict: &bytes,
            },
        );
        out
    }

    /// What glusterd answers to `volume get v1 all`: the request's pairs, then `keyN`/`valueN`
    /// for `n` options and `count` (here with made-up option names).
    fn all_dict(n: u32) -> Dict {
        let mut dict = Dict::new();
        dict.set_str("cmd-str", "volume get v1 all");
        dict.set_str("key", "all");
        dict.set_str("volname", "v1");
        for i in (1..=n).rev() {
            dict.set_str(&format!("value{i}"), "on");
            dict.set_str(&format!("key{i}"), &format!("cluster.option-{i}"));
        }
        dict.set_u32("count", n);
        dict
    }

    #[test]
    fn vol_get_call_is_the_real_clis_bytes() {
        let encoder =
            CallEncoder::new(workload::parse("vol-get:opts:performance.cache-size").unwrap());
        let mut out = Vec::new();
        encoder.append(&mut out, 2);
        let call = golden("volume-get-opts-cache-size.1.call.bin");
        assert_eq!(out[..4], [0x80, 0, 0, call.len() as u8]);
        assert_eq!(out[4..], call);
    }

    #[test]
    fn vol_get_args_are_in_the_clis_wire_order() {
        let workload = VolGet::parse("v1:performance.cache-size").unwrap();
        assert_eq!(workload.name(), "vol-get:v1:performance.cache-size");
        assert_eq!(
            workload.procedure(),
            Procedure {
                prog: 1_238_463,
                vers: 2,
                proc_num: 41
            }
        );
        let mut args = Vec::new();
        workload.encode_args(&mut args);
        let blob = cli::decode_cli_req(&args).unwrap();
        // The lead's capture of `gluster volume get v1 performance.cache-size`: 111 bytes.
        assert_eq!(blob.len(), 111);
        let dict = Dict::decode(blob, DictLimits::default()).unwrap().unwrap();
        let wire: Vec<(&str, &[u8])> = dict.iter().collect();
        assert_eq!(
            wire,
            [
                ("cmd-str", &b"volume get v1 performance.cache-size\0"[..]),
                ("key", &b"performance.cache-size\0"[..]),
                ("volname", &b"v1\0"[..]),
            ]
        );
        let all = VolGet::parse("v1:all").unwrap();
        let mut args = Vec::new();
        all.encode_args(&mut args);
        let dict = Dict::decode(cli::decode_cli_req(&args).unwrap(), DictLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(dict.get_str("cmd-str"), Ok("volume get v1 all"));
        assert_eq!(dict.get_str("key"), Ok("all"));
    }

    #[test]
    fn vol_get_accepts_glusterds_reply() {
        let reply = golden("volume-get-opts-cache-size.1.reply.bin");
        // 24 bytes of accepted-reply header, then the results.
        let results = &reply[24..];
        let workload = VolGet::parse("opts:performance.cache-size").unwrap();
        assert_eq!(workload.check_results(results), Ok(()));
        for len in 0..results.len() {
            assert!(
                workload.check_results(&results[..len]).is_err(),
                "len {len}"
            );
        }
    }

    #[test]
    fn vol_get_accepts_every_option_and_refuses_failures_and_empty_answers() {
        let workload = VolGet::parse("v1:all").unwrap();
        assert_eq!(
            workload.check_results(&reply(0, Some(&all_dict(450)))),
            Ok(())
        );
        assert_eq!(
            workload.check_results(&reply(-1, Some(&Dict::new()))),
            Err(ResultsError::OpFailed {
                op_ret: -1,
                op_errno: 0
            })
        );
        assert_eq!(
            workload.check_results(&reply(0, Some(&all_dict(0)))),
            Err(ResultsError::Empty { what: "options" })
        );
        let mut no_key = all_dict(1);
        no_key.remove("key1");
        assert_eq!(
            workload.check_results(&reply(0, Some(&no_key))),
            Err(ResultsError::Unexpected { what: "key1" })
        );
        assert_eq!(
            workload.check_results(&reply(0, None)),
            Err(ResultsError::Empty { what: "reply dict" })
        );
    }

    #[test]
    fn vol_get_allocates_nothing_per_request() {
        let workload = VolGet::parse("v1:all").unwrap();
        let good = reply(0, Some(&all_dict(450)));
        let mut out = Vec::with_capacity(4096);
        let n = allocations_in(|| {
            for _ in 0..100 {
                out.clear();
                workload.encode_args(&mut out);
                assert!(workload.check_results(&good).is_ok());
            }
        });
        assert_eq!(n, 0);
        // The counter does count.
        assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8]))) >= 1);
    }

    #[test]
    fn vol_get_needs_a_name_and_a_key() {
        for spec in [
            "vol-get:",
            "vol-get:v1",
            "vol-get:v1:",
            "vol-get::all",
            "vol-get:v\0:all",
        ] {
            assert!(
                matches!(
                    workload::parse(spec),
                    Err(WorkloadParseError::BadArgument { .. })
                ),
                "{spec:?}"
            );
        }
    }
}
