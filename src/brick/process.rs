//! Brick processes: the `glusterfsd` command line glusterd 10.3 uses, the port a brick gets,
//! the launch (run glusterfsd, wait for its first process to exit once the daemon is up, read
//! the pid file), the identity check that lets a restarted brickd adopt a running brick, the
//! reason a brick failed (from its log), the watcher that learns at once that a brick process
//! died (a pidfd per process, polled by one thread), and the node-wide table of every local
//! brick's run-time state (pid, port, online), which the portmap program answers from.
//!
//! No runtime here: the launch blocks and runs on a thread of its own; the watcher is a plain
//! thread that reports through a channel; the table is an `ArcSwap`, read by every shard
//! without a lock. `ops::bricks` decides when to start, stop and restart.

use super::glusterfsd;
use crate::model::Uuid;
use arc_swap::ArcSwap;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// glusterd's default first brick port (`base-port` in glusterd.vol).
pub const BASE_PORT: u16 = 49152;
/// glusterd's default last brick port (`max-port`).
pub const MAX_PORT: u16 = 60999;
/// The port glusterd's bricks fetch their volfile from when no port is given.
pub const DEFAULT_VOLFILE_PORT: u16 = 24007;
/// Most bytes of a brick's log read for the reason it failed.
pub const LOG_TAIL_BYTES_MAX: u64 = 64 << 10;

/// How brickd restarts a brick process that died while its volume is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Off: a dead brick stays down until `volume start force`, as with glusterd.
    pub enabled: bool,
    /// Wait before the first restart; doubled after each restart that dies again.
    pub backoff_first: Duration,
    /// The longest wait between restarts.
    pub backoff_max: Duration,
    /// Restarts in a row (each dying within [`RestartPolicy::stable_after`]) before the brick
    /// is left down with its reason.
    pub attempts_max: u32,
    /// A brick that ran this long counts as healthy again: its backoff starts over.
    pub stable_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            enabled: true,
            backoff_first: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            attempts_max: 5,
            stable_after: Duration::from_secs(10),
        }
    }
}

impl RestartPolicy {
    /// The wait before restart number `attempt` (0-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        self.backoff_first
            .checked_mul(factor)
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max)
    }
}

/// Where brick processes and their files go, and how they are run.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// The brick server binary.
    pub glusterfsd: PathBuf,
    /// The client binary the self-heal daemon runs.
    pub glusterfs: PathBuf,
    /// glusterd's run directory: pid files under `vols/<volume>/`.
    pub run_dir: PathBuf,
    /// glusterd's log directory: brick logs under `bricks/`.
    pub log_dir: PathBuf,
    /// Where the bricks' unix sockets go (glusterd: always /var/run/gluster).
    pub socket_dir: PathBuf,
    /// The port bricks fetch their volfile from and sign in on (brickd's TCP port); passed as
    /// `--volfile-server-port` when it is not 24007.
    pub volfile_port: u16,
    /// The host bricks fetch their volfile from; `None`: the brick's own host name, as
    /// glusterd does.
    pub volfile_server: Option<String>,
    /// brickd's unix socket, when bricks and daemons fetch their volfile and sign in there
    /// (`--volfile-server-transport unix`) instead of over TCP.
    pub volfile_unix: Option<PathBuf>,
    /// The address brickd is bound to, if one: bricks listen there only (glusterd passes its
    /// own bind address on).
    pub bind_address: Option<IpAddr>,
    /// First brick port.
    pub base_port: u16,
    /// Last brick port.
    pub max_port: u16,
    /// How long a start waits for a brick to be up and signed in.
    pub start_timeout: Duration,
    /// How long a stop waits after SIGTERM before SIGKILL.
    pub stop_timeout: Duration,
    /// Restarts of bricks that die.
    pub restart: RestartPolicy,
}

impl ProcessConfig {
    /// glusterd's defaults: /usr/sbin/glusterfsd, /var/run/gluster, /var/log/glusterfs.
    pub fn glusterd_defaults() -> ProcessConfig {
        ProcessConfig {
            glusterfsd: PathBuf::from("/usr/sbin/glusterfsd"),
            glusterfs: PathBuf::from("/usr/sbin/glusterfs"),
            run_dir: PathBuf::from("/var/run/gluster"),
            log_dir: PathBuf::from("/var/log/glusterfs"),
            socket_dir: PathBuf::from(glusterfsd::SOCKET_DIR),
            volfile_port: DEFAULT_VOLFILE_PORT,
            volfile_server: None,
            volfile_unix: None,
            bind_address: None,
            base_port: BASE_PORT,
            max_port: MAX_PORT,
            start_timeout: Duration::from_secs(20),
            stop_timeout: Duration::from_secs(10),
            restart: RestartPolicy::default(),
        }
    }
}

/// What a process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A brick (`glusterfsd`).
    Brick,
    /// The volume's self-heal daemon (`glusterfs --process-name glustershd`), for replicate
    /// and disperse volumes.
    SelfHeal,
    /// The volume's snapshot daemon (`glusterfsd --process-name snapd`), for a volume with
    /// `features.uss on`: it listens on a port, and signs in as `snapd-<volume>`.
    Snapd,
}

/// The key of a volume's snapshot daemon in the [`BrickTable`]: the brick name it signs in
/// with and its clients ask the port of, `snapd-<volume>` (never an absolute path).
pub fn snapd_key(volume: &str) -> String {
    format!("snapd-{volume}")
}

/// The key of a volume's self-heal daemon in the [`BrickTable`] (never an absolute path, so
/// it cannot meet a brick's): `shd/<volume>`, its volfile id too.
pub fn self_heal_key(volume: &str) -> String {
    format!("shd/{volume}")
}

/// One brick process (or self-heal daemon) to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// A brick or the self-heal daemon.
    pub kind: Kind,
    /// The volume.
    pub volume: String,
    /// The brick's host name as stored.
    pub host: String,
    /// The brick's path; the daemon's [`self_heal_key`].
    pub path: String,
    /// The TCP port it is to listen on (0 for the self-heal daemon, which listens on none).
    pub port: u16,
    /// This node's UUID (`*-posix.glusterd-uuid`).
    pub node: Uuid,
    /// The volume's id: a brick is launched only if its root carries it (nil: not checked).
    pub volume_id: Uuid,
}

impl Launch {
    /// The self-heal daemon of `volume`, fetching its volfile from `host`.
    pub fn self_heal(volume: &str, host: &str, node: Uuid) -> Launch {
        Launch {
            kind: Kind::SelfHeal,
            volume: volume.to_string(),
            host: host.to_string(),
            path: self_heal_key(volume),
            port: 0,
            node,
            volume_id: Uuid::NIL,
        }
    }

    /// The snapshot daemon of `volume` on `port`, fetching its volfile from `host`.
    pub fn snapd(volume: &str, host: &str, node: Uuid, port: u16) -> Launch {
        Launch {
            kind: Kind::Snapd,
            volume: volume.to_string(),
            host: host.to_string(),
            path: snapd_key(volume),
            port,
            node,
            volume_id: Uuid::NIL,
        }
    }

    /// `<volume>.<host>.<dashed path>`; `shd/<volume>` for the self-heal daemon,
    /// `snapd/<volume>` for the snapshot daemon.
    pub fn volfile_id(&self) -> String {
        match self.kind {
            Kind::Brick => glusterfsd::volfile_id(&self.volume, &self.host, &self.path),
            Kind::SelfHeal => self_heal_key(&self.volume),
            Kind::Snapd => format!("snapd/{}", self.volume),
        }
    }

    /// The pid file the process writes: `<rundir>/vols/<v>/<host>-<path>.pid`, or
    /// `<rundir>/shd/<v>/<v>-shd.pid`.
    pub fn pid_file(&self, config: &ProcessConfig) -> PathBuf {
        match self.kind {
            Kind::Brick => {
                glusterfsd::pid_file(&config.run_dir, &self.volume, &self.host, &self.path)
            }
            Kind::SelfHeal => config
                .run_dir
                .join("shd")
                .join(&self.volume)
                .join(format!("{}-shd.pid", self.volume)),
            Kind::Snapd => config
                .run_dir
                .join("vols")
                .join(&self.volume)
                .join(format!("{}-snapd.pid", self.volume)),
        }
    }

    /// The process's log: `<logdir>/bricks/<path>.log`, or `<logdir>/glustershd.log`.
    pub fn log_file(&self, config: &ProcessConfig) -> PathBuf {
        match self.kind {
            Kind::Brick => glusterfsd::log_file(&config.log_dir, &self.path),
            Kind::SelfHeal => config.log_dir.join("glustershd.log"),
            Kind::Snapd => config
                .log_dir
                .join("snaps")
                .join(&self.volume)
                .join("snapd.log"),
        }
    }

    /// The process's unix socket; the daemon's hash is of `<rundir>/shd/<v>/run-<node uuid>`.
    pub fn socket_file(&self, config: &ProcessConfig) -> PathBuf {
        match self.kind {
            Kind::Brick => glusterfsd::socket_file_in(
                &config.socket_dir,
                &config.run_dir,
                &self.volume,
                &self.host,
                &self.path,
            ),
            Kind::SelfHeal => self.daemon_socket(config, "shd"),
            // `<rundir>/vols/<v>/run-<node uuid>`, hashed.
            Kind::Snapd => self.daemon_socket(config, "vols"),
        }
    }

    /// A daemon's unix socket: `<rundir>/<dir>/<v>/run-<node uuid>` hashed, as glusterd names it.
    fn daemon_socket(&self, config: &ProcessConfig, dir: &str) -> PathBuf {
        let key = (config.run_dir.join(dir).join(&self.volume)).join(format!("run-{}", self.node));
        let hash = glusterfsd::xxh64(key.as_os_str().as_encoded_bytes(), 0);
        config.socket_dir.join(format!("{hash:016x}.socket"))
    }

    /// The binary: glusterfsd for a brick, glusterfs for the daemon.
    pub fn binary<'a>(&self, config: &'a ProcessConfig) -> &'a Path {
        match self.kind {
            Kind::Brick | Kind::Snapd => &config.glusterfsd,
            Kind::SelfHeal => &config.glusterfs,
        }
    }

    /// glusterd 10.3's command line, in its order, and after it what brickd adds:
    /// `--volfile-server-port` when brickd is not on 24007 (glusterd never passes it).
    pub fn arguments(&self, config: &ProcessConfig) -> Vec<OsString> {
        match self.kind {
            Kind::SelfHeal => return self.self_heal_arguments(config),
            Kind::Snapd => return self.snapd_arguments(config),
            Kind::Brick => {}
        }
        let mut args: Vec<OsString> = Vec::with_capacity(24);
        args.push("-s".into());
        args.push(self.volfile_server(config));
        let mut push = |a: &str| args.push(a.into());
        push("--volfile-id");
        push(&self.volfile_id());
        args.push("-p".into());
        args.push(self.pid_file(config).into_os_string());
        args.push("-S".into());
        args.push(self.socket_file(config).into_os_string());
        args.push("--brick-name".into());
        args.push(self.path.clone().into());
        args.push("-l".into());
        args.push(self.log_file(config).into_os_string());
        let mut push = |a: String| args.push(a.into());
        push("--xlator-option".into());
        push(format!("*-posix.glusterd-uuid={}", self.node));
        push("--process-name".into());
        push("brick".into());
        push("--brick-port".into());
        push(self.port.to_string());
        push("--xlator-option".into());
        push(format!("{}-server.listen-port={}", self.volume, self.port));
        if let Some(address) = config.bind_address {
            push("--xlator-option".into());
            push(format!("transport.socket.bind-address={address}"));
        }
        args.extend(volfile_transport(config));
        args
    }

    /// `-s`'s value: brickd's unix socket, the configured server, or the brick's host.
    fn volfile_server(&self, config: &ProcessConfig) -> OsString {
        match (&config.volfile_unix, &config.volfile_server) {
            (Some(socket), _) => socket.clone().into_os_string(),
            (None, Some(server)) => server.into(),
            (None, None) => self.host.clone().into(),
        }
    }
}

/// What brickd adds to glusterd's command lines so a process reaches it: the unix socket's
/// transport, or the TCP port when it is not 24007.
fn volfile_transport(config: &ProcessConfig) -> Vec<OsString> {
    if config.volfile_unix.is_some() {
        return vec!["--volfile-server-transport".into(), "unix".into()];
    }
    if config.volfile_port != DEFAULT_VOLFILE_PORT {
        return vec![
            "--volfile-server-port".into(),
            config.volfile_port.to_string().into(),
        ];
    }
    Vec::new()
}

impl Launch {
    /// How both daemons' command lines start: `-s SERVER --volfile-id ID -p PIDFILE -l LOG`.
    fn daemon_head(&self, config: &ProcessConfig) -> Vec<OsString> {
        vec![
            "-s".into(),
            self.volfile_server(config),
            "--volfile-id".into(),
            self.volfile_id().into(),
            "-p".into(),
            self.pid_file(config).into_os_string(),
            "-l".into(),
            self.log_file(config).into_os_string(),
        ]
    }

    /// glusterd 10.3's self-heal daemon command line (docs/glusterd-volume-start.md, "Facts"
    /// 14), and `--volfile-server-port` when brickd is not on 24007.
    fn self_heal_arguments(&self, config: &ProcessConfig) -> Vec<OsString> {
        let mut args = self.daemon_head(config);
        args.extend([
            "-S".into(),
            self.socket_file(config).into_os_string(),
            "--xlator-option".into(),
            format!("*replicate*.node-uuid={}", self.node).into(),
            "--process-name".into(),
            "glustershd".into(),
            "--client-pid=-6".into(),
        ]);
        args.extend(volfile_transport(config));
        args
    }

    /// glusterd 10.3's snapshot daemon command line (no bind address: it listens on every
    /// address, as glusterd's), and `--volfile-server-port` when brickd is not on 24007.
    fn snapd_arguments(&self, config: &ProcessConfig) -> Vec<OsString> {
        let mut args = self.daemon_head(config);
        args.extend([
            "--brick-name".into(),
            self.path.clone().into(),
            "-S".into(),
            self.socket_file(config).into_os_string(),
            "--process-name".into(),
            "snapd".into(),
            "--brick-port".into(),
            self.port.to_string().into(),
            "--xlator-option".into(),
            format!("{}-server.listen-port={}", self.volume, self.port).into(),
            "--no-mem-accounting".into(),
        ]);
        args.extend(volfile_transport(config));
        args
    }
}

/// A port for a brick, as glusterd 10.3 picks one: from a random start in
/// `base..=max`, upward (wrapping), the first that `taken` does not claim and that a test
/// `bind` on `address` (glusterd: INADDR_ANY) accepts. `None` if every port is in use.
pub fn allocate_port(
    base: u16,
    max: u16,
    address: Option<IpAddr>,
    taken: impl Fn(u16) -> bool,
) -> Option<u16> {
    if base > max {
        return None;
    }
    let span = u32::from(max - base) + 1;
    let mut seed = [0u8; 4];
    let start = match getrandom::fill(&mut seed) {
        Ok(()) => u32::from_le_bytes(seed) % span,
        Err(_) => 0,
    };
    let address = address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    (0..span)
        .map(|i| base + ((start + i) % span) as u16)
        .find(|&port| !taken(port) && port_is_free(SocketAddr::new(address, port)))
}

fn port_is_free(address: SocketAddr) -> bool {
    let Ok(socket) = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        None,
    ) else {
        return false;
    };
    socket.bind(&address.into()).is_ok()
}

/// Why a brick could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LaunchError(pub String);

/// Starts a brick process and waits until it is up: glusterfsd's first process exits 0 once
/// its daemon has fetched the volfile and built the graph (non-zero if that failed); the
/// daemon's pid is then in the pid file. Blocks: call it from a thread of its own. On failure
/// the reason is the last error line the brick logged.
pub fn launch(config: &ProcessConfig, brick: &Launch) -> Result<i32, LaunchError> {
    if brick.kind == Kind::Brick && brick.volume_id != Uuid::NIL {
        check_volume_id(brick)?;
    }
    let pid_file = brick.pid_file(config);
    let log_file = brick.log_file(config);
    let socket = brick.socket_file(config);
    for dir in [pid_file.parent(), log_file.parent(), socket.parent()]
        .into_iter()
        .flatten()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| LaunchError(format!("cannot create {}: {e}", dir.display())))?;
    }
    // A stale socket or pid file of an earlier run (glusterd unlinks the socket too).
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&pid_file);
    let log_from = std::fs::metadata(&log_file).map(|m| m.len()).unwrap_or(0);
    let status = std::process::Command::new(brick.binary(config))
        .args(brick.arguments(config))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| LaunchError(format!("cannot run {}: {e}", config.glusterfsd.display())))?;
    let why = || {
        error_from_log(&log_file, log_from, Which::First).unwrap_or_else(|| {
            format!(
                "glusterfsd exited with {status}; see {}",
                log_file.display()
            )
        })
    };
    if !status.success() {
        return Err(LaunchError(why()));
    }
    match read_pid_file(&pid_file) {
        Some(pid) if process_alive(pid) => Ok(pid),
        _ => Err(LaunchError(why())),
    }
}

/// Refuses a brick whose root does not carry its volume's id (a file system not mounted, a
/// directory removed or reused), as glusterd refuses to start it; glusterd's reason.
fn check_volume_id(brick: &Launch) -> Result<(), LaunchError> {
    let refused = || {
        LaunchError(format!(
            "Missing trusted.glusterfs.volume-id extended attribute on brick root ({}), brick is deemed not to be a part of the volume ({})",
            brick.path, brick.volume
        ))
    };
    let path = std::ffi::CString::new(brick.path.as_bytes()).map_err(|_| refused())?;
    let mut value = [0u8; 16];
    // SAFETY: the path and name are NUL-terminated; the buffer is 16 writable bytes.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            c"trusted.glusterfs.volume-id".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    if n != 16 || &value != brick.volume_id.as_bytes() {
        return Err(refused());
    }
    Ok(())
}

/// The pid in a pid file glusterfsd wrote.
pub fn read_pid_file(path: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(path).ok()?;
    text.trim().parse().ok().filter(|&pid: &i32| pid > 0)
}

/// Whether process `pid` exists (and is not a zombie).
pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Whether `pid` is the brick process of `brick`: its command line names the brick's volfile
/// id and brick path (a pid file may outlive its process, and the pid be reused).
pub fn is_brick_process(pid: i32, brick: &Launch) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let follows = |flag: &str, value: &str| {
        args.windows(2)
            .any(|w| w[0] == flag.as_bytes() && w[1] == value.as_bytes())
    };
    match brick.kind {
        Kind::Brick => {
            follows("--volfile-id", &brick.volfile_id()) && follows("--brick-name", &brick.path)
        }
        Kind::SelfHeal => {
            follows("--volfile-id", &brick.volfile_id()) && follows("--process-name", "glustershd")
        }
        Kind::Snapd => {
            follows("--volfile-id", &brick.volfile_id()) && follows("--process-name", "snapd")
        }
    }
}

/// The port a running brick process was started with (`--brick-port`).
pub fn brick_port_of(pid: i32) -> Option<u16> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    args.windows(2)
        .find(|w| w[0] == b"--brick-port")
        .and_then(|w| std::str::from_utf8(w[1]).ok()?.parse().ok())
}

/// Which error line of a log says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The first: a start that failed (the lines after it are its consequences).
    First,
    /// The last: a process that died while it ran.
    Last,
}

/// An error line (` E ` level) a brick logged after byte `from` of its log, without the
/// timestamp and source location: what the operator needs to see.
pub fn error_from_log(log: &Path, from: u64, which: Which) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(log).ok()?;
    let len = file.metadata().ok()?.len();
    let start = from.max(len.saturating_sub(LOG_TAIL_BYTES_MAX));
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::new();
    file.take(LOG_TAIL_BYTES_MAX).read_to_end(&mut tail).ok()?;
    let text = String::from_utf8_lossy(&tail);
    let is_error = |l: &&str| l.contains("] E [");
    let line = match which {
        Which::First => text.lines().find(is_error)?,
        Which::Last => text.lines().rev().find(is_error)?,
    };
    // `[time] E [MSGID: n] [file.c:line:fn] 0-xlator: message`: keep from the xlator on.
    let message = line
        .rsplit_once("] ")
        .map(|(_, m)| m)
        .unwrap_or(line)
        .trim();
    Some(message.to_string())
}

/// Most bytes of a GD_BRICK reply read back (a STATUS of a brick with many clients).
const BRICK_REPLY_BYTES_MAX: usize = 4 << 20;

/// Asks brick process `brick` to shut down: GD_BRICK TERMINATE over its unix socket `socket`,
/// as glusterd does for a multiplexed brick. The brick answers and exits; a connection it
/// closes before its answer counts as done too. Blocks (at most about `timeout` per step):
/// call it from a thread of its own.
pub fn terminate(socket: &Path, brick: &str, timeout: Duration) -> Result<(), String> {
    use crate::proto::brick_op;
    match brick_call(socket, brick_op::PROC_TERMINATE, brick, &[], timeout) {
        Ok(_) | Err(BrickCallError::Closed) => Ok(()),
        Err(BrickCallError::Failed(e)) => Err(format!("TERMINATE: {e}")),
    }
}

/// Asks a brick process for its status (GD_BRICK STATUS, as glusterd does for `volume status
/// … clients`): `input` is the serialized request dict (`brick-name`, `volname`, `cmd`); the
/// answer is the brick's output dict, serialized. Blocks: call it from a thread of its own.
pub fn brick_status(socket: &Path, input: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    use crate::proto::brick_op;
    brick_call(socket, brick_op::PROC_STATUS, "", input, timeout).map_err(|e| match e {
        BrickCallError::Closed => "STATUS: the brick closed the connection".to_string(),
        BrickCallError::Failed(e) => format!("STATUS: {e}"),
    })
}

/// Why a GD_BRICK call got no answer.
enum BrickCallError {
    /// The brick closed the connection before answering.
    Closed,
    /// Anything else, said.
    Failed(String),
}

/// One GD_BRICK call (`gd1_mgmt_brick_op_req { name, op = proc, input, dict = "" }`) over
/// the brick's unix socket; the reply's output when op_ret is 0.
fn brick_call(
    socket: &Path,
    proc_num: u32,
    name: &str,
    input: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, BrickCallError> {
    use crate::proto::{auth, brick_op, rpc};
    use std::io::{Read, Write};
    let failed = BrickCallError::Failed;
    let mut stream = std::os::unix::net::UnixStream::connect(socket)
        .map_err(|e| failed(format!("connect {}: {e}", socket.display())))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let mut record = Vec::with_capacity(132 + input.len());
    crate::proto::calls::encode_call_record(
        &mut record,
        &rpc::CallHeader {
            xid: 1,
            prog: brick_op::PROGRAM,
            vers: brick_op::VERSION,
            proc_num,
            cred: rpc::OpaqueAuth {
                flavor: auth::AUTH_GLUSTERFS_V2,
                body: &auth::CLI_CREDENTIAL_V2,
            },
            verf: rpc::OpaqueAuth::NULL,
        },
        |out| {
            brick_op::encode_req(
                out,
                &brick_op::BrickOpReq {
                    name,
                    op: proc_num as i32,
                    input,
                    dict: &[],
                },
            )
        },
    );
    stream
        .write_all(&record)
        .map_err(|e| failed(format!("send: {e}")))?;
    let mut head = [0u8; 4];
    match stream.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(BrickCallError::Closed),
        Err(e) => return Err(failed(format!("reply: {e}"))),
    }
    let len = (u32::from_be_bytes(head) & 0x7fff_ffff) as usize;
    if len > BRICK_REPLY_BYTES_MAX {
        return Err(failed(format!(
            "reply of {len} bytes; at most {BRICK_REPLY_BYTES_MAX}"
        )));
    }
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .map_err(|e| failed(format!("reply: {e}")))?;
    let (header, results) = rpc::decode_reply(&body).map_err(|e| failed(format!("reply: {e}")))?;
    if header.status != rpc::ReplyStatus::Success {
        return Err(failed(format!("refused: {:?}", header.status)));
    }
    let rsp = brick_op::decode_rsp(results).map_err(|e| failed(format!("reply: {e}")))?;
    if rsp.op_ret != 0 {
        return Err(failed(format!(
            "{} (errno {})",
            rsp.op_errstr, rsp.op_errno
        )));
    }
    Ok(rsp.output.to_vec())
}

/// Sends `signal` to `pid`.
pub fn signal(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill(2) has no memory effects; a bad pid is an error return.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A pidfd for `pid`: readable once the process has exited.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes two integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd, owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A brick process that exited ([`Watcher`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exited {
    /// What the watch was registered with.
    pub key: u64,
    /// The process.
    pub pid: i32,
}

/// Most processes one watcher follows.
pub const WATCHED_MAX: usize = 65_536;

struct WatchList {
    added: Vec<(OwnedFd, i32, u64)>,
}

/// One thread that learns the moment a watched process exits: it polls a pidfd per process
/// (and an eventfd that says the list changed) and reports each exit once, through the
/// channel [`Watcher::start`] returns. No polling of pid files, no timer.
pub struct Watcher {
    list: Arc<Mutex<WatchList>>,
    wake: Arc<OwnedFd>,
}

impl Watcher {
    /// Starts the thread; exits arrive on the receiver.
    pub fn start() -> io::Result<(Watcher, futures_channel::mpsc::UnboundedReceiver<Exited>)> {
        // SAFETY: eventfd(2) takes two integers and returns a new fd or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new fd, owned by no one else.
        let wake = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        let list = Arc::new(Mutex::new(WatchList { added: Vec::new() }));
        let (tx, rx) = futures_channel::mpsc::unbounded();
        let (thread_list, thread_wake) = (list.clone(), wake.clone());
        std::thread::Builder::new()
            .name("brickd-watch".into())
            .spawn(move || watch_loop(&thread_list, &thread_wake, &tx))?;
        Ok((Watcher { list, wake }, rx))
    }

    /// Watches `pid`; its exit is reported with `key` (at once if it is already gone).
    pub fn watch(&self, pid: i32, key: u64) -> io::Result<()> {
        let fd = pidfd_open(pid)?;
        {
            let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
            if list.added.len() >= WATCHED_MAX {
                return Err(io::Error::other("too many watched processes"));
            }
            list.added.push((fd, pid, key));
        }
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own.
        unsafe {
            libc::write(
                self.wake.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        Ok(())
    }
}

fn watch_loop(
    list: &Mutex<WatchList>,
    wake: &OwnedFd,
    exits: &futures_channel::mpsc::UnboundedSender<Exited>,
) {
    let mut watched: Vec<(OwnedFd, i32, u64)> = Vec::new();
    loop {
        {
            let mut list = list.lock().unwrap_or_else(|p| p.into_inner());
            watched.append(&mut list.added);
        }
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(watched.len() + 1);
        fds.push(libc::pollfd {
            fd: wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        fds.extend(watched.iter().map(|(fd, _, _)| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }));
        // SAFETY: `fds` is a live array of `fds.len()` pollfd structs.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            tracing::error!(error = %io::Error::last_os_error(), "brick watcher stopped");
            return;
        }
        if fds[0].revents != 0 {
            let mut count = 0u64;
            // SAFETY: reads 8 bytes into a live u64 from an eventfd we own.
            unsafe {
                libc::read(
                    wake.as_raw_fd(),
                    (&mut count as *mut u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
        }
        let gone: Vec<usize> = fds[1..]
            .iter()
            .enumerate()
            .filter(|(_, p)| p.revents != 0)
            .map(|(i, _)| i)
            .collect();
        for &i in gone.iter().rev() {
            let (_, pid, key) = watched.swap_remove(i);
            if exits.unbounded_send(Exited { key, pid }).is_err() {
                return;
            }
        }
    }
}

/// A local brick's run-time state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BrickRun {
    /// The volume.
    pub volume: String,
    /// The brick's host name.
    pub host: String,
    /// The brick process, 0 if none.
    pub pid: i32,
    /// The port it signed in with (or was started with), 0 if none.
    pub port: u16,
    /// Up and serving: running and signed in (or adopted running).
    pub online: bool,
    /// Why the brick is down, when it failed.
    pub reason: String,
    /// Restarts after it died, since it last ran stably.
    pub restarts: u32,
}

/// Every local brick's run-time state, by brick path: one node-wide table, read by every
/// shard without a lock (an `ArcSwap` of an immutable map; a change copies the map, as a brick
/// starts, stops, signs in or dies: rare), and the waits for bricks to sign in.
#[derive(Default)]
pub struct BrickTable {
    map: ArcSwap<BTreeMap<String, BrickRun>>,
    waiters: Mutex<HashMap<String, Vec<futures_channel::oneshot::Sender<()>>>>,
}

impl std::fmt::Debug for BrickTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.map.load().iter()).finish()
    }
}

impl BrickTable {
    /// The state of brick `path`.
    pub fn get(&self, path: &str) -> Option<BrickRun> {
        self.map.load().get(path).cloned()
    }

    /// The whole table (a snapshot).
    pub fn snapshot(&self) -> Arc<BTreeMap<String, BrickRun>> {
        self.map.load_full()
    }

    /// Changes brick `path`'s entry: `change` gets the current one (if any) and returns the
    /// new one (`None` removes it). Races with other changes are retried (compare-and-swap).
    pub fn update(&self, path: &str, change: impl Fn(Option<&BrickRun>) -> Option<BrickRun>) {
        self.map.rcu(|map| {
            let mut next = BTreeMap::clone(map);
            match change(map.get(path)) {
                Some(run) => {
                    next.insert(path.to_string(), run);
                }
                None => {
                    next.remove(path);
                }
            }
            next
        });
    }

    /// PMAP SIGNIN: brick `path` is up on `port` (pid `pid`, 0 if the brick did not say).
    /// Wakes whoever waits for it.
    pub fn signed_in(&self, path: &str, port: u16, pid: i32) {
        self.update(path, |old| {
            let mut run = old.cloned().unwrap_or_default();
            run.port = port;
            if pid > 0 {
                run.pid = pid;
            }
            run.online = true;
            run.reason.clear();
            Some(run)
        });
        let waiting = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(path);
        for tx in waiting.into_iter().flatten() {
            let _ = tx.send(());
        }
    }

    /// PMAP SIGNOUT: brick `path` stops serving.
    pub fn signed_out(&self, path: &str) {
        self.update(path, |old| {
            old.map(|run| BrickRun {
                online: false,
                ..run.clone()
            })
        });
    }

    /// Answers once brick `path` signs in (dropped unanswered if the table goes).
    pub fn wait_signin(&self, path: &str) -> futures_channel::oneshot::Receiver<()> {
        let (tx, rx) = futures_channel::oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(path.to_string())
            .or_default()
            .push(tx);
        rx
    }

    /// PORTBYBRICK: the port of brick `path` if it is online.
    pub fn port_of(&self, path: &str) -> Option<u16> {
        self.map
            .load()
            .get(path)
            .filter(|r| r.online && r.port != 0)
            .map(|r| r.port)
    }

    /// BRICKBYPORT: the online brick on `port`.
    pub fn brick_on(&self, port: u16) -> Option<String> {
        self.map
            .load()
            .iter()
            .find(|(_, r)| r.online && r.port == port)
            .map(|(path, _)| path.clone())
    }

    /// Whether a brick other than `except` holds `port` (running, starting, or down and
    /// keeping it for its restart).
    pub fn port_taken(&self, port: u16, except: &str) -> bool {
        self.map
            .load()
            .iter()
            .any(|(path, r)| r.port == port && path != except)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brick() -> Launch {
        Launch {
            kind: Kind::Brick,
            volume_id: Uuid::NIL,
            volume: "v1".into(),
            host: "127.5.5.5".into(),
            path: "/tmp/obs/mnt/b1/data".into(),
            port: 50712,
            node: Uuid::parse("96a7d842-81d5-4ef1-b3f7-264e137074de").unwrap(),
        }
    }

    #[test]
    fn the_command_line_is_glusterds_for_the_same_brick() {
        // docs/glusterd-volume-start.md §1.1, the 1-brick volume v1 with glusterd bound to
        // 127.5.5.5 and run directory /tmp/obs/r.
        let config = ProcessConfig {
            run_dir: "/tmp/obs/r".into(),
            bind_address: Some("127.5.5.5".parse().unwrap()),
            ..ProcessConfig::glusterd_defaults()
        };
        let line: Vec<String> = brick()
            .arguments(&config)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            line.join(" "),
            "-s 127.5.5.5 --volfile-id v1.127.5.5.5.tmp-obs-mnt-b1-data \
             -p /tmp/obs/r/vols/v1/127.5.5.5-tmp-obs-mnt-b1-data.pid \
             -S /var/run/gluster/a2f298633e3ff581.socket --brick-name /tmp/obs/mnt/b1/data \
             -l /var/log/glusterfs/bricks/tmp-obs-mnt-b1-data.log \
             --xlator-option *-posix.glusterd-uuid=96a7d842-81d5-4ef1-b3f7-264e137074de \
             --process-name brick --brick-port 50712 \
             --xlator-option v1-server.listen-port=50712 \
             --xlator-option transport.socket.bind-address=127.5.5.5"
        );
        // brickd on another port tells the brick where to fetch its volfile.
        let elsewhere = ProcessConfig {
            volfile_port: 24507,
            ..config
        };
        let line = brick().arguments(&elsewhere);
        assert_eq!(
            &line[line.len() - 2..],
            &[OsString::from("--volfile-server-port"), "24507".into()]
        );
    }

    #[test]
    fn ports_come_from_the_range_and_skip_taken_and_bound_ones() {
        let held = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let busy = held.local_addr().unwrap().port();
        // A range of one port that is bound: none.
        assert_eq!(allocate_port(busy, busy, None, |_| false), None);
        // A range of two: the free one, whatever the random start.
        let other = if busy == u16::MAX { busy - 1 } else { busy + 1 };
        let (lo, hi) = (busy.min(other), busy.max(other));
        if port_is_free(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), other)) {
            for _ in 0..8 {
                assert_eq!(allocate_port(lo, hi, None, |_| false), Some(other));
            }
            assert_eq!(allocate_port(lo, hi, None, |p| p == other), None);
        }
        assert_eq!(allocate_port(10, 9, None, |_| false), None);
        let port = allocate_port(BASE_PORT, MAX_PORT, None, |_| false).unwrap();
        assert!((BASE_PORT..=MAX_PORT).contains(&port));
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let policy = RestartPolicy::default();
        assert_eq!(policy.backoff(0), Duration::from_millis(200));
        assert_eq!(policy.backoff(1), Duration::from_millis(400));
        assert_eq!(policy.backoff(3), Duration::from_millis(1600));
        assert_eq!(policy.backoff(40), Duration::from_secs(30));
    }

    #[test]
    fn the_reason_is_the_last_error_line_after_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("b.log");
        std::fs::write(
            &log,
            "[2026-12-06 16:00:00.1] E [MSGID: 1] [a.c:1:f] 0-old: an old failure\n",
        )
        .unwrap();
        let from = std::fs::metadata(&log).unwrap().len();
        assert_eq!(error_from_log(&log, from, Which::Last), None);
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(
            f,
            "[2026-12-06 16:00:01.1] I [MSGID: 2] [b.c:2:g] 0-x: fine"
        )
        .unwrap();
        writeln!(f, "[2026-12-06 16:00:01.2] E [MSGID: 115047] [index.c:2518:init] 0-v1-index: Failed to find parent dir (/b/.glusterfs) of index basepath /b/.glusterfs/indices.").unwrap();
        writeln!(f, "[2026-12-06 16:00:01.3] E [MSGID: 101176] [graph.c:765:glusterfs_graph_activate] 0-graph: init failed").unwrap();
        writeln!(
            f,
            "[2026-12-06 16:00:01.4] W [MSGID: 3] [c.c:3:h] 0-x: a warning"
        )
        .unwrap();
        assert_eq!(
            error_from_log(&log, from, Which::First).as_deref(),
            Some("0-v1-index: Failed to find parent dir (/b/.glusterfs) of index basepath /b/.glusterfs/indices.")
        );
        assert_eq!(
            error_from_log(&log, from, Which::Last).as_deref(),
            Some("0-graph: init failed")
        );
        assert_eq!(
            error_from_log(&dir.path().join("none.log"), 0, Which::First),
            None
        );
    }

    #[test]
    fn the_watcher_reports_a_process_that_exits() {
        let (watcher, mut exits) = Watcher::start().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        assert!(process_alive(pid));
        watcher.watch(pid, 7).unwrap();
        child.kill().unwrap();
        let _ = child.wait();
        let got = futures_lite::future::block_on(futures_util::StreamExt::next(&mut exits));
        assert_eq!(got, Some(Exited { key: 7, pid }));
        assert!(!process_alive(pid));
    }

    #[test]
    fn signin_makes_a_brick_online_and_wakes_its_waiters() {
        let table = BrickTable::default();
        let wait = table.wait_signin("/b1");
        assert_eq!(table.port_of("/b1"), None);
        table.signed_in("/b1", 50000, 42);
        assert_eq!(futures_lite::future::block_on(wait), Ok(()));
        assert_eq!(table.port_of("/b1"), Some(50000));
        assert_eq!(table.brick_on(50000).as_deref(), Some("/b1"));
        assert!(table.port_taken(50000, "/b2"));
        assert!(!table.port_taken(50000, "/b1"));
        assert!(!table.port_taken(50001, "/b2"));
        table.signed_out("/b1");
        assert_eq!(table.port_of("/b1"), None);
        assert_eq!(table.get("/b1").unwrap().pid, 42);
    }
}
