//! Outbound RPC: brickd as a client. Today the operator's `brickd locks` (BRICKD-ADMIN over
//! brickd's unix socket); the peer client (xids, saved frames, ping, call-bail) joins here.

pub mod locks;
