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
        }
    }
}
