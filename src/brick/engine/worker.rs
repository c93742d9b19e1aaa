//! The `brick-engine` thread: owns the ring, the slab of in-flight tasks and the eventfd read,
//! and runs the take–submit–reap loop described in the parent module.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, TryRecvError};
use io_uring::{opcode, squeue, types, IoUring, Probe};

use super::probe::{Batches, Step};
use super::task::Task;
use super::{EngineConfig, Op, Shared, Support};

/// `user_data` of the eventfd read; slab keys are far below it.
const WAKE_USER_DATA: u64 = u64::MAX;

/// Most steps a probe may have to run inline ([`EngineConfig::syscalls_when_cheaper`]): a few
/// bricks' walks, not a bulk validation.
const INLINE_PROBE_STEPS_MAX: usize = 48;

/// Fewest steps for which a probe is split across threads (below, the threads cost more than
/// they save).
const PARALLEL_PROBE_STEPS_MIN: usize = 1024;

/// Runs `steps` as syscalls on one thread per core (the engine thread waits for them): a bulk
/// probe of thousands of directories in a fraction of the ring's time, since each of its
/// opcodes would go to a kernel worker anyway. Results in any order.
fn run_in_parallel(steps: Vec<Step>) -> Vec<(Step, i32)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let per = steps.len().div_ceil(threads * 4).max(1);
    let mut chunks: Vec<Vec<Step>> = Vec::new();
    let mut steps = steps.into_iter();
    loop {
        let chunk: Vec<Step> = steps.by_ref().take(per).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    // A shared queue of chunks: a thread that cannot be started leaves its share to the
    // others, and this thread works until the queue is empty.
    let queue = std::sync::Mutex::new(chunks);
    let work = || -> Vec<(Step, i32)> {
        let mut out = Vec::new();
        loop {
            let chunk = match queue.lock() {
                Ok(mut q) => q.pop(),
                Err(poisoned) => poisoned.into_inner().pop(),
            };
            let Some(chunk) = chunk else {
                return out;
            };
            out.extend(chunk.into_iter().map(|mut step| {
                let res = step.syscall();
                (step, res)
            }));
        }
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("brick-probe".into())
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let mut out = work();
        for helper in helpers {
            match helper.join() {
                Ok(part) => out.extend(part),
                Err(_) => tracing::error!("brick engine: a probe thread panicked"),
            }
        }
        out
    })
}

/// Pause after an unexpected `io_uring_enter` error, so a persistent one does not spin a core.
const ENTER_ERROR_PAUSE_MS: u64 = 10;

/// Starts the thread; returns once the ring is built and probed (or failed to be).
pub(super) fn spawn(
    config: &EngineConfig,
    incoming: Receiver<Task>,
    shared: Arc<Shared>,
) -> io::Result<(Support, JoinHandle<()>)> {
    let config = config.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("brick-engine".into())
        .spawn(move || match Worker::new(&config, incoming, shared) {
            Ok((worker, support)) => {
                let _ = ready_tx.send(Ok(support));
                worker.run();
            }
            Err(error) => {
                let _ = ready_tx.send(Err(error));
            }
        })?;
    let started = ready_rx.recv();
    match started {
        Ok(Ok(support)) => Ok((support, thread)),
        Ok(Err(error)) => {
            let _ = thread.join();
            Err(error)
        }
        Err(_) => {
            let _ = thread.join();
            Err(io::Error::other("brick engine thread died while starting"))
        }
    }
}

/// Fixed-capacity slots for in-flight tasks; the slot index is the SQE's `user_data`.
pub(super) struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<usize>,
    live: usize,
}

impl<T> Slab<T> {
    pub(super) fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.live
    }

    pub(super) fn insert(&mut self, value: T) -> usize {
        self.live += 1;
        if let Some(key) = self.free.pop() {
            self.slots[key] = Some(value);
            key
        } else {
            self.slots.push(Some(value));
            self.slots.len() - 1
        }
    }

    pub(super) fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        self.slots.get_mut(key).and_then(Option::as_mut)
    }

    pub(super) fn remove(&mut self, key: usize) -> Option<T> {
        let value = self.slots.get_mut(key)?.take()?;
        self.free.push(key);
        self.live -= 1;
        Some(value)
    }
}

struct Worker {
    ring: IoUring,
    incoming: Receiver<Task>,
    shared: Arc<Shared>,
    /// Indexed by [`Op::index`].
    native: [bool; Op::ALL.len()],
    /// [`EngineConfig::syscalls_when_cheaper`].
    syscalls_when_cheaper: bool,
    in_flight: Slab<Task>,
    /// Bound on `in_flight`: the CQ size minus the eventfd read, so the CQ cannot overflow.
    in_flight_max: usize,
    /// Tasks taken but not yet started: the engine's own closes, or a task that found the SQ
    /// full. Started before anything new from the channel.
    backlog: VecDeque<Task>,
    /// Fds completed tasks held the last reference to.
    closing: Vec<OwnedFd>,
    /// Where the eventfd read lands; heap-allocated so its address is stable.
    wake_buf: Box<u64>,
    wake_armed: bool,
    /// The engine has written the eventfd itself to complete its read at shutdown.
    wake_kicked: bool,
    /// All `Engine` handles are gone: finish what is in flight, then exit.
    disconnected: bool,
    /// Reused buffer of reaped (user_data, result) pairs.
    reaped: Vec<(u64, i32)>,
    /// Bulk probes in progress.
    batches: Batches,
}

impl Worker {
    fn new(
        config: &EngineConfig,
        incoming: Receiver<Task>,
        shared: Arc<Shared>,
    ) -> io::Result<(Worker, Support)> {
        if config.ring_entries == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "brick engine: ring_entries must be at least 1",
            ));
        }
        let ring: IoUring = IoUring::builder()
            .setup_clamp()
            .build(config.ring_entries)?;
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        if !probe.is_supported(opcode::Read::CODE) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "brick engine: io_uring lacks IORING_OP_READ (kernel older than 5.6)",
            ));
        }
        let mut native = [false; Op::ALL.len()];
        let mut support = Support {
            native: Vec::new(),
            fallback: Vec::new(),
        };
        for op in Op::ALL {
            if probe.is_supported(op.opcode()) && !config.force_fallback.contains(&op) {
                native[op.index()] = true;
                support.native.push(op);
            } else {
                support.fallback.push(op);
            }
        }
        tracing::info!(
            native = ?support.native,
            fallback = ?support.fallback,
            ring_entries = ring.params().sq_entries(),
            "brick engine started; fallback ops (and fremovexattr, which has no io_uring \
             opcode) run as syscalls on the engine thread"
        );
        let cq_entries = usize::try_from(ring.params().cq_entries()).unwrap_or(usize::MAX);
        let worker = Worker {
            ring,
            incoming,
            shared,
            native,
            syscalls_when_cheaper: config.syscalls_when_cheaper,
            in_flight: Slab::new(),
            in_flight_max: cq_entries.saturating_sub(1).max(1),
            backlog: VecDeque::new(),
            closing: Vec::new(),
            wake_buf: Box::new(0),
            wake_armed: false,
            wake_kicked: false,
            disconnected: false,
            reaped: Vec::new(),
            batches: Batches::new(),
        };
        Ok((worker, support))
    }

    fn run(mut self) {
        loop {
            self.take();
            self.reap();
            if self.disconnected {
                if self.in_flight.len() == 0 && self.backlog.is_empty() && !self.wake_armed {
                    break;
                }
                if self.wake_armed && !self.wake_kicked {
                    // Nobody else will write the eventfd any more; complete our read of it.
                    self.shared.wake();
                    self.wake_kicked = true;
                }
            } else if !self.wake_armed {
                self.arm_wake();
            }
            self.submit_or_sleep();
        }
    }

    /// Starts tasks from the backlog, then the channel, up to the in-flight bound; at most one
    /// in-flight bound's worth per round, so completions are reaped in between.
    fn take(&mut self) {
        for _ in 0..self.in_flight_max {
            if self.in_flight.len() >= self.in_flight_max {
                break;
            }
            let task = match self.backlog.pop_front() {
                Some(task) => task,
                None if self.disconnected => break,
                None => match self.incoming.try_recv() {
                    Ok(task) => task,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.disconnected = true;
                        break;
                    }
                },
            };
            if let Err(task) = self.start(task) {
                self.backlog.push_front(task);
                break;
            }
        }
    }

    /// Queues the task's SQE, or runs its syscall now. Gives the task back if the SQ is full
    /// even after a submit.
    fn start(&mut self, mut task: Task) -> Result<(), Task> {
        if let Task::Probe(request) = task {
            let steps = self.batches.begin(request);
            // `take` drains the backlog before it reads new requests, so a probe never
            // starts with ring work backlogged: a small one always runs here.
            if self.syscalls_when_cheaper && steps.len() <= INLINE_PROBE_STEPS_MAX {
                // A small probe: its syscalls in a row cost less than handing each to a kernel
                // worker, which runs them one after the other anyway (a create's stage showed
                // some twenty hand-offs back and forth, ~0.2 ms). Not only on an idle engine:
                // the stage sends its `statvfs` calls with the probe, and an fd's close may
                // still be in flight; what waits meanwhile waits at most some 0.1 ms.
                for step in steps {
                    let mut task = Task::Step(step);
                    let res = task.syscall();
                    self.shared.inline_ops.fetch_add(1, Ordering::Relaxed);
                    self.finish(task, res);
                }
                return Ok(());
            }
            if self.syscalls_when_cheaper && steps.len() >= PARALLEL_PROBE_STEPS_MIN {
                for (step, res) in run_in_parallel(steps) {
                    self.shared.inline_ops.fetch_add(1, Ordering::Relaxed);
                    self.finish(Task::Step(step), res);
                }
                return Ok(());
            }
            self.backlog.extend(steps.into_iter().map(Task::Step));
            return Ok(());
        }
        let native = task.op().is_some_and(|op| self.native[op.index()]);
        if native
            && self.syscalls_when_cheaper
            && task.op().is_some_and(Op::is_punted)
            && self.is_idle()
        {
            let res = task.syscall();
            if task.is_request() {
                self.shared.inline_ops.fetch_add(1, Ordering::Relaxed);
            }
            self.finish(task, res);
            return Ok(());
        }
        if !native {
            let res = task.syscall();
            if task.is_request() {
                self.shared.fallback_ops.fetch_add(1, Ordering::Relaxed);
            }
            self.finish(task, res);
            return Ok(());
        }
        if !self.make_sq_room() {
            return Err(task);
        }
        let key = self.in_flight.insert(task);
        self.shared.ring_in_flight.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.in_flight.get_mut(key) else {
            return Ok(());
        };
        let entry = slot.sqe().user_data(key as u64);
        self.push(&entry);
        Ok(())
    }

    /// Nothing in flight, nothing queued, nothing waiting in the channel.
    fn is_idle(&self) -> bool {
        self.in_flight.len() == 0 && self.backlog.is_empty() && self.incoming.is_empty()
    }

    /// Answers a task and queues the closes it left.
    fn finish(&mut self, task: Task, res: i32) {
        if task.is_request() {
            self.shared.ops.fetch_add(1, Ordering::Relaxed);
        }
        match task {
            Task::Step(step) => self.batches.complete(step, res),
            task => task.complete(res, &mut self.closing),
        }
        self.backlog
            .extend(self.closing.drain(..).map(|fd| Task::Close { fd }));
    }

    fn arm_wake(&mut self) {
        if !self.make_sq_room() {
            return;
        }
        let buf: *mut u64 = &mut *self.wake_buf;
        let entry = opcode::Read::new(
            types::Fd(self.shared.wake_fd.as_raw_fd()),
            buf.cast::<u8>(),
            std::mem::size_of::<u64>() as u32,
        )
        .build()
        .user_data(WAKE_USER_DATA);
        self.push(&entry);
        self.wake_armed = true;
    }

    /// True if the SQ has a free entry, submitting what is queued if it had none.
    fn make_sq_room(&mut self) -> bool {
        if self.ring.submission().is_full() {
            self.enter(false);
        }
        !self.ring.submission().is_full()
    }

    /// Pushes an SQE the caller made room for.
    fn push(&mut self, entry: &squeue::Entry) {
        // SAFETY: every pointer in `entry` points into a heap allocation owned by a task in
        // `in_flight` under the entry's user_data, or into `wake_buf` for the eventfd read;
        // both stay alive and untouched until the CQE is reaped (`Drop` leaks them if the
        // thread ever unwinds with operations in flight). Fds are held open by the task's
        // `Fd` clones (or by `Shared` for the eventfd).
        let pushed = unsafe { self.ring.submission().push(entry) };
        if pushed.is_err() {
            // `make_sq_room` just checked; a full SQ here is a bug, not a reachable state.
            tracing::error!("brick engine: submission queue full after making room");
        }
    }

    /// Either submits (without waiting) because there is more to do, or announces sleep and
    /// waits for the first completion.
    fn submit_or_sleep(&mut self) {
        let mut cq_ready = !self.ring.completion().is_empty();
        let backlog_ready = !self.backlog.is_empty() && self.in_flight.len() < self.in_flight_max;
        if cq_ready || backlog_ready {
            self.enter(false);
            return;
        }
        let can_take = self.in_flight.len() < self.in_flight_max && !self.disconnected;
        if can_take && !self.wake_armed {
            // Arming failed (the SQ would not drain); sleeping now could miss new requests.
            self.enter(false);
            return;
        }
        if can_take {
            self.shared.sleeping.store(true, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            // A last look at the channel: a request, or the disconnect (whose wake-up this
            // loop may already have reaped, so nothing else would end the sleep).
            let arrived = match self.incoming.try_recv() {
                Ok(task) => {
                    self.backlog.push_back(task);
                    true
                }
                Err(TryRecvError::Disconnected) => {
                    self.disconnected = true;
                    true
                }
                Err(TryRecvError::Empty) => false,
            };
            if arrived {
                self.shared.sleeping.store(false, Ordering::Relaxed);
                self.enter(false);
                return;
            }
            cq_ready = !self.ring.completion().is_empty();
            if cq_ready {
                self.shared.sleeping.store(false, Ordering::Relaxed);
                self.enter(false);
                return;
            }
        }
        self.enter(true);
        self.shared.sleeping.store(false, Ordering::Relaxed);
    }

    /// One `io_uring_enter`: submits whatever is queued, and with `wait` blocks for at least one
    /// completion. Skipped when there is nothing to submit and no wait.
    fn enter(&mut self, wait: bool) {
        if !wait && self.ring.submission().is_empty() {
            return;
        }
        let result = if wait {
            self.ring.submit_and_wait(1)
        } else {
            self.ring.submit()
        };
        match result {
            Ok(submitted) => {
                if submitted > 0 {
                    self.shared.submissions.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(error) => match error.raw_os_error() {
                // Interrupted, or the kernel wants completions reaped first: the loop does.
                Some(libc::EINTR) | Some(libc::EAGAIN) | Some(libc::EBUSY) => {}
                _ => {
                    tracing::error!(%error, "brick engine: io_uring_enter failed");
                    std::thread::sleep(std::time::Duration::from_millis(ENTER_ERROR_PAUSE_MS));
                }
            },
        }
    }

    /// Answers every completion in the CQ.
    fn reap(&mut self) {
        let mut reaped = std::mem::take(&mut self.reaped);
        reaped.extend(
            self.ring
                .completion()
                .map(|cqe| (cqe.user_data(), cqe.result())),
        );
        for &(user_data, res) in &reaped {
            if user_data == WAKE_USER_DATA {
                // The counter is now zero; a failed read (never expected) just re-arms.
                self.wake_armed = false;
                continue;
            }
            let task = usize::try_from(user_data)
                .ok()
                .and_then(|key| self.in_flight.remove(key));
            match task {
                Some(task) => {
                    self.shared.ring_in_flight.fetch_sub(1, Ordering::Relaxed);
                    self.finish(task, res);
                }
                None => tracing::error!(user_data, "brick engine: completion for no task"),
            }
        }
        reaped.clear();
        self.reaped = reaped;
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Only reachable with operations in flight if the thread unwinds: the kernel may still
        // write into their buffers, so leak them rather than free memory under it.
        if self.in_flight.len() > 0 {
            std::mem::forget(std::mem::replace(&mut self.in_flight, Slab::new()));
        }
        if self.wake_armed {
            std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Slab;

    #[test]
    fn slab_reuses_freed_keys_and_counts_live_entries() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        let b = slab.insert("b");
        assert_ne!(a, b);
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.remove(99), None);
        assert_eq!(slab.len(), 1);
        let c = slab.insert("c");
        assert_eq!(c, a);
        assert_eq!(slab.get_mut(c).copied(), Some("c"));
        assert_eq!(slab.len(), 2);
    }
}
