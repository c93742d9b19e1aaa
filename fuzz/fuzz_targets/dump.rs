//! Fuzz target for the GF-DUMP program codec (`proto::dump`).
//!
//! The input is the argument bytes of a DUMP call and, at the same time, the result bytes of a
//! DUMP reply. Neither decoder may panic. A request that decodes is exactly one hyper and must
//! re-encode to the same 8 bytes. A reply that decodes must respect the entry cap, and when it
//! carries glusterd's constant header (gfs_id 0, op_ret 0, op_errno 0) `encode_reply` of its
//! program list must give back a reply that decodes to the same list.
#![no_main]

use brickd::proto::dump::{
    decode_reply, decode_request, encode_reply, encode_request, PROGRAMS_MAX,
    PROGRAM_NAME_BYTES_MAX,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(gfs_id) = decode_request(data) {
        let mut encoded = Vec::new();
        encode_request(&mut encoded, gfs_id);
        assert_eq!(encoded, data);
    }

    if let Ok(reply) = decode_reply(data) {
        assert!(reply.programs.len() <= PROGRAMS_MAX);
        assert!(reply
            .programs
            .iter()
            .all(|p| p.name.len() <= PROGRAM_NAME_BYTES_MAX));
        if (reply.gfs_id, reply.op_ret, reply.op_errno) == (0, 0, 0) {
            let mut encoded = Vec::new();
            encode_reply(&mut encoded, reply.programs.iter().copied());
            assert_eq!(encoded.len(), data.len());
            let again = decode_reply(&encoded).expect("re-encoded reply must decode");
            assert_eq!(again, reply);
        }
    }
});
