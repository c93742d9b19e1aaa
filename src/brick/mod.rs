//! Brick-side work: the io_uring brick engine, glusterd's brick validation rules, the volume-id
//! claim and its release, mount points and mount dirs.

pub mod engine;
