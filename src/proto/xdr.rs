//! Bounded XDR (RFC 4506) reader and writer.
//!
//! The reader borrows the input and never allocates: strings and opaques come back as slices.
//! Every variable-length item is checked against a caller-given maximum *before* anything is
//! taken from the buffer, so a hostile length can neither allocate nor run past the input.
//! The writer appends to a `Vec<u8>` the caller owns (normally an iobuf from the shard's arena),
//! so encoding into a buffer with enough capacity allocates nothing.

use thiserror::Error;

/// Default cap on one XDR string or opaque when a struct does not say less (DESIGN.md limits).
pub const XDR_BYTES_MAX: usize = 1 << 20;

/// Why an XDR item could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum XdrError {
    /// The input ended inside an item.
    #[error("XDR input truncated: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Offset of the item that did not fit.
        offset: usize,
        /// Bytes the item still needed.
        needed: usize,
    },
    /// A length prefix is larger than the cap for that item.
    #[error("XDR length {len} at offset {offset} exceeds the limit of {max}")]
    TooLong {
        /// Offset of the length word.
        offset: usize,
        /// The length the input claimed.
        len: u64,
        /// The cap for this item.
        max: usize,
    },
    /// A boolean or pointer flag that is neither 0 nor 1.
    #[error("XDR boolean at offset {offset} has value {value}")]
    BadBool {
        /// Offset of the word.
        offset: usize,
        /// The value found.
        value: u32,
    },
    /// A string that is not UTF-8 where the caller asked for text.
    #[error("XDR string at offset {offset} is not UTF-8")]
    NotUtf8 {
        /// Offset of the string bytes.
        offset: usize,
    },
    /// Bytes were left over after the last field of a struct.
    #[error("{count} unexpected bytes after the end of the XDR item")]
    Trailing {
        /// How many bytes were left.
        count: usize,
    },
}

/// Number of zero bytes that pad `len` bytes to a multiple of four.
#[inline]
pub const fn pad_len(len: usize) -> usize {
    (4 - (len & 3)) & 3
}

/// A cursor over XDR-encoded bytes.
#[derive(Debug, Clone)]
pub struct XdrReader<'a> {
    input: &'a [u8],
    offset: usize,
}

impl<'a> XdrReader<'a> {
    /// Starts reading at the beginning of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        XdrReader { input, offset: 0 }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The bytes not consumed yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.input[self.offset..]
    }

    /// Fails unless every byte has been consumed.
    pub fn finish(&self) -> Result<(), XdrError> {
        match self.input.len() - self.offset {
            0 => Ok(()),
            count => Err(XdrError::Trailing { count }),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], XdrError> {
        let available = self.input.len() - self.offset;
        if n > available {
            return Err(XdrError::Truncated {
                offset: self.offset,
                needed: n - available,
            });
        }
        let bytes = &self.input[self.offset..self.offset + n];
        self.offset += n;
        Ok(bytes)
    }

    /// Reads an unsigned 32-bit integer.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, XdrError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a signed 32-bit integer.
    #[inline]
    pub fn i32(&mut self) -> Result<i32, XdrError> {
        Ok(self.u32()? as i32)
    }

    /// Reads an unsigned hyper (64-bit) integer.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, XdrError> {
        let b = self.take(8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(b);
        Ok(u64::from_be_bytes(word))
    }

    /// Reads a boolean (also used for optional-data pointer flags).
    pub fn bool(&mut self) -> Result<bool, XdrError> {
        let offset = self.offset;
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(XdrError::BadBool { offset, value }),
        }
    }

    /// Reads fixed-length opaque data of `len` bytes plus its padding.
    pub fn fixed_opaque(&mut self, len: usize) -> Result<&'a [u8], XdrError> {
        let bytes = self.take(len)?;
        self.take(pad_len(len))?;
        Ok(bytes)
    }

    /// Reads variable-length opaque data of at most `max` bytes.
    pub fn opaque(&mut self, max: usize) -> Result<&'a [u8], XdrError> {
        let offset = self.offset;
        let len = self.u32()?;
        if len as u64 > max as u64 {
            return Err(XdrError::TooLong {
                offset,
                len: len as u64,
                max,
            });
        }
        self.fixed_opaque(len as usize)
    }

    /// Reads a string of at most `max` bytes as raw bytes (XDR strings carry no NUL).
    pub fn string_bytes(&mut self, max: usize) -> Result<&'a [u8], XdrError> {
        self.opaque(max)
    }

    /// Reads a string of at most `max` bytes that must be UTF-8.
    pub fn string(&mut self, max: usize) -> Result<&'a str, XdrError> {
        let offset = self.offset + 4;
        let bytes = self.opaque(max)?;
        std::str::from_utf8(bytes).map_err(|_| XdrError::NotUtf8 { offset })
    }
}

/// Appends XDR-encoded items to a byte vector.
#[derive(Debug)]
pub struct XdrWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> XdrWriter<'a> {
    /// Appends to `out`, keeping what it already holds.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        XdrWriter { out }
    }

    /// Total length of the underlying buffer.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True when the underlying buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Overwrites a u32 already written at `offset` (used for lengths known only afterwards).
    pub fn patch_u32(&mut self, offset: usize, value: u32) {
        self.out[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// Writes an unsigned 32-bit integer.
    #[inline]
    pub fn u32(&mut self, value: u32) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    /// Writes a signed 32-bit integer.
    #[inline]
    pub fn i32(&mut self, value: i32) {
        self.u32(value as u32);
    }

    /// Writes an unsigned hyper (64-bit) integer.
    #[inline]
    pub fn u64(&mut self, value: u64) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    /// Writes a boolean.
    pub fn bool(&mut self, value: bool) {
        self.u32(value as u32);
    }

    /// Writes fixed-length opaque data and its padding.
    pub fn fixed_opaque(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.out
            .extend_from_slice(&[0u8; 3][..pad_len(bytes.len())]);
    }

    /// Writes variable-length opaque data. The caller keeps lengths below 2^32 (every
    /// buffer brickd encodes is bounded far below that by the record cap).
    pub fn opaque(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.len() <= u32::MAX as usize);
        self.u32(bytes.len() as u32);
        self.fixed_opaque(bytes);
    }

    /// Writes a string (no NUL on the wire).
    pub fn string(&mut self, text: &str) {
        self.opaque(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian() {
        let mut out = Vec::new();
        let mut w = XdrWriter::new(&mut out);
        w.u32(0x0102_0304);
        w.i32(-2);
        w.u64(0xcafe);
        assert_eq!(
            out,
            [1, 2, 3, 4, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0xca, 0xfe]
        );
        let mut r = XdrReader::new(&out);
        assert_eq!(r.u32().unwrap(), 0x0102_0304);
        assert_eq!(r.i32().unwrap(), -2);
        assert_eq!(r.u64().unwrap(), 0xcafe);
        r.finish().unwrap();
    }

    #[test]
    fn opaque_is_padded_to_four() {
        let mut out = Vec::new();
        XdrWriter::new(&mut out).string("abcde");
        assert_eq!(out, b"\0\0\0\x05abcde\0\0\0");
        let mut r = XdrReader::new(&out);
        assert_eq!(r.string(16).unwrap(), "abcde");
        r.finish().unwrap();
    }

    #[test]
    fn length_over_cap_is_refused_before_reading() {
        let input = [0x7f, 0xff, 0xff, 0xff];
        let err = XdrReader::new(&input).opaque(1024).unwrap_err();
        assert_eq!(
            err,
            XdrError::TooLong {
                offset: 0,
                len: 0x7fff_ffff,
                max: 1024
            }
        );
    }

    #[test]
    fn negative_length_is_a_huge_length_and_refused() {
        let input = (-1i32).to_be_bytes();
        assert!(matches!(
            XdrReader::new(&input).opaque(XDR_BYTES_MAX),
            Err(XdrError::TooLong { .. })
        ));
    }

    #[test]
    fn truncated_opaque_reports_what_is_missing() {
        let input = [0, 0, 0, 8, b'a', b'b'];
        assert_eq!(
            XdrReader::new(&input).opaque(64).unwrap_err(),
            XdrError::Truncated {
                offset: 4,
                needed: 6
            }
        );
    }

    #[test]
    fn truncated_padding_is_an_error() {
        let input = [0, 0, 0, 1, b'a'];
        assert!(matches!(
            XdrReader::new(&input).opaque(64),
            Err(XdrError::Truncated { .. })
        ));
    }

    #[test]
    fn bool_must_be_zero_or_one() {
        let input = [0, 0, 0, 2];
        assert_eq!(
            XdrReader::new(&input).bool().unwrap_err(),
            XdrError::BadBool {
                offset: 0,
                value: 2
            }
        );
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let input = [0, 0, 0, 1, 9];
        let mut r = XdrReader::new(&input);
        r.u32().unwrap();
        assert_eq!(r.finish().unwrap_err(), XdrError::Trailing { count: 1 });
    }

    #[test]
    fn invalid_utf8_string_is_refused() {
        let input = [0, 0, 0, 1, 0xff, 0, 0, 0];
        assert_eq!(
            XdrReader::new(&input).string(8).unwrap_err(),
            XdrError::NotUtf8 { offset: 4 }
        );
        assert_eq!(XdrReader::new(&input).string_bytes(8).unwrap(), &[0xff]);
    }

    proptest::proptest! {
        #[test]
        fn opaque_round_trips(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), n in proptest::prelude::any::<u32>()) {
            let mut out = Vec::new();
            let mut w = XdrWriter::new(&mut out);
            w.opaque(&bytes);
            w.u32(n);
            proptest::prop_assert_eq!(out.len() % 4, 0);
            let mut r = XdrReader::new(&out);
            proptest::prop_assert_eq!(r.opaque(64).unwrap(), &bytes[..]);
            proptest::prop_assert_eq!(r.u32().unwrap(), n);
            proptest::prop_assert!(r.finish().is_ok());
        }

        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let mut r = XdrReader::new(&bytes);
            let _ = r.opaque(16);
            let _ = r.string(16);
            let _ = r.bool();
            let _ = r.u64();
        }
    }
}
