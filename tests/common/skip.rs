//! Skipped tests, counted. A test that cannot run here calls one of these instead of returning
//! quietly: the skip is printed, appended to the run's skip ledger (the file named by
//! `BRICKD_SKIP_LEDGER`, which scripts/test.sh reads back to print how many tests skipped and
//! why), and under `CI=true` a skip of something CI provides fails the test.
//!
//! Shared by the integration tests (`tests/common`) and the unit tests (`src/lib.rs` includes
//! this file under `cfg(test)`), so both write the same ledger.
#![allow(dead_code)]

use std::io::Write;

/// The environment variable naming the skip ledger (one line per skip:
/// `test<TAB>kind<TAB>why`).
pub(crate) const LEDGER_ENV: &str = "BRICKD_SKIP_LEDGER";

/// Skips because something CI installs or has is missing here (root, a package, a tool, a
/// second CPU). Under `CI=true` this panics: the run must not pass without the test.
pub(crate) fn missing(test: &str, why: &str) {
    record(test, "missing", why);
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{test} would skip under CI=true: {why}. CI provides this (scripts/test.sh installs \
             it); a skip here is a failure"
        );
    }
}

/// Skips because this kernel or machine lacks a feature that CI's machine may lack too (a
/// scheduler knob of a newer kernel). Counted and printed, never a failure.
pub(crate) fn unsupported(test: &str, why: &str) {
    record(test, "unsupported", why);
}

fn record(test: &str, kind: &str, why: &str) {
    let why = why.replace(['\t', '\n'], " ");
    eprintln!("SKIP {test}: {why}");
    let Some(path) = std::env::var_os(LEDGER_ENV) else {
        return;
    };
    let line = format!("{test}\t{kind}\t{why}\n");
    // One write of a short line with O_APPEND: lines from parallel tests do not interleave.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut ledger| ledger.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!(
            "cannot append to the skip ledger {}: {e}",
            path.to_string_lossy()
        );
    }
}
