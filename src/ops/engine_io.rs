//! Store files written through the brick engine, with glusterd's atomic protocol (`<file>.tmp`
//! written and fsynced, renamed over the file, the directory fsynced) but all files of one step
//! at once: the writes and fsyncs of a batch are in flight together, then the renames, then
//! one fsync per directory. A volume create costs a few fsync latencies instead of one per
//! file and directory, and no shard thread ever blocks on the disk.

use crate::brick::engine::{Engine, Fd};
use futures_util::future::{join_all, try_join_all};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

/// Mode of store files (glusterd's 0600).
const FILE_MODE: u32 = 0o600;
/// Mode of store directories (glusterd's 0755).
const DIR_MODE: u32 = 0o755;

fn tmp_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(crate::store::TMP_SUFFIX);
    PathBuf::from(name)
}

fn context(e: io::Error, action: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{action} {}: {e}", path.display()))
}

/// Writes all of `data` at offset 0 (the engine may write short).
async fn write_all(engine: &Engine, fd: &Fd, data: &[u8]) -> io::Result<()> {
    let mut done = 0;
    while done < data.len() {
        let n = engine.write(fd, data[done..].to_vec(), done as u64).await?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        done += n;
    }
    Ok(())
}

async fn stage(engine: &Engine, path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = tmp_of(path);
    let fd = engine
        .open(
            None,
            &tmp,
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
            FILE_MODE,
        )
        .await
        .map_err(|e| context(e, "create", &tmp))?;
    write_all(engine, &fd, data)
        .await
        .map_err(|e| context(e, "write", &tmp))?;
    engine
        .fsync(&fd, false)
        .await
        .map_err(|e| context(e, "fsync", &tmp))
}

/// fsyncs a directory so the renames in it are durable.
pub(super) async fn fsync_dir(engine: &Engine, dir: &Path) -> io::Result<()> {
    let fd = engine
        .open_dir(None, dir)
        .await
        .map_err(|e| context(e, "open", dir))?;
    engine
        .fsync(&fd, false)
        .await
        .map_err(|e| context(e, "fsync", dir))
}

/// Creates `dir` if it does not exist (one level; its parent must exist).
pub(super) async fn ensure_dir(engine: &Engine, dir: &Path) -> io::Result<()> {
    match engine.mkdirat(None, dir, DIR_MODE).await {
        Err(e) if e.raw_os_error() != Some(libc::EEXIST) => Err(context(e, "mkdir", dir)),
        _ => Ok(()),
    }
}

/// Atomically replaces every file of `files`, all at once: when this returns, all of them are
/// durable. On error the `.tmp` files are removed and some files may have been replaced (the
/// caller's intent record says what to undo).
pub(super) async fn replace_all(engine: &Engine, files: &[(PathBuf, Vec<u8>)]) -> io::Result<()> {
    let staged = try_join_all(files.iter().map(|(p, d)| stage(engine, p, d))).await;
    if let Err(e) = staged {
        let _ = join_all(
            files
                .iter()
                .map(|(p, _)| async move { engine.unlinkat(None, &tmp_of(p), false).await }),
        )
        .await;
        return Err(e);
    }
    try_join_all(files.iter().map(|(p, _)| async move {
        let tmp = tmp_of(p);
        engine
            .renameat(None, &tmp, None, p)
            .await
            .map_err(|e| context(e, "rename", &tmp))
    }))
    .await?;
    let dirs: BTreeSet<&Path> = files.iter().filter_map(|(p, _)| p.parent()).collect();
    try_join_all(dirs.into_iter().map(|d| fsync_dir(engine, d))).await?;
    Ok(())
}

/// Removes `path` (a missing file is fine) without waiting for the directory to be synced.
pub(super) async fn remove_file(engine: &Engine, path: &Path) -> io::Result<()> {
    match engine.unlinkat(None, path, false).await {
        Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(context(e, "unlink", path)),
        _ => Ok(()),
    }
}

/// Writes an intent record through the engine, durably (its directory made if needed).
pub(super) async fn write_intent(
    engine: &Engine,
    workdir: &Path,
    record: &crate::store::intent::Intent,
) -> io::Result<()> {
    let dir = crate::store::intent::intents_dir(workdir);
    if let Some(parent) = dir.parent() {
        ensure_dir(engine, parent).await?;
    }
    ensure_dir(engine, &dir).await?;
    replace_all(engine, &[crate::store::intent::file(workdir, record)]).await
}

/// Removes `vols/<name>/` so that a crash cannot leave it half-removed: one rename moves it
/// to `brickd/trash/<name>-<tag>`, `vols/` is synced, and the moved tree is deleted on a plain
/// thread (a tree walk has no io_uring opcode, and no shard may block on it). A trash left by
/// a crash is emptied at start-up.
pub(super) async fn trash_volume(
    engine: &Engine,
    workdir: &Path,
    name: &str,
    tag: &str,
) -> io::Result<()> {
    let vols = workdir.join(crate::store::layout::VOLS_DIR);
    let dir = crate::store::layout::volume_dir(workdir, name);
    let brickd_dir = workdir.join("brickd");
    let trash = brickd_dir.join("trash");
    ensure_dir(engine, &brickd_dir).await?;
    ensure_dir(engine, &trash).await?;
    let target = trash.join(format!("{name}-{tag}"));
    engine
        .renameat(None, &dir, None, &target)
        .await
        .map_err(|e| context(e, "move to the trash", &dir))?;
    fsync_dir(engine, &vols).await?;
    let spawned = std::thread::Builder::new()
        .name("brickd-trash".into())
        .spawn(move || {
            if let Err(e) = std::fs::remove_dir_all(&target) {
                tracing::warn!(path = %target.display(), error = %e, "could not empty the trash (retried at start-up)");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no thread to empty the trash (emptied at start-up)");
    }
    Ok(())
}
