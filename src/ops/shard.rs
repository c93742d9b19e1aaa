//! What one shard owns, and how an operation reaches another shard.
//!
//! Changes run on one shard, [`CHANGE_SHARD`]: the volume locks (the lock table) live there
//! and every volume transaction (create, delete, a peer's mgmt v3 LOCK/UNLOCK, an operator's
//! release) runs there, so nothing on these paths takes a lock. It is the shard that serves the
//! unix socket, the CLI's way in, so a CLI change never crosses threads to find its lock. This
//! departs from DESIGN.md principle 3 (each volume owned by the shard its name hashes to) for
//! changes only: a change spends ~0.1 ms of its shard's CPU and the rest waiting on the disk,
//! so one shard has room for thousands a second, while a hop to an owner shard cost every
//! other CLI change two cross-thread wake-ups, each a wait for a CPU on a busy machine
//! (docs/architecture.md has the figures). An operation that needs another shard's state sends
//! it a [`ShardJob`] (a closure that runs there against its [`ShardState`]) and awaits the
//! answer. The runtime behind the channel is `server`'s business: this module sees it only
//! through the [`Mesh`] trait.
//!
//! Reads do not travel: every shard reads the same immutable [`Catalog`] of all volumes, an
//! `Arc` in one node-wide slot ([`SharedCatalog`], loaded and swapped without a lock), and a
//! change is published as a new catalog, RCU-style, by the shard that makes
//! it — no message to the other shards, so a reply can follow its change at once and every
//! shard sees the change from then on. A hop to another shard costs two cross-thread wake-ups
//! (tens of microseconds on a VM), which is more than a whole `volume info` answer costs; see
//! docs/architecture.md.

use super::NodeContext;
use crate::cluster::locks::LockTable;
use crate::cluster::txn::LocalFuture;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use thiserror::Error;

/// The shard every volume change runs on and every volume lock lives on; `server` gives it the
/// unix socket.
pub const CHANGE_SHARD: usize = 0;

/// How long a shard trusts its reading of this node's names and addresses: an address added
/// to an interface is seen by creates at most this late.
pub const HOST_MAP_TTL: std::time::Duration = std::time::Duration::from_secs(5);

pub use super::catalog::{Catalog, SharedCatalog};

/// Work sent to another shard: runs there, on its state.
pub type ShardJob = Box<dyn FnOnce(&ShardState) + Send>;

/// The executor's timer: a future that is ready after the duration.
pub type Sleeper = Rc<dyn Fn(std::time::Duration) -> LocalFuture<'static, ()>>;

/// Starts a task on the calling shard's executor (given by `server`, which owns the runtime).
pub type Spawner = Box<dyn Fn(LocalFuture<'static, ()>)>;

/// The channel to the other shards (implemented by `server` over glommio's channel mesh).
pub trait Mesh {
    /// Queues `job` on shard `shard` (never the calling shard).
    fn send(
        &self,
        shard: usize,
        job: ShardJob,
    ) -> Pin<Box<dyn Future<Output = Result<(), MeshError>> + '_>>;
}

/// Why another shard could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MeshError {
    /// The shard is stopping or gone.
    #[error("shard {0} is not answering (stopping?)")]
    ShardGone(usize),
}

/// Closes one of a shard's connections, by id.
pub type CloseConnection = Box<dyn Fn(u64)>;

/// The state one shard owns. Lives on its executor thread only.
pub struct ShardState {
    /// This shard's index (0..shard_count), its mesh position.
    pub index: usize,
    /// Number of shards.
    pub shard_count: usize,
    /// Node-wide read-only facts.
    pub node: Rc<NodeContext>,
    /// The volume locks: used on [`CHANGE_SHARD`] only (empty on every other shard).
    pub locks: RefCell<LockTable>,
    /// The node's catalog.
    catalog: Arc<SharedCatalog>,
    mesh: Box<dyn Mesh>,
    spawner: Rc<dyn Fn(LocalFuture<'static, ()>)>,
    me: Weak<ShardState>,
    /// This shard's commit journal.
    pub journal: Rc<super::journal::ShardJournal>,
    /// This node's names and addresses, read at most every [`HOST_MAP_TTL`], and the pool
    /// it was made with (a change of the pool makes it again).
    hosts: RefCell<Option<HostCache>>,
    /// Told when volfiles changed (`server` sends FETCHSPEC to this shard's connections).
    volfile_hook: RefCell<Option<Box<dyn Fn()>>>,
    /// Closes one of this shard's connections, by id (`server` sets it).
    close_hook: RefCell<Option<CloseConnection>>,
    /// Connections of this shard that took locks (mgmt v3 LOCK from a peer): their locks are
    /// released when they close.
    lockers: RefCell<std::collections::BTreeSet<u64>>,
    /// Store files creates queued after their reply and have not finished with, by volume
    /// name ([`ShardState::pending_store_files`]).
    store_writes: RefCell<std::collections::HashMap<String, Vec<StoreFiles>>>,
    /// The executor's timer (`server` sets it); a thread sleeps for it until then.
    sleeper: RefCell<Option<Sleeper>>,
    /// The brick processes' supervisor: on [`CHANGE_SHARD`] only, made on first use.
    pub(super) supervisor: std::cell::OnceCell<Rc<super::bricks::Supervisor>>,
    /// The pool's connections: on [`CHANGE_SHARD`] only, made on first use.
    pub(super) pool_manager: std::cell::OnceCell<Rc<super::pool::PoolManager>>,
    /// Connections of this shard a peer opened, by the peer that proved itself on each
    /// (MGMT_HNDSK VERSIONS).
    pub(super) peer_connections: RefCell<std::collections::HashMap<u64, crate::model::Uuid>>,
    /// Peers rejected over volume checksums, and why (the statedump shows it).
    pub(super) rejections: RefCell<super::pool::Rejections>,
    /// Operations staged for peers' transactions, until their commit (change shard only).
    pub(super) staged: RefCell<super::participant::Staged>,
}

/// A shard's reading of this node's names and addresses and its peers'.
struct HostCache {
    at: std::time::Instant,
    pool: Arc<crate::cluster::pool::Pool>,
    map: Rc<crate::brick::host::HostMap>,
}

/// Where a create's store files, queued on the store lane after its reply, stand: queued,
/// being written, done (written or failed), or cancelled by a delete of the volume before
/// they were written. Shared by the create, its script on the store lane and a delete's
/// script on the quick lane, which settle it without a lock.
#[derive(Clone, Debug)]
pub struct StoreFiles(Arc<AtomicU8>);

const FILES_QUEUED: u8 = 0;
const FILES_WRITING: u8 = 1;
const FILES_DONE: u8 = 2;
const FILES_CANCELLED: u8 = 3;

/// Where a delete found a create's store files ([`StoreFiles::try_cancel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Never written, and now never will be.
    Cancelled,
    /// Written (or failed part way): they are on disk for the delete to move.
    Written,
    /// Being written now, on the store lane: a script queued there runs after them.
    Writing,
}

impl StoreFiles {
    fn new() -> StoreFiles {
        StoreFiles(Arc::new(AtomicU8::new(FILES_QUEUED)))
    }

    /// For the writer, on the store lane: `Some` (write them, then drop the guard) unless a
    /// delete cancelled them.
    pub fn start(&self) -> Option<WritingFiles<'_>> {
        self.0
            .compare_exchange(
                FILES_QUEUED,
                FILES_WRITING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .ok()
            .map(|_| WritingFiles(self))
    }

    /// For a delete of the volume, once its record is durable: cancels the files if they are
    /// still queued, or says where they are. Never waits.
    pub fn try_cancel(&self) -> Settled {
        let now = self.0.compare_exchange(
            FILES_QUEUED,
            FILES_CANCELLED,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        match now {
            Ok(_) | Err(FILES_CANCELLED) => Settled::Cancelled,
            Err(FILES_DONE) => Settled::Written,
            Err(_) => Settled::Writing,
        }
    }
}

/// [`StoreFiles::start`]: dropping it (written, failed or unwound) says they are done.
pub struct WritingFiles<'a>(&'a StoreFiles);

impl Drop for WritingFiles<'_> {
    fn drop(&mut self) {
        self.0 .0.store(FILES_DONE, Ordering::Release);
    }
}

/// A create's store files, noted on the shard until they are done with
/// ([`ShardState::store_writing`]); dropping it forgets them.
pub struct StoreWriting {
    state: Weak<ShardState>,
    name: String,
    files: StoreFiles,
}

impl StoreWriting {
    /// What the writer and a delete settle between them.
    pub fn files(&self) -> StoreFiles {
        self.files.clone()
    }
}

impl Drop for StoreWriting {
    fn drop(&mut self) {
        let Some(state) = self.state.upgrade() else {
            return;
        };
        let mut writes = state.store_writes.borrow_mut();
        if let Some(pending) = writes.get_mut(&self.name) {
            pending.retain(|f| !Arc::ptr_eq(&f.0, &self.files.0));
            if pending.is_empty() {
                writes.remove(&self.name);
            }
        }
    }
}

/// Resolves after `duration`, slept on a plain thread named `name` that runs `first` (its CPU
/// placement) before it sleeps: a wait that works on any executor. At once if no thread can
/// be made.
pub(super) fn sleep_on_thread(
    duration: std::time::Duration,
    name: &str,
    first: impl FnOnce() + Send + 'static,
) -> LocalFuture<'static, ()> {
    let (done, wait) = futures_channel::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            first();
            std::thread::sleep(duration);
            let _ = done.send(());
        });
    Box::pin(async move {
        if spawned.is_ok() {
            let _ = wait.await;
        }
    })
}

impl ShardState {
    /// A shard's state, reading `catalog`.
    pub fn new(
        index: usize,
        shard_count: usize,
        node: Rc<NodeContext>,
        catalog: Arc<SharedCatalog>,
        mesh: Box<dyn Mesh>,
        spawner: Spawner,
    ) -> Rc<Self> {
        let spawner: Rc<dyn Fn(LocalFuture<'static, ()>)> = Rc::from(spawner);
        let journal = super::journal::ShardJournal::new(
            index,
            node.workdir.clone(),
            node.journal_seq.clone(),
            spawner.clone(),
        );
        Rc::new_cyclic(|me| ShardState {
            index,
            journal,
            hosts: RefCell::new(None),
            shard_count,
            node,
            locks: RefCell::new(LockTable::new()),
            catalog,
            mesh,
            spawner,
            me: me.clone(),
            volfile_hook: RefCell::new(None),
            close_hook: RefCell::new(None),
            lockers: RefCell::new(std::collections::BTreeSet::new()),
            store_writes: RefCell::new(std::collections::HashMap::new()),
            sleeper: RefCell::new(None),
            supervisor: std::cell::OnceCell::new(),
            pool_manager: std::cell::OnceCell::new(),
            peer_connections: RefCell::new(std::collections::HashMap::new()),
            rejections: RefCell::new(Default::default()),
            staged: RefCell::new(Default::default()),
        })
    }

    /// Notes store files of `name` that a create queues after its reply, until the returned
    /// value is dropped (once they are done with).
    pub fn store_writing(&self, name: &str) -> StoreWriting {
        let files = StoreFiles::new();
        self.store_writes
            .borrow_mut()
            .entry(name.to_string())
            .or_default()
            .push(files.clone());
        StoreWriting {
            state: self.me.clone(),
            name: name.to_string(),
            files,
        }
    }

    /// Store files of `name` that creates queued after their reply and have not finished
    /// with: a delete cancels them, or waits for them, before it moves `vols/<name>` away.
    pub fn pending_store_files(&self, name: &str) -> Vec<StoreFiles> {
        self.store_writes
            .borrow()
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// This node's host names and interface addresses (and the peers'), for brick locality.
    /// Reading them costs a netlink round trip, so a shard keeps them for [`HOST_MAP_TTL`].
    pub fn host_map(&self) -> Rc<crate::brick::host::HostMap> {
        let mut cached = self.hosts.borrow_mut();
        let pool = self.node.peers.load();
        if let Some(c) = cached.as_ref() {
            if c.at.elapsed() < HOST_MAP_TTL && Arc::ptr_eq(&c.pool, &pool) {
                return c.map.clone();
            }
        }
        let mut map = crate::brick::host::HostMap::from_system(&pool.stored());
        if let Some(address) = self.node.processes.bind_address {
            map = map.with_local_address(address);
        }
        let map = Rc::new(map);
        *cached = Some(HostCache {
            at: std::time::Instant::now(),
            pool,
            map: map.clone(),
        });
        map
    }

    /// Sets the executor's timer, which [`ShardState::sleep`] uses.
    pub fn set_sleeper(
        &self,
        sleeper: Rc<dyn Fn(std::time::Duration) -> LocalFuture<'static, ()>>,
    ) {
        *self.sleeper.borrow_mut() = Some(sleeper);
    }

    /// Waits `duration` without blocking the shard.
    pub fn sleep(&self, duration: std::time::Duration) -> LocalFuture<'static, ()> {
        if let Some(sleeper) = self.sleeper.borrow().as_ref() {
            return sleeper(duration);
        }
        sleep_on_thread(duration, "brickd-sleep", || {})
    }

    /// A handle on this shard's state (for tasks it spawns).
    pub fn rc(&self) -> Option<Rc<ShardState>> {
        self.me.upgrade()
    }

    /// Starts `work` on this shard's executor, not awaited by the caller.
    pub fn spawn(&self, work: LocalFuture<'static, ()>) {
        (self.spawner)(work);
    }

    /// Notes that connection `connection` of this shard took a lock.
    pub fn note_locker(&self, connection: u64) {
        self.lockers.borrow_mut().insert(connection);
    }

    /// Connection `connection` of this shard closed: if it took locks, the change shard (where
    /// every lock lives) releases them (glusterd frees a peer's locks when the peer
    /// disconnects).
    pub fn connection_closed(&self, connection: u64) {
        self.peer_connections.borrow_mut().remove(&connection);
        if !self.lockers.borrow_mut().remove(&connection) {
            return;
        }
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let shard = self.index;
        (self.spawner)(Box::pin(async move {
            let released = me
                .ask(CHANGE_SHARD, move |s: &ShardState| {
                    s.locks.borrow_mut().release_connection(shard, connection)
                })
                .await;
            match released {
                Ok(leases) => {
                    for lease in leases {
                        tracing::info!(lock = %lease.name, owner = %lease.owner, "lock released: its peer connection closed");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "locks of a closed connection not released")
                }
            }
        }));
    }

    /// The statedump section of this shard's lock leases (glusterd's statedump has none; this
    /// is how an operator sees who holds "Another transaction is in progress").
    pub fn locks_statedump(&self) -> String {
        let now = std::time::Instant::now();
        let leases = self.locks.borrow_mut().list(now);
        let mut text = format!("[shard.{}.locks]\ncount={}\n", self.index, leases.len());
        for (i, lease) in leases.iter().enumerate() {
            let holder = match lease.holder {
                crate::cluster::locks::Holder::Local => "local".to_string(),
                crate::cluster::locks::Holder::Connection { shard, connection } => {
                    format!("connection {shard}/{connection}")
                }
            };
            text.push_str(&format!(
                "lock{i}.name={}\nlock{i}.owner={}\nlock{i}.transaction={}\nlock{i}.holder={holder}\n\
                 lock{i}.held_s={}\nlock{i}.expires_in_s={}\n",
                lease.name,
                lease.owner,
                lease.txn,
                now.saturating_duration_since(lease.taken).as_secs(),
                lease.expires.saturating_duration_since(now).as_secs(),
            ));
        }
        text
    }

    /// Sets what to do when volfiles changed on this node (`server`: FETCHSPEC callbacks).
    pub fn set_volfile_hook(&self, hook: Box<dyn Fn()>) {
        *self.volfile_hook.borrow_mut() = Some(hook);
    }

    /// Sets how to close one of this shard's connections by id (`server`).
    pub fn set_close_hook(&self, hook: CloseConnection) {
        *self.close_hook.borrow_mut() = Some(hook);
    }

    /// Closes this shard's connections from peer `peer` (those it shook hands on); answers
    /// how many. The peer reconnects on its own, and a glusterd peer then runs its friend
    /// exchange again.
    pub fn close_peer_connections(&self, peer: crate::model::Uuid) -> usize {
        let ids: Vec<u64> = (self.peer_connections.borrow().iter())
            .filter(|(_, p)| **p == peer)
            .map(|(id, _)| *id)
            .collect();
        if let Some(hook) = self.close_hook.borrow().as_ref() {
            for &id in &ids {
                hook(id);
            }
        }
        ids.len()
    }

    /// Runs the future `f` makes on shard `shard`'s executor, against its state, and returns
    /// its answer: how a change reaches [`CHANGE_SHARD`]. `f` crosses
    /// threads; the future it makes does not.
    pub async fn run_on<R, F, Fut>(&self, shard: usize, f: F) -> Result<R, MeshError>
    where
        R: Send + 'static,
        F: FnOnce(Rc<ShardState>) -> Fut + Send + 'static,
        Fut: Future<Output = R> + 'static,
    {
        let (tx, rx) = futures_channel::oneshot::channel();
        let job = move |state: &ShardState| {
            let Some(me) = state.me.upgrade() else {
                return;
            };
            let work = f(me);
            (state.spawner)(Box::pin(async move {
                let _ = tx.send(work.await);
            }));
        };
        if shard == self.index {
            job(self);
        } else {
            self.mesh.send(shard, Box::new(job)).await?;
        }
        rx.await.map_err(|_| MeshError::ShardGone(shard))
    }

    /// The current snapshot of every volume.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load()
    }

    /// Changes the catalog every shard reads (every shard sees the change once this returns).
    pub fn change_catalog(&self, change: impl Fn(&mut Catalog)) {
        self.catalog.change(change);
    }

    /// [`ShardState::change_catalog`], then every shard tells its connections that volfiles
    /// changed (FETCHSPEC): this shard at once, the others as their queued job runs
    /// (glusterd's callbacks do not hold up the reply either).
    pub fn change_catalog_and_notify(&self, change: impl Fn(&mut Catalog)) {
        self.change_catalog(change);
        self.notify_volfiles();
        for shard in (0..self.shard_count).filter(|&s| s != self.index) {
            let Some(me) = self.me.upgrade() else { return };
            self.spawn(Box::pin(async move {
                let sent = me
                    .mesh
                    .send(shard, Box::new(|s: &ShardState| s.notify_volfiles()))
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "FETCHSPEC not sent from one shard");
                }
            }));
        }
    }

    fn notify_volfiles(&self) {
        if let Some(hook) = self.volfile_hook.borrow().as_ref() {
            hook();
        }
    }

    /// Runs `f` on shard `shard` against its state and returns its answer. On the calling
    /// shard it runs at once.
    pub async fn ask<R, F>(&self, shard: usize, f: F) -> Result<R, MeshError>
    where
        R: Send + 'static,
        F: FnOnce(&ShardState) -> R + Send + 'static,
    {
        if shard == self.index {
            return Ok(f(self));
        }
        let (tx, rx) = futures_channel::oneshot::channel();
        self.mesh
            .send(
                shard,
                Box::new(move |state: &ShardState| {
                    let _ = tx.send(f(state));
                }),
            )
            .await?;
        rx.await.map_err(|_| MeshError::ShardGone(shard))
    }

    /// Runs `f` on every shard, all at once, and returns the answers in shard order.
    pub async fn ask_all<R, F>(&self, f: F) -> Result<Vec<R>, MeshError>
    where
        R: Send + 'static,
        F: Fn(&ShardState) -> R + Send + Clone + 'static,
    {
        let mut pending = Vec::with_capacity(self.shard_count);
        for shard in 0..self.shard_count {
            if shard == self.index {
                pending.push(Err(f(self)));
                continue;
            }
            let (tx, rx) = futures_channel::oneshot::channel();
            let job = f.clone();
            self.mesh
                .send(
                    shard,
                    Box::new(move |state: &ShardState| {
                        let _ = tx.send(job(state));
                    }),
                )
                .await?;
            pending.push(Ok(rx));
        }
        let mut answers = Vec::with_capacity(self.shard_count);
        for (shard, p) in pending.into_iter().enumerate() {
            answers.push(match p {
                Err(local) => local,
                Ok(rx) => rx.await.map_err(|_| MeshError::ShardGone(shard))?,
            });
        }
        Ok(answers)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    struct NoMesh;

    impl Mesh for NoMesh {
        fn send(
            &self,
            shard: usize,
            _: ShardJob,
        ) -> Pin<Box<dyn Future<Output = Result<(), MeshError>> + '_>> {
            Box::pin(async move { Err(MeshError::ShardGone(shard)) })
        }
    }

    /// A one-shard state for unit tests (workdir /var/lib/glustr: 15 bytes, like the real one).
    /// It has no executor: work it would spawn is dropped.
    pub(crate) fn lone_shard() -> Rc<ShardState> {
        ShardState::new(
            0,
            1,
            Rc::new(NodeContext {
                workdir: "/var/lib/glustr".into(),
                node: Arc::new(crate::model::NodeIdentity::new(
                    &crate::model::NodeInfo::new_random(),
                )),
                peers: Arc::new(crate::cluster::pool::SharedPool::new(Default::default())),
                engine: None,
                lvm: Arc::new(std::sync::OnceLock::new()),
                journal_seq: Arc::new(std::sync::atomic::AtomicU64::new(0)),
                bricks: Arc::default(),
                processes: Arc::new(crate::brick::process::ProcessConfig::glusterd_defaults()),
                cmd_log: Arc::new(crate::ops::cmd_log::CmdLog::disabled()),
                peer_frame_timeout: std::time::Duration::from_secs(600),
                peer_ping_timeout: None,
            }),
            Arc::new(SharedCatalog::new(Catalog::default())),
            Box::new(NoMesh),
            Box::new(|_| {}),
        )
    }

    #[test]
    fn store_files_are_pending_until_every_writer_is_dropped() {
        let state = lone_shard();
        assert!(state.pending_store_files("v1").is_empty());
        let first = state.store_writing("v1");
        let second = state.store_writing("v1");
        let other = state.store_writing("v2");
        assert_eq!(state.pending_store_files("v1").len(), 2);
        assert_eq!(state.pending_store_files("v2").len(), 1);
        drop(first);
        let left = state.pending_store_files("v1");
        assert_eq!(left.len(), 1, "one writer of v1 left");
        assert!(Arc::ptr_eq(&left[0].0, &second.files().0));
        drop(second);
        assert!(state.pending_store_files("v1").is_empty());
        assert_eq!(state.pending_store_files("v2").len(), 1);
        drop(other);
        assert!(state.pending_store_files("v2").is_empty());
        // A writer that outlives its shard state is dropped without harm.
        let late = state.store_writing("v3");
        drop(state);
        drop(late);
    }

    #[test]
    fn queued_store_files_are_cancelled_and_others_say_where_they_are() {
        // Cancelled while queued: the writer then writes nothing.
        let files = StoreFiles::new();
        assert_eq!(files.try_cancel(), Settled::Cancelled);
        assert_eq!(files.try_cancel(), Settled::Cancelled, "settled for good");
        assert!(files.start().is_none());
        // Being written: not cancelled; done once the writer drops its guard.
        let files = StoreFiles::new();
        let writing = files.start().expect("queued");
        assert_eq!(files.try_cancel(), Settled::Writing);
        assert_eq!(files.try_cancel(), Settled::Writing, "still being written");
        drop(writing);
        assert_eq!(files.try_cancel(), Settled::Written);
        assert!(files.start().is_none(), "written once");
    }
}
