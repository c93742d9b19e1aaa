//! The commit path of a change to an existing volume's stored state (start and stop today;
//! option set and reset next): one journal record holding every store file the change
//! rewrites, the catalog swapped, the files written after the reply.
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
//! Create and delete still write their own commit (they claim and release bricks around the
//! record: docs/architecture.md says how they differ); every other change of stored state
//! goes through here.

use super::failpoints;
use super::shard::{ShardState, StoreFiles};
use crate::brick::engine::{Engine, Lane};
use crate::cluster::txn::{TxnError, TxnInfo};
use crate::model::Volume;
use crate::store::journal::Record;
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The journal ops that go through this path: recovery rewrites their files.
pub const STORE_CHANGE_OPS: &[&str] = &["start", "stop"];

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
    let Some(engine) = state.node.engine.clone() else {
        return Err(TxnError::new(
            "the brick engine (io_uring) is not available on this node",
        ));
    };
    let workdir = state.node.workdir.clone();
    let volume = change.volume;
    let mut files = Store::new(&workdir)
        .volume_files(&volume)
        .map_err(|e| TxnError::new(e.to_string()))?;
    if change.volfiles {
        let mut volfiles =
            super::volume_create::volfile_files(&workdir, &volume, state.node.node.uuid)?;
        // The volfiles first, the store files with `cksum` last, as a create writes them.
        volfiles.append(&mut files);
        files = volfiles;
    }
    let op = change.op;
    failpoints::pass(&format!("{op}.before-journal")).await?;
    let record = Record {
        seq: 0,
        txn: txn.id,
        op: op.to_string(),
        volname: volume.name.clone(),
        volume_id: volume.volume_id,
        pairs: vec![(
            super::volume_create::NODE_UUID_PAIR.to_string(),
            state.node.node.uuid.to_string(),
        )],
        files: files
            .iter()
            .map(|(path, bytes)| {
                let rel = path.strip_prefix(&workdir).unwrap_or(path);
                (rel.to_string_lossy().into_owned(), bytes.clone())
            })
            .collect(),
    };
    let abort = Record {
        op: format!("abort-{op}"),
        files: Vec::new(),
        ..record.clone()
    };
    let ticket = match state.journal.append(&engine, record).await {
        Ok(ticket) => ticket,
        Err(e) => {
            // The record may have reached the disk even so: say the change failed, durably if
            // the disk still lets us, so start-up does not redo it.
            let _ = state.journal.append_abort(&engine, abort).await;
            return Err(TxnError::new(format!(
                "Failed to write the journal record: {e}"
            )));
        }
    };
    // Durable from here: a failure (or a crash) at this failpoint is finished at start-up.
    let _ = failpoints::pass(&format!("{op}.after-journal")).await;
    let name = volume.name.clone();
    let shared = Arc::new(volume);
    if change.volfiles {
        state.change_catalog_and_notify(|c| c.insert(shared.clone()));
    } else {
        state.change_catalog(|c| c.insert(shared.clone()));
    }
    let writing = state.store_writing(&name);
    let written = replace_files(&engine, writing.files(), files);
    let after_store = format!("{op}.after-store");
    state.spawn(Box::pin(async move {
        match written.await {
            Ok(()) => {
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
    Ok(())
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

/// Replaces `path` with `bytes` through a renamed `.tmp` (mode 0600, glusterd's), unsynced.
pub(super) fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
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
