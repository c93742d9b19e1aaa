//! Store changes through the brick engine, so that no shard thread ever blocks on the disk.
//! None of them waits for the disk: the commit journal (`ops::journal`) is the durable part
//! of a commit, and its retirement syncs what these wrote.

use super::shard::StoreFiles;
use crate::brick::engine::{lane, Background, Engine, Lane};
use std::io;
use std::path::{Path, PathBuf};

/// Mode of store files (glusterd's 0600).
const FILE_MODE: u32 = 0o600;
/// Mode of store directories (glusterd's 0755).
const DIR_MODE: u32 = 0o755;

fn context(e: io::Error, action: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{action} {}: {e}", path.display()))
}

/// Makes each directory of `dirs`, in order (existing ones are fine; the last component's
/// parent must exist). A failure is never `NotFound` (callers read that as "nothing there").
fn make_dirs<P: AsRef<Path>>(dirs: &[P]) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    for dir in dirs {
        let dir = dir.as_ref();
        match std::fs::DirBuilder::new().mode(DIR_MODE).create(dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(io::Error::other(context(e, "mkdir", dir)))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Makes the directories `dirs` (in order; existing ones are fine) and writes every file of
/// `files` (created or truncated), without syncing: one script on the store lane, queued by
/// this call (so it runs before any script queued after it there, awaited or not). Writes
/// nothing, and answers `Ok`, if a delete of the volume cancelled them first (`state`).
pub(super) fn write_new_files(
    engine: &Engine,
    state: StoreFiles,
    op: &str,
    dirs: Vec<PathBuf>,
    files: Vec<(PathBuf, Vec<u8>)>,
) -> impl std::future::Future<Output = io::Result<()>> {
    let (before, writing) = (format!("{op}.before-store"), format!("{op}.store-writing"));
    engine.script(Lane::Store, move || {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        // Tests pause here to hold the files queued (a delete meanwhile cancels them).
        super::failpoints::pass_on_thread(&before).map_err(io::Error::other)?;
        let Some(_writing) = state.start() else {
            return Ok(());
        };
        // Tests pause here to hold the files being written (a delete meanwhile waits).
        super::failpoints::pass_on_thread(&writing).map_err(io::Error::other)?;
        make_dirs(&dirs)?;
        for (path, data) in &files {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(FILE_MODE)
                .open(path)
                .and_then(|mut f| f.write_all(data))
                .map_err(|e| context(e, "write", path))?;
        }
        Ok(())
    })
}

/// Removes `vols/<name>/` so that a crash cannot leave it half-removed: one rename moves it
/// to `brickd/trash/<name>-<tag>` (not synced: the journal record redoes it; the trash
/// directories are made first), and the moved tree is deleted by the trash thread (a tree
/// walk has no io_uring opcode, and no shard may block on it). A trash left by a crash is
/// emptied at start-up. Plain syscalls, for a delete's script (on the quick lane, or the store
/// lane when its create's store files were being written). The trash thread runs on
/// `background`'s CPUs.
pub(super) fn trash_volume(
    workdir: &Path,
    name: &str,
    tag: &str,
    background: &Background,
) -> io::Result<()> {
    let dir = crate::store::layout::volume_dir(workdir, name);
    let brickd_dir = workdir.join("brickd");
    let trash = brickd_dir.join("trash");
    let target = trash.join(format!("{name}-{tag}"));
    // Nothing to move (a create whose store files were never written, or were cancelled):
    // done, before anything that could fail.
    match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        _ => {}
    }
    make_dirs(&[&brickd_dir, &trash])?;
    match std::fs::rename(&dir, &target) {
        Ok(()) => {}
        // Nothing to move (a create whose store files were never written): already done.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(context(e, "move to the trash", &dir)),
    }
    empty_later(target, background);
    Ok(())
}

/// Hands `tree` to the trash thread (started on first use, on `background`'s CPUs), which
/// removes it.
fn empty_later(tree: PathBuf, background: &Background) {
    static TRASH: std::sync::OnceLock<Option<lane::Sender<PathBuf>>> = std::sync::OnceLock::new();
    let sender = TRASH.get_or_init(|| {
        // A futex queue, as the engine's lanes use: the thread sleeps at once when it is empty.
        let (tx, rx) = lane::queue::<PathBuf>();
        let background = background.clone();
        let spawned = std::thread::Builder::new()
            .name("brickd-trash".into())
            .spawn(move || {
                background.enter();
                for tree in &rx {
                    if let Err(e) = std::fs::remove_dir_all(&tree) {
                        tracing::warn!(path = %tree.display(), error = %e, "could not empty the trash (retried at start-up)");
                    }
                }
            });
        match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!(error = %e, "no thread to empty the trash (emptied at start-up)");
                None
            }
        }
    });
    if let Some(sender) = sender {
        let _ = sender.send(tree);
    }
}
