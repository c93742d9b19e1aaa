//! `volume start` (START_VOLUME, CLI proc 8) and `volume stop` (STOP_VOLUME, proc 9), with
//! glusterd's mgmt v3 shape and messages (docs/glusterd-volume-start.md §3).
//!
//! Start: lock `<name>_vol` → pre-validate (the volume exists and is not started unless
//! `force`; each local brick's directory is there and carries this volume's id — `force`
//! lets a missing id pass and puts it back, never a wrong one) → brick-op (every local brick
//! that is not up is started, in parallel, and waited for until it signed in; if one fails
//! the ones started are stopped again and the start fails naming the brick and the reason
//! from its log) → commit through `ops::commit` (status 1, version + 1, each brick's
//! `listen-port`) → unlock. A `start force` of a started volume restarts the bricks that are
//! down and writes only their new ports (the version stays), as glusterd does.
//!
//! Stop: lock → pre-validate (exists; started unless `force`) → commit (status 2,
//! version + 1; the brick files keep their last port) → every local brick stopped (SIGTERM,
//! SIGKILL after the timeout; never left running) → unlock. A crash after the commit is
//! finished at start-up: brick processes of a volume that is not started are stopped there.

use super::bricks;
use super::commit::{self, VolumeChange};
use super::local_node::run_volume_txn;
use super::shard::{ShardState, CHANGE_SHARD};
use super::volume_create::CliAnswer;
use crate::brick::engine::SetMode;
use crate::brick::validate::{strerror, VOLUME_ID_XATTR};
use crate::cluster::txn::{LocalFuture, Operation, TxnError, TxnInfo};
use crate::model::{Uuid, Volume, VolumeStatus};
use crate::proto::dict::Dict;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

/// `GD_OP_START_VOLUME`.
pub const OP_START_VOLUME: u32 = 5;
/// `GD_OP_STOP_VOLUME`.
pub const OP_STOP_VOLUME: u32 = 6;
/// `GF_CLI_FLAG_OP_FORCE`.
const FLAG_FORCE: u32 = 1;

/// Start or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `volume start`.
    Start,
    /// `volume stop`.
    Stop,
}

/// Answers a START_VOLUME or STOP_VOLUME request.
pub async fn handle(state: Rc<ShardState>, request: Dict, action: Action) -> CliAnswer {
    let Ok(volname) = request.get_str("volname").map(str::to_owned) else {
        return CliAnswer::failed(0, "Failed to get volume name");
    };
    let force = request
        .get_u32("flags")
        .or_else(|_| request.get_str("flags").map(|f| f.parse().unwrap_or(0)))
        .unwrap_or(0)
        & FLAG_FORCE
        != 0;
    let timeout = request.get_str("timeout").ok().and_then(|v| v.parse().ok());
    let run = state
        .run_on(CHANGE_SHARD, move |change_state| async move {
            let mut op = StartStopOp {
                state: change_state.clone(),
                volname,
                force,
                action,
                dict: request,
                missing_ids: Vec::new(),
                started: Vec::new(),
                already_started: false,
            };
            let op_number = match action {
                Action::Start => OP_START_VOLUME,
                Action::Stop => OP_STOP_VOLUME,
            };
            let volname = op.volname.clone();
            run_volume_txn(change_state, op_number, &volname, timeout, &mut op).await
        })
        .await;
    run.unwrap_or_else(|e| CliAnswer::failed(0, e.to_string()))
}

/// A peer's start or stop, as this node takes part in it.
pub fn participant_op(
    state: Rc<ShardState>,
    dict: Dict,
    action: Action,
) -> Result<Box<dyn Operation>, TxnError> {
    let volname = dict
        .get_str("volname")
        .map(str::to_owned)
        .map_err(|_| TxnError::new("Failed to get volume name"))?;
    let force = dict
        .get_u32("flags")
        .or_else(|_| dict.get_str("flags").map(|f| f.trim().parse().unwrap_or(0)))
        .unwrap_or(0)
        & FLAG_FORCE
        != 0;
    Ok(Box::new(StartStopOp {
        state,
        volname,
        force,
        action,
        dict,
        missing_ids: Vec::new(),
        started: Vec::new(),
        already_started: false,
    }))
}

struct StartStopOp {
    state: Rc<ShardState>,
    volname: String,
    force: bool,
    action: Action,
    dict: Dict,
    /// Local bricks whose volume-id is missing (a forced start puts it back).
    missing_ids: Vec<String>,
    /// Bricks this start brought up (stopped again if the start fails after them).
    started: Vec<bricks::Started>,
    /// A forced start of a started volume.
    already_started: bool,
}

impl StartStopOp {
    fn volume(&self) -> Result<Arc<Volume>, TxnError> {
        self.state
            .catalog()
            .get(&self.volname)
            .cloned()
            .ok_or_else(|| TxnError::new(format!("Volume {} does not exist", self.volname)))
    }

    async fn stage_here(&mut self) -> Result<Dict, TxnError> {
        let volume = self.volume()?;
        let started = volume.status == VolumeStatus::Started;
        match self.action {
            Action::Stop => {
                if !started && !self.force {
                    return Err(TxnError::new(format!(
                        "Volume {} is not in the started state",
                        self.volname
                    )));
                }
                return Ok(Dict::new());
            }
            Action::Start if started && !self.force => {
                return Err(TxnError::new(format!(
                    "Volume {} already started",
                    self.volname
                )));
            }
            Action::Start => self.already_started = started,
        }
        let Some(engine) = self.state.node.engine.clone() else {
            return Err(TxnError::new(
                "the brick engine (io_uring) is not available on this node",
            ));
        };
        self.missing_ids.clear();
        for brick in bricks::local_bricks(&self.state, &volume) {
            if self.already_started
                && bricks::is_online(&self.state, &volume.name, &brick.path).is_some()
            {
                continue;
            }
            let path = Path::new(&brick.path);
            let fd = match engine.open_dir(None, path).await {
                Ok(fd) => fd,
                Err(e) => {
                    return Err(TxnError::new(format!(
                        "Failed to find brick directory {} for volume {}. Reason : {}",
                        brick.path,
                        self.volname,
                        strerror(e.raw_os_error().unwrap_or(libc::EIO))
                    )))
                }
            };
            match engine.fgetxattr(&fd, VOLUME_ID_XATTR, 64).await {
                Ok(id) if id.as_slice() == volume.volume_id.as_bytes() => {}
                Ok(id) => {
                    let found = <[u8; 16]>::try_from(id.as_slice())
                        .map(|b| Uuid::from_bytes(b).to_string())
                        .unwrap_or_else(|_| crate::brick::claim::hex(&id));
                    return Err(TxnError::new(format!(
                        "Volume id mismatch for brick {}. Expected volume id {}, volume id {} found",
                        brick.name(),
                        volume.volume_id,
                        found
                    )));
                }
                Err(e) if e.raw_os_error() == Some(libc::ENODATA) && self.force => {
                    self.missing_ids.push(brick.path.clone());
                }
                Err(e) => {
                    return Err(TxnError::new(format!(
                        "Failed to get extended attribute {VOLUME_ID_XATTR} for brick dir {}. Reason : {}",
                        brick.path,
                        strerror(e.raw_os_error().unwrap_or(libc::EIO))
                    )))
                }
            }
        }
        Ok(Dict::new())
    }

    async fn brick_op_here(&mut self, txn: &TxnInfo) -> Result<(), TxnError> {
        if self.action == Action::Stop {
            return Ok(());
        }
        let volume = self.volume()?;
        if let Some(engine) = self.state.node.engine.clone() {
            // glusterd's `start force` puts a missing volume-id back.
            for path in std::mem::take(&mut self.missing_ids) {
                let set = async {
                    let fd = engine.open_dir(None, Path::new(&path)).await?;
                    engine
                        .fsetxattr(
                            &fd,
                            VOLUME_ID_XATTR,
                            volume.volume_id.as_bytes(),
                            SetMode::Create,
                        )
                        .await
                };
                match set.await {
                    Ok(()) => tracing::info!(brick = %path, "volume-id put back (start force)"),
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                    Err(e) => {
                        return Err(TxnError::new(format!(
                            "Failed to set extended attribute {VOLUME_ID_XATTR} on brick dir {path}. Reason : {}",
                            strerror(e.raw_os_error().unwrap_or(libc::EIO))
                        )))
                    }
                }
            }
        }
        let (up, failed) = bricks::start_bricks(&self.state, &volume).await;
        self.started = up;
        if failed.is_empty() {
            // Tests kill here: bricks run, the volume is not started in the store (start-up
            // stops them).
            return super::failpoints::pass("start.after-bricks").await;
        }
        if !self.already_started {
            // All or nothing: the bricks that came up go down again.
            let _ = bricks::stop_bricks(&self.state, &volume).await;
            self.started.clear();
        }
        if self.already_started && !self.started.is_empty() {
            // The bricks that came back stay up: store their ports, then say what failed.
            let _ = self.commit_start(txn, &volume).await;
        }
        Err(TxnError::new(format!(
            "Failed to start {} of volume {}:\n{}",
            if failed.len() == 1 {
                "a brick"
            } else {
                "bricks"
            },
            self.volname,
            failed.join("\n")
        )))
    }

    async fn commit_start(&mut self, txn: &TxnInfo, volume: &Volume) -> Result<(), TxnError> {
        let mut next = volume.clone();
        let mut changed = false;
        for s in &self.started {
            if let Some(b) = next
                .bricks
                .iter_mut()
                .find(|b| b.path == s.path && b.uuid == self.state.node.node.uuid())
            {
                changed |= b.listen_port != u32::from(s.port);
                b.listen_port = u32::from(s.port);
            }
        }
        if self.already_started {
            if !changed {
                return Ok(());
            }
        } else {
            next.status = VolumeStatus::Started;
            next.version += 1;
        }
        commit::commit(
            &self.state,
            txn,
            VolumeChange {
                op: "start",
                volume: next,
                volfiles: false,
            },
        )
        .await
    }

    async fn commit_here(&mut self, txn: &TxnInfo) -> Result<Dict, TxnError> {
        let volume = self.volume()?;
        match self.action {
            Action::Start => {
                if let Err(e) = self.commit_start(txn, &volume).await {
                    if !self.already_started {
                        let _ = bricks::stop_bricks(&self.state, &volume).await;
                    }
                    return Err(e);
                }
            }
            Action::Stop => {
                let mut next = Volume::clone(&volume);
                next.status = VolumeStatus::Stopped;
                next.version += 1;
                commit::commit(
                    &self.state,
                    txn,
                    VolumeChange {
                        op: "stop",
                        volume: next,
                        volfiles: false,
                    },
                )
                .await?;
                // Stopped in the store: from here a crash stops the bricks at start-up.
                let problems = bricks::stop_bricks(&self.state, &volume).await;
                if !problems.is_empty() {
                    return Err(TxnError::new(format!(
                        "Volume {} is stopped, but:\n{}",
                        self.volname,
                        problems.join("\n")
                    )));
                }
            }
        }
        Ok(self.dict.clone())
    }
}

impl Operation for StartStopOp {
    fn stage<'a>(&'a mut self, _txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(self.stage_here())
    }

    fn merge_stage(&mut self, _answers: Vec<(Uuid, Dict)>) {}

    fn brick_op<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
        Box::pin(self.brick_op_here(txn))
    }

    fn commit<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(self.commit_here(txn))
    }

    fn peer_dict(&self) -> Dict {
        super::local_node::with_volume_id(&self.state, &self.volname, &self.dict)
    }
}
