//! `volume create` (CREATE_VOLUME, CLI proc 4): glusterd's checks and store, brickd's commit.
//!
//! The handler reads the CLI's dict (reference §6.1), refuses a taken name ("Volume %s already
//! exists"), adds what glusterd adds (`volume-id`, `transport.address-family`,
//! `internal-username`, `internal-password`) and runs the transaction on the change shard
//! (`shard::CHANGE_SHARD`, the one that serves the unix socket): lock `<name>_vol` → stage (brick validation, read-only: `brick::validate`) →
//! brick-op (nothing on one node) → commit → unlock.
//!
//! The commit cannot half-happen: it appends a journal record (the bricks and every store
//! file's bytes; the volfiles, rendered while the record is flushed, follow from them) and
//! waits for it to be durable — the one durable step — then claims the bricks (directory,
//! `.glusterfs`, volume-id with XATTR_CREATE, VG tags), writes the store files and volfiles
//! and publishes the volume without waiting for the disk. A failure undoes exactly what
//! was done and journals an abort; a crash leaves the record, which `recover` redoes at
//! start-up. docs/volumes.md has the whole story.

use super::commit::{self, Commit, Files, NotJournaled};
use super::failpoints;
use super::journal::Then;
use super::local_node::LocalNode;
use super::shard::{ShardState, CHANGE_SHARD};
use crate::brick::claim::{self, ClaimRecord, ClaimTarget};
use crate::brick::engine::{Engine, Lane};
use crate::brick::spec::BrickSpec;
use crate::brick::validate::{self, Env, GroupKind, Report, Request};
use crate::cluster::locks::{lease_for, volume_lock};
use crate::cluster::txn::{self, LocalFuture, Operation, Participant, TxnError, TxnInfo};
use crate::lvm::{LvmClient, LvmConfig};
use crate::model::{Brick, Extra, Transport, Uuid, Volume, VolumeType};
use crate::proto::dict::Dict;
use crate::store::journal::Record;
use crate::store::Store;
use crate::volgen;
use futures_util::future::join_all;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// `GD_OP_CREATE_VOLUME`.
pub const OP_CREATE_VOLUME: u32 = 1;

/// The longest volume name glusterd accepts (`GD_VOLUME_NAME_MAX`, the CLI checks ≤ 256 too).
pub const VOLNAME_BYTES_MAX: usize = 256;

/// Most bricks one create may name (glusterd has no cap; a bound on a single request's work).
pub const CREATE_BRICKS_MAX: usize = 10_000;

/// The answer the CLI gets.
#[derive(Debug, Clone, PartialEq)]
pub struct CliAnswer {
    /// 0 or -1.
    pub op_ret: i32,
    /// glusterd's op_errno.
    pub op_errno: i32,
    /// The message the CLI prints after "failed: ".
    pub op_errstr: String,
    /// The reply dict (the op context on success).
    pub dict: Dict,
}

impl CliAnswer {
    /// A success with reply dict `dict`.
    pub fn ok(dict: Dict) -> CliAnswer {
        CliAnswer {
            op_ret: 0,
            op_errno: 0,
            op_errstr: String::new(),
            dict,
        }
    }

    /// A failure with `message`.
    pub fn failed(errno: i32, message: impl Into<String>) -> CliAnswer {
        CliAnswer {
            op_ret: -1,
            op_errno: errno,
            op_errstr: message.into(),
            dict: Dict::new(),
        }
    }
}

/// A create request, as the CLI sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    /// `volname`.
    pub volname: String,
    /// `type`: 0 distribute, 2 replicate, 4 disperse.
    pub volume_type: VolumeType,
    /// `transport`.
    pub transport: Transport,
    /// `bricks`, split.
    pub bricks: Vec<String>,
    /// `force`.
    pub force: bool,
    /// `replica-count` (replicate only).
    pub replica: u32,
    /// `arbiter-count`.
    pub arbiter: u32,
    /// `disperse-count`.
    pub disperse: u32,
    /// `redundancy-count`.
    pub redundancy: u32,
    /// `timeout` (seconds), when the CLI sent one.
    pub timeout: Option<i64>,
    /// `ta-brick` with `thin-arbiter-count` 1: the thin-arbiter brick of a replica 2 volume.
    /// glusterd neither checks nor claims it (it is served by a thin-arbiter process outside
    /// the pool); the clients name it and keep their replica's state there.
    pub thin_arbiter: Option<BrickSpec>,
    /// The request dict, echoed back with glusterd's additions.
    pub dict: Dict,
}

fn count(dict: &Dict, key: &str) -> u32 {
    dict.get_str(key)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Reads the CLI's dict; the error is the op_errstr.
pub fn parse(dict: Dict) -> Result<CreateRequest, String> {
    let volname = dict
        .get_str("volname")
        .map_err(|_| "Unable to get volume name".to_string())?
        .to_string();
    if volname.is_empty()
        || volname.len() > VOLNAME_BYTES_MAX
        || volname.starts_with('-')
        || !volname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!("Volume name {volname} is not valid"));
    }
    let brick_count: usize = dict
        .get_str("count")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("Unable to get brick count for volume {volname}"))?;
    let volume_type = match dict
        .get_str("type")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        Some(0) => VolumeType::Distribute,
        Some(2) => VolumeType::Replicate,
        Some(4) => VolumeType::Disperse,
        Some(t) => return Err(format!("Volume type {t} is not supported")),
        None => return Err(format!("Unable to get type of volume {volname}")),
    };
    let transport = match dict.get_str("transport") {
        Ok("tcp") => Transport::Tcp,
        Ok("rdma") => Transport::Rdma,
        Ok("tcp,rdma") => Transport::TcpRdma,
        _ => return Err(format!("Unable to get transport-type of volume {volname}")),
    };
    let bricks: Vec<String> = dict
        .get_str("bricks")
        .map_err(|_| format!("Unable to get bricks for volume {volname}"))?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !dict.contains_key("force") {
        return Err("Unable to get the force option".into());
    }
    let force = dict
        .get_str("force")
        .map(|v| v.trim() == "1")
        .unwrap_or(false);
    if bricks.len() != brick_count || bricks.is_empty() || bricks.len() > CREATE_BRICKS_MAX {
        return Err(format!(
            "Incorrect number of bricks supplied {} with count {brick_count}",
            bricks.len()
        ));
    }
    let thin_arbiter = thin_arbiter_brick(&dict)?;
    let request = CreateRequest {
        replica: count(&dict, "replica-count"),
        arbiter: count(&dict, "arbiter-count"),
        disperse: count(&dict, "disperse-count"),
        redundancy: count(&dict, "redundancy-count"),
        timeout: dict.get_str("timeout").ok().and_then(|v| v.parse().ok()),
        thin_arbiter,
        volname,
        volume_type,
        transport,
        bricks,
        force,
        dict,
    };
    let set = match request.volume_type {
        VolumeType::Replicate => request.replica,
        VolumeType::Disperse => request.disperse,
        _ => 1,
    };
    if set == 0 || !request.bricks.len().is_multiple_of(set as usize) {
        return Err(format!(
            "Incorrect number of bricks ({}) supplied for a set size of {set}",
            request.bricks.len()
        ));
    }
    if request.thin_arbiter.is_some()
        && (request.volume_type != VolumeType::Replicate
            || request.replica != 2
            || request.arbiter != 0)
    {
        return Err("A thin-arbiter volume must be replica 2 with no arbiter".into());
    }
    if request.volume_type == VolumeType::Disperse
        && (request.redundancy == 0 || 2 * request.redundancy >= request.disperse)
    {
        return Err(format!(
            "redundancy {} is not valid for disperse {}",
            request.redundancy, request.disperse
        ));
    }
    Ok(request)
}

/// The index in the brick id (`<volume>-client-N`) of brick `i`: its place in the list, except
/// that a thin-arbiter volume leaves a place after each set for that set's thin-arbiter
/// client (bricks 0, 1, 3, 4, … of a replica 2 volume), as glusterd numbers them.
fn client_index(request: &CreateRequest, i: usize) -> usize {
    match &request.thin_arbiter {
        Some(_) => {
            let set = (request.replica as usize).max(1);
            i + i / set
        }
        None => i,
    }
}

/// The thin-arbiter brick of a request: `ta-brick` when `thin-arbiter-count` is 1 (glusterd
/// reads `ta-brick` only with a count, and the CLI sends no other count than 1).
///
/// The CLI pads the brick as ` HOST:PATH ` but appends that to a buffer it never cleared, so
/// what comes before the brick is sometimes a few bytes of garbage (`X\x11 HOST:PATH `, seen
/// here). glusterd takes the first word after the first byte, which is then the garbage, and
/// fails the create in its commit ("Commit failed on localhost"): its thin-arbiter creates
/// fail at random. brickd takes the last word, which is always the brick the user named.
fn thin_arbiter_brick(dict: &Dict) -> Result<Option<BrickSpec>, String> {
    let Ok(text) = dict.get_str("thin-arbiter-count") else {
        return Ok(None);
    };
    match text.trim().parse::<i64>() {
        Ok(0) => return Ok(None),
        Ok(1) => {}
        _ => {
            return Err(format!(
                "Thin-arbiter count {} is not valid: it must be 1",
                text.trim()
            ))
        }
    }
    let raw = dict
        .get_bin("ta-brick")
        .ok_or_else(|| "Unable to get the thin-arbiter brick".to_string())?;
    // The garbage is not always text; the brick must be.
    let last = raw
        .split(|b| matches!(b, b' ' | b'\n' | b'\0'))
        .rfind(|word| !word.is_empty())
        .ok_or_else(|| "The thin-arbiter brick is empty".to_string())?;
    let word = std::str::from_utf8(last)
        .map_err(|_| "The thin-arbiter brick is not valid UTF-8".to_string())?;
    if word.contains('?') {
        return Err(format!(
            "Wrong brick type: {word}, use <HOSTNAME>:<export-dir-abs-path>"
        ));
    }
    BrickSpec::parse(word).map(Some).map_err(|e| {
        format!("Wrong brick type: {word}, use <HOSTNAME>:<export-dir-abs-path> ({e})")
    })
}

/// The LVM helper, started the first time a brick names a volume group.
pub fn lvm_client(state: &ShardState) -> Option<LvmClient> {
    state
        .node
        .lvm
        .get_or_init(|| match LvmClient::start(LvmConfig::default()) {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::warn!(error = %e, "LVM helper could not start");
                None
            }
        })
        .clone()
}

/// Answers a CREATE_VOLUME request: the handler's checks here, the transaction on the change
/// shard.
pub async fn handle(state: Rc<ShardState>, request: Dict) -> CliAnswer {
    let mut request = match parse(request) {
        Ok(r) => r,
        Err(message) => return CliAnswer::failed(0, message),
    };
    if state.catalog().contains_key(&request.volname) {
        return CliAnswer::failed(0, format!("Volume {} already exists", request.volname));
    }
    let volume_id = Uuid::new_v4();
    let username = Uuid::new_v4();
    let password = Uuid::new_v4();
    request.dict.set_str("transport.address-family", "inet");
    request.dict.set_str("volume-id", &volume_id.to_string());
    request
        .dict
        .set_str("internal-username", &username.to_string());
    request
        .dict
        .set_str("internal-password", &password.to_string());
    let run = state
        .run_on(CHANGE_SHARD, move |change_state| async move {
            let op = CreateOp::new(
                change_state.clone(),
                request,
                [volume_id, username, password],
            );
            run_create(change_state, op).await
        })
        .await;
    match run {
        Ok(answer) => answer,
        Err(e) => CliAnswer::failed(0, e.to_string()),
    }
}

/// A peer's create, as this node takes part in it: the request and the ids the originator
/// chose (`volume-id`, `internal-username`, `internal-password`).
pub fn participant_op(state: Rc<ShardState>, dict: Dict) -> Result<Box<dyn Operation>, TxnError> {
    let id = |key: &str| {
        dict.get_str(key)
            .ok()
            .and_then(|v| Uuid::parse(v.trim()).ok())
            .ok_or_else(|| TxnError::new(format!("the create names no {key}")))
    };
    let (volume_id, username, password) = (
        id("volume-id")?,
        id("internal-username")?,
        id("internal-password")?,
    );
    let request = parse(dict).map_err(TxnError::new)?;
    Ok(Box::new(CreateOp::new(
        state,
        request,
        [volume_id, username, password],
    )))
}

async fn run_create(state: Rc<ShardState>, mut op: CreateOp) -> CliAnswer {
    let txn = TxnInfo {
        id: Uuid::new_v4(),
        originator: state.node.node.uuid(),
        op: OP_CREATE_VOLUME,
        locks: vec![volume_lock(&op.request.volname)],
        lease: lease_for(op.request.timeout),
    };
    let peers = super::remote::participants(&state);
    let remote: Vec<&dyn Participant> = peers.iter().map(|p| p as &dyn Participant).collect();
    let local = LocalNode {
        state: state.clone(),
    };
    match txn::run(
        &txn,
        &local,
        &remote,
        &mut super::local_node::AfterLock(&mut op),
    )
    .await
    {
        Ok(mut dict) => {
            dict.set_bin("transaction_id", txn.id.as_bytes());
            dict.set_bin("originator_uuid", txn.originator.as_bytes());
            dict.set_u32("is_synctasked", 1);
            CliAnswer {
                op_ret: 0,
                op_errno: 0,
                op_errstr: String::new(),
                dict,
            }
        }
        Err((phase, e)) => {
            tracing::info!(volume = %op.request.volname, ?phase, error = %e.message, "volume create failed");
            CliAnswer::failed(e.errno, e.message)
        }
    }
}

struct CreateOp {
    state: Rc<ShardState>,
    request: CreateRequest,
    volume_id: Uuid,
    username: Uuid,
    password: Uuid,
    report: Option<Report>,
    /// Per brick, the file-system id (`statvfs`) of its path and of its parent, read with the
    /// stage's probe: the brick file's `brick-fsid` is the path's, or the parent's when the
    /// claim will make the directory.
    fsids: Vec<(Option<u64>, Option<u64>)>,
    /// Other nodes' bricks' mount dirs, by brick number (1-based, `brick<N>.mount_dir`), from
    /// their stage answers (or the originator's commit dict, on a participant).
    mount_dirs: std::collections::BTreeMap<usize, String>,
}

impl CreateOp {
    /// A create of `request` with its ids: the volume's, and its internal user and password.
    fn new(
        state: Rc<ShardState>,
        request: CreateRequest,
        [volume_id, username, password]: [Uuid; 3],
    ) -> CreateOp {
        CreateOp {
            state,
            request,
            volume_id,
            username,
            password,
            report: None,
            fsids: Vec::new(),
            mount_dirs: Default::default(),
        }
    }

    /// Takes the `brick<N>.mount_dir` pairs of `dict` for bricks that are not this node's.
    fn merge_mount_dirs(&mut self, dict: &Dict) {
        let count = self.request.bricks.len();
        for n in 1..=count {
            let local = self
                .report
                .as_ref()
                .and_then(|r| r.bricks.get(n - 1))
                .is_some_and(|b| b.is_local());
            if local {
                continue;
            }
            if let Ok(dir) = dict.get_str(&format!("brick{n}.mount_dir")) {
                self.mount_dirs.insert(n, dir.to_string());
            }
        }
    }

    fn engine(&self) -> Result<Engine, TxnError> {
        self.state.node.engine.clone().ok_or_else(|| {
            TxnError::new("the brick engine (io_uring) is not available on this node")
        })
    }

    fn group(&self) -> Option<(GroupKind, usize)> {
        match self.request.volume_type {
            VolumeType::Replicate => Some((GroupKind::Replicate, self.request.replica as usize)),
            VolumeType::Disperse => Some((GroupKind::Disperse, self.request.disperse as usize)),
            _ => None,
        }
    }

    fn wants_lvm(&self) -> bool {
        self.request.bricks.iter().any(|b| b.contains('?'))
    }

    async fn stage_here(&mut self) -> Result<Dict, TxnError> {
        let volname = &self.request.volname;
        if self.state.catalog().contains_key(volname) {
            return Err(TxnError::new(format!("Volume {volname} already exists")));
        }
        let engine = self.engine()?;
        let lvm = if self.wants_lvm() {
            lvm_client(&self.state)
        } else {
            None
        };
        let node = &self.state.node;
        let hosts = self.state.host_map();
        let catalog = self.state.catalog();
        // Read-only like the probe, and sent with it (one wake of the engine for both).
        let fsids = join_all(self.request.bricks.iter().map(|text| {
            let engine = engine.clone();
            async move {
                let Ok(spec) = crate::brick::spec::BrickSpec::parse(text) else {
                    return (None, None);
                };
                let path = Path::new(&spec.path);
                let parent = path.parent().unwrap_or(path);
                let (own, above) =
                    futures_util::future::join(engine.statvfs(path), engine.statvfs(parent)).await;
                (own.ok().map(|s| s.fsid), above.ok().map(|s| s.fsid))
            }
        }));
        let request = Request {
            volname: volname.clone(),
            volume_id: self.volume_id,
            bricks: self.request.bricks.clone(),
            group: self.group(),
            force: self.request.force,
            check_order: true,
        };
        let pool = node.peers.load();
        let peers = pool.stored();
        let connected: Vec<_> = pool
            .peers
            .iter()
            .filter(|p| p.connected)
            .map(|p| p.peer.uuid)
            .collect();
        let validated = validate::validate(
            Env {
                engine: &engine,
                lvm: lvm.as_ref(),
                hosts: &hosts,
                peers: &peers,
                connected: &connected,
                workdir: &node.workdir,
                existing: &*catalog,
            },
            &request,
        );
        let (report, fsids) = futures_util::future::join(validated, fsids).await;
        self.fsids = fsids;
        if !report.is_ok() {
            return Err(TxnError::new(report.message()));
        }
        let mut answer = Dict::new();
        for (i, b) in report.bricks.iter().enumerate() {
            if let (true, Some(dir)) = (b.is_local(), &b.mount_dir) {
                answer.set_str(&format!("brick{}.mount_dir", i + 1), dir);
            }
        }
        self.report = Some(report);
        Ok(answer)
    }

    fn targets(&self) -> Vec<ClaimTarget> {
        self.report
            .iter()
            .flat_map(|r| r.bricks.iter())
            .filter(|b| b.is_local())
            .filter_map(|b| {
                b.spec.as_ref().map(|s| ClaimTarget {
                    host: s.host.clone(),
                    path: s.path.clone(),
                    vg: s.vg.clone(),
                })
            })
            .collect()
    }

    /// The journal record of this create: the bricks (what existed, the ids a forced claim
    /// replaces, volume groups), the node (its volfiles are rendered from the store files as
    /// this node renders them) and every store file with its bytes.
    fn record(&self, txn: &TxnInfo, op: &str, files: &[(PathBuf, Vec<u8>)]) -> Record {
        let mut pairs = vec![(
            NODE_UUID_PAIR.to_string(),
            self.state.node.node.uuid().to_string(),
        )];
        // A bound node names its address in its brick volfiles: start-up renders them alike.
        if let Some(address) = self.state.node.processes.bind_address {
            pairs.push((NODE_BIND_PAIR.to_string(), address.to_string()));
        }
        let before = self
            .report
            .iter()
            .flat_map(|r| r.bricks.iter())
            .filter(|b| b.is_local() && b.spec.is_some())
            .map(|b| {
                let previous = match b.levels.first().map(|l| &l.volume_id) {
                    Some(validate::XattrState::Present(v)) => Some(v.clone()),
                    _ => None,
                };
                (b.exists, previous)
            });
        for (i, (t, (existed, previous))) in self.targets().iter().zip(before).enumerate() {
            pairs.push((format!("brick-{i}"), t.path.clone()));
            // Whether the directory was there before: undoing removes only what the claim made.
            pairs.push((format!("brick-{i}.existed"), u8::from(existed).to_string()));
            // The id a forced claim replaces: redo may replace it, undo puts it back.
            if let (true, Some(previous)) = (self.request.force, previous) {
                pairs.push((
                    format!("brick-{i}.previous-volume-id"),
                    claim::hex(&previous),
                ));
            }
            if let Some(vg) = &t.vg {
                pairs.push((format!("brick-{i}.vg"), vg.clone()));
            }
        }
        let workdir = &self.state.node.workdir;
        let files = if op == "create" {
            files
                .iter()
                .map(|(path, bytes)| {
                    let rel = path.strip_prefix(workdir).unwrap_or(path);
                    (rel.to_string_lossy().into_owned(), bytes.clone())
                })
                .collect()
        } else {
            Vec::new()
        };
        Record {
            seq: 0,
            txn: txn.id,
            op: op.into(),
            volname: self.request.volname.clone(),
            volume_id: self.volume_id,
            pairs,
            files,
        }
    }

    /// The volume as glusterd 10.3 stores a new one (tests/fixtures/workdirs/glusterd-10.3).
    async fn volume(&self, engine: &Engine) -> Result<Volume, TxnError> {
        let req = &self.request;
        let Some(report) = &self.report else {
            return Err(TxnError::new("commit without stage"));
        };
        let me = self.state.node.node.uuid();
        let mut bricks = Vec::with_capacity(report.bricks.len());
        for (i, b) in report.bricks.iter().enumerate() {
            let Some(spec) = &b.spec else {
                return Err(TxnError::new(format!("brick {} did not parse", b.text)));
            };
            let fsid = if b.is_local() {
                // Before the claim a new brick directory does not exist yet: the claim makes it
                // in its parent, on the parent's file system.
                let path = Path::new(&spec.path);
                let (on, read) = match self.fsids.get(i) {
                    Some(&(own, _)) if b.exists => (path, own),
                    Some(&(_, above)) => (path.parent().unwrap_or(path), above),
                    None => (path, None),
                };
                match read {
                    Some(fsid) => fsid,
                    // Not read with the stage (it failed then): once more, for its error.
                    None => {
                        engine
                            .statvfs(on)
                            .await
                            .map_err(|e| TxnError::new(format!("statvfs {}: {e}", on.display())))?
                            .fsid
                    }
                }
            } else {
                0
            };
            let owner = match &b.owner {
                Some(crate::brick::host::HostOwner::Peer(peer)) => *peer,
                _ => me,
            };
            let mount_dir = match &b.mount_dir {
                Some(dir) if b.is_local() => dir.clone(),
                _ => self.mount_dirs.get(&(i + 1)).cloned().unwrap_or_default(),
            };
            bricks.push(Brick {
                uuid: owner,
                hostname: spec.host.clone(),
                path: spec.path.clone(),
                real_path: spec.path.clone(),
                brick_id: format!("{}-client-{}", req.volname, client_index(req, i)),
                mount_dir,
                brick_fsid: fsid,
                vg: spec.vg.clone().unwrap_or_default(),
                ..Brick::default()
            });
        }
        let (replica, disperse, redundancy, client_op_version) = match req.volume_type {
            VolumeType::Replicate => (req.replica, 0, 0, 30800),
            VolumeType::Disperse => (1, req.disperse, req.redundancy, 30600),
            _ => (1, 0, 0, 2),
        };
        let leaf = match req.volume_type {
            VolumeType::Replicate => req.replica,
            VolumeType::Disperse => req.disperse,
            _ => 1,
        };
        let mut options: Extra = Vec::new();
        if req.volume_type == VolumeType::Replicate {
            options.push(("cluster.granular-entry-heal".into(), "on".into()));
        }
        options.push(("storage.fips-mode-rchecksum".into(), "on".into()));
        options.push(("transport.address-family".into(), "inet".into()));
        options.push(("nfs.disable".into(), "on".into()));
        if req.volume_type == VolumeType::Replicate {
            options.push(("performance.client-io-threads".into(), "off".into()));
        }
        // glusterd keeps no node, mount dir or file-system id for the thin-arbiter brick; its
        // id is the first set's thin-arbiter client's (set below).
        let thin_arbiter_brick = req.thin_arbiter.as_ref().map(|spec| Brick {
            uuid: Uuid::NIL,
            hostname: spec.host.clone(),
            path: spec.path.clone(),
            real_path: spec.path.clone(),
            ..Brick::default()
        });
        let mut volume = Volume {
            volume_type: req.volume_type,
            thin_arbiter_count: u32::from(thin_arbiter_brick.is_some()),
            thin_arbiter_brick,
            brick_count: bricks.len() as u32,
            sub_count: if leaf > 1 { leaf } else { 0 },
            replica_count: replica,
            arbiter_count: req.arbiter,
            disperse_count: disperse,
            redundancy_count: redundancy,
            transport: req.transport,
            username: Some(self.username.to_string()),
            password: Some(self.password.to_string()),
            op_version: 40000,
            client_op_version,
            options,
            bricks,
            ..Volume::new_distribute(req.volname.clone(), self.volume_id)
        };
        let first_id = volume.thin_arbiter_id(0);
        if let Some(brick) = &mut volume.thin_arbiter_brick {
            brick.brick_id = first_id;
        }
        Ok(volume)
    }

    async fn commit_here(&mut self, txn: &TxnInfo) -> Result<Dict, TxnError> {
        let engine = self.engine()?;
        let lvm = if self.wants_lvm() {
            lvm_client(&self.state)
        } else {
            None
        };
        let workdir = self.state.node.workdir.clone();
        let started = std::time::Instant::now();
        let volume = self.volume(&engine).await?;
        let mut files = Store::new(&workdir)
            .volume_files(&volume)
            .map_err(|e| TxnError::new(e.to_string()))?;
        // The commit point: once the record is durable, a crash is redone at start-up. The
        // journal's thread hands the claim's syscalls to the quick lane right after the flush
        // (no hand-off back here and out again between them); the volfiles are rendered on
        // this thread meanwhile.
        let me = self.state.node.node.uuid();
        let targets = self.targets();
        let (claimed_tx, claimed_rx) = futures_channel::oneshot::channel();
        let script = claim::claim_script(self.volume_id, targets.clone(), self.request.force);
        let quick = engine.clone();
        let then: Then = Box::new(move || {
            // From the journal's thread straight to the quick lane: a brick file system that
            // hangs holds up claims, never the journal (every change's commit point).
            let _queued = quick.script(Lane::Quick, move || {
                // Tests kill, fail or pause here: the record is durable, nothing is claimed.
                let ran = failpoints::pass_on_thread("create.after-journal").map(|()| script());
                let _ = claimed_tx.send(ran);
                Ok(())
            });
        });
        let commit = Commit::new(self.record(txn, "create", &files));
        let (appended, rendered) =
            futures_util::future::join(commit.journal(&self.state, &engine, Some(then)), async {
                volfile_files(
                    &workdir,
                    &volume,
                    me,
                    self.state.node.processes.bind_address,
                )
            })
            .await;
        let journaled = started.elapsed();
        let mut ticket = match appended {
            Ok(ticket) => ticket,
            Err(NotJournaled::Refused(e)) => return Err(e),
            Err(NotJournaled::Failed(e)) => {
                // The follow-up (the claim) runs only after a flush that worked, so after a
                // failed one nothing was claimed. ("journal writer gone", the writer task
                // dropped at shutdown, may come after a claim: the abort below makes start-up
                // undo it.) The record may have reached the disk even so: say the create
                // failed, durably if the disk still lets us, so start-up does not redo it.
                let _ = commit.abort(&self.state, &engine).await;
                return Err(TxnError::new(format!(
                    "Failed to write the journal record: {e}"
                )));
            }
        };
        for t in &targets {
            ticket.touched(&t.path);
        }
        // The claim was queued before the append answered.
        let ran = claimed_rx
            .await
            .unwrap_or_else(|_| Err("the claim did not run".to_string()));
        let mut record = ClaimRecord::default();
        let result = match rendered {
            Ok(mut volfiles) => {
                // Written in this order: the volfiles, then the store files with `cksum` last.
                volfiles.append(&mut files);
                files = volfiles;
                self.apply(&engine, lvm.as_ref(), volume, &targets, ran, &mut record)
                    .await
            }
            Err(e) => {
                // The claim is undone below with the rest.
                if let Ok(done) = self.claimed(&engine, lvm.as_ref(), &targets, ran).await {
                    record = done;
                }
                Err(e)
            }
        };
        tracing::debug!(
            volume = %self.request.volname,
            journal_us = journaled.as_micros() as u64,
            claim_publish_us = (started.elapsed() - journaled).as_micros() as u64,
            "create commit"
        );
        let Err(error) = result else {
            // The store files: queued on the engine's store lane now, written after the reply
            // (a delete of the volume meanwhile cancels or waits for them). The journal
            // record, durable already, holds their bytes: it is retired only once they are
            // written, and redone at start-up if they never were.
            let name = self.request.volname.clone();
            let vols = workdir.join(crate::store::layout::VOLS_DIR);
            let dir = crate::store::layout::volume_dir(&workdir, &name);
            let bricks = dir.join(crate::store::layout::BRICKS_DIR);
            let dirs = vec![vols, dir, bricks];
            commit::write_after_reply(
                &self.state,
                &engine,
                commit.op(),
                &name,
                files,
                Files::New { dirs },
                ticket,
            );
            return Ok(self.request.dict.clone());
        };
        // Undo what was done, newest first, then say so durably: start-up must not redo it.
        let mut message = error.message;
        if let Err(failures) = claim::rollback(&engine, lvm.as_ref(), &record).await {
            message.push_str(&format!("\nrollback failed: {}", failures.join("; ")));
        }
        let aborted = commit.abort(&self.state, &engine).await;
        if let Err(e) = aborted {
            message.push_str(&format!("\nthe abort was not journaled: {e}"));
        }
        ticket.done();
        Err(TxnError {
            errno: error.errno,
            message,
            refused: true,
        })
    }

    /// The claim's outcome once its syscalls ran on the quick lane (`ran`; an error if they
    /// did not): the volume-group tags, and on failure everything undone already.
    async fn claimed(
        &self,
        engine: &Engine,
        lvm: Option<&LvmClient>,
        targets: &[ClaimTarget],
        ran: Result<claim::ScriptResults, String>,
    ) -> Result<ClaimRecord, TxnError> {
        let results = match ran {
            Ok(results) => Ok(results),
            // A failpoint failed it before any syscall.
            Err(message) => return Err(TxnError::new(message)),
        };
        claim::finish_claim(engine, lvm, self.volume_id, targets, results)
            .await
            .map_err(|e| {
                // The claim rolled itself back.
                let mut message = e.messages.join("\n");
                for failure in &e.rollback_failures {
                    message.push_str(&format!("\nrollback failed: {failure}"));
                }
                TxnError::new(message)
            })
    }

    /// The changes of a journaled create before its reply: the claim's outcome, catalog. None
    /// of it waits for the disk (the journal record is the durable part). Fills `record` with
    /// the claim's steps, for the undo.
    async fn apply(
        &mut self,
        engine: &Engine,
        lvm: Option<&LvmClient>,
        volume: Volume,
        targets: &[ClaimTarget],
        ran: Result<claim::ScriptResults, String>,
        record: &mut ClaimRecord,
    ) -> Result<(), TxnError> {
        *record = self.claimed(engine, lvm, targets, ran).await?;
        failpoints::pass("create.after-claim").await?;
        let shared = std::sync::Arc::new(volume);
        // glusterd tells every connected client to fetch its volfile again.
        self.state.change_catalog_and_notify(|c| {
            c.insert(shared.clone());
        });
        if let Err(e) = failpoints::pass("create.after-publish").await {
            self.state.change_catalog(|c| {
                c.remove(&shared.name);
            });
            return Err(e);
        }
        Ok(())
    }
}

impl Operation for CreateOp {
    fn stage<'a>(&'a mut self, _txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(self.stage_here())
    }

    fn merge_stage(&mut self, answers: Vec<(Uuid, Dict)>) {
        // Each peer answers the mount dirs of its own bricks (this node's are in the report).
        for (_, answer) in answers {
            self.merge_mount_dirs(&answer);
        }
    }

    fn brick_op<'a>(&'a mut self, _txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
        Box::pin(async { Ok(()) })
    }

    fn commit<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(self.commit_here(txn))
    }

    fn peer_dict(&self) -> Dict {
        // The request, with every mount dir known so far (the originator's own with the
        // stage, every node's with the commit), as glusterd sends it.
        let mut dict = self.request.dict.clone();
        // A glusterd participant's commit fails without it ("Unable to get port"); glusterd
        // originators send the old brick base port.
        dict.set_str("port", LEGACY_BRICK_PORT);
        let local = self.report.iter().flat_map(|r| r.bricks.iter().enumerate());
        for (i, b) in local {
            if let (true, Some(dir)) = (b.is_local(), &b.mount_dir) {
                dict.set_str(&format!("brick{}.mount_dir", i + 1), dir);
            }
        }
        for (n, dir) in &self.mount_dirs {
            dict.set_str(&format!("brick{n}.mount_dir"), dir);
        }
        dict
    }

    fn undo(&self) -> Option<(u32, Box<dyn Operation + '_>)> {
        // The delete of the volume, as the CLI asks for one: it releases the bricks' claims
        // on the nodes that made them.
        let mut dict = Dict::new();
        dict.set_str("volname", &self.request.volname);
        let delete = super::volume_delete::participant_op(self.state.clone(), dict).ok()?;
        Some((super::volume_delete::OP_DELETE_VOLUME, delete))
    }
}

/// The `port` a glusterd originator puts in a create's op dict (glusterd's old brick base port,
/// `GF_IANA_PRIV_PORTS_START`-era 24009); its participants read it at commit.
const LEGACY_BRICK_PORT: &str = "24009";

/// The pair of a create's journal record that names the node whose volfiles it renders.
pub const NODE_UUID_PAIR: &str = "node-uuid";
/// The pair that names the address that node was bound to, if any (its brick volfiles name it).
pub const NODE_BIND_PAIR: &str = "node-bind-address";

/// A new volume's volfiles ([`volfiles`]) with their paths in its store directory.
pub fn volfile_files(
    workdir: &Path,
    volume: &Volume,
    me: Uuid,
    bind: Option<std::net::IpAddr>,
) -> Result<Vec<(PathBuf, Vec<u8>)>, TxnError> {
    let dir = crate::store::layout::volume_dir(workdir, &volume.name);
    Ok(volfiles(volume, workdir, me, bind)?
        .into_iter()
        .map(|(name, text)| (dir.join(name), text.into_bytes()))
        .collect())
}

/// The volfiles glusterd writes at create: one per brick (every brick, as this node writes
/// it), the two FUSE client volfiles, and the daemons' (gfproxy, rebalance, self-heal;
/// `volgen::extra_volfiles`). A node bound to an address (`bind`) names it in every brick
/// volfile, as a bound glusterd does.
pub fn volfiles(
    volume: &Volume,
    workdir: &Path,
    me: Uuid,
    bind: Option<std::net::IpAddr>,
) -> Result<Vec<(String, String)>, TxnError> {
    render_volfiles(volume, workdir, me, bind)
        .map_err(|e| TxnError::new(format!("volfile of {}: {e}", volume.name)))
}

/// [`volfiles`], with volgen's error as it is.
pub fn render_volfiles(
    volume: &Volume,
    workdir: &Path,
    me: Uuid,
    bind: Option<std::net::IpAddr>,
) -> Result<Vec<(String, String)>, volgen::VolgenError> {
    let fail = |e: volgen::VolgenError| e;
    let mut files = Vec::with_capacity(volume.bricks.len() + 6);
    for i in 0..volume.bricks.len() {
        let text = volgen::brick_volfile_for_node(volume, i, workdir, &me).map_err(fail)?;
        let text = match bind {
            Some(address) => volgen::with_bind_address(&text, &address.to_string()),
            None => text,
        };
        files.push((volgen::brick_volfile_name(volume, i).map_err(fail)?, text));
    }
    for trusted in [false, true] {
        files.push((
            volgen::client_volfile_name(volume, trusted),
            volgen::client_volfile(volume, trusted).map_err(fail)?,
        ));
    }
    // The daemons' volfiles glusterd writes with them (gfproxy, rebalance, self-heal).
    files.extend(volgen::extra_volfiles(volume).map_err(fail)?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli_dict(pairs: &[(&str, &str)]) -> Dict {
        let mut d = Dict::new();
        for (k, v) in pairs {
            d.set_str(k, v);
        }
        d
    }

    #[test]
    fn parses_what_the_cli_sends_for_each_type() {
        let base = [
            ("cmd-str", "volume create vx h:/b/x1 h:/b/x2"),
            ("force", "0"),
            ("count", "2"),
            ("bricks", " h:/b/x1 h:/b/x2 "),
            ("transport", "tcp"),
            ("type", "0"),
            ("volname", "vx"),
        ];
        let r = parse(cli_dict(&base)).unwrap();
        assert_eq!(r.bricks, ["h:/b/x1", "h:/b/x2"]);
        assert_eq!((r.volume_type, r.force), (VolumeType::Distribute, false));
        let mut arb = base.to_vec();
        arb.extend([
            ("type", "2"),
            ("count", "3"),
            ("bricks", " h:/a h:/b h:/c "),
        ]);
        arb.extend([
            ("replica-count", "3"),
            ("arbiter-count", "1"),
            ("force", "1"),
        ]);
        let r = parse(cli_dict(&arb)).unwrap();
        assert_eq!((r.replica, r.arbiter, r.force), (3, 1, true));
        let mut disp = base.to_vec();
        disp.extend([
            ("type", "4"),
            ("count", "3"),
            ("bricks", " h:/a h:/b h:/c "),
        ]);
        disp.extend([("disperse-count", "3"), ("redundancy-count", "1")]);
        let r = parse(cli_dict(&disp)).unwrap();
        assert_eq!((r.disperse, r.redundancy), (3, 1));
    }

    #[test]
    fn refuses_missing_keys_bad_counts_and_names() {
        let ok = [
            ("force", "0"),
            ("count", "1"),
            ("bricks", " h:/b/x1 "),
            ("transport", "tcp"),
            ("type", "0"),
            ("volname", "vx"),
        ];
        for (drop, message) in [
            ("volname", "Unable to get volume name"),
            ("count", "Unable to get brick count for volume vx"),
            ("type", "Unable to get type of volume vx"),
            ("transport", "Unable to get transport-type of volume vx"),
            ("bricks", "Unable to get bricks for volume vx"),
            ("force", "Unable to get the force option"),
        ] {
            let pairs: Vec<_> = ok.iter().copied().filter(|(k, _)| *k != drop).collect();
            assert_eq!(parse(cli_dict(&pairs)).unwrap_err(), message);
        }
        let mut wrong = ok.to_vec();
        wrong.push(("count", "2"));
        assert!(parse(cli_dict(&wrong))
            .unwrap_err()
            .contains("Incorrect number"));
        let mut name = ok.to_vec();
        name.push(("volname", "a/b"));
        assert!(parse(cli_dict(&name)).unwrap_err().contains("not valid"));
        let mut rep = ok.to_vec();
        rep.extend([("type", "2"), ("replica-count", "2")]);
        assert!(parse(cli_dict(&rep)).unwrap_err().contains("set size of 2"));
        // A thin arbiter: replica 2 only, one brick, a count of 1.
        let pair = [("count", "2"), ("bricks", " h:/a h:/b "), ("type", "2")];
        let mut ta = ok.to_vec();
        ta.extend(pair);
        ta.extend([("replica-count", "2"), ("thin-arbiter-count", "1")]);
        ta.push(("ta-brick", " t:/ta// "));
        let request = parse(cli_dict(&ta)).unwrap();
        assert_eq!(request.thin_arbiter.unwrap().host_path(), "t:/ta");
        assert_eq!(request.bricks, ["h:/a", "h:/b"]);
        for (key, value, message) in [
            ("ta-brick", "  ", "The thin-arbiter brick is empty"),
            ("ta-brick", " t ", "Wrong brick type: t,"),
            ("ta-brick", " t:/ta?vg ", "Wrong brick type"),
            (
                "thin-arbiter-count",
                "2",
                "Thin-arbiter count 2 is not valid",
            ),
            (
                "thin-arbiter-count",
                "-1",
                "Thin-arbiter count -1 is not valid",
            ),
            (
                "thin-arbiter-count",
                "x",
                "Thin-arbiter count x is not valid",
            ),
            ("replica-count", "3", "must be replica 2"),
            ("arbiter-count", "1", "must be replica 2"),
        ] {
            let mut bad = ta.clone();
            if key == "replica-count" {
                bad.extend([("count", "3"), ("bricks", " h:/a h:/b h:/c ")]);
            }
            bad.push((key, value));
            let error = parse(cli_dict(&bad)).unwrap_err();
            assert!(error.contains(message), "{key}={value}: {error}");
        }
        // What the CLI sometimes sends: garbage from a buffer it did not clear, then the brick.
        let mut garbage = Dict::new();
        for (k, v) in &ta {
            garbage.set_str(k, v);
        }
        garbage.set_bin("ta-brick", b"X\x11\xff t:/ta ");
        assert_eq!(
            parse(garbage).unwrap().thin_arbiter.unwrap().host_path(),
            "t:/ta"
        );
        let mut no_brick = ta.clone();
        no_brick.retain(|(k, _)| *k != "ta-brick");
        assert_eq!(
            parse(cli_dict(&no_brick)).unwrap_err(),
            "Unable to get the thin-arbiter brick"
        );
        // Without a count, glusterd does not look at `ta-brick`.
        let mut count_zero = ta.clone();
        count_zero.push(("thin-arbiter-count", "0"));
        assert!(parse(cli_dict(&count_zero)).unwrap().thin_arbiter.is_none());
        // Negative and oversized numbers are refused, never wrapped.
        for (key, value) in [
            ("count", "-1"),
            ("count", "99999999999999999999"),
            ("type", "-2"),
        ] {
            let mut bad = ok.to_vec();
            bad.push((key, value));
            assert!(parse(cli_dict(&bad)).is_err(), "{key}={value}");
        }
        let mut neg = ok.to_vec();
        neg.extend([("type", "2"), ("replica-count", "-3")]);
        assert!(parse(cli_dict(&neg)).unwrap_err().contains("set size of 0"));
        let many = " h:/b".repeat(CREATE_BRICKS_MAX + 1);
        let mut huge = ok.to_vec();
        let count = (CREATE_BRICKS_MAX + 1).to_string();
        huge.extend([("bricks", many.as_str()), ("count", count.as_str())]);
        assert!(parse(cli_dict(&huge))
            .unwrap_err()
            .contains("Incorrect number"));
    }
}
