//! `peer status` and `pool list` (LIST_FRIENDS, proc 3): the peers of this node, as the
//! `friends` dict of a `gf1_cli_peer_list_rsp`, with each peer's friend state and whether its
//! connection is up, as glusterd reports them.

use crate::cluster::pool::Pool;
use crate::model::{peer_state_name, NodeInfo};
use crate::proto::dict::Dict;

/// `GF_CLI_LIST_PEERS`: `peer status`.
pub const FLAGS_PEERS: i32 = 1;
/// `GF_CLI_LIST_POOL_NODES`: `pool list`, which adds this node as `localhost`, last.
pub const FLAGS_POOL: i32 = 2;

/// The port glusterd reports for a peer: its stored port, 0 ("the default, 24007") for every
/// peer added by `peer probe` without a port.
const PEER_PORT: u32 = 0;

/// The `friends` dict for `flags`.
pub fn friends_dict(node: &NodeInfo, pool: &Pool, flags: i32) -> Dict {
    let mut dict = Dict::new();
    let mut count = 0usize;
    for member in &pool.peers {
        let peer = &member.peer;
        count += 1;
        let p = format!("friend{count}");
        dict.set_str(&format!("{p}.uuid"), &peer.uuid.to_string());
        let hostname = peer.hostnames.first().map(String::as_str).unwrap_or("");
        dict.set_str(&format!("{p}.hostname"), hostname);
        dict.set_u32(&format!("{p}.port"), PEER_PORT);
        dict.set_u32(&format!("{p}.stateId"), peer.state);
        dict.set_str(&format!("{p}.state"), peer_state_name(peer.state));
        dict.set_u32(&format!("{p}.connected"), u32::from(member.connected));
        for (j, name) in peer.hostnames.iter().enumerate() {
            dict.set_str(&format!("{p}.hostname{j}"), name);
        }
        dict.set_u64(&format!("{p}.hostname_count"), peer.hostnames.len() as u64);
    }
    if flags == FLAGS_POOL {
        count += 1;
        let p = format!("friend{count}");
        dict.set_str(&format!("{p}.uuid"), &node.uuid.to_string());
        dict.set_str(&format!("{p}.hostname"), "localhost");
        dict.set_u32(&format!("{p}.connected"), 1);
    }
    dict.set_u64("count", count as u64);
    dict
}
