//! Fuzz target for `proto::rpc::decode_call` and `decode_reply`.
//!
//! The input is one whole record. Neither decoder may panic. A call that decodes must come back
//! byte for byte from `encode_call` plus its argument bytes, and a reply header that decodes must
//! come back from `encode_reply` plus its result bytes. The only bytes allowed to differ are the
//! XDR padding after the credential and verifier bodies: the decoder (like libtirpc) does not
//! insist that padding is zero, and the encoder always writes zeros.
#![no_main]

use brickd::proto::rpc::{decode_call, decode_reply, encode_call, encode_reply, OpaqueAuth};
use brickd::proto::xdr::pad_len;
use libfuzzer_sys::fuzz_target;

/// Zeroes the padding after an `opaque_auth` whose flavor word sits at `offset`; returns the
/// offset just past it.
fn zero_auth_padding(bytes: &mut [u8], offset: usize, auth: &OpaqueAuth<'_>) -> usize {
    let body_end = offset + 8 + auth.body.len();
    let end = body_end + pad_len(auth.body.len());
    bytes[body_end..end].fill(0);
    end
}

fn check_call(data: &[u8]) {
    let Ok((call, args)) = decode_call(data) else {
        return;
    };
    assert!(call.cred.body.len() <= 400 && call.verf.body.len() <= 400);
    let mut encoded = Vec::new();
    encode_call(&mut encoded, &call);
    encoded.extend_from_slice(args);

    let mut canonical = data.to_vec();
    let verf_offset = zero_auth_padding(&mut canonical, 24, &call.cred);
    zero_auth_padding(&mut canonical, verf_offset, &call.verf);
    assert_eq!(
        encoded, canonical,
        "encode_call does not give the call back"
    );

    let (again, again_args) = decode_call(&encoded).expect("re-encoded call must decode");
    assert_eq!(again, call);
    assert_eq!(again_args, args);
}

fn check_reply(data: &[u8]) {
    let Ok((reply, results)) = decode_reply(data) else {
        return;
    };
    let mut encoded = Vec::new();
    encode_reply(&mut encoded, reply.xid, reply.verf, reply.status);
    encoded.extend_from_slice(results);

    let mut canonical = data.to_vec();
    if reply.status.accept_stat().is_some() {
        zero_auth_padding(&mut canonical, 12, &reply.verf);
    }
    assert_eq!(
        encoded, canonical,
        "encode_reply does not give the reply back"
    );

    let (again, again_results) = decode_reply(&encoded).expect("re-encoded reply must decode");
    assert_eq!(again, reply);
    assert_eq!(again_results, results);
}

fuzz_target!(|data: &[u8]| {
    check_call(data);
    check_reply(data);
});
