//! The domain as plain data: node identity, peers, volumes and bricks.
//!
//! `model` owns the shapes that every other part of brickd shares: `store` reads and writes
//! them in glusterd's workdir format, `volgen` renders them, `ops` and `cluster` change them.
//! It performs no I/O of any kind (no files, sockets or clock) and depends on nothing else in
//! brickd. The one impurity is [`Uuid::new_v4`], which asks the operating system for random
//! bytes; everything else is a pure function of its arguments.
//!
//! Numbers keep glusterd's encodings (`gf1_cluster_type`, `glusterd_volinfo` status, transport
//! numbers, friend state-machine states) so that the store and the wire can use them as they
//! are. Keys brickd does not know are kept in file order ([`Extra`]) so that a load followed by
//! a write loses nothing.

mod brick;
mod node;
mod peer;
mod uuid;
mod volume;

pub use brick::{brick_file_name, Brick};
pub use node::{NodeIdentity, NodeInfo, OP_VERSION_MAX, OP_VERSION_MIN};
pub use peer::{peer_state_name, Peer, PEER_STATE_BEFRIENDED};
pub use uuid::{ParseUuidError, Uuid};
pub use volume::{RebalanceState, Transport, Volume, VolumeStatus, VolumeType, DEFRAG_CMD_STATUS};

/// `key=value` pairs that brickd does not interpret, in the order they were read.
pub type Extra = Vec<(String, String)>;
