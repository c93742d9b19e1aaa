//! This node's identity (`glusterd.info`).

use super::{Extra, Uuid};

/// The lowest cluster op-version glusterd 10.3 runs at (`GD_OP_VERSION_MIN`). glusterd falls
/// back to it when `glusterd.info` names a node UUID but no op-version (an upgrade from a
/// release that did not store one).
pub const OP_VERSION_MIN: u32 = 1;

/// The highest op-version glusterd 10.3 supports (`GD_OP_VERSION_MAX` = `GD_OP_VERSION_10_0`).
/// A new node starts at it; it is also what `glusterd.upgrade` records.
pub const OP_VERSION_MAX: u32 = 100_000;

/// The node's identity as `glusterd.info` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node UUID (`UUID=`), generated once when the node is first started.
    pub uuid: Uuid,
    /// The cluster op-version this node runs at (`operating-version=`).
    pub op_version: u32,
    /// Keys brickd does not know, in file order.
    pub extra: Extra,
}

impl NodeInfo {
    /// A brand-new node: a fresh random UUID at [`OP_VERSION_MAX`], as glusterd does on its
    /// first start.
    pub fn new_random() -> NodeInfo {
        NodeInfo {
            uuid: Uuid::new_v4(),
            op_version: OP_VERSION_MAX,
            extra: Extra::new(),
        }
    }
}

/// This node's identity while it runs, shared by every shard: the node UUID can change
/// (`gluster system uuid reset`, allowed only while the node has no volume and no peer), the
/// rest is what `glusterd.info` said at start-up.
#[derive(Debug)]
pub struct NodeIdentity {
    uuid: std::sync::RwLock<Uuid>,
    /// The cluster op-version this node runs at (`operating-version=`).
    pub op_version: u32,
    /// Keys of `glusterd.info` brickd does not know, in file order.
    pub extra: Extra,
}

impl NodeIdentity {
    /// The identity `info` describes.
    pub fn new(info: &NodeInfo) -> NodeIdentity {
        NodeIdentity {
            uuid: std::sync::RwLock::new(info.uuid),
            op_version: info.op_version,
            extra: info.extra.clone(),
        }
    }

    /// The node UUID now.
    pub fn uuid(&self) -> Uuid {
        *self.uuid.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `uuid` the node UUID (once `glusterd.info` says so).
    pub fn set_uuid(&self, uuid: Uuid) {
        *self.uuid.write().unwrap_or_else(|e| e.into_inner()) = uuid;
    }

    /// As `glusterd.info` keeps it now.
    pub fn info(&self) -> NodeInfo {
        NodeInfo {
            uuid: self.uuid(),
            op_version: self.op_version,
            extra: self.extra.clone(),
        }
    }
}
