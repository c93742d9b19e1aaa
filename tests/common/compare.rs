//! Differential comparisons with a real glusterd: CLI text, volfiles and store files with the
//! names, ids and paths that differ between two daemons made comparable.

use std::path::Path;

/// `volume info`/`get` text with brick names, volume ids and node UUIDs made comparable.
pub fn normalised(text: &str, host_and_dir: &str) -> String {
    let text = text.replace(host_and_dir, "BRICK");
    // Every UUID-shaped word (8-4-4-4-12 hex digits) becomes UUID.
    let bytes = text.as_bytes();
    let shape = |at: usize| {
        bytes.len() >= at + 36
            && bytes[at..at + 36].iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if shape(i) {
            out.push_str("UUID");
            i += 36;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The volume's volfiles, by name (host and brick directory made comparable), contents
/// normalised.
pub fn volfiles(workdir: &Path, volume: &str, host_and_dir: &str) -> Vec<(String, String)> {
    let dir = workdir.join("vols").join(volume);
    // glusterd names a brick's volfile VOLUME.HOST.PATH.vol, the path's `/` made `-`.
    let (host, brick_dir) = host_and_dir.split_once(':').unwrap();
    let flat = format!(
        "{host}.{}",
        brick_dir.trim_start_matches('/').replace('/', "-")
    );
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, String)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".vol"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().replace(&flat, "BRICKFILE");
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            // The self-heal daemon's names host and directory apart.
            let text = normalised(&text, host_and_dir)
                .replace(brick_dir, "BRICKDIR")
                .replace(host, "BRICKHOST")
                .replace(&workdir.display().to_string(), "WORKDIR");
            (name, text)
        })
        .collect();
    files.sort();
    files
}

/// The volume's store files (`info` and the bricks files), by name, normalised as
/// [`volfiles`] does; the generated ids are UUID-shaped and so made `UUID`, and `brick-fsid`
/// is kept (both daemons' bricks are on the same file system in the differential tests).
pub fn store_files(workdir: &Path, volume: &str, host_and_dir: &str) -> Vec<(String, String)> {
    let dir = workdir.join("vols").join(volume);
    let (host, brick_dir) = host_and_dir.split_once(':').unwrap();
    // A bricks file is named HOST:PATH, the path's `/` made `-`.
    let flat = format!("{host}:{}", brick_dir.replace('/', "-"));
    let entries = std::fs::read_dir(dir.join("bricks"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                format!("bricks/{}", e.file_name().to_string_lossy()),
                e.path(),
            )
        });
    let mut files: Vec<(String, String)> = std::iter::once(("info".to_string(), dir.join("info")))
        .chain(entries)
        .map(|(name, path)| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let text = normalised(&text.replace(&flat, "BRICKFILE"), host_and_dir)
                .replace(brick_dir, "BRICKDIR")
                .replace(host, "BRICKHOST");
            (name.replace(&flat, "BRICKFILE"), text)
        })
        .collect();
    files.sort();
    files
}

/// The lines of a `volume status` text, a brick name the CLI wrapped onto a second line (one
/// longer than its column) joined again.
pub fn status_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        match lines.last_mut() {
            Some(last) if last.starts_with("Brick ") && last.split_whitespace().count() == 2 => {
                last.push_str(line)
            }
            _ => lines.push(line.to_string()),
        }
    }
    lines
}

/// A `volume status` text with each brick row's name, port and pid, the self-heal daemon's
/// pid and the snapshot daemon's port and pid replaced by placeholders (the CLI pads the name
/// column, so rows are rebuilt from their fields).
pub fn status_normalized(text: &str) -> String {
    let lines = status_lines(text);
    lines
        .iter()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with("Brick ") && f.len() == 6 {
                format!("Brick NAME PORT {} {} PID", f[3], f[4])
            } else if line.starts_with("Self-heal Daemon on localhost") && f.len() == 8 {
                format!("{} PID", f[..7].join(" "))
            } else if line.starts_with("Snapshot Daemon on localhost") && f.len() == 8 {
                format!("{} PORT {} {} PID", f[..4].join(" "), f[5], f[6])
            } else if let Some((key, _)) = line.split_once(" : ") {
                // `detail`: the values that differ by construction or by the moment.
                match key.trim() {
                    "Brick" | "TCP Port" | "Pid" | "Disk Space Free" | "Free Inodes" => {
                        format!("{key} : X")
                    }
                    _ => line.trim_end().to_string(),
                }
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
