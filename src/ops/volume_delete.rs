//! `volume delete` (DELETE_VOLUME, CLI proc 7): glusterd's checks, and — unlike glusterd — the
//! bricks are released, so they can be used again at once.
//!
//! Transaction: lock `<name>_vol` → stage (the volume exists and is not started) → commit →
//! unlock. The commit appends a journal record (durable: the commit point); right after its
//! flush the journal's thread queues the move of `vols/<name>` out of the store (one rename on
//! the store lane, then the tree is deleted) and that script queues the release of each local
//! brick on the quick lane: `trusted.glusterfs.volume-id` removed if it is still this
//! volume's (a brick that carries another id is left alone and named in the log). Then the
//! volume is unpublished and the bricks with a volume group lose its tag (the LVM helper).
//! None of that waits for the disk; a crash after the record is finished at start-up
//! (`recover`): every step is idempotent.

use super::engine_io;
use super::failpoints;
use super::journal::Then;
use super::local_node::LocalNode;
use super::shard::{ShardState, CHANGE_SHARD};
use super::volume_create::{lvm_client, CliAnswer};
use crate::brick::claim::{self, ReleaseRequest};
use crate::brick::engine::Lane;
use crate::cluster::locks::{lease_for, volume_lock};
use crate::cluster::txn::{self, LocalFuture, Operation, Participant, TxnError, TxnInfo};
use crate::model::{Uuid, VolumeStatus};
use crate::proto::dict::Dict;
use crate::store::journal::Record;
use std::rc::Rc;

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
            let txn = TxnInfo {
                id: Uuid::new_v4(),
                originator: change_state.node.node.uuid,
                op: OP_DELETE_VOLUME,
                locks: vec![volume_lock(&op.volname)],
                lease: lease_for(timeout),
            };
            let local = LocalNode {
                state: change_state.clone(),
            };
            let participants: [&dyn Participant; 1] = [&local];
            match txn::run(&txn, &participants, &mut op).await {
                Ok(dict) => CliAnswer {
                    op_ret: 0,
                    op_errno: 0,
                    op_errstr: String::new(),
                    dict,
                },
                Err((_, e)) => CliAnswer::failed(e.errno, e.message),
            }
        })
        .await;
    run.unwrap_or_else(|e| CliAnswer::failed(0, e.to_string()))
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
        let me = self.state.node.node.uuid;
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
        failpoints::pass("delete.before-journal").await?;
        // What says, should the delete fail before changing anything, that start-up must not
        // finish it.
        let abort = Record {
            op: "abort-delete".into(),
            ..record.clone()
        };
        // The commit point: once the record is durable, a crash is finished at start-up. The
        // journal's thread queues the move to the trash on the store lane right after the
        // flush, and that script queues the bricks' release on the quick lane: one hand-off
        // each, and none back here in between.
        let (moved_tx, moved_rx) = futures_channel::oneshot::channel();
        let (released_tx, released_rx) = futures_channel::oneshot::channel();
        let plain: Vec<ReleaseRequest> = local
            .iter()
            .filter(|(_, vg)| vg.is_none())
            .map(|(path, _)| release_request(path, volume.volume_id, None))
            .collect();
        let (store, quick) = (engine.clone(), engine.clone());
        let (name, tag) = (self.volname.clone(), txn.id.to_string());
        let then: Then = Box::new(move || {
            let _queued = store.script(Lane::Store, move || {
                // An error armed here stands for a failed move to the trash.
                let moved = failpoints::pass_on_thread("delete.after-journal")
                    .map_err(std::io::Error::other)
                    .and_then(|()| engine_io::trash_volume(&workdir, &name, &tag));
                let go_on = moved.is_ok();
                let _ = moved_tx.send(moved);
                if go_on {
                    // A brick file system that hangs holds up the quick lane, never the store's.
                    let _queued = quick.script(Lane::Quick, move || {
                        let released: Vec<_> = plain.iter().map(claim::release_files).collect();
                        let _ = released_tx.send(released);
                        Ok(())
                    });
                }
                Ok(())
            });
        });
        let appended = self
            .state
            .journal
            .append_then(&engine, record, Some(then))
            .await;
        let mut ticket = match appended {
            Ok(ticket) => ticket,
            Err(e) => {
                // The record may have reached the disk even so: say the delete failed, durably
                // if the disk still lets us, so start-up does not finish it.
                let _ = self.state.journal.append_abort(&engine, abort).await;
                return Err(TxnError::new(format!(
                    "Failed to write the journal record: {e}"
                )));
            }
        };
        for (path, _) in &local {
            ticket.touched(path);
        }
        let moved = moved_rx
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("the move to the trash did not run")));
        if let Err(e) = moved {
            // Nothing was changed; say so durably, or start-up would finish the delete the
            // client was told failed.
            let mut message = format!(
                "Failed to remove volume {} from the store: {e}",
                self.volname
            );
            if let Err(e) = self.state.journal.append_abort(&engine, abort).await {
                message.push_str(&format!("\nthe abort was not journaled: {e}"));
            }
            ticket.done();
            return Err(TxnError::new(message));
        }
        // The move is done, and the release queued after it. From here the delete only goes
        // forward (a crash is finished at start-up), so only a kill or a pause means anything
        // at the failpoints.
        let released = released_rx.await;
        let _ = failpoints::pass("delete.after-store").await;
        self.state.change_catalog(|c| {
            c.remove(&self.volname);
        });
        let mut redo = false;
        let mut problems: Vec<String> = match released {
            Ok(released) => released
                .into_iter()
                .zip(local.iter().filter(|(_, vg)| vg.is_none()))
                .filter_map(|(r, (path, _))| r.err().map(|e| format!("{path}: {e}")))
                .collect(),
            Err(_) => {
                // The engine dropped the script (stopping): start-up redoes the release.
                redo = true;
                vec!["the bricks' release did not run; start-up redoes it".into()]
            }
        };
        let grouped: Vec<_> = local
            .iter()
            .filter(|(_, vg)| vg.is_some())
            .cloned()
            .collect();
        if !grouped.is_empty() {
            problems.extend(release_bricks(&self.state, volume.volume_id, &grouped).await);
        }
        for problem in &problems {
            tracing::warn!(volume = %self.volname, problem = %problem, "brick not released");
        }
        if redo {
            ticket.keep();
        } else {
            ticket.done();
        }
        Ok(self.dict.clone())
    }
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
}
