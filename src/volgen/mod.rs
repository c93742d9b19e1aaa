//! Volfiles: the xlator graphs glusterd 10.3 writes for a volume (brick and client). Pure: model
//! in, text out.
//!
//! glusterd keeps, next to a volume's `info` under `<workdir>/vols/<volume>/`, the volfiles the
//! volume's processes load: one per brick for the brick processes and the client volfiles that
//! FUSE mounts and glusterd's own clients fetch. This module renders them byte for byte as
//! glusterd 10.3 does (at cluster op-version 100000), from a [`Volume`] and the workdir path
//! only; it reads and writes nothing.
//!
//! # API
//!
//! | volfile | name | text |
//! |---|---|---|
//! | brick | [`brick_volfile_name`]: `<volume>.<host>.<path>.vol` | [`brick_volfile`], [`brick_volfile_for_node`] |
//! | FUSE client | [`client_volfile_name`] (`trusted` false): `<volume>.tcp-fuse.vol` | [`client_volfile`] |
//! | trusted client | [`client_volfile_name`] (`trusted` true): `trusted-<volume>.tcp-fuse.vol` | [`client_volfile`] |
//!
//! [`check_volume`] tells up front whether a volume can be rendered. Every function returns a
//! [`VolgenError`] rather than a volfile that would differ from glusterd's.
//!
//! # Supported volumes
//!
//! Distribute, replicate (arbiter included), disperse, and their distributed forms, with the
//! options glusterd sets at create time and the common `volume set` keys (the tables in
//! `options.rs`). Refused: stripe and tier volumes (retired in glusterfs 6), thin-arbiter
//! volumes, and volumes with an option whose effect brickd does not model (an unknown key, or
//! a switch such as `features.uss`, `cluster.nufa` or `performance.parallel-readdir` that adds
//! xlators brickd does not generate). Keys for other daemons (`nfs.*`, self-heal, scrubber),
//! glusterd's own keys and `user.*` keys are ignored, as in glusterd.
//!
//! Not generated yet: the self-heal daemon's `<volume>-shd.vol`, the rebalance
//! `<volume>-rebalance.vol`, the gfproxy daemon's `<volume>.gfproxyd.vol` and its clients'
//! `trusted-<volume>.tcp-gfproxy-fuse.vol`, the RDMA client volfiles of a `tcp,rdma` volume,
//! and snapshot volumes' volfiles (which live under `snaps/`). Settings that glusterd takes
//! from its own `glusterd.vol` (SSL certificate paths, `transport.socket.bind-address`) are
//! assumed unset.
//!
//! # How glusterd orders things
//!
//! Xlators print from the bottom of the graph up, and each xlator's options newest first, with
//! a re-set option keeping its first place (`graph.rs`). Options with defaults, which glusterd
//! applies to every graph after building it, therefore come first, in reverse order of
//! glusterd's option table (`options.rs`); the options set while building follow, in reverse
//! order of setting.

mod brick;
mod client;
mod common;
mod graph;
mod options;

pub use options::OptionProblem;

use crate::model::{Uuid, Volume};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a volfile cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VolgenError {
    /// The brick index is past the volume's bricks.
    #[error("volume {volume} has no brick {index} (it has {count})")]
    NoSuchBrick {
        /// The volume.
        volume: String,
        /// The index asked for.
        index: usize,
        /// How many bricks the volume has.
        count: usize,
    },
    /// The volume's counts or options contradict each other, so glusterd would not build it
    /// either.
    #[error("volume {volume}: {problem}")]
    Inconsistent {
        /// The volume.
        volume: String,
        /// What is wrong.
        problem: String,
    },
    /// The volume is of a kind brickd does not render.
    #[error("volume {volume}: {what} volumes are not supported")]
    UnsupportedVolume {
        /// The volume.
        volume: String,
        /// The kind ("stripe", "tier", "thin-arbiter").
        what: &'static str,
    },
    /// An option of the volume cannot be rendered.
    #[error("volume {volume}: option {key}={value}: {problem}")]
    Option {
        /// The volume.
        volume: String,
        /// The option key.
        key: String,
        /// Its value.
        value: String,
        /// Why it is refused.
        problem: OptionProblem,
    },
    /// The workdir path is not UTF-8 and cannot be written into a volfile.
    #[error("the workdir {0} is not UTF-8")]
    WorkdirNotUtf8(PathBuf),
}

/// Checks that brickd can render the volume's volfiles exactly as glusterd would (supported
/// type and options); the rendering functions make the same check.
pub fn check_volume(volume: &Volume) -> Result<(), VolgenError> {
    common::check_volume(volume)
}

/// The file name of brick `brick_index`'s volfile: `<volume>.<host>.<path>.vol`, where the
/// path loses its first character (the leading `/`) and every other `/` but a trailing one
/// becomes `-` (`node-a:/srv/d0/dist1` of `dist1` → `dist1.node-a.srv-d0-dist1.vol`).
pub fn brick_volfile_name(volume: &Volume, brick_index: usize) -> Result<String, VolgenError> {
    let brick = volume
        .bricks
        .get(brick_index)
        .ok_or_else(|| VolgenError::NoSuchBrick {
            volume: volume.name.clone(),
            index: brick_index,
            count: volume.bricks.len(),
        })?;
    Ok(format!(
        "{}.{}.{}.vol",
        volume.name,
        brick.hostname,
        path_for_file_name(&brick.path)
    ))
}

/// glusterd's brick-path mangling for file names: drop the first character, turn each `/`
/// into `-` except one that ends the path.
fn path_for_file_name(path: &str) -> String {
    let rest: Vec<char> = path.chars().skip(1).collect();
    let last = rest.len().saturating_sub(1);
    rest.iter()
        .enumerate()
        .map(|(i, &c)| if c == '/' && i != last { '-' } else { c })
        .collect()
}

/// The volfile of brick `brick_index`, rendered on the node that owns the brick.
///
/// `workdir` is glusterd's working directory on that node (`/var/lib/glusterd`); it appears in
/// the marker's `timestamp-file`. posix's `shared-brick-count` is the number of the owner's
/// bricks of this volume on the brick's file system (same `brick-fsid`), which is what the
/// brick process uses; see [`brick_volfile_for_node`] for the file another node writes.
pub fn brick_volfile(
    volume: &Volume,
    brick_index: usize,
    workdir: &Path,
) -> Result<String, VolgenError> {
    let owner = volume
        .bricks
        .get(brick_index)
        .map(|brick| brick.uuid)
        .unwrap_or(Uuid::NIL);
    brick_volfile_for_node(volume, brick_index, workdir, &owner)
}

/// The volfile of brick `brick_index` as the node `local_node` writes it. glusterd writes the
/// volfiles of every brick of a volume on every node but computes `shared-brick-count` only
/// for its own bricks: a brick of another node gets 0.
pub fn brick_volfile_for_node(
    volume: &Volume,
    brick_index: usize,
    workdir: &Path,
    local_node: &Uuid,
) -> Result<String, VolgenError> {
    let workdir = workdir
        .to_str()
        .ok_or_else(|| VolgenError::WorkdirNotUtf8(workdir.to_path_buf()))?;
    brick::build(volume, brick_index, workdir, local_node).map(|graph| graph.render())
}

/// The file name of the client volfile: `<volume>.tcp-fuse.vol`, or
/// `trusted-<volume>.tcp-fuse.vol` for the trusted one (`rdma-fuse` for an RDMA-only volume).
pub fn client_volfile_name(volume: &Volume, trusted: bool) -> String {
    let prefix = if trusted { "trusted-" } else { "" };
    format!(
        "{prefix}{}.{}-fuse.vol",
        volume.name,
        client::client_transport(volume)
    )
}

/// The client volfile. The trusted one, which glusterd hands to clients on the cluster's own
/// nodes, carries the volume's internal `username` and `password` on each `protocol/client`;
/// the plain one, for FUSE mounts from elsewhere, does not.
pub fn client_volfile(volume: &Volume, trusted: bool) -> Result<String, VolgenError> {
    client::build(volume, trusted).map(|graph| graph.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Brick, Transport, VolumeType};

    fn volume(name: &str, paths: &[&str]) -> Volume {
        Volume {
            brick_count: paths.len() as u32,
            bricks: paths
                .iter()
                .map(|path| Brick {
                    hostname: "node-a".into(),
                    path: (*path).into(),
                    ..Brick::default()
                })
                .collect(),
            ..Volume::new_distribute(name, Uuid::NIL)
        }
    }

    #[test]
    fn brick_volfile_names_mangle_the_path_like_glusterd() {
        let v = volume("dist1", &["/srv/d0/dist1", "/a", "/b/c/", "x/y"]);
        assert_eq!(
            brick_volfile_name(&v, 0).unwrap(),
            "dist1.node-a.srv-d0-dist1.vol"
        );
        assert_eq!(brick_volfile_name(&v, 1).unwrap(), "dist1.node-a.a.vol");
        // A trailing slash is kept, as glusterd keeps it.
        assert_eq!(brick_volfile_name(&v, 2).unwrap(), "dist1.node-a.b-c/.vol");
        // The first character goes whatever it is.
        assert_eq!(brick_volfile_name(&v, 3).unwrap(), "dist1.node-a.-y.vol");
    }

    #[test]
    fn brick_volfile_name_refuses_a_missing_brick() {
        let v = volume("v", &["/a"]);
        assert_eq!(
            brick_volfile_name(&v, 1),
            Err(VolgenError::NoSuchBrick {
                volume: "v".into(),
                index: 1,
                count: 1
            })
        );
    }

    #[test]
    fn client_volfile_names() {
        let mut v = volume("rep3", &["/a"]);
        assert_eq!(client_volfile_name(&v, false), "rep3.tcp-fuse.vol");
        assert_eq!(client_volfile_name(&v, true), "trusted-rep3.tcp-fuse.vol");
        v.transport = Transport::TcpRdma;
        assert_eq!(client_volfile_name(&v, false), "rep3.tcp-fuse.vol");
        v.transport = Transport::Rdma;
        assert_eq!(client_volfile_name(&v, true), "trusted-rep3.rdma-fuse.vol");
    }

    #[test]
    fn shared_brick_count_counts_the_owners_bricks_on_one_file_system() {
        let node = Uuid::parse("c0155f6f-c725-48f2-bab5-38cdd0172027").unwrap();
        let mut v = volume("v", &["/srv/d0/a", "/srv/d0/b", "/srv/d1/c"]);
        for brick in &mut v.bricks {
            brick.uuid = node;
        }
        v.bricks[0].brick_fsid = 7;
        v.bricks[1].brick_fsid = 7;
        v.bricks[2].brick_fsid = 8;
        let text = |i| brick_volfile(&v, i, Path::new("/w")).unwrap();
        assert!(text(0).contains("option shared-brick-count 2\n"));
        assert!(text(2).contains("option shared-brick-count 1\n"));
        let other = Uuid::parse("9bc79563-9ed1-48d7-801d-1fb249cfea5b").unwrap();
        let remote = brick_volfile_for_node(&v, 0, Path::new("/w"), &other).unwrap();
        assert!(remote.contains("option shared-brick-count 0\n"));
    }

    /// The `volume … end-volume` block of xlator `name`.
    fn block<'a>(text: &'a str, name: &str) -> &'a str {
        let start = text.find(&format!("volume {name}\n")).unwrap();
        let end = start + text[start..].find("end-volume\n").unwrap();
        &text[start..end]
    }

    #[test]
    fn a_set_option_overrides_a_built_one_in_place() {
        let mut v = volume("v", &["/a"]);
        v.options.push(("network.ping-timeout".into(), "10".into()));
        v.options
            .push(("performance.io-thread-count".into(), "32".into()));
        let client = client_volfile(&v, false).unwrap();
        assert!(block(&client, "v-client-0").ends_with("    option ping-timeout 10\n"));
        assert!(block(&client, "v-io-threads").contains("    option thread-count 32\n"));
        let brick = brick_volfile(&v, 0, Path::new("/w")).unwrap();
        assert!(block(&brick, "v-io-threads").contains("    option thread-count 32\n"));
    }

    #[test]
    fn switches_add_and_remove_client_xlators() {
        let mut v = volume("v", &["/a"]);
        v.options.push(("features.shard".into(), "on".into()));
        v.options.push(("features.ctime".into(), "off".into()));
        v.options
            .push(("performance.client-io-threads".into(), "off".into()));
        v.options.push(("performance.io-cache".into(), "on".into()));
        let client = client_volfile(&v, false).unwrap();
        let names: Vec<&str> = client
            .lines()
            .filter_map(|line| line.strip_prefix("volume "))
            .collect();
        assert_eq!(
            names,
            [
                "v-client-0",
                "v-dht",
                "v-shard",
                "v-write-behind",
                "v-io-cache",
                "v-open-behind",
                "v-quick-read",
                "v-md-cache",
                "v"
            ]
        );
        let brick = brick_volfile(&v, 0, Path::new("/w")).unwrap();
        assert!(block(&brick, "v-posix")
            .starts_with("volume v-posix\n    type storage/posix\n    option ctime off\n"));
    }

    #[test]
    fn sets_with_a_decommissioned_brick_are_listed_on_dht() {
        let mut v = volume("v", &["/a", "/b", "/c", "/d"]);
        v.volume_type = VolumeType::Replicate;
        v.replica_count = 2;
        v.bricks[3].decommissioned = 1;
        let client = client_volfile(&v, false).unwrap();
        assert!(
            block(&client, "v-dht").contains("    option decommissioned-bricks v-replicate-1\n")
        );
        assert!(block(&client, "v-replicate-0")
            .contains("    option afr-pending-xattr v-client-0,v-client-1\n"));
    }

    #[test]
    fn unsupported_volumes_are_refused() {
        let mut v = volume("v", &["/a", "/b"]);
        v.volume_type = VolumeType::Stripe;
        assert!(matches!(
            client_volfile(&v, false),
            Err(VolgenError::UnsupportedVolume { what: "stripe", .. })
        ));
        let mut v = volume("v", &["/a"]);
        v.options.push(("features.uss".into(), "on".into()));
        assert!(matches!(
            brick_volfile(&v, 0, Path::new("/w")),
            Err(VolgenError::Option {
                problem: OptionProblem::Unsupported,
                ..
            })
        ));
    }

    #[test]
    fn inconsistent_counts_are_refused() {
        let mut v = volume("v", &["/a", "/b", "/c", "/d"]);
        v.volume_type = VolumeType::Replicate;
        v.replica_count = 3;
        assert!(matches!(
            client_volfile(&v, false),
            Err(VolgenError::Inconsistent { .. })
        ));
        v.replica_count = 0;
        assert!(matches!(
            client_volfile(&v, false),
            Err(VolgenError::Inconsistent { .. })
        ));
    }
}
