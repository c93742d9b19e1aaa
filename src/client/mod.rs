//! Outbound RPC: brickd as a client. The peer client (`peer`: one kept-up connection per
//! pool member, docs/peer-client.md) and the operator's `brickd locks` (BRICKD-ADMIN over
//! brickd's unix socket).

pub mod locks;
pub mod peer;
