//! Fuzz target for `proto::record::RecordDecoder`.
//!
//! The first input byte picks the chunk size (1..=256 bytes); the rest is the byte stream,
//! fed to the decoder in chunks of that size as if each chunk were one `recv`. The decoder must
//! never panic, must always make progress, must never hand out a record over its cap, and must
//! produce exactly the records (and the cap error, at the same point) that a plain whole-stream
//! reference reassembler finds, whatever the chunking.
#![no_main]

use brickd::proto::record::{RecordDecoder, LAST_FRAGMENT};
use libfuzzer_sys::fuzz_target;

/// Small cap so that the over-cap paths are reached often.
const RECORD_BYTES_MAX: usize = 4096;

/// What a stream turns into: the completed records and whether the cap was hit.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    records: Vec<Vec<u8>>,
    over_cap: bool,
}

/// Whole-stream reference: walk the fragments in order, no chunking, no fast path.
fn reference(stream: &[u8]) -> Outcome {
    let mut records = Vec::new();
    let mut gathered = Vec::new();
    let mut pos = 0;
    while stream.len() - pos >= 4 {
        let word = u32::from_be_bytes([
            stream[pos],
            stream[pos + 1],
            stream[pos + 2],
            stream[pos + 3],
        ]);
        let len = (word & !LAST_FRAGMENT) as usize;
        if gathered.len() + len > RECORD_BYTES_MAX {
            return Outcome {
                records,
                over_cap: true,
            };
        }
        pos += 4;
        let take = len.min(stream.len() - pos);
        gathered.extend_from_slice(&stream[pos..pos + take]);
        pos += take;
        if take < len {
            break;
        }
        if word & LAST_FRAGMENT != 0 {
            records.push(std::mem::take(&mut gathered));
        }
    }
    Outcome {
        records,
        over_cap: false,
    }
}

fn chunked(stream: &[u8], chunk_bytes: usize) -> Outcome {
    let mut decoder = RecordDecoder::new(RECORD_BYTES_MAX);
    let mut records = Vec::new();
    for piece in stream.chunks(chunk_bytes) {
        let mut pos = 0;
        while pos < piece.len() {
            match decoder.decode(&piece[pos..]) {
                Ok((consumed, record)) => {
                    assert!(consumed <= piece.len() - pos, "consumed past the input");
                    assert!(consumed > 0, "no progress on non-empty input");
                    if let Some(record) = record {
                        assert!(record.len() <= RECORD_BYTES_MAX, "record over the cap");
                        records.push(record.to_vec());
                    }
                    pos += consumed;
                }
                Err(_) => {
                    return Outcome {
                        records,
                        over_cap: true,
                    }
                }
            }
        }
    }
    // An empty read must neither consume nor invent a record.
    let (consumed, record) = decoder.decode(&[]).expect("empty read cannot fail");
    assert_eq!(consumed, 0);
    assert!(record.is_none());
    Outcome {
        records,
        over_cap: false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let chunk_bytes = selector as usize + 1;
    assert_eq!(chunked(stream, chunk_bytes), reference(stream));
});
