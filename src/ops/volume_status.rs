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
        .filter(|b| b.uuid == state.node.node.uuid);
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
    dict.set_u32("sync-mgmt-operation", OP_STATUS_VOLUME);
    dict.set_bin("transaction_id", Uuid::new_v4().as_bytes());
    dict.set_bin("originator_uuid", state.node.node.uuid.as_bytes());

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
    let details = (cmd & CMD_DETAIL != 0).then_some(&gathered.details);
    add_bricks(&mut dict, volume, state, details, cmd & CMD_MASK);
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
        .filter(|b| b.uuid == state.node.node.uuid);
    for (i, brick) in local.enumerate() {
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
) {
    let node = state.node.node.uuid;
    let local: Vec<_> = volume.bricks.iter().filter(|b| b.uuid == node).collect();
    dict.set_u64("brick-index-max", local.len().saturating_sub(1) as u64);
    dict.set_i32("type", -1);
    for (i, brick) in local.iter().enumerate().rev() {
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
    // The self-heal daemon follows the bricks: hostname "Self-heal Daemon", path "localhost"
    // (glusterd 10.3's, docs/glusterd-volume-start.md §4.2), port 0 (printed N/A).
    // Only the plain status lists the daemons (no detail, clients, … bits: `cmd & 0xff` == 0).
    let mut others = 0u32;
    let plain = details.is_none() && cmd_mask == 0;
    if let Some(shd) = super::bricks::self_heal_of(state, volume).filter(|_| plain) {
        let i = local.len();
        let p = format!("brick{i}");
        let run = super::bricks::is_online(state, &volume.name, &shd.path);
        dict.set_i32(&format!("{p}.status"), i32::from(run.is_some()));
        dict.set_i32(&format!("{p}.pid"), run.as_ref().map_or(-1, |r| r.pid));
        dict.set_u32(&format!("{p}.rdma_port"), 0);
        dict.set_u32(&format!("{p}.port"), 0);
        dict.set_str(&format!("{p}.peerid"), &node.to_string());
        dict.set_str(&format!("{p}.path"), "localhost");
        dict.set_str(&format!("{p}.hostname"), "Self-heal Daemon");
        others += 1;
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
