//! Writing store files with glusterd's atomic protocol and order.

use super::atomic::{self, StagedFile};
use super::cksum::VolumeChecksum;
use super::error::StoreError;
use super::kv;
use super::layout;
use super::render::{self, Pairs};
use super::Store;
use crate::model::{NodeInfo, Peer, Volume};
use std::path::{Path, PathBuf};

/// Mode of the directories the store creates (glusterd: 0755).
const DIR_MODE: u32 = 0o755;

/// Checks that every pair can be read back (non-empty key without `=` or newline, non-empty
/// value without newline) and renders them.
fn render_checked(path: &Path, pairs: &Pairs) -> Result<Vec<u8>, StoreError> {
    for (key, value) in pairs {
        let problem = if key.is_empty() || key.contains(['=', '\n']) {
            Some(format!(
                "the key {key:?} cannot be stored (empty, '=' or newline)"
            ))
        } else if value.is_empty() || value.contains('\n') {
            Some(format!(
                "the value of {key} cannot be stored ({value:?}: empty or has a newline)"
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(StoreError::Inconsistent {
                path: path.to_path_buf(),
                problem,
            });
        }
    }
    Ok(kv::render(pairs))
}

/// Checks that `name` can be one path component of the store.
fn check_component(path: &Path, what: &str, name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(StoreError::Inconsistent {
            path: path.to_path_buf(),
            problem: format!("{what} {name:?} cannot be a file name"),
        });
    }
    Ok(())
}

fn create_dir(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(|e| StoreError::io("create the directory", path, e))
}

/// A volume whose files are all written as `.tmp` and synced, waiting for
/// [`PreparedVolume::commit`]. Dropping it removes the `.tmp` files and changes nothing.
#[derive(Debug)]
pub struct PreparedVolume {
    snapd_info: StagedFile,
    bricks: Vec<StagedFile>,
    info: StagedFile,
    node_state: StagedFile,
    cksum_path: PathBuf,
    checksum: VolumeChecksum,
}

impl PreparedVolume {
    /// The checksums the volume will have.
    pub fn checksum(&self) -> VolumeChecksum {
        self.checksum
    }

    /// Renames the files into place in glusterd's order — `snapd.info`, the bricks files,
    /// `info`, then `node_state.info` — each followed by an fsync of its directory, and writes
    /// `cksum` last. Returns the volume's checksums.
    pub fn commit(self) -> Result<VolumeChecksum, StoreError> {
        self.snapd_info.commit()?;
        for brick in self.bricks {
            brick.commit()?;
        }
        self.info.commit()?;
        self.node_state.commit()?;
        atomic::write_atomic(&self.cksum_path, self.checksum.file_text().as_bytes())?;
        Ok(self.checksum)
    }
}

impl Store {
    /// A store rooted at `root` (the workdir), for writing. [`Store::load`] reads one.
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The workdir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Atomically replaces `glusterd.info`.
    pub fn write_node_info(&self, node: &NodeInfo) -> Result<(), StoreError> {
        let path = self.root.join(layout::GLUSTERD_INFO);
        let bytes = render_checked(&path, &render::node_info(node))?;
        atomic::write_atomic(&path, &bytes)
    }

    /// Atomically replaces `peers/<uuid>`, creating `peers/` if needed.
    pub fn write_peer(&self, peer: &Peer) -> Result<(), StoreError> {
        let dir = self.root.join(layout::PEERS_DIR);
        create_dir(&dir)?;
        let path = layout::peer_file(&self.root, &peer.uuid.to_string());
        let bytes = render_checked(&path, &render::peer(peer))?;
        atomic::write_atomic(&path, &bytes)
    }

    /// Writes every file of `volume` as `.tmp` and syncs them, creating `vols/<name>/` and
    /// its `bricks/` if needed; nothing visible changes until [`PreparedVolume::commit`].
    ///
    /// Fails without writing anything if the volume cannot be stored so that it reads back:
    /// a brick count that differs from its bricks, a thin-arbiter count without its brick,
    /// an empty value, a newline in a value, a name that is not a file name.
    pub fn prepare_volume(&self, volume: &Volume) -> Result<PreparedVolume, StoreError> {
        let mut files = self.volume_files(volume)?.into_iter();
        let dir = layout::volume_dir(&self.root, &volume.name);
        create_dir(&dir.join(layout::BRICKS_DIR))?;
        // volume_files' order: snapd.info, the bricks files, info, node_state.info, cksum.
        let mut next = || {
            files.next().ok_or_else(|| StoreError::Inconsistent {
                path: dir.clone(),
                problem: "the volume's file list is short".into(),
            })
        };
        let (snapd_path, snapd) = next()?;
        let snapd_info = StagedFile::write(&snapd_path, &snapd)?;
        let mut bricks = Vec::new();
        for _ in volume.bricks.iter().chain(&volume.thin_arbiter_brick) {
            let (path, bytes) = next()?;
            bricks.push(StagedFile::write(&path, &bytes)?);
        }
        let (info_path, info) = next()?;
        let info_staged = StagedFile::write(&info_path, &info)?;
        let (node_state_path, node_state) = next()?;
        let node_state = StagedFile::write(&node_state_path, &node_state)?;
        let (cksum_path, _) = next()?;
        Ok(PreparedVolume {
            snapd_info,
            bricks,
            info: info_staged,
            node_state,
            cksum_path,
            checksum: VolumeChecksum::of_info(&info),
        })
    }

    /// Every file of `volume` with its bytes, rendered and checked like
    /// [`Store::prepare_volume`] but not written: `snapd.info`, the bricks files, `info`,
    /// `node_state.info`, `cksum` (glusterd's commit order). For writers that batch their I/O
    /// (the brick engine); they must keep the rule that `info` and `cksum` appear last.
    pub fn volume_files(&self, volume: &Volume) -> Result<Vec<(PathBuf, Vec<u8>)>, StoreError> {
        let dir = layout::volume_dir(&self.root, &volume.name);
        check_component(&dir, "the volume name", &volume.name)?;
        let info_path = dir.join(layout::VOLUME_INFO);
        if volume.brick_count as usize != volume.bricks.len() {
            return Err(StoreError::Inconsistent {
                path: info_path,
                problem: format!(
                    "the volume has {} bricks but a brick count of {}",
                    volume.bricks.len(),
                    volume.brick_count
                ),
            });
        }
        if (volume.thin_arbiter_count == 1) != volume.thin_arbiter_brick.is_some()
            || volume.thin_arbiter_count > 1
        {
            return Err(StoreError::Inconsistent {
                path: info_path,
                problem: format!(
                    "thin_arbiter_count={} does not match {} thin-arbiter brick",
                    volume.thin_arbiter_count,
                    if volume.thin_arbiter_brick.is_some() {
                        "a"
                    } else {
                        "no"
                    }
                ),
            });
        }
        let snapd_path = dir.join(layout::SNAPD_INFO);
        let mut files = vec![(
            snapd_path.clone(),
            render_checked(&snapd_path, &render::snapd_info(volume.snapd_port))?,
        )];
        let bricks_dir = dir.join(layout::BRICKS_DIR);
        for brick in volume.bricks.iter().chain(&volume.thin_arbiter_brick) {
            let name = brick.file_name();
            check_component(&bricks_dir, "the brick file", &name)?;
            let path = bricks_dir.join(&name);
            let bytes = render_checked(&path, &render::brick(brick))?;
            files.push((path, bytes));
        }
        let info = render_checked(&info_path, &render::volume_info(volume))?;
        let cksum = VolumeChecksum::of_info(&info).file_text().into_bytes();
        files.push((info_path, info));
        let node_state_path = dir.join(layout::NODE_STATE);
        let node_state = render_checked(&node_state_path, &render::node_state(&volume.rebalance))?;
        files.push((node_state_path, node_state));
        files.push((dir.join(layout::CKSUM), cksum));
        Ok(files)
    }

    /// Writes a whole volume: [`Store::prepare_volume`] then [`PreparedVolume::commit`].
    /// Returns its checksums.
    pub fn write_volume(&self, volume: &Volume) -> Result<VolumeChecksum, StoreError> {
        self.prepare_volume(volume)?.commit()
    }

    /// Removes `vols/<name>/` the way a crash cannot leave half-removed: one rename moves the
    /// whole directory to `brickd/trash/<name>-<tag>` (then the `vols/` directory is synced),
    /// and only then is the moved copy deleted. A crash after the rename leaves a trash
    /// directory that [`Store::empty_trash`] deletes; before it, the volume is whole.
    pub fn remove_volume(&self, name: &str, tag: &str) -> Result<(), StoreError> {
        let dir = layout::volume_dir(&self.root, name);
        check_component(&dir, "the volume name", name)?;
        let trash = self.root.join("brickd").join("trash");
        create_dir(&trash)?;
        let target = trash.join(format!("{name}-{tag}"));
        if let Err(e) = std::fs::rename(&dir, &target) {
            // The same move made before a crash, its tree not yet deleted: this one replaces it.
            if !target.is_dir() {
                return Err(StoreError::io("move to the trash", &dir, e));
            }
            std::fs::remove_dir_all(&target)
                .map_err(|e| StoreError::io("empty the trash", &target, e))?;
            std::fs::rename(&dir, &target)
                .map_err(|e| StoreError::io("move to the trash", &dir, e))?;
        }
        let vols = self.root.join(layout::VOLS_DIR);
        std::fs::File::open(&vols)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io("sync the directory", &vols, e))?;
        self.empty_trash()
    }

    /// Deletes whatever [`Store::remove_volume`] moved to the trash.
    pub fn empty_trash(&self) -> Result<(), StoreError> {
        let trash = self.root.join("brickd").join("trash");
        match std::fs::remove_dir_all(&trash) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("empty the trash", &trash, e)),
        }
    }
}
