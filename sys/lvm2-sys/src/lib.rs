//! Bindings of liblvm2cmd (`lvm2cmd.h`).
//!
//! Empty for now: the LVM helper (`brickd lvm-helper`) is the only user, and it arrives with the
//! brick-engine issue. The crate exists so the workspace shape is settled from the start.
#![no_std]
