//! GLUSTER_HNDSK 14398633 v2 as glusterd serves it: GETSPEC (a brick's, a client's, a
//! daemon's volfile, rendered from the catalog in memory, never read back from the store),
//! GET_VOLUME_INFO and EVENT_NOTIFY. On the unix socket glusterd serves GETSPEC only
//! ("Gluster Handshake (CLI Getspec)").
//!
//! Volfile ids (the GETSPEC key), as glusterd 10.3 resolves them:
//!
//! | key | volfile |
//! |---|---|
//! | `v1.HOST.data-b1` | the brick volfile of `HOST:/data/b1` |
//! | `v1`, `/v1` | the FUSE client volfile; the trusted one (with the volume's internal credentials) for a client on this node or a peer, as glusterd gives it |
//! | `shd/v1`, `rebalance/v1`, `gfproxyd/v1`, `gfproxy-client/v1`, `snapd/v1` | the daemons' volfiles |
//!
//! An unknown id gets glusterd's answer: op_ret -1, op_errno ENOENT, an empty volfile.

use super::shard::ShardState;
use crate::model::Volume;
use crate::program::{CallContext, Outcome, Program, Transport};
use crate::proto::hndsk::{self, GetspecRsp};
use crate::proto::programs::names;
use crate::proto::rpc::ReplyStatus;
use std::rc::Rc;

/// `GF_GET_VOLUME_UUID`: GET_VOLUME_INFO asks for the volume's id.
const GET_VOLUME_UUID: u32 = 1;

/// What a volfile id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolfileId<'a> {
    /// `<volume>.<host>.<dashed path>`: a brick's; the rest after the volume is kept whole
    /// (hosts have dots), and matched against the volume's bricks.
    Brick {
        /// The volume.
        volume: &'a str,
    },
    /// The FUSE client's.
    Client {
        /// The volume.
        volume: &'a str,
    },
    /// The self-heal daemon's.
    Shd {
        /// The volume.
        volume: &'a str,
    },
    /// The rebalance daemon's.
    Rebalance {
        /// The volume.
        volume: &'a str,
    },
    /// The gfproxy daemon's.
    Gfproxyd {
        /// The volume.
        volume: &'a str,
    },
    /// The gfproxy client's.
    GfproxyClient {
        /// The volume.
        volume: &'a str,
    },
    /// The snapshot daemon's.
    Snapd {
        /// The volume.
        volume: &'a str,
    },
}

/// Parses a GETSPEC key; `None` for one that names nothing glusterd serves.
pub fn parse_volfile_id(key: &str) -> Option<VolfileId<'_>> {
    let key = key.strip_prefix('/').unwrap_or(key);
    if let Some((kind, volume)) = key.split_once('/') {
        if volume.is_empty() || volume.contains('/') {
            return None;
        }
        return match kind {
            "shd" => Some(VolfileId::Shd { volume }),
            "rebalance" => Some(VolfileId::Rebalance { volume }),
            "gfproxyd" => Some(VolfileId::Gfproxyd { volume }),
            "gfproxy-client" => Some(VolfileId::GfproxyClient { volume }),
            "snapd" => Some(VolfileId::Snapd { volume }),
            _ => None,
        };
    }
    match key.split_once('.') {
        Some((volume, rest)) if !volume.is_empty() && !rest.is_empty() => {
            Some(VolfileId::Brick { volume })
        }
        Some(_) => None,
        None if key.is_empty() => None,
        None => Some(VolfileId::Client { volume: key }),
    }
}

/// The volfile for `key` from `volume` (the one the key names), rendered now.
fn render(
    state: &ShardState,
    key: &str,
    id: VolfileId<'_>,
    volume: &Volume,
    trusted: bool,
) -> Option<String> {
    let me = state.node.node.uuid();
    let rendered = match id {
        VolfileId::Brick { .. } => {
            let key = key.strip_prefix('/').unwrap_or(key);
            let index = volume.bricks.iter().position(|b| {
                crate::brick::glusterfsd::volfile_id(&volume.name, &b.hostname, &b.path) == key
            })?;
            crate::volgen::brick_volfile_for_node(volume, index, &state.node.workdir, &me).map(
                |t| {
                    // A bound node's bricks listen on its address only, as a bound glusterd's.
                    Some(match state.node.processes.bind_address {
                        Some(address) => crate::volgen::with_bind_address(&t, &address.to_string()),
                        None => t,
                    })
                },
            )
        }
        VolfileId::Client { .. } => crate::volgen::client_volfile(volume, trusted).map(Some),
        // None for a volume type without the daemon.
        VolfileId::Shd { .. } => crate::volgen::shd_volfile(volume),
        VolfileId::Rebalance { .. } => crate::volgen::rebalance_volfile(volume),
        VolfileId::Gfproxyd { .. } => crate::volgen::gfproxyd_volfile(volume).map(Some),
        VolfileId::GfproxyClient { .. } => crate::volgen::gfproxy_client_volfile(volume).map(Some),
        VolfileId::Snapd { .. } => crate::volgen::snapd_volfile(volume).map(Some),
    };
    match rendered {
        Ok(text) => text.map(|t| with_management_port(t, state.node.processes.volfile_port)),
        Err(e) => {
            tracing::warn!(key, error = %e, "volfile not rendered");
            None
        }
    }
}

/// A client of a volume finds its bricks' ports by asking the management daemon at the
/// brick's `remote-host` (the volfile server's when the volfile names none: the snapshot
/// daemon's and the gfproxy daemon's clients) on `remote-port`, 24007 when the volfile names
/// none (glusterd's volfiles never do). When brickd serves on another port, each
/// `protocol/client` of a volfile it hands out gets a `remote-port` line naming brickd's port,
/// after its `remote-host` line or, without one, after its `remote-subvolume` line; or the
/// client would ask whatever listens on 24007. On 24007 the volfile is glusterd's, byte for
/// byte.
pub fn with_management_port(volfile: String, port: u16) -> String {
    if port == crate::brick::process::DEFAULT_VOLFILE_PORT
        || !volfile.contains("type protocol/client\n")
    {
        return volfile;
    }
    let mut out = String::with_capacity(volfile.len() + 256);
    for block in volfile.split_inclusive("end-volume\n") {
        let client = block.contains("    type protocol/client\n");
        let after = if block.contains("option remote-host ") {
            "option remote-host "
        } else {
            "option remote-subvolume "
        };
        for line in block.split_inclusive('\n') {
            out.push_str(line);
            let trimmed = line.trim_start();
            if client && trimmed.starts_with(after) && line.ends_with('\n') {
                let indent = &line[..line.len() - trimmed.len()];
                out.push_str(&format!("{indent}option remote-port {port}\n"));
            }
        }
    }
    out
}

fn volume_of(id: VolfileId<'_>) -> &str {
    match id {
        VolfileId::Brick { volume }
        | VolfileId::Client { volume }
        | VolfileId::Shd { volume }
        | VolfileId::Rebalance { volume }
        | VolfileId::Gfproxyd { volume }
        | VolfileId::GfproxyClient { volume }
        | VolfileId::Snapd { volume } => volume,
    }
}

/// Whether a client at `transport` gets the trusted client volfile: the unix socket, this
/// node's addresses and its peers'.
fn trusted_client(state: &ShardState, transport: Transport) -> bool {
    match transport {
        Transport::Unix => true,
        Transport::Tcp(addr) => {
            let ip = addr.ip();
            ip.is_loopback()
                || matches!(
                    state.host_map().classify_known(&ip.to_string()),
                    Some(crate::brick::host::HostOwner::Local)
                        | Some(crate::brick::host::HostOwner::Peer(_))
                )
        }
    }
}

/// A rendered volfile and the volume value it was rendered from.
type CachedVolfile = (std::sync::Arc<Volume>, std::rc::Rc<str>);

/// Most volfiles a [`VolfileCache`] keeps (it is emptied when full).
pub const VOLFILE_CACHE_ENTRIES_MAX: usize = 4096;

/// Volfiles rendered for GETSPEC, kept for as long as the volume in the catalog is the same
/// value (the catalog's volumes are immutable `Arc`s: a change publishes a new one), so a
/// mount storm renders each client volfile once, not once per client. One per program
/// instance: shard-local, no lock.
#[derive(Default)]
pub struct VolfileCache {
    entries: std::cell::RefCell<std::collections::HashMap<(String, bool), CachedVolfile>>,
}

impl VolfileCache {
    /// The volfile for `key` of `volume`, rendered now or earlier for the same volume value.
    fn get(
        &self,
        state: &ShardState,
        key: &str,
        id: VolfileId<'_>,
        volume: &std::sync::Arc<Volume>,
        trusted: bool,
    ) -> Option<std::rc::Rc<str>> {
        let cache_key = (key.to_string(), trusted);
        if let Some((cached, text)) = self.entries.borrow().get(&cache_key) {
            if std::sync::Arc::ptr_eq(cached, volume) {
                return Some(text.clone());
            }
        }
        let text: std::rc::Rc<str> = render(state, key, id, volume, trusted)?.into();
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= VOLFILE_CACHE_ENTRIES_MAX {
            entries.clear();
        }
        entries.insert(cache_key, (volume.clone(), text.clone()));
        Some(text)
    }
}

/// Answers a GETSPEC request into `out`.
pub fn getspec(
    state: &ShardState,
    cache: &VolfileCache,
    transport: Transport,
    args: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let Ok(req) = hndsk::decode_getspec_req(args) else {
        return false;
    };
    tracing::info!(key = req.key, "received mount request for volume");
    let catalog = state.catalog();
    let id = parse_volfile_id(req.key);
    let spec = id.and_then(|id| {
        let volume = catalog.get(volume_of(id))?;
        cache.get(state, req.key, id, volume, trusted_client(state, transport))
    });
    let mut reply = crate::proto::dict::Dict::new();
    if spec.is_some() {
        // The other volfile servers a client may fall back to: glusterd lists its peers
        // (`host:port `, each with a trailing space) in every GETSPEC reply.
        let servers: String = state
            .node
            .peers
            .load()
            .peers
            .iter()
            .filter_map(|p| p.peer.hostnames.first())
            .map(|h| format!("{h}:{} ", crate::brick::process::DEFAULT_VOLFILE_PORT))
            .collect();
        if !servers.is_empty() {
            reply.set_str("cluster.brick-vol-servers", &servers);
        }
    }
    // A self-heal daemon (multiplexed since glusterfs 7) attaches the volume's graph and
    // writes the pid file the reply names; without it the graph is torn down again.
    if let (Some(VolfileId::Shd { volume }), Some(_)) = (id, &spec) {
        let launch = crate::brick::process::Launch::self_heal(volume, "", state.node.node.uuid());
        reply.set_str(
            "pidfile",
            &launch.pid_file(&state.node.processes).to_string_lossy(),
        );
    }
    let mut xdata = Vec::new();
    if !reply.is_empty() {
        reply.encode(&mut xdata);
    }
    let rsp = match &spec {
        Some(text) => GetspecRsp {
            op_ret: i32::try_from(text.len()).unwrap_or(i32::MAX),
            op_errno: 0,
            spec: text,
            xdata: &xdata,
        },
        None => GetspecRsp {
            op_ret: -1,
            op_errno: libc::ENOENT,
            spec: "",
            xdata: &[],
        },
    };
    hndsk::encode_getspec_rsp(out, &rsp);
    true
}

/// Answers a GET_VOLUME_INFO request into `out`.
fn volume_info(state: &ShardState, args: &[u8], out: &mut Vec<u8>) -> bool {
    use crate::proto::dict::{Dict, DictLimits};
    let Ok(req) = hndsk::decode_volume_info_req(args) else {
        return false;
    };
    let Ok(dict) = Dict::decode(req.dict, DictLimits::default()) else {
        return false;
    };
    let dict = dict.unwrap_or_default();
    let Ok(volname) = dict.get_str("volname") else {
        hndsk::encode_volume_info_rsp(out, -1, libc::EINVAL, "No volume name", &[]);
        return true;
    };
    let flags = dict.get_u32("flags").unwrap_or(req.flags);
    let Some(volume) = state.catalog().get(volname).cloned() else {
        let message = format!("Couldn't find volume with name {volname}");
        hndsk::encode_volume_info_rsp(out, -1, libc::EINVAL, &message, &[]);
        return true;
    };
    let mut reply = Dict::new();
    if flags & GET_VOLUME_UUID != 0 {
        reply.set_str("volume_id", &volume.volume_id.to_string());
    }
    let mut bytes = Vec::new();
    reply.encode(&mut bytes);
    hndsk::encode_volume_info_rsp(out, 0, 0, "", &bytes);
    true
}

/// Answers GET_SNAPSHOT_INFO, which a snapshot daemon asks for its volume: glusterd's answer
/// for a volume with no snapshots (brickd takes none), `snap-count` 0, with glusterd's
/// `op_errno` of a success (ENOENT); EINVAL for no volume name or an unknown volume.
fn snapshot_info(state: &ShardState, args: &[u8], out: &mut Vec<u8>) -> bool {
    use crate::proto::dict::{Dict, DictLimits};
    let Ok(dict) = hndsk::decode_snapshot_info_req(args) else {
        return false;
    };
    let Ok(dict) = Dict::decode(dict, DictLimits::default()) else {
        return false;
    };
    let dict = dict.unwrap_or_default();
    let known = dict
        .get_str("volname")
        .is_ok_and(|name| state.catalog().get(name).is_some());
    if !known {
        hndsk::encode_volume_info_rsp(out, -1, libc::EINVAL, "", &[]);
        return true;
    }
    let mut reply = Dict::new();
    reply.set_i32("snap-count", 0);
    let mut bytes = Vec::new();
    reply.encode(&mut bytes);
    hndsk::encode_volume_info_rsp(out, 0, libc::ENOENT, "", &bytes);
    true
}

/// The handshake program of one listener.
pub struct HandshakeProgram {
    state: Rc<ShardState>,
    cache: VolfileCache,
    /// The unix socket's: GETSPEC only, under the name glusterd gives it there.
    getspec_only: bool,
}

impl HandshakeProgram {
    /// The TCP listener's program (GETSPEC, EVENT_NOTIFY, GET_VOLUME_INFO).
    pub fn tcp(state: Rc<ShardState>) -> Rc<dyn Program> {
        Rc::new(HandshakeProgram {
            state,
            cache: VolfileCache::default(),
            getspec_only: false,
        })
    }

    /// The unix socket's program (GETSPEC only).
    pub fn unix(state: Rc<ShardState>) -> Rc<dyn Program> {
        Rc::new(HandshakeProgram {
            state,
            cache: VolfileCache::default(),
            getspec_only: true,
        })
    }
}

impl Program for HandshakeProgram {
    fn name(&self) -> &'static str {
        if self.getspec_only {
            names::HANDSHAKE_CLI_GETSPEC
        } else {
            names::HANDSHAKE
        }
    }
    fn number(&self) -> u32 {
        hndsk::PROGRAM
    }
    fn version(&self) -> u32 {
        hndsk::VERSION
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        if self.getspec_only && proc_num != 0 && proc_num != hndsk::PROC_GETSPEC {
            return None;
        }
        hndsk::procedure_name(proc_num)
    }
    fn call(
        &self,
        ctx: &CallContext<'_>,
        proc_num: u32,
        args: &[u8],
        out: &mut Vec<u8>,
    ) -> Outcome {
        let answered = match proc_num {
            hndsk::PROC_GETSPEC => getspec(&self.state, &self.cache, ctx.transport, args, out),
            hndsk::PROC_GET_VOLUME_INFO => volume_info(&self.state, args, out),
            hndsk::PROC_GET_SNAPSHOT_INFO => snapshot_info(&self.state, args, out),
            hndsk::PROC_EVENT_NOTIFY => match hndsk::decode_event_notify_req(args) {
                // glusterd acts on rebalance status events only; brickd runs no rebalance.
                Ok(_) => {
                    hndsk::encode_event_notify_rsp(out, 0, 0, &[]);
                    true
                }
                Err(_) => false,
            },
            _ => true,
        };
        if answered {
            Outcome::Now(ReplyStatus::Success)
        } else {
            Outcome::Now(ReplyStatus::GarbageArgs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_gets_the_management_port_when_it_is_not_24007() {
        let volfile = "volume v-client-0\n    type protocol/client\n    option remote-subvolume /b\n    option remote-host h\nend-volume\n\n\
                       volume v-snapd-client\n    type protocol/client\n    option remote-subvolume snapd-v\n    option ping-timeout 42\nend-volume\n\n\
                       volume v-dht\n    type cluster/distribute\n    option remote-subvolume x\nend-volume\n";
        assert_eq!(with_management_port(volfile.to_string(), 24007), volfile);
        let moved = with_management_port(volfile.to_string(), 5000);
        assert_eq!(
            moved,
            "volume v-client-0\n    type protocol/client\n    option remote-subvolume /b\n    option remote-host h\n    option remote-port 5000\nend-volume\n\n\
             volume v-snapd-client\n    type protocol/client\n    option remote-subvolume snapd-v\n    option remote-port 5000\n    option ping-timeout 42\nend-volume\n\n\
             volume v-dht\n    type cluster/distribute\n    option remote-subvolume x\nend-volume\n"
        );
    }

    #[test]
    fn volfile_ids_resolve_as_glusterds() {
        assert_eq!(
            parse_volfile_id("v1.127.5.5.5.tmp-obs-mnt-b1-data"),
            Some(VolfileId::Brick { volume: "v1" })
        );
        assert_eq!(
            parse_volfile_id("/v2"),
            Some(VolfileId::Client { volume: "v2" })
        );
        assert_eq!(
            parse_volfile_id("v2"),
            Some(VolfileId::Client { volume: "v2" })
        );
        assert_eq!(
            parse_volfile_id("shd/v2"),
            Some(VolfileId::Shd { volume: "v2" })
        );
        assert_eq!(
            parse_volfile_id("rebalance/v2"),
            Some(VolfileId::Rebalance { volume: "v2" })
        );
        for bad in ["", "/", "v1.", ".x", "shd/", "shd/a/b", "nfs/v1", "//v1"] {
            assert_eq!(parse_volfile_id(bad), None, "{bad:?}");
        }
    }
}
