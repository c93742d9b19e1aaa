//! The `key=value` line format of every glusterd store file: parsing with glusterd's exact
//! rules, and rendering.
//!
//! Pure code over byte slices; the caller reads and writes the files. glusterd reads these
//! files with `fgets` into an 8192-byte buffer and splits each line with `strtok_r`
//! (`gf_store_read_and_tokenize`, reference §8). The rules that follow from it, all kept here:
//!
//! - A line is at most [`LINE_BYTES_MAX`] bytes including its `\n`. glusterd would split a
//!   longer line in two and misread both halves, so it is an error here.
//! - A line that is exactly `\n` is skipped.
//! - Leading `=` characters are skipped (strtok skips leading delimiters); the key ends at the
//!   next `=`, and the value is everything after it, `=` included.
//! - A line with no key, no `=`, or an empty value is an error: glusterd fails to load the
//!   file ("store may be corrupted").
//! - **A last line without `\n` is ignored**: glusterd checks `feof` right after `fgets` and
//!   stops there. [`KvFile::ignored_last_line`] reports it so the caller can warn.
//!
//! Two deliberate differences, both for input glusterd itself misreads: a NUL byte in a line
//! and text that is not UTF-8 are errors (glusterd truncates at the NUL; brickd's model keeps
//! strings).

use thiserror::Error;

/// The longest line glusterd reads whole, `\n` included: its buffer is 8192 bytes and `fgets`
/// keeps one for the terminating NUL.
pub const LINE_BYTES_MAX: usize = 8191;

/// One `key=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key (never empty, never contains `=`).
    pub key: String,
    /// The value (never empty; may contain `=`).
    pub value: String,
    /// 1-based line number in the file.
    pub line: usize,
}

/// A parsed store file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KvFile {
    /// The lines, in file order.
    pub entries: Vec<KvEntry>,
    /// The line number of a last line that had no `\n` and was therefore ignored, as glusterd
    /// ignores it.
    pub ignored_last_line: Option<usize>,
}

impl KvFile {
    /// The first entry with this key.
    pub fn get(&self, key: &str) -> Option<&KvEntry> {
        self.entries.iter().find(|entry| entry.key == key)
    }
}

/// What is wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineProblem {
    /// No `=` after the key (glusterd: "Invalid value (null)").
    #[error("no '=' in the line (expected key=value)")]
    NoEquals,
    /// The line is only `=` characters (glusterd: "Invalid key (null)").
    #[error("no key before '='")]
    NoKey,
    /// `key=` with nothing after it (glusterd: "Invalid value (null) for key").
    #[error("{key}= has an empty value")]
    EmptyValue {
        /// The key.
        key: String,
    },
    /// Longer than glusterd reads in one piece.
    #[error("the line is {bytes} bytes long; glusterd reads at most {LINE_BYTES_MAX} bytes per line including the newline")]
    TooLong {
        /// Bytes up to and including the `\n` (or to the end of the file).
        bytes: usize,
    },
    /// A NUL byte inside the line.
    #[error("the line contains a NUL byte")]
    Nul,
    /// Not UTF-8.
    #[error("the line is not valid UTF-8")]
    NotUtf8,
}

/// A line that cannot be read, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {problem}")]
pub struct KvError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub problem: LineProblem,
}

/// Parses a store file with glusterd's rules (see the module documentation).
pub fn parse(bytes: &[u8]) -> Result<KvFile, KvError> {
    let mut file = KvFile::default();
    let mut rest = bytes;
    let mut line = 0usize;
    while !rest.is_empty() {
        line += 1;
        let (text, terminated, taken) = match rest.iter().position(|&b| b == b'\n') {
            Some(newline) => (&rest[..newline], true, newline + 1),
            None => (rest, false, rest.len()),
        };
        rest = &rest[taken..];
        // An unterminated piece that fills the whole buffer is not at EOF yet for glusterd:
        // it would be read (and its last byte cut off as if it were the newline).
        let too_long = if terminated {
            taken > LINE_BYTES_MAX
        } else {
            taken >= LINE_BYTES_MAX
        };
        if too_long {
            return Err(KvError {
                line,
                problem: LineProblem::TooLong { bytes: taken },
            });
        }
        if !terminated {
            file.ignored_last_line = Some(line);
            break;
        }
        if text.is_empty() {
            continue;
        }
        let entry = parse_line(text).map_err(|problem| KvError { line, problem })?;
        file.entries.push(KvEntry {
            key: entry.0,
            value: entry.1,
            line,
        });
    }
    Ok(file)
}

/// Splits one line (without its `\n`) the way `strtok_r(line, "=")` then `strtok_r(NULL, "")`
/// does.
fn parse_line(text: &[u8]) -> Result<(String, String), LineProblem> {
    if text.contains(&0) {
        return Err(LineProblem::Nul);
    }
    let text = std::str::from_utf8(text).map_err(|_| LineProblem::NotUtf8)?;
    let text = text.trim_start_matches('=');
    if text.is_empty() {
        return Err(LineProblem::NoKey);
    }
    let Some((key, value)) = text.split_once('=') else {
        return Err(LineProblem::NoEquals);
    };
    if value.is_empty() {
        return Err(LineProblem::EmptyValue { key: key.into() });
    }
    Ok((key.into(), value.into()))
}

/// Renders `key=value\n` lines in the given order.
///
/// # Panics
///
/// In debug builds, if a key is empty or contains `=` or `\n`, or a value is empty or
/// contains `\n`: such a pair cannot be read back. Callers validate user input first.
pub fn render<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pairs.len() * 32);
    for (key, value) in pairs {
        let (key, value) = (key.as_ref(), value.as_ref());
        debug_assert!(
            !key.is_empty() && !key.contains(['=', '\n']),
            "bad key {key:?}"
        );
        debug_assert!(
            !value.is_empty() && !value.contains('\n'),
            "bad value {value:?}"
        );
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(file: &KvFile) -> Vec<(&str, &str, usize)> {
        file.entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str(), e.line))
            .collect()
    }

    #[test]
    fn reads_key_value_lines_in_order() {
        let file = parse(b"type=0\ncount=1\nauth.allow=192.0.2.*\n").unwrap();
        assert_eq!(
            pairs(&file),
            [
                ("type", "0", 1),
                ("count", "1", 2),
                ("auth.allow", "192.0.2.*", 3)
            ]
        );
        assert_eq!(file.ignored_last_line, None);
        assert_eq!(file.get("count").unwrap().value, "1");
        assert!(file.get("status").is_none());
    }

    #[test]
    fn value_keeps_every_equals_after_the_first() {
        let file = parse(b"user.note=a=b=c\nk==\n").unwrap();
        assert_eq!(pairs(&file), [("user.note", "a=b=c", 1), ("k", "=", 2)]);
    }

    #[test]
    fn leading_equals_are_skipped_like_strtok() {
        let file = parse(b"==key=value\n").unwrap();
        assert_eq!(pairs(&file), [("key", "value", 1)]);
    }

    #[test]
    fn blank_lines_are_skipped_but_counted() {
        let file = parse(b"\n\na=1\n\nb=2\n").unwrap();
        assert_eq!(pairs(&file), [("a", "1", 3), ("b", "2", 5)]);
    }

    #[test]
    fn last_line_without_newline_is_ignored_like_glusterd() {
        let file = parse(b"a=1\nb=2").unwrap();
        assert_eq!(pairs(&file), [("a", "1", 1)]);
        assert_eq!(file.ignored_last_line, Some(2));
        // Even a broken last line is ignored, as glusterd never tokenizes it.
        let file = parse(b"a=1\ngarbage").unwrap();
        assert_eq!(file.ignored_last_line, Some(2));
    }

    #[test]
    fn empty_file_has_no_entries() {
        assert_eq!(parse(b"").unwrap(), KvFile::default());
    }

    #[test]
    fn broken_lines_are_errors_with_their_line_number() {
        let err = |bytes: &[u8]| parse(bytes).unwrap_err();
        assert_eq!(
            err(b"a=1\nnoequals\n"),
            KvError {
                line: 2,
                problem: LineProblem::NoEquals
            }
        );
        assert_eq!(err(b"===\n").problem, LineProblem::NoKey);
        assert_eq!(
            err(b"a=1\n\nkey=\n"),
            KvError {
                line: 3,
                problem: LineProblem::EmptyValue { key: "key".into() }
            }
        );
        assert_eq!(err(b"a\0b=1\n").problem, LineProblem::Nul);
        assert_eq!(err(b"a=\xff\n").problem, LineProblem::NotUtf8);
        assert_eq!(err(b" \n").problem, LineProblem::NoEquals);
        assert_eq!(err(b"a=1\r\nb\r\n").line, 2);
    }

    #[test]
    fn lines_longer_than_glusterd_reads_are_errors() {
        let mut ok = b"k=".to_vec();
        ok.resize(LINE_BYTES_MAX - 1, b'v');
        ok.push(b'\n');
        assert_eq!(
            parse(&ok).unwrap().entries[0].value.len(),
            LINE_BYTES_MAX - 3
        );

        let mut long = b"k=".to_vec();
        long.resize(LINE_BYTES_MAX, b'v');
        long.push(b'\n');
        assert_eq!(
            parse(&long).unwrap_err().problem,
            LineProblem::TooLong {
                bytes: LINE_BYTES_MAX + 1
            }
        );
        long.truncate(LINE_BYTES_MAX);
        assert_eq!(
            parse(&long).unwrap_err().problem,
            LineProblem::TooLong {
                bytes: LINE_BYTES_MAX
            }
        );
        long.truncate(LINE_BYTES_MAX - 1);
        assert_eq!(parse(&long).unwrap().ignored_last_line, Some(1));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn rendered_pairs_parse_back(
            pairs in proptest::collection::vec(("[a-z][a-z0-9._-]{0,12}", "[^\n\x00]{1,20}"), 0..8)
        ) {
            let back = parse(&render(&pairs)).unwrap();
            let back: Vec<(String, String)> =
                back.entries.into_iter().map(|e| (e.key, e.value)).collect();
            proptest::prop_assert_eq!(back, pairs);
        }
    }

    #[test]
    fn render_writes_lines_that_parse_back() {
        let pairs = [("type", "2"), ("user.x", "a=b")];
        let bytes = render(&pairs);
        assert_eq!(bytes, b"type=2\nuser.x=a=b\n");
        let back = parse(&bytes).unwrap();
        assert_eq!(back.entries.len(), 2);
        assert_eq!(back.entries[1].value, "a=b");
    }
}
