//! Record marking (RFC 5531 §11): turning a byte stream into whole RPC records.
//!
//! Every fragment starts with a 4-byte big-endian header: bit 31 marks the last fragment of a
//! record, bits 0-30 give the fragment length. glusterd and every libgfrpc client send one
//! fragment per record, so the decoder has a fast path that hands out a record as a slice of
//! the caller's input without copying. Records split over fragments or over reads are gathered
//! in the decoder's own buffer. The reassembled size is capped (8 MiB by default; glusterd
//! allows 1 GiB): a header that would pass the cap is an error before any byte is stored, and
//! the caller closes that connection only.

use thiserror::Error;

/// Default cap on one reassembled record (DESIGN.md limits).
pub const RECORD_BYTES_MAX_DEFAULT: usize = 8 << 20;

/// Bit 31 of a fragment header: this fragment ends the record.
pub const LAST_FRAGMENT: u32 = 0x8000_0000;

/// Largest length a fragment header can express.
pub const FRAGMENT_BYTES_MAX: usize = 0x7fff_ffff;

/// A reassembly buffer that grew past this is given back after its record completes, so one
/// large call does not pin memory for the life of a connection.
const RETAINED_BYTES_MAX: usize = 256 << 10;

/// Why the stream cannot be turned into records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RecordError {
    /// A fragment header announced more than the record cap allows.
    #[error("record of at least {claimed_bytes} bytes exceeds the cap of {max_bytes} bytes")]
    TooLarge {
        /// Bytes of the record so far plus the announced fragment.
        claimed_bytes: u64,
        /// The configured cap.
        max_bytes: usize,
    },
}

/// Writes the single fragment header for a record of `len` bytes.
pub fn fragment_header(len: usize) -> [u8; 4] {
    debug_assert!(len <= FRAGMENT_BYTES_MAX);
    (LAST_FRAGMENT | len as u32).to_be_bytes()
}

/// Stateful record reassembly for one connection.
#[derive(Debug)]
pub struct RecordDecoder {
    record_bytes_max: usize,
    header: [u8; 4],
    header_len: usize,
    in_body: bool,
    fragment_remaining: usize,
    last_fragment: bool,
    gathered: Vec<u8>,
    gathered_complete: bool,
}

impl RecordDecoder {
    /// A decoder that refuses records longer than `record_bytes_max`.
    pub fn new(record_bytes_max: usize) -> Self {
        RecordDecoder {
            record_bytes_max: record_bytes_max.min(FRAGMENT_BYTES_MAX),
            header: [0; 4],
            header_len: 0,
            in_body: false,
            fragment_remaining: 0,
            last_fragment: false,
            gathered: Vec::new(),
            gathered_complete: false,
        }
    }

    /// True when no partial record is held: the stream is at a record boundary.
    pub fn is_idle(&self) -> bool {
        self.header_len == 0
            && !self.in_body
            && (self.gathered.is_empty() || self.gathered_complete)
    }

    /// Bytes of a partial record gathered so far.
    pub fn gathered_bytes(&self) -> usize {
        if self.gathered_complete {
            0
        } else {
            self.gathered.len()
        }
    }

    /// Consumes bytes from `input` until one record completes or the input runs out.
    ///
    /// Returns how many bytes were consumed and, if a record completed, the record. The record
    /// borrows either `input` (one whole fragment, the common case: no copy) or the decoder's
    /// buffer; it stays valid until the next call. Call again with the unconsumed rest.
    pub fn decode<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<&'a [u8]>), RecordError> {
        if self.gathered_complete {
            self.gathered_complete = false;
            if self.gathered.capacity() > RETAINED_BYTES_MAX {
                self.gathered = Vec::new();
            } else {
                self.gathered.clear();
            }
        }
        let mut pos = 0;
        loop {
            if !self.in_body {
                let available = input.len() - pos;
                if self.header_len == 0 && self.gathered.is_empty() && available >= 4 {
                    let word = u32::from_be_bytes([
                        input[pos],
                        input[pos + 1],
                        input[pos + 2],
                        input[pos + 3],
                    ]);
                    let len = (word & !LAST_FRAGMENT) as usize;
                    if word & LAST_FRAGMENT != 0 && available - 4 >= len {
                        self.check_cap(len)?;
                        let start = pos + 4;
                        return Ok((start + len, Some(&input[start..start + len])));
                    }
                }
                let wanted = 4 - self.header_len;
                let n = wanted.min(available);
                self.header[self.header_len..self.header_len + n]
                    .copy_from_slice(&input[pos..pos + n]);
                self.header_len += n;
                pos += n;
                if self.header_len < 4 {
                    return Ok((pos, None));
                }
                self.header_len = 0;
                let word = u32::from_be_bytes(self.header);
                let len = (word & !LAST_FRAGMENT) as usize;
                self.check_cap(len)?;
                self.fragment_remaining = len;
                self.last_fragment = word & LAST_FRAGMENT != 0;
                self.in_body = true;
            }
            let n = self.fragment_remaining.min(input.len() - pos);
            self.gathered.extend_from_slice(&input[pos..pos + n]);
            self.fragment_remaining -= n;
            pos += n;
            if self.fragment_remaining > 0 {
                return Ok((pos, None));
            }
            self.in_body = false;
            if self.last_fragment {
                self.gathered_complete = true;
                return Ok((pos, Some(&self.gathered)));
            }
            if pos == input.len() {
                return Ok((pos, None));
            }
        }
    }

    fn check_cap(&self, fragment_len: usize) -> Result<(), RecordError> {
        let claimed = self.gathered.len() as u64 + fragment_len as u64;
        if claimed > self.record_bytes_max as u64 {
            return Err(RecordError::TooLarge {
                claimed_bytes: claimed,
                max_bytes: self.record_bytes_max,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(last: bool, body: &[u8]) -> Vec<u8> {
        let mut word = body.len() as u32;
        if last {
            word |= LAST_FRAGMENT;
        }
        let mut out = word.to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    /// Feeds `input` in chunks of `chunk` bytes and collects every record.
    fn collect(dec: &mut RecordDecoder, input: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut records = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            let mut pos = 0;
            while pos < piece.len() {
                let (n, rec) = dec.decode(&piece[pos..]).unwrap();
                if let Some(r) = rec {
                    records.push(r.to_vec());
                }
                pos += n;
            }
        }
        records
    }

    #[test]
    fn single_fragment_record_is_borrowed_from_input() {
        let input = frag(true, b"hello");
        let mut dec = RecordDecoder::new(64);
        let (n, rec) = dec.decode(&input).unwrap();
        assert_eq!(n, 9);
        let rec = rec.unwrap();
        assert_eq!(rec, b"hello");
        assert_eq!(rec.as_ptr(), input[4..].as_ptr());
    }

    #[test]
    fn many_records_in_one_read() {
        let mut input = frag(true, b"one");
        input.extend(frag(true, b"two"));
        input.extend(frag(true, b""));
        let mut dec = RecordDecoder::new(64);
        assert_eq!(
            collect(&mut dec, &input, input.len()),
            vec![b"one".to_vec(), b"two".to_vec(), vec![]]
        );
        assert!(dec.is_idle());
    }

    #[test]
    fn several_fragments_make_one_record() {
        let mut input = frag(false, b"ab");
        input.extend(frag(false, b""));
        input.extend(frag(false, b"cde"));
        input.extend(frag(true, b"f"));
        let mut dec = RecordDecoder::new(64);
        assert_eq!(
            collect(&mut dec, &input, input.len()),
            vec![b"abcdef".to_vec()]
        );
    }

    #[test]
    fn record_split_at_every_byte_boundary() {
        let mut input = frag(false, b"0123456789");
        input.extend(frag(
            true,
            b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ",
        ));
        input.extend(frag(true, b"next"));
        for chunk in 1..input.len() {
            let mut dec = RecordDecoder::new(1024);
            let got = collect(&mut dec, &input, chunk);
            assert_eq!(got.len(), 2, "chunk {chunk}");
            assert_eq!(
                got[0],
                b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ".to_vec()
            );
            assert_eq!(got[1], b"next".to_vec());
        }
    }

    #[test]
    fn header_over_cap_is_refused_before_the_body_arrives() {
        let header = (LAST_FRAGMENT | 65).to_be_bytes();
        let mut dec = RecordDecoder::new(64);
        assert_eq!(
            dec.decode(&header).unwrap_err(),
            RecordError::TooLarge {
                claimed_bytes: 65,
                max_bytes: 64
            }
        );
    }

    #[test]
    fn fragments_adding_up_past_the_cap_are_refused() {
        let mut input = frag(false, &[0; 40]);
        input.extend(frag(true, &[0; 40]));
        let mut dec = RecordDecoder::new(64);
        let (n, rec) = dec.decode(&input[..44]).unwrap();
        assert_eq!((n, rec), (44, None));
        assert_eq!(
            dec.decode(&input[n..]).unwrap_err(),
            RecordError::TooLarge {
                claimed_bytes: 80,
                max_bytes: 64
            }
        );
    }

    #[test]
    fn record_exactly_at_cap_is_accepted() {
        let input = frag(true, &[7; 64]);
        let mut dec = RecordDecoder::new(64);
        assert_eq!(collect(&mut dec, &input, 5), vec![vec![7; 64]]);
    }

    #[test]
    fn truncated_header_waits_for_more() {
        let mut dec = RecordDecoder::new(64);
        assert_eq!(dec.decode(&[0x80, 0]).unwrap(), (2, None));
        assert!(!dec.is_idle());
        let (n, rec) = dec.decode(&[0, 1, b'x']).unwrap();
        assert_eq!((n, rec), (3, Some(&b"x"[..])));
    }

    #[test]
    fn a_large_gathered_buffer_is_released_after_use() {
        let big = vec![1u8; RETAINED_BYTES_MAX + 10];
        let input = frag(true, &big);
        let mut dec = RecordDecoder::new(RECORD_BYTES_MAX_DEFAULT);
        assert_eq!(collect(&mut dec, &input, 1000).len(), 1);
        dec.decode(&[]).unwrap();
        assert_eq!(dec.gathered.capacity(), 0);
    }

    proptest::proptest! {
        #[test]
        fn any_fragmentation_and_chunking_round_trips(
            records in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100), 1..6),
            split in 1usize..7,
            chunk in 1usize..50,
        ) {
            let mut wire = Vec::new();
            for r in &records {
                let pieces: Vec<&[u8]> = if r.is_empty() { vec![&r[..]] } else { r.chunks(split.max(1)).collect() };
                for (i, p) in pieces.iter().enumerate() {
                    wire.extend(frag(i + 1 == pieces.len(), p));
                }
            }
            let mut dec = RecordDecoder::new(1000);
            proptest::prop_assert_eq!(collect(&mut dec, &wire, chunk), records);
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), chunk in 1usize..20) {
            let mut dec = RecordDecoder::new(64);
            'outer: for piece in bytes.chunks(chunk) {
                let mut pos = 0;
                while pos < piece.len() {
                    match dec.decode(&piece[pos..]) {
                        Ok((n, _)) => pos += n,
                        Err(_) => break 'outer,
                    }
                }
            }
        }
    }
}
