//! The glusterd-compatible working directory: the node identity, peers and volumes in
//! glusterd 10.3's on-disk format, so that brickd can start on a workdir glusterd wrote and
//! glusterd could start on one brickd wrote.
//!
//! `store` owns the file formats (`kv`, `cksum`, `render`, `decode` are pure code over bytes
//! and model values) and the file I/O (`load`, `write`, `atomic`, with `std::fs`; the writes
//! may later move onto the brick engine). It uses [`crate::model`] and nothing else of brickd;
//! it knows nothing of sockets, shards or transactions, and it never decides what to change:
//! callers hand it the model values to store.
//!
//! Reading follows glusterd's rules, writing its atomic protocol and key order; where brickd
//! differs (it refuses some damage glusterd would misread), `docs/store.md` says so.

mod atomic;
pub mod cksum;
mod decode;
mod error;
pub mod journal;
pub mod kv;
pub mod layout;
mod load;
pub mod render;
mod write;

pub use atomic::{tmp_path, write_atomic, write_kv_file, StagedFile, TMP_SUFFIX};
pub use cksum::VolumeChecksum;
pub use error::StoreError;
pub use write::PreparedVolume;

/// A `peers/<name>` file's bytes read as glusterd reads them at start-up (the loader's rules:
/// `Err` says why glusterd would skip the file as malformed).
pub fn decode_peer_file(bytes: &[u8]) -> Result<crate::model::Peer, String> {
    let file = kv::parse(bytes).map_err(|e| format!("line {}: {}", e.line, e.problem))?;
    decode::peer_as_glusterd(&file)
}

use crate::model::{Extra, NodeInfo, Peer, Volume};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A glusterd-compatible working directory, for writing; [`Store::load`] reads one.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Everything [`Store::load`] read from a workdir.
#[derive(Debug, Clone)]
pub struct Workdir {
    /// The workdir.
    pub root: PathBuf,
    /// This node (`glusterd.info`).
    pub node: NodeInfo,
    /// Whether `glusterd.info` did not exist and was just written with a new node UUID.
    pub node_created: bool,
    /// `maximum-operating-version` of `glusterd.upgrade`, if the file exists.
    pub max_op_version: Option<u32>,
    /// The `options` file (cluster-wide options such as `global-option-version`), in order.
    pub global_options: Extra,
    /// The peers, sorted by UUID.
    pub peers: Vec<Peer>,
    /// The volumes, sorted by name (glusterd's order).
    pub volumes: Vec<Volume>,
    /// Each volume's checksums, computed from its `info` file as loaded.
    pub checksums: BTreeMap<String, VolumeChecksum>,
}

impl Workdir {
    /// The volume with this name.
    pub fn volume(&self, name: &str) -> Option<&Volume> {
        self.volumes.iter().find(|volume| volume.name == name)
    }

    /// A [`Store`] for writing to this workdir.
    pub fn store(&self) -> Store {
        Store::new(self.root.clone())
    }
}
