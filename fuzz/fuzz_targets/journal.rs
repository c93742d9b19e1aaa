//! Fuzz target for the commit journal's frames (`store::journal`): a journal file's bytes as a
//! crash or damage may leave them.
//!
//! Decoding never panics; a frame that decodes re-encodes to the same bytes; reading a whole
//! file stops at the first bad frame and never reports more bytes than it was given.
#![no_main]

use brickd::store::journal::{decode, decode_all, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((record, len)) = decode(data) {
        assert_eq!(encode(&record), &data[..len]);
    }
    let contents = decode_all(data);
    let used: usize = contents.records.iter().map(|r| encode(r).len()).sum();
    assert!(used <= data.len());
    if let Some((at, _)) = contents.tail {
        assert_eq!(at, used);
    }
});
