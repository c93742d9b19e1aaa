//! Operations: one file per RPC program or operation. An operation decodes its arguments with
//! `proto`, reads or changes state, and encodes its reply. It never touches sockets (that is
//! `server`) and never writes files directly (that is `store` and `brick`).

pub mod cli;
pub mod peer_list;
pub mod shard;
pub mod volume_info;
pub mod volume_status;

use crate::model::{NodeInfo, Peer};
use std::path::PathBuf;

/// Node-wide facts every shard holds a read-only copy of.
#[derive(Debug, Clone)]
pub struct NodeContext {
    /// The workdir (`GETWD` answers it).
    pub workdir: PathBuf,
    /// This node's identity (`glusterd.info`).
    pub node: NodeInfo,
    /// The peers (`peers/`), in file-name order.
    pub peers: Vec<Peer>,
}
