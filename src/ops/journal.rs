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
//! Retirement: once no commit of the current journal file is open and none has been appended
//! for [`RETIRE_QUIET`] (or the file's first record is [`RETIRE_MAX_AGE`] old), the file is set
//! aside (new records go to the spare), and a plain thread syncs every touched file system
//! (`syncfs`) and turns the set-aside file into the next spare (its records overwritten with
//! zeros, first sector first: [`recycle`]) or removes it when a spare is waiting already. A
//! crash before that leaves the records, and start-up redoes them (`ops::recover`).
//!
//! Waiting for a quiet moment keeps the `syncfs` (which writes back everything dirty on the
//! brick and workdir file systems, the shared disk's other users' pages included) and the
//! making of the next file out of a burst of changes: started at the first idle moment, as it
//! was, they ran beside the burst's next commits and made the slowest of them 2-3x the median
//! (perf/RESULTS.md).

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
use std::time::{Duration, Instant};

/// How long the current file must go without a new record before it retires.
const RETIRE_QUIET: Duration = Duration::from_millis(1000);

/// A file whose first record is this old retires at its next idle moment, quiet or not: a
/// node never quiet for [`RETIRE_QUIET`] still syncs and drops its records this often (the
/// kernel writes dirty pages back within 30 s anyway, so the sync then has little to do), and
/// start-up never has more than this much to redo besides.
const RETIRE_MAX_AGE: Duration = Duration::from_secs(30);

/// Bytes of zeros a spare journal file is made with: appends inside them overwrite blocks the
/// file already has, so their `fdatasync` writes no metadata (reading stops at the zeros).
const SPARE_BYTES: usize = 8 << 20;

/// A journal file this long takes no more batches: they go to the next file, even while
/// commits of this one are open (a shard that is never idle would otherwise grow one file
/// without end, past its preallocated zeros).
const ROTATE_BYTES: u64 = SPARE_BYTES as u64;

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
    /// When the first and the last batch were written to it.
    first_at: Option<Instant>,
    last_at: Option<Instant>,
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
            first_at: None,
            last_at: None,
        }
    }
}

/// What [`ShardJournal::next_to_retire`] found.
enum Next {
    /// This file retires now; `true` for a sealed one.
    Retire(File, bool),
    /// The current file is idle but not quiet yet: look again after this long.
    Wait(Duration),
    Nothing,
}

/// Work for the journal's thread once a record is durable: runs there, right after the flush
/// that made it so, before the record's append answers (see [`ShardJournal::append_then`]).
/// It must be short and never touch a brick (every shard's appends wait for it): it hands
/// such work on, to an engine lane.
pub type Then = Box<dyn FnOnce() + Send>;

/// A record waiting for the next batch: its frame, its caller, its follow-up. The caller gets
/// its [`Ticket`] from the flush; if the caller is gone by then, the ticket comes back from
/// the channel and is dropped, ending the commit (so a dropped append never holds its file).
struct Queued {
    frame: Vec<u8>,
    answer: oneshot::Sender<io::Result<Ticket>>,
    then: Option<Then>,
}

#[derive(Default)]
struct Inner {
    current: Option<File>,
    /// Files set aside at [`ROTATE_BYTES`] while commits of theirs were still open, oldest
    /// first: each is retired once its commits ended and every older file is retired (a newer
    /// file is never removed before an older one, so start-up never redoes an old record
    /// without the newer records that follow it).
    sealed: std::collections::VecDeque<File>,
    /// Frames waiting for the next batch, each with its caller.
    queue: Vec<Queued>,
    flushing: bool,
    /// A file set aside and being retired.
    retiring: bool,
    /// A wait for the current file to go quiet is running.
    waiting: bool,
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

    /// Makes this shard's first spare file (and the journal directories, synced) on a plain
    /// thread, so that the first commits after start-up append into preallocated zeros like
    /// every later one instead of making a file and syncing three directories. Best effort:
    /// until it is ready, or if it fails, the first append makes a file itself. The thread
    /// runs on `background`'s CPUs, not the calling shard's.
    pub fn prepare(self: &Rc<Self>, background: crate::brick::engine::Background) {
        let path = self.next_path();
        let me = self.clone();
        let workdir = self.workdir.clone();
        (self.spawner)(Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name("brickd-journal".into())
                .spawn(move || {
                    background.enter();
                    let made = create_file(&workdir, &path, SPARE_BYTES as u64);
                    let _ = tx.send(made.map(|f| (f, path)));
                });
            if spawned.is_err() {
                return;
            }
            match rx.await {
                Ok(Ok((file, path))) => {
                    let mut inner = me.inner.borrow_mut();
                    if inner.spare.is_none() {
                        let fd: Fd = std::sync::Arc::new(std::os::fd::OwnedFd::from(file));
                        inner.spare = Some((fd, path));
                    } else {
                        drop(inner);
                        let _ = std::fs::remove_file(&path);
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "no spare journal file at start-up"),
                Err(_) => {}
            }
        }));
    }

    /// The name of this shard's next journal file.
    fn next_path(&self) -> PathBuf {
        let mut inner = self.inner.borrow_mut();
        inner.next_file += 1;
        journal::journal_dir(&self.workdir).join(format!("{}-{}.log", self.shard, inner.next_file))
    }

    /// Appends `record` (its `seq` is set here) and returns once it is durable.
    pub async fn append(self: &Rc<Self>, engine: &Engine, record: Record) -> io::Result<Ticket> {
        self.append_then(engine, record, None).await
    }

    /// Appends a record that changes nothing (an abort: its transaction failed and was
    /// undone, or never changed anything) and ends its commit at once: it is there only so
    /// that start-up does not redo the transaction.
    pub async fn append_abort(self: &Rc<Self>, engine: &Engine, record: Record) -> io::Result<()> {
        self.append(engine, record).await.map(Ticket::done)
    }

    /// [`ShardJournal::append`], and `then` runs on the journal's thread as soon as the record
    /// is durable, before the append answers: it starts the first change of a commit without a
    /// hand-off back to the shard and out again (a create hands its claim to the quick lane).
    /// It does not run when the record could not be written or flushed (it is dropped).
    /// Records of one batch run their follow-ups in order, after the batch's flush.
    pub async fn append_then(
        self: &Rc<Self>,
        engine: &Engine,
        mut record: Record,
        then: Option<Then>,
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
        let start = {
            let mut inner = self.inner.borrow_mut();
            inner.queue.push(Queued {
                frame,
                answer: tx,
                then,
            });
            !std::mem::replace(&mut inner.flushing, true)
        };
        if start {
            // A task of its own, so that no appender waits for batches after its own.
            let me = self.clone();
            let engine = engine.clone();
            (self.spawner)(Box::pin(async move { me.flush(&engine).await }));
        }
        rx.await
            .map_err(|_| io::Error::other("journal writer gone"))?
    }

    /// Writes queued batches until the queue is empty; the caller set `flushing`. Then retires
    /// what became ready while it wrote.
    async fn flush(self: &Rc<Self>, engine: &Engine) {
        loop {
            let batch = std::mem::take(&mut self.inner.borrow_mut().queue);
            if batch.is_empty() {
                self.inner.borrow_mut().flushing = false;
                break;
            }
            let mut batch = batch;
            let followed: Vec<bool> = batch.iter().map(|q| q.then.is_some()).collect();
            let thens: Vec<Then> = batch.iter_mut().filter_map(|q| q.then.take()).collect();
            let frames: Vec<&[u8]> = batch.iter().map(|q| q.frame.as_slice()).collect();
            let result = self.write_batch(engine, &frames, thens).await;
            for (Queued { answer, .. }, followed) in batch.into_iter().zip(followed) {
                let sent = answer.send(match &result {
                    Ok(path) => Ok(Ticket {
                        journal: self.clone(),
                        engine: engine.clone(),
                        file: path.clone(),
                        touched: Vec::new(),
                        keep: false,
                    }),
                    Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                });
                // The appender is gone. Its commit ends here; if its follow-up already
                // started a change (a claim), nothing will finish or undo that change, so
                // the record stays for start-up to redo.
                if let Err(Ok(ticket)) = sent {
                    if followed {
                        ticket.keep();
                    }
                }
            }
        }
        self.retire_ready(engine);
    }

    /// Writes `frames` at the current file's tail and flushes them, then runs `thens`.
    async fn write_batch(
        self: &Rc<Self>,
        engine: &Engine,
        frames: &[&[u8]],
        thens: Vec<Then>,
    ) -> io::Result<PathBuf> {
        let (fd, offset, path) = self.current_file(engine).await?;
        let bytes: Vec<u8> = frames.concat();
        let records = frames.len();
        let len = bytes.len() as u64;
        // The write and its flush in one hop.
        let file = fd.clone();
        let queued = std::time::Instant::now();
        let synced = engine
            .script(Lane::Journal, move || {
                use std::os::fd::AsRawFd;
                let started = queued.elapsed();
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
                let flushed = queued.elapsed();
                for then in thens {
                    then();
                }
                Ok((started, flushed))
            })
            .await;
        if let Ok((started, flushed)) = &synced {
            // For tail analysis: the wait for the journal's thread, the write and flush, the
            // wait for this shard to run again.
            tracing::debug!(
                records,
                wait_us = started.as_micros() as u64,
                flush_us = (*flushed - *started).as_micros() as u64,
                back_us = (queued.elapsed() - *flushed).as_micros() as u64,
                "journal batch"
            );
        }
        let mut inner = self.inner.borrow_mut();
        if synced.is_err() {
            // The file may now hold a broken frame, and reading stops there: records after it
            // would be lost to start-up. Later records go to a new file; this one is left in
            // place (never retired in this run), so start-up redoes what it holds.
            if inner.current.as_ref().is_some_and(|f| f.path == path) {
                inner.current = None;
            }
            inner.keep_all = true;
        } else if let Some(file) = inner.current.as_mut().filter(|f| f.path == path) {
            file.tail = offset + len;
            file.open_commits += records;
            let now = Instant::now();
            file.first_at.get_or_insert(now);
            file.last_at = Some(now);
        }
        synced.map(|_| path)
    }

    /// The current file (opened, made, if there is none) and its tail.
    async fn current_file(&self, engine: &Engine) -> io::Result<(Fd, u64, PathBuf)> {
        {
            let mut inner = self.inner.borrow_mut();
            if inner
                .current
                .as_ref()
                .is_some_and(|c| c.tail >= ROTATE_BYTES)
            {
                // Full: set aside until its commits end (see `sealed`).
                let full = inner.current.take();
                inner.sealed.extend(full);
            }
            if inner.current.is_none() {
                if let Some((fd, path)) = inner.spare.take() {
                    inner.current = Some(File::empty(fd, path));
                }
            }
            if let Some(f) = inner.current.as_ref() {
                return Ok((f.fd.clone(), f.tail, f.path.clone()));
            }
        }
        // No spare yet (the first records since start-up, before `prepare`'s is ready): make
        // an empty file now, in one script on the journal lane.
        let path = self.next_path();
        let (workdir, made) = (self.workdir.clone(), path.clone());
        let file = engine
            .script(Lane::Journal, move || create_file(&workdir, &made, 0))
            .await?;
        let fd: Fd = std::sync::Arc::new(std::os::fd::OwnedFd::from(file));
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
        {
            let mut inner = self.inner.borrow_mut();
            let inner = &mut *inner;
            // A file abandoned after a failed flush is in neither: it stays for start-up.
            if let Some(f) = inner
                .current
                .iter_mut()
                .chain(inner.sealed.iter_mut())
                .find(|f| f.path == file)
            {
                f.open_commits = f.open_commits.saturating_sub(1);
                f.touched.extend(touched);
                f.keep |= keep;
            }
        }
        self.retire_ready(engine);
    }

    /// Starts retiring the next file if one is ready (see [`ShardJournal::next_to_retire`]),
    /// or a wait for the current one to go quiet.
    fn retire_ready(self: &Rc<Self>, engine: &Engine) {
        match self.next_to_retire(Instant::now()) {
            Next::Retire(file, sealed) => {
                let me = self.clone();
                let engine = engine.clone();
                (self.spawner)(Box::pin(async move {
                    me.retire(&engine, (file, sealed)).await;
                }));
            }
            Next::Wait(remaining) => {
                let me = self.clone();
                let engine = engine.clone();
                let background = engine.background();
                (self.spawner)(Box::pin(async move {
                    // On the background CPUs, off a pinned change shard's core.
                    super::shard::sleep_on_thread(remaining, "brickd-retwait", move || {
                        background.enter()
                    })
                    .await;
                    me.inner.borrow_mut().waiting = false;
                    me.retire_ready(&engine);
                }));
            }
            Next::Nothing => {}
        }
    }

    /// The file to retire at `now`, if any (marked as retiring): the oldest sealed file once
    /// its commits ended, else the current file when no commit of it is open, no batch is
    /// being written, and it has been quiet for [`RETIRE_QUIET`] (or is [`RETIRE_MAX_AGE`]
    /// old); one retirement at a time, oldest first. An idle current file that is not quiet
    /// yet gives how long to wait, once (`waiting`).
    fn next_to_retire(&self, now: Instant) -> Next {
        let mut inner = self.inner.borrow_mut();
        if inner.retiring {
            return Next::Nothing;
        }
        let next = match inner.sealed.front() {
            Some(oldest) if oldest.open_commits == 0 => inner.sealed.pop_front().map(|f| (f, true)),
            Some(_) => None,
            None => {
                let idle = inner
                    .current
                    .as_ref()
                    .filter(|c| c.open_commits == 0 && c.tail > 0 && !inner.flushing);
                let wait = idle.map(|c| {
                    let since = |at: Option<Instant>| at.map_or(Duration::MAX, |t| now - t);
                    if since(c.first_at) >= RETIRE_MAX_AGE {
                        Duration::ZERO
                    } else {
                        RETIRE_QUIET.saturating_sub(since(c.last_at))
                    }
                });
                match wait {
                    Some(Duration::ZERO) => inner.current.take().map(|f| (f, false)),
                    Some(remaining) => {
                        if std::mem::replace(&mut inner.waiting, true) {
                            return Next::Nothing;
                        }
                        return Next::Wait(remaining);
                    }
                    None => None,
                }
            }
        };
        inner.retiring = next.is_some();
        match next {
            Some((file, sealed)) => Next::Retire(file, sealed),
            None => Next::Nothing,
        }
    }

    /// Syncs what `file`'s records changed, then removes it (or keeps it as the next spare);
    /// then retires the next file if one is ready. `sealed` (a full file, set aside while
    /// commits of it were open) is only logged.
    async fn retire(self: Rc<Self>, engine: &Engine, (file, sealed): (File, bool)) {
        // Tests hold the records here to see start-up redo them.
        let _ = super::failpoints::pass("journal.before-retire").await;
        let mut touched: Vec<PathBuf> = file.touched.iter().cloned().collect();
        touched.push(self.workdir.clone());
        let want_spare = self.inner.borrow().spare.is_none();
        let File {
            fd,
            path,
            keep,
            tail,
            ..
        } = file;
        let keep = {
            let mut inner = self.inner.borrow_mut();
            inner.keep_all |= keep;
            inner.keep_all
        };
        drop(fd);
        let background = engine.background();
        match retire_on_thread(
            touched,
            path.clone(),
            tail,
            keep,
            want_spare,
            sealed,
            background,
        )
        .await
        {
            Ok((Ok(()), made)) => {
                if let Some(file) = made {
                    let mut inner = self.inner.borrow_mut();
                    if inner.spare.is_none() {
                        let fd: Fd = std::sync::Arc::new(std::os::fd::OwnedFd::from(file));
                        inner.spare = Some((fd, path.clone()));
                    } else {
                        // `prepare`'s spare arrived meanwhile: one is enough.
                        drop(inner);
                        if let Err(e) = std::fs::remove_file(&path) {
                            tracing::warn!(path = %path.display(), error = %e, "second spare journal file not removed (it reads as empty)");
                        }
                    }
                }
            }
            Ok((Err(e), _)) | Err(e) => {
                // Left in place: start-up redoes its records, and every later file's.
                self.inner.borrow_mut().keep_all = true;
                tracing::warn!(path = %path.display(), error = %e, "journal not retired");
            }
        }
        self.inner.borrow_mut().retiring = false;
        self.retire_ready(engine);
    }
}

/// On a plain thread (on `background`'s CPUs): `syncfs` on each distinct file
/// system of `touched`, then — once that worked, and unless `keep` — turns the journal file
/// `old` (records in its first `tail` bytes) into the next spare when `want_spare`
/// ([`recycle`]), else removes it. Answers the sync's result and the spare.
async fn retire_on_thread(
    touched: Vec<PathBuf>,
    old: PathBuf,
    tail: u64,
    keep: bool,
    want_spare: bool,
    sealed: bool,
    background: crate::brick::engine::Background,
) -> io::Result<(io::Result<()>, Option<std::fs::File>)> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("brickd-retire".into())
        .spawn(move || {
            background.enter();
            let started = Instant::now();
            let mut made = None;
            let synced = syncfs_all(&touched);
            let sync_us = started.elapsed().as_micros() as u64;
            let synced = synced.and_then(|()| {
                if keep {
                    tracing::warn!(path = %old.display(), "journal file kept for start-up to redo");
                    return Ok(());
                }
                if want_spare {
                    match recycle(&old, tail) {
                        Ok(file) => {
                            made = Some(file);
                            return Ok(());
                        }
                        Err(e) => {
                            tracing::warn!(path = %old.display(), error = %e, "journal file not reused as a spare");
                        }
                    }
                }
                std::fs::remove_file(&old)
            });
            tracing::debug!(
                path = %old.display(),
                tail,
                sealed,
                sync_us,
                total_us = started.elapsed().as_micros() as u64,
                reused = made.is_some(),
                "journal file retired"
            );
            let _ = tx.send((synced, made));
        })?;
    rx.await.map_err(|_| io::Error::other("retire thread gone"))
}

/// Bytes zeroed first when a journal file is reused: one sector, which a disk writes whole or
/// not at all. The first record's frame head lies in it, so once it is zeros on disk start-up
/// reads nothing from the file, whatever a crash leaves of the rest; before that the file is
/// whole, and start-up redoes every record in it (applied already: harmless, in order).
const RECYCLE_HEAD_BYTES: u64 = 512;

/// Turns a retired journal file, whose records (the first `tail` bytes) are all applied and
/// synced, into a spare: zeros where the records were, in two synced steps (the first sector,
/// then the rest: a crash in the second step leaves a file start-up reads as empty, never one
/// that starts with an old record and lacks the ones after it), and zeros up to
/// [`SPARE_BYTES`] if it is shorter. Far less to write than a new spare, and no new file.
fn recycle(path: &Path, tail: u64) -> io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    let head = tail.min(RECYCLE_HEAD_BYTES);
    zero(&file, 0, head)?;
    file.sync_data()?;
    zero(&file, head, tail)?;
    // Past the records the file is zeros already; a short one (made at start-up) grows.
    let len = file.metadata()?.len();
    zero(&file, len.max(tail), SPARE_BYTES as u64)?;
    file.sync_data()?;
    Ok(file)
}

/// Makes the journal file `path` under `workdir` with `zeros` bytes of zeros (a spare:
/// [`SPARE_BYTES`]; 0 for a file made on the spot): the journal directories first if they
/// are missing, and every new entry synced with the file, so the file survives a crash with
/// the records later written into it.
fn create_file(workdir: &Path, path: &Path, zeros: u64) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let sync_dir = |dir: &Path| std::fs::File::open(dir).and_then(|d| d.sync_all());
    let dir = path.parent().unwrap_or(workdir);
    if !dir.is_dir() {
        std::fs::create_dir_all(dir)?;
        let mut at = dir;
        while let Some(parent) = at.parent() {
            sync_dir(parent)?;
            if parent == workdir {
                break;
            }
            at = parent;
        }
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    zero(&file, 0, zeros)?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok(file)
}

/// Writes zeros over `[from, to)` of `file` (nothing when `to <= from`).
fn zero(file: &std::fs::File, from: u64, to: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let zeros = vec![0u8; (to.saturating_sub(from)).min(1 << 20) as usize];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64);
        file.write_all_at(&zeros[..n as usize], at)?;
        at += n;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Uuid;
    use crate::store::journal::{decode_all, encode, Record};
    use std::cell::RefCell;

    fn plain(seq: u64, bytes: usize) -> Record {
        Record {
            seq,
            txn: Uuid::new_v4(),
            op: "create".into(),
            volname: format!("v{seq}"),
            volume_id: Uuid::new_v4(),
            pairs: Vec::new(),
            files: vec![("vols/v/info".into(), vec![b'x'; bytes])],
        }
    }

    fn record(seq: u64, bytes: usize) -> Vec<u8> {
        encode(&plain(seq, bytes))
    }

    type Tasks = Rc<RefCell<Vec<LocalFuture<'static, ()>>>>;

    /// An engine, a journal under a new directory whose background work (flushes,
    /// retirements) is collected in the returned tasks; None (and why, printed) without
    /// io_uring.
    fn harness() -> Option<(Engine, tempfile::TempDir, Rc<ShardJournal>, Tasks)> {
        use crate::brick::engine::EngineConfig;
        let engine = match Engine::start(EngineConfig::default()) {
            Ok(engine) => engine,
            Err(e) => {
                crate::test_skip::missing(
                    "ops::journal tests",
                    &format!("the brick engine needs io_uring ({e})"),
                );
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let tasks: Tasks = Rc::default();
        let spawned = tasks.clone();
        let journal = ShardJournal::new(
            0,
            dir.path().to_path_buf(),
            Arc::new(AtomicU64::new(0)),
            Rc::new(move |f| spawned.borrow_mut().push(f)),
        );
        Some((engine, dir, journal, tasks))
    }

    /// How long [`drive`] polls before it fails the test: far beyond any flush or retirement
    /// (the retirement delay is one second), so it only turns a hang into a failure.
    const DRIVE_DEADLINE: Duration = Duration::from_secs(60);

    /// A small executor: polls `main` and every spawned task until `main` is done, then the
    /// tasks until none is left; panics, saying which it waited for, after [`DRIVE_DEADLINE`].
    fn drive(tasks: &Tasks, main: LocalFuture<'_, ()>) {
        use std::task::{Context, Poll};
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut main = Some(main);
        let mut running: Vec<LocalFuture<'static, ()>> = Vec::new();
        let deadline = std::time::Instant::now() + DRIVE_DEADLINE;
        loop {
            running.extend(tasks.borrow_mut().drain(..));
            running.retain_mut(|t| t.as_mut().poll(&mut cx).is_pending());
            if let Some(m) = main.as_mut() {
                if let Poll::Ready(()) = m.as_mut().poll(&mut cx) {
                    main = None;
                }
            }
            if main.is_none() && running.is_empty() && tasks.borrow().is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "drive: after {DRIVE_DEADLINE:?} the test's future is {} and {} background \
                 task(s) (journal writer, retirement) still pending",
                if main.is_some() { "not done" } else { "done" },
                running.len() + tasks.borrow().len(),
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    #[test]
    fn batches_are_written_by_a_task_of_their_own_not_by_an_appender() {
        // If the first appender wrote the batches itself, it would answer only once the queue
        // ran dry: under steady load never, holding its commit (and its file) open.
        let Some((engine, _dir, journal, tasks)) = harness() else {
            return;
        };
        use std::future::Future;
        use std::task::{Context, Poll};
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut first = Box::pin(journal.append(&engine, plain(0, 100)));
        assert!(matches!(first.as_mut().poll(&mut cx), Poll::Pending));
        assert_eq!(
            tasks.borrow().len(),
            1,
            "the first append started the writer task"
        );
        let mut second = Box::pin(journal.append(&engine, plain(0, 100)));
        assert!(matches!(second.as_mut().poll(&mut cx), Poll::Pending));
        assert_eq!(tasks.borrow().len(), 1, "one writer at a time");
        drive(
            &tasks,
            Box::pin(async {
                first.await.unwrap().done();
                second.await.unwrap().done();
            }),
        );
        let (records, _) = journal::read_all(_dir.path()).unwrap();
        assert!(
            records.is_empty(),
            "both commits ended and the file retired"
        );
    }

    #[test]
    fn a_record_whose_appender_left_after_its_follow_up_started_stays_for_start_up() {
        let Some((engine, dir, journal, tasks)) = harness() else {
            return;
        };
        use std::future::Future;
        use std::sync::atomic::AtomicBool;
        use std::task::{Context, Poll};
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let then: Then = Box::new(move || flag.store(true, Ordering::SeqCst));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut gone = Box::pin(journal.append_then(&engine, plain(0, 100), Some(then)));
        assert!(matches!(gone.as_mut().poll(&mut cx), Poll::Pending));
        drop(gone);
        // A plain append afterwards, which ends normally.
        drive(
            &tasks,
            Box::pin(async {
                journal.append(&engine, plain(0, 100)).await.unwrap().done();
            }),
        );
        assert!(
            ran.load(Ordering::SeqCst),
            "the follow-up ran after the flush"
        );
        let (records, _) = journal::read_all(dir.path()).unwrap();
        assert_eq!(records.len(), 2, "kept for start-up, with what follows it");
        assert!(journal.inner.borrow().keep_all);
    }

    #[test]
    fn a_shard_that_is_never_idle_rotates_and_retires_oldest_first() {
        let Some((engine, dir, journal, tasks)) = harness() else {
            return;
        };
        let drive = |main: LocalFuture<'_, ()>| drive(&tasks, main);
        let seqs = || {
            let (records, _) = journal::read_all(dir.path()).unwrap();
            records.iter().map(|r| r.seq).collect::<Vec<_>>()
        };
        let first_done = RefCell::new(None);
        drive(Box::pin(async {
            // One commit stays open on the first file while others come and go.
            let first = journal.append(&engine, plain(0, 1000)).await.unwrap();
            let mut n = 1;
            while journal.inner.borrow().sealed.is_empty() {
                journal
                    .append(&engine, plain(0, 1 << 20))
                    .await
                    .unwrap()
                    .done();
                n += 1;
                assert!(n < 20, "never rotated");
            }
            // The first file is full and sealed; the one after it has nothing open but must
            // wait for it: nothing retires.
            assert_eq!(journal.inner.borrow().sealed.len(), 1);
            assert!(journal.inner.borrow().current.is_some());
            assert!(!journal.inner.borrow().retiring);
            assert_eq!(seqs(), (1..=n as u64).collect::<Vec<_>>());
            *first_done.borrow_mut() = Some(first);
        }));
        // Ending the first commit retires the first file (it becomes the spare, at once: it is
        // full), then the second (after the batching delay).
        drop(first_done.borrow_mut().take());
        assert!(journal.inner.borrow().retiring);
        drive(Box::pin(async {}));
        let inner = journal.inner.borrow();
        assert!(inner.sealed.is_empty() && inner.current.is_none() && !inner.retiring);
        assert!(inner.spare.is_some());
        drop(inner);
        assert!(seqs().is_empty(), "every record retired");
        let files = std::fs::read_dir(journal::journal_dir(dir.path()))
            .unwrap()
            .count();
        assert_eq!(files, 1, "the spare alone");
    }

    #[test]
    fn the_current_file_retires_once_quiet_or_old_never_in_a_burst() {
        let Some((engine, dir, journal, tasks)) = harness() else {
            return;
        };
        let records = || journal::read_all(dir.path()).unwrap().0.len();
        // A burst: commits 300 ms apart for 1.5 s, longer than the quiet time in all; the
        // file is never set aside between them.
        drive(
            &tasks,
            Box::pin(async {
                for n in 1..=6 {
                    journal.append(&engine, plain(0, 100)).await.unwrap().done();
                    assert!(
                        !journal.inner.borrow().retiring,
                        "retiring after commit {n}"
                    );
                    assert_eq!(records(), n);
                    std::thread::sleep(Duration::from_millis(300));
                }
                // Idle but only just: asked now, it waits; asked at the end of the quiet
                // time (or at the maximum age), the file goes.
                let now = Instant::now();
                let waiting = journal.inner.borrow().waiting;
                match journal.next_to_retire(now) {
                    Next::Wait(d) => assert!(!waiting && d <= RETIRE_QUIET, "{d:?}"),
                    Next::Nothing => assert!(waiting, "a wait runs already"),
                    Next::Retire(..) => panic!("retired before it was quiet"),
                }
                let first = journal.inner.borrow().current.as_ref().unwrap().first_at;
                let aged = first.unwrap() + RETIRE_MAX_AGE;
                // A fresh commit keeps it from being quiet; age alone lets it go.
                journal.inner.borrow_mut().current.as_mut().unwrap().last_at = Some(aged);
                match journal.next_to_retire(aged) {
                    Next::Retire(file, sealed) => {
                        assert!(!sealed);
                        // Back where it was: the retirement below is the real one.
                        let mut inner = journal.inner.borrow_mut();
                        inner.current = Some(file);
                        inner.retiring = false;
                    }
                    _ => panic!("a file at the maximum age did not retire"),
                }
                journal.inner.borrow_mut().current.as_mut().unwrap().last_at = Some(Instant::now());
            }),
        );
        // The burst over, the file retired once, quiet.
        assert_eq!(records(), 0);
        let inner = journal.inner.borrow();
        assert!(inner.current.is_none() && !inner.retiring && !inner.waiting);
    }

    #[test]
    fn a_recycled_file_reads_as_empty_after_each_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0-1.log");
        let mut bytes = record(1, 3000);
        bytes.extend(record(2, 9000));
        bytes.extend(record(3, 10));
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(decode_all(&std::fs::read(&path).unwrap()).records.len(), 3);
        // A crash after the first step: the first sector is zeros, the rest still there.
        let mut first_step = bytes.clone();
        first_step[..RECYCLE_HEAD_BYTES as usize].fill(0);
        let c = decode_all(&first_step);
        assert!(
            c.records.is_empty() && c.tail.is_none() && !c.damaged,
            "{c:?}"
        );
        // Done: zeros, at least a spare's size, and a new record reads alone.
        let file = recycle(&path, bytes.len() as u64).unwrap();
        drop(file);
        let mut after = std::fs::read(&path).unwrap();
        assert_eq!(after.len(), SPARE_BYTES);
        assert!(after.iter().all(|&b| b == 0));
        let next = record(4, 100);
        after[..next.len()].copy_from_slice(&next);
        let c = decode_all(&after);
        assert_eq!(c.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [4]);
        // A file longer than a spare keeps its length; the records' bytes are zeros.
        let long = vec![7u8; SPARE_BYTES + 10];
        std::fs::write(&path, &long).unwrap();
        recycle(&path, long.len() as u64).unwrap();
        let after = std::fs::read(&path).unwrap();
        assert_eq!(after.len(), long.len());
        assert!(after.iter().all(|&b| b == 0));
    }
}
