//! Volfiles: the xlator graphs glusterd 10.3 writes for a volume (bricks, clients and the
//! volume's daemons). Pure: model in, text out.
//!
//! glusterd keeps, next to a volume's `info` under `<workdir>/vols/<volume>/`, the volfiles the
//! volume's processes load: one per brick for the brick processes, the client volfiles that
//! FUSE mounts and glusterd's own clients fetch, and those of the gfproxy, rebalance and
//! self-heal daemons. This module renders them byte for byte as glusterd 10.3 does (at cluster
//! op-version 100000), from a [`Volume`] and the workdir path only; it reads and writes nothing.
//!
//! # API
//!
//! | volfile | name | text |
//! |---|---|---|
//! | brick | [`brick_volfile_name`]: `<volume>.<host>.<path>.vol` | [`brick_volfile`], [`brick_volfile_for_node`] |
//! | FUSE client | [`client_volfile_name`] (`trusted` false): `<volume>.tcp-fuse.vol` | [`client_volfile`] |
//! | trusted client | [`client_volfile_name`] (`trusted` true): `trusted-<volume>.tcp-fuse.vol` | [`client_volfile`] |
//! | gfproxy daemon | [`gfproxyd_volfile_name`]: `<volume>.gfproxyd.vol` | [`gfproxyd_volfile`] |
//! | gfproxy client | [`gfproxy_client_volfile_name`]: `trusted-<volume>.tcp-gfproxy-fuse.vol` | [`gfproxy_client_volfile`] |
//! | rebalance | [`rebalance_volfile_name`]: `<volume>-rebalance.vol` | [`rebalance_volfile`] (`None` if glusterd writes none) |
//! | self-heal daemon | [`shd_volfile_name`]: `<volume>-shd.vol` | [`shd_volfile`] (`None` if glusterd writes none) |
//! | all but brick and client | | [`extra_volfiles`]: (name, text) of each file glusterd writes |
//!
//! [`check_volume`] tells up front whether a volume can be rendered. Every function returns a
//! [`VolgenError`] rather than a volfile that would differ from glusterd's.
//!
//! # Which volume gets which file
//!
//! At `volume create` (and whenever it rewrites a volume's volfiles) glusterd writes, besides
//! the brick volfiles and the two client volfiles:
//!
//! - for every volume, the gfproxy daemon's `<volume>.gfproxyd.vol`, whether or not
//!   `config.gfproxyd` runs the daemon;
//! - for every volume but the shared-storage volume `gluster_shared_storage` (which glusterd
//!   lets only trusted clients mount), the gfproxy clients'
//!   `trusted-<volume>.tcp-gfproxy-fuse.vol` (`rdma-gfproxy-fuse` for an RDMA-only volume);
//! - for a volume whose DHT spreads over more than one subvolume, that is with more bricks
//!   than one replica or disperse set holds, the rebalance process's `<volume>-rebalance.vol`
//!   (in the test fixture `dist3`, `distrep`, `distdisp`, `opts` and `started`, but not
//!   `dist1`, `stopped`, `rep3`, `arb` or `disp`);
//! - for a replicate (arbiter included) or disperse volume, whether or not
//!   `cluster.self-heal-daemon` is on, the self-heal daemon's `<volume>-shd.vol` (in the
//!   fixture `arb`, `disp`, `distdisp`, `distrep` and `rep3`).
//!
//! [`extra_volfiles`] lists exactly these, in that order.
//!
//! # Supported volumes
//!
//! Distribute, replicate (arbiter included), disperse, and their distributed forms, with the
//! options glusterd sets at create time and the common `volume set` keys (the tables in
//! `options.rs`). Refused: stripe and tier volumes (retired in glusterfs 6), thin
//! arbiters other than on replica 2 with one brick, and volumes with an option whose effect brickd does not model (an unknown key, or
//! `features.uss`, whose snapshot view needs the snapshot daemon). User xlators
//! (`user.xlator.NAME STEP`) are stacked on the brick graph as glusterd stacks them. The keys
//! that add xlators are rendered as glusterd renders them: `performance.parallel-readdir`
//! (a `readdir-ahead` over each set), `cluster.nufa`/`cluster.switch` (DHT's kind),
//! `network.compression` (`cdc` on both sides), `features.cloudsync`, `features.sdfs`,
//! `features.tag-namespaces`, and the debug xlators (`debug.trace`, `debug.error-gen`,
//! `debug.delay-gen` naming the step to stack them over). Keys for daemons brickd renders no volfile of (`nfs.*`,
//! scrubber), glusterd's own keys and `user.*` keys are ignored, as in glusterd; the self-heal
//! daemon's keys (`cluster.self-heal-daemon`, `cluster.heal-timeout`) change its volfile only.
//!
//! Not generated: the RDMA client volfiles of a `tcp,rdma` volume, snapshot volumes' volfiles
//! (which live under `snaps/`), and the volfiles of node-wide daemons (gNFS, quotad, bitd,
//! scrubber). Settings that glusterd takes from its own `glusterd.vol` (SSL certificate paths,
//! `transport.socket.bind-address`) are assumed unset.
//!
//! # How glusterd orders things
//!
//! Xlators print from the bottom of the graph up, and each xlator's options newest first, with
//! a re-set option keeping its first place (`graph.rs`). Options with defaults, which glusterd
//! applies to every graph after building it, therefore come first, in reverse order of
//! glusterd's option table (`options.rs`); the options set while building follow, in reverse
//! order of setting. The daemons' graphs differ only in which passes reach which xlators: the
//! gfproxy daemon's graph gets the plain pass twice (`gfproxy.rs`), and the self-heal daemon's
//! io-stats none (`shd.rs`).

mod brick;
mod client;
mod common;
mod gfproxy;
mod graph;
mod options;
mod rebalance;
mod shd;
mod snapd;

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

/// A brick volfile as a glusterd bound to `address` writes it: its protocol/server section
/// says `option transport.socket.bind-address ADDRESS` (after the address family, before the
/// transport type, where glusterd 10.3 puts it), so the brick listens on that address only.
pub fn with_bind_address(brick_volfile: &str, address: &str) -> String {
    let mut out = String::with_capacity(brick_volfile.len() + 64);
    let mut in_server = false;
    let mut done = false;
    for line in brick_volfile.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed == "type protocol/server" {
            in_server = true;
        }
        if in_server && !done && trimmed.starts_with("option transport-type ") {
            out.push_str(&format!(
                "    option transport.socket.bind-address {address}\n"
            ));
            done = true;
        }
        if trimmed == "end-volume" {
            in_server = false;
        }
        out.push_str(line);
    }
    out
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

/// The file name of the gfproxy daemon's volfile: `<volume>.gfproxyd.vol`.
pub fn gfproxyd_volfile_name(volume: &Volume) -> String {
    format!("{}.gfproxyd.vol", volume.name)
}

/// The gfproxy daemon's volfile: the trusted client graph up to io-threads (write-behind is
/// left to the gfproxy clients), io-stats named `gfproxyd-<volume>`, and a `protocol/server`
/// named `<volume>-server` that serves it with the volume's internal login.
pub fn gfproxyd_volfile(volume: &Volume) -> Result<String, VolgenError> {
    gfproxy::build_daemon(volume).map(|graph| graph.render())
}

/// The file name of the gfproxy clients' volfile: `trusted-<volume>.tcp-gfproxy-fuse.vol`
/// (`rdma-gfproxy-fuse` for an RDMA-only volume; a `tcp,rdma` volume gets the TCP one only).
pub fn gfproxy_client_volfile_name(volume: &Volume) -> String {
    format!(
        "trusted-{}.{}-gfproxy-fuse.vol",
        volume.name,
        client::client_transport(volume)
    )
}

/// The gfproxy clients' volfile: one trusted `protocol/client` named
/// `<volume>-gfproxy-client` whose `remote-subvolume` is the daemon's `gfproxyd-<volume>`
/// (always over TCP, with no `remote-host`), then `utime`, `quiesce`, write-behind if on, and
/// io-stats. glusterd writes none for the shared-storage volume (see [`extra_volfiles`]), but
/// this renders what it would be.
pub fn gfproxy_client_volfile(volume: &Volume) -> Result<String, VolgenError> {
    gfproxy::build_client(volume).map(|graph| graph.render())
}

/// The file name of the rebalance volfile: `<volume>-rebalance.vol`.
pub fn rebalance_volfile_name(volume: &Volume) -> String {
    format!("{}-rebalance.vol", volume.name)
}

/// The rebalance volfile, or `None` when glusterd writes none (the volume's DHT has a single
/// subvolume): the trusted clients, sets and DHT of the client graph under io-stats.
pub fn rebalance_volfile(volume: &Volume) -> Result<Option<String>, VolgenError> {
    rebalance::build(volume).map(|graph| graph.map(|graph| graph.render()))
}

/// The file name of the self-heal daemon's volfile: `<volume>-shd.vol`.
pub fn shd_volfile_name(volume: &Volume) -> String {
    format!("{}-shd.vol", volume.name)
}

/// The self-heal daemon's volfile, or `None` when glusterd writes none (neither replicate nor
/// disperse): the trusted clients and the sets, as a self-heal daemon, under io-stats.
pub fn shd_volfile(volume: &Volume) -> Result<Option<String>, VolgenError> {
    shd::build(volume).map(|graph| graph.map(|graph| graph.render()))
}

/// The file name of the snapshot daemon's volfile: `<volume>-snapd.vol`.
pub fn snapd_volfile_name(volume: &Volume) -> String {
    format!("{}-snapd.vol", volume.name)
}

/// The snapshot daemon's volfile (glusterd writes it when it starts the daemon: a started
/// volume with `features.uss on`): snapview-server, io-threads, io-stats and server.
pub fn snapd_volfile(volume: &Volume) -> Result<String, VolgenError> {
    snapd::build(volume).map(|graph| graph.render())
}

/// Whether `features.uss` is on for `volume` (a value that is not a boolean counts as off
/// here; rendering the volfiles refuses it).
pub fn uss_enabled(volume: &Volume) -> bool {
    volume
        .option(options::USS_KEY)
        .and_then(options::parse_bool)
        .unwrap_or(false)
}

/// Every volfile glusterd writes for the volume besides the brick volfiles and the two client
/// volfiles, as (file name, text), in this order: the gfproxy daemon's, the gfproxy clients'
/// (not for the shared-storage volume), the rebalance one (if the DHT has more than one
/// subvolume) and the self-heal daemon's (replicate and disperse volumes).
pub fn extra_volfiles(volume: &Volume) -> Result<Vec<(String, String)>, VolgenError> {
    let mut files = vec![(gfproxyd_volfile_name(volume), gfproxyd_volfile(volume)?)];
    if volume.name != common::SHARED_STORAGE_VOLUME {
        files.push((
            gfproxy_client_volfile_name(volume),
            gfproxy_client_volfile(volume)?,
        ));
    }
    if let Some(text) = rebalance_volfile(volume)? {
        files.push((rebalance_volfile_name(volume), text));
    }
    if let Some(text) = shd_volfile(volume)? {
        files.push((shd_volfile_name(volume), text));
    }
    Ok(files)
}

#[cfg(test)]
mod bind_tests {
    #[test]
    fn the_bind_address_goes_where_a_bound_glusterd_writes_it() {
        let server = "volume v-server\n    type protocol/server\n    option transport.address-family inet\n    option transport-type tcp\n    subvolumes /b\nend-volume\n";
        let text = format!("volume v-posix\n    type storage/posix\n    option transport-type tcp\nend-volume\n\n{server}");
        let bound = super::with_bind_address(&text, "127.1.31.1");
        assert_eq!(
            bound,
            text.replace(
                "    option transport.address-family inet\n    option transport-type tcp\n",
                "    option transport.address-family inet\n    option transport.socket.bind-address 127.1.31.1\n    option transport-type tcp\n"
            )
        );
        assert_eq!(bound.matches("bind-address").count(), 1);
    }
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
        v.options.push(("features.uss".into(), "maybe".into()));
        assert!(matches!(
            brick_volfile(&v, 0, Path::new("/w")),
            Err(VolgenError::Option {
                problem: OptionProblem::NotBoolean,
                ..
            })
        ));
        let mut v = volume("v", &["/a"]);
        v.options.push(("user.xlator.x".into(), "nowhere".into()));
        assert!(matches!(
            brick_volfile(&v, 0, Path::new("/w")),
            Err(VolgenError::Option {
                problem: OptionProblem::NoSuchStep,
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

    /// A replicate (or, with `disperse`, disperse) volume of `sets` sets of three bricks.
    fn redundant_volume(name: &str, sets: usize, disperse: bool) -> Volume {
        let paths: Vec<String> = (0..sets * 3).map(|i| format!("/b{i}")).collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let mut v = volume(name, &paths);
        v.username = Some("user".into());
        v.password = Some("secret".into());
        if disperse {
            v.volume_type = VolumeType::Disperse;
            v.disperse_count = 3;
            v.redundancy_count = 1;
        } else {
            v.volume_type = VolumeType::Replicate;
            v.replica_count = 3;
        }
        v
    }

    fn names(files: &[(String, String)]) -> Vec<&str> {
        files.iter().map(|(name, _)| name.as_str()).collect()
    }

    #[test]
    fn extra_volfiles_follow_the_volume_layout() {
        let dist1 = volume("d", &["/a"]);
        assert_eq!(
            names(&extra_volfiles(&dist1).unwrap()),
            ["d.gfproxyd.vol", "trusted-d.tcp-gfproxy-fuse.vol"]
        );
        let rep = redundant_volume("r", 1, false);
        assert_eq!(
            names(&extra_volfiles(&rep).unwrap()),
            [
                "r.gfproxyd.vol",
                "trusted-r.tcp-gfproxy-fuse.vol",
                "r-shd.vol"
            ]
        );
        let distdisp = redundant_volume("e", 2, true);
        assert_eq!(
            names(&extra_volfiles(&distdisp).unwrap()),
            [
                "e.gfproxyd.vol",
                "trusted-e.tcp-gfproxy-fuse.vol",
                "e-rebalance.vol",
                "e-shd.vol"
            ]
        );
    }

    #[test]
    fn the_shared_storage_volume_gets_no_gfproxy_client_volfile() {
        let v = volume("gluster_shared_storage", &["/a", "/b"]);
        assert_eq!(
            names(&extra_volfiles(&v).unwrap()),
            [
                "gluster_shared_storage.gfproxyd.vol",
                "gluster_shared_storage-rebalance.vol"
            ]
        );
        // Its gfproxy server does not take the bricks' strict-auth-accept either.
        assert!(!gfproxyd_volfile(&v).unwrap().contains("strict-auth-accept"));
    }

    #[test]
    fn transports_of_the_daemon_volfiles() {
        let mut v = volume("v", &["/a", "/b"]);
        v.transport = Transport::TcpRdma;
        // The rebalance volfile is written last with the last client transport, rdma.
        let rebalance = rebalance_volfile(&v).unwrap().unwrap();
        assert!(block(&rebalance, "v-client-0").contains("    option transport-type rdma\n"));
        // The gfproxy daemon's clients use tcp, its server both.
        let gfproxyd = gfproxyd_volfile(&v).unwrap();
        assert!(block(&gfproxyd, "v-client-0").contains("    option transport-type tcp\n"));
        assert!(block(&gfproxyd, "v-server").contains("    option transport-type tcp,rdma\n"));
        assert_eq!(
            gfproxy_client_volfile_name(&v),
            "trusted-v.tcp-gfproxy-fuse.vol"
        );
        v.transport = Transport::Rdma;
        assert_eq!(
            gfproxy_client_volfile_name(&v),
            "trusted-v.rdma-gfproxy-fuse.vol"
        );
        // The gfproxy client reaches its daemon over tcp whatever the volume's transport.
        let client = gfproxy_client_volfile(&v).unwrap();
        assert!(block(&client, "v-gfproxy-client").contains("    option transport-type tcp\n"));
        let rebalance = rebalance_volfile(&v).unwrap().unwrap();
        assert!(block(&rebalance, "v-client-1").contains("    option transport-type rdma\n"));
    }

    #[test]
    fn write_behind_goes_to_the_gfproxy_clients_only() {
        let mut v = volume("v", &["/a"]);
        v.options.push(("features.shard".into(), "on".into()));
        let client = gfproxy_client_volfile(&v).unwrap();
        let xlators: Vec<&str> = client
            .lines()
            .filter_map(|line| line.strip_prefix("volume "))
            .collect();
        assert_eq!(
            xlators,
            [
                "v-gfproxy-client",
                "v-shard",
                "v-utime",
                "v-quiesce",
                "v-write-behind",
                "v"
            ]
        );
        assert!(!gfproxyd_volfile(&v).unwrap().contains("write-behind"));
        v.options
            .push(("performance.write-behind".into(), "off".into()));
        assert!(!gfproxy_client_volfile(&v).unwrap().contains("write-behind"));
    }

    #[test]
    fn the_gfproxy_daemon_takes_the_volumes_send_gids_over_the_derived_one() {
        let mut v = volume("v", &["/a"]);
        v.options.push(("server.manage-gids".into(), "on".into()));
        v.options.push(("client.send-gids".into(), "true".into()));
        // The client graph derives send-gids from manage-gids, over the volume's value...
        let client = client_volfile(&v, true).unwrap();
        assert!(block(&client, "v-client-0").contains("    option send-gids false\n"));
        // ...and so does the gfproxy daemon's first pass, but its second pass, with the
        // volume's options, puts the volume's value back.
        let gfproxyd = gfproxyd_volfile(&v).unwrap();
        assert!(block(&gfproxyd, "v-client-0").contains("    option send-gids true\n"));
        assert!(block(&gfproxyd, "v-server").contains("    option manage-gids on\n"));
        // The rebalance graph derives nothing: the volume's value.
        let mut v = volume("v", &["/a", "/b"]);
        v.options.push(("server.manage-gids".into(), "on".into()));
        let rebalance = rebalance_volfile(&v).unwrap().unwrap();
        assert!(!rebalance.contains("send-gids"));
    }

    #[test]
    fn the_gfproxy_daemons_login_without_a_username() {
        let mut v = volume("v", &["/a"]);
        v.password = Some("secret".into());
        let gfproxyd = gfproxyd_volfile(&v).unwrap();
        let server = block(&gfproxyd, "v-server");
        assert!(server.contains("    option auth.login.(null).password secret\n"));
        assert!(!server.contains(".allow"));
        // No address authentication on the gfproxy server.
        v.options.push(("auth.allow".into(), "192.0.2.*".into()));
        assert!(!gfproxyd_volfile(&v).unwrap().contains("auth.addr"));
    }

    #[test]
    fn the_self_heal_daemon_overrides_and_keeps_volume_options() {
        let mut v = redundant_volume("r", 1, false);
        v.options
            .push(("cluster.self-heal-daemon".into(), "off".into()));
        v.options
            .push(("cluster.data-self-heal".into(), "off".into()));
        v.options
            .push(("cluster.heal-timeout".into(), "300".into()));
        v.options
            .push(("diagnostics.latency-measurement".into(), "on".into()));
        v.options
            .push(("diagnostics.client-log-level".into(), "DEBUG".into()));
        let shd = shd_volfile(&v).unwrap().unwrap();
        let afr = block(&shd, "r-replicate-0");
        // The volume's switch wins over the daemon's default...
        assert!(afr.contains("    option self-heal-daemon off\n"));
        // ...the daemon's fixed settings win over the volume's.
        assert!(afr.contains("    option data-self-heal on\n"));
        assert!(afr.starts_with(
            "volume r-replicate-0\n    type cluster/replicate\n    \
             option iam-self-heal-daemon yes\n"
        ));
        // heal-timeout sits right before self-heal-daemon, as it follows it in the table.
        assert!(afr.contains("    option heal-timeout 300\n    option self-heal-daemon off\n"));
        // io-stats takes the log level but no plain key.
        let io_stats = block(&shd, "r");
        assert!(io_stats.contains("    option log-level DEBUG\n"));
        assert!(!io_stats.contains("latency-measurement"));
        // The client volfile takes neither daemon key, and keeps the volume's data-self-heal.
        let client = client_volfile(&v, false).unwrap();
        let afr = block(&client, "r-replicate-0");
        assert!(!afr.contains("heal-timeout") && !afr.contains("self-heal-daemon"));
        assert!(afr.contains("    option data-self-heal off\n"));
        assert!(block(&client, "r").contains("    option latency-measurement on\n"));
    }

    #[test]
    fn the_disperse_self_heal_keys() {
        let mut v = redundant_volume("e", 1, true);
        v.options.push(("cluster.heal-timeout".into(), "60".into()));
        let shd = shd_volfile(&v).unwrap().unwrap();
        let ec = block(&shd, "e-disperse-0");
        assert!(ec.contains("    option heal-timeout 60\n    option self-heal-daemon enable\n"));
        // The disperse switch, unlike the replicate one, reaches every graph when set.
        v.options
            .push(("cluster.disperse-self-heal-daemon".into(), "disable".into()));
        let shd = shd_volfile(&v).unwrap().unwrap();
        assert!(block(&shd, "e-disperse-0").contains("    option self-heal-daemon disable\n"));
        let client = client_volfile(&v, false).unwrap();
        assert!(block(&client, "e-disperse-0").contains("    option self-heal-daemon disable\n"));
    }

    #[test]
    fn daemon_volfiles_are_absent_where_glusterd_writes_none() {
        let dist = volume("d", &["/a", "/b"]);
        assert_eq!(shd_volfile(&dist).unwrap(), None);
        let rep = redundant_volume("r", 1, false);
        assert_eq!(rebalance_volfile(&rep).unwrap(), None);
        assert!(rebalance_volfile(&redundant_volume("r", 2, false))
            .unwrap()
            .is_some());
    }

    #[test]
    fn rebalance_keeps_decommissioned_sets_and_drops_client_features() {
        let mut v = redundant_volume("r", 2, false);
        v.bricks[4].decommissioned = 1;
        v.options.push(("features.shard".into(), "on".into()));
        let rebalance = rebalance_volfile(&v).unwrap().unwrap();
        assert!(
            block(&rebalance, "r-dht").contains("    option decommissioned-bricks r-replicate-1\n")
        );
        assert!(!rebalance.contains("shard") && !rebalance.contains("utime"));
        assert!(block(&rebalance, "r-client-0").contains("    option username user\n"));
    }

    #[test]
    fn daemon_volfiles_refuse_what_the_others_refuse() {
        let mut v = redundant_volume("r", 2, false);
        v.brick_count = 5;
        assert!(matches!(
            extra_volfiles(&v),
            Err(VolgenError::Inconsistent { .. })
        ));
        assert!(matches!(
            shd_volfile(&v),
            Err(VolgenError::Inconsistent { .. })
        ));
        let mut v = volume("v", &["/a", "/b"]);
        v.options.push(("cluster.made-up-key".into(), "x".into()));
        assert!(matches!(
            rebalance_volfile(&v),
            Err(VolgenError::Option {
                problem: OptionProblem::Unknown,
                ..
            })
        ));
        assert!(gfproxy_client_volfile(&v).is_err());
    }
}
