//! A shard's side of the commit journal (`store::journal`): appends with group commit, and
//! retirement once the changes the records describe are on disk.
//!
//! A commit appends its record and waits for it to be durable: records queued while a write is
//! in flight go out together, one write and one `fdatasync` for the batch, so the wait is one
//! flush of a preallocated-size-agnostic append (no new file, no directory to sync). The
//! commit then makes its changes without syncing them and calls [`Ticket::done`] with the
//! paths whose file systems it touched.
//!
//! Retirement: when no commit of the current journal file is open, the file is set aside (new
//! records go to a fresh file), a plain thread waits a moment for more work to batch, syncs
//! every touched file system (`syncfs`), and the set-aside file is removed. A crash before that
//! leaves the records, and start-up redoes them (`ops::recover`).

use crate::brick::engine::{Engine, Fd};
use crate::cluster::txn::LocalFuture;
use crate::store::journal::{self, Record};
use futures_channel::oneshot;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long the retiring thread waits before syncing, to batch the commits that follow.
const RETIRE_DELAY: Duration = Duration::from_millis(20);

struct File {
    fd: Fd,
    path: PathBuf,
    tail: u64,
    open_commits: usize,
    /// Touched file systems (a path on each) of this file's records.
    touched: BTreeSet<PathBuf>,
}

#[derive(Default)]
struct Inner {
    current: Option<File>,
    /// Frames waiting for the next batch, each with its caller.
    queue: Vec<(Vec<u8>, oneshot::Sender<io::Result<PathBuf>>)>,
    flushing: bool,
    /// A file set aside and being retired.
    retiring: bool,
    next_file: u64,
}

/// One shard's journal.
pub struct ShardJournal {
    shard: usize,
    spawner: Rc<dyn Fn(LocalFuture<'static, ()>)>,
    workdir: PathBuf,
    seq: Arc<AtomicU64>,
    inner: RefCell<Inner>,
}

/// A commit between its append and its end: its changes are not retired before [`done`].
///
/// [`done`]: Ticket::done
pub struct Ticket {
    journal: Rc<ShardJournal>,
    engine: Engine,
    file: PathBuf,
    touched: Vec<PathBuf>,
}

impl Ticket {
    /// Notes a path on a file system the commit changed (synced before the record goes).
    pub fn touched(&mut self, path: impl Into<PathBuf>) {
        self.touched.push(path.into());
    }

    /// The commit made all its changes (or undid them): its record may be retired once they
    /// are synced.
    pub fn done(self) {}
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        self.journal.commit_ended(&self.engine, &self.file, touched);
    }
}

impl ShardJournal {
    /// Shard `shard`'s journal under `workdir`; `seq` numbers records node-wide.
    pub fn new(
        shard: usize,
        workdir: PathBuf,
        seq: Arc<AtomicU64>,
        spawner: Rc<dyn Fn(LocalFuture<'static, ()>)>,
    ) -> Rc<ShardJournal> {
        Rc::new(ShardJournal {
            shard,
            spawner,
            workdir,
            seq,
            inner: RefCell::new(Inner::default()),
        })
    }

    /// Appends `record` (its `seq` is set here) and returns once it is durable.
    pub async fn append(
        self: &Rc<Self>,
        engine: &Engine,
        mut record: Record,
    ) -> io::Result<Ticket> {
        record.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let frame = journal::encode(&record);
        if frame.len() - journal::HEAD_BYTES > journal::RECORD_BYTES_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "journal record of {} bytes; at most {}",
                    frame.len(),
                    journal::RECORD_BYTES_MAX
                ),
            ));
        }
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut inner = self.inner.borrow_mut();
            inner.queue.push((frame, tx));
            !std::mem::replace(&mut inner.flushing, true)
        };
        if lead {
            self.flush(engine).await;
        }
        let file = rx
            .await
            .map_err(|_| io::Error::other("journal writer gone"))??;
        Ok(Ticket {
            journal: self.clone(),
            engine: engine.clone(),
            file,
            touched: Vec::new(),
        })
    }

    /// Writes queued batches until the queue is empty; the caller set `flushing`.
    async fn flush(self: &Rc<Self>, engine: &Engine) {
        loop {
            let batch = std::mem::take(&mut self.inner.borrow_mut().queue);
            if batch.is_empty() {
                self.inner.borrow_mut().flushing = false;
                return;
            }
            let result = self.write_batch(engine, &batch).await;
            for (_, tx) in batch {
                let _ = tx.send(match &result {
                    Ok(path) => Ok(path.clone()),
                    Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                });
            }
        }
    }

    async fn write_batch(
        self: &Rc<Self>,
        engine: &Engine,
        batch: &[(Vec<u8>, oneshot::Sender<io::Result<PathBuf>>)],
    ) -> io::Result<PathBuf> {
        let (fd, offset, path) = self.current_file(engine).await?;
        let bytes: Vec<u8> = batch.iter().flat_map(|(f, _)| f.iter().copied()).collect();
        let mut done = 0;
        while done < bytes.len() {
            let n = engine
                .write(&fd, bytes[done..].to_vec(), offset + done as u64)
                .await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
            done += n;
        }
        let synced = engine.fsync(&fd, true).await;
        let mut inner = self.inner.borrow_mut();
        if let Some(file) = inner.current.as_mut() {
            // Even a failed flush used the space: the next batch goes after it (reading stops
            // at this batch if it did not reach the disk, and its callers were told so).
            file.tail = offset + bytes.len() as u64;
            if synced.is_ok() {
                file.open_commits += batch.len();
            }
        }
        synced.map(|()| path)
    }

    /// The current file (opened, made, if there is none) and its tail.
    async fn current_file(&self, engine: &Engine) -> io::Result<(Fd, u64, PathBuf)> {
        if let Some(f) = self.inner.borrow().current.as_ref() {
            return Ok((f.fd.clone(), f.tail, f.path.clone()));
        }
        let dir = journal::journal_dir(&self.workdir);
        if let Some(parent) = dir.parent() {
            super::engine_io::ensure_dir(engine, parent).await?;
        }
        super::engine_io::ensure_dir(engine, &dir).await?;
        let n = {
            let mut inner = self.inner.borrow_mut();
            inner.next_file += 1;
            inner.next_file
        };
        let path = dir.join(format!("{}-{n}.log", self.shard));
        let fd = engine
            .open(
                None,
                &path,
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
                0o600,
            )
            .await?;
        // The new file's name must survive a crash with the records in it.
        super::engine_io::fsync_dir(engine, &dir).await?;
        let mut inner = self.inner.borrow_mut();
        inner.current = Some(File {
            fd: fd.clone(),
            path: path.clone(),
            tail: 0,
            open_commits: 0,
            touched: BTreeSet::new(),
        });
        Ok((fd, 0, path))
    }

    fn commit_ended(self: &Rc<Self>, engine: &Engine, file: &Path, touched: Vec<PathBuf>) {
        let set_aside = {
            let mut inner = self.inner.borrow_mut();
            let Some(current) = inner.current.as_mut() else {
                return;
            };
            if current.path != file {
                return;
            }
            current.open_commits = current.open_commits.saturating_sub(1);
            current.touched.extend(touched);
            if current.open_commits > 0 || inner.retiring || inner.flushing {
                return;
            }
            inner.retiring = true;
            inner.current.take()
        };
        if let Some(file) = set_aside {
            let me = self.clone();
            let engine = engine.clone();
            (self.spawner)(Box::pin(async move {
                me.retire(&engine, file).await;
            }));
        }
    }

    /// Syncs what `file`'s records changed, then removes it; then retires the next file if
    /// it has nothing open.
    async fn retire(self: Rc<Self>, engine: &Engine, file: File) {
        // Tests hold the records here to see start-up redo them.
        let _ = super::failpoints::pass("journal.before-retire").await;
        let mut touched: Vec<PathBuf> = file.touched.iter().cloned().collect();
        touched.push(self.workdir.clone());
        match sync_file_systems(touched).await {
            Ok(()) => {
                drop(file.fd);
                if let Err(e) = engine.unlinkat(None, &file.path, false).await {
                    tracing::warn!(path = %file.path.display(), error = %e, "journal file not removed (redone at start-up)");
                }
            }
            Err(e) => {
                // Left in place: start-up redoes its records.
                tracing::warn!(path = %file.path.display(), error = %e, "journal not retired: sync failed");
            }
        }
        let next = {
            let mut inner = self.inner.borrow_mut();
            inner.retiring = false;
            let idle = inner
                .current
                .as_ref()
                .is_some_and(|c| c.open_commits == 0 && c.tail > 0)
                && !inner.flushing;
            if idle {
                inner.retiring = true;
                inner.current.take()
            } else {
                None
            }
        };
        if let Some(next) = next {
            Box::pin(self.retire(engine, next)).await;
        }
    }
}

/// Waits [`RETIRE_DELAY`], then `syncfs` on each distinct file system of `paths` (the nearest
/// existing ancestor of each), on a plain thread.
async fn sync_file_systems(paths: Vec<PathBuf>) -> io::Result<()> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("brickd-retire".into())
        .spawn(move || {
            std::thread::sleep(RETIRE_DELAY);
            let _ = tx.send(syncfs_all(&paths));
        })?;
    rx.await
        .map_err(|_| io::Error::other("retire thread gone"))?
}

pub(crate) fn syncfs_all(paths: &[PathBuf]) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut devices = BTreeSet::new();
    for path in paths {
        let mut at: &Path = path;
        let file = loop {
            match std::fs::File::open(at) {
                Ok(f) => break Some(f),
                Err(_) => match at.parent() {
                    Some(p) => at = p,
                    None => break None,
                },
            }
        };
        let Some(file) = file else { continue };
        if !devices.insert(file.metadata()?.dev()) {
            continue;
        }
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs on an fd this function owns.
        if unsafe { libc::syncfs(file.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
