//! Reading a whole workdir: all or nothing.

use super::cksum::VolumeChecksum;
use super::decode;
use super::error::StoreError;
use super::kv::{self, KvFile};
use super::layout;
use super::{Store, Workdir};
use crate::model::{NodeInfo, Peer, Uuid, Volume};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The contents of a file that may be absent.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("read", path, e)),
    }
}

/// Parses store file bytes; warns when glusterd's "last line without newline" rule drops a
/// line.
fn parse(path: &Path, bytes: &[u8]) -> Result<KvFile, StoreError> {
    let file = kv::parse(bytes).map_err(|e| StoreError::Syntax {
        path: path.to_path_buf(),
        line: e.line,
        problem: e.problem,
    })?;
    if let Some(line) = file.ignored_last_line {
        tracing::warn!(
            file = %path.display(),
            line,
            "ignoring the last line: it has no newline (glusterd ignores it too)"
        );
    }
    Ok(file)
}

fn read_kv_optional(path: &Path) -> Result<Option<KvFile>, StoreError> {
    read_optional(path)?
        .map(|bytes| parse(path, &bytes))
        .transpose()
}

/// Entries of a directory that may be absent, sorted by name, without `*.tmp` (glusterd's
/// `gf_irrelevant_entry`: leftovers of an interrupted atomic write).
fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("list", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("list", dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(StoreError::Inconsistent {
                path,
                problem: "the name is not UTF-8".into(),
            });
        };
        if name.ends_with(super::atomic::TMP_SUFFIX) {
            continue;
        }
        names.push((name, path));
    }
    names.sort();
    Ok(names)
}

/// The largest `peers/` file read: a peer file is a few lines (a larger one is skipped as
/// malformed rather than read into memory).
const PEER_FILE_BYTES_MAX: u64 = 1 << 20;

/// Every `peers/<uuid>` file, read as glusterd reads them, which loads what glusterd loads and
/// skips what it skips, each skip a warning naming the file and why:
///
/// - a name that is not a UUID ("skipping non-peer file": a file named by host name while the
///   peer's UUID was unknown, an editor's backup, `*.tmp`);
/// - a file that cannot be read or parsed, or has no UUID or no host name ("skipping malformed
///   peer file");
/// - a second file of a peer already loaded.
///
/// Peer files in the older format (`hostname=` instead of `hostname1=`) load. The UUID is the
/// file's `uuid=`, as in glusterd, even where the file is named otherwise (a warning says so).
fn load_peers(root: &Path) -> Result<Vec<Peer>, StoreError> {
    let mut peers: Vec<Peer> = Vec::new();
    for (name, path) in list_dir(&root.join(layout::PEERS_DIR))? {
        let Ok(named) = Uuid::parse(&name) else {
            tracing::warn!(file = %path.display(), "skipping non-peer file: its name is not a UUID");
            continue;
        };
        let read = std::fs::metadata(&path)
            .map_err(|e| e.to_string())
            .and_then(|m| {
                if m.len() > PEER_FILE_BYTES_MAX {
                    Err(format!(
                        "{} bytes, more than a peer file has ({PEER_FILE_BYTES_MAX} at most)",
                        m.len()
                    ))
                } else {
                    std::fs::read(&path).map_err(|e| e.to_string())
                }
            })
            .and_then(|bytes| parse(&path, &bytes).map_err(|e| e.to_string()))
            .and_then(|file| decode::peer_as_glusterd(&file));
        let peer = match read {
            Ok(peer) => peer,
            Err(reason) => {
                tracing::warn!(file = %path.display(), %reason, "skipping malformed peer file");
                continue;
            }
        };
        if peer.uuid != named {
            tracing::warn!(file = %path.display(), uuid = %peer.uuid, "the peer file names another peer than its file name: taken as the peer its uuid= names");
        }
        if peers.iter().any(|p| p.uuid == peer.uuid) {
            tracing::warn!(file = %path.display(), uuid = %peer.uuid, "skipping a second file of a peer already loaded");
            continue;
        }
        peers.push(peer);
    }
    peers.sort_by_key(|peer| peer.uuid);
    Ok(peers)
}

/// Reads the bricks file that `brick_ref` (a line of `info_path`) names.
fn load_brick(
    info_path: &Path,
    bricks_dir: &Path,
    brick_ref: &decode::BrickRef,
) -> Result<crate::model::Brick, StoreError> {
    let reference_error = |problem: String| StoreError::Value {
        path: info_path.to_path_buf(),
        line: brick_ref.line,
        key: brick_ref.key.clone(),
        value: brick_ref.file_name.clone(),
        problem,
    };
    if brick_ref.file_name.contains('/') || brick_ref.file_name.starts_with('.') {
        return Err(reference_error("not a bricks file name".into()));
    }
    let path = bricks_dir.join(&brick_ref.file_name);
    let bytes = std::fs::read(&path).map_err(|e| {
        reference_error(format!(
            "cannot read the bricks file {}: {e}",
            path.display()
        ))
    })?;
    decode::brick(&path, &parse(&path, &bytes)?)
}

/// One volume directory: `info`, the bricks files it names, `node_state.info`, `snapd.info`.
fn load_volume(root: &Path, name: &str) -> Result<(Volume, VolumeChecksum), StoreError> {
    let dir = layout::volume_dir(root, name);
    let info_path = dir.join(layout::VOLUME_INFO);
    let info_bytes =
        std::fs::read(&info_path).map_err(|e| StoreError::io("read", &info_path, e))?;
    let info_file = parse(&info_path, &info_bytes)?;
    if info_file.entries.is_empty() {
        return Err(StoreError::Inconsistent {
            path: info_path,
            problem: "the volume info file has no key=value lines".into(),
        });
    }
    let info = decode::volume_info(name, &info_path, &info_file)?;
    let mut volume = info.volume;
    let bricks_dir = dir.join(layout::BRICKS_DIR);
    for brick_ref in &info.bricks {
        volume
            .bricks
            .push(load_brick(&info_path, &bricks_dir, brick_ref)?);
    }
    if let Some(brick_ref) = &info.thin_arbiter_brick {
        volume.thin_arbiter_brick = Some(load_brick(&info_path, &bricks_dir, brick_ref)?);
    }
    let node_state_path = dir.join(layout::NODE_STATE);
    if let Some(file) = read_kv_optional(&node_state_path)? {
        volume.rebalance = decode::node_state(&node_state_path, &file)?;
    }
    let snapd_path = dir.join(layout::SNAPD_INFO);
    if let Some(file) = read_kv_optional(&snapd_path)? {
        volume.snapd_port = decode::snapd_port(&snapd_path, &file)?;
    }
    Ok((volume, VolumeChecksum::of_info(&info_bytes)))
}

impl Store {
    /// Loads one volume of the store (`vols/<name>/`: `info`, its bricks files,
    /// `node_state.info`, `snapd.info`), with the reading rules of [`Store::load`].
    pub fn load_volume(&self, name: &str) -> Result<Volume, StoreError> {
        load_volume(&self.root, name).map(|(volume, _)| volume)
    }

    /// Loads the glusterd-compatible working directory at `workdir`: the node identity,
    /// global options, peers and every volume with its bricks. It either loads everything or
    /// returns the first error (naming the file and line); nothing is half-loaded.
    ///
    /// Follows glusterd's reading rules (`docs/store.md`): `*.tmp` leftovers of an
    /// interrupted write are ignored, so is a last line without a newline; a missing
    /// `options`, `glusterd.upgrade`, `peers/` or `vols/` is empty, a missing
    /// `node_state.info` or `snapd.info` gives defaults. Volume checksums are computed from
    /// the `info` files as glusterd does on start-up; the `cksum` files are not read.
    ///
    /// If `glusterd.info` does not exist this is a new node: after everything else loaded, a
    /// random node UUID at op-version 100000 is written to it (creating `workdir` if needed),
    /// once, and [`Workdir::node_created`] says so.
    pub fn load(workdir: impl AsRef<Path>) -> Result<Workdir, StoreError> {
        let root = workdir.as_ref();
        let info_path = root.join(layout::GLUSTERD_INFO);
        let node = read_kv_optional(&info_path)?
            .map(|file| decode::node_info(&info_path, &file))
            .transpose()?;
        let upgrade_path = root.join(layout::GLUSTERD_UPGRADE);
        let max_op_version = match read_kv_optional(&upgrade_path)? {
            Some(file) => decode::upgrade(&upgrade_path, &file)?,
            None => None,
        };
        let options_path = root.join(layout::OPTIONS);
        let global_options = match read_kv_optional(&options_path)? {
            Some(file) => decode::global_options(&options_path, &file)?,
            None => Vec::new(),
        };
        let peers = load_peers(root)?;

        let mut volumes = Vec::new();
        let mut checksums = BTreeMap::new();
        for (name, path) in list_dir(&root.join(layout::VOLS_DIR))? {
            // lstat, like glusterd: only real directories are volumes.
            let metadata =
                std::fs::symlink_metadata(&path).map_err(|e| StoreError::io("stat", &path, e))?;
            if !metadata.is_dir() {
                continue;
            }
            let (volume, checksum) = load_volume(root, &name)?;
            checksums.insert(name, checksum);
            volumes.push(volume);
        }

        let (node, node_created) = match node {
            Some(node) => (node, false),
            None => {
                let node = NodeInfo::new_random();
                std::fs::create_dir_all(root)
                    .map_err(|e| StoreError::io("create the directory", root, e))?;
                Store::new(root).write_node_info(&node)?;
                tracing::info!(uuid = %node.uuid, "new node: generated a node UUID");
                (node, true)
            }
        };
        Ok(Workdir {
            root: root.to_path_buf(),
            node,
            node_created,
            max_op_version,
            global_options,
            peers,
            volumes,
            checksums,
        })
    }
}
