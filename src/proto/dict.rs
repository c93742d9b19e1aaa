//! The glusterfs dict wire format (`dict_serialize` / `dict_unserialize`, reference §5).
//!
//! This module owns the bytes of a serialized dict: the blob inside the XDR `opaque dict<>` of
//! most glusterd structs. It never reads or writes the XDR opaque around the blob (callers do,
//! with [`super::xdr`]), performs no I/O and keeps no state between calls.
//!
//! # Layout
//!
//! Big-endian 32-bit words, everything else byte-packed, no padding inside:
//!
//! ```text
//! int32 count                                 (glusterd: DICT_HDR_LEN)
//! count times:
//!    int32 keylen                             strlen(key), the NUL not counted
//!    int32 vallen                             the stored length: includes the NUL of texts
//!    key bytes, then one 0x00
//!    value bytes
//! ```
//!
//! Texts and integers are stored as text plus a NUL (integers in decimal); binary values such
//! as 16-byte UUIDs are raw. The type is never sent.
//!
//! # Order
//!
//! A glusterd dict is a list that grows at its head and is serialized from the head, so **the
//! wire order is the reverse of the insertion order**. A receiver inserts the pairs in wire
//! order, so its own walk (`dict_foreach`) sees the last wire pair first. [`Dict`] models that
//! list exactly: it keeps pairs in insertion order, [`Dict::encode`] writes them newest first,
//! and decoding inserts them in wire order. So re-encoding a decoded dict reverses its pairs,
//! which is what glusterd does when it forwards a dict it received; [`Dict::reverse`] restores
//! the sender's order when the original bytes are wanted.
//!
//! Lookups find the most recently inserted pair with that key (glusterd searches its hash
//! chain from the head). Duplicate keys are legal on the wire (`dict_unserialize` adds without
//! replacing), and on the receiving side the most recently inserted one is the one **later on
//! the wire**; [`DictRef`] lookups give the same answer without building a [`Dict`].
//!
//! # No dict versus an empty dict
//!
//! An empty opaque means "no dict" (handlers test `dict_len != 0` before unserializing, and
//! `dict_unserialize` refuses size 0), while the 4 bytes `00 00 00 00` are a dict with no
//! pairs; the CLI prints different things for the two (reference §6.3). Decoding returns
//! `Ok(None)` for the first and `Ok(Some(empty))` for the second.
//!
//! # Validation
//!
//! Every length is checked against [`DictLimits`] and against the bytes left before anything is
//! taken from the input; [`DictRef`] never allocates and [`Dict::decode`] allocates only for
//! pairs that are present in the input. Refused, with the offset (from the start of the blob):
//! negative count, key length or value length (the CVE-2018-10911 class); counts and lengths
//! over the limits; a key or value running past the end; a key not followed by a NUL; a key
//! containing a NUL (C copies keys with `strcpy`, so such a key would silently become another
//! key); a key that is not UTF-8; bytes after the last pair. glusterd itself does not check the
//! terminator, NULs or UTF-8 in keys and ignores trailing bytes; no glusterd or CLI sender
//! produces any of them, and refusing them makes decoding canonical: a decoded dict, reversed
//! and re-encoded, gives back exactly the input bytes.
//!
//! # Typed values
//!
//! The getters read a value the way glusterd's receiving side does, with the deliberate
//! differences noted on each: text ends at the first NUL ([`Dict::get_str`]), integers follow
//! `strtol(text, NULL, 0)` ([`Dict::get_i32`]), booleans follow `dict_get_str_boolean`
//! ([`Dict::get_bool`]).
//!
//! ```
//! use brickd::proto::dict::{Dict, DictLimits};
//!
//! let mut reply = Dict::new();
//! reply.set_str("friend1.hostname", "localhost");
//! reply.set_i32("count", 1);
//! let mut wire = Vec::new();
//! reply.encode(&mut wire);
//! assert_eq!(&wire[..4], &[0, 0, 0, 2]);
//! assert_eq!(&wire[12..18], b"count\0"); // inserted last, first on the wire
//!
//! let got = Dict::decode(&wire, DictLimits::default()).unwrap().expect("a dict");
//! assert_eq!(got.get_i32("count"), Ok(1));
//! assert_eq!(got.get_str("friend1.hostname"), Ok("localhost"));
//! assert_eq!(Dict::decode(&[], DictLimits::default()), Ok(None)); // no dict at all
//! ```

use std::fmt;
use thiserror::Error;

/// Default cap on the pairs of one dict (DESIGN.md limits; glusterd has none).
pub const DICT_PAIRS_MAX_DEFAULT: usize = 4096;
/// Default cap on one key, in bytes without its NUL.
pub const DICT_KEY_BYTES_MAX_DEFAULT: usize = 1 << 10;
/// Default cap on one value, in bytes (its `vallen`).
pub const DICT_VALUE_BYTES_MAX_DEFAULT: usize = 4 << 20;

/// Bytes of the pair count at the start of a dict (glusterd: `DICT_HDR_LEN`).
pub const DICT_HEADER_BYTES: usize = 4;
/// Bytes of the two length words before each key (`DICT_DATA_HDR_KEY_LEN` + `…_VAL_LEN`).
pub const DICT_PAIR_HEADER_BYTES: usize = 8;

/// How many bytes of a bad value an error message quotes.
const QUOTED_VALUE_BYTES_MAX: usize = 64;

/// Caps applied while decoding a dict. Every cap is checked before the item it limits is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DictLimits {
    /// Most pairs one dict may claim.
    pub pairs_max: usize,
    /// Longest key, in bytes without its NUL.
    pub key_bytes_max: usize,
    /// Longest value, in bytes.
    pub value_bytes_max: usize,
}

impl DictLimits {
    /// Caps for a peer's volume export (FRIEND_ADD): about 70 pairs per volume, so room for
    /// a few thousand volumes; keys and values as the default.
    pub fn peer_export() -> DictLimits {
        DictLimits {
            pairs_max: 400_000,
            ..DictLimits::default()
        }
    }

    /// Caps that never bind: used to walk a dict that was already validated.
    const NONE: DictLimits = DictLimits {
        pairs_max: usize::MAX,
        key_bytes_max: usize::MAX,
        value_bytes_max: usize::MAX,
    };
}

impl Default for DictLimits {
    /// 4,096 pairs, 1 KiB keys, 4 MiB values (DESIGN.md limits).
    fn default() -> Self {
        DictLimits {
            pairs_max: DICT_PAIRS_MAX_DEFAULT,
            key_bytes_max: DICT_KEY_BYTES_MAX_DEFAULT,
            value_bytes_max: DICT_VALUE_BYTES_MAX_DEFAULT,
        }
    }
}

/// The parts of a serialized dict, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DictItem {
    /// The leading pair count.
    Count,
    /// A pair's key length word.
    KeyLength,
    /// A pair's value length word.
    ValueLength,
    /// A pair's key and the NUL after it.
    Key,
    /// A pair's value.
    Value,
}

impl fmt::Display for DictItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DictItem::Count => "pair count",
            DictItem::KeyLength => "key length",
            DictItem::ValueLength => "value length",
            DictItem::Key => "key",
            DictItem::Value => "value",
        })
    }
}

/// Why a serialized dict was refused. Offsets count from the first byte of the dict blob
/// (the count word), not from the start of the message around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DictError {
    /// The input ended inside an item.
    #[error("dict truncated: the {item} at offset {offset} needs {needed} more bytes")]
    Truncated {
        /// What was being read.
        item: DictItem,
        /// Where it starts.
        offset: usize,
        /// Bytes it still needed.
        needed: usize,
    },
    /// A count or length word with the sign bit set.
    #[error("dict {item} at offset {offset} is negative ({value})")]
    Negative {
        /// The count or the length word.
        item: DictItem,
        /// Offset of the word.
        offset: usize,
        /// The value read.
        value: i32,
    },
    /// A count or length over its [`DictLimits`] cap.
    #[error("dict {item} {value} at offset {offset} exceeds the limit of {max}")]
    OverLimit {
        /// The count or the length word.
        item: DictItem,
        /// Offset of the word.
        offset: usize,
        /// The value read.
        value: u32,
        /// The cap.
        max: usize,
    },
    /// The byte after a key is not the NUL that must end it.
    #[error("dict key at offset {offset} is not followed by a NUL (byte {found:#04x} at offset {terminator_offset})")]
    KeyNotTerminated {
        /// Offset of the key.
        offset: usize,
        /// Offset of the byte that should be NUL.
        terminator_offset: usize,
        /// The byte found there.
        found: u8,
    },
    /// A key with a NUL inside it (a C reader would see a shorter, different key).
    #[error("dict key at offset {offset} contains a NUL at offset {nul_offset}")]
    KeyContainsNul {
        /// Offset of the key.
        offset: usize,
        /// Offset of the first NUL inside it.
        nul_offset: usize,
    },
    /// A key that is not UTF-8.
    #[error("dict key at offset {offset} is not UTF-8")]
    KeyNotUtf8 {
        /// Offset of the key.
        offset: usize,
    },
    /// Bytes after the last pair the count announced.
    #[error("{count} unexpected bytes after the last dict pair, at offset {offset}")]
    Trailing {
        /// Where the extra bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
}

/// Why a typed getter could not give a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DictGetError {
    /// No pair has this key.
    #[error("dict has no key {key:?}")]
    Missing {
        /// The key asked for.
        key: String,
    },
    /// The text of the value is not UTF-8.
    #[error("dict value of {key:?} is not UTF-8 text")]
    NotUtf8 {
        /// The key asked for.
        key: String,
    },
    /// The value is not an integer in C `strtol` base-0 syntax, or has bytes after it.
    #[error("dict value of {key:?} is not an integer: {text:?}")]
    NotInteger {
        /// The key asked for.
        key: String,
        /// The start of the value's text (at most 64 bytes, lossy UTF-8).
        text: String,
    },
    /// The value is an integer outside the range of the type asked for.
    #[error("dict value of {key:?} does not fit in {type_name}: {text:?}")]
    OutOfRange {
        /// The key asked for.
        key: String,
        /// The start of the value's text (at most 64 bytes, lossy UTF-8).
        text: String,
        /// The Rust type asked for (`i32`, `u64`, …).
        type_name: &'static str,
    },
    /// The value is none of the boolean spellings `dict_get_str_boolean` accepts.
    #[error("dict value of {key:?} is not a boolean: {text:?}")]
    NotBoolean {
        /// The key asked for.
        key: String,
        /// The start of the value's text (at most 64 bytes, lossy UTF-8).
        text: String,
    },
}

impl DictGetError {
    /// True when the key is absent (as opposed to present with a bad value), so callers can
    /// treat optional keys as `None`.
    pub fn is_missing(&self) -> bool {
        matches!(self, DictGetError::Missing { .. })
    }
}

/// Generates the typed getters on a type that has `get_bin(&self, &str) -> Option<&[u8]>`.
macro_rules! typed_getters {
    () => {
        /// The text of `key`: the value up to its first NUL, or the whole value when it has
        /// none (received values are glusterd's `STR_OLD`, which every getter accepts).
        /// Text that is not UTF-8 is an error.
        pub fn get_str(&self, key: &str) -> Result<&str, DictGetError> {
            value_str(key, self.get_bin(key))
        }

        /// `key` as an `i32`, read like glusterd's `dict_get_int32` (`strtol(text, NULL, 0)`):
        /// leading white space, an optional sign, then hex after `0x`/`0X`, octal after a
        /// leading `0` (`010` is 8), decimal otherwise. Unlike glusterd, which silently takes
        /// the leading number of `3abc`, 0 for an empty text and wraps values past the type,
        /// brickd refuses bytes after the number, a text with no digits and values out of range.
        pub fn get_i32(&self, key: &str) -> Result<i32, DictGetError> {
            value_int(key, self.get_bin(key))
        }

        /// `key` as an `i64`, read as [`get_i32`](Self::get_i32) reads.
        pub fn get_i64(&self, key: &str) -> Result<i64, DictGetError> {
            value_int(key, self.get_bin(key))
        }

        /// `key` as a `u32`, read as [`get_i32`](Self::get_i32) reads. A negative value is out
        /// of range (C's `strtoul` would negate it into a huge number).
        pub fn get_u32(&self, key: &str) -> Result<u32, DictGetError> {
            value_int(key, self.get_bin(key))
        }

        /// `key` as a `u64`, read as [`get_u32`](Self::get_u32) reads.
        pub fn get_u64(&self, key: &str) -> Result<u64, DictGetError> {
            value_int(key, self.get_bin(key))
        }

        /// `key` as a boolean, like `dict_get_str_boolean`: `1`, `on`, `yes`, `true`, `enable`
        /// are true; `0`, `off`, `no`, `false`, `disable` are false; case does not matter;
        /// anything else is an error. A missing key is [`DictGetError::Missing`]: the caller
        /// picks the default, as glusterd's callers pass one.
        pub fn get_bool(&self, key: &str) -> Result<bool, DictGetError> {
            value_bool(key, self.get_bin(key))
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// A validated serialized dict, borrowed from the input. Iterates in wire order without
/// allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DictRef<'a> {
    /// The whole blob, count word included; every pair in it has been validated.
    bytes: &'a [u8],
    /// The pair count.
    len: usize,
}

impl<'a> DictRef<'a> {
    /// Validates the contents of a dict opaque. Empty input is "no dict": `Ok(None)`.
    pub fn decode(input: &'a [u8], limits: DictLimits) -> Result<Option<Self>, DictError> {
        if input.is_empty() {
            return Ok(None);
        }
        let word = read_word(input, 0, DictItem::Count)?;
        let len = check_length(word, 0, DictItem::Count, limits.pairs_max)?;
        let mut offset = DICT_HEADER_BYTES;
        for _ in 0..len {
            offset = read_pair(input, offset, &limits)?.next_offset;
        }
        if offset != input.len() {
            return Err(DictError::Trailing {
                offset,
                count: input.len() - offset,
            });
        }
        Ok(Some(DictRef { bytes: input, len }))
    }

    /// Number of pairs (duplicates included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a dict with no pairs.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The validated blob as received, count word included, for forwarding it unchanged.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The pairs in wire order: the order of insertion on the receiving side.
    pub fn iter(&self) -> DictIter<'a> {
        DictIter {
            bytes: self.bytes,
            offset: DICT_HEADER_BYTES,
            remaining: self.len,
        }
    }

    /// The raw value of `key`; with duplicates, the one later on the wire (as glusterd finds).
    pub fn get_bin(&self, key: &str) -> Option<&'a [u8]> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }

    /// True when some pair has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.iter().any(|(k, _)| k == key)
    }

    /// Copies the pairs into an owned [`Dict`] (insertion order = wire order).
    pub fn to_dict(&self) -> Dict {
        Dict::from(*self)
    }

    typed_getters!();
}

impl<'a> IntoIterator for DictRef<'a> {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = DictIter<'a>;

    fn into_iter(self) -> DictIter<'a> {
        self.iter()
    }
}

/// Iterator over the pairs of a [`DictRef`] in wire order.
#[derive(Debug, Clone)]
pub struct DictIter<'a> {
    bytes: &'a [u8],
    offset: usize,
    remaining: usize,
}

impl<'a> Iterator for DictIter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        // The blob was validated by `DictRef::decode`, so this cannot fail; if it ever did,
        // iteration ends rather than panicking.
        let pair = read_pair(self.bytes, self.offset, &DictLimits::NONE).ok()?;
        self.offset = pair.next_offset;
        self.remaining -= 1;
        Some((pair.key, pair.value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for DictIter<'_> {}
impl std::iter::FusedIterator for DictIter<'_> {}

/// One pair as found on the wire.
struct WirePair<'a> {
    key: &'a str,
    value: &'a [u8],
    next_offset: usize,
}

/// Reads the big-endian word at `offset` as a signed count or length.
fn read_word(input: &[u8], offset: usize, item: DictItem) -> Result<i32, DictError> {
    match input.get(offset..offset + 4) {
        Some(w) => Ok(i32::from_be_bytes([w[0], w[1], w[2], w[3]])),
        None => Err(DictError::Truncated {
            item,
            offset,
            needed: offset + 4 - input.len(),
        }),
    }
}

/// Refuses a negative word or one over `max`; returns it as a length.
fn check_length(word: i32, offset: usize, item: DictItem, max: usize) -> Result<usize, DictError> {
    if word < 0 {
        return Err(DictError::Negative {
            item,
            offset,
            value: word,
        });
    }
    let len = word as usize;
    if len > max {
        return Err(DictError::OverLimit {
            item,
            offset,
            value: word as u32,
            max,
        });
    }
    Ok(len)
}

/// Takes `len` bytes at `offset`, or says how many are missing. Never overflows: `offset` is at
/// most `input.len()`, and `len` is compared with what is left.
fn take(input: &[u8], offset: usize, len: usize, item: DictItem) -> Result<&[u8], DictError> {
    let left = input.len() - offset;
    if len > left {
        return Err(DictError::Truncated {
            item,
            offset,
            needed: len - left,
        });
    }
    Ok(&input[offset..offset + len])
}

/// Reads and checks the pair starting at `offset` (which is at most `input.len()`).
fn read_pair<'a>(
    input: &'a [u8],
    offset: usize,
    limits: &DictLimits,
) -> Result<WirePair<'a>, DictError> {
    let key_len_offset = offset;
    let value_len_offset = offset + 4;
    let key_word = read_word(input, key_len_offset, DictItem::KeyLength)?;
    let value_word = read_word(input, value_len_offset, DictItem::ValueLength)?;
    let key_len = check_length(
        key_word,
        key_len_offset,
        DictItem::KeyLength,
        limits.key_bytes_max,
    )?;
    let value_len = check_length(
        value_word,
        value_len_offset,
        DictItem::ValueLength,
        limits.value_bytes_max,
    )?;

    let key_offset = offset + DICT_PAIR_HEADER_BYTES;
    // The key and its terminator in one piece: `key_len` is below 2^31, so `+ 1` cannot wrap.
    let key_and_nul = take(input, key_offset, key_len + 1, DictItem::Key)?;
    let (key, terminator) = key_and_nul.split_at(key_len);
    if terminator[0] != 0 {
        return Err(DictError::KeyNotTerminated {
            offset: key_offset,
            terminator_offset: key_offset + key_len,
            found: terminator[0],
        });
    }
    if let Some(at) = key.iter().position(|&b| b == 0) {
        return Err(DictError::KeyContainsNul {
            offset: key_offset,
            nul_offset: key_offset + at,
        });
    }
    let key = std::str::from_utf8(key).map_err(|_| DictError::KeyNotUtf8 { offset: key_offset })?;

    let value_offset = key_offset + key_len + 1;
    let value = take(input, value_offset, value_len, DictItem::Value)?;
    Ok(WirePair {
        key,
        value,
        next_offset: value_offset + value_len,
    })
}

// ---------------------------------------------------------------------------------------------
// The owned dict
// ---------------------------------------------------------------------------------------------

/// An owned glusterfs dict: `(key, value)` pairs in insertion order, duplicates allowed.
///
/// Setters replace the value of an existing key in place (glusterd's `dict_set`); [`push`]
/// always appends (`dict_add`). Lookups find the most recently inserted pair with the key.
/// Lookups scan the pairs: dicts on the management paths hold tens of pairs, and at most
/// [`DICT_PAIRS_MAX_DEFAULT`] by default.
///
/// [`push`]: Dict::push
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dict {
    pairs: Vec<(String, Vec<u8>)>,
}

impl Dict {
    /// An empty dict.
    pub fn new() -> Self {
        Dict::default()
    }

    /// Decodes the contents of a dict opaque into an owned dict whose insertion order is the
    /// wire order, as `dict_unserialize` builds it. Empty input is "no dict": `Ok(None)`.
    pub fn decode(input: &[u8], limits: DictLimits) -> Result<Option<Self>, DictError> {
        Ok(DictRef::decode(input, limits)?.map(Dict::from))
    }

    /// Number of pairs (duplicates included).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True for a dict with no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Index of the pair a lookup of `key` finds: the most recently inserted one.
    fn position(&self, key: &str) -> Option<usize> {
        self.pairs.iter().rposition(|(k, _)| k == key)
    }

    /// Sets `key` to raw `value`: replaces the value of the pair a lookup finds, keeping its
    /// position, or appends a new pair.
    ///
    /// # Panics
    ///
    /// If `key` contains a NUL byte. Keys are C strings on the wire; brickd builds them in code.
    fn set_value(&mut self, key: &str, value: Vec<u8>) {
        assert_key_has_no_nul(key);
        match self.position(key) {
            Some(at) => self.pairs[at].1 = value,
            None => self.pairs.push((key.to_owned(), value)),
        }
    }

    /// Sets a text value: the text plus a NUL (`dict_set_str`). A C reader stops at the first
    /// NUL, so text with a NUL inside reads shorter on the other side.
    ///
    /// # Panics
    ///
    /// If `key` contains a NUL byte (as every setter).
    pub fn set_str(&mut self, key: &str, value: &str) {
        let mut bytes = Vec::with_capacity(value.len() + 1);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
        self.set_value(key, bytes);
    }

    /// Sets an integer as decimal text plus a NUL (`dict_set_int32`).
    pub fn set_i32(&mut self, key: &str, value: i32) {
        self.set_value(key, decimal(value));
    }

    /// Sets an integer as decimal text plus a NUL (`dict_set_int64`).
    pub fn set_i64(&mut self, key: &str, value: i64) {
        self.set_value(key, decimal(value));
    }

    /// Sets an integer as decimal text plus a NUL (`dict_set_uint32`).
    pub fn set_u32(&mut self, key: &str, value: u32) {
        self.set_value(key, decimal(value));
    }

    /// Sets an integer as decimal text plus a NUL (`dict_set_uint64`).
    pub fn set_u64(&mut self, key: &str, value: u64) {
        self.set_value(key, decimal(value));
    }

    /// Sets a boolean as `1` or `0` plus a NUL, as glusterd stores a `gf_boolean_t` with
    /// `dict_set_int32`.
    pub fn set_bool(&mut self, key: &str, value: bool) {
        self.set_value(key, decimal(u8::from(value)));
    }

    /// Sets raw bytes, sent as they are with no NUL added (`dict_set_bin`; a 16-byte binary
    /// UUID such as `originator_uuid` or `transaction_id` goes this way).
    pub fn set_bin(&mut self, key: &str, value: &[u8]) {
        self.set_value(key, value.to_vec());
    }

    /// Appends a pair with raw `value` even if `key` is present (`dict_add`). The new pair is
    /// the one later lookups find.
    ///
    /// # Panics
    ///
    /// If `key` contains a NUL byte.
    pub fn push(&mut self, key: &str, value: Vec<u8>) {
        assert_key_has_no_nul(key);
        self.pairs.push((key.to_owned(), value));
    }

    /// Removes the pair a lookup of `key` finds and returns its value. With duplicates, the
    /// next older pair becomes visible (glusterd's `dict_del` removes one pair too).
    pub fn remove(&mut self, key: &str) -> Option<Vec<u8>> {
        let at = self.position(key)?;
        Some(self.pairs.remove(at).1)
    }

    /// The raw value of `key` (the most recently inserted pair with that key).
    pub fn get_bin(&self, key: &str) -> Option<&[u8]> {
        self.position(key).map(|at| self.pairs[at].1.as_slice())
    }

    /// True when some pair has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// The pairs in insertion order (oldest first).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &[u8])> + ExactSizeIterator {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The pairs in the order [`encode`](Dict::encode) writes them: newest first. This is also
    /// the order in which glusterd's `dict_foreach` walks the same dict.
    pub fn iter_wire_order(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&str, &[u8])> + ExactSizeIterator {
        self.iter().rev()
    }

    /// Reverses the insertion order. On a decoded dict this gives the sender's insertion order,
    /// so that [`encode`](Dict::encode) reproduces the received bytes exactly; glusterd's
    /// `dict_copy` reverses a dict the same way.
    pub fn reverse(&mut self) {
        self.pairs.reverse();
    }

    /// Bytes [`encode`](Dict::encode) writes: `4 + Σ(8 + keylen + 1 + vallen)`.
    pub fn encoded_len(&self) -> usize {
        DICT_HEADER_BYTES
            + self
                .pairs
                .iter()
                .map(|(k, v)| DICT_PAIR_HEADER_BYTES + k.len() + 1 + v.len())
                .sum::<usize>()
    }

    /// Appends the serialized dict (no XDR opaque length or padding) to `out`, newest pair
    /// first. Counts and lengths must fit in an `i32`, as in glusterd; every dict brickd builds
    /// is far below that.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.extend_from_slice(&wire_word(self.pairs.len()));
        for (key, value) in self.iter_wire_order() {
            out.extend_from_slice(&wire_word(key.len()));
            out.extend_from_slice(&wire_word(value.len()));
            out.extend_from_slice(key.as_bytes());
            out.push(0);
            out.extend_from_slice(value);
        }
    }

    typed_getters!();
}

impl From<DictRef<'_>> for Dict {
    fn from(wire: DictRef<'_>) -> Self {
        let mut pairs = Vec::with_capacity(wire.len());
        pairs.extend(wire.iter().map(|(k, v)| (k.to_owned(), v.to_vec())));
        Dict { pairs }
    }
}

fn assert_key_has_no_nul(key: &str) {
    assert!(
        !key.as_bytes().contains(&0),
        "dict key {key:?} contains a NUL byte"
    );
}

fn wire_word(len: usize) -> [u8; 4] {
    debug_assert!(
        len <= i32::MAX as usize,
        "dict count or length {len} over i32"
    );
    (len as u32).to_be_bytes()
}

/// Decimal text plus a NUL: what glusterd's `data_from_int*` store. Rust's formatting never
/// writes leading zeros, which a base-0 `strtol` on the other side would read as octal.
fn decimal(value: impl fmt::Display) -> Vec<u8> {
    format!("{value}\0").into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Typed values
// ---------------------------------------------------------------------------------------------

/// The bytes a C reader sees as the string: up to the first NUL, or all of them.
fn c_text(value: &[u8]) -> &[u8] {
    match value.iter().position(|&b| b == 0) {
        Some(end) => &value[..end],
        None => value,
    }
}

fn quoted(text: &[u8]) -> String {
    String::from_utf8_lossy(&text[..text.len().min(QUOTED_VALUE_BYTES_MAX)]).into_owned()
}

fn missing(key: &str) -> DictGetError {
    DictGetError::Missing {
        key: key.to_owned(),
    }
}

fn value_str<'v>(key: &str, value: Option<&'v [u8]>) -> Result<&'v str, DictGetError> {
    let text = c_text(value.ok_or_else(|| missing(key))?);
    std::str::from_utf8(text).map_err(|_| DictGetError::NotUtf8 {
        key: key.to_owned(),
    })
}

fn value_int<T: TryFrom<i128>>(key: &str, value: Option<&[u8]>) -> Result<T, DictGetError> {
    let text = c_text(value.ok_or_else(|| missing(key))?);
    let out_of_range = || DictGetError::OutOfRange {
        key: key.to_owned(),
        text: quoted(text),
        type_name: std::any::type_name::<T>(),
    };
    match parse_c_integer(text) {
        Ok(n) => T::try_from(n).map_err(|_| out_of_range()),
        Err(CIntError::Overflow) => Err(out_of_range()),
        Err(CIntError::Syntax) => Err(DictGetError::NotInteger {
            key: key.to_owned(),
            text: quoted(text),
        }),
    }
}

fn value_bool(key: &str, value: Option<&[u8]>) -> Result<bool, DictGetError> {
    const TRUE: [&[u8]; 5] = [b"1", b"on", b"yes", b"true", b"enable"];
    const FALSE: [&[u8]; 5] = [b"0", b"off", b"no", b"false", b"disable"];
    let text = c_text(value.ok_or_else(|| missing(key))?);
    let is = |words: &[&[u8]]| words.iter().any(|w| w.eq_ignore_ascii_case(text));
    if is(&TRUE) {
        Ok(true)
    } else if is(&FALSE) {
        Ok(false)
    } else {
        Err(DictGetError::NotBoolean {
            key: key.to_owned(),
            text: quoted(text),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CIntError {
    /// No digits, or bytes after the number.
    Syntax,
    /// The magnitude does not fit in 64 bits.
    Overflow,
}

/// Parses the whole of `text` with C `strtol` base-0 syntax: white space (`isspace`), an
/// optional `+`/`-`, then `0x`/`0X` and hex digits, or `0` and octal digits, or decimal digits.
/// Returns the value with its sign; the caller checks the range of its type.
fn parse_c_integer(text: &[u8]) -> Result<i128, CIntError> {
    let is_c_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = text
        .iter()
        .position(|b| !is_c_space(b))
        .unwrap_or(text.len());
    let mut rest = &text[start..];
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    let radix = match rest {
        [b'0', b'x' | b'X', digit, ..] if digit.is_ascii_hexdigit() => {
            rest = &rest[2..];
            16
        }
        [b'0', ..] => 8,
        _ => 10,
    };
    if rest.is_empty() {
        return Err(CIntError::Syntax);
    }
    let mut magnitude: u64 = 0;
    for &b in rest {
        let digit = (b as char).to_digit(radix).ok_or(CIntError::Syntax)?;
        magnitude = magnitude
            .checked_mul(u64::from(radix))
            .and_then(|m| m.checked_add(u64::from(digit)))
            .ok_or(CIntError::Overflow)?;
    }
    let magnitude = i128::from(magnitude);
    Ok(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::xdr::{XdrReader, XDR_BYTES_MAX};
    use proptest::prelude::*;

    /// The `friends` dict of reference §6.5, as captured (141 bytes).
    fn friends_6_5() -> Vec<u8> {
        let mut out = vec![0, 0, 0, 4];
        for (key, value) in [
            ("count", &b"1\0"[..]),
            ("friend1.connected", b"1\0"),
            ("friend1.hostname", b"localhost\0"),
            ("friend1.uuid", b"7cb5f09e-9644-4924-942e-63f432b4f7f7\0"),
        ] {
            out.extend_from_slice(&(key.len() as u32).to_be_bytes());
            out.extend_from_slice(&(value.len() as u32).to_be_bytes());
            out.extend_from_slice(key.as_bytes());
            out.push(0);
            out.extend_from_slice(value);
        }
        out
    }

    /// A dict with two raw 16-byte UUIDs and a text, as a v3 mgmt request carries.
    fn binary_dict() -> Dict {
        let mut d = Dict::new();
        d.set_bin("originator_uuid", &[0x11; 16]);
        d.set_bin("transaction_id", &(0u8..16).collect::<Vec<_>>());
        d.set_str("volname", "v1");
        d
    }

    fn decode(input: &[u8]) -> Result<Option<Dict>, DictError> {
        Dict::decode(input, DictLimits::default())
    }

    fn decode_some(input: &[u8]) -> Dict {
        decode(input).unwrap().expect("a dict")
    }

    fn encoded(d: &Dict) -> Vec<u8> {
        let mut out = Vec::new();
        d.encode(&mut out);
        out
    }

    fn keys<'a>(pairs: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<&'a str> {
        pairs.map(|(k, _)| k).collect()
    }

    /// Builds a blob from raw words and bytes.
    fn blob(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn be(n: i32) -> [u8; 4] {
        n.to_be_bytes()
    }

    /// The `friends` opaque of a captured `gf1_cli_peer_list_rsp` reply (after the 24-byte
    /// accepted-reply header: xid, REPLY, MSG_ACCEPTED, AUTH_NULL verifier, SUCCESS).
    fn friends_of_capture(reply: &[u8]) -> &[u8] {
        let mut r = XdrReader::new(&reply[24..]);
        assert_eq!(r.i32().unwrap(), 0, "op_ret");
        assert_eq!(r.i32().unwrap(), 0, "op_errno");
        let friends = r.opaque(XDR_BYTES_MAX).unwrap();
        r.finish().unwrap();
        friends
    }

    // --- golden bytes -------------------------------------------------------------------------

    #[test]
    fn friends_dict_of_reference_6_5_encodes_byte_for_byte() {
        // glusterd's insertion order: the peer's keys, then count; the wire shows it reversed.
        let mut d = Dict::new();
        d.set_str("friend1.uuid", "7cb5f09e-9644-4924-942e-63f432b4f7f7");
        d.set_str("friend1.hostname", "localhost");
        d.set_i32("friend1.connected", 1);
        d.set_i32("count", 1);
        let wire = encoded(&d);
        assert_eq!(wire, friends_6_5());
        assert_eq!(wire.len(), 141);
        assert_eq!(d.encoded_len(), 141);
    }

    #[test]
    fn friends_dict_of_reference_6_5_decodes_in_wire_order() {
        let wire = friends_6_5();
        let view = DictRef::decode(&wire, DictLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            keys(view.iter()),
            [
                "count",
                "friend1.connected",
                "friend1.hostname",
                "friend1.uuid"
            ]
        );
        assert_eq!(view.get_i32("count"), Ok(1));
        assert_eq!(view.get_bool("friend1.connected"), Ok(true));
        assert_eq!(view.get_str("friend1.hostname"), Ok("localhost"));
        assert_eq!(view.as_bytes(), &wire[..]);

        let d = decode_some(&wire);
        assert_eq!(d, view.to_dict());
        assert_eq!(keys(d.iter()), keys(view.iter()));
        assert_eq!(
            d.get_str("friend1.uuid"),
            Ok("7cb5f09e-9644-4924-942e-63f432b4f7f7")
        );
    }

    #[test]
    fn pool_list_captures_from_glusterd_decode() {
        for reply in [
            &include_bytes!("../../tests/golden/unix-cli-pool-list.reply.bin")[..],
            &include_bytes!("../../tests/golden/tcp-cli-pool-list.reply.bin")[..],
        ] {
            let friends = friends_of_capture(reply);
            assert_eq!(friends.len(), 141);
            let d = decode_some(friends);
            assert_eq!(
                keys(d.iter()),
                [
                    "count",
                    "friend1.connected",
                    "friend1.hostname",
                    "friend1.uuid"
                ]
            );
            assert_eq!(d.get_i32("count"), Ok(1));
            assert_eq!(d.get_i32("friend1.connected"), Ok(1));
            assert_eq!(d.get_str("friend1.hostname"), Ok("localhost"));
            let uuid = d.get_str("friend1.uuid").unwrap();
            assert_eq!(uuid.len(), 36);
            assert_eq!(uuid.matches('-').count(), 4);

            // Built in glusterd's insertion order, brickd sends the same bytes.
            let mut again = Dict::new();
            again.set_str("friend1.uuid", uuid);
            again.set_str("friend1.hostname", "localhost");
            again.set_i32("friend1.connected", 1);
            again.set_i32("count", 1);
            assert_eq!(encoded(&again), friends);
        }
    }

    #[test]
    fn peer_status_captures_carry_count_zero_as_text() {
        for reply in [
            &include_bytes!("../../tests/golden/unix-cli-peer-status.reply.bin")[..],
            &include_bytes!("../../tests/golden/tcp-cli-peer-status.reply.bin")[..],
        ] {
            let friends = friends_of_capture(reply);
            let d = decode_some(friends);
            assert_eq!(d.len(), 1);
            assert_eq!(d.get_bin("count"), Some(&b"0\0"[..]));
            assert_eq!(d.get_i32("count"), Ok(0));
            let mut built = Dict::new();
            built.set_i32("count", 0);
            assert_eq!(encoded(&built), friends);
        }
    }

    #[test]
    fn fsm_log_capture_is_an_empty_dict_not_no_dict() {
        let reply = include_bytes!("../../tests/golden/unix-cli-fsm-log.reply.bin");
        let mut r = XdrReader::new(&reply[24..]);
        assert_eq!(r.i32().unwrap(), 0);
        assert_eq!(r.i32().unwrap(), 0);
        assert_eq!(r.string(XDR_BYTES_MAX).unwrap(), "");
        let fsm_log = r.opaque(XDR_BYTES_MAX).unwrap();
        r.finish().unwrap();
        assert_eq!(decode(fsm_log), Ok(Some(Dict::new())));
        assert_eq!(encoded(&Dict::new()), fsm_log);
    }

    #[test]
    fn cli_list_friends_call_has_no_dict() {
        let call = include_bytes!("../../tests/golden/unix-cli-pool-list.call.bin");
        // gf1_cli_peer_list_req { flags; opaque dict<> } ends the call.
        let args = &call[call.len() - 8..];
        let mut r = XdrReader::new(args);
        assert_eq!(r.i32().unwrap(), 2, "flags = GF_CLI_LIST_POOL_NODES");
        let dict = r.opaque(XDR_BYTES_MAX).unwrap();
        assert_eq!(decode(dict), Ok(None));
        assert_eq!(DictRef::decode(dict, DictLimits::default()), Ok(None));
    }

    #[test]
    fn volume_info_example_of_reference_6_2_is_748_bytes_in_glusterd_order() {
        let uuid = "7cb5f09e-9644-4924-942e-63f432b4f7f7";
        // Wire order as observed (§6.2); glusterd inserted them the other way round.
        let wire_order: [(&str, &str); 21] = [
            ("count", "1"),
            ("volume0.opt_count", "3"),
            ("volume0.option.nfs.disable", "on"),
            ("volume0.option.transport.address-family", "inet"),
            ("volume0.option.storage.fips-mode-rchecksum", "on"),
            ("volume0.brick1.uuid", uuid),
            ("volume0.brick1", "vm:/bricks/b1/data"),
            ("volume0.snap_count", "0"),
            ("volume0.rebalance", "0"),
            ("volume0.volume_id", uuid),
            ("volume0.thin_arbiter_count", "0"),
            ("volume0.transport", "0"),
            ("volume0.arbiter_count", "0"),
            ("volume0.redundancy_count", "0"),
            ("volume0.disperse_count", "0"),
            ("volume0.replica_count", "1"),
            ("volume0.dist_count", "1"),
            ("volume0.brick_count", "1"),
            ("volume0.status", "1"),
            ("volume0.type", "0"),
            ("volume0.name", "v1"),
        ];
        let mut d = Dict::new();
        for (key, value) in wire_order.iter().rev() {
            d.set_str(key, value);
        }
        let wire = encoded(&d);
        assert_eq!(wire.len(), 748);
        let got = decode_some(&wire);
        let want: Vec<&str> = wire_order.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys(got.iter()), want);
        // The CLI walks the received dict newest first: options print in reverse wire order.
        let printed: Vec<&str> = got
            .iter_wire_order()
            .filter_map(|(k, _)| k.strip_prefix("volume0.option."))
            .collect();
        assert_eq!(
            printed,
            [
                "storage.fips-mode-rchecksum",
                "transport.address-family",
                "nfs.disable"
            ]
        );
    }

    // --- no dict, empty dict, order, duplicates ----------------------------------------------

    #[test]
    fn empty_input_is_no_dict_and_count_zero_is_an_empty_dict() {
        assert_eq!(decode(&[]), Ok(None));
        let empty = decode_some(&[0, 0, 0, 0]);
        assert!(empty.is_empty());
        assert_eq!(empty.encoded_len(), 4);
    }

    #[test]
    fn bytes_after_the_last_pair_are_refused() {
        assert_eq!(
            decode(&[0, 0, 0, 0, 0]),
            Err(DictError::Trailing {
                offset: 4,
                count: 1
            })
        );
        let mut wire = friends_6_5();
        wire.extend_from_slice(&[0, 0, 0]);
        assert_eq!(
            decode(&wire),
            Err(DictError::Trailing {
                offset: 141,
                count: 3
            })
        );
    }

    #[test]
    fn wire_order_is_the_reverse_of_insertion_order() {
        let mut d = Dict::new();
        d.set_str("volname", "vx");
        d.set_str("bricks", " h:/b1 ");
        d.set_str("cmd-str", "volume create vx h:/b1");
        assert_eq!(keys(d.iter()), ["volname", "bricks", "cmd-str"]);
        assert_eq!(keys(d.iter_wire_order()), ["cmd-str", "bricks", "volname"]);
        let wire = encoded(&d);
        assert_eq!(&wire[12..20], b"cmd-str\0");
        // The receiver's insertion order is the wire order.
        assert_eq!(
            keys(decode_some(&wire).iter()),
            ["cmd-str", "bricks", "volname"]
        );
    }

    #[test]
    fn reversing_a_decoded_dict_reproduces_the_received_bytes() {
        let wire = encoded(&binary_dict());
        let mut d = decode_some(&wire);
        assert_ne!(
            encoded(&d),
            wire,
            "forwarding reverses the pairs, as glusterd does"
        );
        d.reverse();
        assert_eq!(d, binary_dict());
        assert_eq!(encoded(&d), wire);
    }

    #[test]
    fn set_replaces_in_place_and_keeps_the_position() {
        let mut d = Dict::new();
        d.set_i32("a", 1);
        d.set_str("b", "x");
        d.set_i32("a", 2);
        assert_eq!(d.len(), 2);
        assert_eq!(keys(d.iter()), ["a", "b"]);
        assert_eq!(d.get_i32("a"), Ok(2));
        d.set_str("a", "text");
        assert_eq!(d.get_str("a"), Ok("text"));
        assert_eq!(keys(d.iter()), ["a", "b"]);
    }

    #[test]
    fn push_keeps_duplicates_and_lookup_finds_the_newest() {
        let mut d = Dict::new();
        d.push("k", b"old\0".to_vec());
        d.push("other", b"o\0".to_vec());
        d.push("k", b"new\0".to_vec());
        assert_eq!(d.len(), 3);
        assert_eq!(d.get_str("k"), Ok("new"));
        // set replaces the pair a lookup finds, not the older duplicate.
        d.set_str("k", "newer");
        assert_eq!(
            d.iter().collect::<Vec<_>>(),
            [("k", &b"old\0"[..]), ("other", b"o\0"), ("k", b"newer\0")]
        );
        assert_eq!(d.remove("k"), Some(b"newer\0".to_vec()));
        assert_eq!(d.get_str("k"), Ok("old"));
        assert_eq!(d.remove("k"), Some(b"old\0".to_vec()));
        assert_eq!(d.remove("k"), None);
        assert!(!d.contains_key("k"));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn after_decoding_a_lookup_finds_the_duplicate_later_on_the_wire() {
        let wire = blob(&[
            &be(2),
            &be(1),
            &be(6),
            b"k\0first\0",
            &be(1),
            &be(7),
            b"k\0second\0",
        ]);
        let view = DictRef::decode(&wire, DictLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(view.get_str("k"), Ok("second"));
        let d = decode_some(&wire);
        assert_eq!(d.get_str("k"), Ok("second"));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn empty_keys_and_empty_values_are_legal() {
        let wire = blob(&[&be(1), &be(0), &be(0), b"\0"]);
        let d = decode_some(&wire);
        assert_eq!(d.get_bin(""), Some(&b""[..]));
        assert_eq!(d.get_str(""), Ok(""));
        assert_eq!(encoded(&d), wire);
    }

    #[test]
    fn binary_values_travel_raw_without_a_nul() {
        let d = binary_dict();
        let wire = encoded(&d);
        // Wire order: volname, transaction_id, originator_uuid.
        assert_eq!(&wire[4..12], [0, 0, 0, 7, 0, 0, 0, 3]);
        let tx = blob(&[&be(14), &be(16), b"transaction_id\0"]);
        // count, then the volname pair: 4 + 8 + "volname\0" + "v1\0".
        assert_eq!(&wire[23..23 + tx.len()], tx);
        let got = decode_some(&wire);
        assert_eq!(got.get_bin("originator_uuid"), Some(&[0x11u8; 16][..]));
        assert_eq!(got.get_bin("transaction_id").unwrap().len(), 16);
        assert_eq!(got.encoded_len(), wire.len());
    }

    #[test]
    fn iterators_report_their_length() {
        let wire = friends_6_5();
        let view = DictRef::decode(&wire, DictLimits::default())
            .unwrap()
            .unwrap();
        let mut it = view.iter();
        assert_eq!(it.len(), 4);
        it.next();
        assert_eq!(it.len(), 3);
        assert_eq!(view.into_iter().count(), 4);
        assert_eq!(decode_some(&wire).iter_wire_order().len(), 4);
    }

    // --- malformed dicts ---------------------------------------------------------------------

    #[test]
    fn truncation_at_every_offset_is_refused() {
        for wire in [friends_6_5(), encoded(&binary_dict())] {
            for cut in 1..wire.len() {
                let err = decode(&wire[..cut]).unwrap_err();
                assert!(
                    matches!(err, DictError::Truncated { .. }),
                    "cut at {cut}: {err}"
                );
                assert!(DictRef::decode(&wire[..cut], DictLimits::default()).is_err());
            }
            assert!(decode(&wire).is_ok());
        }
    }

    #[test]
    fn truncation_reports_the_item_and_what_is_missing() {
        let wire = friends_6_5();
        assert_eq!(
            decode(&wire[..2]),
            Err(DictError::Truncated {
                item: DictItem::Count,
                offset: 0,
                needed: 2
            })
        );
        assert_eq!(
            decode(&wire[..10]),
            Err(DictError::Truncated {
                item: DictItem::ValueLength,
                offset: 8,
                needed: 2
            })
        );
        // "count" needs 5 bytes and its NUL.
        assert_eq!(
            decode(&wire[..17]),
            Err(DictError::Truncated {
                item: DictItem::Key,
                offset: 12,
                needed: 1
            })
        );
        assert_eq!(
            decode(&wire[..19]),
            Err(DictError::Truncated {
                item: DictItem::Value,
                offset: 18,
                needed: 1
            })
        );
    }

    #[test]
    fn negative_count_is_refused() {
        assert_eq!(
            decode(&be(-1)),
            Err(DictError::Negative {
                item: DictItem::Count,
                offset: 0,
                value: -1
            })
        );
        assert!(matches!(
            decode(&be(i32::MIN)),
            Err(DictError::Negative { .. })
        ));
    }

    #[test]
    fn negative_key_length_is_refused() {
        let wire = blob(&[&be(1), &be(-5), &be(2), b"count\x001\0"]);
        assert_eq!(
            decode(&wire),
            Err(DictError::Negative {
                item: DictItem::KeyLength,
                offset: 4,
                value: -5
            })
        );
    }

    #[test]
    fn negative_value_length_is_refused() {
        let wire = blob(&[&be(1), &be(5), &be(-2), b"count\x001\0"]);
        assert_eq!(
            decode(&wire),
            Err(DictError::Negative {
                item: DictItem::ValueLength,
                offset: 8,
                value: -2
            })
        );
    }

    #[test]
    fn huge_counts_and_lengths_fail_fast_without_allocating() {
        let unlimited = DictLimits::NONE;
        // Over the default cap: refused from the count word alone.
        assert_eq!(
            decode(&be(i32::MAX)),
            Err(DictError::OverLimit {
                item: DictItem::Count,
                offset: 0,
                value: i32::MAX as u32,
                max: DICT_PAIRS_MAX_DEFAULT
            })
        );
        // With no caps at all, the input runs out long before anything is reserved.
        assert!(matches!(
            Dict::decode(&be(i32::MAX), unlimited),
            Err(DictError::Truncated {
                item: DictItem::KeyLength,
                offset: 4,
                ..
            })
        ));
        let huge_key = blob(&[&be(1), &be(i32::MAX), &be(i32::MAX), b"k\0v"]);
        assert_eq!(
            Dict::decode(&huge_key, unlimited),
            Err(DictError::Truncated {
                item: DictItem::Key,
                offset: 12,
                needed: i32::MAX as usize + 1 - 3
            })
        );
        let huge_value = blob(&[&be(1), &be(1), &be(i32::MAX), b"k\0v"]);
        assert_eq!(
            Dict::decode(&huge_value, unlimited),
            Err(DictError::Truncated {
                item: DictItem::Value,
                offset: 14,
                needed: i32::MAX as usize - 1
            })
        );
    }

    #[test]
    fn key_over_the_limit_is_refused_and_at_the_limit_accepted() {
        let limits = DictLimits {
            key_bytes_max: 4,
            ..DictLimits::default()
        };
        let at_limit = blob(&[&be(1), &be(4), &be(0), b"abcd\0"]);
        assert!(Dict::decode(&at_limit, limits).unwrap().is_some());
        let over = blob(&[&be(1), &be(5), &be(0), b"abcde\0"]);
        assert_eq!(
            Dict::decode(&over, limits),
            Err(DictError::OverLimit {
                item: DictItem::KeyLength,
                offset: 4,
                value: 5,
                max: 4
            })
        );
        let default_over = blob(&[&be(1), &be(1025), &be(0)]);
        assert!(matches!(
            decode(&default_over),
            Err(DictError::OverLimit {
                item: DictItem::KeyLength,
                max: 1024,
                ..
            })
        ));
    }

    #[test]
    fn value_over_the_limit_is_refused_and_at_the_limit_accepted() {
        let limits = DictLimits {
            value_bytes_max: 3,
            ..DictLimits::default()
        };
        let at_limit = blob(&[&be(1), &be(1), &be(3), b"k\0ab\0"]);
        assert!(Dict::decode(&at_limit, limits).unwrap().is_some());
        let over = blob(&[&be(1), &be(1), &be(4), b"k\0abc\0"]);
        assert_eq!(
            Dict::decode(&over, limits),
            Err(DictError::OverLimit {
                item: DictItem::ValueLength,
                offset: 8,
                value: 4,
                max: 3
            })
        );
        let default_over = blob(&[&be(1), &be(1), &be(4 << 20 | 1)]);
        assert!(matches!(
            decode(&default_over),
            Err(DictError::OverLimit {
                item: DictItem::ValueLength,
                max: DICT_VALUE_BYTES_MAX_DEFAULT,
                ..
            })
        ));
    }

    #[test]
    fn pairs_over_the_limit_are_refused_and_at_the_limit_accepted() {
        let limits = DictLimits {
            pairs_max: 4,
            ..DictLimits::default()
        };
        assert_eq!(
            Dict::decode(&friends_6_5(), limits).unwrap().unwrap().len(),
            4
        );
        let tight = DictLimits {
            pairs_max: 3,
            ..limits
        };
        assert_eq!(
            Dict::decode(&friends_6_5(), tight),
            Err(DictError::OverLimit {
                item: DictItem::Count,
                offset: 0,
                value: 4,
                max: 3
            })
        );
    }

    #[test]
    fn key_without_its_nul_terminator_is_refused() {
        let wire = blob(&[&be(1), &be(5), &be(2), b"countX1\0"]);
        assert_eq!(
            decode(&wire),
            Err(DictError::KeyNotTerminated {
                offset: 12,
                terminator_offset: 17,
                found: b'X'
            })
        );
    }

    #[test]
    fn key_containing_a_nul_is_refused() {
        let wire = blob(&[&be(1), &be(5), &be(2), b"co\0nt\x001\0"]);
        assert_eq!(
            decode(&wire),
            Err(DictError::KeyContainsNul {
                offset: 12,
                nul_offset: 14
            })
        );
    }

    #[test]
    fn key_that_is_not_utf8_is_refused() {
        let wire = blob(&[&be(1), &be(2), &be(0), b"k\xff\0"]);
        assert_eq!(decode(&wire), Err(DictError::KeyNotUtf8 { offset: 12 }));
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = decode(&blob(&[&be(1), &be(-5), &be(2)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dict key length at offset 4 is negative (-5)"
        );
        let err = decode(&friends_6_5()[..19]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dict truncated: the value at offset 18 needs 1 more bytes"
        );
        let err = decode(&be(5000)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dict pair count 5000 at offset 0 exceeds the limit of 4096"
        );
    }

    #[test]
    #[should_panic(expected = "contains a NUL byte")]
    fn setting_a_key_with_a_nul_panics() {
        Dict::new().set_i32("a\0b", 1);
    }

    // --- typed values ------------------------------------------------------------------------

    #[test]
    fn integers_are_decimal_text_with_a_nul() {
        let mut d = Dict::new();
        d.set_i32("a", -42);
        d.set_i64("b", i64::MIN);
        d.set_u32("c", u32::MAX);
        d.set_u64("d", u64::MAX);
        d.set_i32("e", 0);
        d.set_bool("f", true);
        d.set_bool("g", false);
        assert_eq!(d.get_bin("a"), Some(&b"-42\0"[..]));
        assert_eq!(d.get_bin("b"), Some(&b"-9223372036854775808\0"[..]));
        assert_eq!(d.get_bin("c"), Some(&b"4294967295\0"[..]));
        assert_eq!(d.get_bin("d"), Some(&b"18446744073709551615\0"[..]));
        assert_eq!(d.get_bin("e"), Some(&b"0\0"[..]));
        assert_eq!(d.get_bin("f"), Some(&b"1\0"[..]));
        assert_eq!(d.get_bin("g"), Some(&b"0\0"[..]));
        assert_eq!(d.get_i64("b"), Ok(i64::MIN));
        assert_eq!(d.get_u64("d"), Ok(u64::MAX));
        assert_eq!(d.get_bool("g"), Ok(false));
    }

    fn with_value(value: &[u8]) -> Dict {
        let mut d = Dict::new();
        d.push("k", value.to_vec());
        d
    }

    #[test]
    fn integers_are_read_like_strtol_base_0() {
        for (text, want) in [
            (&b"16\0"[..], 16),
            (b"0x10\0", 16),
            (b"0X1f\0", 31),
            (b"010\0", 8),
            (b"0\0", 0),
            (b"-0\0", 0),
            (b"+7\0", 7),
            (b"  \t\n-12\0", -12),
            (b"-0x10\0", -16),
            (b"2147483647\0", i32::MAX),
            (b"-2147483648\0", i32::MIN),
            (b"5", 5),          // no NUL: the whole value
            (b"5\0garbage", 5), // a C reader stops at the NUL
        ] {
            assert_eq!(with_value(text).get_i32("k"), Ok(want), "{text:?}");
        }
        assert_eq!(
            with_value(b"0x7fffffffffffffff\0").get_i64("k"),
            Ok(i64::MAX)
        );
        assert_eq!(with_value(b"0777\0").get_u32("k"), Ok(0o777));
    }

    #[test]
    fn integers_with_trailing_bytes_or_no_digits_are_refused() {
        for text in [
            &b"3abc\0"[..],
            b"3 \0",
            b"\0",
            b"",
            b"-\0",
            b" \0",
            b"08\0",
            b"0x\0",
            b"0xg\0",
            b"1.5\0",
            b"--1\0",
        ] {
            let err = with_value(text).get_i32("k").unwrap_err();
            assert!(
                matches!(err, DictGetError::NotInteger { .. }),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn integers_out_of_range_are_refused() {
        let d = with_value(b"2147483648\0");
        assert!(matches!(
            d.get_i32("k"),
            Err(DictGetError::OutOfRange {
                type_name: "i32",
                ..
            })
        ));
        assert_eq!(d.get_i64("k"), Ok(2_147_483_648));
        assert_eq!(d.get_u32("k"), Ok(2_147_483_648));
        assert!(with_value(b"4294967296\0").get_u32("k").is_err());
        assert!(with_value(b"-1\0").get_u32("k").is_err());
        assert!(with_value(b"-1\0").get_u64("k").is_err());
        assert_eq!(with_value(b"-0\0").get_u64("k"), Ok(0));
        let err = with_value(b"18446744073709551616\0")
            .get_u64("k")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dict value of \"k\" does not fit in u64: \"18446744073709551616\""
        );
        assert!(with_value(b"-9223372036854775809\0").get_i64("k").is_err());
    }

    #[test]
    fn text_ends_at_the_first_nul_and_may_lack_one() {
        assert_eq!(with_value(b"v1\0").get_str("k"), Ok("v1"));
        assert_eq!(with_value(b"v1").get_str("k"), Ok("v1"));
        assert_eq!(with_value(b"ab\0cd\0").get_str("k"), Ok("ab"));
        assert_eq!(with_value(b"\0").get_str("k"), Ok(""));
        assert_eq!(
            with_value(b"\xff\xfe\0").get_str("k"),
            Err(DictGetError::NotUtf8 { key: "k".into() })
        );
    }

    #[test]
    fn booleans_accept_glusterd_spellings_in_any_case() {
        for text in [
            "1", "on", "yes", "true", "enable", "ON", "Yes", "TRUE", "Enable",
        ] {
            let mut d = Dict::new();
            d.set_str("k", text);
            assert_eq!(d.get_bool("k"), Ok(true), "{text}");
        }
        for text in ["0", "off", "no", "false", "disable", "OFF", "No", "False"] {
            let mut d = Dict::new();
            d.set_str("k", text);
            assert_eq!(d.get_bool("k"), Ok(false), "{text}");
        }
        for text in ["", "2", "y", "onn", " on", "enabled"] {
            let mut d = Dict::new();
            d.set_str("k", text);
            assert!(
                matches!(d.get_bool("k"), Err(DictGetError::NotBoolean { .. })),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_missing_key_is_named_and_told_apart_from_a_bad_value() {
        let d = Dict::new();
        let err = d.get_str("volname").unwrap_err();
        assert!(err.is_missing());
        assert_eq!(err.to_string(), "dict has no key \"volname\"");
        assert!(d.get_i32("count").unwrap_err().is_missing());
        assert!(d.get_bool("force").unwrap_err().is_missing());
        assert_eq!(d.get_bin("x"), None);
        assert!(!with_value(b"x\0").get_i32("k").unwrap_err().is_missing());
    }

    #[test]
    fn bad_values_are_quoted_briefly() {
        let long = vec![b'x'; 10_000];
        let err = with_value(&long).get_i32("k").unwrap_err();
        let DictGetError::NotInteger { text, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(text.len(), QUOTED_VALUE_BYTES_MAX);
    }

    // --- properties --------------------------------------------------------------------------

    fn arbitrary_dict() -> impl Strategy<Value = Dict> {
        let key = "[a-z0-9._-]{0,12}";
        let value = proptest::collection::vec(any::<u8>(), 0..40);
        proptest::collection::vec((key, value), 0..12).prop_map(|pairs| {
            let mut d = Dict::new();
            for (k, v) in pairs {
                d.push(&k, v);
            }
            d
        })
    }

    proptest! {
        #[test]
        fn decode_of_encode_gives_the_pairs_in_wire_order(d in arbitrary_dict()) {
            let wire = encoded(&d);
            prop_assert_eq!(wire.len(), d.encoded_len());
            let view = DictRef::decode(&wire, DictLimits::default()).unwrap().unwrap();
            prop_assert!(view.iter().eq(d.iter_wire_order()));
            let mut got = Dict::from(view);
            prop_assert_eq!(got.len(), d.len());
            // The receiver finds, for each key, the sender's oldest pair: the last on the wire.
            for (k, _) in d.iter() {
                let oldest = d.iter().find(|(dk, _)| *dk == k).map(|(_, v)| v);
                prop_assert_eq!(got.get_bin(k), oldest);
                prop_assert_eq!(view.get_bin(k), oldest);
            }
            got.reverse();
            prop_assert_eq!(&got, &d);
            prop_assert_eq!(encoded(&got), wire);
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let small = DictLimits { pairs_max: 8, key_bytes_max: 16, value_bytes_max: 32 };
            for limits in [small, DictLimits::default()] {
                match Dict::decode(&bytes, limits) {
                    Ok(Some(d)) => {
                        prop_assert_eq!(d.encoded_len(), bytes.len());
                        let mut d = d;
                        d.reverse();
                        prop_assert_eq!(encoded(&d), bytes.clone());
                    }
                    Ok(None) => prop_assert!(bytes.is_empty()),
                    Err(_) => {}
                }
            }
        }

        #[test]
        fn decoder_never_panics_on_damaged_dicts(
            d in arbitrary_dict(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut wire = encoded(&d);
            let i = at.index(wire.len());
            wire[i] = byte;
            if let Ok(Some(got)) = decode(&wire) {
                prop_assert_eq!(got.encoded_len(), wire.len());
            }
        }

        #[test]
        fn integers_round_trip(a in any::<i32>(), b in any::<i64>(), c in any::<u32>(), e in any::<u64>()) {
            let mut d = Dict::new();
            d.set_i32("a", a);
            d.set_i64("b", b);
            d.set_u32("c", c);
            d.set_u64("e", e);
            let got = decode_some(&encoded(&d));
            prop_assert_eq!(got.get_i32("a"), Ok(a));
            prop_assert_eq!(got.get_i64("b"), Ok(b));
            prop_assert_eq!(got.get_u32("c"), Ok(c));
            prop_assert_eq!(got.get_u64("e"), Ok(e));
        }

        #[test]
        fn text_round_trips(key in "[ -~]{0,20}", text in "[^\u{0}]{0,40}") {
            let mut d = Dict::new();
            d.set_str(&key, &text);
            let got = decode_some(&encoded(&d));
            prop_assert_eq!(got.get_str(&key), Ok(text.as_str()));
        }
    }
}
