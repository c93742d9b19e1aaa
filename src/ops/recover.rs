//! Start-up recovery: every record left in the commit journal (`store::journal`) is redone, in
//! sequence order, before brickd loads its workdir, so the store and the bricks hold the state
//! each record's commit was making — or, for a create that failed and said so, the state
//! before it. Never a mix.
//!
//! A record is left when brickd stopped before the journal was retired: the commit may have
//! got anywhere after its append (the client may have had its answer), or it may have
//! finished with its changes not yet synced. Redoing is idempotent:
//!
//! | record | what happens |
//! |---|---|
//! | create | each brick claimed (directory, volume-id unless it is already this volume's, `.glusterfs`, VG tag); every store file rewritten from the record, synced. A brick that carries another volume's id (one the record did not replace) means the brick went elsewhere since: the create is undone instead |
//! | abort (a create that failed) | the create undone: `vols/<v>` removed if it is this volume's; each brick released if it carries this volume's id, directories the claim made removed if empty, a replaced id put back, VG tags removed |
//! | delete | `vols/<v>` removed if it is this volume's; each brick released if it carries this volume's id |
//! | delete, then abort-delete (its move to the trash failed, nothing changed) | nothing |
//! | start, stop (`ops::commit`) | every store file of the record rewritten, if `vols/<v>` is still this volume's |
//! | start, then abort-start (the append failed) | nothing |
//!
//! Then every touched file system is synced and the journal removed.

use super::volume_create::{volfile_files, NODE_BIND_PAIR, NODE_UUID_PAIR};
use crate::brick::claim::{self, BrickFailure, ClaimTarget, IdRule, ReleaseError, ReleaseRequest};
use crate::brick::engine::{Engine, Lane, SetMode};
use crate::brick::validate::VOLUME_ID_XATTR;
use crate::lvm::{volume_tag, LvmClient};
use crate::model::Uuid;
use crate::store::journal::{self, Record};
use crate::store::{layout, write_atomic, Store, StoreError};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What recovery did with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The record's transaction.
    pub txn: String,
    /// `create v1: redone`, `create v1: undone`, …
    pub outcome: String,
    /// Steps that could not be done (left for the operator, named).
    pub problems: Vec<String>,
}

/// A brick a record names.
struct BrickEntry {
    path: String,
    vg: Option<String>,
    existed: bool,
    previous: Option<String>,
}

fn bricks(record: &Record) -> Vec<BrickEntry> {
    let mut out = Vec::new();
    for i in 0.. {
        let Some(path) = record.get(&format!("brick-{i}")) else {
            break;
        };
        out.push(BrickEntry {
            path: path.to_string(),
            vg: record.get(&format!("brick-{i}.vg")).map(str::to_owned),
            existed: record.get(&format!("brick-{i}.existed")) != Some("0"),
            previous: record
                .get(&format!("brick-{i}.previous-volume-id"))
                .map(str::to_owned),
        });
    }
    out
}

/// Does any record name a volume group (so recovery needs the LVM helper)?
pub fn needs_lvm(records: &[Record]) -> bool {
    records
        .iter()
        .any(|r| bricks(r).iter().any(|b| b.vg.is_some()))
}

/// The volume-id in `vols/<name>/info`, if the file is there and says one.
fn stored_volume_id(workdir: &Path, name: &str) -> Option<Uuid> {
    let info = layout::volume_dir(workdir, name).join(layout::VOLUME_INFO);
    let text = std::fs::read_to_string(info).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("volume-id="))
        .and_then(|v| Uuid::parse(v.trim()).ok())
}

/// Removes `vols/<name>` if it is volume `id`'s (or has no readable id: a store step cut
/// short by the record's own commit).
fn remove_store(workdir: &Path, record: &Record, problems: &mut Vec<String>) {
    let dir = layout::volume_dir(workdir, &record.volname);
    if !dir.exists() {
        return;
    }
    match stored_volume_id(workdir, &record.volname) {
        Some(id) if id != record.volume_id => {}
        _ => {
            if let Err(e) =
                Store::new(workdir).remove_volume(&record.volname, &record.txn.to_string())
            {
                problems.push(e.to_string());
            }
        }
    }
}

async fn volume_id_on(engine: &Engine, path: &str) -> std::io::Result<Option<Vec<u8>>> {
    let fd = engine.open_dir(None, Path::new(path)).await?;
    match engine.fgetxattr(&fd, VOLUME_ID_XATTR, 64).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn release_all(
    engine: &Engine,
    lvm: Option<&LvmClient>,
    record: &Record,
    problems: &mut Vec<String>,
) {
    for brick in bricks(record) {
        let missing = !Path::new(&brick.path).exists();
        let request = ReleaseRequest {
            path: brick.path.clone(),
            volume_id: record.volume_id,
            remove_gfid: false,
            vg: brick.vg.clone(),
            sync: false,
        };
        match claim::release(engine, lvm, &request).await {
            Ok(_) => {}
            // Another volume's id: not ours to touch.
            Err(ReleaseError::WrongVolume { .. }) | Err(ReleaseError::WrongVolumeGroup { .. }) => {}
            Err(ReleaseError::Failed(_)) if missing => {}
            Err(e) => problems.push(format!("{}: {e}", brick.path)),
        }
    }
}

/// Undoes a create: its store, then on each brick that now carries no volume-id (this
/// volume's released, or never set) what the claim would have made, and a replaced id.
async fn undo_create(
    workdir: &Path,
    engine: &Engine,
    lvm: Option<&LvmClient>,
    record: &Record,
    problems: &mut Vec<String>,
) {
    remove_store(workdir, record, problems);
    release_all(engine, lvm, record, problems).await;
    for brick in bricks(record) {
        if !matches!(volume_id_on(engine, &brick.path).await, Ok(None)) {
            // Missing, unreadable, or another volume's brick: nothing of ours is left there.
            continue;
        }
        let path = Path::new(&brick.path);
        let _ = engine
            .unlinkat(None, &path.join(claim::GLUSTERFS_DIR), true)
            .await;
        if let Some(text) = &brick.previous {
            let Some(value) = claim::unhex(text) else {
                problems.push(format!(
                    "{}: unreadable previous volume-id {text:?}",
                    brick.path
                ));
                continue;
            };
            let restored = async {
                let fd = engine.open_dir(None, path).await?;
                engine
                    .fsetxattr(&fd, VOLUME_ID_XATTR, &value, SetMode::Create)
                    .await
            };
            match restored.await {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => problems.push(format!(
                    "{}: restoring the previous volume-id: {e}",
                    brick.path
                )),
            }
        } else if !brick.existed {
            // rmdir refuses a directory with content.
            let _ = engine.unlinkat(None, path, true).await;
        }
    }
}

/// Why redoing a claim stopped.
enum ClaimProblem {
    /// The brick carries another volume's id: the brick went elsewhere.
    Taken(String),
    /// Anything else (a brick file system not mounted, …): the volume stays, named.
    Failed(String),
}

async fn redo_claim(
    engine: &Engine,
    lvm: Option<&LvmClient>,
    record: &Record,
    brick: &BrickEntry,
) -> Result<(), ClaimProblem> {
    // The create's own claim core, with the redo rule for an id already there.
    let target = ClaimTarget {
        host: String::new(),
        path: brick.path.clone(),
        vg: brick.vg.clone(),
    };
    let rule = IdRule::Redo {
        previous: brick.previous.as_deref().and_then(claim::unhex),
    };
    let volume_id = record.volume_id;
    let ran = engine
        .script(Lane::Quick, move || {
            Ok(claim::claim_brick(volume_id, &target, &rule).1)
        })
        .await;
    match ran {
        Ok(Ok(())) => {}
        Ok(Err(BrickFailure::Taken(m))) => return Err(ClaimProblem::Taken(m)),
        // glusterd's texts name the brick only in some messages: always say which one.
        Ok(Err(BrickFailure::Failed(m))) => {
            return Err(ClaimProblem::Failed(format!("{}: {m}", brick.path)))
        }
        Err(e) => {
            return Err(ClaimProblem::Failed(format!(
                "{}: brick engine: {e}",
                brick.path
            )))
        }
    }
    match (&brick.vg, lvm) {
        (Some(vg), Some(lvm)) => {
            let tag = volume_tag(&record.volume_id.to_string());
            claim::add_tag(lvm, vg, &tag)
                .await
                .map(|_| ())
                .map_err(ClaimProblem::Failed)
        }
        (Some(_), None) => Err(ClaimProblem::Failed("LVM is not available".into())),
        (None, _) => Ok(()),
    }
}

/// Redoes a create; the outcome.
async fn redo_create(
    workdir: &Path,
    engine: &Engine,
    lvm: Option<&LvmClient>,
    record: &Record,
    problems: &mut Vec<String>,
) -> &'static str {
    for brick in bricks(record) {
        match redo_claim(engine, lvm, record, &brick).await {
            Ok(()) => {}
            Err(ClaimProblem::Failed(p)) => problems.push(p),
            Err(ClaimProblem::Taken(p)) => {
                problems.push(p);
                undo_create(workdir, engine, lvm, record, problems).await;
                return "undone (a brick belongs to another volume now)";
            }
        }
    }
    for (rel, bytes) in &record.files {
        let path = workdir.join(rel);
        let made = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(|e| StoreError::io("create the directory", &path, e))
            .and_then(|()| write_atomic(&path, bytes));
        if let Err(e) = made {
            problems.push(e.to_string());
        }
    }
    // The volfiles follow from the store files, rendered as the node that journaled the
    // create renders them.
    let node = record
        .pairs
        .iter()
        .find(|(k, _)| k == NODE_UUID_PAIR)
        .and_then(|(_, v)| Uuid::parse(v).ok());
    let has_volfiles = record.files.iter().any(|(rel, _)| rel.ends_with(".vol"));
    match node {
        // A record of an older brickd carries its volfiles, written above.
        _ if has_volfiles => {}
        Some(me) => {
            let rendered = Store::new(workdir)
                .load_volume(&record.volname)
                .map_err(|e| e.to_string())
                .and_then(|volume| {
                    let bind = record.get(NODE_BIND_PAIR).and_then(|a| a.parse().ok());
                    volfile_files(workdir, &volume, me, bind).map_err(|e| e.message)
                });
            match rendered {
                Ok(files) => {
                    for (path, bytes) in files {
                        if let Err(e) = write_atomic(&path, &bytes) {
                            problems.push(e.to_string());
                        }
                    }
                }
                Err(e) => problems.push(format!("volfiles not rendered: {e}")),
            }
        }
        None => problems.push(format!(
            "the record names no node ({NODE_UUID_PAIR}): volfiles not rendered"
        )),
    }
    "redone"
}

/// Redoes a change of a volume's stored state (`ops::commit`): every file of the record
/// rewritten, if the volume in the store is still the record's (a later delete, finished
/// already, leaves nothing to rewrite).
///
/// A record that also rewrites other volumes (a key glusterd sets on every volume) names each
/// with its id (`volume-id.<name>`): their files are rewritten while the store holds that
/// same volume, skipped if it was deleted (or deleted and made again) since.
fn redo_store_change(workdir: &Path, record: &Record, problems: &mut Vec<String>) -> &'static str {
    if stored_volume_id(workdir, &record.volname) != Some(record.volume_id) {
        return "nothing to redo (the volume is gone)";
    }
    let vols = format!("{}/", layout::VOLS_DIR);
    let mut still_there: std::collections::HashMap<&str, bool> = Default::default();
    for (rel, bytes) in &record.files {
        let owner = rel
            .strip_prefix(&vols)
            .and_then(|r| r.split('/').next())
            .unwrap_or(&record.volname);
        if owner != record.volname {
            let keep = *still_there.entry(owner).or_insert_with(|| {
                let pair = format!("{}{owner}", super::commit::OTHER_VOLUME_PAIR);
                let id = (record.pairs.iter())
                    .find(|(k, _)| *k == pair)
                    .and_then(|(_, v)| Uuid::parse(v).ok());
                id.is_some() && stored_volume_id(workdir, owner) == id
            });
            if !keep {
                continue;
            }
        }
        if let Err(e) = super::commit::replace_file(&workdir.join(rel), bytes) {
            problems.push(e.to_string());
        }
    }
    "redone"
}

/// Rewrites the files of a volume imported from a peer, or the node's `options` file (new or
/// updated: its files are all in the record, so there is nothing to check first).
fn redo_import(workdir: &Path, record: &Record, problems: &mut Vec<String>) -> &'static str {
    for (rel, bytes) in &record.files {
        if let Err(e) = super::commit::replace_file(&workdir.join(rel), bytes) {
            problems.push(e.to_string());
        }
    }
    "redone"
}

/// Redoes every record under `workdir`'s journal, syncs, and removes the journal.
pub async fn recover(
    workdir: &Path,
    engine: &Engine,
    lvm: Option<&LvmClient>,
    records: &[Record],
) -> Result<Vec<Recovered>, StoreError> {
    let aborted: BTreeSet<(&str, Uuid)> = records
        .iter()
        .filter_map(|r| match r.op.as_str() {
            "abort" => Some(("create", r.txn)),
            "abort-delete" => Some(("delete", r.txn)),
            other => other
                .strip_prefix("abort-")
                .filter(|op| super::commit::STORE_CHANGE_OPS.contains(op))
                .map(|op| (op, r.txn)),
        })
        .collect();
    // What a crash left in the trash first: a delete killed after its move, whose create is
    // redone below (its record still in the journal), moves `vols/<name>` to the same trash
    // name again.
    Store::new(workdir).empty_trash()?;
    let mut touched: Vec<PathBuf> = vec![workdir.to_path_buf()];
    let mut done = Vec::new();
    for record in records {
        let mut problems = Vec::new();
        touched.extend(bricks(record).into_iter().map(|b| PathBuf::from(b.path)));
        let outcome = match record.op.as_str() {
            // Undone where its abort record stands.
            "create" if aborted.contains(&("create", record.txn)) => continue,
            // It failed before changing anything, and said so.
            "delete" if aborted.contains(&("delete", record.txn)) => continue,
            "abort-delete" => continue,
            op if super::commit::STORE_CHANGE_OPS.contains(&op) => {
                if aborted.contains(&(op, record.txn)) {
                    continue;
                }
                if op == "import" || op == "global" {
                    redo_import(workdir, record, &mut problems)
                } else {
                    redo_store_change(workdir, record, &mut problems)
                }
            }
            op if op
                .strip_prefix("abort-")
                .is_some_and(|o| super::commit::STORE_CHANGE_OPS.contains(&o)) =>
            {
                continue
            }
            "create" => redo_create(workdir, engine, lvm, record, &mut problems).await,
            "abort" => {
                undo_create(workdir, engine, lvm, record, &mut problems).await;
                "undone (it had failed)"
            }
            "delete" => {
                remove_store(workdir, record, &mut problems);
                release_all(engine, lvm, record, &mut problems).await;
                "finished"
            }
            other => {
                problems.push(format!("unknown operation {other:?}: skipped"));
                "skipped"
            }
        };
        let op = if record.op == "abort" {
            "create"
        } else {
            record.op.as_str()
        };
        done.push(Recovered {
            txn: record.txn.to_string(),
            outcome: format!("{op} {}: {outcome}", record.volname),
            problems,
        });
    }
    super::journal::syncfs_all(&touched).map_err(|e| StoreError::io("sync", workdir, e))?;
    journal::clear(workdir)
        .map_err(|e| StoreError::io("remove the journal", journal::journal_dir(workdir), e))?;
    Store::new(workdir).empty_trash()?;
    Ok(done)
}
