//! Fuzz target for the GD_MGMT_V3 LOCK/UNLOCK structs (`proto::mgmt`) and the lock names a
//! request's dict yields (`ops::mgmt_v3::lock_names`).
//!
//! Neither may panic. A decoded request re-encodes to the same bytes (uuid words are taken
//! modulo 256, so only inputs whose words are bytes round-trip exactly); a decoded reply's
//! fields survive a re-encode; lock names are at most the cap.
#![no_main]

use brickd::ops::mgmt_v3::{lock_names, LOCK_NAMES_MAX};
use brickd::proto::dict::{Dict, DictLimits};
use brickd::proto::mgmt::{
    decode_v3_lock_req, decode_v3_lock_rsp, encode_v3_lock_req, encode_v3_lock_rsp,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = decode_v3_lock_req(data) {
        let mut out = Vec::new();
        encode_v3_lock_req(&mut out, &req);
        assert_eq!(decode_v3_lock_req(&out), Ok(req));
        if let Ok(Some(dict)) = Dict::decode(req.dict, DictLimits::default()) {
            if let Ok(names) = lock_names(&dict) {
                assert!(names.len() <= LOCK_NAMES_MAX);
            }
        }
    }
    if let Ok(rsp) = decode_v3_lock_rsp(data) {
        let mut out = Vec::new();
        encode_v3_lock_rsp(&mut out, &rsp.uuid, &rsp.txn_id, rsp.dict, rsp.op_ret, rsp.op_errno);
        assert_eq!(decode_v3_lock_rsp(&out), Ok(rsp));
    }
});
