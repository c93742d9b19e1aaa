//! LVM volume-group tags through liblvm2cmd, run in the isolated `brickd lvm-helper` process.
//!
//! liblvm2cmd is not thread-safe and its critical sections mlock the whole process and renice
//! it, so it never runs in the serving brickd process. [`LvmClient`] (one thread per client)
//! owns a child `brickd lvm-helper` that loads the library with `dlopen` and runs one command
//! at a time; [`proto`] is the sans-IO frame format between them, [`names`] what LVM accepts
//! as names and tags, [`report`] the command lines and the parsing of their output. See
//! `docs/lvm.md`.

pub mod client;
pub mod helper;
pub mod names;
pub mod proto;
pub mod report;

pub use client::{LvmClient, LvmConfig, LvmError};
pub use names::{parse_volume_tag, volume_tag};
pub use proto::VgInfo;
