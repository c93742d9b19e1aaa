//! The trusted storage pool: `peer probe` and `peer detach` (CLI_PROBE, CLI_DEPROBE), the
//! friend program a peer calls (PROBE_QUERY, FRIEND_ADD, FRIEND_UPDATE, FRIEND_REMOVE), the
//! op-version handshake that opens a peer's connection (MGMT_HNDSK VERSIONS and
//! VERSIONS_ACK), and the connections to every peer (`client::peer`), with glusterd 10.3's
//! flow and messages (reference §3.5-3.7; the flow was taken from captures of two and three
//! real glusterds probing each other):
//!
//! - The prober connects, shakes hands, sends PROBE_QUERY (the probed node adds the prober,
//!   named by the address its connection came from, and connects back), then FRIEND_ADD with
//!   its volumes; each side sends its own FRIEND_ADD once its connection is up, and a
//!   FRIEND_UPDATE listing its friends, so a third node learns of the others.
//! - A FRIEND_ADD's volumes are compared with this node's: a volume missing here, or newer
//!   there, is imported through the commit path; the same version with a different checksum
//!   rejects the peer ("Peer Rejected"), and brickd logs which keys differ.
//! - Detach sends FRIEND_REMOVE, then tells the others (FRIEND_UPDATE op 2). A node removed
//!   from the pool forgets its peers and the volumes that have no brick on it.
//!
//! Everything that changes the pool runs on the change shard; the pool snapshot
//! (`cluster::pool`) is read by every shard without a lock.

use super::commit::{self, VolumeChange};
use super::shard::{ShardState, CHANGE_SHARD};
use super::volume_create::CliAnswer;
use crate::client::peer::{LinkConfig, LinkEvent, PeerLink};
use crate::cluster::pool::PoolPeer;
use crate::cluster::txn::TxnInfo;
use crate::model::{Peer, Uuid, PEER_STATE_BEFRIENDED};
use crate::program::{CallContext, LaterReply, Outcome, Program, Transport};
use crate::proto::dict::{Dict, DictLimits};
use crate::proto::peer as wire;
use crate::proto::programs::names;
use crate::proto::rpc::ReplyStatus;
use futures_channel::oneshot;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// glusterd's management port, which every peer listens on.
pub const MGMT_PORT: u16 = 24007;
/// How long a probe waits for the probed node's connection and answers.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most peers in a pool.
pub const PEERS_MAX: usize = 1024;

/// `gf_probe_resp` values (reference §3.5).
pub mod probe_errno {
    /// The host is this node.
    pub const LOCALHOST: i32 = 1;
    /// Already a peer.
    pub const FRIEND: i32 = 2;
    /// The probed node has peers of its own, or volumes.
    pub const ANOTHER_CLUSTER: i32 = 3;
    /// A volume conflicts.
    pub const VOLUME_CONFLICT: i32 = 4;
    /// The probed node has this node's UUID.
    pub const SAME_UUID: i32 = 5;
    /// The sender is not who its connection says it is.
    pub const UNKNOWN_PEER: i32 = 6;
    /// The peer is being detached.
    pub const FRIEND_DETACHING: i32 = 11;
}

/// `gf_deprobe_resp` values.
pub mod deprobe_errno {
    /// The host is this node.
    pub const LOCALHOST: i32 = 1;
    /// Not a peer.
    pub const NOT_FRIEND: i32 = 2;
    /// The peer holds bricks.
    pub const BRICK_EXIST: i32 = 3;
    /// The peer is not connected.
    pub const FRIEND_DOWN: i32 = 4;
}

/// The global options' version key, which every export carries.
const GLOBAL_OPTION_VERSION: &str = "global-option-version";
/// ENOTCONN: what a probe of a host that cannot be reached answers.
const ENOTCONN: i32 = 107;
/// `GF_CLI_FLAG_OP_FORCE`.
const FLAG_FORCE: u32 = 1;
/// FRIEND_UPDATE ops.
const UPDATE_ADD: &str = "1";
const UPDATE_DELETE: &str = "2";

/// The pool's connections, on the change shard.
pub struct PoolManager {
    state: Weak<ShardState>,
    /// One link per peer, by UUID.
    links: RefCell<HashMap<Uuid, Rc<PeerLink>>>,
}

impl ShardState {
    /// The pool's connections (on [`CHANGE_SHARD`] only).
    pub fn pool(&self) -> Rc<PoolManager> {
        self.pool_manager
            .get_or_init(|| {
                Rc::new(PoolManager {
                    state: self.rc().map(|s| Rc::downgrade(&s)).unwrap_or_default(),
                    links: RefCell::new(HashMap::new()),
                })
            })
            .clone()
    }
}

fn link_config(state: &ShardState, host: &str) -> LinkConfig {
    LinkConfig {
        host: host.to_string(),
        port: MGMT_PORT,
        source: state.node.processes.bind_address,
        me: state.node.node.uuid(),
        op_version: state.node.node.op_version,
        frame_timeout: state.node.peer_frame_timeout,
        ping_timeout: state.node.peer_ping_timeout,
    }
}

impl PoolManager {
    /// Connects to every stored peer (at start-up).
    pub fn start(self: &Rc<Self>) {
        let Some(state) = self.state.upgrade() else {
            return;
        };
        for member in state.node.peers.load().peers.iter() {
            if let Some(host) = member.peer.hostnames.first() {
                self.connect(member.peer.uuid, host);
            }
        }
    }

    /// Starts the link to peer `uuid` at `host` (replacing any other); nothing while the node
    /// stops.
    fn connect(self: &Rc<Self>, uuid: Uuid, host: &str) {
        let Some(state) = self.state.upgrade() else {
            return;
        };
        let me = Rc::downgrade(self);
        let link = PeerLink::start(
            link_config(&state, host),
            Box::new(move |event| {
                if let Some(me) = me.upgrade() {
                    me.link_event(uuid, event);
                }
            }),
        );
        let old = self.links.borrow_mut().insert(uuid, link);
        if let Some(old) = old {
            old.close();
        }
    }

    /// The link to peer `uuid`.
    pub fn link(&self, uuid: Uuid) -> Option<Rc<PeerLink>> {
        self.links.borrow().get(&uuid).cloned()
    }

    fn link_event(self: &Rc<Self>, uuid: Uuid, event: LinkEvent) {
        let Some(state) = self.state.upgrade() else {
            return;
        };
        let up = event == LinkEvent::Up;
        let known = state.node.peers.change(|pool| match pool.get_mut(uuid) {
            Some(p) => {
                p.connected = up;
                true
            }
            None => false,
        });
        if up && known {
            // Every (re)connection runs the friend exchange: volumes compared both ways.
            let me = self.clone();
            state.spawn(Box::pin(async move {
                if let Err(e) = me.befriend(uuid, false).await {
                    tracing::warn!(peer = %uuid, error = %e.op_errstr, "friend exchange failed");
                }
            }));
        }
    }

    /// FRIEND_ADD to peer `uuid` with this node's volumes; on success the peer is in the
    /// cluster, then a FRIEND_UPDATE tells it every friend of this node.
    async fn befriend(self: &Rc<Self>, uuid: Uuid, probing: bool) -> Result<(), CliAnswer> {
        let Some(state) = self.state.upgrade() else {
            return Err(CliAnswer::failed(0, "node stopping"));
        };
        let Some(link) = self.link(uuid) else {
            return Err(CliAnswer::failed(ENOTCONN, "no connection to the peer"));
        };
        let me = *state.node.node.uuid().as_bytes();
        if state.node.peers.load().get(uuid).map(|p| p.peer.state) == Some(PROBE_RECEIVED) {
            // The probed side answers the probe with one of its own first, as glusterd does.
            let mut args = Vec::new();
            wire::encode_probe_req(
                &mut args,
                &wire::ProbeReq {
                    uuid: me,
                    hostname: link.host(),
                    port: i32::from(MGMT_PORT),
                },
            );
            let body = friend_call(&link, wire::PROC_PROBE_QUERY, &args).await?;
            let rsp = wire::decode_probe_rsp(&body)
                .map_err(|e| CliAnswer::failed(0, format!("bad PROBE_QUERY answer: {e}")))?;
            if Uuid::from_bytes(rsp.uuid) != uuid {
                let why = format!(
                    "{} answers as {}, not as the peer {uuid} that probed this node",
                    link.host(),
                    Uuid::from_bytes(rsp.uuid)
                );
                set_state(&state, uuid, REJECTED).await;
                return Err(CliAnswer::failed(0, why));
            }
        }
        let vols = export_bytes(&state, link.host());
        let mut args = Vec::with_capacity(vols.len() + 128);
        wire::encode_friend_req(
            &mut args,
            &wire::FriendReq {
                uuid: *state.node.node.uuid().as_bytes(),
                hostname: link.host(),
                port: if probing { i32::from(MGMT_PORT) } else { 0 },
                vols: &vols,
            },
        );
        let body = friend_call(&link, wire::PROC_FRIEND_ADD, &args).await?;
        let rsp = wire::decode_friend_rsp(&body)
            .map_err(|e| CliAnswer::failed(0, format!("bad FRIEND_ADD answer: {e}")))?;
        if Uuid::from_bytes(rsp.uuid) == state.node.node.uuid() {
            // The peer's stored address is one of this node's own: nothing to befriend, and
            // nothing wrong with the peer's entry (glusterd leaves it as it is too).
            let why = format!("{} is this node's own address", link.host());
            tracing::warn!(peer = %uuid, %why, "peer not reached: link closed");
            // Closed for good (as glusterd drops it): the peer shows as disconnected.
            if let Some(link) = self.links.borrow_mut().remove(&uuid) {
                link.close();
            }
            state.node.peers.change(|pool| {
                if let Some(p) = pool.get_mut(uuid) {
                    p.connected = false;
                }
            });
            return Err(CliAnswer::failed(0, why));
        }
        if Uuid::from_bytes(rsp.uuid) != uuid {
            // Another node answers at the peer's address (reinstalled, or the address moved).
            let why = format!(
                "{} answers as {}, not as the peer {uuid}",
                link.host(),
                Uuid::from_bytes(rsp.uuid)
            );
            tracing::warn!(peer = %uuid, %why, "peer rejected");
            set_state(&state, uuid, REJECTED).await;
            return Err(CliAnswer::failed(0, why));
        }
        if rsp.op_ret != 0 {
            set_state(&state, uuid, REJECTED).await;
            return Err(CliAnswer::failed(
                rsp.op_errno,
                probe_message(rsp.op_errno, link.host()),
            ));
        }
        if state.node.peers.load().get(uuid).map(|p| p.peer.state) != Some(REJECTED) {
            set_state(&state, uuid, PEER_STATE_BEFRIENDED).await;
        }
        self.send_update(uuid).await;
        Ok(())
    }

    /// FRIEND_UPDATE (op 1) to `uuid`: every befriended peer of this node.
    async fn send_update(&self, uuid: Uuid) {
        let Some(state) = self.state.upgrade() else {
            return;
        };
        let Some(link) = self.link(uuid) else { return };
        let pool = state.node.peers.load();
        let mut friends = Dict::new();
        friends.set_str("op", UPDATE_ADD);
        let mut count = 0;
        for member in pool
            .peers
            .iter()
            .filter(|p| p.peer.state == PEER_STATE_BEFRIENDED)
        {
            count += 1;
            let host = member
                .peer
                .hostnames
                .first()
                .map(String::as_str)
                .unwrap_or("");
            friends.set_str(
                &format!("friend{count}.uuid"),
                &member.peer.uuid.to_string(),
            );
            friends.set_str(&format!("friend{count}.hostname"), host);
            for (j, name) in member.peer.hostnames.iter().enumerate() {
                friends.set_str(&format!("friend{count}.hostname{j}"), name);
            }
            friends.set_str(
                &format!("friend{count}.address-count"),
                &member.peer.hostnames.len().to_string(),
            );
        }
        friends.set_str("count", &count.to_string());
        self.call_update(&state, &link, &friends).await;
    }

    async fn call_update(&self, state: &ShardState, link: &PeerLink, friends: &Dict) {
        let mut bytes = Vec::new();
        friends.encode(&mut bytes);
        let mut args = Vec::new();
        wire::encode_friend_update(
            &mut args,
            &wire::FriendUpdate {
                uuid: *state.node.node.uuid().as_bytes(),
                friends: &bytes,
                port: 0,
            },
        );
        if let Err(e) = link
            .call(
                wire::PROGRAM,
                wire::VERSION,
                wire::PROC_FRIEND_UPDATE,
                &args,
                None,
            )
            .await
        {
            tracing::info!(peer = %link.host(), error = %e, "FRIEND_UPDATE not delivered");
        }
    }

    /// `peer probe HOST`.
    async fn probe(self: &Rc<Self>, host: String) -> CliAnswer {
        let Some(state) = self.state.upgrade() else {
            return CliAnswer::failed(0, "node stopping");
        };
        if is_local(&state, &host).await {
            return answer(0, probe_errno::LOCALHOST, "Probe on localhost not needed");
        }
        let pool = state.node.peers.load();
        if pool.by_name(&host).is_some() {
            return answer(
                0,
                probe_errno::FRIEND,
                format!("Host {host} port {MGMT_PORT} already in peer list"),
            );
        }
        if pool.peers.len() >= PEERS_MAX {
            return CliAnswer::failed(0, format!("the pool has {PEERS_MAX} peers already"));
        }
        // In the pool by name (nil UUID, "Establishing Connection", not stored) while the
        // probe runs, as glusterd does: the probed node's own probe back finds it by address.
        state.node.peers.change(|pool| {
            pool.peers.push(PoolPeer {
                peer: Peer {
                    uuid: Uuid::default(),
                    state: ESTABLISHING,
                    hostnames: vec![host.clone()],
                    extra: Default::default(),
                },
                connected: false,
            })
        });
        let answer = self.probe_steps(&state, host.clone()).await;
        // A probe that failed leaves nothing; one that succeeded has named its peer.
        let unfinished: Vec<Uuid> = state.node.peers.change(|pool| {
            pool.peers
                .retain(|p| !(p.peer.uuid.is_nil() && p.peer.hostnames.first() == Some(&host)));
            pool.peers
                .iter()
                .filter(|p| p.peer.hostnames.first() == Some(&host) && p.peer.state == PROBE_SENT)
                .map(|p| p.peer.uuid)
                .collect()
        });
        if answer.op_ret != 0 {
            for uuid in unfinished {
                if let Err(e) = self.forget(uuid).await {
                    tracing::warn!(peer = %uuid, error = %e, "failed probe not undone");
                }
            }
        }
        answer
    }

    async fn probe_steps(self: &Rc<Self>, state: &Rc<ShardState>, host: String) -> CliAnswer {
        // One connection from the probe on, as glusterd's (a glusterd that was probed knows
        // the prober by address only until its FRIEND_ADD, and refuses a second connection
        // whose handshake names a UUID it has not learnt yet). Its first event is the
        // probe's; the pool hears the later ones once the peer is named.
        let named = Rc::new(std::cell::Cell::new(Uuid::default()));
        let (first, first_event) = oneshot::channel();
        let first = RefCell::new(Some(first));
        let (me, key) = (Rc::downgrade(self), named.clone());
        let link = PeerLink::start(
            link_config(state, &host),
            Box::new(move |event| {
                if let Some(tx) = first.borrow_mut().take() {
                    let _ = tx.send(event);
                    return;
                }
                let uuid = key.get();
                if let Some(me) = me.upgrade().filter(|_| !uuid.is_nil()) {
                    me.link_event(uuid, event);
                }
            }),
        );
        let came_up = futures_lite::future::or(async { first_event.await.ok() }, async {
            state.sleep(PROBE_TIMEOUT).await;
            None
        })
        .await;
        if came_up != Some(LinkEvent::Up) {
            link.close();
            let why = match came_up {
                Some(LinkEvent::Down(why)) if why.contains("op-version") => why,
                _ => "Probe returned with Transport endpoint is not connected".to_string(),
            };
            return CliAnswer::failed(ENOTCONN, why);
        }
        let mut args = Vec::new();
        wire::encode_probe_req(
            &mut args,
            &wire::ProbeReq {
                uuid: *state.node.node.uuid().as_bytes(),
                hostname: &host,
                port: i32::from(MGMT_PORT),
            },
        );
        let answered = link
            .call(
                wire::PROGRAM,
                wire::VERSION,
                wire::PROC_PROBE_QUERY,
                &args,
                Some(PROBE_TIMEOUT),
            )
            .await;
        let failed = |answer: CliAnswer| {
            link.close();
            answer
        };
        let body = match answered {
            Ok(body) => body,
            Err(e) => {
                return failed(CliAnswer::failed(
                    ENOTCONN,
                    format!("Probe returned with {e}"),
                ))
            }
        };
        let rsp = match wire::decode_probe_rsp(&body) {
            Ok(rsp) => rsp,
            Err(e) => return failed(CliAnswer::failed(0, format!("bad PROBE_QUERY answer: {e}"))),
        };
        if rsp.op_ret != 0 {
            return failed(CliAnswer::failed(
                rsp.op_errno,
                probe_message(rsp.op_errno, &host),
            ));
        }
        let uuid = Uuid::from_bytes(rsp.uuid);
        if uuid == state.node.node.uuid() {
            return failed(CliAnswer::failed(
                probe_errno::SAME_UUID,
                probe_message(probe_errno::SAME_UUID, &host),
            ));
        }
        if let Some(known) = state.node.peers.load().get(uuid) {
            if known.peer.hostnames.first() != Some(&host) {
                let name = known.peer.hostnames.first().cloned().unwrap_or_default();
                return failed(answer(
                    0,
                    probe_errno::FRIEND,
                    format!("Host {name} port {MGMT_PORT} already in peer list"),
                ));
            }
        }
        // Named now (the probed node's probe back may have named it already).
        let peer = state.node.peers.change(|pool| {
            pool.peers
                .retain(|p| !(p.peer.uuid.is_nil() && p.peer.hostnames.first() == Some(&host)));
            match pool.get_mut(uuid) {
                Some(p) => {
                    p.connected = link.is_up();
                    p.peer.clone()
                }
                None => {
                    let peer = Peer {
                        uuid,
                        state: PROBE_SENT,
                        hostnames: vec![host.clone()],
                        extra: Default::default(),
                    };
                    pool.peers.push(PoolPeer {
                        peer: peer.clone(),
                        connected: link.is_up(),
                    });
                    peer
                }
            }
        });
        named.set(uuid);
        // Closed outside the borrow: closing tells its owner, which may look at the links.
        let old = self.links.borrow_mut().insert(uuid, link.clone());
        if let Some(old) = old.filter(|old| !Rc::ptr_eq(old, &link)) {
            old.close();
        }
        if let Err(e) = store_peer(state, peer).await {
            return CliAnswer::failed(0, e);
        }
        if let Err(answer) = self.befriend(uuid, true).await {
            return answer;
        }
        // Every other friend learns of the new one.
        let others: Vec<Uuid> = state
            .node
            .peers
            .load()
            .connected_friends()
            .map(|p| p.peer.uuid)
            .filter(|&u| u != uuid)
            .collect();
        for other in others {
            self.send_update(other).await;
        }
        answer(0, 0, "")
    }

    /// `peer detach HOST [force]`.
    async fn detach(self: &Rc<Self>, host: String, force: bool) -> CliAnswer {
        let Some(state) = self.state.upgrade() else {
            return CliAnswer::failed(0, "node stopping");
        };
        if is_local(&state, &host).await {
            return CliAnswer::failed(deprobe_errno::LOCALHOST, format!("{host} is localhost"));
        }
        let pool = state.node.peers.load();
        let Some(member) = pool.by_name(&host).cloned() else {
            return CliAnswer::failed(
                deprobe_errno::NOT_FRIEND,
                format!("{host} is not part of cluster"),
            );
        };
        let uuid = member.peer.uuid;
        let holds_bricks = state
            .catalog()
            .values()
            .any(|v| v.bricks.iter().any(|b| b.uuid == uuid));
        if holds_bricks {
            return CliAnswer {
                op_ret: 1,
                ..CliAnswer::failed(
                    deprobe_errno::BRICK_EXIST,
                    format!(
                        "Peer {host} hosts one or more bricks. If the peer is in not recoverable \
                         state then use either replace-brick or remove-brick command with force \
                         to remove all bricks from the peer and attempt the peer detach again."
                    ),
                )
            };
        }
        if !member.connected && !force {
            // glusterd's words for a peer it cannot reach.
            return CliAnswer::failed(
                deprobe_errno::FRIEND_DOWN,
                "One of the peers is probably down. Check with 'peer status'",
            );
        }
        if let Some(link) = self.link(uuid) {
            let mut args = Vec::new();
            wire::encode_friend_req(
                &mut args,
                &wire::FriendReq {
                    uuid: *state.node.node.uuid().as_bytes(),
                    hostname: &host,
                    port: i32::from(MGMT_PORT),
                    vols: &[],
                },
            );
            let removed = link
                .call(
                    wire::PROGRAM,
                    wire::VERSION,
                    wire::PROC_FRIEND_REMOVE,
                    &args,
                    Some(PROBE_TIMEOUT),
                )
                .await;
            if let Err(e) = removed {
                if !force {
                    return CliAnswer::failed(deprobe_errno::FRIEND_DOWN, e.to_string());
                }
            }
        }
        if let Err(e) = self.forget(uuid).await {
            return CliAnswer::failed(0, e);
        }
        // The others forget it too.
        let mut gone = Dict::new();
        gone.set_str("op", UPDATE_DELETE);
        gone.set_str("hostname", &host);
        gone.set_str("count", "0");
        let others: Vec<Rc<PeerLink>> = self.links.borrow().values().cloned().collect();
        for link in others {
            self.call_update(&state, &link, &gone).await;
        }
        answer(0, 0, "")
    }

    /// Drops peer `uuid`: its link, its entry and its store file.
    async fn forget(&self, uuid: Uuid) -> Result<(), String> {
        let Some(state) = self.state.upgrade() else {
            return Err("node stopping".into());
        };
        if let Some(link) = self.links.borrow_mut().remove(&uuid) {
            link.close();
        }
        remove_peer(&state, uuid).await
    }

    /// This node was detached by `by`: it forgets every peer and the volumes with no brick
    /// here (as glusterd does).
    async fn leave(&self, by: Uuid) {
        let Some(state) = self.state.upgrade() else {
            return;
        };
        tracing::info!(by = %by, "detached from the pool: forgetting every peer");
        let all: Vec<Uuid> = state
            .node
            .peers
            .load()
            .peers
            .iter()
            .map(|p| p.peer.uuid)
            .collect();
        for uuid in all {
            if let Err(e) = self.forget(uuid).await {
                tracing::warn!(peer = %uuid, error = %e, "peer not forgotten");
            }
        }
        let me = state.node.node.uuid();
        let foreign: Vec<String> = state
            .catalog()
            .values()
            .filter(|v| !v.bricks.iter().any(|b| b.uuid == me))
            .map(|v| v.name.clone())
            .collect();
        for name in foreign {
            let mut request = Dict::new();
            request.set_str("volname", &name);
            let deleted = super::volume_delete::handle(state.clone(), request).await;
            if deleted.op_ret != 0 {
                tracing::warn!(volume = %name, error = %deleted.op_errstr, "volume of the old pool not removed");
            }
        }
    }
}

/// One GD_FRIEND call on `link`, waiting at most [`PROBE_TIMEOUT`]; its results, or the
/// probe's failure.
async fn friend_call(link: &PeerLink, proc_num: u32, args: &[u8]) -> Result<Vec<u8>, CliAnswer> {
    link.call(
        wire::PROGRAM,
        wire::VERSION,
        proc_num,
        args,
        Some(PROBE_TIMEOUT),
    )
    .await
    .map_err(|e| CliAnswer::failed(ENOTCONN, format!("Probe returned with {e}")))
}

/// A FRIEND_ADD or FRIEND_REMOVE answer from this node (`me`).
fn friend_rsp(me: Uuid, hostname: &str, op_ret: i32, op_errno: i32) -> Vec<u8> {
    let mut out = Vec::new();
    wire::encode_friend_rsp(
        &mut out,
        &wire::FriendRsp {
            uuid: *me.as_bytes(),
            hostname,
            op_ret,
            op_errno,
            port: 0,
        },
    );
    out
}

/// Whether this node is probing `remote` right now (an entry by that name with no UUID yet);
/// if so the entry is named `uuid`, so that the probe and the peer's own calls agree.
fn name_being_probed(state: &ShardState, remote: &str, uuid: Uuid) -> bool {
    state.node.peers.change(|pool| {
        let Some(p) = pool.peers.iter_mut().find(|p| {
            p.peer.uuid.is_nil()
                && p.peer
                    .hostnames
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(remote))
        }) else {
            return false;
        };
        p.peer.uuid = uuid;
        p.peer.state = PROBE_SENT;
        true
    })
}

/// Whether `host` names this node (its names, its interfaces' addresses, its bound address).
async fn is_local(state: &ShardState, host: &str) -> bool {
    matches!(
        state.host_map().classify(host).await,
        crate::brick::host::HostOwner::Local
    )
}

/// `Establishing Connection`.
const ESTABLISHING: u32 = 0;
/// `Probe Sent to Peer`.
const PROBE_SENT: u32 = 1;
/// `Probe Received from Peer`.
const PROBE_RECEIVED: u32 = 2;
/// `Peer Rejected`.
const REJECTED: u32 = 6;

fn answer(op_ret: i32, op_errno: i32, message: impl Into<String>) -> CliAnswer {
    CliAnswer {
        op_ret,
        op_errno,
        op_errstr: message.into(),
        dict: Dict::new(),
    }
}

/// glusterd's message for a probe answered with `errno`.
fn probe_message(errno: i32, host: &str) -> String {
    match errno {
        probe_errno::ANOTHER_CLUSTER => {
            format!("{host} is either already part of another cluster or having volumes configured")
        }
        probe_errno::VOLUME_CONFLICT => {
            format!("Error through RPC layer, retry again later. {host}: volume conflict (cksums differ)")
        }
        probe_errno::SAME_UUID => format!("Peer uuid (host {host}) is same as local uuid"),
        probe_errno::FRIEND_DETACHING => format!("Peer {host} is being detached from the cluster"),
        probe_errno::LOCALHOST => "Probe on localhost not needed".to_string(),
        other => format!("Probe returned with unknown errno {other}"),
    }
}

/// The volume export this node sends in FRIEND_ADD.
fn export_bytes(state: &ShardState, hostname_in_cluster: &str) -> Vec<u8> {
    let catalog = state.catalog();
    let mut global = catalog.global_options().to_vec();
    // glusterd refuses a FRIEND_ADD without it ("Importing global options failed"); a node
    // where no global option was ever set has version 0, as glusterd writes it.
    if !global.iter().any(|(k, _)| k == GLOBAL_OPTION_VERSION) {
        global.push((GLOBAL_OPTION_VERSION.to_string(), "0".to_string()));
    }
    let dict = crate::cluster::export::export_volumes(
        catalog.values().map(|v| &**v),
        &global,
        hostname_in_cluster,
    );
    let mut bytes = Vec::with_capacity(dict.encoded_len());
    dict.encode(&mut bytes);
    bytes
}

/// Adds `peer` to the pool and stores it.
async fn add_peer(state: &ShardState, peer: Peer) -> Result<(), String> {
    store_peer(state, peer.clone()).await?;
    state.node.peers.change(|pool| {
        pool.peers.retain(|p| p.peer.uuid != peer.uuid);
        pool.peers.push(PoolPeer {
            peer,
            connected: false,
        });
    });
    Ok(())
}

/// Sets peer `uuid`'s friend state and stores it.
async fn set_state(state: &ShardState, uuid: Uuid, friend_state: u32) {
    let changed = state.node.peers.change(|pool| {
        let p = pool.get_mut(uuid)?;
        if p.peer.state == friend_state {
            return None;
        }
        p.peer.state = friend_state;
        Some(p.peer.clone())
    });
    if let Some(peer) = changed {
        if let Err(e) = store_peer(state, peer).await {
            tracing::error!(peer = %uuid, error = %e, "peer state not stored");
        }
    }
}

/// Writes `peers/<uuid>` (a renamed, synced `.tmp`: the old file or the new one, never a
/// mix), off the shard.
async fn store_peer(state: &ShardState, peer: Peer) -> Result<(), String> {
    super::failpoints::pass("peer.before-store")
        .await
        .map_err(|e| e.message)?;
    let store = crate::store::Store::new(&state.node.workdir);
    let written = match state.node.engine.as_ref() {
        Some(engine) => {
            engine
                .script(crate::brick::engine::Lane::Store, move || {
                    store
                        .write_peer(&peer)
                        .map_err(|e| std::io::Error::other(e.to_string()))
                })
                .await
        }
        None => store
            .write_peer(&peer)
            .map_err(|e| std::io::Error::other(e.to_string())),
    };
    written.map_err(|e| format!("cannot store the peer: {e}"))?;
    let _ = super::failpoints::pass("peer.after-store").await;
    Ok(())
}

/// Removes peer `uuid` from the pool and its `peers/<uuid>` file.
async fn remove_peer(state: &ShardState, uuid: Uuid) -> Result<(), String> {
    state
        .node
        .peers
        .change(|pool| pool.peers.retain(|p| p.peer.uuid != uuid));
    let path = crate::store::layout::peer_file(&state.node.workdir, &uuid.to_string());
    let removed = match state.node.engine.as_ref() {
        Some(engine) => {
            engine
                .script(crate::brick::engine::Lane::Store, move || {
                    remove_synced(&path)
                })
                .await
        }
        None => remove_synced(&path),
    };
    removed.map_err(|e| format!("cannot remove the peer's file: {e}"))
}

fn remove_synced(path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Takes a peer's volume export (FRIEND_ADD's `vols`): imports the volumes missing here or
/// newer there, then its global options if newer, and the peer is a friend. A volume at the
/// same version with a different checksum rejects the peer (glusterd's rule), and the export
/// is kept for `brickd peer reconcile`; which, with `theirs_win`, takes the peer's copies of
/// those volumes instead. Answers the volumes taken, or the FRIEND_ADD's op_errno.
async fn take_export(
    state: &Rc<ShardState>,
    from: Uuid,
    vols: &[u8],
    theirs_win: bool,
) -> Result<Vec<String>, i32> {
    let peer_dict = match Dict::decode(vols, DictLimits::peer_export()) {
        Ok(d) => d.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(peer = %from, error = %e, "FRIEND_ADD with a malformed volume dict");
            return Err(probe_errno::VOLUME_CONFLICT);
        }
    };
    let catalog = state.catalog();
    let export = crate::cluster::export::PeerExport::new(peer_dict.iter());
    let comparison = match crate::cluster::export::compare(catalog.values().map(|v| &**v), &export)
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(peer = %from, error = %e, "FRIEND_ADD volumes unreadable");
            return Err(probe_errno::VOLUME_CONFLICT);
        }
    };
    let mut taken = Vec::new();
    let mut import = comparison.import;
    if !comparison.rejected.is_empty() && theirs_win {
        // The peer's copies replace this node's, through the commit path like any import.
        for r in &comparison.rejected {
            match crate::cluster::export::import_volume_named(&export, &r.volume) {
                Some(Ok(volume)) => import.push(volume),
                Some(Err(e)) => {
                    tracing::error!(peer = %from, volume = %r.volume, error = %e, "the peer's copy is unreadable");
                    return Err(probe_errno::VOLUME_CONFLICT);
                }
                None => return Err(probe_errno::VOLUME_CONFLICT),
            }
        }
    } else if !comparison.rejected.is_empty() {
        for r in &comparison.rejected {
            tracing::warn!(
                peer = %from,
                volume = %r.volume,
                version = r.local_version,
                peer_version = r.peer_version,
                differing = ?r.differing_keys,
                "Version of Cksums {} differ: peer rejected", r.volume
            );
        }
        state.note_rejection(from, &comparison.rejected, vols);
        set_state(state, from, REJECTED).await;
        return Err(probe_errno::VOLUME_CONFLICT);
    }
    for volume in import {
        let name = volume.name.clone();
        if let Err(e) = import_volume(state, volume).await {
            tracing::error!(peer = %from, volume = %name, error = %e, "volume not imported");
            return Err(probe_errno::VOLUME_CONFLICT);
        }
        tracing::info!(peer = %from, volume = %name, "volume imported from a peer");
        taken.push(name);
    }
    // The peer's global options, if its version is newer (glusterd imports them so).
    match export.global_options() {
        Ok(theirs) => {
            if let Some(after) =
                crate::volopt::global::after_import(catalog.global_options(), &theirs)
            {
                let txn = sync_txn(state);
                match commit::commit_global(state, &txn, after.list, after.file).await {
                    Ok(()) => {
                        tracing::info!(peer = %from, "global options imported from a peer")
                    }
                    Err(e) => {
                        tracing::error!(peer = %from, error = %e.message, "global options not imported");
                        return Err(probe_errno::VOLUME_CONFLICT);
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(peer = %from, error = %e, "FRIEND_ADD global options unreadable");
            return Err(probe_errno::VOLUME_CONFLICT);
        }
    }
    state.clear_rejection(from);
    let current = state.node.peers.load().get(from).map(|p| p.peer.state);
    if current != Some(PEER_STATE_BEFRIENDED) {
        set_state(state, from, PEER_STATE_BEFRIENDED).await;
    }
    Ok(taken)
}

/// The transaction a change taken from a peer commits under: this node's, no locks (the
/// peer's volumes are synced, not changed by an operation).
fn sync_txn(state: &ShardState) -> TxnInfo {
    TxnInfo {
        id: Uuid::new_v4(),
        originator: state.node.node.uuid(),
        op: 0,
        locks: Vec::new(),
        lease: Duration::from_secs(0),
    }
}

/// Imports (or updates) `volume`, sent by a peer, through the commit path.
async fn import_volume(state: &ShardState, volume: crate::model::Volume) -> Result<(), String> {
    let txn = sync_txn(state);
    commit::commit(
        state,
        &txn,
        VolumeChange {
            op: "import",
            volume,
            volfiles: true,
        },
    )
    .await
    .map_err(|e| e.message)
}

/// Answers a probe request from the CLI (`hostname`, `port`).
pub async fn handle_probe(state: Rc<ShardState>, request: Dict) -> CliAnswer {
    let Ok(host) = request.get_str("hostname").map(str::to_owned) else {
        return CliAnswer::failed(0, "Failed to get hostname");
    };
    let run = state
        .run_on(
            CHANGE_SHARD,
            move |s| async move { s.pool().probe(host).await },
        )
        .await;
    run.unwrap_or_else(|e| CliAnswer::failed(0, e.to_string()))
}

/// Answers a detach request from the CLI (`hostname`, `port`, `flags`).
pub async fn handle_deprobe(state: Rc<ShardState>, request: Dict) -> CliAnswer {
    let Ok(host) = request.get_str("hostname").map(str::to_owned) else {
        return CliAnswer::failed(0, "Failed to get hostname");
    };
    let flags = request
        .get_u32("flags")
        .or_else(|_| {
            request
                .get_str("flags")
                .map(|f| f.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let force = flags & FLAG_FORCE != 0;
    let run = state
        .run_on(CHANGE_SHARD, move |s| async move {
            s.pool().detach(host, force).await
        })
        .await;
    run.unwrap_or_else(|e| CliAnswer::failed(0, e.to_string()))
}

/// GD_FRIEND 1238437 v2 on TCP.
pub struct FriendProgram {
    state: Rc<ShardState>,
}

impl FriendProgram {
    /// The program for one shard.
    pub fn shared(state: Rc<ShardState>) -> Rc<dyn Program> {
        Rc::new(FriendProgram { state })
    }
}

/// Answers a peer's call later, with what `work` makes of it on the change shard (where the
/// pool changes).
fn on_pool<F, Fut>(state: Rc<ShardState>, work: F) -> Outcome
where
    F: FnOnce(Rc<PoolManager>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Vec<u8>> + 'static,
{
    Outcome::Later(Box::pin(async move {
        let run = state
            .run_on(CHANGE_SHARD, move |s| async move { work(s.pool()).await })
            .await;
        LaterReply {
            status: ReplyStatus::Success,
            body: run.unwrap_or_default(),
        }
    }))
}

impl Program for FriendProgram {
    fn name(&self) -> &'static str {
        names::PEER
    }
    fn number(&self) -> u32 {
        wire::PROGRAM
    }
    fn version(&self) -> u32 {
        wire::VERSION
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        wire::procedure_name(proc_num)
    }
    fn call(
        &self,
        ctx: &CallContext<'_>,
        proc_num: u32,
        args: &[u8],
        _out: &mut Vec<u8>,
    ) -> Outcome {
        let remote = match ctx.transport {
            Transport::Tcp(addr) => addr.ip().to_string(),
            Transport::Unix => String::new(),
        };
        let proven = self.state.peer_of(ctx.connection);
        let state = self.state.clone();
        match proc_num {
            0 => Outcome::Now(ReplyStatus::Success),
            wire::PROC_PROBE_QUERY => {
                let Ok(req) = wire::decode_probe_req(args) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                let (from, hostname) = (Uuid::from_bytes(req.uuid), req.hostname.to_string());
                on_pool(state, move |pool| async move {
                    pool.probe_query(from, proven, remote, hostname).await
                })
            }
            wire::PROC_FRIEND_ADD => {
                let Ok(req) = wire::decode_friend_req(args) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                let (from, hostname) = (Uuid::from_bytes(req.uuid), req.hostname.to_string());
                let vols = req.vols.to_vec();
                on_pool(state, move |pool| async move {
                    pool.friend_add(from, proven, remote, hostname, vols).await
                })
            }
            wire::PROC_FRIEND_UPDATE => {
                let Ok(req) = wire::decode_friend_update(args) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                let from = Uuid::from_bytes(req.uuid);
                let friends = req.friends.to_vec();
                on_pool(state, move |pool| async move {
                    pool.friend_update(from, proven, friends).await
                })
            }
            wire::PROC_FRIEND_REMOVE => {
                // glusterd 10.3 sends a gd1_mgmt_friend_req here (no volumes), not the
                // unfriend_req its XDR file names (seen on the wire).
                let Ok(req) = wire::decode_friend_req(args) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                let (from, hostname) = (Uuid::from_bytes(req.uuid), req.hostname.to_string());
                on_pool(state, move |pool| async move {
                    pool.friend_remove(from, proven, hostname).await
                })
            }
            _ => Outcome::Now(ReplyStatus::ProcUnavail),
        }
    }
}

impl PoolManager {
    /// PROBE_QUERY from `from`, which knows this node as `hostname`; `remote` is the address
    /// its connection came from, the name this node will know it by.
    async fn probe_query(
        self: &Rc<Self>,
        from: Uuid,
        proven: Option<Uuid>,
        remote: String,
        hostname: String,
    ) -> Vec<u8> {
        let Some(state) = self.state.upgrade() else {
            return Vec::new();
        };
        let me = state.node.node.uuid();
        let reply = |op_ret: i32, op_errno: i32, errstr: &str| {
            let mut out = Vec::new();
            wire::encode_probe_rsp(
                &mut out,
                &wire::ProbeRsp {
                    uuid: *me.as_bytes(),
                    hostname: &hostname,
                    port: 0,
                    op_ret,
                    op_errno,
                    op_errstr: errstr,
                },
            );
            out
        };
        if from == me {
            return reply(-1, probe_errno::SAME_UUID, "");
        }
        if proven != Some(from) {
            tracing::info!(claimed = %from, ?proven, "PROBE_QUERY from a connection that did not shake hands as its sender: refused");
            return reply(-1, probe_errno::UNKNOWN_PEER, "");
        }
        let pool = state.node.peers.load();
        if pool.get(from).is_some() {
            return reply(0, 0, "");
        }
        if name_being_probed(&state, &remote, from) {
            // This node is probing the sender right now: its probe goes on from here.
            return reply(0, 0, "");
        }
        // A node with peers, or with volumes, does not join another pool (glusterd's rule).
        if !pool.peers.is_empty() || !state.catalog().is_empty() {
            return reply(-1, probe_errno::ANOTHER_CLUSTER, "");
        }
        let peer = Peer {
            uuid: from,
            state: PROBE_RECEIVED,
            hostnames: vec![remote.clone()],
            extra: Default::default(),
        };
        if let Err(e) = add_peer(&state, peer).await {
            tracing::error!(peer = %from, error = %e, "probing peer not added");
            return reply(-1, 7, "");
        }
        tracing::info!(peer = %from, host = %remote, "probed: connecting back");
        self.connect(from, &remote);
        reply(0, 0, "")
    }

    /// FRIEND_ADD from `from` with its volumes.
    async fn friend_add(
        self: &Rc<Self>,
        from: Uuid,
        proven: Option<Uuid>,
        remote: String,
        hostname: String,
        vols: Vec<u8>,
    ) -> Vec<u8> {
        let Some(state) = self.state.upgrade() else {
            return Vec::new();
        };
        let me = state.node.node.uuid();
        let reply = |op_ret: i32, op_errno: i32| friend_rsp(me, &hostname, op_ret, op_errno);
        if from == me {
            // This node reached itself (a stored peer's address is one of its own): it is
            // never its own friend.
            tracing::info!(host = %remote, "FRIEND_ADD from this node itself: refused");
            return reply(-1, probe_errno::SAME_UUID);
        }
        if proven != Some(from) {
            tracing::info!(claimed = %from, ?proven, "FRIEND_ADD from a connection that did not shake hands as its sender: refused");
            return reply(-1, probe_errno::UNKNOWN_PEER);
        }
        let known = state.node.peers.load().get(from).cloned();
        if known.is_none() && !name_being_probed(&state, &remote, from) {
            // Known to the pool but not here yet (its FRIEND_ADD overtook the update that
            // names it): added as a friend of a friend.
            let peer = Peer {
                uuid: from,
                state: PROBE_RECEIVED,
                hostnames: vec![remote.clone()],
                extra: Default::default(),
            };
            if let Err(e) = add_peer(&state, peer).await {
                tracing::error!(peer = %from, error = %e, "peer not added");
                return reply(-1, 7);
            }
            self.connect(from, &remote);
        }
        match take_export(&state, from, &vols, false).await {
            Ok(_) => reply(0, 0),
            Err(errno) => reply(-1, errno),
        }
    }

    /// `brickd peer reconcile PEER`: takes PEER's copies of the volumes this node rejected it
    /// over (from the FRIEND_ADD that was rejected, kept for this), and what else that
    /// request carried, as an accepted one would; then sends PEER this node's volumes again,
    /// so that PEER, which rejected this node in turn, finds them the same as its own. The
    /// answer says what was taken and where the peer stands.
    pub async fn reconcile(self: &Rc<Self>, peer: String) -> Result<String, String> {
        let Some(state) = self.state.upgrade() else {
            return Err("brickd is stopping".into());
        };
        let pool = state.node.peers.load();
        let uuid = match Uuid::parse(&peer) {
            Ok(uuid) if pool.get(uuid).is_some() => uuid,
            _ => match pool.by_name(&peer) {
                Some(member) => member.peer.uuid,
                None => return Err(format!("{peer} is not a peer of this node")),
            },
        };
        let Some(vols) = state.rejections.borrow().exports.get(&uuid).cloned() else {
            if pool.get(uuid).map(|m| m.peer.state) == Some(REJECTED) {
                // It refused this node's FRIEND_ADD; its own is on its way (or its connection
                // is down, and comes with the next one).
                return Err(format!(
                    "{peer} rejected this node's volumes, and its own have not reached this node \
                     yet: try again in a moment"
                ));
            }
            return Err(format!(
                "{peer} was not rejected by this node: nothing to reconcile (its state here: {})",
                pool.get(uuid).map_or(0, |m| m.peer.state)
            ));
        };
        drop(pool);
        let taken = take_export(&state, uuid, &vols, true)
            .await
            .map_err(|errno| {
                format!("{peer}'s volumes were not taken (errno {errno}); see the log")
            })?;
        tracing::warn!(peer = %uuid, volumes = ?taken, "rejected peer reconciled by an operator: its copies taken");
        let mut text = if taken.is_empty() {
            format!("took nothing from {peer}: its volumes are this node's already")
        } else {
            format!("took {peer}'s copies of: {}", taken.join(", "))
        };
        match self.befriend(uuid, false).await {
            Ok(()) => {
                // A glusterd that accepts a rejected node's FRIEND_ADD waits ("Accepted peer
                // request") for its own connection to come up again before it sends its
                // FRIEND_ADD and takes the node back: its connections here are closed, and it
                // reconnects at once. A brickd peer is a friend already; it reconnects too.
                let closed = state
                    .ask_all(move |s: &ShardState| s.close_peer_connections(uuid))
                    .await
                    .map(|n| n.iter().sum::<usize>())
                    .unwrap_or(0);
                tracing::info!(peer = %uuid, closed, "the reconciled peer's connections closed for its friend exchange");
                text.push_str(&format!("\n{peer} accepted this node's volumes"))
            }
            Err(e) => text.push_str(&format!(
                "\n{peer} did not accept this node's volumes yet ({}); it will again when it reconnects",
                e.op_errstr
            )),
        }
        Ok(text)
    }

    async fn friend_update(
        self: &Rc<Self>,
        from: Uuid,
        proven: Option<Uuid>,
        friends: Vec<u8>,
    ) -> Vec<u8> {
        let Some(state) = self.state.upgrade() else {
            return Vec::new();
        };
        let me = state.node.node.uuid();
        let reply = |op_ret: i32| {
            let mut out = Vec::new();
            wire::encode_friend_update_rsp(
                &mut out,
                &wire::FriendUpdateRsp {
                    uuid: *me.as_bytes(),
                    op: 0,
                    op_ret,
                    op_errno: 0,
                },
            );
            out
        };
        if !state.node.peers.load().is_friend(from) || proven != Some(from) {
            tracing::info!(peer = %from, "FRIEND_UPDATE from a node that is not a friend: ignored");
            return reply(-1);
        }
        let Ok(Some(dict)) = Dict::decode(&friends, DictLimits::default()) else {
            return reply(-1);
        };
        let op = dict.get_str("op").unwrap_or(UPDATE_ADD).trim().to_string();
        if op == UPDATE_DELETE {
            let Ok(host) = dict.get_str("hostname") else {
                return reply(-1);
            };
            let gone = state.node.peers.load().by_name(host).map(|p| p.peer.uuid);
            if let Some(uuid) = gone.filter(|&u| u != from) {
                tracing::info!(peer = %uuid, by = %from, "peer detached from the pool");
                if let Err(e) = self.forget(uuid).await {
                    tracing::warn!(peer = %uuid, error = %e, "peer not forgotten");
                }
            }
            return reply(0);
        }
        let count: usize = dict
            .get_str("count")
            .ok()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0)
            .min(PEERS_MAX);
        for i in 1..=count {
            let Ok(uuid) = dict.get_str(&format!("friend{i}.uuid")).map(Uuid::parse) else {
                continue;
            };
            let Ok(uuid) = uuid else { continue };
            let Ok(host) = dict
                .get_str(&format!("friend{i}.hostname"))
                .map(str::to_owned)
            else {
                continue;
            };
            if uuid == me || state.node.peers.load().get(uuid).is_some() {
                continue;
            }
            // A friend of a friend: in the pool at once, connected to now.
            let peer = Peer {
                uuid,
                state: PEER_STATE_BEFRIENDED,
                hostnames: vec![host.clone()],
                extra: Default::default(),
            };
            if let Err(e) = add_peer(&state, peer).await {
                tracing::warn!(peer = %uuid, error = %e, "friend of a friend not added");
                continue;
            }
            tracing::info!(peer = %uuid, host = %host, by = %from, "new peer learnt from an update");
            self.connect(uuid, &host);
        }
        reply(0)
    }

    /// FRIEND_REMOVE from `from`: it detached this node from the pool.
    async fn friend_remove(
        self: &Rc<Self>,
        from: Uuid,
        proven: Option<Uuid>,
        hostname: String,
    ) -> Vec<u8> {
        let Some(state) = self.state.upgrade() else {
            return Vec::new();
        };
        let me = state.node.node.uuid();
        let reply = |op_ret: i32, op_errno: i32| friend_rsp(me, &hostname, op_ret, op_errno);
        if state.node.peers.load().get(from).is_none() || proven != Some(from) {
            return reply(-1, deprobe_errno::NOT_FRIEND);
        }
        let me_rc = self.clone();
        // After the reply: the detaching node waits for it before it tells the others.
        state.spawn(Box::pin(async move { me_rc.leave(from).await }));
        reply(0, 0)
    }
}

/// GD_MGMT_HNDSK 1239873 v1 on TCP: a peer's connection bring-up. VERSIONS names the peer
/// (`peer-id`): the connection is that peer's from then on, whatever UUID a later request
/// carries in its body.
pub struct MgmtHandshakeProgram {
    state: Rc<ShardState>,
}

impl MgmtHandshakeProgram {
    /// The program for one shard.
    pub fn shared(state: Rc<ShardState>) -> Rc<dyn Program> {
        Rc::new(MgmtHandshakeProgram { state })
    }
}

/// glusterd's op-version range.
const OP_VERSION_MIN: u32 = 1;
const OP_VERSION_MAX: u32 = 100_000;
/// glusterd 10.3 answers VERSIONS and VERSIONS_ACK with op_errno EINVAL even on success.
const HNDSK_ERRNO: i32 = 22;

impl Program for MgmtHandshakeProgram {
    fn name(&self) -> &'static str {
        names::MGMT_HANDSHAKE
    }
    fn number(&self) -> u32 {
        wire::HNDSK_PROGRAM
    }
    fn version(&self) -> u32 {
        wire::HNDSK_VERSION
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        match proc_num {
            0 => Some("NULL"),
            wire::PROC_VERSIONS => Some("VERSIONS"),
            wire::PROC_VERSIONS_ACK => Some("VERSIONS_ACK"),
            _ => None,
        }
    }
    fn call(
        &self,
        ctx: &CallContext<'_>,
        proc_num: u32,
        args: &[u8],
        out: &mut Vec<u8>,
    ) -> Outcome {
        if proc_num == 0 {
            return Outcome::Now(ReplyStatus::Success);
        }
        if proc_num != wire::PROC_VERSIONS && proc_num != wire::PROC_VERSIONS_ACK {
            return Outcome::Now(ReplyStatus::ProcUnavail);
        }
        let Ok(bytes) = wire::decode_hndsk_req(args) else {
            return Outcome::Now(ReplyStatus::GarbageArgs);
        };
        let dict = match Dict::decode(bytes, DictLimits::default()) {
            Ok(d) => d.unwrap_or_default(),
            Err(_) => {
                wire::encode_hndsk_rsp(
                    out,
                    &wire::HndskRsp {
                        op_ret: -1,
                        op_errno: HNDSK_ERRNO,
                        dict: &[],
                    },
                );
                return Outcome::Now(ReplyStatus::Success);
            }
        };
        let mut reply = Dict::new();
        let mut op_ret = 0;
        if proc_num == wire::PROC_VERSIONS {
            match dict
                .get_str("peer-id")
                .ok()
                .and_then(|p| Uuid::parse(p.trim()).ok())
            {
                Some(peer) => self.state.note_peer_connection(ctx.connection, peer),
                None => op_ret = -1,
            }
            let mine = self.state.node.node.op_version;
            reply.set_str("operating-version", &mine.to_string());
            reply.set_str("minimum-operating-version", &OP_VERSION_MIN.to_string());
            reply.set_str("maximum-operating-version", &OP_VERSION_MAX.to_string());
        } else {
            let theirs = dict
                .get_str("operating-version")
                .ok()
                .and_then(|v| v.trim().parse::<u32>().ok());
            if !theirs.is_some_and(|v| (OP_VERSION_MIN..=OP_VERSION_MAX).contains(&v)) {
                op_ret = -1;
            }
        }
        let mut bytes = Vec::new();
        if !reply.is_empty() {
            reply.encode(&mut bytes);
        }
        wire::encode_hndsk_rsp(
            out,
            &wire::HndskRsp {
                op_ret,
                op_errno: HNDSK_ERRNO,
                dict: &bytes,
            },
        );
        Outcome::Now(ReplyStatus::Success)
    }
}

/// Why a peer was rejected, for the statedump: volume, versions and the keys that differ.
#[derive(Debug, Clone, Default)]
pub struct Rejections {
    by_peer: HashMap<Uuid, Vec<String>>,
    /// The volume export of each rejected peer's last FRIEND_ADD, for `brickd peer
    /// reconcile`.
    exports: HashMap<Uuid, Vec<u8>>,
}

impl Rejections {
    /// The statedump section.
    pub fn statedump(&self) -> String {
        let mut text = format!("[pool.rejections]\ncount={}\n", self.by_peer.len());
        for (i, (peer, why)) in self.by_peer.iter().enumerate() {
            text.push_str(&format!("rejection{i}.peer={peer}\n"));
            for (j, line) in why.iter().enumerate() {
                text.push_str(&format!("rejection{i}.volume{j}={line}\n"));
            }
        }
        text
    }
}

impl ShardState {
    /// Notes that connection `connection` of this shard is peer `peer`'s (its VERSIONS).
    pub fn note_peer_connection(&self, connection: u64, peer: Uuid) {
        self.peer_connections.borrow_mut().insert(connection, peer);
    }

    /// The peer that proved itself on connection `connection`.
    pub fn peer_of(&self, connection: u64) -> Option<Uuid> {
        self.peer_connections.borrow().get(&connection).copied()
    }

    fn note_rejection(
        &self,
        peer: Uuid,
        rejected: &[crate::cluster::export::Rejection],
        export: &[u8],
    ) {
        let why = rejected
            .iter()
            .map(|r| {
                format!(
                    "{} version {} here, {} there, differing keys: {}",
                    r.volume,
                    r.local_version,
                    r.peer_version,
                    r.differing_keys.join(",")
                )
            })
            .collect();
        let mut rejections = self.rejections.borrow_mut();
        rejections.by_peer.insert(peer, why);
        rejections.exports.insert(peer, export.to_vec());
    }

    fn clear_rejection(&self, peer: Uuid) {
        let mut rejections = self.rejections.borrow_mut();
        rejections.by_peer.remove(&peer);
        rejections.exports.remove(&peer);
    }

    /// The statedump section of peer rejections and connections.
    pub fn pool_statedump(&self) -> String {
        let mut text = self.rejections.borrow().statedump();
        let pool = self.node.peers.load();
        text.push_str(&format!("[pool.peers]\ncount={}\n", pool.peers.len()));
        for (i, member) in pool.peers.iter().enumerate() {
            let link = self
                .pool_manager
                .get()
                .and_then(|m| m.link(member.peer.uuid));
            text.push_str(&format!(
                "peer{i}.uuid={}\npeer{i}.hostname={}\npeer{i}.state={}\npeer{i}.connected={}\n",
                member.peer.uuid,
                member
                    .peer
                    .hostnames
                    .first()
                    .map(String::as_str)
                    .unwrap_or(""),
                member.peer.state,
                u8::from(member.connected),
            ));
            if let Some(link) = link {
                text.push_str(&format!(
                    "peer{i}.link={:?}\npeer{i}.calls_in_flight={}\npeer{i}.connects={}\n",
                    link.state(),
                    link.in_flight(),
                    link.connects.get()
                ));
            }
        }
        text
    }
}
