//! `volume delete` (DELETE_VOLUME, CLI proc 7): glusterd's checks, and — unlike glusterd — the
//! bricks are released, so they can be used again at once.
//!
//! Transaction: lock `<name>_vol` → stage (the volume exists and is not started) → commit →
//! unlock. The commit appends a journal record (durable: the commit point); right after its
//! flush the journal's thread queues, as one script on the quick lane, the move of
//! `vols/<name>` out of the store (one rename, then the tree is deleted by the trash thread)
//! and the release of each local brick (when the volume's create queued its store files after
//! its reply and they are not written yet, the script first cancels them; if they are being
//! written, it hands the move and the release to the store lane, behind them: none may land
//! after the move): `trusted.glusterfs.volume-id` removed if
//! it is still this
//! volume's (a brick that carries another id is left alone and named in the log). Then the
//! volume is unpublished and the bricks with a volume group lose its tag (the LVM helper).
//! None of that waits for the disk; a crash after the record is finished at start-up
//! (`recover`): every step is idempotent.

use super::commit::{Commit, NotJournaled};
use super::engine_io;
use super::failpoints;
use super::journal::Then;
use super::local_node::run_volume_txn;
use super::shard::{Settled, ShardState, StoreFiles, CHANGE_SHARD};
use super::volume_create::{lvm_client, CliAnswer};
use crate::brick::claim::{self, ReleaseRequest};
use crate::brick::engine::Lane;
use crate::cluster::txn::{LocalFuture, Operation, TxnError, TxnInfo};
use crate::model::{Uuid, VolumeStatus};
use crate::proto::dict::Dict;
use crate::store::journal::Record;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `GD_OP_DELETE_VOLUME`.
pub const OP_DELETE_VOLUME: u32 = 4;

/// Answers a DELETE_VOLUME request.
pub async fn handle(state: Rc<ShardState>, request: Dict) -> CliAnswer {
    let Ok(volname) = request.get_str("volname").map(str::to_owned) else {
        return CliAnswer::failed(0, "Failed to get volume name");
    };
    let timeout = request.get_str("timeout").ok().and_then(|v| v.parse().ok());
    let run = state
        .run_on(CHANGE_SHARD, move |change_state| async move {
            let mut op = DeleteOp {
                state: change_state.clone(),
                volname,
                dict: request,
            };
            let volname = op.volname.clone();
            run_volume_txn(change_state, OP_DELETE_VOLUME, &volname, timeout, &mut op).await
        })
        .await;
    run.unwrap_or_else(|e| CliAnswer::failed(0, e.to_string()))
}

/// A peer's delete, as this node takes part in it.
pub fn participant_op(state: Rc<ShardState>, dict: Dict) -> Result<Box<dyn Operation>, TxnError> {
    let volname = dict
        .get_str("volname")
        .map(str::to_owned)
        .map_err(|_| TxnError::new("Failed to get volume name"))?;
    Ok(Box::new(DeleteOp {
        state,
        volname,
        dict,
    }))
}

struct DeleteOp {
    state: Rc<ShardState>,
    volname: String,
    dict: Dict,
}

impl DeleteOp {
    fn stage_here(&self) -> Result<Dict, TxnError> {
        let Some(volume) = self.state.catalog().get(&self.volname).cloned() else {
            return Err(TxnError::new(format!(
                "Volume {} does not exist",
                self.volname
            )));
        };
        if volume.status == VolumeStatus::Started {
            return Err(TxnError::new(format!(
                "Volume {} has been started.Volume needs to be stopped before deletion.",
                self.volname
            )));
        }
        Ok(Dict::new())
    }

    async fn commit_here(&mut self, txn: &TxnInfo) -> Result<Dict, TxnError> {
        let Some(volume) = self.state.catalog().get(&self.volname).cloned() else {
            return Err(TxnError::new(format!(
                "Volume {} does not exist",
                self.volname
            )));
        };
        let workdir = self.state.node.workdir.clone();
        let me = self.state.node.node.uuid();
        let local: Vec<(String, Option<String>)> = volume
            .bricks
            .iter()
            .filter(|b| b.uuid == me)
            .map(|b| (b.path.clone(), (!b.vg.is_empty()).then(|| b.vg.clone())))
            .collect();
        let mut pairs = Vec::new();
        for (i, (path, vg)) in local.iter().enumerate() {
            pairs.push((format!("brick-{i}"), path.clone()));
            if let Some(vg) = vg {
                pairs.push((format!("brick-{i}.vg"), vg.clone()));
            }
        }
        let record = Record {
            seq: 0,
            txn: txn.id,
            op: "delete".into(),
            volname: self.volname.clone(),
            volume_id: volume.volume_id,
            pairs,
            files: Vec::new(),
        };
        let Some(engine) = self.state.node.engine.clone() else {
            return Err(TxnError::new(
                "the brick engine (io_uring) is not available on this node",
            ));
        };
        // The record, and (`Commit::abort`) what says, should the delete fail before changing
        // anything, that start-up must not finish it.
        let commit = Commit::new(record);
        // The commit point: once the record is durable, a crash is finished at start-up. Right
        // after the flush the journal's thread queues the move to the trash and the bricks'
        // release, in that order, as one script on the quick lane: one hand-off, and one
        // answer back here at the end. If the volume's create queued its store files after its
        // reply and they are not written yet, the script cancels them first (there is then
        // nothing to move); if they are being written, it queues the move and the release on
        // the store lane, behind them, rather than hold up the quick lane.
        let (done_tx, done_rx) = futures_channel::oneshot::channel();
        // Set once the move is done: tells a release that never answered from a move that
        // never ran.
        let moved = Arc::new(AtomicBool::new(false));
        let plain: Vec<ReleaseRequest> = local
            .iter()
            .filter(|(_, vg)| vg.is_none())
            .map(|(path, _)| release_request(path, volume.volume_id, None))
            .collect();
        let pending = self.state.pending_store_files(&self.volname);
        let (lanes, background) = (engine.clone(), engine.background());
        let (name, tag, moved_flag) = (self.volname.clone(), txn.id.to_string(), moved.clone());
        // The move (unless `ready` failed) and the release, on whichever lane runs it.
        let work = move |ready: std::io::Result<()>| {
            let trashed =
                ready.and_then(|()| engine_io::trash_volume(&workdir, &name, &tag, &background));
            if let Err(e) = trashed {
                let _ = done_tx.send(AfterFlush::NotMoved(e));
                return Ok(());
            }
            moved_flag.store(true, Ordering::Release);
            // Tests kill or pause here: moved, nothing released.
            let _ = failpoints::pass_on_thread("delete.after-move");
            let released = plain.iter().map(claim::release_files).collect();
            let _ = done_tx.send(AfterFlush::Released(released));
            Ok(())
        };
        let then: Then = Box::new(move || {
            let store = lanes.clone();
            let _queued = lanes.script(Lane::Quick, move || {
                // An error armed here stands for a failed move to the trash (nothing is
                // cancelled then).
                let ready = failpoints::pass_on_thread("delete.after-journal")
                    .map_err(std::io::Error::other);
                if ready.is_ok() {
                    // Every one settled (no short cut): none may land after the move.
                    let settled: Vec<Settled> =
                        pending.iter().map(StoreFiles::try_cancel).collect();
                    // Tests wait here: the create's pending files are cancelled, or found
                    // being written (the move is then queued behind them), or written.
                    let _ = failpoints::pass_on_thread("delete.after-settle");
                    if settled.contains(&Settled::Writing) {
                        // The store lane is running them: a script queued there now runs
                        // right after them.
                        let _queued = store.script(Lane::Store, move || work(Ok(())));
                        return Ok(());
                    }
                }
                work(ready)
            });
        });
        let appended = match commit.journal(&self.state, &engine, Some(then)).await {
            Err(NotJournaled::Refused(e)) => return Err(e),
            Err(NotJournaled::Failed(e)) => Err(e),
            Ok(ticket) => Ok(ticket),
        };
        let ticket = match appended {
            Ok(mut ticket) => {
                for (path, _) in &local {
                    ticket.touched(path);
                }
                Some(ticket)
            }
            Err(e) if !moved.load(Ordering::Acquire) => {
                // The follow-up runs only after a flush that worked; it may still be on its
                // way (an append can fail after it, when the writer goes): its answer says.
                let after = done_rx.await;
                if !matches!(after, Ok(AfterFlush::Released(_))) && !moved.load(Ordering::Acquire) {
                    // Nothing was changed. The record may have reached the disk even so: say
                    // the delete failed, durably if the disk still lets us, so start-up does
                    // not finish it.
                    let _ = commit.abort(&self.state, &engine).await;
                    return Err(TxnError::new(format!(
                        "Failed to write the journal record: {e}"
                    )));
                }
                // Moved: the flush had made the record durable, and the journal file it is in
                // is kept for start-up (the batch failed after it); go forward.
                return self
                    .finish(volume.volume_id, &local, after.ok(), None)
                    .await;
            }
            // Moved already, so the record was durable: go forward (start-up redoes the rest).
            Err(_) => None,
        };
        let after = done_rx.await.ok();
        let not_moved = match &after {
            Some(AfterFlush::NotMoved(e)) => Some(e.to_string()),
            // The move's script was dropped without running (a lane gone).
            None if !moved.load(Ordering::Acquire) => {
                Some("the move to the trash did not run".to_string())
            }
            _ => None,
        };
        if let Some(why) = not_moved {
            // Nothing was changed; say so durably, or start-up would finish the delete the
            // client was told failed.
            let mut message = format!(
                "Failed to remove volume {} from the store: {why}",
                self.volname
            );
            if let Err(e) = commit.abort(&self.state, &engine).await {
                message.push_str(&format!("\nthe abort was not journaled: {e}"));
            }
            if let Some(ticket) = ticket {
                ticket.done();
            }
            return Err(TxnError::new(message));
        }
        self.finish(volume.volume_id, &local, after, ticket).await
    }

    /// The rest of a delete whose move to the trash is done (it only goes forward from here;
    /// a crash is finished at start-up, so only a kill or a pause means anything at the
    /// failpoint): the bricks with a volume group released, the volume unpublished, the
    /// commit ended — kept for start-up if the plain bricks' release never answered.
    async fn finish(
        &mut self,
        volume_id: Uuid,
        local: &[(String, Option<String>)],
        after: Option<AfterFlush>,
        ticket: Option<super::journal::Ticket>,
    ) -> Result<Dict, TxnError> {
        let _ = failpoints::pass("delete.after-store").await;
        let (mut problems, redo) = match after {
            Some(AfterFlush::Released(released)) => (
                released
                    .into_iter()
                    .zip(local.iter().filter(|(_, vg)| vg.is_none()))
                    .filter_map(|(r, (path, _))| r.err().map(|e| format!("{path}: {e}")))
                    .collect::<Vec<_>>(),
                false,
            ),
            // The release's script never answered (a lane's thread died): start-up redoes it.
            _ => (
                vec!["the bricks' release did not run; start-up redoes it".to_string()],
                true,
            ),
        };
        let grouped: Vec<_> = local
            .iter()
            .filter(|(_, vg)| vg.is_some())
            .cloned()
            .collect();
        if !grouped.is_empty() {
            problems.extend(release_bricks(&self.state, volume_id, &grouped).await);
        }
        // After every brick's release, as for the plain ones: while the volume is listed, a
        // create cannot take one of its bricks.
        self.state.change_catalog(|c| {
            c.remove(&self.volname);
        });
        for problem in &problems {
            tracing::warn!(volume = %self.volname, problem = %problem, "brick not released");
        }
        match ticket {
            Some(ticket) if redo => ticket.keep(),
            Some(ticket) => ticket.done(),
            None => {}
        }
        Ok(self.dict.clone())
    }
}

/// What a delete's follow-up scripts did, answered once.
enum AfterFlush {
    /// The move to the trash failed: nothing changed.
    NotMoved(std::io::Error),
    /// Moved, and each plain brick's release (in order).
    Released(Vec<Result<claim::ReleaseReport, claim::ReleaseError>>),
}

/// Releases each brick of volume `volume_id` (volume-id xattr and VG tag); what could not be
/// released, one line each. Idempotent: a brick already released is fine.
pub async fn release_bricks(
    state: &ShardState,
    volume_id: Uuid,
    bricks: &[(String, Option<String>)],
) -> Vec<String> {
    let Some(engine) = state.node.engine.clone() else {
        return vec!["the brick engine (io_uring) is not available".into()];
    };
    let lvm = if bricks.iter().any(|(_, vg)| vg.is_some()) {
        lvm_client(state)
    } else {
        None
    };
    let mut problems = Vec::new();
    for (path, vg) in bricks {
        let request = release_request(path, volume_id, vg.clone());
        if let Err(e) = claim::release(&engine, lvm.as_ref(), &request).await {
            problems.push(format!("{path}: {e}"));
        }
    }
    problems
}

/// What a delete (or its redo) releases on brick `path`: the volume-id if it is `volume_id`'s,
/// and `vg`'s tag; not synced (the journal's retirement syncs it).
fn release_request(path: &str, volume_id: Uuid, vg: Option<String>) -> ReleaseRequest {
    ReleaseRequest {
        path: path.to_string(),
        volume_id,
        remove_gfid: false,
        vg,
        sync: false,
    }
}

impl Operation for DeleteOp {
    fn stage<'a>(&'a mut self, _txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        let result = self.stage_here();
        Box::pin(async move { result })
    }

    fn merge_stage(&mut self, _answers: Vec<(Uuid, Dict)>) {}

    fn brick_op<'a>(&'a mut self, _txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
        Box::pin(async { Ok(()) })
    }

    fn commit<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(self.commit_here(txn))
    }

    fn peer_dict(&self) -> Dict {
        super::local_node::with_volume_id(&self.state, &self.volname, &self.dict)
    }
}
