//! Brick-side work: the io_uring brick engine, glusterd's brick validation rules, the volume-id
//! claim and its release, mount points and mount dirs, and the names glusterd gives a brick
//! process's files.

pub mod claim;
pub mod command;
pub mod engine;
pub mod glusterfsd;
pub mod host;
pub mod inspect;
pub mod mounts;
pub mod process;
pub mod spec;
pub mod usage;
pub mod validate;
