//! brickd: a storage-node agent for GlusterFS-style brick hosts.
//!
//! The map of the crate is `../shared/DESIGN.md`: `proto` is the sans-IO wire core, `iobuf` the
//! per-shard buffer arenas, `metrics` the per-procedure histograms and statedump, `server` the
//! thread-per-core runtime that moves bytes between sockets and programs.
#![deny(missing_docs, unreachable_pub)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod brick;
pub mod client;
pub mod cluster;
pub mod config;
pub mod failpoint;
pub mod iobuf;
pub mod lvm;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod program;
pub mod proto;
pub mod server;
pub mod store;
pub mod volgen;
pub mod volopt;

#[cfg(test)]
#[path = "../tests/common/skip.rs"]
mod test_skip;
