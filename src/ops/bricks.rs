//! Brick processes of this node's bricks, supervised: started for `volume start` (in
//! parallel, each waited for until it signed in), stopped for `volume stop` (SIGTERM, then
//! SIGKILL after `stop_timeout`; never left running), watched while they run (a pidfd each:
//! a death is seen at once, not by polling), restarted with bounded exponential backoff when
//! they die while their volume is started (glusterd leaves them down), and adopted, not
//! restarted, when brickd itself restarts.
//!
//! Everything here runs on the change shard ([`super::shard::CHANGE_SHARD`]), which owns the
//! [`Supervisor`]; the run-time state every shard reads (pid, port, online) is the node-wide
//! `brick::process::BrickTable`.

use super::shard::ShardState;
use crate::brick::process::{self, BrickRun, Exited, Launch, Watcher};
use crate::model::{Brick, Volume, VolumeStatus};
use futures_util::future::{self, Either};
use futures_util::StreamExt;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Instant;

/// How long a brick may take to exit after TERMINATE before it gets SIGTERM.
const TERMINATE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The change shard's brick supervisor.
pub struct Supervisor {
    watcher: Watcher,
    next_key: Cell<u64>,
    /// Watch key → brick path.
    watched: RefCell<HashMap<u64, String>>,
    /// Bricks being stopped on purpose: their exit is no crash.
    stopping: RefCell<HashSet<String>>,
    /// Bricks being started: a death meanwhile fails the start, it is not restarted.
    exit_waiters: RefCell<HashMap<String, Vec<futures_channel::oneshot::Sender<()>>>>,
    /// When each running brick came up (a brick that ran long enough starts its backoff over).
    up_since: RefCell<HashMap<String, Instant>>,
}

/// The supervisor of `state`'s node, made (with its watcher thread and the task that handles
/// exits) on first use.
pub fn supervisor(state: &ShardState) -> Result<Rc<Supervisor>, String> {
    if let Some(s) = state.supervisor.get() {
        return Ok(s.clone());
    }
    let (watcher, exits) =
        Watcher::start().map_err(|e| format!("cannot watch brick processes: {e}"))?;
    let made = Rc::new(Supervisor {
        watcher,
        next_key: Cell::new(1),
        watched: RefCell::new(HashMap::new()),
        stopping: RefCell::new(HashSet::new()),
        exit_waiters: RefCell::new(HashMap::new()),
        up_since: RefCell::new(HashMap::new()),
    });
    let _ = state.supervisor.set(made.clone());
    if let Some(rc) = state.rc() {
        state.spawn(Box::pin(handle_exits(rc, exits)));
    }
    Ok(made)
}

impl Supervisor {
    fn watch(&self, pid: i32, path: &str) -> std::io::Result<()> {
        let key = self.next_key.get();
        self.next_key.set(key + 1);
        self.watched.borrow_mut().insert(key, path.to_string());
        self.watcher.watch(pid, key).inspect_err(|_| {
            self.watched.borrow_mut().remove(&key);
        })
    }

    fn is_watched(&self, path: &str) -> bool {
        self.watched.borrow().values().any(|p| p == path)
    }

    fn exit_of(&self, path: &str) -> futures_channel::oneshot::Receiver<()> {
        let (tx, rx) = futures_channel::oneshot::channel();
        self.exit_waiters
            .borrow_mut()
            .entry(path.to_string())
            .or_default()
            .push(tx);
        rx
    }
}

/// The launch description of `brick` of `volume` on this node.
fn launch_of(state: &ShardState, volume: &str, brick: &Brick, port: u16) -> Launch {
    let volume_id = state
        .catalog()
        .get(volume)
        .map_or(crate::model::Uuid::NIL, |v| v.volume_id);
    Launch {
        kind: process::Kind::Brick,
        volume_id,
        volume: volume.to_string(),
        host: brick.hostname.clone(),
        path: brick.path.clone(),
        port,
        node: state.node.node.uuid(),
    }
}

/// Whether glusterd runs a self-heal daemon for `volume` (replicate and disperse volumes).
pub fn has_self_heal(volume: &Volume) -> bool {
    matches!(
        volume.volume_type,
        crate::model::VolumeType::Replicate | crate::model::VolumeType::Disperse
    )
}

/// The self-heal daemon this node runs for `volume`: one if the volume has one and a brick
/// here (glusterd runs it on every node with a brick of the volume).
pub fn self_heal_of(state: &ShardState, volume: &Volume) -> Option<Launch> {
    let first = local_bricks(state, volume).next()?;
    has_self_heal(volume)
        .then(|| Launch::self_heal(&volume.name, &first.hostname, state.node.node.uuid()))
}

/// The snapshot daemon this node runs for `volume`: one if `features.uss` is on and the
/// volume has a brick here, on the port it had (0: not known yet).
pub fn snapd_of(state: &ShardState, volume: &Volume) -> Option<Launch> {
    let first = local_bricks(state, volume).next()?;
    let key = process::snapd_key(&volume.name);
    let port = state.node.bricks.get(&key).map_or(0, |r| r.port);
    crate::volgen::uss_enabled(volume)
        .then(|| Launch::snapd(&volume.name, &first.hostname, state.node.node.uuid(), port))
}

/// Every process this node runs for `volume`: its bricks (with their stored ports), then its
/// self-heal daemon and its snapshot daemon.
fn processes_of(state: &ShardState, volume: &Volume) -> Vec<Launch> {
    let mut all: Vec<Launch> = local_bricks(state, volume)
        .map(|b| launch_of(state, &volume.name, b, b.listen_port as u16))
        .collect();
    all.extend(self_heal_of(state, volume));
    all.extend(snapd_of(state, volume));
    all
}

/// Every process of `volume` this node may have running: [`processes_of`], and the snapshot
/// daemon even when `features.uss` is off now (it was on when it started).
fn processes_to_stop(state: &ShardState, volume: &Volume) -> Vec<Launch> {
    let mut all = processes_of(state, volume);
    if all.iter().all(|l| l.kind != process::Kind::Snapd) {
        if let Some(first) = local_bricks(state, volume).next() {
            let port =
                (state.node.bricks.get(&process::snapd_key(&volume.name))).map_or(0, |r| r.port);
            all.push(Launch::snapd(
                &volume.name,
                &first.hostname,
                state.node.node.uuid(),
                port,
            ));
        }
    }
    all
}

/// The unix socket of brick `brick` of `volume` (its `-S`).
pub fn socket_of(state: &ShardState, volume: &Volume, brick: &Brick) -> std::path::PathBuf {
    launch_of(state, &volume.name, brick, 0).socket_file(&state.node.processes)
}

/// This node's bricks of `volume`.
pub fn local_bricks<'a>(state: &ShardState, volume: &'a Volume) -> impl Iterator<Item = &'a Brick> {
    let me = state.node.node.uuid();
    volume.bricks.iter().filter(move |b| b.uuid == me)
}

/// Whether brick `path` of `volume` is up (a running process that signed in, or was adopted).
pub fn is_online(state: &ShardState, volume: &str, path: &str) -> Option<BrickRun> {
    state
        .node
        .bricks
        .get(path)
        .filter(|r| r.volume == volume && r.online && r.pid > 0)
}

/// A brick that came up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The brick's path.
    pub path: String,
    /// Its port.
    pub port: u16,
    /// Its process.
    pub pid: i32,
}

/// Starts this node's bricks of `volume` that are not up, in parallel, each until it signed
/// in: those that came up, and for each that did not, `Brick HOST:PATH: reason`.
pub async fn start_bricks(state: &ShardState, volume: &Volume) -> (Vec<Started>, Vec<String>) {
    let sup = match supervisor(state) {
        Ok(s) => s,
        Err(e) => {
            let failed = local_bricks(state, volume)
                .map(|b| format!("Brick {}: {e}", b.name()))
                .collect();
            return (Vec::new(), failed);
        }
    };
    let down: Vec<&Brick> = local_bricks(state, volume)
        .filter(|b| is_online(state, &volume.name, &b.path).is_none())
        .collect();
    let results = future::join_all(
        down.iter()
            .map(|b| start_one(state, &sup, &volume.name, b, None)),
    )
    .await;
    let mut up = Vec::new();
    let mut failed = Vec::new();
    for (brick, result) in down.iter().zip(results) {
        match result {
            Ok(started) => up.push(started),
            Err(reason) => failed.push(format!("Brick {}: {reason}", brick.name())),
        }
    }
    if failed.is_empty() {
        if let Some(shd) = self_heal_of(state, volume) {
            if is_online(state, &volume.name, &shd.path).is_none() {
                // A self-heal daemon that does not start fails no start (glusterd's does not
                // either); `volume status` shows it offline, with its reason in the log.
                if let Err(e) = start_daemon(state, &sup, shd).await {
                    tracing::warn!(volume = %volume.name, error = %e, "self-heal daemon did not start");
                }
            }
        }
        start_snapd(state, &sup, volume).await;
    }
    (up, failed)
}

/// Starts the snapshot daemon of `volume` if it should run here and is not up. One that does
/// not start fails nothing (glusterd's does not either): `volume status` shows it offline.
async fn start_snapd(state: &ShardState, sup: &Supervisor, volume: &Volume) {
    let Some(snapd) = snapd_of(state, volume) else {
        return;
    };
    // Up, or a start of it under way (an entry with no reason yet): nothing to do. A second
    // start would race the first for the pid file and the port.
    let known = state.node.bricks.get(&snapd.path);
    if known.is_some_and(|r| r.online || r.reason.is_empty()) {
        return;
    }
    // glusterd writes the daemon's volfile into the store as it starts it (brickd serves it
    // from memory; the file is for tools that read the store): on the store lane, not on
    // this shard (the write is synced).
    match crate::volgen::snapd_volfile(volume) {
        Ok(text) => {
            let path = (state.node.workdir.join("vols").join(&volume.name))
                .join(crate::volgen::snapd_volfile_name(volume));
            let written = match state.node.engine.clone() {
                Some(engine) => {
                    engine
                        .script(crate::brick::engine::Lane::Store, move || {
                            crate::store::write_atomic(&path, text.as_bytes())
                                .map_err(std::io::Error::other)
                        })
                        .await
                }
                None => Err(std::io::Error::other("no brick engine")),
            };
            if let Err(e) = written {
                tracing::warn!(volume = %volume.name, error = %e, "snapshot daemon volfile not written");
            }
        }
        Err(e) => {
            tracing::warn!(volume = %volume.name, error = %e, "snapshot daemon volfile not rendered");
            return;
        }
    }
    let prefer = Some(snapd.port);
    if let Err(e) = start_launch(
        state,
        sup,
        &snapd.path.clone(),
        &|port| Launch {
            port,
            ..snapd.clone()
        },
        prefer,
    )
    .await
    {
        tracing::warn!(volume = %volume.name, error = %e, "snapshot daemon did not start");
    }
}

/// After a set or reset of a started `volume`: the snapshot daemon started if `features.uss`
/// is on now and it is not up, stopped if it is off and the daemon runs (glusterd's snapd
/// service manager), in the background.
pub fn reconcile_snapd(state: &Rc<ShardState>, volume: &Volume) {
    if volume.status != VolumeStatus::Started {
        return;
    }
    let wanted = snapd_of(state, volume).is_some();
    let key = process::snapd_key(&volume.name);
    let running = state.node.bricks.get(&key).filter(|r| r.pid > 0);
    let (rc, volume) = (state.clone(), volume.clone());
    match (wanted, running) {
        (true, None) => state.spawn(Box::pin(async move {
            if let Ok(sup) = supervisor(&rc) {
                start_snapd(&rc, &sup, &volume).await;
            }
        })),
        (false, Some(run)) => state.spawn(Box::pin(async move {
            let Ok(sup) = supervisor(&rc) else {
                return;
            };
            let Some(launch) = processes_to_stop(&rc, &volume)
                .into_iter()
                .find(|l| l.kind == process::Kind::Snapd)
            else {
                return;
            };
            if let Err(e) = stop_pid(&rc, &sup, &launch, run.pid).await {
                tracing::warn!(volume = %volume.name, error = %e, "snapshot daemon did not stop");
            }
        })),
        _ => {}
    }
}

/// Starts one brick and waits until it signed in (or died, or `start_timeout` passed: then it
/// is stopped). `prefer_port` is tried first (a restart keeps its port when it can).
async fn start_one(
    state: &ShardState,
    sup: &Supervisor,
    volume: &str,
    brick: &Brick,
    prefer_port: Option<u16>,
) -> Result<Started, String> {
    let make = |port: u16| launch_of(state, volume, brick, port);
    start_launch(state, sup, &brick.path, &make, prefer_port).await
}

/// Starts the process `make(port)` describes (a brick, or the snapshot daemon: one that
/// listens on a port and signs in as `key`) on a free port, `prefer_port` first, and waits
/// until it signed in. A process that could not bind its port (another process took it
/// between the test bind and the process's) is started again on another, as glusterd does,
/// up to [`PORT_RETRIES`] times.
async fn start_launch(
    state: &ShardState,
    sup: &Supervisor,
    key: &str,
    make: &dyn Fn(u16) -> Launch,
    prefer_port: Option<u16>,
) -> Result<Started, String> {
    let config = state.node.processes.clone();
    let table = state.node.bricks.clone();
    let mut prefer = prefer_port.filter(|&p| p != 0);
    let mut tries = 0;
    loop {
        let free = |p: u16| {
            !table.port_taken(p, key)
                && std::net::TcpListener::bind((
                    config
                        .bind_address
                        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
                    p,
                ))
                .is_ok()
        };
        let port = match prefer.take().filter(|&p| free(p)) {
            Some(p) => p,
            None => process::allocate_port(
                config.base_port,
                config.max_port,
                config.bind_address,
                |p| table.port_taken(p, key),
            )
            .ok_or_else(|| {
                format!(
                    "no free port between {} and {}",
                    config.base_port, config.max_port
                )
            })?,
        };
        let launch = make(port);
        match start_on_port(state, sup, &launch).await {
            Err(reason) if reason.contains("Address already in use") && tries < PORT_RETRIES => {
                tracing::info!(process = %launch.path, port, "port taken meanwhile; another");
                tries += 1;
            }
            other => return other,
        }
    }
}

/// How many times a brick whose port was taken under it is started on another.
const PORT_RETRIES: u32 = 3;

/// [`start_launch`] on `launch.port`.
async fn start_on_port(
    state: &ShardState,
    sup: &Supervisor,
    launch: &Launch,
) -> Result<Started, String> {
    let config = state.node.processes.clone();
    let table = state.node.bricks.clone();
    let port = launch.port;
    let path = launch.path.clone();
    let name = format!("{}:{}", launch.host, launch.path);
    let restarts = table.get(&path).map_or(0, |r| r.restarts);
    table.update(&path, |_| {
        Some(BrickRun {
            volume: launch.volume.clone(),
            host: launch.host.clone(),
            pid: 0,
            port,
            online: false,
            reason: String::new(),
            restarts,
        })
    });
    let signin = table.wait_signin(&path);
    let log_from = std::fs::metadata(launch.log_file(&config)).map_or(0, |m| m.len());
    let (tx, rx) = futures_channel::oneshot::channel();
    let (thread_config, thread_launch) = (config.clone(), launch.clone());
    let spawned = std::thread::Builder::new()
        .name("brickd-launch".into())
        .spawn(move || {
            let _ = tx.send(process::launch(&thread_config, &thread_launch));
        });
    let fail = |reason: String| {
        table.update(&path, |old| {
            old.map(|r| BrickRun {
                pid: 0,
                online: false,
                reason: reason.clone(),
                ..r.clone()
            })
        });
        Err(reason)
    };
    if let Err(e) = spawned {
        return fail(format!("cannot start a thread: {e}"));
    }
    let pid = match rx.await {
        Ok(Ok(pid)) => pid,
        Ok(Err(e)) => return fail(e.0),
        Err(_) => return fail("the launch did not answer".into()),
    };
    let exit = sup.exit_of(&path);
    if let Err(e) = sup.watch(pid, &path) {
        let _ = process::signal(pid, libc::SIGKILL);
        return fail(format!("cannot watch process {pid}: {e}"));
    }
    table.update(&path, |old| old.map(|r| BrickRun { pid, ..r.clone() }));
    let waited = future::select(
        future::select(signin, exit),
        state.sleep(config.start_timeout),
    )
    .await;
    match waited {
        Either::Left((Either::Left((Ok(()), _)), _)) => {
            sup.up_since
                .borrow_mut()
                .insert(path.clone(), Instant::now());
            let port = table.get(&path).map_or(port, |r| r.port);
            tracing::info!(brick = %name, pid, port, "brick started");
            Ok(Started { path, port, pid })
        }
        Either::Left(_) => {
            let why =
                process::error_from_log(&launch.log_file(&config), log_from, process::Which::First)
                    .unwrap_or_else(|| format!("brick process {pid} exited before it signed in"));
            fail(why)
        }
        Either::Right(_) => {
            let _ = stop_pid(state, sup, launch, pid).await;
            fail(format!(
                "brick process {pid} did not sign in within {} s; stopped",
                config.start_timeout.as_secs()
            ))
        }
    }
}

/// Starts a process that signs in nowhere (the self-heal daemon): up once its launch says so.
async fn start_daemon(state: &ShardState, sup: &Supervisor, launch: Launch) -> Result<i32, String> {
    let config = state.node.processes.clone();
    let table = state.node.bricks.clone();
    let key = launch.path.clone();
    let restarts = table.get(&key).map_or(0, |r| r.restarts);
    let entry = |pid: i32, reason: String| BrickRun {
        volume: launch.volume.clone(),
        host: launch.host.clone(),
        pid,
        port: 0,
        online: pid > 0,
        reason,
        restarts,
    };
    table.update(&key, |_| Some(entry(0, String::new())));
    let (tx, rx) = futures_channel::oneshot::channel();
    let thread_launch = launch.clone();
    std::thread::Builder::new()
        .name("brickd-launch".into())
        .spawn(move || {
            let _ = tx.send(process::launch(&config, &thread_launch));
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let launched = match rx.await {
        Ok(Ok(pid)) => sup
            .watch(pid, &key)
            .map(|()| pid)
            .map_err(|e| format!("cannot watch process {pid}: {e}")),
        Ok(Err(e)) => Err(e.0),
        Err(_) => Err("the launch did not answer".into()),
    };
    match launched {
        Ok(pid) => {
            table.update(&key, |_| Some(entry(pid, String::new())));
            sup.up_since
                .borrow_mut()
                .insert(key.clone(), Instant::now());
            tracing::info!(daemon = %key, pid, "self-heal daemon started");
            Ok(pid)
        }
        Err(reason) => {
            table.update(&key, |_| Some(entry(0, reason.clone())));
            Err(reason)
        }
    }
}

/// Stops this node's bricks of `volume` (those brickd runs, and any whose pid file names a
/// live brick process of theirs), in parallel: what could not be done, one line each.
pub async fn stop_bricks(state: &ShardState, volume: &Volume) -> Vec<String> {
    let sup = match supervisor(state) {
        Ok(s) => s,
        Err(e) => return vec![e],
    };
    let config = state.node.processes.clone();
    let stops = processes_to_stop(state, volume)
        .into_iter()
        .filter_map(|launch| {
            let pid = state
                .node
                .bricks
                .get(&launch.path)
                .map(|r| r.pid)
                .filter(|&pid| pid > 0)
                .or_else(|| {
                    process::read_pid_file(&launch.pid_file(&config)).filter(|&pid| {
                        process::process_alive(pid) && process::is_brick_process(pid, &launch)
                    })
                });
            match pid {
                Some(pid) => Some(Either::Left(stop_pid_named(
                    state,
                    sup.clone(),
                    launch,
                    pid,
                ))),
                None => {
                    state.node.bricks.update(&launch.path, |_| None);
                    let _ = std::fs::remove_file(launch.pid_file(&config));
                    None::<Either<_, future::Ready<Option<String>>>>
                }
            }
        });
    future::join_all(stops)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn stop_pid_named(
    state: &ShardState,
    sup: Rc<Supervisor>,
    launch: Launch,
    pid: i32,
) -> Option<String> {
    stop_pid(state, &sup, &launch, pid)
        .await
        .err()
        .map(|e| format!("Brick {}:{}: {e}", launch.host, launch.path))
}

/// Stops brick process `pid`: SIGTERM, then SIGKILL after `stop_timeout`; waits until it is
/// gone; removes its pid file and its table entry.
async fn stop_pid(
    state: &ShardState,
    sup: &Supervisor,
    launch: &Launch,
    pid: i32,
) -> Result<(), String> {
    let config = state.node.processes.clone();
    let path = launch.path.clone();
    sup.stopping.borrow_mut().insert(path.clone());
    sup.up_since.borrow_mut().remove(&path);
    if !sup.is_watched(&path) {
        // A brick found through its pid file: watch it for its exit too.
        let _ = sup.watch(pid, &path);
    }
    let result = async {
        let mut exit = sup.exit_of(&path);
        if !process::process_alive(pid) {
            return Ok(());
        }
        // First the brick's own way out: GD_BRICK TERMINATE over its unix socket (a thread
        // of its own: a blocking connect and read), then SIGTERM, then SIGKILL.
        if launch.kind == process::Kind::Brick {
            let grace = config.stop_timeout.min(TERMINATE_GRACE);
            let (socket, brick) = (launch.socket_file(&config), launch.path.clone());
            let (tx, rx) = futures_channel::oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name("brickd-terminate".into())
                .spawn(move || {
                    let _ = tx.send(process::terminate(&socket, &brick, grace));
                });
            let sent = match spawned {
                Ok(_) => rx.await.unwrap_or_else(|_| Err("no answer".into())),
                Err(e) => Err(e.to_string()),
            };
            match sent {
                Ok(()) => {
                    tracing::info!(brick = %path, pid, "TERMINATE sent to brick");
                    match future::select(exit, state.sleep(grace)).await {
                        Either::Left(_) => return Ok(()),
                        Either::Right((_, still)) => exit = still,
                    }
                }
                Err(e) => tracing::info!(brick = %path, pid, error = %e, "TERMINATE not delivered; SIGTERM"),
            }
        }
        for signal in [libc::SIGTERM, libc::SIGKILL] {
            match process::signal(pid, signal) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
                Err(e) => return Err(format!("cannot signal process {pid}: {e}")),
            }
            tracing::info!(brick = %path, pid, signal, "signal sent to brick");
            match future::select(exit, state.sleep(config.stop_timeout)).await {
                Either::Left(_) => return Ok(()),
                Either::Right((_, still)) => exit = still,
            }
            if !process::process_alive(pid) {
                return Ok(());
            }
        }
        Err(format!("process {pid} is still running after SIGKILL"))
    }
    .await;
    sup.stopping.borrow_mut().remove(&path);
    if result.is_ok() {
        state.node.bricks.update(&path, |_| None);
        let _ = std::fs::remove_file(launch.pid_file(&config));
    }
    result
}

/// Handles brick exits reported by the watcher: wakes whoever waits for one; a brick that
/// died while its volume is started is shown offline at once and restarted after its backoff.
async fn handle_exits(
    state: Rc<ShardState>,
    mut exits: futures_channel::mpsc::UnboundedReceiver<Exited>,
) {
    while let Some(Exited { key, pid }) = exits.next().await {
        let Some(sup) = state.supervisor.get().cloned() else {
            return;
        };
        let Some(path) = sup.watched.borrow_mut().remove(&key) else {
            continue;
        };
        for tx in sup
            .exit_waiters
            .borrow_mut()
            .remove(&path)
            .into_iter()
            .flatten()
        {
            let _ = tx.send(());
        }
        if sup.stopping.borrow().contains(&path) {
            continue;
        }
        let Some(up_since) = sup.up_since.borrow_mut().remove(&path) else {
            // Not up yet: its start sees the exit and says why.
            continue;
        };
        let Some(run) = state.node.bricks.get(&path).filter(|r| r.pid == pid) else {
            continue;
        };
        let config = state.node.processes.clone();
        let log = if path == process::self_heal_key(&run.volume) {
            config.log_dir.join("glustershd.log")
        } else if path == process::snapd_key(&run.volume) {
            Launch::snapd(&run.volume, "", crate::model::Uuid::NIL, 0).log_file(&config)
        } else {
            crate::brick::glusterfsd::log_file(&config.log_dir, &path)
        };
        let reason = process::error_from_log(&log, 0, process::Which::Last)
            .map(|e| format!("brick process {pid} died: {e}"))
            .unwrap_or_else(|| format!("brick process {pid} died"));
        tracing::warn!(brick = %path, volume = %run.volume, pid, reason = %reason, "brick process died");
        let restarts = if up_since.elapsed() >= config.restart.stable_after {
            0
        } else {
            run.restarts
        };
        let policy = config.restart.clone();
        let left_down = !policy.enabled || restarts >= policy.attempts_max;
        let shown = if left_down && policy.enabled {
            format!("left down after {restarts} restarts: {reason}")
        } else {
            reason
        };
        state.node.bricks.update(&path, |old| {
            old.map(|r| BrickRun {
                pid: 0,
                online: false,
                reason: shown.clone(),
                restarts,
                ..r.clone()
            })
        });
        if left_down {
            continue;
        }
        let (state2, sup2, port) = (state.clone(), sup.clone(), run.port);
        let volume_name = run.volume.clone();
        state.spawn(Box::pin(restart(
            state2,
            sup2,
            volume_name,
            path,
            port,
            restarts,
            shown,
        )));
    }
}

/// Restarts process `path` of `volume_name` that died, after its backoff, again and again
/// while the restart itself fails (a brick that dies in init), until one comes up or
/// `attempts_max` restarts in a row were made: then it is left down with the last reason.
async fn restart(
    state: Rc<ShardState>,
    sup: Rc<Supervisor>,
    volume_name: String,
    path: String,
    port: u16,
    first: u32,
    mut reason: String,
) {
    let policy = state.node.processes.restart.clone();
    for attempt in first..policy.attempts_max {
        state.sleep(policy.backoff(attempt)).await;
        // Still wanted: the volume started, the process still its own, nobody started it.
        let catalog = state.catalog();
        let Some(volume) = catalog
            .get(&volume_name)
            .filter(|v| v.status == VolumeStatus::Started)
        else {
            return;
        };
        // Someone else started it meanwhile, or is starting it (a start clears the reason).
        if (state.node.bricks.get(&path)).is_some_and(|r| r.pid != 0 || r.reason.is_empty())
            || sup.stopping.borrow().contains(&path)
        {
            return;
        }
        state.node.bricks.update(&path, |old| {
            old.map(|r| BrickRun {
                restarts: attempt + 1,
                ..r.clone()
            })
        });
        let started = if let Some(shd) = self_heal_of(&state, volume).filter(|l| l.path == path) {
            start_daemon(&state, &sup, shd).await.map(|pid| (pid, 0))
        } else if let Some(snapd) = snapd_of(&state, volume).filter(|l| l.path == path) {
            let make = |port| Launch {
                port,
                ..snapd.clone()
            };
            start_launch(&state, &sup, &path, &make, Some(port))
                .await
                .map(|s| (s.pid, s.port))
        } else {
            let Some(brick) = local_bricks(&state, volume).find(|b| b.path == path) else {
                return;
            };
            start_one(&state, &sup, &volume_name, brick, Some(port))
                .await
                .map(|s| (s.pid, s.port))
        };
        match started {
            Ok((pid, port)) => {
                tracing::info!(process = %path, pid, port, restart = attempt + 1, "brick process restarted");
                return;
            }
            Err(e) => {
                tracing::warn!(process = %path, error = %e, restart = attempt + 1, "brick process restart failed");
                reason = e;
            }
        }
    }
    let left = format!("left down after {} restarts: {reason}", policy.attempts_max);
    tracing::error!(process = %path, volume = %volume_name, reason = %left, "brick process left down");
    state.node.bricks.update(&path, |old| {
        old.map(|r| BrickRun {
            pid: 0,
            online: false,
            reason: left.clone(),
            ..r.clone()
        })
    });
}

/// At start-up, on the change shard: adopts every local brick of a started volume whose
/// process still runs (pid file + command line), starts those that do not run, and stops
/// brick processes of volumes that are not started (a crash between a stop's commit and its
/// bricks' end).
pub fn start_supervision(state: &Rc<ShardState>) {
    let sup = match supervisor(state) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "brick supervision unavailable");
            return;
        }
    };
    let config = state.node.processes.clone();
    let catalog = state.catalog();
    let mut to_start: Vec<(String, Brick)> = Vec::new();
    let mut to_stop: Vec<(Launch, i32)> = Vec::new();
    let mut to_start_daemons: Vec<Launch> = Vec::new();
    let mut to_start_snapd: Vec<std::sync::Arc<Volume>> = Vec::new();
    for volume in catalog.values() {
        let started = volume.status == VolumeStatus::Started;
        for launch in processes_of(state, volume) {
            let running = process::read_pid_file(&launch.pid_file(&config)).filter(|&pid| {
                process::process_alive(pid) && process::is_brick_process(pid, &launch)
            });
            match (started, running) {
                (true, Some(pid)) => {
                    let port = match launch.kind {
                        process::Kind::Brick | process::Kind::Snapd => {
                            process::brick_port_of(pid).unwrap_or(launch.port)
                        }
                        process::Kind::SelfHeal => 0,
                    };
                    if sup.watch(pid, &launch.path).is_ok() {
                        state.node.bricks.update(&launch.path, |_| {
                            Some(BrickRun {
                                volume: volume.name.clone(),
                                host: launch.host.clone(),
                                pid,
                                port,
                                online: true,
                                reason: String::new(),
                                restarts: 0,
                            })
                        });
                        sup.up_since
                            .borrow_mut()
                            .insert(launch.path.clone(), Instant::now());
                        tracing::info!(process = %launch.path, volume = %volume.name, pid, port, "brick process adopted");
                    }
                }
                (true, None) => match launch.kind {
                    process::Kind::Brick => {
                        if let Some(brick) = volume.bricks.iter().find(|b| b.path == launch.path) {
                            to_start.push((volume.name.clone(), brick.clone()));
                        }
                    }
                    process::Kind::SelfHeal => to_start_daemons.push(launch),
                    process::Kind::Snapd => to_start_snapd.push(volume.clone()),
                },
                (false, Some(pid)) => to_stop.push((launch, pid)),
                (false, None) => {}
            }
        }
    }
    if to_start.is_empty()
        && to_stop.is_empty()
        && to_start_daemons.is_empty()
        && to_start_snapd.is_empty()
    {
        return;
    }
    let rc = state.clone();
    state.spawn(Box::pin(async move {
        let starts = to_start.iter().map(|(volume, brick)| {
            start_one(&rc, &sup, volume, brick, Some(brick.listen_port as u16))
        });
        let stops = to_stop.iter().map(|(launch, pid)| stop_pid(&rc, &sup, launch, *pid));
        let (started, stopped) = future::join(future::join_all(starts), future::join_all(stops)).await;
        for ((_, brick), result) in to_start.iter().zip(started) {
            if let Err(e) = result {
                tracing::warn!(brick = %brick.name(), error = %e, "brick of a started volume did not start");
            }
        }
        for launch in to_start_daemons {
            let name = launch.path.clone();
            if let Err(e) = start_daemon(&rc, &sup, launch).await {
                tracing::warn!(daemon = %name, error = %e, "self-heal daemon of a started volume did not start");
            }
        }
        for volume in to_start_snapd {
            start_snapd(&rc, &sup, &volume).await;
        }
        for ((launch, pid), result) in to_stop.iter().zip(stopped) {
            if let Err(e) = result {
                tracing::warn!(brick = %launch.path, pid, error = %e, "brick of a stopped volume did not stop");
            }
        }
    }));
}

/// The statedump section of this node's brick processes (from the change shard only; empty
/// elsewhere): each one's volume, pid, port, whether it is online, its restarts in a row and
/// why it is down, if it failed.
pub fn statedump(state: &ShardState) -> String {
    if state.index != super::shard::CHANGE_SHARD {
        return String::new();
    }
    let table = state.node.bricks.snapshot();
    let mut text = format!("[bricks]\ncount={}\n", table.len());
    for (i, (path, run)) in table.iter().enumerate() {
        text.push_str(&format!(
            "brick{i}.path={path}\nbrick{i}.volume={}\nbrick{i}.pid={}\nbrick{i}.port={}\n\
             brick{i}.online={}\nbrick{i}.restarts={}\nbrick{i}.reason={}\n",
            run.volume,
            run.pid,
            run.port,
            u8::from(run.online),
            run.restarts,
            run.reason,
        ));
    }
    text
}
