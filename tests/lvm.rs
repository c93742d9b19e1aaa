//! `LvmClient` and `brickd lvm-helper` against real LVM volume groups on loop devices.
//!
//! Needs root and the lvm2 tools; without them each test prints why it skips (a failure under
//! CI=true, which runs them as root). Only VG metadata is touched, so no device-mapper is needed. The helper
//! is the `brickd` binary built with the tests.

mod lvm_fixture;
#[path = "common/skip.rs"]
mod skip;

use brickd::lvm::names::TAG_CHANGES_MAX;
use brickd::lvm::{parse_volume_tag, volume_tag, LvmClient, LvmConfig, LvmError};
use futures_lite::future::block_on;
use lvm_fixture::{unavailable, ScratchVg};
use std::time::{Duration, Instant};

const VOLUME_ID: &str = "6e8a3f4c-1b2d-4e5f-8a9b-0c1d2e3f4a5b";

fn config(timeout: Duration) -> LvmConfig {
    LvmConfig {
        helper_exe: env!("CARGO_BIN_EXE_brickd").into(),
        timeout,
    }
}

fn client() -> LvmClient {
    LvmClient::start(config(Duration::from_secs(30))).expect("start the LVM helper")
}

/// Returns true (after printing why) when this machine cannot run LVM tests.
fn skip(test: &str) -> bool {
    match unavailable() {
        Some(reason) => {
            skip::missing(test, &reason);
            true
        }
        None => false,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

/// How long a test waits for something that must happen: far beyond any real delay, so that
/// it only turns a hang into a failure.
const HANG_DEADLINE: Duration = Duration::from_secs(60);

/// Polls `done` until it holds; fails with `what` after [`HANG_DEADLINE`].
fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + HANG_DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {HANG_DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: kill has no memory preconditions; the pid is our own child's.
    let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

#[test]
fn vg_info_reports_what_vgs_reports() {
    if skip("vg_info_reports_what_vgs_reports") {
        return;
    }
    let vg = ScratchVg::create();
    vg.add_tags_with_cli(&["zeta", "alpha"]);
    let lvm = client();
    let info = block_on(lvm.vg_info(&vg.name))
        .unwrap()
        .expect("the VG exists");
    assert_eq!(info.name, vg.name);
    assert_eq!(info.uuid, vg.field("vg_uuid"));
    assert_eq!(info.free_bytes.to_string(), vg.field("vg_free"));
    assert!(info.free_bytes > 0);
    assert_eq!(info.tags, strings(&["alpha", "zeta"]));
}

#[test]
fn vg_info_of_a_missing_vg_is_none() {
    if skip("vg_info_of_a_missing_vg_is_none") {
        return;
    }
    let lvm = client();
    let missing = format!("brickdtest_{}_missing", std::process::id());
    assert_eq!(block_on(lvm.vg_info(&missing)).unwrap(), None);
    assert_eq!(lvm.restarts(), 0);
}

#[test]
fn change_tags_adds_tags_that_vgs_shows() {
    if skip("change_tags_adds_tags_that_vgs_shows") {
        return;
    }
    let vg = ScratchVg::create();
    let lvm = client();
    let tag = volume_tag(VOLUME_ID);
    assert_eq!(tag, format!("trusted.glusterfs.volume-id={VOLUME_ID}"));
    block_on(lvm.change_tags(&vg.name, &[tag.clone(), "brickd.other".into()], &[])).unwrap();
    assert_eq!(vg.tags(), vec!["brickd.other".to_string(), tag.clone()]);
    let info = block_on(lvm.vg_info(&vg.name)).unwrap().unwrap();
    let volumes: Vec<_> = info
        .tags
        .iter()
        .filter_map(|t| parse_volume_tag(t))
        .collect();
    assert_eq!(volumes, [VOLUME_ID]);
}

#[test]
fn change_tags_deletes_tags() {
    if skip("change_tags_deletes_tags") {
        return;
    }
    let vg = ScratchVg::create();
    vg.add_tags_with_cli(&["a", "b", "c"]);
    let lvm = client();
    block_on(lvm.change_tags(&vg.name, &[], &strings(&["a", "c"]))).unwrap();
    assert_eq!(vg.tags(), ["b"]);
}

#[test]
fn change_tags_adds_and_deletes_in_one_metadata_commit() {
    if skip("change_tags_adds_and_deletes_in_one_metadata_commit") {
        return;
    }
    let vg = ScratchVg::create();
    vg.add_tags_with_cli(&["old1", "old2"]);
    let seqno_before: u64 = vg.field("vg_seqno").parse().unwrap();
    let lvm = client();
    let add: Vec<String> = (0..10).map(|i| format!("new{i}")).collect();
    block_on(lvm.change_tags(&vg.name, &add, &strings(&["old1", "old2"]))).unwrap();
    let seqno_after: u64 = vg.field("vg_seqno").parse().unwrap();
    assert_eq!(seqno_after, seqno_before + 1, "one vgchange, one commit");
    let mut expected = add.clone();
    expected.sort();
    assert_eq!(vg.tags(), expected);
}

#[test]
fn change_tags_on_a_missing_vg_reports_lvm_output() {
    if skip("change_tags_on_a_missing_vg_reports_lvm_output") {
        return;
    }
    let lvm = client();
    let missing = format!("brickdtest_{}_gone", std::process::id());
    let err = block_on(lvm.change_tags(&missing, &strings(&["x"]), &[])).unwrap_err();
    match &err {
        LvmError::Command {
            command, output, ..
        } => {
            assert!(command.starts_with("vgchange --addtag x "), "{command}");
            assert!(output.contains("not found"), "{output}");
        }
        other => panic!("expected a command failure, got {other:?}"),
    }
    assert!(err.to_string().contains("LVM2_PROCESSING_FAILED"), "{err}");
}

/// The helper is `/bin/false`: it exits at once, so any request that reached it would fail
/// with `HelperFailed`. Refusals prove LVM was never run. Needs neither root nor LVM.
#[test]
fn invalid_names_and_tags_are_refused_without_running_lvm() {
    let lvm = LvmClient::start(LvmConfig {
        helper_exe: "/bin/false".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let refused = |result: Result<(), LvmError>| result.unwrap_err();
    assert!(matches!(
        block_on(lvm.vg_info("vg0 --yes")),
        Err(LvmError::InvalidVgName { .. })
    ));
    assert!(matches!(
        block_on(lvm.vg_info("-vg")),
        Err(LvmError::InvalidVgName { .. })
    ));
    assert!(matches!(
        refused(block_on(lvm.change_tags("vg0", &strings(&["a b"]), &[]))),
        LvmError::InvalidTag { .. }
    ));
    assert!(matches!(
        refused(block_on(lvm.change_tags(
            "vg0",
            &[],
            &strings(&["--force"])
        ))),
        LvmError::InvalidTag { .. }
    ));
    assert!(matches!(
        refused(block_on(lvm.change_tags("vg0", &strings(&["a,b"]), &[]))),
        LvmError::InvalidTag { .. }
    ));
    assert!(matches!(
        refused(block_on(lvm.change_tags(
            "vg0",
            &[volume_tag("not a uuid")],
            &[]
        ))),
        LvmError::InvalidTag { .. }
    ));
    let many: Vec<String> = (0..=TAG_CHANGES_MAX).map(|i| format!("t{i}")).collect();
    assert!(matches!(
        refused(block_on(lvm.change_tags("vg0", &many, &[]))),
        LvmError::TooManyTags { .. }
    ));
    assert!(matches!(
        refused(block_on(lvm.change_tags("vg0", &[], &[]))),
        LvmError::NoTags
    ));
    assert_eq!(lvm.restarts(), 0, "no request reached the helper");
    // And a request that does reach it fails as a dead helper, then restarts it.
    assert!(matches!(
        block_on(lvm.vg_info("vg0")),
        Err(LvmError::HelperFailed { .. })
    ));
    assert_eq!(lvm.restarts(), 1);
}

#[test]
fn missing_helper_executable_fails_to_start() {
    let err = LvmClient::start(LvmConfig {
        helper_exe: "/nonexistent/brickd".into(),
        timeout: Duration::from_secs(5),
    })
    .expect_err("no such executable");
    assert!(matches!(err, LvmError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/brickd"), "{err}");
}

#[test]
fn helper_killed_mid_request_is_restarted() {
    if skip("helper_killed_mid_request_is_restarted") {
        return;
    }
    let vg = ScratchVg::create();
    let lvm = client();
    let first_pid = block_on(lvm.ping()).unwrap();
    assert_eq!(lvm.helper_pid(), Some(first_pid));
    assert_eq!(lvm.requests_at_helper(), 0, "the ping was answered");
    // Stopped, the helper cannot answer: once the request is written to it, it stays there
    // until the helper is killed.
    signal(first_pid, libc::SIGSTOP);
    let (answer_tx, answer_rx) = std::sync::mpsc::channel();
    {
        let lvm = lvm.clone();
        let name = vg.name.clone();
        std::thread::spawn(move || {
            // The receiver is gone only if the test already failed.
            let _ = answer_tx.send(block_on(lvm.vg_info(&name)));
        });
    }
    wait_until(
        || lvm.requests_at_helper() == 1,
        "the request never reached the helper",
    );
    assert!(
        answer_rx.try_recv().is_err(),
        "answered while the helper is stopped"
    );
    signal(first_pid, libc::SIGKILL);
    let err = answer_rx
        .recv_timeout(HANG_DEADLINE)
        .expect("the call to a killed helper never ended")
        .unwrap_err();
    assert!(
        matches!(err, LvmError::HelperFailed { pid, .. } if pid == first_pid),
        "{err}"
    );
    assert_eq!(lvm.requests_at_helper(), 0, "given up on");
    // Killed and reaped, not left behind.
    assert!(!std::path::Path::new(&format!("/proc/{first_pid}")).exists());
    let info = block_on(lvm.vg_info(&vg.name)).unwrap().unwrap();
    assert_eq!(info.uuid, vg.field("vg_uuid"));
    assert_eq!(lvm.restarts(), 1);
    let second_pid = lvm.helper_pid().unwrap();
    assert_ne!(second_pid, first_pid);
    assert_eq!(block_on(lvm.ping()).unwrap(), second_pid);
}

#[test]
fn stopped_helper_times_out_and_is_restarted() {
    if skip("stopped_helper_times_out_and_is_restarted") {
        return;
    }
    let vg = ScratchVg::create();
    let lvm = LvmClient::start(config(Duration::from_secs(1))).unwrap();
    let first_pid = block_on(lvm.ping()).unwrap();
    signal(first_pid, libc::SIGSTOP);
    let started = Instant::now();
    let (answer_tx, answer_rx) = std::sync::mpsc::channel();
    {
        let lvm = lvm.clone();
        let name = vg.name.clone();
        std::thread::spawn(move || {
            // The receiver is gone only if the test already failed.
            let _ = answer_tx.send(block_on(lvm.vg_info(&name)));
        });
    }
    // A deadline far beyond the 1 s timeout: it only turns a timeout that never fires into a
    // failure rather than a hang.
    let err = answer_rx
        .recv_timeout(HANG_DEADLINE)
        .expect("the call to a stopped helper never ended")
        .unwrap_err();
    let waited = started.elapsed();
    // A timeout rather than a reply, and not before the configured second.
    assert!(
        matches!(err, LvmError::Timeout { pid, timeout_ms: 1000 } if pid == first_pid),
        "{err}"
    );
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    // The stopped helper was killed and reaped, not left behind.
    assert!(!std::path::Path::new(&format!("/proc/{first_pid}")).exists());
    assert!(block_on(lvm.vg_info(&vg.name)).unwrap().is_some());
    assert_eq!(lvm.restarts(), 1);
}

#[test]
fn concurrent_requests_from_many_threads_are_all_answered() {
    if skip("concurrent_requests_from_many_threads_are_all_answered") {
        return;
    }
    const THREADS: usize = 6;
    const ROUNDS: usize = 5;
    let vg = ScratchVg::create();
    let uuid = vg.field("vg_uuid");
    let lvm = client();
    let missing = format!("brickdtest_{}_absent", std::process::id());
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (lvm, vg, uuid, missing) = (lvm.clone(), &vg, &uuid, &missing);
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    let info = block_on(lvm.vg_info(&vg.name)).unwrap().unwrap();
                    assert_eq!(&info.uuid, uuid);
                    assert_eq!(block_on(lvm.vg_info(missing)).unwrap(), None);
                    let tag = format!("t{thread}.{round}");
                    block_on(lvm.change_tags(&vg.name, &[tag], &[])).unwrap();
                    block_on(lvm.ping()).unwrap();
                }
            });
        }
    });
    let mut expected: Vec<String> = (0..THREADS)
        .flat_map(|thread| (0..ROUNDS).map(move |round| format!("t{thread}.{round}")))
        .collect();
    expected.sort();
    assert_eq!(vg.tags(), expected);
    assert_eq!(lvm.restarts(), 0);
}
