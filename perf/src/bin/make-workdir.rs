//! `make-workdir`: writes a glusterd 10.3 working directory with many volumes and a few peers,
//! for `perf/compare.sh --cli`. Both glusterd and brickd start on it.
//!
//! Everything is written with brickd's own store writer (`brickd::store::Store`), so the files
//! are in glusterd's format, key order and atomic protocol: `glusterd.info`, `glusterd.upgrade`,
//! `options`, `peers/<uuid>` and per volume `info`, `bricks/*`, `node_state.info`,
//! `snapd.info` and `cksum`. No volfiles are written; glusterd does not need them to start or
//! to answer `volume info` for volumes that were never started.
//!
//! Volumes are `vol0000`, `vol0001`, … (from `--first`): plain distribute volumes in state Created, with 1 brick
//! (even numbers) or 2 bricks (odd numbers) at `HOST:BRICK_ROOT/volNNNN/bN`, owned by this node
//! (the brick UUID is the node UUID), with the three options glusterd 10.3 gives a new volume.
//! The brick paths need not exist: nothing starts a brick. Peers are in state 3 ("Peer in
//! Cluster") with TEST-NET-1 addresses (192.0.2.11, .12, …) as their host names: nothing to
//! resolve, and nothing answers there, so glusterd's connection attempts fail and the peers
//! show as Disconnected. UUIDs are derived from the indices, so the same arguments give the
//! same workdir.

use brickd::model::{
    Brick, Extra, NodeInfo, Peer, Uuid, Volume, OP_VERSION_MAX, PEER_STATE_BEFRIENDED,
};
use brickd::store::{layout, write_kv_file, Store};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Writes a glusterd-compatible workdir with N distribute volumes and P peers.
#[derive(Parser)]
#[command(name = "make-workdir")]
struct Args {
    /// The workdir to create; it must not exist or be empty.
    #[arg(long)]
    out: PathBuf,

    /// Number of volumes (vol0000 …).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    volumes: u32,

    /// Number of the first volume: `--volumes 1 --first 7` makes only vol0007, the same
    /// volume as vol0007 of a bigger workdir.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    first: u32,

    /// Number of peers (state 3, host names 192.0.2.11 …).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=200))]
    peers: u32,

    /// Host name of every brick (default: this machine's host name, which glusterd resolves
    /// to itself).
    #[arg(long)]
    host: Option<String>,

    /// Directory under which brick paths are named (they are not created).
    #[arg(long, default_value = "/bricks/perf")]
    brick_root: String,
}

/// Kinds of derived UUIDs, so that the node, peers, volumes and their secrets never collide.
#[derive(Clone, Copy)]
enum Kind {
    Node = 1,
    Peer = 2,
    Volume = 3,
    Username = 4,
    Password = 5,
}

/// A version-4-shaped UUID made of a fixed tag, the kind and the index.
fn derived_uuid(kind: Kind, index: u32) -> Uuid {
    let mut bytes = *b"brickd-perf\0\0\0\0\0";
    bytes[11] = kind as u8;
    bytes[12..].copy_from_slice(&index.to_be_bytes());
    Uuid::from_random_bytes(bytes)
}

/// This machine's host name, as `hostname(1)` prints it.
fn local_hostname() -> std::io::Result<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and the terminator is searched for below.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..len]).into_owned())
}

/// Volume `index`: distribute, 1 or 2 bricks, options as a new glusterd 10.3 volume has them.
fn volume(index: u32, node: Uuid, host: &str, brick_root: &str) -> Volume {
    let name = format!("vol{index:04}");
    let brick_count = 1 + index % 2;
    let bricks = (0..brick_count)
        .map(|b| {
            let path = format!("{brick_root}/{name}/b{b}");
            Brick {
                uuid: node,
                hostname: host.to_string(),
                real_path: path.clone(),
                mount_dir: path.clone(),
                path,
                brick_id: format!("{name}-client-{b}"),
                ..Brick::default()
            }
        })
        .collect();
    let options: Extra = [
        ("storage.fips-mode-rchecksum", "on"),
        ("transport.address-family", "inet"),
        ("nfs.disable", "on"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Volume {
        brick_count,
        username: Some(derived_uuid(Kind::Username, index).to_string()),
        password: Some(derived_uuid(Kind::Password, index).to_string()),
        op_version: 40000,
        options,
        bricks,
        ..Volume::new_distribute(name, derived_uuid(Kind::Volume, index))
    }
}

fn make(args: &Args) -> Result<(), String> {
    let out = &args.out;
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| format!("{}: {e}", out.display()))?
            .next()
            .is_some()
    {
        return Err(format!("{} exists and is not empty", out.display()));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let host = match &args.host {
        Some(host) => host.clone(),
        None => local_hostname().map_err(|e| format!("gethostname: {e}"))?,
    };
    let store = Store::new(out);
    let node = NodeInfo {
        uuid: derived_uuid(Kind::Node, 0),
        op_version: OP_VERSION_MAX,
        extra: Extra::new(),
    };
    let fail = |e: brickd::store::StoreError| e.to_string();
    store.write_node_info(&node).map_err(fail)?;
    write_kv_file(
        &out.join(layout::GLUSTERD_UPGRADE),
        &[("maximum-operating-version", OP_VERSION_MAX.to_string())],
    )
    .map_err(fail)?;
    write_kv_file(
        &out.join(layout::OPTIONS),
        &[("global-option-version", "0")],
    )
    .map_err(fail)?;
    for i in 0..args.peers {
        store
            .write_peer(&Peer {
                uuid: derived_uuid(Kind::Peer, i),
                state: PEER_STATE_BEFRIENDED,
                hostnames: vec![format!("192.0.2.{}", 11 + i)],
                extra: Extra::new(),
            })
            .map_err(fail)?;
    }
    // glusterd's own workdir has these directories; it creates the missing ones at start.
    std::fs::create_dir_all(out.join(layout::VOLS_DIR))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    for i in args.first..args.first + args.volumes {
        store
            .write_volume(&volume(i, node.uuid, &host, &args.brick_root))
            .map_err(fail)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let started = Instant::now();
    match make(&args) {
        Ok(()) => {
            eprintln!(
                "make-workdir: {} volumes, {} peers in {} ({:.1}s)",
                args.volumes,
                args.peers,
                args.out.display(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("make-workdir: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(root: &Path) -> brickd::store::Workdir {
        Store::load(root).expect("the generated workdir loads")
    }

    #[test]
    fn generated_workdir_loads_back_in_brickd() {
        let dir = std::env::temp_dir().join(format!("make-workdir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let args = Args {
            out: dir.clone(),
            volumes: 12,
            first: 0,
            peers: 3,
            host: Some("node-x".into()),
            brick_root: "/b".into(),
        };
        make(&args).unwrap();
        let workdir = load(&dir);
        assert_eq!(workdir.node.uuid, derived_uuid(Kind::Node, 0));
        assert_eq!(workdir.peers.len(), 3);
        assert!(workdir
            .peers
            .iter()
            .all(|p| p.state == PEER_STATE_BEFRIENDED && p.hostnames.len() == 1));
        assert_eq!(workdir.volumes.len(), 12);
        let v7 = workdir.volume("vol0007").unwrap();
        // Written from the head of its option list, read back each key to the head: the
        // options come back reversed, as glusterd's do.
        let mut written = volume(7, workdir.node.uuid, "node-x", "/b");
        written.options.reverse();
        assert_eq!(v7, &written);
        assert_eq!(v7.bricks.len(), 2);
        assert_eq!(v7.bricks[1].name(), "node-x:/b/vol0007/b1");
        assert_eq!(workdir.volume("vol0008").unwrap().bricks.len(), 1);
        assert!(make(&args).is_err(), "a non-empty workdir is refused");
        std::fs::remove_dir_all(&dir).unwrap();

        let only7 = Args {
            volumes: 1,
            first: 7,
            peers: 0,
            ..args
        };
        make(&only7).unwrap();
        let workdir = load(&dir);
        assert_eq!(workdir.volumes.len(), 1);
        assert_eq!(&workdir.volumes[0], v7);
        assert!(workdir.peers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn derived_uuids_differ_by_kind_and_index() {
        let a = derived_uuid(Kind::Volume, 1);
        assert_ne!(a, derived_uuid(Kind::Volume, 2));
        assert_ne!(a, derived_uuid(Kind::Username, 1));
        assert_eq!(a, derived_uuid(Kind::Volume, 1));
        assert_eq!(&a.to_string()[14..15], "4");
    }
}
