//! The one commit path of every change of stored state (create, delete, start, stop; option
//! set and reset next): the journal record and its failpoints ([`Commit::journal`]), the
//! abort record of a change that failed ([`Commit::abort`]), and the store files written after
//! the reply ([`write_after_reply`]). What an op does around them (a create's claim, a
//! delete's move and release) is its own; how a change becomes durable, how it says it failed
//! and how its files reach the store is this module's, the same for all.
//!
//! A change of an existing volume's stored state ([`commit`]: start, stop) is the whole path:
//!
//! 1. `<op>.before-journal` (a failpoint): nothing is changed yet.
//! 2. The record (`op`, the volume, and each store file's bytes) is appended and flushed:
//!    the commit point. If the append fails, an `abort-<op>` record says so (start-up then
//!    does not redo it) and the change fails.
//! 3. `<op>.after-journal`: the record is durable, nothing else changed. A crash from here on
//!    is redone at start-up (`ops::recover`): the files are rewritten from the record.
//! 4. The next catalog is published (with FETCHSPEC to every client when the volfiles change).
//! 5. The store files are queued on the engine's store lane and the reply goes out; each file
//!    is replaced by a rename (never half-written). `<op>.after-store` once they are written;
//!    the record is retired once a background pass has synced them.
//!
//! A delete of the volume cancels the files while they are queued, or waits for them while
//! they are being written (`ShardState::store_writing`), as it does for a create's.
//!
//! A create claims its bricks between its record and its files, and a delete moves its store
//! to the trash and releases its bricks after its record (both as the record's follow-up on
//! the journal's thread, `Then`); they use the same three pieces.

use super::failpoints;
use super::journal::{Then, Ticket};
use super::shard::{ShardState, StoreFiles, StoreWriting};
use crate::brick::engine::{Engine, Lane};
use crate::cluster::txn::{TxnError, TxnInfo};
use crate::model::Volume;
use crate::store::journal::Record;
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One change's journal record, and what says it failed.
pub struct Commit {
    record: Record,
}

/// Why [`Commit::journal`] did not make the record durable.
pub enum NotJournaled {
    /// A failpoint refused it before anything was written.
    Refused(TxnError),
    /// The append or its flush failed: the record may be on the disk even so (append the
    /// abort, [`Commit::abort`], before saying the change failed).
    Failed(std::io::Error),
}

impl Commit {
    /// The commit of `record` (its `op` names the change: `create`, `delete`, `start`, …).
    pub fn new(record: Record) -> Commit {
        Commit { record }
    }

    /// The change's name.
    pub fn op(&self) -> &str {
        &self.record.op
    }

    /// Passes `<op>.before-journal`, then appends the record and returns once it is durable:
    /// the commit point. `then` runs on the journal's thread right after the flush (a create
    /// hands its claim to the quick lane from there), never if the flush failed.
    pub async fn journal(
        &self,
        state: &ShardState,
        engine: &Engine,
        then: Option<Then>,
    ) -> Result<Ticket, NotJournaled> {
        failpoints::pass(&format!("{}.before-journal", self.record.op))
            .await
            .map_err(NotJournaled::Refused)?;
        state
            .journal
            .append_then(engine, self.record.clone(), then)
            .await
            .map_err(NotJournaled::Failed)
    }

    /// Appends the record that says the change failed and changed nothing (or was undone), so
    /// that start-up does not redo it: `abort` for a create (the name older journals carry),
    /// `abort-<op>` for the others. Its pairs are the change's, without files.
    pub async fn abort(&self, state: &ShardState, engine: &Engine) -> std::io::Result<()> {
        let op = match self.record.op.as_str() {
            "create" => "abort".to_string(),
            other => format!("abort-{other}"),
        };
        let record = Record {
            op,
            files: Vec::new(),
            ..self.record.clone()
        };
        state.journal.append_abort(engine, record).await
    }
}

/// How [`write_after_reply`] writes a change's store files.
pub enum Files {
    /// New files of a new volume, in directories made first (in order), written in place
    /// (nothing else reads them before the catalog does not name the volume any more, and
    /// the record rewrites them after a crash); `<op>.before-store` and `<op>.store-writing`
    /// on the store lane.
    New {
        /// Directories to make first.
        dirs: Vec<PathBuf>,
    },
    /// Existing files replaced each by a renamed `.tmp`, never half-written.
    Replace,
}

/// Queues `files` of volume `name` on the engine's store lane (the reply does not wait for
/// them) and ends the commit once they are written: `<op>.after-store`, then the ticket is
/// done (retired once synced); if they could not be written, the ticket keeps the record for
/// start-up to redo. A delete of the volume meanwhile cancels them while they are queued or
/// waits for them while they are written.
pub fn write_after_reply(
    state: &ShardState,
    engine: &Engine,
    op: &str,
    name: &str,
    files: Vec<(PathBuf, Vec<u8>)>,
    how: Files,
    ticket: Ticket,
) {
    let writing = state.store_writing(name);
    let written: std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>>>> =
        match how {
            Files::New { dirs } => Box::pin(super::engine_io::write_new_files(
                engine,
                writing.files(),
                op,
                dirs,
                files,
            )),
            Files::Replace => Box::pin(replace_files(engine, writing.files(), files)),
        };
    let (after_store, name) = (format!("{op}.after-store"), name.to_string());
    state.spawn(Box::pin(async move {
        match written.await {
            // Written, or cancelled by a delete whose record holds what happens next.
            Ok(()) => {
                // Tests pause here: the files are written but still noted as pending (a
                // delete meanwhile finds them written, and moves them).
                let _ = failpoints::pass(&after_store).await;
                drop(writing);
                ticket.done();
            }
            Err(e) => {
                tracing::error!(volume = %name, error = %e, "store files not written; the journal keeps the change for start-up to redo");
                ticket.keep();
            }
        }
    }));
}

/// The journal ops that go through this path: recovery rewrites their files.
pub const STORE_CHANGE_OPS: &[&str] = &["start", "stop", "set", "reset", "import", "global"];

/// The journal record's volume name for a change of the node's global options (no volume
/// can have it: the CLI refuses it as a name).
pub const GLOBAL_RECORD_NAME: &str = "all";

/// Commits a change of the node's global options (`volume set all`, `volume reset all`):
/// journaled (op `global`, the `options` file's bytes), published (the catalog's list, with
/// FETCHSPEC: volfiles do not change, but `volume info` does), the file written after the
/// reply. Failpoints `global.before-journal`, `global.after-journal`, `global.after-store`.
pub async fn commit_global(
    state: &ShardState,
    txn: &TxnInfo,
    list: Vec<(String, String)>,
    file: Vec<(String, String)>,
) -> Result<(), TxnError> {
    let Some(engine) = state.node.engine.clone() else {
        return Err(TxnError::new(
            "the brick engine (io_uring) is not available on this node",
        ));
    };
    let workdir = state.node.workdir.clone();
    let bytes = crate::store::kv::render(&file);
    let commit = Commit::new(Record {
        seq: 0,
        txn: txn.id,
        op: "global".to_string(),
        volname: GLOBAL_RECORD_NAME.to_string(),
        volume_id: crate::model::Uuid::NIL,
        pairs: vec![(
            super::volume_create::NODE_UUID_PAIR.to_string(),
            state.node.node.uuid().to_string(),
        )],
        files: vec![(crate::store::layout::OPTIONS.to_string(), bytes.clone())],
    });
    let ticket = match commit.journal(state, &engine, None).await {
        Ok(ticket) => ticket,
        Err(NotJournaled::Refused(e)) => return Err(e),
        Err(NotJournaled::Failed(e)) => {
            let _ = commit.abort(state, &engine).await;
            return Err(TxnError::new(format!(
                "Failed to write the journal record: {e}"
            )));
        }
    };
    let _ = failpoints::pass("global.after-journal").await;
    let list = Arc::new(list);
    state.change_catalog(|c| c.set_global_options(list.to_vec()));
    let path = workdir.join(crate::store::layout::OPTIONS);
    write_after_reply(
        state,
        &engine,
        "global",
        GLOBAL_RECORD_NAME,
        vec![(path, bytes)],
        Files::Replace,
        ticket,
    );
    Ok(())
}

/// A change of one volume's stored state.
pub struct VolumeChange {
    /// The journal op and the failpoints' prefix: one of [`STORE_CHANGE_OPS`].
    pub op: &'static str,
    /// The volume after the change.
    pub volume: Volume,
    /// Whether its volfiles change too (they are then rewritten and clients told).
    pub volfiles: bool,
}

/// Commits `change`: journaled, published, its files queued. Returns once the change is
/// durable and visible; the files follow.
pub async fn commit(
    state: &ShardState,
    txn: &TxnInfo,
    change: VolumeChange,
) -> Result<(), TxnError> {
    commit_with(state, txn, change, Vec::new(), None).await
}

/// The record pair that names another volume a change also rewrites, and its id: recovery
/// rewrites that volume's files only while the store still holds that volume.
pub const OTHER_VOLUME_PAIR: &str = "volume-id.";

/// Commits `change` and, in the same record, `others`: other volumes the same change rewrites
/// (a set of a key glusterd sets on every volume). Each is published and its files written as
/// the changed volume's are; a delete of one of them meanwhile cancels or waits for its files.
/// `rendered`: the changed volume's volfiles (by file name) as its stage rendered them, which
/// spares rendering them again.
pub async fn commit_with(
    state: &ShardState,
    txn: &TxnInfo,
    change: VolumeChange,
    others: Vec<Volume>,
    rendered: Option<Vec<(String, String)>>,
) -> Result<(), TxnError> {
    let Some(engine) = state.node.engine.clone() else {
        return Err(TxnError::new(
            "the brick engine (io_uring) is not available on this node",
        ));
    };
    let workdir = state.node.workdir.clone();
    let volume = change.volume;
    let volume_files = |volume: &Volume,
                        rendered: Option<Vec<(String, String)>>|
     -> Result<Vec<(PathBuf, Vec<u8>)>, TxnError> {
        let mut files = Store::new(&workdir)
            .volume_files(volume)
            .map_err(|e| TxnError::new(e.to_string()))?;
        if change.volfiles {
            let mut volfiles = match rendered {
                Some(rendered) => {
                    let dir = crate::store::layout::volume_dir(&workdir, &volume.name);
                    (rendered.into_iter())
                        .map(|(name, text)| (dir.join(name), text.into_bytes()))
                        .collect()
                }
                None => super::volume_create::volfile_files(
                    &workdir,
                    volume,
                    state.node.node.uuid(),
                    state.node.processes.bind_address,
                )?,
            };
            // The volfiles first, the store files with `cksum` last, as a create writes them.
            volfiles.append(&mut files);
            files = volfiles;
        }
        Ok(files)
    };
    let mut groups = vec![(volume.name.clone(), volume_files(&volume, rendered)?)];
    let mut pairs = vec![(
        super::volume_create::NODE_UUID_PAIR.to_string(),
        state.node.node.uuid().to_string(),
    )];
    for other in &others {
        groups.push((other.name.clone(), volume_files(other, None)?));
        pairs.push((
            format!("{OTHER_VOLUME_PAIR}{}", other.name),
            other.volume_id.to_string(),
        ));
    }
    let op = change.op;
    let commit = Commit::new(Record {
        seq: 0,
        txn: txn.id,
        op: op.to_string(),
        volname: volume.name.clone(),
        volume_id: volume.volume_id,
        pairs,
        files: (groups.iter().flat_map(|(_, files)| files))
            .map(|(path, bytes)| {
                let rel = path.strip_prefix(&workdir).unwrap_or(path);
                (rel.to_string_lossy().into_owned(), bytes.clone())
            })
            .collect(),
    });
    let ticket = match commit.journal(state, &engine, None).await {
        Ok(ticket) => ticket,
        Err(NotJournaled::Refused(e)) => return Err(e),
        Err(NotJournaled::Failed(e)) => {
            let _ = commit.abort(state, &engine).await;
            return Err(TxnError::new(format!(
                "Failed to write the journal record: {e}"
            )));
        }
    };
    // Durable from here: a failure (or a crash) at this failpoint is finished at start-up.
    let _ = failpoints::pass(&format!("{op}.after-journal")).await;
    let shared: Vec<Arc<Volume>> = std::iter::once(volume)
        .chain(others)
        .map(Arc::new)
        .collect();
    let publish = |c: &mut crate::ops::catalog::Catalog| {
        for v in &shared {
            c.insert(v.clone());
        }
    };
    if change.volfiles {
        state.change_catalog_and_notify(publish);
    } else {
        state.change_catalog(publish);
    }
    write_volumes_after_reply(state, &engine, op, groups, ticket);
    Ok(())
}

/// Store files and their bytes.
type FilesOf = Vec<(PathBuf, Vec<u8>)>;

/// [`write_after_reply`] of existing files of several volumes (`(name, files)`), one script
/// on the store lane: each volume's files are replaced unless a delete of that volume
/// cancelled them; a delete that finds them being written waits.
fn write_volumes_after_reply(
    state: &ShardState,
    engine: &Engine,
    op: &str,
    groups: Vec<(String, FilesOf)>,
    ticket: Ticket,
) {
    if let [(name, _)] = groups.as_slice() {
        let name = name.clone();
        let files = groups
            .into_iter()
            .next()
            .map(|(_, f)| f)
            .unwrap_or_default();
        write_after_reply(state, engine, op, &name, files, Files::Replace, ticket);
        return;
    }
    let writings: Vec<StoreWriting> = groups.iter().map(|(n, _)| state.store_writing(n)).collect();
    let jobs: Vec<(StoreFiles, FilesOf)> = (writings.iter())
        .zip(groups)
        .map(|(w, (_, files))| (w.files(), files))
        .collect();
    let written = engine.script(Lane::Store, move || {
        for (state, files) in &jobs {
            let Some(_writing) = state.start() else {
                continue;
            };
            for (path, bytes) in files {
                replace_file(path, bytes)?;
            }
        }
        Ok(())
    });
    let after_store = format!("{op}.after-store");
    state.spawn(Box::pin(async move {
        match written.await {
            Ok(()) => {
                let _ = failpoints::pass(&after_store).await;
                drop(writings);
                ticket.done();
            }
            Err(e) => {
                tracing::error!(error = %e, "store files of several volumes not written; the journal keeps the change for start-up to redo");
                ticket.keep();
            }
        }
    }));
}

/// Replaces each file of `files` by writing a sibling `.tmp` and renaming it over the file
/// (not synced: the journal record redoes it, and its retirement syncs it), as one script on
/// the store lane. Writes nothing if a delete of the volume cancelled them first.
fn replace_files(
    engine: &Engine,
    state: StoreFiles,
    files: Vec<(PathBuf, Vec<u8>)>,
) -> impl std::future::Future<Output = std::io::Result<()>> {
    engine.script(Lane::Store, move || {
        let Some(_writing) = state.start() else {
            return Ok(());
        };
        for (path, bytes) in &files {
            replace_file(path, bytes)?;
        }
        Ok(())
    })
}

/// Replaces `path` with `bytes` through a renamed `.tmp` (mode 0600, glusterd's), unsynced;
/// makes its directory first if it is missing (a volume imported from a peer).
pub(super) fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.exists()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let context = |e: std::io::Error, what: &str, p: &Path| {
        std::io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| context(e, "write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| context(e, "rename into place", path))
}
