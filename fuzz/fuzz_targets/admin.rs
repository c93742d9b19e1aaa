//! Fuzz target for BRICKD-ADMIN (`proto::admin`): the RELEASE_LOCK and RECONCILE_PEER requests and the replies
//! `brickd locks` decodes. No panic; what decodes re-encodes to bytes that decode the same.
#![no_main]

use brickd::proto::admin::{decode_name_req, decode_rsp, encode_name_req, encode_rsp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(name) = decode_name_req(data) {
        let mut out = Vec::new();
        encode_name_req(&mut out, name);
        assert_eq!(decode_name_req(&out), Ok(name));
    }
    if let Ok((op_ret, text)) = decode_rsp(data) {
        let mut out = Vec::new();
        encode_rsp(&mut out, op_ret, text);
        assert_eq!(decode_rsp(&out), Ok((op_ret, text)));
    }
});
