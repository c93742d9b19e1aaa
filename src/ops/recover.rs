//! Start-up recovery: every intent record a crashed commit left is finished or undone before
//! brickd loads its workdir, so the store and the bricks hold the old state or the new state,
//! never a mix.
//!
//! | record | store | what happens |
//! |---|---|---|
//! | create, any stage | `vols/<v>/info` and `cksum` present (the store commit finished) | kept: the create is done |
//! | create, `begun` | incomplete or absent | partial `vols/<v>` removed; each brick released if it carries this volume's id (the claim may have got that far); VG tags removed |
//! | create, `claimed` | incomplete or absent | partial `vols/<v>` removed; the recorded claim steps rolled back exactly |
//! | delete | `vols/<v>` present | nothing was changed yet: the volume stays |
//! | delete | absent | finished: bricks released, trash emptied |

use super::volume_create::pairs_to_steps;
use crate::brick::claim::{self, ClaimRecord, ReleaseError, ReleaseRequest};
use crate::brick::engine::{Engine, SetMode};
use crate::lvm::LvmClient;
use crate::store::intent::{self, Intent};
use crate::store::{layout, Store, StoreError};
use std::path::Path;

/// What recovery did with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The record.
    pub txn: String,
    /// `create v1: finished`, `create v1: undone`, …
    pub outcome: String,
    /// Steps that could not be done (left for the operator, named).
    pub problems: Vec<String>,
}

/// The bricks (path, volume group) an intent names.
fn bricks(record: &Intent) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for i in 0.. {
        let key = format!("brick-{i}");
        let Some((_, path)) = record.pairs.iter().find(|(k, _)| *k == key) else {
            break;
        };
        let vg_key = format!("brick-{i}.vg");
        let vg = record
            .pairs
            .iter()
            .find(|(k, _)| *k == vg_key)
            .map(|(_, v)| v.clone());
        out.push((path.clone(), vg));
    }
    out
}

/// Does any intent under `workdir` name a volume group (so recovery needs the LVM helper)?
pub fn needs_lvm(workdir: &Path) -> Result<bool, StoreError> {
    Ok(intent::list(workdir)?
        .iter()
        .any(|r| bricks(r).iter().any(|(_, vg)| vg.is_some())))
}

async fn release_all(
    engine: &Engine,
    lvm: Option<&LvmClient>,
    record: &Intent,
    problems: &mut Vec<String>,
) {
    for (path, vg) in bricks(record) {
        // A brick directory the claim never made has nothing to release (its VG tag, if any,
        // is removed before the directory is opened).
        let missing = !Path::new(&path).exists();
        let request = ReleaseRequest {
            path: path.clone(),
            volume_id: record.volume_id,
            remove_gfid: false,
            vg,
        };
        match claim::release(engine, lvm, &request).await {
            Ok(_) => {}
            // Another volume's id: not ours to touch.
            Err(ReleaseError::WrongVolume { .. }) | Err(ReleaseError::WrongVolumeGroup { .. }) => {}
            Err(ReleaseError::Failed(_)) if missing => {}
            Err(e) => problems.push(format!("{path}: {e}")),
        }
    }
}

/// After a forced claim cut short: the volume-id it replaced goes back (only where the brick
/// now carries none, that is where `release_all` removed this volume's).
async fn restore_previous_ids(engine: &Engine, record: &Intent, problems: &mut Vec<String>) {
    for (i, (path, _)) in bricks(record).iter().enumerate() {
        let key = format!("brick-{i}.previous-volume-id");
        let Some((_, text)) = record.pairs.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        let Some(value) = claim::unhex(text) else {
            problems.push(format!("{path}: unreadable previous volume-id {text:?}"));
            continue;
        };
        let restored = async {
            let fd = engine.open_dir(None, Path::new(path)).await?;
            engine
                .fsetxattr(
                    &fd,
                    crate::brick::validate::VOLUME_ID_XATTR,
                    &value,
                    SetMode::Create,
                )
                .await
        };
        match restored.await {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => problems.push(format!("{path}: restoring the previous volume-id: {e}")),
        }
    }
}

/// After a claim cut short: `.glusterfs` if empty, and the brick directory if the intent says
/// it did not exist before and it is empty (rmdir refuses anything with content).
async fn remove_made_dirs(engine: &Engine, record: &Intent) {
    for (i, (path, _)) in bricks(record).iter().enumerate() {
        let brick = Path::new(path);
        let _ = engine.unlinkat(None, &brick.join(".glusterfs"), true).await;
        let key = format!("brick-{i}.existed");
        let existed = record
            .pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(true, |(_, v)| v != "0");
        if !existed {
            let _ = engine.unlinkat(None, brick, true).await;
        }
    }
}

/// Finishes or undoes every intent record under `workdir`.
pub async fn recover(
    workdir: &Path,
    engine: &Engine,
    lvm: Option<&LvmClient>,
) -> Result<Vec<Recovered>, StoreError> {
    let store = Store::new(workdir);
    let mut done = Vec::new();
    for record in intent::list(workdir)? {
        let vol_dir = layout::volume_dir(workdir, &record.volname);
        // Complete: every file the intent lists (records without a list: info and cksum).
        let listed: Vec<&str> = record
            .pairs
            .iter()
            .filter(|(k, _)| k.starts_with("file-"))
            .map(|(_, v)| v.as_str())
            .collect();
        let complete = vol_dir.join(layout::VOLUME_INFO).exists()
            && vol_dir.join(layout::CKSUM).exists()
            && listed.iter().all(|rel| workdir.join(rel).exists());
        let mut problems = Vec::new();
        let outcome = match record.op.as_str() {
            "create" if complete => "finished (the store was written)",
            "create" => {
                if vol_dir.exists() {
                    store.remove_volume(&record.volname, &record.txn.to_string())?;
                }
                if record.stage == "claimed" {
                    match pairs_to_steps(&record.pairs) {
                        Ok(steps) => {
                            if let Err(failures) =
                                claim::rollback(engine, lvm, &ClaimRecord { steps }).await
                            {
                                problems.extend(failures);
                            }
                        }
                        Err(e) => {
                            problems.push(format!("unreadable claim record ({e}); released by id"));
                            release_all(engine, lvm, &record, &mut problems).await;
                        }
                    }
                } else {
                    // The claim may have got part of the way: release by id, then remove
                    // what it would have made if it is still empty.
                    release_all(engine, lvm, &record, &mut problems).await;
                    remove_made_dirs(engine, &record).await;
                    restore_previous_ids(engine, &record, &mut problems).await;
                }
                "undone"
            }
            "delete" if vol_dir.exists() => "undone (the volume was never removed)",
            "delete" => {
                release_all(engine, lvm, &record, &mut problems).await;
                "finished (bricks released)"
            }
            other => {
                problems.push(format!("unknown operation {other:?}: record left in place"));
                done.push(Recovered {
                    txn: record.txn.to_string(),
                    outcome: format!("{other} {}: left", record.volname),
                    problems,
                });
                continue;
            }
        };
        if problems.is_empty() {
            intent::remove(workdir, record.txn)?;
        }
        done.push(Recovered {
            txn: record.txn.to_string(),
            outcome: format!("{} {}: {outcome}", record.op, record.volname),
            problems,
        });
    }
    store.empty_trash()?;
    Ok(done)
}
