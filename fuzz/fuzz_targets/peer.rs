//! Fuzz target for the peer structs: GD_FRIEND (`proto::peer`: probe, friend add/remove,
//! update, their answers), GD_MGMT_HNDSK's request and answer, and the transaction phases'
//! requests and answers (`proto::mgmt::{decode_phase_req, decode_phase_rsp}`).
//!
//! None may panic, and whatever decodes re-encodes to something that decodes to the same
//! value (uuid words are taken modulo 256, so the bytes themselves may differ).
#![no_main]

use brickd::proto::mgmt::{
    decode_phase_req, decode_phase_rsp, encode_phase_req, encode_phase_rsp, RspLayout,
};
use brickd::proto::peer::*;
use libfuzzer_sys::fuzz_target;

macro_rules! round_trip {
    ($data:expr, $decode:expr, $encode:expr) => {
        if let Ok(value) = $decode($data) {
            let mut out = Vec::new();
            $encode(&mut out, &value);
            assert_eq!($decode(&out[..]), Ok(value));
        }
    };
}

fuzz_target!(|data: &[u8]| {
    round_trip!(data, decode_probe_req, encode_probe_req);
    round_trip!(data, decode_probe_rsp, encode_probe_rsp);
    round_trip!(data, decode_friend_req, encode_friend_req);
    round_trip!(data, decode_friend_rsp, encode_friend_rsp);
    round_trip!(data, decode_friend_update, encode_friend_update);
    round_trip!(data, decode_friend_update_rsp, encode_friend_update_rsp);
    round_trip!(data, decode_hndsk_rsp, encode_hndsk_rsp);
    if let Ok(dict) = decode_hndsk_req(data) {
        let mut out = Vec::new();
        encode_hndsk_req(&mut out, dict);
        assert_eq!(decode_hndsk_req(&out), Ok(dict));
    }
    for post_validate in [false, true] {
        if let Ok(req) = decode_phase_req(data, post_validate) {
            let mut out = Vec::new();
            encode_phase_req(&mut out, &req);
            assert_eq!(decode_phase_req(&out, post_validate), Ok(req));
        }
    }
    for layout in [RspLayout::ErrstrFirst, RspLayout::DictFirst] {
        if let Ok(rsp) = decode_phase_rsp(data, layout) {
            let mut out = Vec::new();
            encode_phase_rsp(&mut out, &rsp, layout);
            assert_eq!(decode_phase_rsp(&out, layout), Ok(rsp));
        }
    }
});
