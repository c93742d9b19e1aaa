//! Outbound RPC: brickd as a client. The peer client (`peer`: one kept-up connection per
//! pool member, docs/peer-client.md) and the operator's `brickd locks` and `brickd peer`
//! (BRICKD-ADMIN over brickd's unix socket: `admin`).

pub mod admin;
pub mod locks;
pub mod peer;
pub mod peer_admin;
