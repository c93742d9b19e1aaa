//! Fuzz target for what `volume create` reads: the CLI's create dict
//! (`ops::volume_create::parse` behind the dict decoder). The commit journal it writes has its
//! own target (`journal`).
//!
//! Nothing may panic. A parsed create request has a valid name, a brick count that matches its
//! bricks and divides into its sets.
#![no_main]

use brickd::ops::volume_create::parse;
use brickd::proto::dict::{Dict, DictLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(dict)) = Dict::decode(data, DictLimits::default()) {
        if let Ok(req) = parse(dict) {
            assert!(!req.volname.is_empty() && req.volname.len() <= 256);
            assert!(!req.bricks.is_empty());
            let set = match req.volume_type.number() {
                2 => req.replica,
                4 => req.disperse,
                _ => 1,
            };
            assert!(set > 0 && req.bricks.len() % set as usize == 0);
        }
    }
});
