//! Brick-side work: the io_uring brick engine, glusterd's brick validation rules, the volume-id
//! claim and its release, mount points and mount dirs.

pub mod claim;
pub mod command;
pub mod engine;
pub mod host;
pub mod inspect;
pub mod mounts;
pub mod spec;
pub mod validate;
