//! Command-line configuration: `brickd serve` flags into one [`ServerConfig`].

use crate::server::{InitialState, Limits, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `brickd serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Working directory: the glusterd-compatible store, and `run/` for statedumps.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/brickd")]
    pub workdir: PathBuf,
    /// Unix socket for the gluster CLI (`gluster --glusterd-sock=PATH`).
    #[arg(long, value_name = "PATH", default_value = "/var/run/brickd.socket")]
    pub socket: PathBuf,
    /// TCP address for peers and `gluster --remote-host` (glusterd's is 0.0.0.0:24007).
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:24007")]
    pub listen: SocketAddr,
    /// Serve no TCP listener at all (unix socket only).
    #[arg(long)]
    pub no_tcp: bool,
    /// Number of shards, one pinned executor each (default: online cores).
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// Log level or filter (error, warn, info, debug, trace, or a tracing filter).
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub log_level: String,
    /// Cap on one reassembled RPC record, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::proto::record::RECORD_BYTES_MAX_DEFAULT)]
    pub record_bytes_max: usize,
    /// Asynchronous calls in flight per connection before it stops reading.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub inflight_max: usize,
    /// Open connections per shard.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub connections_per_shard_max: usize,
    /// Do not pin shards to cores. Pinning suits dedicated cores; on a small shared machine
    /// (a VM where the load generator runs too) unpinned shards can cost less CPU per request.
    #[arg(long)]
    pub no_pin: bool,
    /// Microseconds an idle shard keeps polling before it sleeps (0: sleep at once). Trades
    /// CPU for latency.
    #[arg(long, value_name = "US", default_value_t = 0)]
    pub spin_before_park_us: u64,
    /// Scheduler slice, in microseconds, that brickd's threads ask the kernel for (Linux 6.12
    /// and later; 100 to 100000, 0 keeps the kernel's): a short one lets a thread that wakes
    /// run sooner when other work holds the CPUs, without a larger share of them.
    #[arg(long, value_name = "US", default_value_t = crate::server::sched::DEFAULT_SLICE.as_micros() as u64)]
    pub sched_slice_us: u64,
    /// Let background file work (the store files written after a reply, the trash, journal
    /// retirement) run on any CPU. By default, with pinned shards, it stays off the core of
    /// the shard that makes every change: faster changes on a quiet node, slower deletes on
    /// a two-CPU machine whose other CPU is kept busy (perf/RESULTS.md).
    #[arg(long)]
    pub background_anywhere: bool,
    /// glusterd's run directory: brick pid files go under `vols/<volume>/`.
    #[arg(long, value_name = "DIR", default_value = "/var/run/gluster")]
    pub run_dir: PathBuf,
    /// glusterd's log directory: brick logs go under `bricks/`.
    #[arg(long, value_name = "DIR", default_value = "/var/log/glusterfs")]
    pub log_dir: PathBuf,
    /// Where brick processes' unix sockets go (glusterd: always /var/run/gluster).
    #[arg(long, value_name = "DIR", default_value = "/var/run/gluster")]
    pub brick_socket_dir: PathBuf,
    /// The brick server binary.
    #[arg(long, value_name = "PATH", default_value = "/usr/sbin/glusterfsd")]
    pub glusterfsd: PathBuf,
    /// The client binary self-heal daemons run.
    #[arg(long, value_name = "PATH", default_value = "/usr/sbin/glusterfs")]
    pub glusterfs: PathBuf,
    /// First port for brick processes (glusterd's base-port).
    #[arg(long, value_name = "PORT", default_value_t = crate::brick::process::BASE_PORT)]
    pub base_port: u16,
    /// Last port for brick processes (glusterd's max-port).
    #[arg(long, value_name = "PORT", default_value_t = crate::brick::process::MAX_PORT)]
    pub max_port: u16,
    /// Host bricks fetch their volfile from (default: the brick's own host name, as glusterd).
    #[arg(long, value_name = "HOST")]
    pub volfile_server: Option<String>,
    /// Bricks and self-heal daemons fetch their volfile and sign in over brickd's unix socket
    /// (`--volfile-server-transport unix`), not TCP; the only way when brickd serves no TCP.
    #[arg(long)]
    pub bricks_via_unix_socket: bool,
    /// Do not restart brick processes that die (glusterd's behaviour).
    #[arg(long)]
    pub no_brick_restart: bool,
    /// First wait before restarting a brick process that died, in milliseconds; doubled
    /// after each restart that dies again.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub brick_restart_backoff_ms: u64,
    /// Longest wait between restarts of a brick process, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub brick_restart_backoff_max_ms: u64,
    /// Seconds a restarted brick must run for its backoff to start over.
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub brick_stable_s: u64,
    /// Restarts in a row of a brick that keeps dying before it is left down.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub brick_restarts_max: u32,
    /// Seconds a call to a peer (a probe, a transaction's phase) may go unanswered before it
    /// fails (glusterd's frame-timeout for peers, "call-bail").
    #[arg(long, value_name = "S", default_value_t = 600)]
    pub peer_frame_timeout_s: u64,
    /// Seconds without an answer to a PING (sent only while calls to the peer are in flight)
    /// before a peer's connection is dropped; 0 sends no pings (glusterd's stock setting).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub peer_ping_timeout_s: u64,
    /// Register the "brickd test" RPC program (for the test suite only).
    #[arg(long, hide = true)]
    pub enable_test_program: bool,
}

impl ServeArgs {
    /// The server configuration these flags describe, serving `initial` (the loaded workdir).
    pub fn server_config(&self, initial: InitialState) -> ServerConfig {
        let shards = self.shards.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        ServerConfig {
            initial: std::sync::Arc::new(initial),
            workdir: self.workdir.clone(),
            socket: Some(self.socket.clone()),
            listen: (!self.no_tcp).then_some(self.listen),
            shards: shards.max(1),
            limits: Limits {
                record_bytes_max: self.record_bytes_max.max(64),
                inflight_max: self.inflight_max.max(1),
                connections_per_shard_max: self.connections_per_shard_max.max(1),
            },
            enable_test_program: self.enable_test_program,
            pin_shards: !self.no_pin,
            spin_before_park: (self.spin_before_park_us > 0)
                .then(|| std::time::Duration::from_micros(self.spin_before_park_us)),
            sched_slice: (self.sched_slice_us > 0)
                .then(|| std::time::Duration::from_micros(self.sched_slice_us)),
            background_off_change_core: !self.background_anywhere,
            processes: self.process_config(),
            peer_frame_timeout: std::time::Duration::from_secs(self.peer_frame_timeout_s.max(1)),
            peer_ping_timeout: (self.peer_ping_timeout_s > 0)
                .then(|| std::time::Duration::from_secs(self.peer_ping_timeout_s)),
        }
    }

    /// How brick processes are run.
    pub fn process_config(&self) -> crate::brick::process::ProcessConfig {
        use crate::brick::process::{ProcessConfig, RestartPolicy};
        use std::time::Duration;
        let defaults = ProcessConfig::glusterd_defaults();
        let bind = (!self.listen.ip().is_unspecified()).then_some(self.listen.ip());
        ProcessConfig {
            glusterfsd: self.glusterfsd.clone(),
            glusterfs: self.glusterfs.clone(),
            run_dir: self.run_dir.clone(),
            log_dir: self.log_dir.clone(),
            socket_dir: self.brick_socket_dir.clone(),
            volfile_port: self.listen.port(),
            volfile_server: self
                .volfile_server
                .clone()
                .or_else(|| bind.map(|a| a.to_string())),
            volfile_unix: (self.bricks_via_unix_socket || self.no_tcp)
                .then(|| std::path::absolute(&self.socket).unwrap_or_else(|_| self.socket.clone())),
            bind_address: bind,
            base_port: self.base_port,
            max_port: self.max_port,
            restart: RestartPolicy {
                enabled: !self.no_brick_restart,
                backoff_first: Duration::from_millis(self.brick_restart_backoff_ms.max(1)),
                backoff_max: Duration::from_millis(self.brick_restart_backoff_max_ms.max(1)),
                attempts_max: self.brick_restarts_max,
                stable_after: Duration::from_secs(self.brick_stable_s),
            },
            ..defaults
        }
    }
}
