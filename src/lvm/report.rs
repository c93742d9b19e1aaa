//! The LVM command lines the helper runs and the parsing of what they report.
//!
//! Pure text in, text out: the helper (`helper.rs`) runs the lines with `lvm2_run` and feeds
//! the captured messages back here. Every name and tag is checked by [`names`](super::names)
//! before it is put into a line; this module refuses anything else.

use super::names::{check_tag, check_vg_name, NameProblem, TAG_CHANGES_MAX};
use super::proto::VgInfo;

/// The `vgs` fields brickd reads, in the order of [`VgInfo`]'s fields.
const VGS_FIELDS: &str = "vg_name,vg_uuid,vg_tags,vg_free";

/// A command line could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandProblem {
    /// The VG name is not one LVM allows.
    VgName(String, NameProblem),
    /// A tag is not one LVM allows.
    Tag(String, NameProblem),
    /// More tags than one command line can carry.
    TooManyTags {
        /// Tags to add and delete together.
        count: usize,
        /// [`TAG_CHANGES_MAX`].
        max: usize,
    },
    /// Nothing to add or delete.
    NoTags,
}

impl std::fmt::Display for CommandProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandProblem::VgName(name, problem) => {
                write!(f, "VG name {name:?} refused: {problem}")
            }
            CommandProblem::Tag(tag, problem) => write!(f, "tag {tag:?} refused: {problem}"),
            CommandProblem::TooManyTags { count, max } => write!(
                f,
                "{count} tag changes in one call, the limit is {max} (split the call)"
            ),
            CommandProblem::NoTags => f.write_str("no tags to add or delete"),
        }
    }
}

fn checked_vg(vg: &str) -> Result<&str, CommandProblem> {
    check_vg_name(vg).map_err(|problem| CommandProblem::VgName(vg.to_owned(), problem))?;
    Ok(vg)
}

/// Checks the arguments of a tag change: the VG, every tag, and the count.
pub fn check_tag_change(vg: &str, add: &[String], delete: &[String]) -> Result<(), CommandProblem> {
    checked_vg(vg)?;
    let count = add.len() + delete.len();
    if count == 0 {
        return Err(CommandProblem::NoTags);
    }
    if count > TAG_CHANGES_MAX {
        return Err(CommandProblem::TooManyTags {
            count,
            max: TAG_CHANGES_MAX,
        });
    }
    for tag in add.iter().chain(delete) {
        check_tag(tag).map_err(|problem| CommandProblem::Tag(tag.clone(), problem))?;
    }
    Ok(())
}

/// `vgs` reporting one VG's name, UUID, tags and free bytes, one `LVM2_KEY='value'` line.
pub fn vgs_command(vg: &str) -> Result<String, CommandProblem> {
    let vg = checked_vg(vg)?;
    Ok(format!(
        "vgs --noheadings --nameprefixes --units b --nosuffix -o {VGS_FIELDS} {vg}"
    ))
}

/// One `vgchange` adding and deleting tags: LVM applies it as one metadata commit.
pub fn vgchange_tags_command(
    vg: &str,
    add: &[String],
    delete: &[String],
) -> Result<String, CommandProblem> {
    check_tag_change(vg, add, delete)?;
    let mut line = String::from("vgchange");
    for tag in add {
        line.push_str(" --addtag ");
        line.push_str(tag);
    }
    for tag in delete {
        line.push_str(" --deltag ");
        line.push_str(tag);
    }
    line.push(' ');
    line.push_str(vg);
    Ok(line)
}

/// Whether LVM's messages for a failed `vgs <vg>` say that the VG does not exist.
///
/// LVM words it `Volume group "<vg>" not found` (metadata.c); the text is not translated.
pub fn says_vg_not_found(messages: &[String], vg: &str) -> bool {
    let needle = format!("Volume group \"{vg}\" not found");
    messages.iter().any(|line| line.contains(&needle))
}

/// Parses the report line of [`vgs_command`] for `vg` out of LVM's printed messages.
///
/// The line looks like
/// `LVM2_VG_NAME='vg0' LVM2_VG_UUID='q3Ug3X-…' LVM2_VG_TAGS='a,b' LVM2_VG_FREE='62914560'`.
/// Other printed lines (warnings) are skipped. `None` if no line reports `vg`.
pub fn parse_vg_report(messages: &[String], vg: &str) -> Option<VgInfo> {
    messages.iter().find_map(|line| {
        let info = parse_vg_line(line)?;
        (info.name == vg).then_some(info)
    })
}

fn parse_vg_line(line: &str) -> Option<VgInfo> {
    let mut rest = line.trim();
    let (mut name, mut uuid, mut tags, mut free) = (None, None, None, None);
    while !rest.is_empty() {
        let (key, after_key) = rest.split_once("='")?;
        let (value, after_value) = after_key.split_once('\'')?;
        match key {
            "LVM2_VG_NAME" => name = Some(value),
            "LVM2_VG_UUID" => uuid = Some(value),
            "LVM2_VG_TAGS" => tags = Some(value),
            "LVM2_VG_FREE" => free = Some(value),
            _ => return None,
        }
        rest = after_value.trim_start();
    }
    let tags = tags?;
    Some(VgInfo {
        name: name?.to_owned(),
        uuid: uuid?.to_owned(),
        tags: if tags.is_empty() {
            Vec::new()
        } else {
            tags.split(',').map(str::to_owned).collect()
        },
        free_bytes: free?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn vgchange_line_adds_then_deletes_in_one_command() {
        let line = vgchange_tags_command("vg0", &strings(&["a", "b=1"]), &strings(&["c"]));
        assert_eq!(
            line.as_deref(),
            Ok("vgchange --addtag a --addtag b=1 --deltag c vg0")
        );
    }

    #[test]
    fn command_lines_refuse_unchecked_text() {
        assert!(matches!(
            vgs_command("vg0 --yes"),
            Err(CommandProblem::VgName(..))
        ));
        assert!(matches!(
            vgchange_tags_command("vg0", &strings(&["a b"]), &[]),
            Err(CommandProblem::Tag(..))
        ));
        assert!(matches!(
            vgchange_tags_command("vg0", &[], &strings(&["--yes"])),
            Err(CommandProblem::Tag(..))
        ));
        assert_eq!(
            vgchange_tags_command("vg0", &[], &[]),
            Err(CommandProblem::NoTags)
        );
        let many: Vec<String> = (0..=TAG_CHANGES_MAX).map(|i| format!("t{i}")).collect();
        assert_eq!(
            vgchange_tags_command("vg0", &many, &[]),
            Err(CommandProblem::TooManyTags {
                count: TAG_CHANGES_MAX + 1,
                max: TAG_CHANGES_MAX
            })
        );
        let words = vgchange_tags_command("vg0", &many[1..], &[]).unwrap();
        assert!(words.split_whitespace().count() < 64, "lvm2_run's limit");
    }

    #[test]
    fn report_line_is_parsed() {
        let messages = strings(&[
            "  WARNING: something to say",
            "  LVM2_VG_NAME='vg0' LVM2_VG_UUID='q3Ug3X-Ugpj-5PIu-ijuK-90rv-IL1m-9orVRl' \
             LVM2_VG_TAGS='a,trusted.glusterfs.volume-id=x' LVM2_VG_FREE='62914560'",
        ]);
        let info = parse_vg_report(&messages, "vg0").unwrap();
        assert_eq!(info.uuid, "q3Ug3X-Ugpj-5PIu-ijuK-90rv-IL1m-9orVRl");
        assert_eq!(info.tags, strings(&["a", "trusted.glusterfs.volume-id=x"]));
        assert_eq!(info.free_bytes, 62_914_560);
        assert_eq!(parse_vg_report(&messages, "vg1"), None);
    }

    #[test]
    fn empty_tags_and_bad_lines() {
        let line = "LVM2_VG_NAME='v' LVM2_VG_UUID='u' LVM2_VG_TAGS='' LVM2_VG_FREE='0'";
        assert_eq!(parse_vg_line(line).unwrap().tags, Vec::<String>::new());
        for bad in [
            "",
            "LVM2_VG_NAME='v'",
            "LVM2_VG_NAME='v' LVM2_VG_UUID='u' LVM2_VG_TAGS='' LVM2_VG_FREE='x'",
            "LVM2_VG_NAME='v' LVM2_VG_UUID='u' LVM2_VG_TAGS='' LVM2_VG_FREE='1",
            "LVM2_VG_NAME='v' LVM2_VG_UUID='u' LVM2_VG_TAGS='' LVM2_VG_FREE='-1'",
            "LVM2_VG_NAME='v' LVM2_OTHER='u' LVM2_VG_TAGS='' LVM2_VG_FREE='1'",
        ] {
            assert_eq!(parse_vg_line(bad), None, "{bad}");
        }
    }

    #[test]
    fn not_found_is_recognised_for_the_named_vg_only() {
        let messages = strings(&[
            "Volume group \"vg0\" not found",
            "Cannot process volume group vg0",
        ]);
        assert!(says_vg_not_found(&messages, "vg0"));
        assert!(!says_vg_not_found(&messages, "vg"));
    }
}
