//! What LVM accepts as a volume-group name and as a tag, checked before any text reaches a
//! command line, and the volume tag brickd writes on a brick's VG.
//!
//! `lvm2_run` splits its command line on white space and hands the words to LVM's option
//! parser, so a name with a space, a quote or a leading `-` would change the command. Both the
//! client and the helper run these checks; nothing else builds LVM command lines.

use crate::model::Uuid;
use std::fmt;

/// The longest VG name LVM accepts (`NAME_LEN` 128 with its NUL).
pub const VG_NAME_BYTES_MAX: usize = 127;

/// The longest tag brickd writes or deletes. LVM documents 1024 characters; it does not
/// enforce it, brickd does.
pub const TAG_BYTES_MAX: usize = 1024;

/// The most tags one `change_tags` call may add and delete together.
///
/// `lvm2_run` refuses a command line of 64 words or more ("Too many arguments. Limit is 64");
/// `vgchange`, the VG and two words per tag leave room for 30.
pub const TAG_CHANGES_MAX: usize = 30;

/// The prefix of the volume tag; the volume's UUID follows it.
///
/// It spells glusterd's brick xattr `trusted.glusterfs.volume-id` and LVM accepts `=` (and
/// `.`, `-`) in tags, so the tag is the xattr's name and value in one word.
pub const VOLUME_TAG_PREFIX: &str = "trusted.glusterfs.volume-id=";

/// Why a VG name or a tag was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameProblem {
    /// The text is empty.
    Empty,
    /// The text is longer than LVM (or brickd) allows.
    TooLong {
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The text holds a character LVM does not allow there.
    Character {
        /// The character.
        found: char,
        /// Its byte offset.
        position: usize,
    },
    /// The text starts with `-`, which LVM's option parser would take for an option.
    LeadingHyphen,
    /// `.` and `..` are not VG names.
    Reserved,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => f.write_str("it is empty"),
            NameProblem::TooLong { bytes, max } => {
                write!(f, "it is {bytes} bytes long, the limit is {max}")
            }
            NameProblem::Character { found, position } => {
                write!(f, "character {found:?} at byte {position} is not allowed")
            }
            NameProblem::LeadingHyphen => f.write_str("it starts with '-'"),
            NameProblem::Reserved => f.write_str("'.' and '..' are reserved"),
        }
    }
}

fn check_characters(text: &str, allowed: impl Fn(u8) -> bool) -> Result<(), NameProblem> {
    match text
        .char_indices()
        .find(|&(_, c)| !c.is_ascii() || !allowed(c as u8))
    {
        Some((position, found)) => Err(NameProblem::Character { found, position }),
        None => Ok(()),
    }
}

/// Checks a VG name against LVM's rules: 1 to 127 of `A-Z a-z 0-9 + _ . -`, not starting with
/// `-`, not `.` or `..`.
pub fn check_vg_name(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.len() > VG_NAME_BYTES_MAX {
        return Err(NameProblem::TooLong {
            bytes: name.len(),
            max: VG_NAME_BYTES_MAX,
        });
    }
    check_characters(name, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'+' | b'_' | b'.' | b'-')
    })?;
    if name.starts_with('-') {
        return Err(NameProblem::LeadingHyphen);
    }
    if name == "." || name == ".." {
        return Err(NameProblem::Reserved);
    }
    Ok(())
}

/// Checks a tag against LVM's rules: 1 to 1024 of `A-Z a-z 0-9 _ + . - / = ! : & #`.
///
/// LVM itself accepts a leading `-` after `--addtag`; brickd refuses it, so that no word it
/// passes can be read as an option.
pub fn check_tag(tag: &str) -> Result<(), NameProblem> {
    if tag.is_empty() {
        return Err(NameProblem::Empty);
    }
    if tag.len() > TAG_BYTES_MAX {
        return Err(NameProblem::TooLong {
            bytes: tag.len(),
            max: TAG_BYTES_MAX,
        });
    }
    check_characters(tag, |c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'_' | b'+' | b'.' | b'-' | b'/' | b'=' | b'!' | b':' | b'&' | b'#'
            )
    })?;
    if tag.starts_with('-') {
        return Err(NameProblem::LeadingHyphen);
    }
    Ok(())
}

/// The tag that marks a VG as holding bricks of volume `volume_id`:
/// `trusted.glusterfs.volume-id=<uuid>`.
///
/// A UUID is written in glusterd's lower-case form. Other text is kept as given; if it has
/// characters LVM does not allow, `change_tags` refuses the tag.
pub fn volume_tag(volume_id: &str) -> String {
    match Uuid::parse(volume_id) {
        Ok(uuid) => format!("{VOLUME_TAG_PREFIX}{uuid}"),
        Err(_) => format!("{VOLUME_TAG_PREFIX}{volume_id}"),
    }
}

/// The volume UUID (lower case) of a volume tag, or `None` if `tag` is not one.
pub fn parse_volume_tag(tag: &str) -> Option<String> {
    let uuid = Uuid::parse(tag.strip_prefix(VOLUME_TAG_PREFIX)?).ok()?;
    Some(uuid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vg_names_follow_lvm_rules() {
        for good in ["vg0", "brick_vg", "a.b-c+d", "x", &"A".repeat(127)] {
            assert_eq!(check_vg_name(good), Ok(()), "{good}");
        }
        assert_eq!(check_vg_name(""), Err(NameProblem::Empty));
        assert_eq!(
            check_vg_name(&"a".repeat(128)),
            Err(NameProblem::TooLong {
                bytes: 128,
                max: 127
            })
        );
        assert_eq!(check_vg_name("-vg"), Err(NameProblem::LeadingHyphen));
        assert_eq!(check_vg_name(".."), Err(NameProblem::Reserved));
        for bad in [
            "vg 0", "vg/0", "vg'0", "vg\"0", "vg\t", "vg\n", "vgé", "vg=1", "vg\0",
        ] {
            assert!(
                matches!(check_vg_name(bad), Err(NameProblem::Character { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tags_follow_lvm_rules() {
        for good in ["a", "a#b&c!d:e", "x/y=z", "trusted.glusterfs.volume-id=0-1"] {
            assert_eq!(check_tag(good), Ok(()), "{good}");
        }
        assert_eq!(check_tag(""), Err(NameProblem::Empty));
        assert_eq!(check_tag(&"t".repeat(1024)), Ok(()));
        assert!(matches!(
            check_tag(&"t".repeat(1025)),
            Err(NameProblem::TooLong { .. })
        ));
        assert_eq!(check_tag("-bad"), Err(NameProblem::LeadingHyphen));
        for bad in ["a,b", "a b", "a'b", "a\"b", "a\\b", "a\nb", "a;b", "ü"] {
            assert!(
                matches!(check_tag(bad), Err(NameProblem::Character { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn volume_tag_round_trips_in_lower_case() {
        let tag = volume_tag("0A1B2C3D-1234-5678-9ABC-DEF012345678");
        assert_eq!(
            tag,
            "trusted.glusterfs.volume-id=0a1b2c3d-1234-5678-9abc-def012345678"
        );
        assert_eq!(check_tag(&tag), Ok(()));
        assert_eq!(
            parse_volume_tag(&tag).as_deref(),
            Some("0a1b2c3d-1234-5678-9abc-def012345678")
        );
        assert_eq!(parse_volume_tag("trusted.glusterfs.volume-id=nope"), None);
        assert_eq!(
            parse_volume_tag("other=0a1b2c3d-1234-5678-9abc-def012345678"),
            None
        );
    }

    #[test]
    fn volume_tag_keeps_non_uuid_text_for_the_check_to_refuse() {
        let tag = volume_tag("not a uuid");
        assert!(matches!(
            check_tag(&tag),
            Err(NameProblem::Character { found: ' ', .. })
        ));
    }
}
