//! `gluster system uuid reset` (CLI procedure UUID_RESET): a new node UUID, allowed only while
//! the node has no volume and no peer, with glusterd's refusals.
//!
//! The check, the new `glusterd.info` (a renamed, synced `.tmp`: the old file or the new one
//! after a crash, never a mix) and the switch of the running identity happen in one step on
//! the change shard, with nothing awaited in between, so no change of the node (a create, a
//! probe) can slip between the check and the switch. Failpoints
//! `uuid-reset.before-store` and `uuid-reset.after-store` stand around that step.

use super::shard::{ShardState, CHANGE_SHARD};
use super::volume_create::CliAnswer;
use crate::model::Uuid;
use crate::proto::dict::Dict;
use std::rc::Rc;

/// glusterd's refusal when the node has volumes.
pub const HAS_VOLUMES: &str =
    "volumes are already present in the cluster. Resetting uuid is not allowed";

/// glusterd's refusal when the node is in a pool.
pub const HAS_PEERS: &str = "trusted storage pool has been already formed. Please detach this peer from the pool and reset its uuid.";

/// Answers a UUID_RESET request.
pub async fn handle(state: Rc<ShardState>, _request: Dict) -> CliAnswer {
    let run = state
        .run_on(CHANGE_SHARD, |s| async move { reset(&s).await })
        .await;
    run.unwrap_or_else(|e| CliAnswer::failed(0, e.to_string()))
}

/// Why the node may not take a new UUID now, if it may not.
fn refusal(state: &ShardState) -> Option<&'static str> {
    if !state.catalog().is_empty() {
        return Some(HAS_VOLUMES);
    }
    if !state.node.peers.load().peers.is_empty() {
        return Some(HAS_PEERS);
    }
    None
}

async fn reset(state: &ShardState) -> CliAnswer {
    if let Some(why) = refusal(state) {
        return CliAnswer::failed(0, why);
    }
    if let Err(e) = super::failpoints::pass("uuid-reset.before-store").await {
        return CliAnswer::failed(e.errno, e.message);
    }
    // From here to the switch nothing is awaited: the check holds for the write.
    if let Some(why) = refusal(state) {
        return CliAnswer::failed(0, why);
    }
    let old = state.node.node.uuid();
    let mut new = Uuid::new_v4();
    while new == old || new == Uuid::NIL {
        new = Uuid::new_v4();
    }
    let mut info = state.node.node.info();
    info.uuid = new;
    if let Err(e) = crate::store::Store::new(&state.node.workdir).write_node_info(&info) {
        tracing::error!(error = %e, "glusterd.info not written: the node UUID is unchanged");
        return CliAnswer::failed(0, format!("Failed to store the new uuid: {e}"));
    }
    state.node.node.set_uuid(new);
    state.change_catalog(|c| c.set_me(new));
    tracing::info!(old = %old, new = %new, "node UUID reset");
    let _ = super::failpoints::pass("uuid-reset.after-store").await;
    CliAnswer {
        op_ret: 0,
        op_errno: 0,
        op_errstr: String::new(),
        dict: Dict::new(),
    }
}
