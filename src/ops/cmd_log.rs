//! `cmd_history.log`: every CLI command that changes something (and `volume status`), with its
//! outcome, as glusterd writes it in its log directory, so that operators can audit a node
//! whichever daemon runs it:
//!
//! ```text
//! [2026-12-07 03:47:28.804656 +0000]  : volume create v1 HOST:/b force : SUCCESS
//! [2026-12-07 03:47:28.903046 +0000]  : volume create v1 HOST:/c force : FAILED : Volume v1 already exists
//! ```
//!
//! The command is the CLI's own text (`cmd-str` in its request). Lines go through a channel to
//! one writer thread, so a shard never waits for the file; they keep the order in which the
//! answers were made. The file is opened for each line (`O_APPEND`), so a log rotation that
//! moves it away is followed at once; nothing is synced (glusterd does not either).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;

/// The file's name in the log directory.
pub const FILE_NAME: &str = "cmd_history.log";

/// The longest command or message written, in bytes (a longer one is cut, marked `…`).
const FIELD_MAX: usize = 4096;

/// How the outcome is written: glusterd has two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Most commands: `CMD : SUCCESS`, `CMD : FAILED : MESSAGE`.
    Plain,
    /// `peer probe` and `peer detach`: `CMD : SUCCESS    ` (with the message if there is one)
    /// and `CMD : FAILED : MESSAGE`.
    Peer,
}

/// The node's command log.
#[derive(Debug)]
pub struct CmdLog {
    tx: Mutex<Option<mpsc::Sender<String>>>,
    path: PathBuf,
}

impl CmdLog {
    /// A log writing to `dir/cmd_history.log` (the directory is made if missing).
    pub fn open(dir: &Path) -> CmdLog {
        let path = dir.join(FILE_NAME);
        let (tx, rx) = mpsc::channel::<String>();
        let file = path.clone();
        let spawned = std::thread::Builder::new()
            .name("brickd-cmdlog".into())
            .spawn(move || {
                let mut warned = false;
                for line in rx {
                    if let Err(e) = append(&file, &line) {
                        if !warned {
                            tracing::warn!(file = %file.display(), error = %e, "cmd_history.log not written");
                            warned = true;
                        }
                    }
                }
            });
        let tx = match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!(error = %e, "no thread for cmd_history.log: commands are not logged");
                None
            }
        };
        CmdLog {
            tx: Mutex::new(tx),
            path,
        }
    }

    /// A log that writes nothing (unit tests' nodes).
    pub fn disabled() -> CmdLog {
        CmdLog {
            tx: Mutex::new(None),
            path: PathBuf::new(),
        }
    }

    /// Where the lines go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Logs `command` (the CLI's `cmd-str`) with its outcome.
    pub fn record(&self, command: &str, op_ret: i32, op_errstr: &str, style: Style) {
        let line = line(now(), command, op_ret, op_errstr, style);
        if let Ok(tx) = self.tx.lock() {
            if let Some(tx) = tx.as_ref() {
                let _ = tx.send(line);
            }
        }
    }
}

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(line.as_bytes())
}

/// `text` kept to [`FIELD_MAX`] bytes (on a character boundary).
fn capped(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= FIELD_MAX {
        return text.into();
    }
    let mut end = FIELD_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// One line of the log, with its newline. `unix_us` is the time in microseconds since the
/// epoch.
pub fn line(unix_us: u64, command: &str, op_ret: i32, op_errstr: &str, style: Style) -> String {
    let (command, message) = (capped(command), capped(op_errstr));
    let outcome = match (op_ret, style, message.is_empty()) {
        (0, Style::Plain, _) => "SUCCESS".to_string(),
        (0, Style::Peer, true) => "SUCCESS    ".to_string(),
        (0, Style::Peer, false) => format!("SUCCESS : {message}"),
        (_, _, _) => format!("FAILED : {message}"),
    };
    format!("[{}]  : {command} : {outcome}\n", timestamp(unix_us))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS.uuuuuu +0000`, glusterd's log time, in UTC.
pub fn timestamp(unix_us: u64) -> String {
    let secs = unix_us / 1_000_000;
    let micros = unix_us % 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{micros:06} +0000",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_glusterds() {
        // 2026-12-07 03:47:28.804656 UTC.
        let t = 1_796_615_248_804_656;
        assert_eq!(timestamp(t), "2026-12-07 03:47:28.804656 +0000");
        assert_eq!(
            line(t, "volume create v1 h:/b force", 0, "", Style::Plain),
            "[2026-12-07 03:47:28.804656 +0000]  : volume create v1 h:/b force : SUCCESS\n"
        );
        assert_eq!(
            line(t, "volume create v1 h:/b", -1, "Volume v1 already exists", Style::Plain),
            "[2026-12-07 03:47:28.804656 +0000]  : volume create v1 h:/b : FAILED : Volume v1 already exists\n"
        );
        assert_eq!(
            line(t, "peer probe h2", 0, "", Style::Peer),
            "[2026-12-07 03:47:28.804656 +0000]  : peer probe h2 : SUCCESS    \n"
        );
        assert_eq!(timestamp(0), "1970-01-01 00:00:00.000000 +0000");
        assert_eq!(
            timestamp(951_782_400_000_000),
            "2000-02-29 00:00:00.000000 +0000"
        );
    }

    #[test]
    fn long_fields_are_cut_on_a_character() {
        let long = "é".repeat(FIELD_MAX);
        let l = line(0, &long, -1, &long, Style::Plain);
        assert!(l.len() < 3 * FIELD_MAX);
        assert!(l.ends_with("…\n"));
    }

    #[test]
    fn lines_reach_the_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = CmdLog::open(&dir.path().join("logs"));
        for i in 0..50 {
            log.record(&format!("volume set v{i} k v"), 0, "", Style::Plain);
        }
        let path = log.path().to_path_buf();
        drop(log);
        let mut text = String::new();
        for _ in 0..200 {
            text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() == 50 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 50);
        for (i, l) in lines.iter().enumerate() {
            assert!(
                l.ends_with(&format!(" : volume set v{i} k v : SUCCESS")),
                "{l}"
            );
        }
    }
}
