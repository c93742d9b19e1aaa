//! Sans-IO wire formats: bytes in, messages out, and back.
//!
//! Nothing under `proto` performs I/O, reads a clock or touches a runtime. Every decoder takes
//! a slice, borrows from it, checks every length against a named cap before using it, and
//! returns an error value for bad input; none panics. Each decoder has a fuzz target in `fuzz/`.

pub mod admin;
pub mod auth;
pub mod brick_op;
pub mod calls;
pub mod cli;
pub mod dict;
pub mod dump;
pub mod hndsk;
pub mod mgmt;
pub mod peer;
pub mod pmap;
pub mod programs;
pub mod record;
pub mod rpc;
pub mod xdr;
