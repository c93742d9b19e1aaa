//! `volume status` (STATUS_VOLUME, proc 27), as glusterd answers it for this node's bricks.
//!
//! The CLI first asks with `cmd`=512 (all volumes) and gets the volume names; then it asks once
//! per volume with `cmd`=256 and `volname`. glusterd echoes the request's pairs and adds its
//! transaction keys (`sync-mgmt-operation`=18, `transaction_id`, `originator_uuid`, as 16-byte
//! binaries). A volume that is not started is refused with op_errno 30800 and "Volume X is not
//! started"; a missing one with "Volume X does not exist" (reference captures in
//! tests/golden/cli/). A brick's port, pid and online state come from the node's brick table
//! (`ops::bricks`); a brick whose process is not up shows status 0, port 0 and pid -1, as
//! glusterd shows it.

use super::shard::ShardState;
use crate::model::{Uuid, Volume, VolumeStatus};
use crate::proto::dict::{Dict, DictLimits};

/// `GF_CLI_STATUS_VOL`.
pub const CMD_VOLUME: u32 = 0x100;
/// `GF_CLI_STATUS_ALL`.
pub const CMD_ALL: u32 = 0x200;
/// glusterd's op_errno for a refused status (EG_... as glusterd sends it).
pub const ERRNO_STATUS_REFUSED: i32 = 30800;
/// `GD_OP_STATUS_VOLUME`, echoed as `sync-mgmt-operation`.
const OP_STATUS_VOLUME: u32 = 18;

/// A STATUS_VOLUME answer: op_ret, op_errno, op_errstr and the dict.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReply {
    /// 0 or -1.
    pub op_ret: i32,
    /// 0 or [`ERRNO_STATUS_REFUSED`].
    pub op_errno: i32,
    /// The CLI prints this on failure.
    pub op_errstr: String,
    /// The reply dict.
    pub dict: Dict,
}

/// `GF_CLI_STATUS_MASK`: the bits that ask for more than the plain status.
pub const CMD_MASK: u32 = 0xff;
/// `GF_CLI_STATUS_DETAIL`.
pub const CMD_DETAIL: u32 = 0x20;

/// `GF_CLI_STATUS_CLIENTS`.
pub const CMD_CLIENTS: u32 = 0x02;
/// `GF_CLI_STATUS_NFS`.
pub const CMD_NFS: u32 = 0x800;
/// `GF_CLI_STATUS_SHD`: the self-heal daemon's row alone.
pub const CMD_SHD: u32 = 0x1000;
/// `GF_CLI_STATUS_QUOTAD`.
pub const CMD_QUOTAD: u32 = 0x2000;
/// `GF_CLI_STATUS_SNAPD`: the snapshot daemon's row alone.
pub const CMD_SNAPD: u32 = 0x4000;
/// `GF_CLI_STATUS_BITD`.
pub const CMD_BITD: u32 = 0x8000;
/// `GF_CLI_STATUS_SCRUB`.
pub const CMD_SCRUB: u32 = 0x10000;

/// The file-system details of bricks, by path (`volume status … detail`).
pub type Details = std::collections::HashMap<String, crate::brick::usage::Detail>;

/// What a `detail` or `clients` status needs from each local brick, gathered off the shard.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Each brick's file system (`detail`).
    pub details: Details,
    /// Each brick's STATUS output dict, serialized (`clients`).
    pub clients: std::collections::HashMap<String, Vec<u8>>,
}

/// What to gather for a request before [`answer_with`] (reading file systems, asking bricks),
/// none of which may run on a shard.
#[derive(Debug)]
pub enum Gather {
    /// `detail`: the file systems of these brick paths.
    Details(Vec<String>),
    /// `clients`: a GD_BRICK STATUS of each online brick (path, its unix socket, the request
    /// dict glusterd sends it).
    Clients(Vec<(String, std::path::PathBuf, Vec<u8>)>),
}

/// What the request needs gathered first, if it is a `detail` or `clients` status of a
/// started volume.
pub fn to_gather(state: &ShardState, request: &[u8]) -> Option<Gather> {
    let dict = Dict::decode(request, DictLimits::default()).ok()??;
    let cmd = dict.get_u32("cmd").ok()?;
    if cmd & CMD_ALL != 0 || cmd & (CMD_DETAIL | CMD_CLIENTS) == 0 {
        return None;
    }
    let catalog = state.catalog();
    let volume = catalog.get(dict.get_str("volname").ok()?)?;
    if volume.status != VolumeStatus::Started {
        return None;
    }
    let local = volume
        .bricks
        .iter()
        .filter(|b| b.uuid == state.node.node.uuid());
    if cmd & CMD_DETAIL != 0 {
        return Some(Gather::Details(local.map(|b| b.path.clone()).collect()));
    }
    let asks = local
        .filter(|b| super::bricks::is_online(state, &volume.name, &b.path).is_some())
        .map(|b| {
            let mut input = Dict::new();
            input.set_str("brick-name", &b.path);
            input.set_u32("cmd", cmd);
            input.set_str("volname", &volume.name);
            let mut bytes = Vec::new();
            input.encode(&mut bytes);
            (
                b.path.clone(),
                super::bricks::socket_of(state, volume, b),
                bytes,
            )
        })
        .collect();
    Some(Gather::Clients(asks))
}

/// Gathers what [`to_gather`] asked for. Blocks: call it from a thread of its own.
pub fn gather(what: Gather) -> Gathered {
    let mut out = Gathered::default();
    match what {
        Gather::Details(paths) => {
            for p in paths {
                if let Ok(d) = crate::brick::usage::detail(std::path::Path::new(&p)) {
                    out.details.insert(p, d);
                }
            }
        }
        Gather::Clients(asks) => {
            for (path, socket, input) in asks {
                match crate::brick::process::brick_status(&socket, &input, BRICK_STATUS_TIMEOUT) {
                    Ok(output) => {
                        out.clients.insert(path, output);
                    }
                    Err(e) => {
                        tracing::warn!(brick = %path, error = %e, "brick status not answered")
                    }
                }
            }
        }
    }
    out
}

/// How long `volume status … clients` waits for each brick.
const BRICK_STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Answers a STATUS_VOLUME request dict.
pub fn answer(state: &ShardState, request: &[u8]) -> StatusReply {
    answer_with(state, request, &Gathered::default())
}

/// Answers a STATUS_VOLUME request dict, with what was gathered from the bricks for a
/// `detail` or `clients` request.
pub fn answer_with(state: &ShardState, request: &[u8], gathered: &Gathered) -> StatusReply {
    let mut dict = match Dict::decode(request, DictLimits::default()) {
        Ok(Some(d)) => d,
        Ok(None) => Dict::new(),
        Err(e) => {
            return StatusReply {
                op_ret: -1,
                op_errno: 0,
                op_errstr: format!("malformed request dict: {e}"),
                dict: Dict::new(),
            }
        }
    };
    let cmd = dict.get_u32("cmd").unwrap_or(0);
    let volname = dict.get_str("volname").ok().map(str::to_owned);
    // A peer's status (this node a participant) carries its originator's ids, echoed back.
    let for_peer = dict
        .get_bin("originator_uuid")
        .is_some_and(|o| o != state.node.node.uuid().as_bytes());
    dict.set_u32("sync-mgmt-operation", OP_STATUS_VOLUME);
    if !for_peer {
        dict.set_bin("transaction_id", Uuid::new_v4().as_bytes());
        dict.set_bin("originator_uuid", state.node.node.uuid().as_bytes());
    }

    let catalog = state.catalog();
    let volname = match volname {
        Some(name) if cmd & CMD_ALL == 0 => name,
        _ => {
            dict.set_u64("vol_count", catalog.len() as u64);
            for (i, name) in catalog.keys().enumerate() {
                dict.set_str(&format!("vol{i}"), name);
            }
            return ok(dict);
        }
    };
    let Some(volume) = catalog.get(&volname) else {
        return refused(dict, format!("Volume {volname} does not exist"));
    };
    dict.set_str("vol-id", &volume.volume_id.to_string());
    if volume.status != VolumeStatus::Started {
        return refused(dict, format!("Volume {volname} is not started"));
    }
    match daemon_status(state, volume, &mut dict, cmd, for_peer) {
        Some(Ok(())) => return ok(dict),
        Some(Err(message)) => return refused(dict, message),
        None => {}
    }
    let details = (cmd & CMD_DETAIL != 0).then_some(&gathered.details);
    add_bricks(&mut dict, volume, state, details, cmd & CMD_MASK, for_peer);
    if cmd & CMD_NFS != 0 {
        // `volume status VOL nfs` on a glusterd without an NFS server (Debian's): the plain
        // status, without the tasks.
        dict.remove("tasks");
    }
    if cmd & CMD_CLIENTS != 0 {
        add_clients(&mut dict, volume, state, &gathered.clients);
    }
    ok(dict)
}

/// Adds each brick's STATUS output under `brick<i>.` (glusterd's merge of the bricks'
/// answers: `brick0.clientcount`, `brick0.client0.hostname`, …).
fn add_clients(
    dict: &mut Dict,
    volume: &Volume,
    state: &ShardState,
    clients: &std::collections::HashMap<String, Vec<u8>>,
) {
    let local = volume
        .bricks
        .iter()
        .enumerate()
        .filter(|(_, b)| b.uuid == state.node.node.uuid());
    for (i, brick) in local {
        let Some(bytes) = clients.get(&brick.path) else {
            continue;
        };
        let Ok(Some(output)) = Dict::decode(bytes, DictLimits::default()) else {
            continue;
        };
        for (key, value) in output.iter() {
            dict.push(&format!("brick{i}.{key}"), value.to_vec());
        }
    }
}

fn ok(dict: Dict) -> StatusReply {
    StatusReply {
        op_ret: 0,
        op_errno: 0,
        op_errstr: String::new(),
        dict,
    }
}

fn refused(dict: Dict, message: String) -> StatusReply {
    StatusReply {
        op_ret: -1,
        op_errno: ERRNO_STATUS_REFUSED,
        op_errstr: message,
        dict,
    }
}

/// Adds this node's bricks of a started volume with their processes (port, pid, online from
/// the node's brick table), in glusterd's key order.
fn add_bricks(
    dict: &mut Dict,
    volume: &Volume,
    state: &ShardState,
    details: Option<&Details>,
    cmd_mask: u32,
    for_peer: bool,
) {
    let node = state.node.node.uuid();
    // Keyed by their place in the volume, as glusterd keys them: the other nodes' answers
    // fill the gaps (`merge_peer`).
    let local: Vec<(usize, &crate::model::Brick)> = volume
        .bricks
        .iter()
        .enumerate()
        .filter(|(_, b)| b.uuid == node)
        .collect();
    // glusterd's layout on every node: `brick-index-max` is the volume's last brick (not
    // this node's), and the daemons follow every brick of the volume.
    let index_max = volume.bricks.len() as i64 - 1;
    dict.set_i64("brick-index-max", index_max);
    dict.set_i32("type", -1);
    for &(i, brick) in local.iter().rev() {
        let p = format!("brick{i}");
        let run = super::bricks::is_online(state, &volume.name, &brick.path);
        // Set before the rest: the dict goes out newest first, so these follow `status`
        // (glusterd's wire order, tests/golden/cli/volume-status-started-detail).
        if let Some(d) = details.and_then(|d| d.get(&brick.path)) {
            if let Some(size) = d.inode_size {
                dict.set_u32(&format!("{p}.inode_size"), size);
            }
            dict.set_str(&format!("{p}.mnt_options"), &d.mnt_options);
            dict.set_str(&format!("{p}.fs_name"), &d.fs_name);
            dict.set_str(&format!("{p}.device"), &d.device);
            dict.set_u64(&format!("{p}.free_inodes"), d.free_inodes);
            dict.set_u64(&format!("{p}.total_inodes"), d.total_inodes);
            dict.set_u64(&format!("{p}.total"), d.total);
            dict.set_u64(&format!("{p}.free"), d.free);
            dict.set_u64(&format!("{p}.block_size"), d.block_size);
        }
        dict.set_i32(&format!("{p}.status"), i32::from(run.is_some()));
        dict.set_i32(&format!("{p}.pid"), run.as_ref().map_or(-1, |r| r.pid));
        dict.set_u32(&format!("{p}.rdma_port"), 0);
        dict.set_u32(
            &format!("{p}.port"),
            run.as_ref().map_or(0, |r| u32::from(r.port)),
        );
        dict.set_str(&format!("{p}.peerid"), &brick.uuid.to_string());
        dict.set_str(&format!("{p}.path"), &brick.path);
        dict.set_str(&format!("{p}.hostname"), &brick.hostname);
    }
    // The daemons follow every brick of the volume: the snapshot daemon, then the self-heal
    // daemon. Only the plain status lists them (no detail, clients, … bits: `cmd & 0xff` == 0).
    let mut others = 0u32;
    let plain = details.is_none() && cmd_mask == 0;
    if plain {
        for daemon in [Daemon::Snapd, Daemon::SelfHeal] {
            let index = index_max + 1 + i64::from(others);
            if add_daemon(dict, state, volume, daemon, index, for_peer) {
                others += 1;
            }
        }
    }
    // glusterd counts the self-heal daemon in `count` for `clients` too (it asks it, and
    // lists nothing for it): a replica 2 volume's `clients` reply says count 3.
    let counted =
        if cmd_mask & CMD_CLIENTS != 0 && super::bricks::self_heal_of(state, volume).is_some() {
            1
        } else {
            others
        };
    dict.set_u64("count", local.len() as u64 + u64::from(counted));
    dict.set_u32("other-count", others);
    dict.set_i32("hot_brick_count", -1);
    dict.set_u32("tasks", 0);
}

/// A daemon a status lists after the bricks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Daemon {
    /// The snapshot daemon (`features.uss on`).
    Snapd,
    /// The self-heal daemon (replicate and disperse volumes).
    SelfHeal,
}

/// Adds `daemon`'s row as `brick<index>` if it runs here for `volume`: whether it did.
///
/// - The snapshot daemon: hostname "Snapshot Daemon", its port; glusterd sets no RDMA port
///   for it.
/// - The self-heal daemon: hostname "Self-heal Daemon", port 0 (printed N/A)
///   (glusterd 10.3's, docs/glusterd-volume-start.md §4.2).
///
/// The path is `localhost` in this node's own status and its UUID in its answer to a peer's
/// status, which the originator turns into this node's address (glusterd's way).
fn add_daemon(
    dict: &mut Dict,
    state: &ShardState,
    volume: &Volume,
    daemon: Daemon,
    index: i64,
    for_peer: bool,
) -> bool {
    let launch = match daemon {
        Daemon::Snapd => super::bricks::snapd_of(state, volume),
        // Still running, but not shown (glusterd's way).
        Daemon::SelfHeal if !self_heal_enabled(volume) => None,
        Daemon::SelfHeal => super::bricks::self_heal_of(state, volume),
    };
    let Some(launch) = launch else {
        return false;
    };
    let node = state.node.node.uuid();
    let p = format!("brick{index}");
    let run = super::bricks::is_online(state, &volume.name, &launch.path);
    dict.set_i32(&format!("{p}.status"), i32::from(run.is_some()));
    dict.set_i32(&format!("{p}.pid"), run.as_ref().map_or(-1, |r| r.pid));
    match daemon {
        Daemon::Snapd => {
            let port = (state.node.bricks.get(&launch.path)).map_or(0, |r| i32::from(r.port));
            dict.set_i32(&format!("{p}.port"), port);
        }
        Daemon::SelfHeal => {
            dict.set_u32(&format!("{p}.rdma_port"), 0);
            dict.set_u32(&format!("{p}.port"), 0);
        }
    }
    dict.set_str(&format!("{p}.peerid"), &node.to_string());
    let path = if for_peer {
        node.to_string()
    } else {
        "localhost".to_string()
    };
    dict.set_str(&format!("{p}.path"), &path);
    let name = match daemon {
        Daemon::Snapd => "Snapshot Daemon",
        Daemon::SelfHeal => "Self-heal Daemon",
    };
    dict.set_str(&format!("{p}.hostname"), name);
    true
}

/// Whether the volume's self-heal daemon heals: `cluster.self-heal-daemon` (replicate) or
/// `disperse.self-heal-daemon` (disperse) is not off. Turned off, the daemon keeps running
/// (its graph says not to heal) and `volume status` leaves it out, as glusterd does.
fn self_heal_enabled(volume: &Volume) -> bool {
    let key = match volume.volume_type {
        crate::model::VolumeType::Disperse => "disperse.self-heal-daemon",
        _ => "cluster.self-heal-daemon",
    };
    volume.option(key).and_then(crate::volopt::parse_bool) != Some(false)
}

/// `volume status VOL shd|snapd|quotad|bitd|scrub`: one daemon's row alone (as `brick0`,
/// with `brick-index-max` -1), or glusterd's refusal when the volume has no such daemon.
/// `None` for any other status (`nfs` included: Debian's glusterd has no NFS server and
/// answers it as a plain status).
fn daemon_status(
    state: &ShardState,
    volume: &Volume,
    dict: &mut Dict,
    cmd: u32,
    for_peer: bool,
) -> Option<Result<(), String>> {
    let name = &volume.name;
    let enabled = |key: &str| volume.option(key).and_then(crate::volopt::parse_bool) == Some(true);
    let daemon = if cmd & CMD_SHD != 0 {
        if !super::bricks::has_self_heal(volume) {
            return Some(Err(format!("Volume {name} is not Self-heal compatible")));
        }
        if !self_heal_enabled(volume) {
            return Some(Err(format!(
                "Self-heal Daemon is disabled for volume {name}"
            )));
        }
        Daemon::SelfHeal
    } else if cmd & CMD_QUOTAD != 0 {
        return Some(Err(if enabled("features.quota") {
            format!("brickd runs no quota daemon for volume {name}")
        } else {
            format!("Volume {name} does not have quota enabled")
        }));
    } else if cmd & (CMD_BITD | CMD_SCRUB) != 0 {
        let more = if cmd & CMD_BITD != 0 {
            ""
        } else {
            ". Scrubber will be enabled automatically if bitrot is enabled"
        };
        return Some(Err(if enabled("features.bitrot") {
            format!("brickd runs no bitrot daemon for volume {name}")
        } else {
            format!("Volume {name} does not have bitrot enabled{more}")
        }));
    } else if cmd & CMD_SNAPD != 0 {
        if !crate::volgen::uss_enabled(volume) {
            return Some(Err(format!("Volume {name} does not have uss enabled")));
        }
        Daemon::Snapd
    } else {
        return None;
    };
    let added = add_daemon(dict, state, volume, daemon, 0, for_peer);
    dict.set_i64("brick-index-max", -1);
    dict.set_i32("type", -1);
    dict.set_u32("other-count", u32::from(added));
    dict.set_u64("count", u64::from(added));
    dict.set_i32("hot_brick_count", -1);
    Some(Ok(()))
}

/// Answers a STATUS_VOLUME request on this node: gathers what a `detail` or `clients` status
/// needs (on a thread: it reads file systems and asks bricks), then answers for this node's
/// bricks and daemons.
pub async fn local_status(state: &ShardState, request: &[u8]) -> StatusReply {
    let Some(what) = to_gather(state, request) else {
        return answer(state, request);
    };
    let (tx, rx) = futures_channel::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("brickd-status".into())
        .spawn(move || {
            let _ = tx.send(gather(what));
        });
    let gathered = match spawned {
        Ok(_) => rx.await.unwrap_or_default(),
        Err(_) => Gathered::default(),
    };
    answer_with(state, request, &gathered)
}

/// Whether a status of the request's volume needs the other nodes' answers: a started volume
/// with bricks on other nodes.
pub fn needs_peers(state: &ShardState, request: &[u8]) -> bool {
    // A node without peers (the common case on the status hot path) decodes nothing here.
    if state.node.peers.load().peers.is_empty() {
        return false;
    }
    let Ok(Some(dict)) = Dict::decode(request, DictLimits::default()) else {
        return false;
    };
    let cmd = dict.get_u32("cmd").unwrap_or(0);
    let Ok(name) = dict.get_str("volname") else {
        return false;
    };
    let me = state.node.node.uuid();
    cmd & CMD_ALL == 0
        && state.catalog().get(name).is_some_and(|v| {
            v.status == VolumeStatus::Started && v.bricks.iter().any(|b| b.uuid != me)
        })
}

/// Merges a peer's status answer (`peer`, from the node named `host`) into this node's
/// (`into`), glusterd's originator's way: every node lists its bricks at their place in the
/// volume (up to `brick-index-max`, the volume's last brick) and its daemons after them; a
/// peer's daemons move past the ones merged so far, named by the peer's address.
pub fn merge_peer(into: &mut Dict, peer: &Dict, host: &str) {
    let number = |d: &Dict, key: &str| d.get_i64(key).unwrap_or(0);
    let index_max = number(into, "brick-index-max");
    let (our_count, our_others) = (number(into, "count"), number(into, "other-count"));
    for (key, value) in peer.iter() {
        let Some((index, rest)) = key
            .strip_prefix("brick")
            .and_then(|k| k.split_once('.'))
            .and_then(|(i, rest)| Some((i.parse::<i64>().ok()?, rest)))
        else {
            continue;
        };
        if index > index_max {
            let to = format!("brick{}.{rest}", index + our_others);
            if rest == "path" {
                into.set_str(&to, host);
            } else {
                into.set_bin(&to, value);
            }
        } else {
            into.set_bin(key, value);
        }
    }
    into.set_i64("count", our_count + number(peer, "count"));
    into.set_i64("other-count", our_others + number(peer, "other-count"));
}

/// A status of a volume with bricks on other nodes (on the change shard, which holds the
/// links): this node's answer, with every connected holder's merged in. A peer that does not
/// answer is left out, as glusterd leaves out the bricks of a node it cannot reach.
pub async fn pool_status(state: &ShardState, request: &[u8]) -> StatusReply {
    let mut reply = local_status(state, request).await;
    if reply.op_ret != 0 {
        return reply;
    }
    let Ok(Some(mut dict)) = Dict::decode(request, DictLimits::default()) else {
        return reply;
    };
    let Some(volume) = dict
        .get_str("volname")
        .ok()
        .and_then(|n| state.catalog().get(n).cloned())
    else {
        return reply;
    };
    // A glusterd peer checks the volume's id in the op dict ("Validation Failed for Status"
    // without it).
    dict.set_str("vol-id", &volume.volume_id.to_string());
    let me = state.node.node.uuid();
    let mut holders: Vec<Uuid> = volume
        .bricks
        .iter()
        .map(|b| b.uuid)
        .filter(|&u| u != me)
        .collect();
    holders.sort();
    holders.dedup();
    for (host, answer) in super::remote::peer_status(state, &holders, &dict).await {
        match answer {
            Ok(theirs) => merge_peer(&mut reply.dict, &theirs, &host),
            Err(e) => tracing::info!(peer = %host, error = %e.message, "no status from a peer"),
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(d: &mut Dict, i: u32, host: &str, path: &str, pid: &str) {
        d.set_str(&format!("brick{i}.hostname"), host);
        d.set_str(&format!("brick{i}.path"), path);
        d.set_str(&format!("brick{i}.pid"), pid);
    }

    /// The dicts of a replica 2 volume's status on two glusterds (a capture of 10.3): the
    /// originator's own part, the peer's answer, and what the originator's merge made of them.
    #[test]
    fn a_peers_status_merges_as_glusterds_originator_merges_it() {
        let mut ours = Dict::new();
        entry(&mut ours, 0, "127.1.1.1", "/b/1/cv", "8744");
        entry(&mut ours, 2, "Self-heal Daemon", "localhost", "8761");
        ours.set_i64("brick-index-max", 1);
        ours.set_i64("count", 2);
        ours.set_i64("other-count", 1);
        let mut theirs = Dict::new();
        entry(&mut theirs, 1, "127.1.1.2", "/b/2/cv", "8772");
        entry(
            &mut theirs,
            2,
            "Self-heal Daemon",
            "deb135f1-4dc5-4d55-a60d-5a81321bd601",
            "8789",
        );
        theirs.set_i64("brick-index-max", 1);
        theirs.set_i64("count", 2);
        theirs.set_i64("other-count", 1);
        merge_peer(&mut ours, &theirs, "127.1.1.2");
        let get = |k: &str| ours.get_str(k).unwrap().to_string();
        assert_eq!(
            [get("brick-index-max"), get("count"), get("other-count")],
            ["1", "4", "2"]
        );
        assert_eq!([get("brick0.pid"), get("brick1.pid")], ["8744", "8772"]);
        assert_eq!(
            [get("brick1.hostname"), get("brick1.path")],
            ["127.1.1.2", "/b/2/cv"]
        );
        assert_eq!(
            [get("brick2.path"), get("brick2.pid")],
            ["localhost", "8761"]
        );
        assert_eq!(
            [
                get("brick3.hostname"),
                get("brick3.path"),
                get("brick3.pid")
            ],
            ["Self-heal Daemon", "127.1.1.2", "8789"]
        );
        // A third node's daemon goes after both.
        let mut third = Dict::new();
        entry(&mut third, 2, "Self-heal Daemon", "x", "9");
        third.set_i64("brick-index-max", 1);
        third.set_i64("count", 1);
        third.set_i64("other-count", 1);
        merge_peer(&mut ours, &third, "127.1.1.3");
        assert_eq!(ours.get_str("count").unwrap(), "5");
        assert_eq!(ours.get_str("brick4.path").unwrap(), "127.1.1.3");
    }
}
