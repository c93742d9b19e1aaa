//! Fuzz target for what `volume create` and the intent records read: the CLI's create dict
//! (`ops::volume_create::parse` behind the dict decoder) and an intent file's text (the store's
//! `key=value` reader, then `pairs_to_steps`, which rebuilds claim steps for recovery).
//!
//! Neither may panic. A parsed create request has a valid name, a brick count that matches its
//! bricks and divides into its sets; claim steps read back from pairs write the same pairs.
#![no_main]

use brickd::ops::volume_create::{pairs_to_steps, parse, steps_to_pairs};
use brickd::proto::dict::{Dict, DictLimits};
use brickd::store::kv;
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
    if let Ok(file) = kv::parse(data) {
        let pairs: Vec<(String, String)> = file
            .entries
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect();
        if let Ok(steps) = pairs_to_steps(&pairs) {
            let again = steps_to_pairs(&steps);
            assert_eq!(pairs_to_steps(&again).ok(), Some(steps));
        }
    }
});
