//! Fuzz target for the LVM helper's frames (`lvm::proto`).
//!
//! The input is a byte stream as read from the helper's socket: frames are split off it one by
//! one until it runs out or a length prefix is refused. Each payload is decoded both as a
//! request and as a response; neither decoder may panic, at most one of them may accept it
//! (their kind bytes differ), and whatever decodes re-encodes to exactly the frame it came
//! from (the encoding is canonical).
#![no_main]

use brickd::lvm::proto::{
    split_frame, Request, Response, FRAME_HEADER_BYTES, FRAME_PAYLOAD_BYTES_MAX,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    loop {
        let (payload, used) = match split_frame(rest) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                let announced = rest
                    .first_chunk::<FRAME_HEADER_BYTES>()
                    .map(|header| u32::from_be_bytes(*header) as usize);
                if let Some(len) = announced {
                    assert!(
                        rest.len() < FRAME_HEADER_BYTES + len,
                        "a whole frame was missed"
                    );
                }
                return;
            }
            Err(err) => {
                assert!(!err.to_string().is_empty());
                return;
            }
        };
        assert_eq!(used, FRAME_HEADER_BYTES + payload.len());
        assert!(payload.len() <= FRAME_PAYLOAD_BYTES_MAX);
        let frame = &rest[..used];

        let request = Request::decode(payload);
        let response = Response::decode(payload);
        assert!(
            request.is_err() || response.is_err(),
            "a payload is a request or a response, never both"
        );
        if let Ok(request) = request {
            let mut again = Vec::new();
            request
                .encode_frame(&mut again)
                .expect("a decoded request re-encodes");
            assert_eq!(again, frame);
        }
        if let Ok(response) = response {
            let mut again = Vec::new();
            response
                .encode_frame(&mut again)
                .expect("a decoded response re-encodes");
            assert_eq!(again, frame);
        }
        rest = &rest[used..];
    }
});
