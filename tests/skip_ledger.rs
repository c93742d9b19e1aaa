//! The skip ledger itself (tests/common/skip.rs): a skip is printed and written to the ledger
//! that scripts/test.sh counts, and under `CI=true` a skip of something CI provides fails the
//! test. The skipping test runs in a child process (this test binary again, filtered to the
//! child), with its own ledger and its own `CI`.

#[path = "common/skip.rs"]
mod skip;

use std::path::Path;
use std::process::Command;

const CHILD_ENV: &str = "BRICKD_SKIP_LEDGER_CHILD";

/// In the child: skips once, the way `kind` says. Ignored in a normal run (it tests nothing
/// by itself); the test below runs it with `--ignored`.
#[test]
#[ignore = "a child of a_skip_is_printed_written_to_the_ledger_and_fails_under_ci_when_ci_provides_it"]
fn child_that_skips() {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("missing") => skip::missing("child_that_skips", "a tool\tthat is\nnot here"),
        Ok("unsupported") => skip::unsupported("child_that_skips", "an old kernel"),
        _ => panic!("run only as a child, with {CHILD_ENV} set"),
    }
}

/// Runs `child_that_skips` in a child with `kind`, `ci` and a ledger at `ledger`; its exit
/// status and stderr.
fn run_child(kind: &str, ci: &str, ledger: &Path) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_that_skips", "--ignored", "--nocapture"])
        .env(CHILD_ENV, kind)
        .env("CI", ci)
        .env(skip::LEDGER_ENV, ledger)
        .output()
        .expect("run the test binary as a child");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_skip_is_printed_written_to_the_ledger_and_fails_under_ci_when_ci_provides_it() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("skips.tsv");

    let (passed, stderr) = run_child("missing", "", &ledger);
    assert!(passed, "outside CI a skip passes: {stderr}");
    assert!(
        stderr.contains("SKIP child_that_skips: a tool that is not here"),
        "{stderr}"
    );
    let lines = std::fs::read_to_string(&ledger).unwrap();
    assert_eq!(
        lines, "child_that_skips\tmissing\ta tool that is not here\n",
        "one line, tabs and newlines of the reason flattened"
    );

    let (passed, stderr) = run_child("missing", "true", &ledger);
    assert!(!passed, "under CI=true a skip of what CI provides fails");
    assert!(stderr.contains("would skip under CI=true"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&ledger).unwrap().lines().count(), 2);

    let (passed, stderr) = run_child("unsupported", "true", &ledger);
    assert!(
        passed,
        "a kernel feature CI may lack is counted, not failed: {stderr}"
    );
    let lines = std::fs::read_to_string(&ledger).unwrap();
    assert_eq!(
        lines.lines().last(),
        Some("child_that_skips\tunsupported\tan old kernel")
    );
}
