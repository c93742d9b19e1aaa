//! The real gluster CLI (Debian's glusterfs-cli 10.3) against brickd's unix socket.
//!
//! Two kinds of check: on a fresh workdir the CLI's read commands print what glusterd prints
//! for an empty node; on a copy of a workdir a real glusterd 10.3 wrote
//! (tests/fixtures/workdirs/glusterd-10.3, volumes of every type, one peer), every read command
//! prints exactly what that glusterd printed (tests/fixtures/workdirs/glusterd-10.3.cli), text
//! and `--xml`. The only normalisation: brickd does not connect to peers yet, so the peer's
//! Connected/Disconnected (and XML `<connected>`) is set aside.

mod common;

use common::Brickd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the CLI; returns its exit code, stdout, stderr and how long it took.
fn gluster(socket: &Path, args: &[&str]) -> (i32, String, String, Duration) {
    let started = Instant::now();
    let out = Command::new("gluster")
        .arg(format!("--glusterd-sock={}", socket.display()))
        .arg("--mode=script")
        .arg("--timeout=20")
        .args(args)
        .output()
        .expect("the gluster CLI is installed (glusterfs-cli); scripts/test.sh installs it");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/workdirs")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Starts brickd on a copy of the glusterd fixture workdir.
fn brickd_on_fixture(dir: &tempfile::TempDir) -> Brickd {
    let workdir = dir.path().join("glusterd-workdir");
    copy_dir(&fixture("glusterd-10.3"), &workdir);
    Brickd::start_on(Some(workdir), &[], |_| {})
}

#[test]
fn an_empty_node_answers_like_a_fresh_glusterd() {
    let b = Brickd::start(&[]);
    let (code, out, _, took) = gluster(&b.socket, &["peer", "status"]);
    assert_eq!((code, out.as_str()), (0, "Number of Peers: 0\n"));
    assert!(took < Duration::from_secs(10));
    let (code, out, err, _) = gluster(&b.socket, &["volume", "info"]);
    assert_eq!((code, out + &err), (0, "No volumes present\n".to_owned()));
    let (code, out, err, _) = gluster(&b.socket, &["volume", "list"]);
    assert_eq!(
        (code, out + &err),
        (0, "No volumes present in cluster\n".to_owned())
    );
    let (code, out, _, _) = gluster(&b.socket, &["system::", "uuid", "get"]);
    assert_eq!(code, 0);
    let uuid = std::fs::read_to_string(b.workdir.join("glusterd.info")).unwrap();
    let uuid = uuid
        .lines()
        .find_map(|l| l.strip_prefix("UUID="))
        .unwrap()
        .to_owned();
    assert_eq!(out, format!("UUID: {uuid}\n"));
    let (code, out, _, _) = gluster(&b.socket, &["pool", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("{uuid}\tlocalhost\tConnected")),
        "{out}"
    );
}

#[test]
fn admin_commands_fail_with_a_plain_message() {
    let b = Brickd::start(&[]);
    let (code, out, err, took) = gluster(&b.socket, &["volume", "start", "v1"]);
    assert_eq!(code, 1);
    assert_eq!(
        out + &err,
        "volume start: v1: failed: brickd does not implement the CLI procedure START_VOLUME yet\n"
    );
    assert!(took < Duration::from_secs(10));
}

#[test]
fn the_cli_reports_a_missing_daemon_differently() {
    let b = Brickd::start(&[]);
    let mut missing = b.socket.clone();
    missing.set_file_name("nobody-here.socket");
    let (_, out, _, _) = gluster(&missing, &["peer", "status"]);
    assert!(out.contains("Connection failed"));
}

/// Sets aside what differs only because brickd does not connect to peers yet.
fn normalise_peer_connection(text: &str) -> String {
    text.replace("(Disconnected)", "(Connected)")
        .replace("\tDisconnected ", "\tConnected ")
        .replace("<connected>0</connected>", "<connected>1</connected>")
}

#[test]
fn every_read_command_prints_what_glusterd_printed_for_the_same_workdir() {
    let dir = tempfile::tempdir().unwrap();
    let b = brickd_on_fixture(&dir);
    let expected = fixture("glusterd-10.3.cli");
    let commands = std::fs::read_to_string(expected.join("commands.tsv")).unwrap();
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for line in commands.lines().skip(1) {
        let mut fields = line.split('\t');
        let (name, code, command) = (
            fields.next().unwrap(),
            fields.next().unwrap(),
            fields.next().unwrap(),
        );
        if name.contains("volume-status") {
            // `volume status` shows running brick processes; brickd runs none yet.
            continue;
        }
        let args: Vec<&str> = command
            .strip_prefix("gluster --mode=script ")
            .unwrap()
            .split(' ')
            .collect();
        let (got_code, got, _, _) = gluster(&b.socket, &args);
        let want = std::fs::read_to_string(expected.join(format!("{name}.txt"))).unwrap();
        compared += 1;
        if normalise_peer_connection(&got) != want || got_code.to_string() != code {
            mismatches.push(format!(
                "{command}: exit {got_code} (glusterd {code})\n--- brickd\n{got}--- glusterd\n{want}"
            ));
        }
    }
    assert!(compared >= 30, "only {compared} commands compared");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
