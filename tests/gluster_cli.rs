//! The real gluster CLI (Debian's glusterfs-cli 10.3) against brickd's unix socket.
//!
//! Until the CLI program has procedures, every CLI command must get a well-formed RPC reply
//! (PROC_UNAVAIL) quickly: the CLI then reports a failure at once instead of waiting 120 s
//! for a reply or reporting that no daemon is there.

mod common;

use common::Brickd;
use std::process::Command;
use std::time::{Duration, Instant};

fn gluster(b: &Brickd, args: &[&str]) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = Command::new("gluster")
        .arg(format!("--glusterd-sock={}", b.socket.display()))
        .arg("--mode=script")
        .arg("--timeout=20")
        .args(args)
        .output()
        .expect("the gluster CLI is installed (glusterfs-cli); the test command installs it");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text, started.elapsed())
}

#[test]
fn peer_status_gets_a_well_formed_rpc_reply() {
    let b = Brickd::start(&[]);
    let (code, text, took) = gluster(&b, &["peer", "status"]);
    assert_eq!(code, 1, "{text}");
    assert!(!text.contains("Connection failed"), "{text}");
    assert!(!text.contains("timed out"), "{text}");
    assert!(text.contains("failed"), "{text}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn volume_info_gets_a_well_formed_rpc_reply() {
    let b = Brickd::start(&[]);
    let (code, text, took) = gluster(&b, &["volume", "info"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("Failed to get volume info"), "{text}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn the_cli_reports_a_missing_daemon_differently() {
    let b = Brickd::start(&[]);
    let mut missing = b.socket.clone();
    missing.set_file_name("nobody-here.socket");
    let out = Command::new("gluster")
        .arg(format!("--glusterd-sock={}", missing.display()))
        .args(["--mode=script", "peer", "status"])
        .output()
        .expect("gluster CLI");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Connection failed"));
}
