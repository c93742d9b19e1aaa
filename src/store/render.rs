//! Model → `key=value` pairs in glusterd 10.3's key order. Pure; `write` puts the bytes on
//! disk.
//!
//! The rules (reference §8, `glusterd_volume_exclude_options_write`,
//! `glusterd_store_brickinfo_write`, `glusterd_store_node_state_write`,
//! `glusterd_store_peer_write`, `glusterd_store_global_info`) are value-driven where glusterd's
//! are: `arbiter_count` and `thin_arbiter_count` only when non-zero, the optional brick keys
//! only when non-empty. `stripe_count`, which glusterd writes only below cluster op-version
//! 100000, is written when the model has it. Keys brickd does not know follow the ones it
//! does.

use super::layout;
use crate::model::{Brick, NodeInfo, Peer, RebalanceState, Volume, DEFRAG_CMD_STATUS};

/// An ordered list of `key=value` pairs.
pub type Pairs = Vec<(String, String)>;

fn push(pairs: &mut Pairs, key: &str, value: impl ToString) {
    pairs.push((key.to_string(), value.to_string()));
}

fn push_extra(pairs: &mut Pairs, extra: &[(String, String)]) {
    pairs.extend(extra.iter().cloned());
}

/// `glusterd.info`: `UUID`, `operating-version`, then unknown keys.
pub fn node_info(node: &NodeInfo) -> Pairs {
    let mut pairs = Pairs::new();
    push(&mut pairs, "UUID", node.uuid);
    push(&mut pairs, "operating-version", node.op_version);
    push_extra(&mut pairs, &node.extra);
    pairs
}

/// `peers/<uuid>`: `uuid`, `state`, `hostname1`…, then unknown keys.
pub fn peer(peer: &Peer) -> Pairs {
    let mut pairs = Pairs::new();
    push(&mut pairs, "uuid", peer.uuid);
    push(&mut pairs, "state", peer.state);
    for (i, hostname) in peer.hostnames.iter().enumerate() {
        push(&mut pairs, &format!("hostname{}", i + 1), hostname);
    }
    push_extra(&mut pairs, &peer.extra);
    pairs
}

/// `vols/<volume>/info`: the fixed keys, the options, unknown keys, `brick-N`, `ta-brick-0`.
pub fn volume_info(volume: &Volume) -> Pairs {
    let mut pairs = Pairs::new();
    let p = &mut pairs;
    push(p, "type", volume.volume_type.number());
    push(p, "count", volume.brick_count);
    push(p, "status", volume.status.number());
    push(p, "sub_count", volume.sub_count);
    push(p, "replica_count", volume.replica_count);
    if let Some(stripe_count) = volume.stripe_count {
        push(p, "stripe_count", stripe_count);
    }
    if volume.arbiter_count != 0 {
        push(p, "arbiter_count", volume.arbiter_count);
    }
    push(p, "disperse_count", volume.disperse_count);
    push(p, "redundancy_count", volume.redundancy_count);
    push(p, "version", volume.version);
    push(p, "transport-type", volume.transport.number());
    push(p, "volume-id", volume.volume_id);
    if let Some(username) = &volume.username {
        push(p, "username", username);
    }
    if let Some(password) = &volume.password {
        push(p, "password", password);
    }
    push(p, "op-version", volume.op_version);
    push(p, "client-op-version", volume.client_op_version);
    push(p, "quota-version", volume.quota_version);
    push(p, "tier-enabled", volume.tier_enabled);
    if volume.thin_arbiter_count != 0 {
        push(p, "thin_arbiter_count", volume.thin_arbiter_count);
    }
    push(p, "parent_volname", &volume.parent_volname);
    push(p, "restored_from_snap", volume.restored_from_snap);
    push(p, "snap-max-hard-limit", volume.snap_max_hard_limit);
    push_extra(p, &volume.options);
    push_extra(p, &volume.extra);
    for (i, brick) in volume.bricks.iter().enumerate() {
        push(p, &layout::brick_key(i), brick.file_name());
    }
    if let Some(brick) = &volume.thin_arbiter_brick {
        push(p, &layout::ta_brick_key(0), brick.file_name());
    }
    pairs
}

/// `vols/<volume>/bricks/<file>`.
pub fn brick(brick: &Brick) -> Pairs {
    let mut pairs = Pairs::new();
    let p = &mut pairs;
    push(p, "uuid", brick.uuid);
    push(p, "hostname", &brick.hostname);
    push(p, "path", &brick.path);
    push(p, "real_path", &brick.real_path);
    push(p, "listen-port", brick.listen_port);
    push(p, "rdma.listen-port", brick.rdma_listen_port);
    push(p, "decommissioned", brick.decommissioned);
    push(p, "brick-id", &brick.brick_id);
    for (key, value) in [
        ("device_path", &brick.device_path),
        ("mount_dir", &brick.mount_dir),
        ("fs-type", &brick.fs_type),
        ("mnt-opts", &brick.mnt_opts),
    ] {
        if !value.is_empty() {
            push(p, key, value);
        }
    }
    push(p, "snap-status", brick.snap_status);
    push(p, "brick-fsid", brick.brick_fsid);
    if !brick.vg.is_empty() {
        push(p, "vg", &brick.vg);
    }
    push_extra(p, &brick.extra);
    pairs
}

/// `vols/<volume>/node_state.info`; no pairs at all (an empty file) when the last rebalance
/// command was a status query, as glusterd does.
pub fn node_state(state: &RebalanceState) -> Pairs {
    let mut pairs = Pairs::new();
    if state.command == DEFRAG_CMD_STATUS {
        return pairs;
    }
    let p = &mut pairs;
    push(p, "rebalance_status", state.command);
    push(p, "status", state.status);
    push(p, "rebalance_op", state.op);
    push(p, "rebalance-id", state.id);
    push(p, "rebalanced-files", state.rebalanced_files);
    push(p, "size", state.size_bytes);
    push(p, "scanned", state.scanned_files);
    push(p, "failures", state.failures);
    push(p, "skipped", state.skipped_files);
    push(p, "run-time", format!("{:.6}", state.run_time_s));
    push_extra(p, &state.extra);
    pairs
}

/// `vols/<volume>/snapd.info`.
pub fn snapd_info(port: u32) -> Pairs {
    vec![("snapd-port".to_string(), port.to_string())]
}
