//! Fuzz target for the brick text parsers: `brick::spec` (a brick as the CLI sends it) and
//! `brick::mounts` (mountinfo lines).
//!
//! The input, as text, is parsed as a brick specification and as a mount table. Neither may
//! panic. A parsed brick has an absolute canonical path (no `//`, no trailing `/` unless it is
//! `/`), a non-empty host, and its walk ends at `/`; canonicalising twice changes nothing; the
//! prefix test is symmetric.
#![no_main]

use brickd::brick::mounts::MountTable;
use brickd::brick::spec::{self, BrickSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(b) = BrickSpec::parse(&text) {
        assert!(!b.host.is_empty());
        assert!(b.path.starts_with('/'));
        assert!(!b.path.contains("//"));
        assert!(b.path == "/" || !b.path.ends_with('/'));
        assert_eq!(spec::canonicalize(&b.path), b.path);
        assert_eq!(spec::walk_up(&b.path).last(), Some("/"));
        assert!(spec::walk_up(&b.path).count() <= b.path.len() + 1);
        let _ = spec::brick_path_length_ok(&b.path);
        let _ = spec::volfile_path_length_ok("/var/lib/glusterd", "v", &b);
        let other = spec::canonicalize(&text);
        assert_eq!(
            spec::is_path_prefix(&b.path, &other),
            spec::is_path_prefix(&other, &b.path)
        );
    }
    let table = MountTable::parse(&text);
    assert!(table.mounts.len() <= text.lines().count());
});
