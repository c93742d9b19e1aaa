//! Operations: one file per RPC program or operation. An operation decodes its arguments with
//! `proto`, reads or changes state, and encodes its reply. It never touches sockets (that is
//! `server`) and never writes files directly (that is `store` and `brick`).

pub mod admin;
pub mod bricks;
pub mod catalog;
pub mod cli;
pub mod cmd_log;
pub mod commit;
mod engine_io;
mod failpoints;
pub mod handshake;
pub mod journal;
pub mod local_node;
pub mod mgmt_v3;
pub mod participant;
pub mod peer_list;
pub mod pool;
pub mod portmap;
pub mod recover;
pub mod remote;
pub mod shard;
pub mod uuid_reset;
pub mod volume_create;
pub mod volume_delete;
pub mod volume_info;
pub mod volume_options;
pub mod volume_start;
pub mod volume_status;

use crate::brick::engine::Engine;
use crate::lvm::LvmClient;
use crate::model::NodeIdentity;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// Node-wide facts every shard holds a read-only copy of.
#[derive(Debug, Clone)]
pub struct NodeContext {
    /// The workdir (`GETWD` answers it).
    pub workdir: PathBuf,
    /// This node's identity (`glusterd.info`), shared by every shard (its UUID can change:
    /// `system uuid reset`).
    pub node: Arc<NodeIdentity>,
    /// The pool: every peer (`peers/`, in file-name order at start-up) with its connection
    /// state; changed by the change shard only, read by every shard.
    pub peers: Arc<crate::cluster::pool::SharedPool>,
    /// The brick engine; `None` if io_uring could not be set up (then brick operations fail
    /// with a message saying so).
    pub engine: Option<Engine>,
    /// The LVM helper, started the first time a `?VG` brick needs it (`None` inside: it could
    /// not start). Shared by every shard.
    pub lvm: Arc<OnceLock<Option<LvmClient>>>,
    /// Numbers commit journal records across the shards (`store::journal`).
    pub journal_seq: Arc<std::sync::atomic::AtomicU64>,
    /// Every local brick's run-time state (pid, port, online): one table for the node, read
    /// by every shard's portmap and status without a lock.
    pub bricks: Arc<crate::brick::process::BrickTable>,
    /// Where brick processes and their files go, and how they are run.
    pub processes: Arc<crate::brick::process::ProcessConfig>,
    /// `cmd_history.log` in the log directory: the CLI's changes and their outcomes.
    pub cmd_log: Arc<cmd_log::CmdLog>,
    /// How long a call to a peer may go unanswered (glusterd's frame-timeout).
    pub peer_frame_timeout: std::time::Duration,
    /// glusterd's ping-timeout for peers (`None`: no pings, glusterd's stock setting).
    pub peer_ping_timeout: Option<std::time::Duration>,
}
