//! A shard's side of the commit journal (`store::journal`): appends with group commit, and
//! retirement once the changes the records describe are on disk.
//!
//! A commit appends its record and waits for it to be durable: records queued while a write is
//! in flight go out together, one write and one `fdatasync` for the batch (one hop to the
//! engine's journal script lane), so the wait is one flush, usually into a spare file's preallocated
//! zeros (no new file, no directory to sync, no size change). The commit then makes its
//! changes without syncing them, notes the paths whose file systems it touched
//! ([`Ticket::touched`]) and ends ([`Ticket::done`]).
//!
//! Retirement: when no commit of the current journal file is open, the file is set aside (new
//! records go to a fresh file), a plain thread waits a moment for more work to batch, syncs
//! every touched file system (`syncfs`), removes the set-aside file and makes the next spare
//! (a new file of zeros, synced with its directory). A crash before that leaves the records,
//! and start-up redoes them (`ops::recover`).

use crate::brick::engine::{Engine, Fd, Lane};
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
const RETIRE_DELAY: Duration = Duration::from_millis(1000);

/// Bytes of zeros a spare journal file is made with: appends inside them overwrite blocks the
/// file already has, so their `fdatasync` writes no metadata (reading stops at the zeros).
const SPARE_BYTES: usize = 8 << 20;

struct File {
    fd: Fd,
    path: PathBuf,
    tail: u64,
    open_commits: usize,
    /// Touched file systems (a path on each) of this file's records.
    touched: BTreeSet<PathBuf>,
    /// A commit could not finish its changes: the file is synced but never removed, so
    /// start-up redoes its records.
    keep: bool,
}

impl File {
    /// A file with no records yet.
    fn empty(fd: Fd, path: PathBuf) -> File {
        File {
            fd,
            path,
            tail: 0,
            open_commits: 0,
            touched: BTreeSet::new(),
            keep: false,
        }
    }
}

#[derive(Default)]
struct Inner {
    current: Option<File>,
    /// Frames waiting for the next batch, each with its caller.
    queue: Vec<(Vec<u8>, oneshot::Sender<io::Result<PathBuf>>)>,
    flushing: bool,
    /// A file set aside and being retired.
    retiring: bool,
    /// A new, preallocated file made by the last retirement, for the next records.
    spare: Option<(Fd, PathBuf)>,
    /// A file of this shard was left for start-up (a failed flush, sync or store write): every
    /// later file is kept too, so start-up redoes the records after it as well and never
    /// applies an old record without the newer ones.
    keep_all: bool,
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
    keep: bool,
}

impl Ticket {
    /// Notes a path on a file system the commit changed (synced before the record goes).
    pub fn touched(&mut self, path: impl Into<PathBuf>) {
        self.touched.push(path.into());
    }

    /// The commit made all its changes (or undid them): its record may be retired once they
    /// are synced.
    pub fn done(self) {}

    /// The commit could not make all its changes: its journal file is kept for start-up to
    /// redo (it is synced, never removed).
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        self.journal
            .commit_ended(&self.engine, &self.file, touched, self.keep);
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
            keep: false,
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
        let len = bytes.len() as u64;
        // The write and its flush in one hop.
        let file = fd.clone();
        let synced = engine
            .script(Lane::Journal, move || {
                use std::os::fd::AsRawFd;
                let mut done = 0;
                while done < bytes.len() {
                    // SAFETY: writes from a live buffer to an fd the Arc keeps open.
                    let n = unsafe {
                        libc::pwrite(
                            file.as_raw_fd(),
                            bytes[done..].as_ptr().cast(),
                            bytes.len() - done,
                            (offset + done as u64) as libc::off_t,
                        )
                    };
                    match n {
                        n if n > 0 => done += n as usize,
                        0 => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                        _ => {
                            let e = io::Error::last_os_error();
                            if e.kind() != io::ErrorKind::Interrupted {
                                return Err(e);
                            }
                        }
                    }
                }
                // SAFETY: as above.
                if unsafe { libc::fdatasync(file.as_raw_fd()) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            })
            .await;
        let mut inner = self.inner.borrow_mut();
        if synced.is_err() {
            // The file may now hold a broken frame, and reading stops there: records after it
            // would be lost to start-up. Later records go to a new file; this one is left in
            // place (never retired in this run), so start-up redoes what it holds.
            if inner.current.as_ref().is_some_and(|f| f.path == path) {
                inner.current = None;
            }
            inner.keep_all = true;
        } else if let Some(file) = inner.current.as_mut() {
            file.tail = offset + len;
            file.open_commits += batch.len();
        }
        synced.map(|()| path)
    }

    /// The current file (opened, made, if there is none) and its tail.
    async fn current_file(&self, engine: &Engine) -> io::Result<(Fd, u64, PathBuf)> {
        {
            let mut inner = self.inner.borrow_mut();
            if inner.current.is_none() {
                if let Some((fd, path)) = inner.spare.take() {
                    inner.current = Some(File::empty(fd, path));
                }
            }
            if let Some(f) = inner.current.as_ref() {
                return Ok((f.fd.clone(), f.tail, f.path.clone()));
            }
        }
        // No spare yet (the first records since start-up): make a file now.
        let dir = journal::journal_dir(&self.workdir);
        if let Some(parent) = dir.parent() {
            super::engine_io::ensure_dir(engine, parent).await?;
            super::engine_io::ensure_dir(engine, &dir).await?;
            // Both new entries must survive a crash with the first record.
            super::engine_io::fsync_dir(engine, &self.workdir).await?;
            super::engine_io::fsync_dir(engine, parent).await?;
        }
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
        inner.current = Some(File::empty(fd.clone(), path.clone()));
        Ok((fd, 0, path))
    }

    fn commit_ended(
        self: &Rc<Self>,
        engine: &Engine,
        file: &Path,
        touched: Vec<PathBuf>,
        keep: bool,
    ) {
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
            current.keep |= keep;
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
        let spare = {
            let mut inner = self.inner.borrow_mut();
            if inner.spare.is_none() {
                inner.next_file += 1;
                let dir = journal::journal_dir(&self.workdir);
                Some(dir.join(format!("{}-{}.log", self.shard, inner.next_file)))
            } else {
                None
            }
        };
        let File { fd, path, keep, .. } = file;
        let keep = {
            let mut inner = self.inner.borrow_mut();
            inner.keep_all |= keep;
            inner.keep_all
        };
        drop(fd);
        match retire_on_thread(touched, path.clone(), keep, spare.clone()).await {
            Ok((Ok(()), made)) => {
                if let (Some(file), Some(spare)) = (made, spare) {
                    let fd: Fd = std::sync::Arc::new(std::os::fd::OwnedFd::from(file));
                    self.inner.borrow_mut().spare = Some((fd, spare));
                }
            }
            Ok((Err(e), _)) | Err(e) => {
                // Left in place: start-up redoes its records, and every later file's.
                self.inner.borrow_mut().keep_all = true;
                tracing::warn!(path = %path.display(), error = %e, "journal not retired");
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

/// On a plain thread: waits [`RETIRE_DELAY`], `syncfs` on each distinct file system of
/// `touched`, removes the journal file `old` once that worked (unless `keep`), and makes the spare file
/// `spare` (zeros, synced, its directory synced). Answers the sync's result and the spare.
async fn retire_on_thread(
    touched: Vec<PathBuf>,
    old: PathBuf,
    keep: bool,
    spare: Option<PathBuf>,
) -> io::Result<(io::Result<()>, Option<std::fs::File>)> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("brickd-retire".into())
        .spawn(move || {
            std::thread::sleep(RETIRE_DELAY);
            let synced = syncfs_all(&touched).and_then(|()| {
                if keep {
                    tracing::warn!(path = %old.display(), "journal file kept for start-up to redo");
                    Ok(())
                } else {
                    std::fs::remove_file(&old)
                }
            });
            let made = spare.and_then(|path| match make_spare(&path) {
                Ok(file) => Some(file),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "no spare journal file");
                    let _ = std::fs::remove_file(&path);
                    None
                }
            });
            let _ = tx.send((synced, made));
        })?;
    rx.await.map_err(|_| io::Error::other("retire thread gone"))
}

fn make_spare(path: &Path) -> io::Result<std::fs::File> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(&vec![0u8; SPARE_BYTES])?;
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(file)
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
