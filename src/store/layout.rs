//! Names of the files and directories of a glusterd working directory (reference §8).
//!
//! ```text
//! <workdir>/glusterd.info            UUID, operating-version
//! <workdir>/glusterd.upgrade         maximum-operating-version
//! <workdir>/options                  global options
//! <workdir>/peers/<uuid>             one file per peer
//! <workdir>/vols/<volume>/info       the volume
//! <workdir>/vols/<volume>/bricks/<host>:<path with '/' → '-'>
//! <workdir>/vols/<volume>/cksum      info=<checksum>
//! <workdir>/vols/<volume>/node_state.info, snapd.info
//! ```

use std::path::{Path, PathBuf};

/// The node's identity.
pub const GLUSTERD_INFO: &str = "glusterd.info";
/// The highest op-version the software that last ran on this workdir supports.
pub const GLUSTERD_UPGRADE: &str = "glusterd.upgrade";
/// Cluster-wide options (`volume set all …`).
pub const OPTIONS: &str = "options";
/// One file per peer, named by its UUID.
pub const PEERS_DIR: &str = "peers";
/// One directory per volume, named by the volume.
pub const VOLS_DIR: &str = "vols";
/// A volume's main file.
pub const VOLUME_INFO: &str = "info";
/// A volume's bricks files.
pub const BRICKS_DIR: &str = "bricks";
/// A volume's checksum file.
pub const CKSUM: &str = "cksum";
/// A volume's rebalance state on this node.
pub const NODE_STATE: &str = "node_state.info";
/// A volume's snapshot daemon port.
pub const SNAPD_INFO: &str = "snapd.info";

/// `vols/<volume>`.
pub fn volume_dir(root: &Path, volume: &str) -> PathBuf {
    root.join(VOLS_DIR).join(volume)
}

/// `peers/<uuid>`.
pub fn peer_file(root: &Path, uuid: &str) -> PathBuf {
    root.join(PEERS_DIR).join(uuid)
}

/// The `info` key that names brick `index` (0-based): `brick-<index>`.
pub fn brick_key(index: usize) -> String {
    format!("brick-{index}")
}

/// The `info` key that names thin-arbiter brick `index`: `ta-brick-<index>`.
pub fn ta_brick_key(index: usize) -> String {
    format!("ta-brick-{index}")
}

/// The index in a `brick-<N>` key (`prefix` = `"brick-"`) or a `ta-brick-<N>` key, if the
/// key is one.
pub(crate) fn indexed_key(key: &str, prefix: &str) -> Option<usize> {
    let digits = key.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
