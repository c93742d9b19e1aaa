//! Fuzz target for the handshake (GETSPEC, GET_VOLUME_INFO, EVENT_NOTIFY), portmap
//! (PORTBYBRICK, BRICKBYPORT, SIGNIN, SIGNOUT) and GD_BRICK (brick op request and reply)
//! structs (`proto::hndsk`, `proto::pmap`, `proto::brick_op`), and the volfile ids a GETSPEC
//! key resolves to (`ops::handshake::parse_volfile_id`), and the outbound side's reply matcher
//! (`proto::calls`).
//!
//! None may panic; whatever decodes re-encodes to bytes that decode to the same value.
#![no_main]

use brickd::proto::{brick_op, hndsk, pmap};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = hndsk::decode_getspec_req(data) {
        let mut out = Vec::new();
        hndsk::encode_getspec_req(&mut out, &req);
        assert_eq!(hndsk::decode_getspec_req(&out), Ok(req));
        let _ = brickd::ops::handshake::parse_volfile_id(req.key);
    }
    if let Ok(rsp) = hndsk::decode_getspec_rsp(data, 1 << 20) {
        let mut out = Vec::new();
        hndsk::encode_getspec_rsp(&mut out, &rsp);
        assert_eq!(hndsk::decode_getspec_rsp(&out, 1 << 20), Ok(rsp));
    }
    if let Ok(req) = hndsk::decode_volume_info_req(data) {
        let mut out = Vec::new();
        hndsk::encode_volume_info_req(&mut out, &req);
        assert_eq!(hndsk::decode_volume_info_req(&out), Ok(req));
    }
    if let Ok(dict) = hndsk::decode_snapshot_info_req(data) {
        let mut out = Vec::new();
        hndsk::encode_snapshot_info_req(&mut out, dict);
        assert_eq!(hndsk::decode_snapshot_info_req(&out), Ok(dict));
    }
    if let Ok(req) = hndsk::decode_event_notify_req(data) {
        let mut out = Vec::new();
        hndsk::encode_event_notify_req(&mut out, &req);
        assert_eq!(hndsk::decode_event_notify_req(&out), Ok(req));
    }
    if let Ok(brick) = pmap::decode_port_by_brick_req(data) {
        let mut out = Vec::new();
        pmap::encode_port_by_brick_req(&mut out, brick);
        assert_eq!(pmap::decode_port_by_brick_req(&out), Ok(brick));
    }
    if let Ok(rsp) = pmap::decode_port_by_brick_rsp(data) {
        let mut out = Vec::new();
        pmap::encode_port_by_brick_rsp(&mut out, &rsp);
        assert_eq!(pmap::decode_port_by_brick_rsp(&out), Ok(rsp));
    }
    if let Ok(req) = pmap::decode_sign_req(data) {
        let mut out = Vec::new();
        pmap::encode_sign_req(&mut out, &req);
        assert_eq!(pmap::decode_sign_req(&out), Ok(req));
    }
    let _ = pmap::decode_brick_by_port_req(data);
    // A reply record to a connection with calls in flight: matched, unknown or malformed,
    // never a panic, and a matched one leaves the table.
    let mut calls = brickd::proto::calls::Calls::new();
    let mut out = Vec::new();
    let far = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let auth = brickd::proto::rpc::OpaqueAuth::NULL;
    let _ = calls.start(&mut out, 1, 1, 0, auth, &[], far);
    if let brickd::proto::calls::Matched::Answer(_) = calls.reply(data) {
        assert!(calls.is_empty());
    }
    if let Ok(req) = brick_op::decode_req(data) {
        let mut out = Vec::new();
        brick_op::encode_req(&mut out, &req);
        assert_eq!(brick_op::decode_req(&out), Ok(req));
    }
    if let Ok(rsp) = brick_op::decode_rsp(data) {
        let mut out = Vec::new();
        brick_op::encode_rsp(&mut out, &rsp);
        assert_eq!(brick_op::decode_rsp(&out), Ok(rsp));
    }
});
