//! Brick validation: the stage step of `volume create` for the bricks of this node, with
//! glusterd 10.3's rules and messages (reference §9), done without changing anything.
//!
//! glusterd's stage creates the brick directory, sets a test xattr, sets the volume-id and makes
//! `.glusterfs` — and stops at the first problem. brickd's validation only reads: it predicts
//! what glusterd's stage would have found (a missing parent is the `mkdir` error glusterd would
//! give, a read-only mount is its failed test xattr), and it returns every problem of every
//! brick in one list. The changes happen later, in [`super::claim`], inside the commit.
//!
//! All file-system reads go through the [`Engine`]: the directories of every brick's walk (the
//! brick, each ancestor, `/`) are collected, deduplicated, and probed concurrently — `statx`,
//! then `open` + two `fgetxattr` per directory — so a thousand bricks are a handful of ring
//! submissions, and a directory shared by many bricks is read once.
//!
//! This module never touches sockets or the store; its caller passes what it needs to know
//! (existing local bricks, peers, the workdir).

use super::engine::{DirProbe, Engine, Stat};
use super::host::{HostMap, HostOwner};
use super::mounts::MountTable;
use super::spec::{self, BrickSpec};
use crate::lvm::LvmClient;
use crate::model::{Peer, Uuid, PEER_STATE_BEFRIENDED};
use futures_util::future::join_all;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// `trusted.gfid`: set on the brick root by the brick process.
pub const GFID_XATTR: &str = "trusted.gfid";
/// `trusted.glusterfs.volume-id`: the volume claim (16 raw bytes).
pub const VOLUME_ID_XATTR: &str = "trusted.glusterfs.volume-id";
/// glusterd reads both xattrs with a 16-byte buffer; a longer value is an error (ERANGE).
pub const UUID_XATTR_BYTES: usize = 16;
/// glusterd's default working directory: bricks are refused inside it whatever the workdir.
pub const GLUSTERD_DEFAULT_WORKDIR: &str = "/var/lib/glusterd";
/// Volumes whose name starts with this may have bricks inside the workdir.
pub const SHARED_STORAGE_PREFIX: &str = "gluster_shared_storage";
/// The most bricks one validation looks at.
pub const BRICKS_MAX: usize = 100_000;

/// How bricks are grouped for the brick order check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// Replica sets (`replica N`).
    Replicate,
    /// Disperse sets (`disperse N`).
    Disperse,
}

impl GroupKind {
    fn word(self) -> &'static str {
        match self {
            GroupKind::Replicate => "replicate",
            GroupKind::Disperse => "disperse",
        }
    }
}

/// What to validate.
#[derive(Clone, Debug)]
pub struct Request {
    /// The volume being created.
    pub volname: String,
    /// Its volume id (a volume group tagged with this id is not "taken").
    pub volume_id: Uuid,
    /// The bricks as the CLI sent them, in order.
    pub bricks: Vec<String>,
    /// Replica or disperse set size, for the brick order check.
    pub group: Option<(GroupKind, usize)>,
    /// `force` at the end of the command.
    pub force: bool,
    /// Run the brick order check (glusterd runs it on the originator only).
    pub check_order: bool,
}

/// The bricks of existing volumes on this node, by `real_path` as the store has it: what the
/// containment check asks of them (a sorted index answers both in logarithmic time).
pub trait ExistingBricks {
    /// Whether `path` is a brick.
    fn contains(&self, path: &str) -> bool;
    /// The first brick path at or after `from`, in byte order.
    fn first_from(&self, from: &str) -> Option<&str>;
}

impl ExistingBricks for BTreeSet<String> {
    fn contains(&self, path: &str) -> bool {
        BTreeSet::contains(self, path)
    }

    fn first_from(&self, from: &str) -> Option<&str> {
        self.range::<str, _>((std::ops::Bound::Included(from), std::ops::Bound::Unbounded))
            .next()
            .map(String::as_str)
    }
}

/// What validation may consult.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The brick engine for every file-system read.
    pub engine: &'a Engine,
    /// The LVM helper, if this node has one (bricks naming a volume group need it).
    pub lvm: Option<&'a LvmClient>,
    /// Which hosts are this node and which are peers.
    pub hosts: &'a HostMap,
    /// The peers, for their state.
    pub peers: &'a [Peer],
    /// Peers with a live connection.
    pub connected: &'a [Uuid],
    /// brickd's workdir (bricks inside it are refused, like glusterd's own).
    pub workdir: &'a Path,
    /// Bricks of existing volumes on this node.
    pub existing: &'a dyn ExistingBricks,
}

/// The kind of a problem, for callers that branch on it (messages are for people).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The brick text is not `host:/path`.
    Spec,
    /// The same brick twice in one command.
    Duplicate,
    /// Path or component too long.
    PathTooLong,
    /// The brick volfile's path would be too long.
    VolfilePathTooLong,
    /// The host is neither this node nor a peer in the cluster.
    HostNotInCluster,
    /// The host is a peer that is not connected.
    HostNotConnected,
    /// Contains or is contained by another brick.
    NotAvailable,
    /// The brick directory could not be created (missing parent, read-only, …).
    CannotCreate,
    /// `lstat` failed.
    Stat,
    /// The path exists and is not a directory (a symlink counts as not a directory).
    NotADirectory,
    /// Inside glusterd's (or brickd's) working directory.
    InsideWorkdir,
    /// The brick is a mount point (refused unless forced).
    MountPoint,
    /// The brick is on the root file system (refused unless forced).
    RootPartition,
    /// The file system cannot hold the xattrs (or is read-only).
    XattrUnsupported,
    /// Reading an xattr failed with an unexpected error.
    XattrRead,
    /// The brick or an ancestor carries `trusted.gfid` or a volume-id (refused unless forced).
    InUse,
    /// Two bricks of one replica/disperse set on one node, or a node that cannot be told.
    BrickOrder,
    /// The brick's mount dir could not be found.
    MountDir,
    /// The named volume group does not exist, is taken, or LVM is unavailable.
    VolumeGroup,
}

/// One problem with one brick (or with the brick list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Index of the brick in the request, if the problem is about one brick.
    pub brick: Option<usize>,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// glusterd's message where glusterd has one, word for word.
    pub message: String,
}

/// What one xattr read found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XattrState {
    /// Not read (the directory does not exist or is a symlink).
    NotRead,
    /// ENODATA: the file system has xattrs, this one is not set.
    Absent,
    /// ENOTSUP: the file system cannot hold it (glusterd counts this as absent too).
    Unsupported,
    /// The value.
    Present(Vec<u8>),
    /// Another errno.
    Error(i32),
}

/// One directory of a brick's walk.
#[derive(Clone, Debug)]
pub struct Level {
    /// The directory (shared by every brick whose walk passes it).
    pub path: Arc<str>,
    /// `statx` without following a final symlink, or the errno.
    pub lstat: Result<Stat, i32>,
    /// `statx` following symlinks (equal to `lstat` unless it is a symlink).
    pub stat: Result<Stat, i32>,
    /// `trusted.gfid`.
    pub gfid: XattrState,
    /// `trusted.glusterfs.volume-id`.
    pub volume_id: XattrState,
}

/// The mount a brick lives on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    /// The mount point (from the mount table).
    pub mount_point: String,
    /// File-system type.
    pub fs_type: String,
    /// Source device.
    pub source: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// A volume group named by a brick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VgReport {
    /// The group's name.
    pub name: String,
    /// Its uuid, tags and free bytes, or None if it does not exist.
    pub info: Option<crate::lvm::VgInfo>,
}

/// Everything validation learnt about one brick.
#[derive(Clone, Debug)]
pub struct BrickReport {
    /// The text as sent.
    pub text: String,
    /// The parsed brick, if it parsed.
    pub spec: Option<BrickSpec>,
    /// Whose brick it is.
    pub owner: Option<HostOwner>,
    /// For local bricks: the walk, brick first, `/` last.
    pub levels: Vec<Level>,
    /// Whether the brick directory exists already.
    pub exists: bool,
    /// Symlinks resolved (the path itself when it does not exist yet).
    pub real_path: String,
    /// glusterd's brick root: the highest directory on the brick's device.
    pub brick_root: Option<String>,
    /// `brick<N>.mount_dir`: the path below the brick root, with a leading `/`.
    pub mount_dir: Option<String>,
    /// The mount the brick is (or would be) on.
    pub mount: Option<MountInfo>,
    /// The volume group, for `?VG` bricks.
    pub vg: Option<VgReport>,
}

impl BrickReport {
    /// Whether the brick is this node's.
    pub fn is_local(&self) -> bool {
        self.owner == Some(HostOwner::Local)
    }
}

/// The outcome: every brick's report and every problem found.
#[derive(Clone, Debug)]
pub struct Report {
    /// One per brick of the request, in order.
    pub bricks: Vec<BrickReport>,
    /// Every problem, in brick order.
    pub problems: Vec<Problem>,
}

impl Report {
    /// No problems.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// All problems' messages, one per line; with a single problem, exactly glusterd's text.
    pub fn message(&self) -> String {
        self.problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What a probe of one directory found (shared by every brick whose walk passes it).
#[derive(Clone, Debug)]
struct Probe {
    lstat: Result<Stat, i32>,
    stat: Result<Stat, i32>,
    gfid: XattrState,
    volume_id: XattrState,
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// `strerror`, as glusterd prints it.
pub fn strerror(code: i32) -> String {
    let text = io::Error::from_raw_os_error(code).to_string();
    // std appends " (os error N)".
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn xattr_state(result: Result<Vec<u8>, i32>) -> XattrState {
    match result {
        Ok(v) => XattrState::Present(v),
        Err(libc::ENODATA) => XattrState::Absent,
        Err(libc::ENOTSUP) => XattrState::Unsupported,
        Err(code) => XattrState::Error(code),
    }
}

/// A directory the bulk probe read: its status and the two xattrs, in the order asked.
fn directory(stat: Stat, xattrs: Vec<Result<Vec<u8>, i32>>) -> Probe {
    let mut xattrs = xattrs.into_iter().map(xattr_state);
    let mut next = || xattrs.next().unwrap_or(XattrState::Error(libc::EIO));
    let gfid = next();
    let volume_id = next();
    Probe {
        lstat: Ok(stat),
        stat: Ok(stat),
        gfid,
        volume_id,
    }
}

/// A level that is not a directory (its xattrs are not read): a symlink is followed for the
/// status of what it points to.
async fn not_a_directory(engine: &Engine, path: &str, lstat: Result<Stat, i32>) -> Probe {
    let stat = match &lstat {
        Ok(s) if s.is_symlink() => engine
            .statx(None, Path::new(path), false)
            .await
            .map_err(|e| errno(&e)),
        other => *other,
    };
    Probe {
        lstat,
        stat,
        gfid: XattrState::NotRead,
        volume_id: XattrState::NotRead,
    }
}

/// Probes every distinct directory of `paths`' walks concurrently; one entry per directory.
async fn probe_walks<'p>(
    engine: &Engine,
    paths: impl Iterator<Item = &'p str>,
) -> HashMap<Arc<str>, Probe> {
    let mut dirs = BTreeSet::new();
    for path in paths {
        for level in spec::walk_up(path) {
            if dirs.contains(level) {
                // Every higher level is in the set already.
                break;
            }
            dirs.insert(level.to_string());
        }
    }
    // Most levels are directories: one bulk request reads each one's status (no symlink
    // followed) and both xattrs; the few that are not get a closer look one by one.
    let list: Vec<&Path> = dirs.iter().map(|d| Path::new(d.as_str())).collect();
    let bulk = engine
        .probe_dirs(&list, &[GFID_XATTR, VOLUME_ID_XATTR], UUID_XATTR_BYTES)
        .await;
    let results = match bulk {
        Ok(results) => results,
        // The engine is gone (or a path held a NUL): every level reports the error.
        Err(e) => vec![DirProbe::Missing(errno(&e)); dirs.len()],
    };
    let mut probes = HashMap::with_capacity(dirs.len());
    let mut others = Vec::new();
    for (dir, result) in dirs.into_iter().zip(results) {
        match result {
            DirProbe::Dir { stat, xattrs } => {
                probes.insert(Arc::from(dir), directory(stat, xattrs));
            }
            DirProbe::NotADirectory(stat) => others.push((dir, Ok(stat))),
            DirProbe::Missing(code) => others.push((dir, Err(code))),
        }
    }
    let rest = join_all(
        others
            .iter()
            .map(|(dir, lstat)| not_a_directory(engine, dir, *lstat)),
    )
    .await;
    probes.extend(others.into_iter().map(|(dir, _)| Arc::from(dir)).zip(rest));
    probes
}

/// Validates `req` against this node's file systems.
pub async fn validate(env: Env<'_>, req: &Request) -> Report {
    let mut problems = Vec::new();
    let mut bricks: Vec<BrickReport> = req
        .bricks
        .iter()
        .take(BRICKS_MAX)
        .map(|text| BrickReport {
            text: text.clone(),
            spec: None,
            owner: None,
            levels: Vec::new(),
            exists: false,
            real_path: String::new(),
            brick_root: None,
            mount_dir: None,
            mount: None,
            vg: None,
        })
        .collect();
    if req.bricks.len() > BRICKS_MAX {
        problems.push(Problem {
            brick: None,
            kind: ProblemKind::Spec,
            message: format!(
                "{} bricks in one command; brickd takes at most {BRICKS_MAX}",
                req.bricks.len()
            ),
        });
    }

    // Parse, duplicates, lengths.
    let workdir_text = env.workdir.to_string_lossy().into_owned();
    let mut seen = BTreeMap::new();
    for (i, b) in bricks.iter_mut().enumerate() {
        match BrickSpec::parse(&b.text) {
            Ok(s) => {
                if seen.insert(s.host_path(), i).is_some() {
                    problems.push(problem(
                        i,
                        ProblemKind::Duplicate,
                        format!("Found duplicate exports {}", b.text),
                    ));
                }
                if !spec::brick_path_length_ok(&s.path) {
                    problems.push(problem(
                        i,
                        ProblemKind::PathTooLong,
                        format!("brick path {} is too long.", b.text),
                    ));
                } else if !spec::volfile_path_length_ok(&workdir_text, &req.volname, &s) {
                    problems.push(problem(
                        i,
                        ProblemKind::VolfilePathTooLong,
                        format!(
                            "Volume file path for volume {} and brick path {} is too long.",
                            req.volname, b.text
                        ),
                    ));
                }
                b.spec = Some(s);
            }
            Err(e) => problems.push(problem(
                i,
                ProblemKind::Spec,
                format!(
                    "wrong brick type: {}, use <HOSTNAME>:<export-dir-abs-path> ({e})",
                    b.text
                ),
            )),
        }
    }

    // Owners.
    let owners = join_all(bricks.iter().map(|b| async {
        match &b.spec {
            Some(s) => Some(env.hosts.classify(&s.host).await),
            None => None,
        }
    }))
    .await;
    for (i, (b, owner)) in bricks.iter_mut().zip(owners).enumerate() {
        let Some(owner) = owner else { continue };
        let host = b.spec.as_ref().map(|s| s.host.clone()).unwrap_or_default();
        match &owner {
            HostOwner::Local => {}
            HostOwner::Peer(uuid) => {
                let state = env.peers.iter().find(|p| p.uuid == *uuid).map(|p| p.state);
                if !env.connected.contains(uuid) {
                    problems.push(problem(
                        i,
                        ProblemKind::HostNotConnected,
                        format!("Host {host} not connected"),
                    ));
                } else if state != Some(PEER_STATE_BEFRIENDED) {
                    problems.push(problem(
                        i,
                        ProblemKind::HostNotInCluster,
                        format!("Host {host} is not in 'Peer in Cluster' state"),
                    ));
                }
            }
            HostOwner::Unknown(_) => problems.push(problem(
                i,
                ProblemKind::HostNotInCluster,
                format!("Host {host} is not in 'Peer in Cluster' state"),
            )),
        }
        b.owner = Some(owner);
    }

    // Brick order, by node identity.
    if req.check_order && !req.force {
        if let Some((kind, size)) = req.group {
            if let Some(p) = brick_order(&bricks, kind, size) {
                problems.push(p);
            }
        }
    }

    // The local bricks' walks.
    let local: Vec<usize> = (0..bricks.len())
        .filter(|&i| bricks[i].is_local())
        .collect();
    let probes = probe_walks(
        env.engine,
        local
            .iter()
            .filter_map(|&i| bricks[i].spec.as_ref().map(|s| s.path.as_str())),
    )
    .await;
    let mounts = MountTable::current().unwrap_or_default();
    let vg_infos = volume_groups(env, &bricks, &local).await;

    for &i in &local {
        let b = &mut bricks[i];
        let Some(s) = b.spec.clone() else { continue };
        b.levels = spec::walk_up(&s.path)
            .map(|level| {
                let (path, p) = match probes.get_key_value(level) {
                    Some((path, p)) => (path.clone(), p.clone()),
                    None => (
                        Arc::from(level),
                        Probe {
                            lstat: Err(libc::ENOENT),
                            stat: Err(libc::ENOENT),
                            gfid: XattrState::NotRead,
                            volume_id: XattrState::NotRead,
                        },
                    ),
                };
                Level {
                    path,
                    lstat: p.lstat,
                    stat: p.stat,
                    gfid: p.gfid,
                    volume_id: p.volume_id,
                }
            })
            .collect();
        let real_path = if needs_resolution(&b.levels, &s.path) {
            resolve_real_path(env.engine, &s.path).await
        } else {
            None
        };
        check_local_brick(env, req, i, b, &s, &mounts, real_path, &mut problems);
        if let Some(vg) = &s.vg {
            let info = vg_infos.get(vg).cloned();
            check_volume_group(req, i, b, &s, vg, info, &mut problems);
        }
    }

    // Containment: against existing bricks, and between this command's own local bricks (by
    // walking each brick's ancestors through a set: linear in bricks × depth).
    let own: BTreeMap<&str, usize> = local
        .iter()
        .filter(|&&i| !bricks[i].real_path.is_empty())
        .map(|&i| (bricks[i].real_path.as_str(), i))
        .collect();
    let existing = env.existing;
    let mut contained = Vec::new();
    for &i in &local {
        let real = bricks[i].real_path.as_str();
        if real.is_empty() {
            continue;
        }
        let below = format!("{real}/");
        let containing_existing = existing
            .first_from(&below)
            .is_some_and(|e| e.starts_with(&below));
        let within_existing = spec::walk_up(real)
            .filter(|a| *a != "/" || real == "/")
            .any(|a| existing.contains(a));
        if containing_existing || within_existing {
            contained.push((
                i,
                format!(
                    "Brick: {} not available. Brick may be containing or be contained by an existing brick.",
                    bricks[i].text
                ),
            ));
            continue;
        }
        if let Some(&j) = spec::walk_up(real)
            .skip(1)
            .filter(|a| *a != "/")
            .find_map(|a| own.get(a))
        {
            contained.push((
                i,
                format!(
                    "Brick: {} not available. Brick may be containing or be contained by brick {} of the same command.",
                    bricks[i].text, bricks[j].text
                ),
            ));
        }
    }
    for (i, message) in contained {
        problems.push(problem(i, ProblemKind::NotAvailable, message));
    }

    problems.sort_by_key(|p| p.brick.map_or(usize::MAX, |b| b));
    Report { bricks, problems }
}

fn problem(brick: usize, kind: ProblemKind, message: String) -> Problem {
    Problem {
        brick: Some(brick),
        kind,
        message,
    }
}

fn brick_order(bricks: &[BrickReport], kind: GroupKind, size: usize) -> Option<Problem> {
    let size = size.min(bricks.len()).max(1);
    let found = format!(
        "Multiple bricks of a {} volume are present on the same server. This setup is not optimal. \
         Bricks should be on different nodes to have best fault tolerant configuration. Use 'force' \
         at the end of the command if you want to override this behavior. ",
        kind.word()
    );
    for group in bricks.chunks(size) {
        if group.len() < 2 {
            continue;
        }
        for (a, first) in group.iter().enumerate() {
            if let Some(HostOwner::Unknown(why)) = &first.owner {
                return Some(Problem {
                    brick: None,
                    kind: ProblemKind::BrickOrder,
                    message: format!(
                        "Failed to perform brick order check. Use 'force' at the end of the command \
                         if you want to override this behavior. ({why})"
                    ),
                });
            }
            for second in &group[a + 1..] {
                if first.owner.is_some() && first.owner == second.owner {
                    return Some(Problem {
                        brick: None,
                        kind: ProblemKind::BrickOrder,
                        message: found,
                    });
                }
            }
        }
    }
    None
}

async fn volume_groups(
    env: Env<'_>,
    bricks: &[BrickReport],
    local: &[usize],
) -> BTreeMap<String, Result<Option<crate::lvm::VgInfo>, String>> {
    let names: BTreeSet<String> = local
        .iter()
        .filter_map(|&i| bricks[i].spec.as_ref().and_then(|s| s.vg.clone()))
        .collect();
    let Some(lvm) = env.lvm else {
        return names
            .into_iter()
            .map(|n| (n, Err("LVM is not available on this node".to_string())))
            .collect();
    };
    let infos = join_all(names.iter().map(|n| lvm.vg_info(n))).await;
    names
        .into_iter()
        .zip(infos)
        .map(|(n, r)| (n, r.map_err(|e| e.to_string())))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn check_volume_group(
    req: &Request,
    i: usize,
    b: &mut BrickReport,
    s: &BrickSpec,
    vg: &str,
    info: Option<Result<Option<crate::lvm::VgInfo>, String>>,
    problems: &mut Vec<Problem>,
) {
    let hp = s.host_path();
    match info {
        Some(Ok(Some(info))) => {
            let ours = req.volume_id.to_string();
            if let Some(other) = info
                .tags
                .iter()
                .filter_map(|t| crate::lvm::parse_volume_tag(t))
                .find(|id| *id != ours)
            {
                problems.push(problem(
                    i,
                    ProblemKind::VolumeGroup,
                    format!(
                        "Volume group {vg} of brick {hp} is already part of volume {other}. \
                         Release it with 'brickd brick release' if that volume is gone."
                    ),
                ));
            }
            b.vg = Some(VgReport {
                name: vg.to_string(),
                info: Some(info),
            });
        }
        Some(Ok(None)) => {
            problems.push(problem(
                i,
                ProblemKind::VolumeGroup,
                format!("Volume group {vg} of brick {hp} does not exist"),
            ));
            b.vg = Some(VgReport {
                name: vg.to_string(),
                info: None,
            });
        }
        Some(Err(e)) => problems.push(problem(
            i,
            ProblemKind::VolumeGroup,
            format!("Cannot read volume group {vg} of brick {hp}: {e}"),
        )),
        None => {}
    }
}

#[allow(clippy::too_many_arguments)]
fn check_local_brick(
    env: Env<'_>,
    req: &Request,
    i: usize,
    b: &mut BrickReport,
    s: &BrickSpec,
    mounts: &MountTable,
    real_path: Option<String>,
    problems: &mut Vec<Problem>,
) {
    let hp = s.host_path();
    let (brick, parent) = (&b.levels[0], b.levels.get(1));
    let root = b.levels.last().expect("the walk always ends at /");
    let mut is_dir = false;
    // The device the brick is (or would be) on: its own, or its parent's if it is new.
    let mut brick_stat: Option<Stat> = None;
    match &brick.lstat {
        Ok(st) => {
            b.exists = true;
            if st.is_dir() {
                is_dir = true;
                brick_stat = brick.stat.ok();
            } else {
                problems.push(problem(
                    i,
                    ProblemKind::NotADirectory,
                    format!(
                        "The provided path {} which is already present, is not a directory",
                        s.path
                    ),
                ));
            }
        }
        Err(code @ (libc::ENOENT | libc::ENOTDIR)) => {
            // glusterd would mkdir it: predict mkdir's result from the parent.
            // ENOTDIR: some ancestor is not a directory, and mkdir says so too.
            let parent_stat = match *code {
                libc::ENOTDIR => Err(libc::ENOTDIR),
                _ => parent.map(|p| p.stat).unwrap_or(Err(libc::ENOENT)),
            };
            let mkdir_errno = match &parent_stat {
                Err(code) => Some(*code),
                Ok(st) if !st.is_dir() => Some(libc::ENOTDIR),
                Ok(st) => match mounts.by_id(st.mnt_id) {
                    Some(m) if m.read_only() => Some(libc::EROFS),
                    _ => None,
                },
            };
            match mkdir_errno {
                Some(code) => problems.push(problem(
                    i,
                    ProblemKind::CannotCreate,
                    format!(
                        "Failed to create brick directory for brick {hp}. Reason : {} ",
                        strerror(code)
                    ),
                )),
                None => {
                    is_dir = true;
                    brick_stat = parent_stat.ok();
                }
            }
        }
        Err(code) => problems.push(problem(
            i,
            ProblemKind::Stat,
            format!("lstat failed on {}. Reason : {}", s.path, strerror(*code)),
        )),
    }

    // Inside the workdir: always refused (glusterd compares with its default workdir as a plain
    // string prefix; brickd also refuses its own workdir).
    if !req.volname.starts_with(SHARED_STORAGE_PREFIX) {
        let workdir = env.workdir.to_string_lossy();
        if s.path.starts_with(GLUSTERD_DEFAULT_WORKDIR)
            || spec::is_path_prefix(&workdir, &s.path) && s.path.len() >= workdir.len()
        {
            problems.push(problem(
                i,
                ProblemKind::InsideWorkdir,
                "Brick isn't allowed to be created inside glusterd's working directory.".into(),
            ));
        }
    }

    let Some(st) = brick_stat.filter(|_| is_dir) else {
        // Not a directory and cannot become one: no real path to compare with other bricks.
        return;
    };

    // Real path: the walk by strings equals the resolved path unless a level is a symlink or
    // the path holds `.`/`..`; then ask the kernel.
    b.real_path = real_path.unwrap_or_else(|| s.path.clone());

    let mount = mounts.by_id(st.mnt_id);
    b.mount = mount.map(|m| MountInfo {
        mount_point: m.mount_point.clone(),
        fs_type: m.fs_type.clone(),
        source: m.source.clone(),
        read_only: m.read_only(),
    });

    if !req.force {
        if b.exists && st.mount_root {
            problems.push(problem(
                i,
                ProblemKind::MountPoint,
                format!(
                    "The brick {hp} is a mount point. Please create a sub-directory under the mount point \
                     and use that as the brick directory. Or use 'force' at the end of the command if you \
                     want to override this behavior."
                ),
            ));
        } else if root.stat.as_ref().is_ok_and(|r| r.dev() == st.dev()) {
            problems.push(problem(
                i,
                ProblemKind::RootPartition,
                format!(
                    "The brick {hp} is being created in the root partition. It is recommended that you \
                     don't use the system's root partition for storage backend. Or use 'force' at the end \
                     of the command if you want to override this behavior."
                ),
            ));
        }
    }

    // Xattr support: glusterd sets and removes a test xattr; brickd reads instead.
    let unsupported = if b.exists
        && (brick.gfid == XattrState::Absent || brick.volume_id == XattrState::Absent)
        && mount.is_some_and(|m| m.read_only())
    {
        Some(libc::EROFS)
    } else if b.exists
        && (brick.gfid == XattrState::Unsupported || brick.volume_id == XattrState::Unsupported)
    {
        Some(libc::ENOTSUP)
    } else {
        None
    };
    if let Some(code) = unsupported {
        problems.push(problem(
            i,
            ProblemKind::XattrUnsupported,
            format!(
                "Glusterfs is not supported on brick: {hp}.\nSetting extended attributes failed, reason: {}.",
                strerror(code)
            ),
        ));
    }

    // The path-in-use walk: the brick, each ancestor, "/". The first xattr found decides.
    'walk: for (depth, level) in b.levels.iter().enumerate() {
        for (name, state) in [
            (GFID_XATTR, &level.gfid),
            (VOLUME_ID_XATTR, &level.volume_id),
        ] {
            match state {
                XattrState::Error(code) => {
                    problems.push(problem(
                        i,
                        ProblemKind::XattrRead,
                        format!(
                            "Failed to get extended attribute {name}, reason: {}",
                            strerror(*code)
                        ),
                    ));
                    break 'walk;
                }
                XattrState::Present(_) if !req.force => {
                    let message = if depth == 0 {
                        format!("{} is already part of a volume", s.path)
                    } else {
                        format!(
                            "parent directory {} is already part of a volume",
                            level.path
                        )
                    };
                    problems.push(problem(i, ProblemKind::InUse, message));
                    break 'walk;
                }
                XattrState::Present(_) => break 'walk,
                _ => {}
            }
        }
    }

    // Brick root and mount dir, by devices along the walk.
    let dev = st.dev();
    let start = usize::from(!b.exists);
    let mut brick_root = None;
    for level in &b.levels[start..] {
        match &level.stat {
            Ok(ls) if ls.dev() == dev => brick_root = Some(level.path.to_string()),
            _ => break,
        }
    }
    match brick_root {
        Some(mnt) if s.path.starts_with(&mnt) => {
            let rest = s.path[mnt.len()..].trim_start_matches('/');
            b.mount_dir = Some(format!("/{rest}"));
            b.brick_root = Some(mnt);
        }
        _ if !b.exists && b.levels.len() == 2 => {
            // A new directory right under "/": the brick root is "/".
            b.mount_dir = Some(s.path.clone());
            b.brick_root = Some("/".into());
        }
        _ => problems.push(problem(
            i,
            ProblemKind::MountDir,
            format!("Failed to get brick mount_dir of {hp}: no brick root found along the path"),
        )),
    }
}

fn needs_resolution(levels: &[Level], path: &str) -> bool {
    levels
        .iter()
        .any(|l| l.lstat.as_ref().is_ok_and(|s| s.is_symlink()))
        || path.split('/').any(|c| c == "." || c == "..")
}

/// The resolved path of an existing directory: the engine opens it (`O_PATH`, following
/// symlinks) and `/proc/self/fd/N` names it (a procfs read, which never waits on a disk).
pub async fn resolve_real_path(engine: &Engine, path: &str) -> Option<String> {
    use std::os::fd::AsRawFd;
    let fd = engine
        .open(None, Path::new(path), libc::O_PATH | libc::O_DIRECTORY, 0)
        .await
        .ok()?;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}
