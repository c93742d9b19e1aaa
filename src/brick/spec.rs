//! Brick specifications as the CLI sends them (`host:/path`, optionally `host:/path?vg`), parsed
//! the way glusterd parses them, and glusterd's length rules.
//!
//! Pure code: no I/O. The rules (reference §9):
//! - the host is everything before the **last** `:`; the path is everything from the **first**
//!   `/` (so `h:/a:b` gives host `h:/a` and path `/a:b`, exactly as glusterd does);
//! - a `?VG` suffix on the path names an LVM volume group (glusterd's old BD bricks);
//! - the path is canonicalised like `gf_canonicalize_path`: repeated slashes collapse and a
//!   trailing slash goes; `.` and `..` are kept as written;
//! - the path must be shorter than `PATH_MAX` and every component shorter than
//!   `_POSIX_PATH_MAX` (256), and so must the brick volfile's path and its last component.

use std::fmt;

/// Linux `PATH_MAX`, including the terminating NUL.
pub const PATH_BYTES_MAX: usize = 4096;
/// `_POSIX_PATH_MAX`: glusterd refuses a path component or volfile name of this length or more.
pub const COMPONENT_BYTES_LIMIT: usize = 256;
/// The longest brick specification brickd looks at (a host name is at most 1 KiB in glusterd's
/// brickinfo, a path at most `PATH_MAX`).
pub const SPEC_BYTES_MAX: usize = 1024 + PATH_BYTES_MAX + 256;

/// One brick as given on the command line, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrickSpec {
    /// The text as the CLI sent it (glusterd quotes it in some messages).
    pub text: String,
    /// The host part: everything before the last `:`.
    pub host: String,
    /// The canonical brick path (absolute, no repeated or trailing slash).
    pub path: String,
    /// The volume group named by a `?VG` suffix, if any.
    pub vg: Option<String>,
}

/// Why a brick specification could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecError {
    /// No `:` separates a host from the path.
    NoHost,
    /// No `/` starts an absolute path.
    NoPath,
    /// The host part is empty.
    EmptyHost,
    /// `?` with nothing after it.
    EmptyVolumeGroup,
    /// The specification is longer than [`SPEC_BYTES_MAX`].
    TooLong,
    /// The text holds a NUL byte, which no path or host can.
    Nul,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpecError::NoHost => "no host: expected <HOSTNAME>:<export-dir-abs-path>",
            SpecError::NoPath => "no absolute path: expected <HOSTNAME>:<export-dir-abs-path>",
            SpecError::EmptyHost => "empty host name before ':'",
            SpecError::EmptyVolumeGroup => "empty volume group name after '?'",
            SpecError::TooLong => "brick specification too long",
            SpecError::Nul => "brick specification contains a NUL byte",
        })
    }
}

impl std::error::Error for SpecError {}

impl BrickSpec {
    /// Parses one brick specification.
    pub fn parse(text: &str) -> Result<BrickSpec, SpecError> {
        if text.len() > SPEC_BYTES_MAX {
            return Err(SpecError::TooLong);
        }
        if text.contains('\0') {
            return Err(SpecError::Nul);
        }
        let colon = text.rfind(':').ok_or(SpecError::NoHost)?;
        let host = &text[..colon];
        if host.is_empty() {
            return Err(SpecError::EmptyHost);
        }
        let slash = text.find('/').ok_or(SpecError::NoPath)?;
        let mut path = &text[slash..];
        let mut vg = None;
        if let Some(q) = path.find('?') {
            let name = &path[q + 1..];
            if name.is_empty() {
                return Err(SpecError::EmptyVolumeGroup);
            }
            vg = Some(name.to_string());
            path = &path[..q];
        }
        Ok(BrickSpec {
            text: text.to_string(),
            host: host.to_string(),
            path: canonicalize(path),
            vg,
        })
    }

    /// `host:path` with the canonical path, as glusterd names a brick in its messages.
    pub fn host_path(&self) -> String {
        format!("{}:{}", self.host, self.path)
    }

    /// The brick's store and volfile name part: the path without its leading `/`, every other
    /// `/` replaced by `-` (glusterd's `GLUSTERD_REMOVE_SLASH_FROM_PATH`).
    pub fn dashed_path(&self) -> String {
        dashed(&self.path)
    }
}

/// Collapses repeated slashes and drops a trailing slash; `/` stays `/`.
pub fn canonicalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for part in path.split('/').filter(|p| !p.is_empty()) {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The path without its leading `/`, with every other `/` as `-`.
pub fn dashed(path: &str) -> String {
    path.strip_prefix('/').unwrap_or(path).replace('/', "-")
}

/// glusterd's `glusterd_store_is_valid_brickpath`: the path is shorter than `PATH_MAX` (a
/// trailing `/` not counted) and each component is shorter than 256 bytes.
pub fn brick_path_length_ok(path: &str) -> bool {
    let counted = path.strip_suffix('/').unwrap_or(path).len();
    counted < PATH_BYTES_MAX
        && path
            .split('/')
            .all(|component| component.len() < COMPONENT_BYTES_LIMIT)
}

/// glusterd's `glusterd_is_valid_volfpath`: the brick volfile
/// `<workdir>/vols/<vol>/<vol>.<host>.<dashed path>.vol` is shorter than `PATH_MAX` and its file
/// name shorter than 256 bytes.
pub fn volfile_path_length_ok(workdir: &str, volname: &str, spec: &BrickSpec) -> bool {
    let name = format!("{volname}.{}.{}.vol", spec.host, spec.dashed_path());
    let full = workdir.len() + "/vols/".len() + volname.len() + 1 + name.len();
    full < PATH_BYTES_MAX && name.len() + 1 < COMPONENT_BYTES_LIMIT
}

/// The directories the path-in-use walk visits: the path itself, then each parent up to and
/// including `/`.
pub fn walk_up(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current {
            "/" => None,
            _ => match current.rfind('/') {
                Some(0) => Some("/"),
                Some(i) => Some(&current[..i]),
                None => None,
            },
        };
        Some(current)
    })
}

/// glusterd's `_is_prefix`: one path is a prefix of the other, cut only at a `/` (or equal).
pub fn is_path_prefix(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    if !long.as_bytes().starts_with(short.as_bytes()) {
        return false;
    }
    long.len() == short.len() || long.as_bytes()[short.len()] == b'/'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_before_the_last_colon_and_path_from_the_first_slash() {
        let b = BrickSpec::parse("h:/a:b").unwrap();
        assert_eq!(b.host, "h:/a");
        assert_eq!(b.path, "/a:b");
        let b = BrickSpec::parse("node-a:/bricks//b1/data/").unwrap();
        assert_eq!(b.host, "node-a");
        assert_eq!(b.path, "/bricks/b1/data");
        assert_eq!(b.dashed_path(), "bricks-b1-data");
        assert_eq!(b.host_path(), "node-a:/bricks/b1/data");
    }

    #[test]
    fn ipv6_host_keeps_its_colons() {
        let b = BrickSpec::parse("fe80::1:/b").unwrap();
        assert_eq!(b.host, "fe80::1");
        assert_eq!(b.path, "/b");
    }

    #[test]
    fn vg_suffix_names_a_volume_group() {
        let b = BrickSpec::parse("h:/bricks/b1?vg0").unwrap();
        assert_eq!(b.path, "/bricks/b1");
        assert_eq!(b.vg.as_deref(), Some("vg0"));
        assert_eq!(BrickSpec::parse("h:/b?"), Err(SpecError::EmptyVolumeGroup));
    }

    #[test]
    fn malformed_specs_are_refused() {
        assert_eq!(BrickSpec::parse("/no/host"), Err(SpecError::NoHost));
        assert_eq!(BrickSpec::parse("host:rel"), Err(SpecError::NoPath));
        assert_eq!(BrickSpec::parse(":/b"), Err(SpecError::EmptyHost));
        assert_eq!(BrickSpec::parse("h:/a\0b"), Err(SpecError::Nul));
        assert_eq!(BrickSpec::parse(""), Err(SpecError::NoHost));
        let long = format!("h:/{}", "a".repeat(SPEC_BYTES_MAX));
        assert_eq!(BrickSpec::parse(&long), Err(SpecError::TooLong));
    }

    #[test]
    fn canonicalize_matches_glusterd() {
        assert_eq!(canonicalize("/"), "/");
        assert_eq!(canonicalize("//"), "/");
        assert_eq!(canonicalize("/a//b///"), "/a/b");
        assert_eq!(canonicalize("/a/./../b"), "/a/./../b");
    }

    #[test]
    fn length_limits() {
        assert!(brick_path_length_ok(&format!("/{}", "a".repeat(255))));
        assert!(!brick_path_length_ok(&format!("/{}", "a".repeat(256))));
        let deep = "/abcdefg".repeat(4096 / 8);
        assert_eq!(deep.len(), 4096);
        assert!(!brick_path_length_ok(&deep));
        assert!(brick_path_length_ok(&deep[..4095]));
        let spec = BrickSpec::parse(&format!("h:/{}", "a".repeat(200))).unwrap();
        assert!(volfile_path_length_ok("/var/lib/glusterd", "v", &spec));
        let spec = BrickSpec::parse(&format!("h:/{}/{}", "a".repeat(200), "b".repeat(60))).unwrap();
        assert!(!volfile_path_length_ok("/var/lib/glusterd", "v", &spec));
    }

    #[test]
    fn walk_up_visits_every_ancestor_and_root() {
        let all: Vec<_> = walk_up("/a/b/c").collect();
        assert_eq!(all, ["/a/b/c", "/a/b", "/a", "/"]);
        assert_eq!(walk_up("/").collect::<Vec<_>>(), ["/"]);
        assert_eq!(walk_up("/x").collect::<Vec<_>>(), ["/x", "/"]);
    }

    #[test]
    fn prefix_is_cut_only_at_a_slash() {
        assert!(is_path_prefix("/b/b1", "/b/b1/data"));
        assert!(is_path_prefix("/b/b1/data", "/b/b1"));
        assert!(is_path_prefix("/b/b1", "/b/b1"));
        assert!(!is_path_prefix("/b/b1", "/b/b10"));
        assert!(!is_path_prefix("", "/b"));
        assert!(is_path_prefix("/", "/"));
    }
}
