//! The thread-per-core runtime: shards, listeners, connections, signals.
//!
//! `run` binds the listeners, starts one glommio executor per shard (pinned to a core), waits
//! until every shard serves, prints the ready line and then waits for the shards to stop.
//! Each shard owns its TCP listener (SO_REUSEPORT: the kernel spreads connections), its
//! connections, its iobuf arena and its metrics; shard 0 also accepts the unix socket. Nothing
//! on the request path is shared between shards.
//!
//! Signals are taken by one plain thread. SIGINT/SIGTERM set a flag every shard polls: a shard
//! then stops accepting, lets each connection finish its calls in flight and write their
//! replies, and returns. SIGUSR1 asks every shard for its statedump section and writes the
//! joined text into `<workdir>/run/`. This module is the only one that knows about glommio.

mod conn;
pub mod program;
pub mod sched;
pub mod test_program;

use crate::brick::engine::{Engine, EngineConfig};
use crate::iobuf::{Arena, ArenaConfig};
use crate::metrics::{write_statedump, ShardMetrics};
use crate::model::{NodeInfo, Peer, Volume};
use crate::ops::shard::{Catalog, Mesh, MeshError, ShardJob, ShardState, SharedCatalog};
use crate::ops::NodeContext;
use program::{ProgramTable, Transport};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Control byte: stop the shard.
const CONTROL_STOP: u8 = b'S';
/// Control byte: contribute a statedump section.
const CONTROL_STATEDUMP: u8 = b'D';
/// After a stop signal the process exits by this deadline even if a call never completes.
const SHUTDOWN_DEADLINE: Duration = Duration::from_millis(4500);
/// How long a statedump waits for the shards' sections.
const STATEDUMP_WAIT: Duration = Duration::from_secs(2);
/// io_uring buffer memory per executor. brickd does no direct file I/O through glommio, so a
/// small amount keeps several shards under the default 8 MiB RLIMIT_MEMLOCK.
const IO_MEMORY_BYTES: usize = 1 << 20;
/// Jobs queued from one shard to another before the sender waits.
const MESH_QUEUE_JOBS: usize = 256;
/// TCP listen backlog (glusterd uses 1024).
const LISTEN_BACKLOG: i32 = 1024;

/// Limits that apply to every connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Cap on one reassembled record.
    pub record_bytes_max: usize,
    /// Asynchronous calls outstanding per connection before it stops reading.
    pub inflight_max: usize,
    /// Open connections per shard; more are closed at once.
    pub connections_per_shard_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            record_bytes_max: crate::proto::record::RECORD_BYTES_MAX_DEFAULT,
            inflight_max: 64,
            connections_per_shard_max: 4096,
        }
    }
}

/// What the node knows when it starts (loaded from the workdir before any shard runs).
#[derive(Debug, Clone)]
pub struct InitialState {
    /// This node's identity.
    pub node: NodeInfo,
    /// Its peers.
    pub peers: Vec<Peer>,
    /// Every volume: the catalog every shard reads.
    pub volumes: Vec<Volume>,
    /// The `options` file's pairs, in file order.
    pub global_options: Vec<(String, String)>,
}

/// Everything `run` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The loaded workdir.
    pub initial: Arc<InitialState>,
    /// The workdir (statedumps go to its `run/` folder).
    pub workdir: PathBuf,
    /// Unix socket path, if one is served.
    pub socket: Option<PathBuf>,
    /// TCP address, if one is served.
    pub listen: Option<SocketAddr>,
    /// Number of shards (executors).
    pub shards: usize,
    /// Per-connection limits.
    pub limits: Limits,
    /// Register the "brickd test" program (tests only).
    pub enable_test_program: bool,
    /// Pin shard i to core i mod cores (the default); unpinned shards let the kernel move them.
    pub pin_shards: bool,
    /// How long an idle shard polls before it sleeps; `None` sleeps at once.
    pub spin_before_park: Option<Duration>,
    /// The scheduler slice brickd's threads ask for ([`sched`]); `None` leaves the kernel's.
    pub sched_slice: Option<Duration>,
    /// With `pin_shards`: background file work runs off the change shard's core
    /// ([`EngineConfig::background_cpus`]).
    pub background_off_change_core: bool,
    /// Where brick processes and their files go, and how they are run.
    pub processes: crate::brick::process::ProcessConfig,
    /// How long a call to a peer may go unanswered (glusterd's frame-timeout, 600 s).
    pub peer_frame_timeout: Duration,
    /// glusterd's ping-timeout for peers (`None`: no pings).
    pub peer_ping_timeout: Option<Duration>,
}

/// Why the server could not start.
#[derive(Debug, Error)]
pub enum ServerError {
    /// A listener could not be set up.
    #[error("cannot listen on {what}: {source}")]
    Listen {
        /// Which listener.
        what: String,
        /// Cause.
        source: std::io::Error,
    },
    /// An executor could not be started.
    #[error("cannot start shard {shard}: {message}")]
    Shard {
        /// Shard number.
        shard: usize,
        /// Cause.
        message: String,
    },
    /// The signal thread could not be set up.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    /// The workdir is unusable.
    #[error("workdir {path}: {source}")]
    Workdir {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// The signal thread's line to the shards. Each shard owns the other end of one socket pair
/// and reads command bytes from it; an idle shard therefore has no timer to wake for.
struct Control {
    shard_links: Vec<std::os::unix::net::UnixStream>,
    statedump_sections: Mutex<Vec<(usize, String)>>,
    statedump_ready: Condvar,
}

impl Control {
    fn tell_all(&self, command: u8) {
        use std::io::Write as _;
        for link in &self.shard_links {
            let _ = (&*link).write_all(&[command]);
        }
    }
}

/// What a shard owns. Lives on its executor thread only.
pub(crate) struct ShardContext {
    pub(crate) id: usize,
    pub(crate) arena: Rc<Arena>,
    pub(crate) metrics: RefCell<ShardMetrics>,
    pub(crate) limits: Limits,
    pub(crate) tcp_programs: ProgramTable,
    pub(crate) unix_programs: ProgramTable,
    connections: RefCell<HashMap<u64, Rc<conn::ConnShared>>>,
    /// Told when a connection closes (its peer's locks are released).
    on_close: RefCell<Option<CloseHook>>,
    next_connection: Cell<u64>,
    stopping: Cell<bool>,
    stop_wakers: RefCell<Vec<std::task::Waker>>,
    /// Read buffers of closed connections, filled already ([`ShardContext::take_read_buffer`]).
    read_buffers: RefCell<Vec<Vec<u8>>>,
}

/// Most read buffers a shard keeps for its next connections (32 KiB each).
const READ_BUFFERS_KEPT_MAX: usize = 256;

impl ShardContext {
    /// A connection's read buffer, `conn::READ_BUFFER_BYTES` long: one a closed connection
    /// left (its bytes initialized already), else a new zeroed one.
    fn take_read_buffer(&self) -> Vec<u8> {
        self.read_buffers
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| vec![0; conn::READ_BUFFER_BYTES])
    }

    /// Keeps a closed connection's read buffer for the next one (up to a bound).
    fn return_read_buffer(&self, buffer: Vec<u8>) {
        let mut kept = self.read_buffers.borrow_mut();
        if buffer.len() == conn::READ_BUFFER_BYTES && kept.len() < READ_BUFFERS_KEPT_MAX {
            kept.push(buffer);
        }
    }

    fn register_connection(&self, shared: Rc<conn::ConnShared>) -> u64 {
        let id = self.next_connection.get();
        self.next_connection.set(id + 1);
        self.connections.borrow_mut().insert(id, shared);
        self.metrics.borrow_mut().connections.open += 1;
        id
    }

    /// Queues a FETCHSPEC callback on every connection of this shard.
    fn notify_fetchspec(&self) {
        for conn in self.connections.borrow().values() {
            conn.notify_fetchspec();
        }
    }

    /// Starts closing connection `id`, if it is open.
    fn close_connection(&self, id: u64) {
        if let Some(c) = self.connections.borrow().get(&id) {
            conn::begin_close(c);
        }
    }

    fn unregister_connection(&self, id: u64) {
        self.connections.borrow_mut().remove(&id);
        if let Some(hook) = self.on_close.borrow().as_ref() {
            hook(id);
        }
        self.metrics.borrow_mut().connections.open -= 1;
    }

    fn is_stopping(&self) -> bool {
        self.stopping.get()
    }

    fn connection_count(&self) -> usize {
        self.connections.borrow().len()
    }

    fn stop(&self) {
        self.stopping.set(true);
        for w in self.stop_wakers.borrow_mut().drain(..) {
            w.wake();
        }
        for c in self.connections.borrow().values() {
            conn::begin_close(c);
        }
    }

    /// Resolves when the shard starts stopping.
    async fn stopped(&self) {
        std::future::poll_fn(|cx| {
            if self.stopping.get() {
                return std::task::Poll::Ready(());
            }
            let mut wakers = self.stop_wakers.borrow_mut();
            if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                wakers.push(cx.waker().clone());
            }
            std::task::Poll::Pending
        })
        .await
    }

    fn statedump_section(&self) -> String {
        let mut text = String::new();
        self.metrics.borrow().render(self.id, &mut text);
        text.push_str(&format!(
            "[shard.{}.iobuf]\n{}",
            self.id,
            self.arena.stats()
        ));
        text
    }
}

/// What a shard does when one of its connections closes.
type CloseHook = Box<dyn Fn(u64)>;

/// [`Mesh`] over glommio's channel mesh.
struct GlommioMesh {
    senders: glommio::channels::channel_mesh::Senders<ShardJob>,
}

impl Mesh for GlommioMesh {
    fn send(
        &self,
        shard: usize,
        job: ShardJob,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), MeshError>> + '_>> {
        Box::pin(async move {
            self.senders
                .send_to(shard, job)
                .await
                .map_err(|_| MeshError::ShardGone(shard))
        })
    }
}

/// Raises RLIMIT_MEMLOCK as far as allowed; glommio locks its ring and io memory.
fn raise_memlock_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) != 0 {
            return;
        }
        let wanted = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        if libc::setrlimit(libc::RLIMIT_MEMLOCK, &wanted) != 0 {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim);
        }
    }
}

/// Raises RLIMIT_NOFILE to its hard limit: each shard may hold thousands of connections.
fn raise_nofile_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// How long a start waits for a listener on its address to go before it gives up: a brickd
/// that was just killed keeps its listening sockets for a few milliseconds after it is gone,
/// until the kernel has torn its io_uring down (which holds them), so a node restarted at once
/// on its address would otherwise be refused now and then.
const TAKEN_ADDRESS_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Fails if another process listens on `addr` already (still, after [`TAKEN_ADDRESS_WAIT`]).
/// The shards' listeners share their port through SO_REUSEPORT, which the kernel grants to any
/// process of the same user: without this check a second brickd started on the same address
/// would silently take half of the first one's connections. A plain bind (no SO_REUSEPORT)
/// fails on any socket bound there.
fn refuse_taken_address(addr: SocketAddr) -> std::io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    if addr.port() == 0 {
        return Ok(());
    }
    let deadline = std::time::Instant::now() + TAKEN_ADDRESS_WAIT;
    loop {
        let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        probe.set_reuse_address(true)?;
        match probe.bind(&addr.into()) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if std::time::Instant::now() >= deadline {
                    return Err(std::io::Error::new(
                        e.kind(),
                        "another daemon (a glusterd or a brickd) is listening there already",
                    ));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

fn bind_tcp(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket)
}

/// Makes `path` free for a new unix socket: a stale socket file is removed, a live one (a
/// daemon answers on it) is an error, as is any other kind of file.
fn prepare_unix_path(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another daemon is listening on this socket",
                ));
            }
            std::fs::remove_file(path)?;
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            ));
        }
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    Ok(())
}

/// Starts the server and blocks until it has stopped. Prints the ready line on stdout.
pub fn run(config: ServerConfig) -> Result<(), ServerError> {
    raise_memlock_limit();
    raise_nofile_limit();
    // Before any thread starts: they inherit it.
    if let Some(slice) = config.sched_slice {
        match sched::request_slice(slice) {
            Ok(outcome) => {
                tracing::debug!(?outcome, reported = ?sched::current_slice(), "scheduler slice")
            }
            Err(e) => tracing::info!(error = %e, "the kernel's scheduler slice is kept"),
        }
    }
    let run_dir = config.workdir.join("run");
    std::fs::create_dir_all(&run_dir).map_err(|source| ServerError::Workdir {
        path: run_dir.clone(),
        source,
    })?;
    let shards = config.shards.max(1);

    // Bind everything before any shard starts, so a port of 0 resolves once and every shard
    // shares it, and a bind failure stops the start cleanly.
    let mut tcp_fds: Vec<Option<RawFd>> = vec![None; shards];
    let mut tcp_addr = None;
    if let Some(addr) = config.listen {
        refuse_taken_address(addr).map_err(|source| ServerError::Listen {
            what: addr.to_string(),
            source,
        })?;
        let first = bind_tcp(addr).map_err(|source| ServerError::Listen {
            what: addr.to_string(),
            source,
        })?;
        let bound = first
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .unwrap_or(addr);
        tcp_addr = Some(bound);
        tcp_fds[0] = Some(first.into_raw_fd());
        for slot in tcp_fds.iter_mut().skip(1) {
            let s = bind_tcp(bound).map_err(|source| ServerError::Listen {
                what: bound.to_string(),
                source,
            })?;
            *slot = Some(s.into_raw_fd());
        }
    }
    if let Some(path) = &config.socket {
        prepare_unix_path(path).map_err(|source| ServerError::Listen {
            what: path.display().to_string(),
            source,
        })?;
    }

    let mut shard_links = Vec::with_capacity(shards);
    let mut shard_ends = Vec::with_capacity(shards);
    for _ in 0..shards {
        let (ours, theirs) =
            std::os::unix::net::UnixStream::pair().map_err(ServerError::Signals)?;
        theirs.set_nonblocking(true).map_err(ServerError::Signals)?;
        shard_links.push(ours);
        shard_ends.push(theirs.into_raw_fd());
    }
    let control = Arc::new(Control {
        shard_links,
        statedump_sections: Mutex::new(Vec::new()),
        statedump_ready: Condvar::new(),
    });
    let signal_thread = start_signal_thread(control.clone(), shards, run_dir)?;

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (ready_tx, ready_rx) = mpsc::channel::<Result<usize, ServerError>>();
    let mesh =
        glommio::channels::channel_mesh::MeshBuilder::<ShardJob, _>::full(shards, MESH_QUEUE_JOBS);
    let mut initial_catalog = Catalog::with(
        config.initial.node.uuid,
        config.initial.volumes.iter().map(|v| Arc::new(v.clone())),
    );
    // Held as glusterd holds what it reads: each line to the head.
    initial_catalog.set_global_options(crate::model::Volume::options_from_file(
        config.initial.global_options.clone(),
    ));
    let catalog = Arc::new(SharedCatalog::new(initial_catalog));
    // One brick engine for the node; every shard holds a handle. Its background work stays
    // off the change shard's core when shards are pinned.
    let background_cpus = if config.pin_shards && config.background_off_change_core {
        background_cpus(crate::ops::shard::CHANGE_SHARD % cores)
    } else {
        Vec::new()
    };
    tracing::debug!(?background_cpus, "background file work");
    let engine = match Engine::start(EngineConfig {
        background_cpus,
        ..EngineConfig::default()
    }) {
        Ok(engine) => Some(engine),
        Err(e) => {
            tracing::warn!(error = %e, "brick engine unavailable: volume create and delete will fail");
            None
        }
    };
    let lvm = Arc::new(std::sync::OnceLock::new());
    let pool = Arc::new(crate::cluster::pool::SharedPool::new(
        crate::cluster::pool::Pool::from_stored(config.initial.peers.clone()),
    ));
    let journal_seq = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let bricks = Arc::new(crate::brick::process::BrickTable::default());
    let mut processes = config.processes.clone();
    if let Some(bound) = tcp_addr {
        // Bricks fetch their volfile from the port brickd really listens on (`:0` resolved).
        processes.volfile_port = bound.port();
    }
    let cmd_log = Arc::new(crate::ops::cmd_log::CmdLog::open(&processes.log_dir));
    let identity = Arc::new(crate::model::NodeIdentity::new(&config.initial.node));
    let processes = Arc::new(processes);
    let mut handles = Vec::with_capacity(shards);
    for (id, (tcp_fd, control_fd)) in tcp_fds.into_iter().zip(shard_ends).enumerate() {
        let engine = engine.clone();
        let lvm = lvm.clone();
        let pool = pool.clone();
        let journal_seq = journal_seq.clone();
        let (bricks, processes) = (bricks.clone(), processes.clone());
        let cmd_log = cmd_log.clone();
        let identity = identity.clone();
        let control = control.clone();
        let ready_tx = ready_tx.clone();
        let limits = config.limits;
        let peer_frame_timeout = config.peer_frame_timeout;
        let peer_ping_timeout = config.peer_ping_timeout;
        let test_program = config.enable_test_program;
        // Served by the change shard only, which each shard knows once it joined the mesh.
        let unix_path = config.socket.clone();
        let workdir = config.workdir.clone();
        let mesh = mesh.clone();
        let catalog = catalog.clone();
        let mut builder = glommio::LocalExecutorBuilder::new(if config.pin_shards {
            glommio::Placement::Fixed(id % cores)
        } else {
            glommio::Placement::Unbound
        })
        .name(&format!("brickd-shard-{id}"))
        .io_memory(IO_MEMORY_BYTES);
        if let Some(spin) = config.spin_before_park {
            builder = builder.spin_before_park(spin);
        }
        let handle = builder
            .spawn(move || async move {
                shard_main(ShardStart {
                    id,
                    engine,
                    lvm,
                    pool,
                    journal_seq,
                    bricks,
                    processes,
                    cmd_log,
                    identity,
                    catalog,
                    shards,
                    mesh,
                    workdir,
                    tcp_fd,
                    unix_path,
                    control_fd,
                    limits,
                    peer_frame_timeout,
                    peer_ping_timeout,
                    test_program,
                    control,
                    ready: ready_tx,
                })
                .await
            })
            .map_err(|e| ServerError::Shard {
                shard: id,
                message: e.to_string(),
            })?;
        handles.push(handle);
    }
    drop(ready_tx);
    for _ in 0..shards {
        match ready_rx.recv() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                control.tell_all(CONTROL_STOP);
                for h in handles {
                    let _ = h.join();
                }
                return Err(e);
            }
            Err(_) => break,
        }
    }
    let mut ready = format!("brickd ready: pid={} shards={shards}", std::process::id());
    if let Some(addr) = tcp_addr {
        ready.push_str(&format!(" tcp={addr}"));
    }
    if let Some(path) = &config.socket {
        ready.push_str(&format!(" unix={}", path.display()));
    }
    println!("{ready}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tracing::info!("{ready}");

    for (id, handle) in handles.into_iter().enumerate() {
        if let Err(e) = handle.join() {
            tracing::error!(shard = id, error = %e, "shard ended with an error");
        }
    }
    if let Some(path) = &config.socket {
        let _ = std::fs::remove_file(path);
    }
    drop(signal_thread);
    tracing::info!("brickd stopped");
    Ok(())
}

/// The CPUs this process may run on but `change_cpu` (the change shard's, as pinned): where
/// background file work goes. Empty (every allowed CPU) when that leaves nothing, or when the
/// process's CPUs cannot be read.
fn background_cpus(change_cpu: usize) -> Vec<usize> {
    let mut cpus = crate::brick::engine::allowed_cpus();
    cpus.retain(|&cpu| cpu != change_cpu);
    cpus
}

fn start_signal_thread(
    control: Arc<Control>,
    shards: usize,
    run_dir: PathBuf,
) -> Result<std::thread::JoinHandle<()>, ServerError> {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGUSR1])
        .map_err(ServerError::Signals)?;
    std::thread::Builder::new()
        .name("brickd-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGUSR1 => statedump(&control, shards, &run_dir),
                    _ => {
                        tracing::info!(
                            signal,
                            "stopping: no new connections, finishing calls in flight"
                        );
                        control.tell_all(CONTROL_STOP);
                        std::thread::spawn(|| {
                            std::thread::sleep(SHUTDOWN_DEADLINE);
                            tracing::warn!(
                                "calls still in flight at the shutdown deadline; exiting"
                            );
                            std::process::exit(0);
                        });
                    }
                }
            }
        })
        .map_err(ServerError::Signals)
}

fn statedump(control: &Control, shards: usize, run_dir: &std::path::Path) {
    control
        .statedump_sections
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    control.tell_all(CONTROL_STATEDUMP);
    let deadline = Instant::now() + STATEDUMP_WAIT;
    let mut sections = control
        .statedump_sections
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    while sections.len() < shards {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        sections = match control
            .statedump_ready
            .wait_timeout(sections, deadline - now)
        {
            Ok((guard, _)) => guard,
            Err(e) => e.into_inner().0,
        };
    }
    sections.sort_by_key(|(id, _)| *id);
    let mut text = format!(
        "[brickd]\npid={}\nversion={}\nshards={shards}\nshards_reporting={}\n",
        std::process::id(),
        env!("CARGO_PKG_VERSION"),
        sections.len()
    );
    for (_, section) in sections.iter() {
        text.push_str(section);
    }
    drop(sections);
    match write_statedump(run_dir, &text) {
        Ok(path) => tracing::info!(path = %path.display(), "statedump written"),
        Err(e) => tracing::error!(error = %e, dir = %run_dir.display(), "statedump failed"),
    }
}

/// What one shard starts with.
struct ShardStart {
    id: usize,
    engine: Option<Engine>,
    lvm: Arc<std::sync::OnceLock<Option<crate::lvm::LvmClient>>>,
    pool: Arc<crate::cluster::pool::SharedPool>,
    journal_seq: Arc<std::sync::atomic::AtomicU64>,
    bricks: Arc<crate::brick::process::BrickTable>,
    processes: Arc<crate::brick::process::ProcessConfig>,
    cmd_log: Arc<crate::ops::cmd_log::CmdLog>,
    identity: Arc<crate::model::NodeIdentity>,
    catalog: Arc<SharedCatalog>,
    shards: usize,
    mesh: glommio::channels::channel_mesh::MeshBuilder<
        ShardJob,
        glommio::channels::channel_mesh::Full,
    >,
    workdir: PathBuf,
    tcp_fd: Option<RawFd>,
    unix_path: Option<PathBuf>,
    control_fd: RawFd,
    limits: Limits,
    peer_frame_timeout: Duration,
    peer_ping_timeout: Option<Duration>,
    test_program: bool,
    control: Arc<Control>,
    ready: mpsc::Sender<Result<usize, ServerError>>,
}

async fn shard_main(start: ShardStart) {
    let ShardStart {
        id,
        engine,
        lvm,
        pool,
        journal_seq,
        bricks,
        processes,
        cmd_log,
        identity,
        catalog,
        shards,
        mesh,
        workdir,
        tcp_fd,
        unix_path,
        control_fd,
        limits,
        peer_frame_timeout,
        peer_ping_timeout,
        test_program,
        control,
        ready,
    } = start;
    // SAFETY: the fd is this shard's end of a socket pair made by `run`, owned by no one else.
    let mut control_link = unsafe { glommio::net::UnixStream::from_raw_fd(control_fd) };
    let node = Rc::new(NodeContext {
        workdir,
        node: identity,
        peers: pool,
        engine,
        lvm,
        journal_seq,
        bricks,
        processes,
        cmd_log,
        peer_frame_timeout,
        peer_ping_timeout,
    });
    let (senders, mut receivers) = match mesh.join().await {
        Ok(pair) => pair,
        Err(e) => {
            let _ = ready.send(Err(ServerError::Shard {
                shard: id,
                message: format!("cannot join the shard mesh: {e}"),
            }));
            return;
        }
    };
    // Shards are numbered by mesh position, which every shard sees the same way.
    let index = senders.peer_id();
    let state = ShardState::new(
        index,
        shards,
        node,
        catalog,
        Box::new(GlommioMesh { senders }),
        Box::new(|work| {
            glommio::spawn_local(work).detach();
        }),
    );
    state.set_sleeper(Rc::new(|duration| {
        Box::pin(async move { glommio::timer::sleep(duration).await })
    }));
    if index == crate::ops::shard::CHANGE_SHARD {
        // Only the change shard appends (its spare would go unused anywhere else).
        let background = state.node.engine.as_ref().map(|e| e.background());
        state.journal.prepare(background.unwrap_or_default());
    }
    for (_, stream) in receivers.streams() {
        let state = state.clone();
        glommio::spawn_local(async move {
            while let Some(job) = stream.recv().await {
                job(&state);
            }
        })
        .detach();
    }
    let mut tcp_set = program::tcp_programs(&state);
    let mut unix_set = program::unix_programs(&state);
    if test_program {
        tcp_set.push(test_program::program(state.clone()));
        unix_set.push(test_program::program(state.clone()));
    }
    let shard = Rc::new(ShardContext {
        id,
        arena: Arena::new(ArenaConfig::default()),
        metrics: RefCell::new(ShardMetrics::new()),
        limits,
        tcp_programs: ProgramTable::with_dump(tcp_set),
        unix_programs: {
            let mut table = ProgramTable::with_dump(unix_set);
            table.add_unlisted(crate::ops::admin::AdminProgram::shared(state.clone()));
            // Bricks started with the unix socket as their volfile server sign in there
            // (glusterd has no portmap on its unix socket; unlisted, so DUMP stays glusterd's).
            if state.node.processes.volfile_unix.is_some() {
                table.add_unlisted(crate::ops::portmap::PortmapProgram::shared(state.clone()));
            }
            table
        },
        connections: RefCell::new(HashMap::new()),
        on_close: RefCell::new(None),
        next_connection: Cell::new(0),
        stopping: Cell::new(false),
        stop_wakers: RefCell::new(Vec::new()),
        read_buffers: RefCell::new(Vec::new()),
    });

    {
        let state = state.clone();
        *shard.on_close.borrow_mut() = Some(Box::new(move |id| state.connection_closed(id)));
    }
    {
        let shard = Rc::downgrade(&shard);
        state.set_volfile_hook(Box::new(move || {
            if let Some(shard) = shard.upgrade() {
                shard.notify_fetchspec();
            }
        }));
    }
    {
        let shard = Rc::downgrade(&shard);
        state.set_close_hook(Box::new(move |id| {
            if let Some(shard) = shard.upgrade() {
                shard.close_connection(id);
            }
        }));
    }

    let mut acceptors = Vec::new();
    if let Some(fd) = tcp_fd {
        // SAFETY: the fd is a bound, listening TCP socket handed over by `run` and owned by
        // nothing else from here on.
        let listener = unsafe { glommio::net::TcpListener::from_raw_fd(fd) };
        acceptors.push(glommio::spawn_local(accept_tcp(listener, shard.clone())));
    }
    // The CLI's way in goes to the shard its changes run on: no hop for them.
    if let Some(path) = unix_path.filter(|_| index == crate::ops::shard::CHANGE_SHARD) {
        match glommio::net::UnixListener::bind(&path) {
            Ok(listener) => {
                acceptors.push(glommio::spawn_local(accept_unix(listener, shard.clone())))
            }
            Err(e) => {
                let _ = ready.send(Err(ServerError::Listen {
                    what: path.display().to_string(),
                    source: std::io::Error::other(e.to_string()),
                }));
                return;
            }
        }
    }
    let _ = ready.send(Ok(id));
    drop(ready);
    if index == crate::ops::shard::CHANGE_SHARD {
        // Adopt the bricks that still run, start those of started volumes that do not.
        crate::ops::bricks::start_supervision(&state);
        // Connect to every peer of the pool.
        state.pool().start();
    }

    let mut command = [0u8; 16];
    'control: loop {
        let n = match futures_lite::io::AsyncReadExt::read(&mut control_link, &mut command).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &c in &command[..n] {
            match c {
                CONTROL_STOP => break 'control,
                CONTROL_STATEDUMP => {
                    let mut section = shard.statedump_section();
                    section.push_str(&state.locks_statedump());
                    section.push_str(&crate::ops::bricks::statedump(&state));
                    if index == crate::ops::shard::CHANGE_SHARD {
                        section.push_str(&state.pool_statedump());
                    }
                    control
                        .statedump_sections
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((id, section));
                    control.statedump_ready.notify_all();
                }
                _ => {}
            }
        }
    }
    shard.stop();
    for a in acceptors {
        a.await;
    }
    while shard.connection_count() > 0 {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits for the next accepted connection; `None` once the shard stops. A failed accept is
/// logged and retried after a short pause.
async fn next_connection<'a, S, E: std::fmt::Display>(
    shard: &ShardContext,
    accept: impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<S, E>> + 'a>>,
) -> Option<S> {
    loop {
        let accepted = futures_lite::future::or(async { Some(accept().await) }, async {
            shard.stopped().await;
            None
        })
        .await?;
        match accepted {
            Ok(stream) => return Some(stream),
            Err(e) => {
                tracing::warn!(shard = shard.id, error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Counts a refused connection if the shard is at its connection cap.
fn at_connection_cap(shard: &ShardContext) -> bool {
    if shard.connection_count() < shard.limits.connections_per_shard_max {
        return false;
    }
    shard.metrics.borrow_mut().connections.refused_at_cap += 1;
    tracing::warn!(
        shard = shard.id,
        "connection cap reached; closing new connection"
    );
    true
}

async fn accept_tcp(listener: glommio::net::TcpListener, shard: Rc<ShardContext>) {
    while let Some(stream) = next_connection(&shard, || Box::pin(listener.accept())).await {
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        shard.metrics.borrow_mut().connections.tcp_accepted += 1;
        if at_connection_cap(&shard) {
            continue;
        }
        let _ = stream.set_nodelay(true);
        glommio::spawn_local(conn::serve(stream, Transport::Tcp(peer), shard.clone())).detach();
    }
}

async fn accept_unix(listener: glommio::net::UnixListener, shard: Rc<ShardContext>) {
    while let Some(stream) = next_connection(&shard, || Box::pin(listener.accept())).await {
        shard.metrics.borrow_mut().connections.unix_accepted += 1;
        if at_connection_cap(&shard) {
            continue;
        }
        glommio::spawn_local(conn::serve(stream, Transport::Unix, shard.clone())).detach();
    }
}
