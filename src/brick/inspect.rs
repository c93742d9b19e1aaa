//! `brickd brick inspect` and `brickd brick release`: the operator's view of bricks.
//!
//! `inspect` runs the same validation `volume create` runs on this node and shows what it read:
//! each directory of the walk with its `trusted.gfid` and volume-id (hex and UUID form), the
//! mount, brick root and mount dir, the volume group and its tags, and every problem glusterd's
//! stage would refuse. `release` is the audited replacement for `setfattr -x` recipes: it
//! removes a volume's claim only when the volume-id on disk is the one named.

use super::claim::{hex, xattr_text, ReleaseReport};
use super::validate::{BrickReport, Level, Report, XattrState};
use serde_json::{json, Value};
use std::fmt::Write as _;

fn xattr_json(state: &XattrState) -> Value {
    match state {
        XattrState::NotRead => json!({"state": "not-read"}),
        XattrState::Absent => json!({"state": "absent"}),
        XattrState::Unsupported => json!({"state": "unsupported"}),
        XattrState::Present(v) => json!({"state": "present", "hex": hex(v), "text": xattr_text(v)}),
        XattrState::Error(code) => json!({"state": "error", "errno": code,
            "error": super::validate::strerror(*code)}),
    }
}

fn xattr_line(state: &XattrState) -> String {
    match state {
        XattrState::NotRead => "-".into(),
        XattrState::Absent => "absent".into(),
        XattrState::Unsupported => "unsupported by the file system".into(),
        XattrState::Present(v) if v.len() == 16 => format!("{} ({})", hex(v), xattr_text(v)),
        XattrState::Present(v) => hex(v),
        XattrState::Error(code) => format!("error: {}", super::validate::strerror(*code)),
    }
}

fn level_kind(level: &Level) -> String {
    match &level.lstat {
        Ok(s) if s.is_symlink() => "symlink".into(),
        Ok(s) if s.is_dir() => {
            if s.mount_root {
                "directory, mount point".into()
            } else {
                "directory".into()
            }
        }
        Ok(_) => "not a directory".into(),
        Err(libc::ENOENT) => "does not exist".into(),
        Err(code) => format!("error: {}", super::validate::strerror(*code)),
    }
}

/// The report as JSON: one object per brick, with its problems.
pub fn to_json(report: &Report) -> Value {
    let bricks: Vec<Value> = report
        .bricks
        .iter()
        .enumerate()
        .map(|(i, b)| brick_json(i, b, report))
        .collect();
    json!({
        "ok": report.is_ok(),
        "bricks": bricks,
        "problems": report.problems.iter().filter(|p| p.brick.is_none())
            .map(|p| json!({"kind": format!("{:?}", p.kind), "message": p.message}))
            .collect::<Vec<_>>(),
    })
}

fn brick_json(i: usize, b: &BrickReport, report: &Report) -> Value {
    let problems: Vec<Value> = report
        .problems
        .iter()
        .filter(|p| p.brick == Some(i))
        .map(|p| json!({"kind": format!("{:?}", p.kind), "message": p.message}))
        .collect();
    json!({
        "brick": b.text,
        "host": b.spec.as_ref().map(|s| s.host.clone()),
        "path": b.spec.as_ref().map(|s| s.path.clone()),
        "local": b.is_local(),
        "exists": b.exists,
        "real_path": b.real_path,
        "mount": b.mount.as_ref().map(|m| json!({
            "mount_point": m.mount_point, "fs_type": m.fs_type,
            "source": m.source, "read_only": m.read_only})),
        "brick_root": b.brick_root,
        "mount_dir": b.mount_dir,
        "volume_group": b.vg.as_ref().map(|vg| json!({
            "name": vg.name,
            "exists": vg.info.is_some(),
            "uuid": vg.info.as_ref().map(|i| i.uuid.clone()),
            "tags": vg.info.as_ref().map(|i| i.tags.clone()),
            "free_bytes": vg.info.as_ref().map(|i| i.free_bytes),
        })),
        "walk": b.levels.iter().map(|l| json!({
            "path": &*l.path,
            "kind": level_kind(l),
            "trusted.gfid": xattr_json(&l.gfid),
            "trusted.glusterfs.volume-id": xattr_json(&l.volume_id),
        })).collect::<Vec<_>>(),
        "problems": problems,
    })
}

/// The report as text for people.
pub fn to_text(report: &Report) -> String {
    let mut out = String::new();
    for (i, b) in report.bricks.iter().enumerate() {
        let _ = writeln!(out, "brick {}", b.text);
        if !b.is_local() {
            let _ = writeln!(out, "  not a brick of this node");
        }
        if b.is_local() {
            let _ = writeln!(
                out,
                "  exists:      {}",
                if b.exists {
                    "yes"
                } else {
                    "no (create would make it)"
                }
            );
            let _ = writeln!(out, "  real path:   {}", b.real_path);
            if let Some(m) = &b.mount {
                let _ = writeln!(
                    out,
                    "  mount:       {} ({} on {}, {})",
                    m.mount_point,
                    m.fs_type,
                    m.source,
                    if m.read_only {
                        "read-only"
                    } else {
                        "read-write"
                    }
                );
            }
            if let (Some(root), Some(dir)) = (&b.brick_root, &b.mount_dir) {
                let _ = writeln!(out, "  brick root:  {root}   mount_dir: {dir}");
            }
            if let Some(vg) = &b.vg {
                match &vg.info {
                    Some(info) => {
                        let _ = writeln!(
                            out,
                            "  volume group: {} (uuid {}, {} bytes free, tags: {})",
                            vg.name,
                            info.uuid,
                            info.free_bytes,
                            if info.tags.is_empty() {
                                "none".to_string()
                            } else {
                                info.tags.join(", ")
                            }
                        );
                    }
                    None => {
                        let _ = writeln!(out, "  volume group: {} (does not exist)", vg.name);
                    }
                }
            }
            let _ = writeln!(out, "  walk:");
            for l in &b.levels {
                let _ = writeln!(out, "    {} [{}]", l.path, level_kind(l));
                let _ = writeln!(
                    out,
                    "      trusted.gfid:                {}",
                    xattr_line(&l.gfid)
                );
                let _ = writeln!(
                    out,
                    "      trusted.glusterfs.volume-id: {}",
                    xattr_line(&l.volume_id)
                );
            }
        }
        let problems: Vec<_> = report
            .problems
            .iter()
            .filter(|p| p.brick == Some(i))
            .collect();
        if problems.is_empty() {
            let _ = writeln!(out, "  validation:  ok");
        } else {
            let _ = writeln!(out, "  validation:  refused");
            for p in problems {
                let _ = writeln!(out, "    - {}", p.message.replace('\n', "\n      "));
            }
        }
    }
    for p in report.problems.iter().filter(|p| p.brick.is_none()) {
        let _ = writeln!(out, "all bricks: {}", p.message);
    }
    out
}

/// A release report as text.
pub fn release_text(path: &str, report: &ReleaseReport) -> String {
    let mut out = String::new();
    let mut did = |what: bool, text: &str| {
        if what {
            let _ = writeln!(out, "{path}: removed {text}");
        }
    };
    did(report.removed_volume_id, "trusted.glusterfs.volume-id");
    did(report.removed_gfid, "trusted.gfid");
    did(report.removed_glusterfs_dir, ".glusterfs");
    did(report.removed_vg_tag, "the volume-group tag");
    for note in &report.notes {
        let _ = writeln!(out, "{path}: {note}");
    }
    out
}
