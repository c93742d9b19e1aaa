//! 16-byte UUIDs in glusterd's text form: 36 characters, lowercase, hyphenated.

use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Length of the hyphenated text form (`8-4-4-4-12` hex digits).
const UUID_TEXT_LEN: usize = 36;

/// Positions of the hyphens in the text form.
const HYPHEN_POSITIONS: [usize; 4] = [8, 13, 18, 23];

/// A UUID as glusterd keeps it (`uuid_t`, 16 bytes): node ids, volume ids, brick owners.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uuid([u8; 16]);

/// Why a text is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseUuidError {
    /// The text is not 36 bytes long.
    #[error("a UUID has 36 characters, this one has {0}")]
    Length(usize),
    /// A hyphen is missing or misplaced, or a hex digit is expected and something else is there.
    #[error("a UUID is 8-4-4-4-12 hex digits; byte {position} ({found:?}) does not fit")]
    Character {
        /// 0-based byte offset in the text.
        position: usize,
        /// The offending character (or the replacement character for a non-UTF-8 byte).
        found: char,
    },
}

impl Uuid {
    /// The all-zero UUID, which glusterd writes for "none" (`restored_from_snap`, an unresolved
    /// thin-arbiter brick, a rebalance that never ran).
    pub const NIL: Uuid = Uuid([0; 16]);

    /// The UUID made of these 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Uuid {
        Uuid(bytes)
    }

    /// The 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Whether this is [`Uuid::NIL`].
    pub fn is_nil(&self) -> bool {
        self.0 == [0; 16]
    }

    /// A random (version 4, RFC 4122 variant) UUID from 16 random bytes: sets the version and
    /// variant bits and keeps the other 122.
    pub fn from_random_bytes(mut bytes: [u8; 16]) -> Uuid {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid(bytes)
    }

    /// A new random version-4 UUID, like glusterd's `gf_uuid_generate` for a new node.
    ///
    /// # Panics
    ///
    /// If the operating system has no random source (`getrandom(2)` fails), which Linux
    /// always has once booted.
    pub fn new_v4() -> Uuid {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Uuid::from_random_bytes(bytes)
    }

    /// Parses the 36-character hyphenated form. Hex digits may be upper or lower case (as
    /// libuuid's `uuid_parse` accepts); [`fmt::Display`] always writes lower case.
    pub fn parse(text: &str) -> Result<Uuid, ParseUuidError> {
        let raw = text.as_bytes();
        if raw.len() != UUID_TEXT_LEN {
            return Err(ParseUuidError::Length(raw.len()));
        }
        let bad = |position: usize| ParseUuidError::Character {
            position,
            found: text
                .get(position..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or(char::REPLACEMENT_CHARACTER),
        };
        let mut bytes = [0u8; 16];
        let mut nibbles = 0usize;
        for (position, &c) in raw.iter().enumerate() {
            if HYPHEN_POSITIONS.contains(&position) {
                if c != b'-' {
                    return Err(bad(position));
                }
                continue;
            }
            let value = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(bad(position)),
            };
            bytes[nibbles / 2] |= if nibbles.is_multiple_of(2) {
                value << 4
            } else {
                value
            };
            nibbles += 1;
        }
        Ok(Uuid(bytes))
    }
}

impl FromStr for Uuid {
    type Err = ParseUuidError;

    fn from_str(text: &str) -> Result<Uuid, ParseUuidError> {
        Uuid::parse(text)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_glusterd_text() {
        let text = "7cb5f09e-9644-4924-942e-63f432b4f7f7";
        let uuid = Uuid::parse(text).unwrap();
        assert_eq!(uuid.as_bytes()[0], 0x7c);
        assert_eq!(uuid.as_bytes()[15], 0xf7);
        assert_eq!(uuid.to_string(), text);
        assert_eq!(text.parse::<Uuid>().unwrap(), uuid);
    }

    #[test]
    fn upper_case_parses_and_formats_lower_case() {
        let uuid = Uuid::parse("7CB5F09E-9644-4924-942E-63F432B4F7F7").unwrap();
        assert_eq!(uuid.to_string(), "7cb5f09e-9644-4924-942e-63f432b4f7f7");
    }

    #[test]
    fn nil_is_all_zeros() {
        let nil = Uuid::parse("00000000-0000-0000-0000-000000000000").unwrap();
        assert_eq!(nil, Uuid::NIL);
        assert!(nil.is_nil());
        assert_eq!(Uuid::default(), Uuid::NIL);
    }

    #[test]
    fn rejects_wrong_length_hyphens_and_digits() {
        assert_eq!(Uuid::parse(""), Err(ParseUuidError::Length(0)));
        assert_eq!(
            Uuid::parse("7cb5f09e-9644-4924-942e-63f432b4f7f7a"),
            Err(ParseUuidError::Length(37))
        );
        assert_eq!(
            Uuid::parse("7cb5f09e_9644-4924-942e-63f432b4f7f7"),
            Err(ParseUuidError::Character {
                position: 8,
                found: '_'
            })
        );
        assert_eq!(
            Uuid::parse("7cb5f09e-9644-4924-942e-63f432b4f7fg"),
            Err(ParseUuidError::Character {
                position: 35,
                found: 'g'
            })
        );
        assert!(Uuid::parse("7cb5f09e-9644-4924-942e-63f432b4f7é").is_err());
        assert!(Uuid::parse("7cb5f09e096440492409420e63f432b4f7f7").is_err());
    }

    #[test]
    fn new_v4_sets_version_and_variant_and_differs() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        assert_ne!(a, b);
        for uuid in [a, b] {
            let text = uuid.to_string();
            assert_eq!(&text[14..15], "4");
            assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"));
            assert_eq!(Uuid::parse(&text).unwrap(), uuid);
        }
    }
}
