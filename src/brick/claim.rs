//! The volume claim on a brick, its exact undo, and its release.
//!
//! [`claim`] makes a brick a volume's: it creates the brick directory if needed, sets
//! `trusted.glusterfs.volume-id` (XATTR_CREATE; `force` replaces an existing one), creates
//! `.glusterfs` (mode 0600, as glusterd does) and tags the brick's volume group. It returns a
//! [`ClaimRecord`] of exactly what it changed — nothing it found already in place — so that
//! [`rollback`] undoes exactly that and nothing more. If any brick fails, `claim` rolls back
//! every brick itself before answering.
//!
//! [`release`] is the opposite for a brick of a deleted volume (and for the operator command
//! `brickd brick release`): it removes the volume-id only if the one on disk is the one
//! expected, optionally `trusted.gfid` and `.glusterfs`, and the volume's tag on the group.
//!
//! All file-system work goes through the [`Engine`]; LVM work through the helper
//! ([`LvmClient`]), one command per volume group for all of its bricks.

use super::engine::{Engine, Lane, SetMode};
use super::validate::{strerror, GFID_XATTR, VOLUME_ID_XATTR};
use crate::lvm::{parse_volume_tag, volume_tag, LvmClient};
use crate::model::Uuid;
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Mode of a brick directory glusterd creates.
pub const BRICK_DIR_MODE: u32 = 0o755;
/// Mode of `.glusterfs` as glusterd creates it (yes, 0600).
pub const GLUSTERFS_DIR_MODE: u32 = 0o600;
/// The brick's internal directory.
pub const GLUSTERFS_DIR: &str = ".glusterfs";

/// A brick to claim (this node's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimTarget {
    /// The host part of the brick as the command named it (messages say `host:path`, as
    /// glusterd's do; empty: the path alone).
    pub host: String,
    /// The canonical brick path.
    pub path: String,
    /// The volume group to tag, for `?VG` bricks.
    pub vg: Option<String>,
}

/// One change a claim made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimStep {
    /// The brick directory did not exist and was created.
    CreatedBrickDir {
        /// The directory.
        path: String,
    },
    /// The volume-id was set; `previous` is what a forced claim replaced.
    SetVolumeId {
        /// The brick.
        path: String,
        /// The value before (forced claims only).
        previous: Option<Vec<u8>>,
    },
    /// `.glusterfs` did not exist and was created.
    CreatedGlusterfsDir {
        /// The brick (the directory is `<path>/.glusterfs`).
        path: String,
    },
    /// The tag was added to the group (it was not there before).
    AddedVgTag {
        /// The volume group.
        vg: String,
        /// The tag.
        tag: String,
    },
}

/// Everything one claim changed, in the order it changed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimRecord {
    /// The changes.
    pub steps: Vec<ClaimStep>,
}

/// A claim that failed (and was rolled back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimError {
    /// One message per failed brick or group, glusterd's text where it has one.
    pub messages: Vec<String>,
    /// Changes the rollback could not undo (empty when the file systems are as they were).
    pub rollback_failures: Vec<String>,
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages.join("\n"))?;
        if !self.rollback_failures.is_empty() {
            write!(
                f,
                "\nrollback left changes behind: {}",
                self.rollback_failures.join("; ")
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ClaimError {}

/// What a claim does with a volume-id already on the brick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdRule {
    /// A create: no id → set (XATTR_CREATE, so a racing claim loses); an id → refused, or,
    /// with `force`, replaced (the old one noted for the undo).
    Create {
        /// `force` was given.
        force: bool,
    },
    /// Start-up redoing a journaled create: this volume's id → kept; `previous` (the id the
    /// create recorded as replaced) → replaced; none → set; any other → the brick is
    /// [`BrickFailure::Taken`].
    Redo {
        /// The id the journaled create replaced, if it replaced one.
        previous: Option<Vec<u8>>,
    },
}

/// Why one brick's claim stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrickFailure {
    /// The brick carries another volume's id ([`IdRule::Redo`] only: the brick went to another
    /// volume since the create was journaled).
    Taken(String),
    /// Anything else, with glusterd's text where it has one.
    Failed(String),
}

impl BrickFailure {
    /// The message.
    pub fn message(self) -> String {
        match self {
            BrickFailure::Taken(m) | BrickFailure::Failed(m) => m,
        }
    }
}

/// The claim of one brick as plain syscalls (run on an engine script lane): mkdir, open
/// (O_DIRECTORY|O_NOFOLLOW), the current volume-id when `rule` needs it, fsetxattr unless the
/// id is there already, mkdirat `.glusterfs`. The one claim core for creates and for start-up's
/// redo. Not synced: the caller's journal record redoes the claim after a crash, and its
/// retirement syncs the brick's file system.
pub fn claim_brick(
    volume_id: Uuid,
    target: &ClaimTarget,
    rule: &IdRule,
) -> (Vec<ClaimStep>, Result<(), BrickFailure>) {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let mut steps = Vec::new();
    let failed = |m: String| Err(BrickFailure::Failed(m));
    let hp = if target.host.is_empty() {
        target.path.clone()
    } else {
        format!("{}:{}", target.host, target.path)
    };
    let last = std::io::Error::last_os_error;
    let Ok(path) = CString::new(Path::new(&target.path).as_os_str().as_bytes()) else {
        return (
            steps,
            failed(format!("brick path {hp} contains a NUL byte")),
        );
    };
    let name = CString::new(VOLUME_ID_XATTR).unwrap_or_default();
    let glusterfs = CString::new(GLUSTERFS_DIR).unwrap_or_default();
    // SAFETY: a valid C string.
    if unsafe { libc::mkdir(path.as_ptr(), BRICK_DIR_MODE) } == 0 {
        steps.push(ClaimStep::CreatedBrickDir {
            path: target.path.clone(),
        });
    } else {
        let e = last();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return (
                steps,
                failed(format!(
                    "Failed to create brick directory for brick {hp}. Reason : {} ",
                    reason(&e)
                )),
            );
        }
    }
    let fd = match open_brick_dir(&path) {
        Ok(fd) => fd,
        Err(e) => {
            return (
                steps,
                failed(format!(
                    "The provided path {} which is already present, is not a directory ({})",
                    target.path,
                    reason(&e)
                )),
            )
        }
    };
    let needs_current = !matches!(rule, IdRule::Create { force: false });
    let current = if needs_current {
        match volume_id_of(&fd) {
            Ok(current) => current,
            Err(e) => {
                return (
                    steps,
                    failed(format!(
                        "Failed to get extended attribute {VOLUME_ID_XATTR}, reason: {}",
                        reason(&e)
                    )),
                )
            }
        }
    } else {
        None
    };
    let value = volume_id.as_bytes();
    let mode = match (rule, &current) {
        (IdRule::Create { force: false }, _) => Some(SetMode::Create),
        (IdRule::Create { force: true }, _) => Some(SetMode::Either),
        (IdRule::Redo { .. }, Some(v)) if v.as_slice() == value => None,
        (IdRule::Redo { previous }, Some(v)) if previous.as_ref() == Some(v) => {
            Some(SetMode::Replace)
        }
        (IdRule::Redo { .. }, Some(v)) => {
            return (
                steps,
                Err(BrickFailure::Taken(format!(
                    "{} carries volume-id {} (another volume's)",
                    target.path,
                    hex(v)
                ))),
            )
        }
        (IdRule::Redo { .. }, None) => Some(SetMode::Create),
    };
    if let Some(mode) = mode {
        // SAFETY: a valid fd, C string and value of the given length.
        let set = unsafe {
            libc::fsetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                mode.flags(),
            )
        };
        if set != 0 {
            let e = last();
            return (
                steps,
                failed(format!(
                    "Failed to set extended attributes {VOLUME_ID_XATTR}, reason: {}",
                    reason(&e)
                )),
            );
        }
        steps.push(ClaimStep::SetVolumeId {
            path: target.path.clone(),
            previous: current,
        });
    }
    // SAFETY: a valid fd and C string.
    if unsafe { libc::mkdirat(fd.as_raw_fd(), glusterfs.as_ptr(), GLUSTERFS_DIR_MODE) } == 0 {
        steps.push(ClaimStep::CreatedGlusterfsDir {
            path: target.path.clone(),
        });
    } else {
        let e = last();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return (
                steps,
                failed(format!(
                    "Failed to create .glusterfs directory for brick {hp}. Reason : {} ",
                    reason(&e)
                )),
            );
        }
    }
    (steps, Ok(()))
}

/// Opens the brick directory `path` for its xattrs (O_DIRECTORY|O_NOFOLLOW: a symlink or a
/// file is refused).
fn open_brick_dir(path: &std::ffi::CStr) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a valid C string; a non-negative result is a new fd nothing else owns.
    let raw = unsafe { libc::open(path.as_ptr(), flags) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: see above.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) })
}

/// The volume-id xattr on the open directory `fd` (`None` when it has none; a value longer
/// than 64 bytes is an error, `ERANGE`).
fn volume_id_of(fd: &impl std::os::fd::AsRawFd) -> std::io::Result<Option<Vec<u8>>> {
    let name = std::ffi::CString::new(VOLUME_ID_XATTR).unwrap_or_default();
    let mut buf = [0u8; 64];
    // SAFETY: a valid fd, C string and buffer of the given length.
    let n = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n >= 0 {
        return Ok(Some(buf[..n as usize].to_vec()));
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENODATA) {
        Ok(None)
    } else {
        Err(e)
    }
}

/// What the claim's syscalls did, per brick: the steps taken and the brick's outcome.
pub type ScriptResults = Vec<(Vec<ClaimStep>, Result<(), String>)>;

/// The claim's syscalls for every brick of `targets`, as one closure for a script thread
/// (an engine lane, or a journal flush's follow-up: `ops::journal`). Not synced: the caller's
/// journal record redoes the claim after a crash.
pub fn claim_script(
    volume_id: Uuid,
    targets: Vec<ClaimTarget>,
    force: bool,
) -> impl FnOnce() -> ScriptResults + Send + 'static {
    let rule = IdRule::Create { force };
    move || {
        targets
            .iter()
            .map(|t| {
                let (steps, result) = claim_brick(volume_id, t, &rule);
                (steps, result.map_err(BrickFailure::message))
            })
            .collect()
    }
}

/// Claims `targets` for `volume_id`. On success, the record of every change; on failure,
/// every change already undone (see [`ClaimError::rollback_failures`]).
pub async fn claim(
    engine: &Engine,
    lvm: Option<&LvmClient>,
    volume_id: Uuid,
    targets: &[ClaimTarget],
    force: bool,
) -> Result<ClaimRecord, ClaimError> {
    // Every brick's syscalls in one hop to the engine's quick script lane.
    let script = claim_script(volume_id, targets.to_vec(), force);
    let results = engine.script(Lane::Quick, move || Ok(script())).await;
    finish_claim(engine, lvm, volume_id, targets, results).await
}

/// The rest of a claim once [`claim_script`] ran (`results`; an error if it could not run):
/// the volume-group tags, and on any failure the rollback of everything done.
pub async fn finish_claim(
    engine: &Engine,
    lvm: Option<&LvmClient>,
    volume_id: Uuid,
    targets: &[ClaimTarget],
    results: std::io::Result<ScriptResults>,
) -> Result<ClaimRecord, ClaimError> {
    let mut record = ClaimRecord::default();
    let mut messages = Vec::new();
    let results = match results {
        Ok(results) => results,
        Err(e) => vec![(Vec::new(), Err(format!("brick engine: {e}")))],
    };
    for (steps, result) in results {
        record.steps.extend(steps);
        if let Err(m) = result {
            messages.push(m);
        }
    }
    if messages.is_empty() {
        let tag = volume_tag(&volume_id.to_string());
        let mut groups: Vec<&str> = targets.iter().filter_map(|t| t.vg.as_deref()).collect();
        groups.sort_unstable();
        groups.dedup();
        match (lvm, groups.is_empty()) {
            (_, true) => {}
            (None, false) => messages.push("LVM is not available on this node".into()),
            (Some(lvm), false) => {
                let tags = join_all(groups.iter().map(|vg| add_tag(lvm, vg, &tag))).await;
                for (vg, r) in groups.iter().zip(tags) {
                    match r {
                        Ok(true) => record.steps.push(ClaimStep::AddedVgTag {
                            vg: vg.to_string(),
                            tag: tag.clone(),
                        }),
                        Ok(false) => {}
                        Err(e) => messages.push(e),
                    }
                }
            }
        }
    }
    if messages.is_empty() {
        return Ok(record);
    }
    let rollback_failures = rollback(engine, lvm, &record)
        .await
        .err()
        .unwrap_or_default();
    Err(ClaimError {
        messages,
        rollback_failures,
    })
}

/// Adds `tag` unless the group has it; Ok(true) if it was added.
pub async fn add_tag(lvm: &LvmClient, vg: &str, tag: &str) -> Result<bool, String> {
    match lvm.vg_info(vg).await {
        Ok(Some(info)) if info.tags.iter().any(|t| t == tag) => Ok(false),
        Ok(Some(_)) => lvm
            .change_tags(vg, &[tag.to_string()], &[])
            .await
            .map(|()| true)
            .map_err(|e| format!("Failed to tag volume group {vg}: {e}")),
        Ok(None) => Err(format!("Volume group {vg} does not exist")),
        Err(e) => Err(format!("Cannot read volume group {vg}: {e}")),
    }
}

/// Undoes exactly the changes of `record`, newest first. Err lists what could not be undone.
pub async fn rollback(
    engine: &Engine,
    lvm: Option<&LvmClient>,
    record: &ClaimRecord,
) -> Result<(), Vec<String>> {
    let mut failures = Vec::new();
    // Volume-group tags: one command per group.
    let mut tags: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for step in &record.steps {
        if let ClaimStep::AddedVgTag { vg, tag } = step {
            tags.entry(vg).or_default().push(tag.clone());
        }
    }
    if !tags.is_empty() {
        match lvm {
            None => failures.push("LVM is not available to remove volume-group tags".into()),
            Some(lvm) => {
                let results =
                    join_all(tags.iter().map(|(vg, t)| lvm.change_tags(vg, &[], t))).await;
                for ((vg, _), r) in tags.iter().zip(results) {
                    if let Err(e) = r {
                        failures.push(format!("tag on volume group {vg}: {e}"));
                    }
                }
            }
        }
    }
    // Bricks: each brick's steps in reverse, bricks concurrently.
    let mut per_brick: BTreeMap<&str, Vec<&ClaimStep>> = BTreeMap::new();
    for step in &record.steps {
        let path = match step {
            ClaimStep::CreatedBrickDir { path }
            | ClaimStep::SetVolumeId { path, .. }
            | ClaimStep::CreatedGlusterfsDir { path } => path.as_str(),
            ClaimStep::AddedVgTag { .. } => continue,
        };
        per_brick.entry(path).or_default().push(step);
    }
    let results = join_all(
        per_brick
            .into_values()
            .map(|steps| undo_brick(engine, steps)),
    )
    .await;
    failures.extend(results.into_iter().flatten());
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

async fn undo_brick(engine: &Engine, steps: Vec<&ClaimStep>) -> Vec<String> {
    let mut failures = Vec::new();
    for step in steps.into_iter().rev() {
        let result = match step {
            ClaimStep::CreatedGlusterfsDir { path } => engine
                .unlinkat(None, &Path::new(path).join(GLUSTERFS_DIR), true)
                .await
                .map_err(|e| format!("{path}/{GLUSTERFS_DIR}: {e}")),
            ClaimStep::SetVolumeId { path, previous } => {
                match engine.open_dir(None, Path::new(path)).await {
                    Ok(fd) => {
                        let r = match previous {
                            None => engine.fremovexattr(&fd, VOLUME_ID_XATTR).await,
                            Some(v) => {
                                engine
                                    .fsetxattr(&fd, VOLUME_ID_XATTR, v, SetMode::Replace)
                                    .await
                            }
                        };
                        match r {
                            Ok(()) => engine.fsync(&fd, false).await,
                            Err(e) => Err(e),
                        }
                        .map_err(|e| format!("{VOLUME_ID_XATTR} on {path}: {e}"))
                    }
                    Err(e) => Err(format!("{path}: {e}")),
                }
            }
            ClaimStep::CreatedBrickDir { path } => engine
                .unlinkat(None, Path::new(path), true)
                .await
                .map_err(|e| format!("{path}: {e}")),
            ClaimStep::AddedVgTag { .. } => Ok(()),
        };
        if let Err(e) = result {
            failures.push(e);
        }
    }
    failures
}

/// What to release.
#[derive(Clone, Debug)]
pub struct ReleaseRequest {
    /// The brick directory.
    pub path: String,
    /// The volume-id the brick must carry for anything to be removed.
    pub volume_id: Uuid,
    /// Also remove `trusted.gfid` and `.glusterfs` (the brick's data stays).
    pub remove_gfid: bool,
    /// The volume group whose tag for this volume to remove.
    pub vg: Option<String>,
    /// fsync the brick directory before answering (the operator command); a commit whose
    /// journal record redoes the release leaves that to the journal's retirement.
    pub sync: bool,
}

/// What a release did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReleaseReport {
    /// The volume-id was there and is gone.
    pub removed_volume_id: bool,
    /// `trusted.gfid` was there and is gone.
    pub removed_gfid: bool,
    /// `.glusterfs` was there and is gone.
    pub removed_glusterfs_dir: bool,
    /// The group's tag was there and is gone.
    pub removed_vg_tag: bool,
    /// Notes for the operator (what was already absent).
    pub notes: Vec<String>,
}

/// Why a release refused or failed (nothing after the failing step was changed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// The brick carries another volume's id.
    #[error("{path} carries volume-id {found}, not {expected}: refusing to release it")]
    WrongVolume {
        /// The brick.
        path: String,
        /// What is on disk (UUID text, or hex if not 16 bytes).
        found: String,
        /// What the caller expected.
        expected: String,
    },
    /// The volume group carries another volume's tag.
    #[error(
        "volume group {vg} is tagged for volume {found}, not {expected}: refusing to untag it"
    )]
    WrongVolumeGroup {
        /// The group.
        vg: String,
        /// The volume id in its tag.
        found: String,
        /// What the caller expected.
        expected: String,
    },
    /// A file-system or LVM step failed.
    #[error("{0}")]
    Failed(String),
}

/// glusterd's text for a failed syscall's errno.
fn reason(e: &std::io::Error) -> String {
    strerror(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Bytes from [`hex`]'s `0x`-prefixed form; `None` if the text is not that.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits = text.strip_prefix("0x")?;
    if digits.len() % 2 != 0 {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Text of an xattr value: a UUID if it has 16 bytes, else `0x` hex.
pub fn xattr_text(value: &[u8]) -> String {
    match <[u8; 16]>::try_from(value) {
        Ok(bytes) => Uuid::from_bytes(bytes).to_string(),
        Err(_) => hex(value),
    }
}

/// `0x` followed by lowercase hex, as getfattr prints.
pub fn hex(value: &[u8]) -> String {
    let mut s = String::with_capacity(2 + value.len() * 2);
    s.push_str("0x");
    for b in value {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The file-system half of a release ([`release`] without the volume group), as plain
/// syscalls for a script thread (an engine lane): the volume-id removed if it is
/// `req.volume_id`'s, then with `remove_gfid` `trusted.gfid` and `.glusterfs`, then with
/// `sync` an fsync of the brick directory.
pub fn release_files(req: &ReleaseRequest) -> Result<ReleaseReport, ReleaseError> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let mut report = ReleaseReport::default();
    let expected = req.volume_id.to_string();
    let last = std::io::Error::last_os_error;
    let path = CString::new(Path::new(&req.path).as_os_str().as_bytes()).map_err(|_| {
        ReleaseError::Failed(format!(
            "{}: path {:?} contains a NUL byte",
            req.path,
            Path::new(&req.path)
        ))
    })?;
    let fd =
        open_brick_dir(&path).map_err(|e| ReleaseError::Failed(format!("{}: {e}", req.path)))?;
    let remove = |name: &str| -> std::io::Result<()> {
        let name = CString::new(name).unwrap_or_default();
        // SAFETY: a valid fd and C string.
        if unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(last())
        }
    };
    match volume_id_of(&fd) {
        Ok(Some(value)) if value != req.volume_id.as_bytes() => {
            return Err(ReleaseError::WrongVolume {
                path: req.path.clone(),
                found: xattr_text(&value),
                expected,
            });
        }
        Ok(Some(_)) => {
            remove(VOLUME_ID_XATTR).map_err(|e| {
                ReleaseError::Failed(format!("{VOLUME_ID_XATTR} on {}: {e}", req.path))
            })?;
            report.removed_volume_id = true;
        }
        Ok(None) => report
            .notes
            .push(format!("{} carries no volume-id", req.path)),
        Err(e) => {
            return Err(ReleaseError::Failed(format!(
                "{VOLUME_ID_XATTR} on {}: {e}",
                req.path
            )))
        }
    }
    if req.remove_gfid && report.removed_volume_id {
        match remove(GFID_XATTR) {
            Ok(()) => report.removed_gfid = true,
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => report
                .notes
                .push(format!("{} carries no {GFID_XATTR}", req.path)),
            Err(e) => {
                return Err(ReleaseError::Failed(format!(
                    "{GFID_XATTR} on {}: {e}",
                    req.path
                )))
            }
        }
        let dir = Path::new(&req.path).join(GLUSTERFS_DIR);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| ReleaseError::Failed(format!("{}: {e}", dir.display())))?;
                report.removed_glusterfs_dir = true;
            }
            Ok(_) => report
                .notes
                .push(format!("{} is not a directory; left alone", dir.display())),
            Err(_) => report
                .notes
                .push(format!("{} does not exist", dir.display())),
        }
    } else if req.remove_gfid {
        report
            .notes
            .push("trusted.gfid and .glusterfs left alone: the volume-id was not removed".into());
    }
    // SAFETY: a valid fd.
    if req.sync && unsafe { libc::fsync(fd.as_raw_fd()) } != 0 {
        return Err(ReleaseError::Failed(format!(
            "sync {}: {}",
            req.path,
            last()
        )));
    }
    Ok(report)
}

/// Releases a brick of volume `req.volume_id`: its volume group checked first (a refusal
/// there leaves the brick untouched), then [`release_files`] in one hand-off to the quick
/// lane, then the group's tag removed. `.glusterfs` removal (with `remove_gfid`) walks the
/// directory tree: the operator command asks for it, the serving process never does.
pub async fn release(
    engine: &Engine,
    lvm: Option<&LvmClient>,
    req: &ReleaseRequest,
) -> Result<ReleaseReport, ReleaseError> {
    let mut report = ReleaseReport::default();
    let expected = req.volume_id.to_string();
    // The group first: a refusal there must leave the brick untouched too.
    let mut untag = None;
    if let Some(vg) = &req.vg {
        let lvm = lvm.ok_or_else(|| ReleaseError::Failed("LVM is not available".into()))?;
        match lvm.vg_info(vg).await {
            Ok(Some(info)) => {
                let ids: Vec<String> = info
                    .tags
                    .iter()
                    .filter_map(|t| parse_volume_tag(t))
                    .collect();
                if ids.contains(&expected) {
                    untag = Some(vg.clone());
                } else if let Some(other) = ids.first() {
                    return Err(ReleaseError::WrongVolumeGroup {
                        vg: vg.clone(),
                        found: other.clone(),
                        expected,
                    });
                } else {
                    report
                        .notes
                        .push(format!("volume group {vg} carries no volume tag"));
                }
            }
            Ok(None) => report
                .notes
                .push(format!("volume group {vg} does not exist")),
            Err(e) => return Err(ReleaseError::Failed(format!("volume group {vg}: {e}"))),
        }
    }
    let files = req.clone();
    let mut done = engine
        .script(Lane::Quick, move || Ok(release_files(&files)))
        .await
        .map_err(|e| ReleaseError::Failed(format!("{}: {e}", req.path)))??;
    done.notes.splice(0..0, report.notes);
    let mut report = done;
    if let (Some(vg), Some(lvm)) = (untag, lvm) {
        lvm.change_tags(&vg, &[], &[volume_tag(&expected)])
            .await
            .map_err(|e| ReleaseError::Failed(format!("volume group {vg}: {e}")))?;
        report.removed_vg_tag = true;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_unhex_round_trip_and_bad_text_is_none() {
        assert_eq!(unhex(&hex(&[0, 1, 0xfe])), Some(vec![0, 1, 0xfe]));
        assert_eq!(unhex("0x"), Some(vec![]));
        for bad in ["01", "0x1", "0xzz", "0x\u{e9}9"] {
            assert_eq!(unhex(bad), None, "{bad}");
        }
    }
}
