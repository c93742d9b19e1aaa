//! Pools for the tests: peer status as a map, waiting for a pool to settle, the store files
//! every member must hold alike, a member whose copy of a volume drifted, `brickd peer`.

use super::node::{wait_until, Node};
use std::collections::BTreeMap;
use std::path::Path;

/// What `peer status` says of a peer that is fully in the pool.
pub const IN_CLUSTER: &str = "Peer in Cluster (Connected)";

/// Peer status lines, as `Hostname -> State` (the Uuid lines checked against the store).
pub fn peers_of(cli: impl Fn(&[&str]) -> (i32, String, String)) -> BTreeMap<String, String> {
    let (code, out, err) = cli(&["peer", "status"]);
    assert_eq!(code, 0, "peer status: {out}{err}");
    let mut peers = BTreeMap::new();
    let mut host = None;
    for line in out.lines() {
        if let Some(h) = line.strip_prefix("Hostname: ") {
            host = Some(h.to_string());
        } else if let Some(state) = line.strip_prefix("State: ") {
            peers.insert(
                host.take().expect("a Hostname line first"),
                state.to_string(),
            );
        }
    }
    peers
}

/// Waits until `cli` lists exactly `hosts`, each "Peer in Cluster (Connected)".
pub fn wait_in_cluster(cli: impl Fn(&[&str]) -> (i32, String, String), hosts: &[&str], who: &str) {
    let want: BTreeMap<String, String> = hosts
        .iter()
        .map(|h| (h.to_string(), IN_CLUSTER.to_string()))
        .collect();
    let mut last = BTreeMap::new();
    wait_until(
        || {
            last = peers_of(&cli);
            last == want
        },
        &format!("{who} to list {hosts:?} in cluster"),
    );
}

/// The `peers/` store files of a workdir, by file name.
pub fn peer_files(workdir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(workdir.join("peers"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

pub fn uuid_of(workdir: &Path) -> String {
    std::fs::read_to_string(workdir.join("glusterd.info"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("UUID=").map(str::to_string))
        .unwrap()
}

/// The store files of volume `name` every node must hold alike: `brick-fsid` aside, which
/// each node knows for its own bricks only (0 for the others' on every node, as glusterd
/// writes it; brick files are not part of the checksum).
pub fn volume_store(workdir: &Path, name: &str) -> BTreeMap<String, String> {
    let dir = workdir.join("vols").join(name);
    let mut files = BTreeMap::new();
    for rel in ["info", "cksum"] {
        files.insert(
            rel.to_string(),
            std::fs::read_to_string(dir.join(rel)).unwrap(),
        );
    }
    for e in std::fs::read_dir(dir.join("bricks")).unwrap().flatten() {
        files.insert(
            format!("bricks/{}", e.file_name().to_string_lossy()),
            std::fs::read_to_string(e.path())
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("brick-fsid="))
                .map(|l| format!("{l}\n"))
                .collect(),
        );
    }
    files
}

/// `info` text with its option lines (keys with a `.`) in the reverse order: what a node that
/// imported the volume writes, when the sender held them in file order (glusterd's importer
/// puts each key at the head of its list as it reads the export, and writes the list from
/// the head). The checksum does not change: it sorts the lines first.
pub fn with_options_reversed(info: &str) -> String {
    let lines: Vec<&str> = info.lines().collect();
    let is_option = |l: &&str| l.split('=').next().is_some_and(|k| k.contains('.'));
    let mut options: Vec<&str> = lines.iter().copied().filter(is_option).collect();
    lines
        .iter()
        .map(|l| {
            if is_option(l) {
                options.pop().unwrap()
            } else {
                l
            }
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The brick directory's `trusted.glusterfs.volume-id`, if any.
pub fn volume_id_xattr(path: &Path) -> Option<Vec<u8>> {
    super::fs::get_xattr(path, "trusted.glusterfs.volume-id")
}

/// How many lock leases `node` holds (`brickd locks list`).
pub fn leases(node: &super::node::Node) -> usize {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_brickd"))
        .args(["locks", "--socket"])
        .arg(&node.brickd.socket)
        .arg("list")
        .output()
        .unwrap();
    assert!(out.status.success(), "brickd locks list: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("count="))
        .map(|n| n.trim().parse::<usize>().unwrap())
        .sum()
}

/// Waits until `cli` shows `host` still in the pool but disconnected.
pub fn wait_disconnected(cli: impl Fn(&[&str]) -> (i32, String, String), host: &str, who: &str) {
    wait_until(
        || peers_of(&cli).get(host).map(String::as_str) == Some("Peer in Cluster (Disconnected)"),
        &format!("{who} to see {host} down"),
    );
}

/// `brickd peer ARGS --socket` against `node`: exit code, stdout, stderr.
pub fn brickd_peer(node: &Node, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_brickd"))
        .arg("peer")
        .args(args)
        .arg("--socket")
        .arg(&node.brickd.socket)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Stops pool member `node` and starts it again on a copy of its workdir in which volume
/// `volume` gained an option without a new version: the checksums then differ at the same
/// version, which no transaction could have done. It restarts once before that, waiting until
/// it is in the pool with `peer` again, so that its journal holds nothing a restart would redo
/// over the edit. The last start has `env` (failpoints). Returns the node and the directories
/// that hold its workdir.
pub fn restart_with_drift(
    node: Node,
    peer: &str,
    volume: &str,
    env: &[(&str, &str)],
) -> (Node, [tempfile::TempDir; 2]) {
    let listen = format!("{}:24007", node.host);
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    super::copy_dir(&node.brickd.workdir, &first.path().join("w"));
    drop(node);
    let node = Node::start_on(Some(first.path().join("w")), None, &["--listen", &listen]);
    wait_in_cluster(
        |args: &[&str]| node.cli(args),
        &[peer],
        "the restarted node",
    );
    let workdir = second.path().join("w");
    super::copy_dir(&node.brickd.workdir, &workdir);
    drop(node);
    let info = workdir.join("vols").join(volume).join("info");
    let text = std::fs::read_to_string(&info).unwrap();
    let edited = text.replace(
        "nfs.disable=on\n",
        "nfs.disable=on\nperformance.readdir-ahead=on\n",
    );
    assert_ne!(edited, text);
    std::fs::write(&info, edited).unwrap();
    let node = Node::start_env(Some(workdir), None, &["--listen", &listen], env);
    (node, [first, second])
}

/// The lines of `info` of `volume` in `workdir`, sorted (an imported volume lists its options
/// in the reverse order, as a glusterd that imports one does), and its checksum file.
pub fn info_lines_and_cksum(workdir: &Path, volume: &str) -> (Vec<String>, String) {
    let read = |file: &str| {
        std::fs::read_to_string(workdir.join("vols").join(volume).join(file)).unwrap_or_default()
    };
    let mut lines: Vec<String> = read("info").lines().map(str::to_owned).collect();
    lines.sort();
    (lines, read("cksum"))
}

/// Waits until `node` holds the export of a peer it rejected (its statedump's
/// `[pool.rejections]` counts one): what `brickd peer reconcile` takes. A node shows a peer
/// rejected as soon as that peer refuses its volumes, a moment before the peer's own arrive.
pub fn wait_rejection_noted(node: &Node) {
    wait_until(
        || super::node::statedump(node).contains("[pool.rejections]\ncount=1\n"),
        &format!("{} to note the rejection", node.host),
    );
}

/// What `peer status` says of a peer that rejected this node or that it rejected.
pub const REJECTED: &str = "Peer Rejected (Connected)";

/// Whether `node`'s `peer status` shows `other` rejected.
pub fn shows_rejected(node: &Node, other: &str) -> bool {
    peers_of(|args: &[&str]| node.cli(args))
        .get(other)
        .map(String::as_str)
        == Some(REJECTED)
}

/// Two pool members, `a` and `b`, and a one-brick volume `volume` made from `a` with its
/// brick on `disk`, stored on both.
pub fn two_members_with_volume(disk: &super::fs::Xfs, volume: &str) -> (Node, Node) {
    let (a, b) = (Node::pool_member(), Node::pool_member());
    a.ok(&["peer", "probe", &b.host]);
    a.ok(&[
        "volume",
        "create",
        volume,
        &format!("{}:{}/{volume}", a.host, disk.root()),
    ]);
    wait_until(
        || b.cli(&["volume", "info", volume]).0 == 0,
        &format!("b to hold {volume}"),
    );
    super::wait_for_store(&b.brickd.workdir, volume);
    (a, b)
}
