//! The brick engine: brick syscalls (open, statx, xattrs, mkdir, unlink, rename, write, fsync)
//! on an io_uring of our own, driven by one thread.
//!
//! glommio has no xattr operations, so brick work does not go through the shard executors'
//! rings. Instead one thread, `brick-engine`, owns an io_uring (the `io-uring` crate) and is fed
//! by a crossbeam channel; each request carries a `futures_channel::oneshot` sender that the
//! engine answers. Callers are glommio executors on other threads (glommio accepts wake-ups from
//! foreign threads) or plain threads using `futures_lite::future::block_on`.
//!
//! Shutdown: the engine's last look at the channel before sleeping receives (rather than only
//! checks for emptiness), so a disconnect whose wake-up the loop already reaped is seen; an
//! earlier version could sleep forever there when the last answer and the disconnect came
//! close together.
//!
//! # What this module owns and must not do
//!
//! It owns the ring, the engine thread, and every buffer, C string and fd an in-flight SQE
//! points to: a request's data lives in a slab slot (`worker::Slab`) keyed by the SQE's
//! `user_data` until its CQE has been reaped, and fds travel as [`Fd`] (`Arc<OwnedFd>`) clones
//! held by that slot. It knows nothing of bricks, volume ids or glusterd's rules (that is
//! `brick`'s other modules); it never blocks a caller's thread except in [`Drop`] of the last
//! [`Engine`], which joins the thread after in-flight operations have drained.
//!
//! # Batching and wake-up
//!
//! The engine loop is: take requests from the channel (up to the in-flight bound) and turn each
//! into an SQE, reap whatever CQEs are ready, then make one `io_uring_enter` that submits all the
//! queued SQEs at once. When there is nothing to take and nothing to reap, the thread sleeps in
//! `io_uring_enter(GETEVENTS, min_complete = 1)`, so it wakes for the first CQE of *any*
//! in-flight operation — a new request never waits for unrelated slow ones to finish.
//!
//! New requests reach a sleeping engine through an eventfd: the engine always keeps one
//! `IORING_OP_READ` of that eventfd in flight, so a write to it produces a CQE and ends the sleep.
//! To keep the per-request cost to "push on a channel", senders write the eventfd only when the
//! engine has announced that it is going to sleep (`Shared::sleeping`), and only the first sender
//! to see the flag (the one whose `swap(false)` returns `true`) pays for the `write(2)`. The
//! flag and the channel form a Dekker pair, each side ordered by a `SeqCst` fence:
//!
//! * engine: `sleeping = true`; fence; if the channel is not empty, clear the flag and go on;
//!   else enter the ring and wait;
//! * sender: push on the channel; fence; if `sleeping.swap(false)` was `true`, write the eventfd.
//!
//! Either the engine sees the request, or the sender sees the flag; a wake-up is never lost. A
//! stale write (the engine woke for another CQE first) only completes the eventfd read early;
//! the engine re-arms it. While the engine is busy, requests cost no syscall at all, and a burst
//! of N requests costs about N / ring-size `io_uring_enter` calls ([`EngineStats::submissions`]).
//!
//! # Bulk probes
//!
//! [`Engine::probe_dirs`] is one request for many paths (statx + getxattr per path): the engine
//! expands it into ring operations, collects their results and answers once (`probe.rs`). It
//! exists because a message, a oneshot and a wake-up per operation cost more than the kernel
//! work when validation reads tens of thousands of directories.
//!
//! # Where a syscall beats the ring
//!
//! The kernel runs path and xattr opcodes (openat, statx, getxattr, fsetxattr, mkdirat,
//! unlinkat, renameat, close) on its io-wq workers whatever the submission says, so each such
//! SQE costs a hand-off between threads. With [`EngineConfig::syscalls_when_cheaper`] (the
//! default) the engine runs them as plain syscalls where that measured cheaper: a lone request
//! on an idle engine, and a small probe (up to 48 steps) whatever else is in flight, run on
//! the engine thread at once; a bulk probe (1,024
//! steps or more) is split across one thread per core (`worker::run_in_parallel`). Bursts of
//! separate requests, writes and fsyncs still go to the ring.
//!
//! # Script lanes
//!
//! [`Engine::script`] runs a closure of plain syscalls on one of three lane threads, in call
//! order: several dependent steps (a brick's claim, a journal append and its `fdatasync`, a new
//! volume's store files) for one hand-off instead of one per step. [`Lane::Journal`] carries
//! only journal appends; [`Lane::Quick`] other steps a caller waits on (a delete's move out of
//! the store with its release); [`Lane::Store`] the store files written after a reply, on
//! [`EngineConfig::background_cpus`] (off the change shard's core when shards are pinned).
//! A lane thread waits on a
//! [`lane`] queue, which sleeps on a futex at once when it is empty (crossbeam's blocking
//! receive yields the CPU first, and on a busy machine a yielded lane thread left a script
//! waiting for the next scheduler tick).
//!
//! # Bounds
//!
//! * In-flight operations: at most the completion queue size minus one (the eventfd read), so
//!   the CQ can never overflow. Requests beyond that wait in the channel.
//! * The channel itself is unbounded: callers are async and must not block their executor; the
//!   number of outstanding requests is bounded by the callers (one per awaiting future).
//! * Xattr values: buffers are capped at `XATTR_SIZE_MAX` (64 KiB), as the kernel caps them.
//! * Writes: at most `MAX_RW_COUNT` bytes per call, as the kernel caps them (a short count).
//!
//! # Fallback
//!
//! At start-up the engine probes the ring (`IORING_REGISTER_PROBE`); an [`Op`] whose opcode is
//! missing, or listed in [`EngineConfig::force_fallback`], runs as a plain syscall on the engine
//! thread, with exactly the same result handling as the ring path. `fremovexattr` has no io_uring
//! opcode and is always a syscall. The split is logged with `tracing::info!` and available as
//! [`Engine::support`]. A fallback syscall blocks the engine thread for its duration.
//!
//! # Closing fds
//!
//! When an operation completes and the engine holds the last reference to one of its fds (the
//! caller dropped its own), or an opened fd cannot be delivered because the caller dropped its
//! future, the engine closes it with `IORING_OP_CLOSE` ([`Op::Close`]) rather than a blocking
//! `close(2)` on its thread.

pub(crate) mod lane;
mod probe;
mod task;
mod worker;

pub use self::probe::DirProbe;

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use futures_channel::oneshot;

use self::task::{Reply, Task};

/// A file descriptor shared between the caller and the engine; the engine keeps a clone until
/// the operation using it has completed, so the fd cannot be closed (and its number reused)
/// under an in-flight SQE.
pub type Fd = Arc<OwnedFd>;

/// Largest xattr value the kernel stores or returns (`XATTR_SIZE_MAX` in `linux/limits.h`).
const XATTR_VALUE_BYTES_MAX: usize = 65_536;

/// Largest byte count one read or write moves (`MAX_RW_COUNT` in `linux/fs.h`); larger writes
/// are short, exactly as `pwrite(2)` is.
const RW_BYTES_MAX: usize = 0x7fff_f000;

/// How to start an [`Engine`].
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Submission queue size (the kernel rounds up to a power of two and clamps to its maximum).
    /// The engine keeps up to twice this many operations in flight.
    pub ring_entries: u32,
    /// Operations to run as plain syscalls even if the kernel supports their opcode (tests use
    /// this to exercise the fallback path).
    pub force_fallback: Vec<Op>,
    /// Run path and xattr operations as plain syscalls where that measured cheaper than the
    /// ring: the kernel hands those opcodes to one of its worker threads anyway, so each SQE
    /// costs a thread hand-off. A lone request on an idle engine and a small probe (whatever
    /// else is in flight) run on the engine thread; a bulk probe is split across one thread per core. `false` puts every
    /// supported opcode on the ring (tests of the ring path).
    pub syscalls_when_cheaper: bool,
    /// The CPUs the store lane ([`Lane::Store`]) and the background threads that call
    /// [`Background::enter`] run on; empty: every CPU the thread calling [`Engine::start`]
    /// may run on (a thread started later by a pinned shard would otherwise inherit that
    /// shard's one core). The server
    /// keeps them off the change shard's core when it pins shards: the store files a create
    /// writes after its reply (0.3-1.2 ms of CPU on this machine's root file system, in
    /// system calls the kernel does not preempt) otherwise ran beside the pinned shard, which
    /// cannot move away, and its next request waited for them.
    pub background_cpus: Vec<usize>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ring_entries: 256,
            force_fallback: Vec::new(),
            syscalls_when_cheaper: true,
            background_cpus: Vec::new(),
        }
    }
}

/// An operation the engine can run on the ring, named after its io_uring opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `IORING_OP_OPENAT` / `openat(2)`.
    OpenAt,
    /// `IORING_OP_STATX` / `statx(2)`.
    Statx,
    /// `IORING_OP_FGETXATTR` / `fgetxattr(2)`.
    FGetXattr,
    /// `IORING_OP_FSETXATTR` / `fsetxattr(2)`.
    FSetXattr,
    /// `IORING_OP_GETXATTR` / `getxattr(2)` (by path; used by [`Engine::probe_dirs`]).
    GetXattr,
    /// `IORING_OP_MKDIRAT` / `mkdirat(2)`.
    MkDirAt,
    /// `IORING_OP_UNLINKAT` / `unlinkat(2)`.
    UnlinkAt,
    /// `IORING_OP_RENAMEAT` / `renameat(2)`.
    RenameAt,
    /// `IORING_OP_WRITE` / `pwrite(2)`.
    Write,
    /// `IORING_OP_FSYNC` / `fsync(2)`, `fdatasync(2)`.
    Fsync,
    /// `IORING_OP_CLOSE` / `close(2)`, used by the engine for fds it holds the last reference to.
    Close,
}

impl Op {
    /// Every operation, in declaration order (tests and benchmarks force them all onto the
    /// syscall fallback).
    pub const ALL: [Op; 11] = [
        Op::OpenAt,
        Op::Statx,
        Op::FGetXattr,
        Op::FSetXattr,
        Op::GetXattr,
        Op::MkDirAt,
        Op::UnlinkAt,
        Op::RenameAt,
        Op::Write,
        Op::Fsync,
        Op::Close,
    ];

    /// The io_uring opcode the probe is asked about.
    fn opcode(self) -> u8 {
        use io_uring::opcode;
        match self {
            Op::OpenAt => opcode::OpenAt::CODE,
            Op::Statx => opcode::Statx::CODE,
            Op::FGetXattr => opcode::FGetXattr::CODE,
            Op::FSetXattr => opcode::FSetXattr::CODE,
            Op::GetXattr => opcode::GetXattr::CODE,
            Op::MkDirAt => opcode::MkDirAt::CODE,
            Op::UnlinkAt => opcode::UnlinkAt::CODE,
            Op::RenameAt => opcode::RenameAt::CODE,
            Op::Write => opcode::Write::CODE,
            Op::Fsync => opcode::Fsync::CODE,
            Op::Close => opcode::Close::CODE,
        }
    }

    /// Index into per-op tables.
    /// Path and xattr operations (and close): the kernel always runs these on one of its
    /// worker threads, never inline in the submission.
    fn is_punted(self) -> bool {
        !matches!(self, Op::Write | Op::Fsync)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Which operations run on the ring and which run as syscalls on the engine thread.
#[derive(Clone, Debug)]
pub struct Support {
    /// Operations submitted to io_uring.
    pub native: Vec<Op>,
    /// Operations run as plain syscalls (missing opcode, or forced by the configuration).
    pub fallback: Vec<Op>,
}

/// How `fsetxattr` treats an existing attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetMode {
    /// Fail with `EEXIST` if the attribute exists (`XATTR_CREATE`).
    Create,
    /// Fail with `ENODATA` if the attribute does not exist (`XATTR_REPLACE`).
    Replace,
    /// Create or replace (flags 0).
    Either,
}

impl SetMode {
    /// The flags of fsetxattr(2).
    pub fn flags(self) -> i32 {
        match self {
            SetMode::Create => libc::XATTR_CREATE,
            SetMode::Replace => libc::XATTR_REPLACE,
            SetMode::Either => 0,
        }
    }
}

/// Counters of the engine's work since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Caller requests completed (ring or syscall).
    pub ops: u64,
    /// `io_uring_enter` calls that submitted at least one SQE.
    pub submissions: u64,
    /// Caller requests that ran as plain syscalls because their opcode is not used.
    pub fallback_ops: u64,
    /// Caller requests with an opcode that ran as syscalls because the engine was idle
    /// ([`EngineConfig::syscalls_when_cheaper`]).
    pub inline_ops: u64,
    /// Operations on the ring now (caller requests, probe steps and closes; not the engine's
    /// own eventfd read): queued in the submission queue or submitted, their completion not
    /// yet reaped. The engine submits what it queued before it waits, so a count that stays
    /// up is work the kernel holds (a write into a full pipe, say).
    pub ring_in_flight: u64,
}

/// The fields of `statx(2)` brick validation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// File type and permission bits (`st_mode`).
    pub mode: u32,
    /// Inode number.
    pub ino: u64,
    /// Major number of the device holding the file.
    pub dev_major: u32,
    /// Minor number of the device holding the file.
    pub dev_minor: u32,
    /// Hard link count.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Mount id (`STATX_MNT_ID`), 0 if the kernel did not report it.
    pub mnt_id: u64,
    /// The file is the root of a mount (`STATX_ATTR_MOUNT_ROOT`); false if the kernel did not
    /// report the attribute.
    pub mount_root: bool,
}

impl Stat {
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// A symbolic link (only seen with `nofollow`).
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// The device number as `stat(2)`'s `st_dev` encodes it.
    pub fn dev(&self) -> u64 {
        libc::makedev(self.dev_major, self.dev_minor)
    }

    /// Reads the fields out of a `statx` buffer the kernel filled.
    fn from_statx(buf: &libc::statx) -> Stat {
        let mount_root_bit = libc::STATX_ATTR_MOUNT_ROOT as u64;
        Stat {
            mode: u32::from(buf.stx_mode),
            ino: buf.stx_ino,
            dev_major: buf.stx_dev_major,
            dev_minor: buf.stx_dev_minor,
            nlink: buf.stx_nlink,
            uid: buf.stx_uid,
            gid: buf.stx_gid,
            size: buf.stx_size,
            mnt_id: if buf.stx_mask & libc::STATX_MNT_ID != 0 {
                buf.stx_mnt_id
            } else {
                0
            },
            mount_root: buf.stx_attributes_mask & mount_root_bit != 0
                && buf.stx_attributes & mount_root_bit != 0,
        }
    }
}

/// The fields of `statvfs(3)` the store needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsStat {
    /// `f_fsid` as glibc's statvfs reports it (glusterd's `brick-fsid`).
    pub fsid: u64,
    /// `f_bsize`.
    pub block_size: u64,
    /// `f_blocks`.
    pub blocks: u64,
    /// `f_bavail`: blocks free for unprivileged users.
    pub blocks_free: u64,
}

/// State shared by the callers' handles and the engine thread.
struct Shared {
    /// Set by the engine just before it sleeps in the ring; a sender that clears it writes the
    /// eventfd.
    sleeping: AtomicBool,
    /// The eventfd the engine keeps a ring read on.
    wake_fd: OwnedFd,
    ops: AtomicU64,
    submissions: AtomicU64,
    fallback_ops: AtomicU64,
    inline_ops: AtomicU64,
    ring_in_flight: AtomicU64,
}

impl Shared {
    /// Writes 1 to the eventfd, completing the engine's read of it.
    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an fd this struct owns. The only failure
        // (EAGAIN at a counter of 2^64 - 2) cannot happen: the engine reads the counter to zero
        // on every wake-up.
        let _ = unsafe {
            libc::write(
                self.wake_fd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

/// The engine's handle, shared by every [`Engine`] clone; dropping it stops the thread.
struct Handle {
    /// `None` only while dropping.
    requests: Option<crossbeam_channel::Sender<Task>>,
    shared: Arc<Shared>,
    support: Support,
    /// `None` only while dropping.
    thread: Option<JoinHandle<()>>,
    /// The script lanes ([`Engine::script`]), by [`Lane`]; empty only while dropping.
    scripts: Vec<lane::Sender<Script>>,
    script_threads: Vec<JoinHandle<()>>,
    /// [`EngineConfig::background_cpus`].
    background: Background,
}

/// A script lane: a thread running scripts one at a time, in order of the calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Journal appends and their flush: the commit point of every operation, never queued
    /// behind anything else.
    Journal,
    /// Short steps a caller waits for (a brick claim): never queued behind background work.
    Quick,
    /// Store files written after a reply. Runs on [`EngineConfig::background_cpus`].
    Store,
}

/// A chain of plain syscalls run on the script thread.
type Script = Box<dyn FnOnce() + Send>;

impl Handle {
    fn send(&self, task: Task) -> io::Result<()> {
        let Some(requests) = &self.requests else {
            return Err(engine_gone());
        };
        requests.send(task).map_err(|_| engine_gone())?;
        fence(Ordering::SeqCst);
        if self.shared.sleeping.load(Ordering::Relaxed)
            && self.shared.sleeping.swap(false, Ordering::SeqCst)
        {
            self.shared.wake();
        }
        Ok(())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Disconnect first, then wake: the engine sees the disconnect when it next looks.
        drop(self.requests.take());
        self.scripts.clear();
        self.shared.wake();
        let mut threads = std::mem::take(&mut self.script_threads);
        threads.extend(self.thread.take());
        for thread in threads {
            if thread.thread().id() != std::thread::current().id() && thread.join().is_err() {
                tracing::error!("brick engine thread panicked");
            }
        }
    }
}

/// [`Engine::background`]: the CPUs for background file work.
#[derive(Clone, Debug, Default)]
pub struct Background(Arc<[usize]>);

impl Background {
    /// Moves the calling thread there (nothing when the set is empty: the CPUs could not be
    /// read). Best effort:
    /// a set the kernel refuses (all of it offline, say) leaves the thread where it was.
    pub fn enter(&self) {
        let cpus = &self.0;
        if cpus.is_empty() {
            return;
        }
        // A mask as long as the highest CPU needs (the kernel takes any multiple of a word).
        let highest = cpus.iter().copied().max().unwrap_or(0);
        let mut mask = vec![0u64; highest / 64 + 1];
        for &cpu in cpus.iter() {
            mask[cpu / 64] |= 1 << (cpu % 64);
        }
        // SAFETY: pid 0 is the calling thread; the kernel reads `mask.len() * 8` bytes of the
        // live buffer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_sched_setaffinity,
                0,
                mask.len() * 8,
                mask.as_ptr(),
            )
        };
        if rc != 0 {
            let error = io::Error::last_os_error();
            tracing::info!(?cpus, %error, "background thread left where it was");
        }
    }
}

/// Longest CPU mask [`allowed_cpus`] asks for, in 64-bit words (262,144 CPUs).
const CPU_MASK_WORDS_MAX: usize = 4096;

/// The CPUs the calling thread may run on (any number of them: the mask grows until the
/// kernel's fits); empty when they cannot be read.
pub fn allowed_cpus() -> Vec<usize> {
    let mut words = 16;
    loop {
        let mut mask = vec![0u64; words];
        // SAFETY: pid 0 is the calling thread; the kernel writes at most `words * 8` bytes
        // into the live buffer. The raw call answers how many bytes it wrote.
        let rc =
            unsafe { libc::syscall(libc::SYS_sched_getaffinity, 0, words * 8, mask.as_mut_ptr()) };
        if rc > 0 {
            let written = (rc as usize).div_ceil(8).min(words);
            return mask[..written]
                .iter()
                .enumerate()
                .flat_map(|(i, word)| {
                    (0..64)
                        .filter(move |bit| word & (1 << bit) != 0)
                        .map(move |bit| i * 64 + bit)
                })
                .collect();
        }
        // Too short for the kernel's mask: double it.
        let too_short = io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL);
        if !too_short || words >= CPU_MASK_WORDS_MAX {
            return Vec::new();
        }
        words *= 2;
    }
}

fn engine_gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "brick engine thread is gone")
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path {path:?} contains a NUL byte"),
        )
    })
}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("xattr name {name:?} contains a NUL byte"),
        )
    })
}

/// A handle to the brick engine thread. Cheap to clone; the thread stops (after draining its
/// in-flight operations) when the last clone is dropped, and that drop joins it.
#[derive(Clone)]
pub struct Engine {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("support", &self.handle.support)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Engine {
    /// Creates the ring, probes it, and starts the `brick-engine` thread.
    ///
    /// Fails if io_uring is unavailable (kernel older than 5.6, or disabled by
    /// `kernel.io_uring_disabled` or a seccomp filter) or `ring_entries` is 0.
    pub fn start(config: EngineConfig) -> io::Result<Engine> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new fd we own. The fd is
        // blocking so that the ring's read of it waits (via poll) instead of failing with EAGAIN.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd owned by nobody else.
        let wake_fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let shared = Arc::new(Shared {
            sleeping: AtomicBool::new(false),
            wake_fd,
            ops: AtomicU64::new(0),
            submissions: AtomicU64::new(0),
            fallback_ops: AtomicU64::new(0),
            inline_ops: AtomicU64::new(0),
            ring_in_flight: AtomicU64::new(0),
        });
        let (requests, incoming) = crossbeam_channel::unbounded();
        let (support, thread) = worker::spawn(&config, incoming, Arc::clone(&shared))?;
        let mut scripts = Vec::new();
        let mut script_threads = Vec::new();
        let background = Background(
            if config.background_cpus.is_empty() {
                allowed_cpus()
            } else {
                config.background_cpus.clone()
            }
            .into(),
        );
        for (name, placed) in [
            ("brick-journal", None),
            ("brick-quick", None),
            ("brick-store", Some(background.clone())),
        ] {
            // Not a crossbeam channel: its blocking receive yields the CPU before it sleeps
            // (see `lane`).
            let (tx, rx) = lane::queue::<Script>();
            script_threads.push(std::thread::Builder::new().name(name.into()).spawn(
                move || {
                    if let Some(background) = placed {
                        background.enter();
                    }
                    for script in &rx {
                        // A panicking script loses its own answer (its caller sees the engine
                        // gone), not the lane.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(script));
                    }
                },
            )?);
            scripts.push(tx);
        }
        Ok(Engine {
            handle: Arc::new(Handle {
                requests: Some(requests),
                shared,
                support,
                thread: Some(thread),
                scripts,
                script_threads,
                background,
            }),
        })
    }

    /// Where background file work runs ([`EngineConfig::background_cpus`]), for a thread
    /// started for such work (a journal file's retirement, the trash), which would otherwise
    /// inherit its starter's placement: a pinned shard's core.
    pub fn background(&self) -> Background {
        self.handle.background.clone()
    }

    /// Which operations run on the ring and which as syscalls.
    pub fn support(&self) -> &Support {
        &self.handle.support
    }

    /// Counters since start.
    pub fn stats(&self) -> EngineStats {
        let shared = &self.handle.shared;
        EngineStats {
            ops: shared.ops.load(Ordering::Relaxed),
            submissions: shared.submissions.load(Ordering::Relaxed),
            fallback_ops: shared.fallback_ops.load(Ordering::Relaxed),
            inline_ops: shared.inline_ops.load(Ordering::Relaxed),
            ring_in_flight: shared.ring_in_flight.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` on the engine's script thread for `lane` and awaits its answer: several dependent
    /// syscalls for the price of one hand-off. For short chains of metadata operations (a
    /// brick's claim, a commit's new store files, a journal append and its flush), where one
    /// ring operation per step costs a thread hand-off each (the kernel punts path and xattr
    /// operations to its workers). Scripts run one at a time, in the order of the calls: the
    /// script is queued by the call itself, not when the answer is first awaited, and a queued
    /// script runs even if nobody awaits it (the engine drains the lane before it stops).
    pub fn script<R, F>(&self, lane: Lane, f: F) -> impl std::future::Future<Output = io::Result<R>>
    where
        F: FnOnce() -> io::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let index = match lane {
            Lane::Journal => 0,
            Lane::Quick => 1,
            Lane::Store => 2,
        };
        let sent = match self.handle.scripts.get(index) {
            Some(scripts) => scripts
                .send(Box::new(move || {
                    let _ = reply.send(f());
                }))
                .map_err(|_| engine_gone()),
            None => Err(engine_gone()),
        };
        async move {
            sent?;
            answer.await.unwrap_or_else(|_| Err(engine_gone()))
        }
    }

    /// Sends a task built around a fresh reply channel and awaits the answer.
    async fn call<T>(&self, build: impl FnOnce(Reply<T>) -> Task) -> io::Result<T> {
        let (reply, answer) = oneshot::channel();
        self.handle.send(build(reply))?;
        answer.await.unwrap_or_else(|_| Err(engine_gone()))
    }

    /// Opens a directory without following a final symlink:
    /// O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC; `dir: None` = AT_FDCWD.
    pub async fn open_dir(&self, dir: Option<&Fd>, path: &Path) -> io::Result<Fd> {
        self.open(
            dir,
            path,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )
        .await
    }

    /// openat with caller flags (O_CLOEXEC always added) and mode.
    pub async fn open(
        &self,
        dir: Option<&Fd>,
        path: &Path,
        flags: i32,
        mode: u32,
    ) -> io::Result<Fd> {
        let path = c_path(path)?;
        let dir = dir.cloned();
        self.call(|reply| Task::Open {
            dir,
            path,
            flags: flags | libc::O_CLOEXEC,
            mode,
            reply,
        })
        .await
    }

    /// statx; `nofollow` adds AT_SYMLINK_NOFOLLOW; an empty path with Some(dir) uses
    /// AT_EMPTY_PATH (stat of the fd itself).
    pub async fn statx(&self, dir: Option<&Fd>, path: &Path, nofollow: bool) -> io::Result<Stat> {
        let mut flags = libc::AT_STATX_SYNC_AS_STAT;
        if nofollow {
            flags |= libc::AT_SYMLINK_NOFOLLOW;
        }
        if dir.is_some() && path.as_os_str().is_empty() {
            flags |= libc::AT_EMPTY_PATH;
        }
        let path = c_path(path)?;
        let dir = dir.cloned();
        self.call(|reply| Task::Statx {
            dir,
            path,
            flags,
            // SAFETY: `statx` is plain integers; all zeroes is a valid value.
            buf: Box::new(unsafe { std::mem::zeroed() }),
            reply,
        })
        .await
    }

    /// fgetxattr; ERANGE if the value is longer than `size_max` (exactly like the syscall with
    /// that buffer size, except that `size_max` 0 is not a length query: a non-empty value is
    /// ERANGE, an empty one is returned).
    pub async fn fgetxattr(&self, fd: &Fd, name: &str, size_max: usize) -> io::Result<Vec<u8>> {
        let name = c_name(name)?;
        let fd = Arc::clone(fd);
        // The kernel caps a larger buffer at XATTR_SIZE_MAX too, so this changes no result.
        let buf = vec![0; size_max.min(XATTR_VALUE_BYTES_MAX)];
        self.call(|reply| Task::GetXattr {
            fd,
            name,
            buf,
            reply,
        })
        .await
    }

    /// fsetxattr with `XATTR_CREATE`, `XATTR_REPLACE` or neither.
    pub async fn fsetxattr(
        &self,
        fd: &Fd,
        name: &str,
        value: &[u8],
        mode: SetMode,
    ) -> io::Result<()> {
        let name = c_name(name)?;
        if value.len() > XATTR_VALUE_BYTES_MAX {
            // What the kernel answers; checked here because the SQE length is 32 bits.
            return Err(io::Error::from_raw_os_error(libc::E2BIG));
        }
        let fd = Arc::clone(fd);
        let value = value.to_vec();
        self.call(|reply| Task::SetXattr {
            fd,
            name,
            value,
            flags: mode.flags(),
            reply,
        })
        .await
    }

    /// fremovexattr; always a syscall on the engine thread (io_uring has no opcode for it).
    pub async fn fremovexattr(&self, fd: &Fd, name: &str) -> io::Result<()> {
        let name = c_name(name)?;
        let fd = Arc::clone(fd);
        self.call(|reply| Task::RemoveXattr { fd, name, reply })
            .await
    }

    /// mkdirat.
    pub async fn mkdirat(&self, dir: Option<&Fd>, path: &Path, mode: u32) -> io::Result<()> {
        let path = c_path(path)?;
        let dir = dir.cloned();
        self.call(|reply| Task::MkDir {
            dir,
            path,
            mode,
            reply,
        })
        .await
    }

    /// unlinkat; `remove_dir` = AT_REMOVEDIR.
    pub async fn unlinkat(
        &self,
        dir: Option<&Fd>,
        path: &Path,
        remove_dir: bool,
    ) -> io::Result<()> {
        let path = c_path(path)?;
        let dir = dir.cloned();
        let flags = if remove_dir { libc::AT_REMOVEDIR } else { 0 };
        self.call(|reply| Task::Unlink {
            dir,
            path,
            flags,
            reply,
        })
        .await
    }

    /// renameat (no flags).
    pub async fn renameat(
        &self,
        old_dir: Option<&Fd>,
        old: &Path,
        new_dir: Option<&Fd>,
        new: &Path,
    ) -> io::Result<()> {
        let old = c_path(old)?;
        let new = c_path(new)?;
        let old_dir = old_dir.cloned();
        let new_dir = new_dir.cloned();
        self.call(|reply| Task::Rename {
            old_dir,
            old,
            new_dir,
            new,
            reply,
        })
        .await
    }

    /// pwrite at `offset`; returns the byte count written, which may be short (at most
    /// `MAX_RW_COUNT`, as `pwrite(2)`). An offset above `i64::MAX` is EINVAL.
    pub async fn write(&self, fd: &Fd, data: Vec<u8>, offset: u64) -> io::Result<usize> {
        if i64::try_from(offset).is_err() {
            // pwrite(2)'s answer; io_uring would read u64::MAX as "the file position" instead.
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let fd = Arc::clone(fd);
        self.call(|reply| Task::Write {
            fd,
            data,
            offset,
            reply,
        })
        .await
    }

    /// Probes many paths in one request: for each path (absolute, or relative to the working
    /// directory), `statx` without following a final symlink and `getxattr` of each of `names`
    /// with a `value_max`-byte buffer, all in flight at once. One answer, in the order of
    /// `paths`, when all are done; see [`DirProbe`]. Far cheaper than the same operations one
    /// by one (one message instead of one per operation); the kernel work is the same.
    pub async fn probe_dirs(
        &self,
        paths: &[&Path],
        names: &[&str],
        value_max: usize,
    ) -> io::Result<Vec<DirProbe>> {
        let paths = paths
            .iter()
            .map(|p| c_path(p))
            .collect::<io::Result<Vec<_>>>()?;
        let names = names
            .iter()
            .map(|n| c_name(n))
            .collect::<io::Result<Vec<_>>>()?;
        let value_max = value_max.min(XATTR_VALUE_BYTES_MAX);
        self.call(|reply| {
            Task::Probe(probe::ProbeRequest {
                paths,
                names,
                value_max,
                reply,
            })
        })
        .await
    }

    /// statvfs of `path`; always a syscall on the engine thread (io_uring has no opcode).
    pub async fn statvfs(&self, path: &Path) -> io::Result<FsStat> {
        let path = c_path(path)?;
        self.call(|reply| Task::Statvfs {
            path,
            // SAFETY: `statvfs` is plain integers; all zeroes is a valid value.
            buf: Box::new(unsafe { std::mem::zeroed() }),
            reply,
        })
        .await
    }

    /// fsync, or fdatasync if `datasync`.
    pub async fn fsync(&self, fd: &Fd, datasync: bool) -> io::Result<()> {
        let fd = Arc::clone(fd);
        self.call(|reply| Task::Fsync {
            fd,
            datasync,
            reply,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This thread's `Cpus_allowed_list` as the kernel prints it ("0-3,6").
    fn cpus_in_proc() -> Vec<usize> {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
        let list = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap()
            .trim();
        list.split(',')
            .flat_map(|part| match part.split_once('-') {
                Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<usize>>(),
                None => vec![part.parse().unwrap()],
            })
            .collect()
    }

    #[test]
    fn allowed_cpus_reads_the_threads_mask_and_background_sets_it() {
        std::thread::spawn(|| {
            let all = allowed_cpus();
            assert_eq!(all, cpus_in_proc());
            // Onto one CPU and back to all of them.
            Background(vec![all[all.len() - 1]].into()).enter();
            assert_eq!(allowed_cpus(), [all[all.len() - 1]]);
            assert_eq!(cpus_in_proc(), [all[all.len() - 1]]);
            Background(all.clone().into()).enter();
            assert_eq!(allowed_cpus(), all);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn op_indices_match_all_and_opcodes_are_distinct() {
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
        }
        let mut codes: Vec<u8> = Op::ALL.iter().map(|op| op.opcode()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Op::ALL.len());
    }

    #[test]
    fn stat_reads_type_device_and_mount_root_from_statx() {
        // SAFETY: `statx` is plain integers; all zeroes is a valid value.
        let mut buf: libc::statx = unsafe { std::mem::zeroed() };
        buf.stx_mode = (libc::S_IFDIR | 0o755) as u16;
        buf.stx_dev_major = 8;
        buf.stx_dev_minor = 3;
        buf.stx_mnt_id = 42;
        buf.stx_attributes = libc::STATX_ATTR_MOUNT_ROOT as u64;
        let stat = Stat::from_statx(&buf);
        assert!(stat.is_dir() && !stat.is_file() && !stat.is_symlink());
        assert_eq!(stat.dev(), libc::makedev(8, 3));
        // Neither reported by the kernel: mask bits unset.
        assert_eq!(stat.mnt_id, 0);
        assert!(!stat.mount_root);
        buf.stx_mask = libc::STATX_MNT_ID;
        buf.stx_attributes_mask = libc::STATX_ATTR_MOUNT_ROOT as u64;
        let stat = Stat::from_statx(&buf);
        assert_eq!(stat.mnt_id, 42);
        assert!(stat.mount_root);
    }

    #[test]
    fn nul_in_path_or_name_is_invalid_input() {
        let err = c_path(Path::new("a\0b")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = c_name("user.\0").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
