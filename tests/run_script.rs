//! scripts/run.sh as a newcomer meets it: run from a clean copy of the repository (the files
//! git tracks, as a fresh clone has them: no target/, no local/), it installs what it needs,
//! builds, starts brickd, runs the `gluster … peer status` it prints and shows the answer;
//! `--stop` stops it (with SIGKILL when SIGTERM is not enough) and says so only when it is gone;
//! a CLI that gets no answer fails the script with the CLI's own log line; unknown arguments
//! print the usage.
//!
//! The copy builds into target/run-sh-copy (fresh in CI, so this is a whole release build
//! there, as on a fresh clone; kept between local runs).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Copies the files git tracks (as they are in the working tree) into `to`.
fn clean_copy(to: &Path) {
    let listed = Command::new("git")
        .args(["-C", REPO, "ls-files", "-z", "--cached"])
        .output()
        .expect("git is installed (scripts/test.sh installs it)");
    assert!(listed.status.success(), "git ls-files: {listed:?}");
    let mut copied = 0;
    for name in listed.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = std::str::from_utf8(name).expect("UTF-8 path");
        let from = Path::new(REPO).join(name);
        // A file deleted in the working tree but not yet in the index is not there.
        if !from.exists() {
            continue;
        }
        let dest = to.join(name);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&from, &dest).unwrap_or_else(|e| panic!("copy {name}: {e}"));
        copied += 1;
    }
    assert!(
        to.join("scripts/run.sh").exists() && copied > 50,
        "{copied} files copied"
    );
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Runs `scripts/run.sh ARGS` in `copy` with `env`; a run that takes longer than `limit` is
/// killed and fails the test (the first run builds brickd: minutes).
fn run_sh(copy: &Path, args: &[&str], env: &[(&str, String)], limit: Duration) -> Run {
    let mut cmd = Command::new("bash");
    cmd.arg(copy.join("scripts/run.sh"))
        .args(args)
        .current_dir(copy)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("bash");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out: Output = match rx.recv_timeout(limit) {
        Ok(out) => out.expect("run.sh output"),
        Err(_) => {
            // SAFETY: kill has no memory preconditions; the pid is our own child's.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("scripts/run.sh {args:?} did not finish within {limit:?}");
        }
    };
    let run = Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    println!(
        "$ scripts/run.sh {}\n[exit {}]\n{}{}",
        args.join(" "),
        run.status,
        run.stdout,
        run.stderr
    );
    run
}

/// True while `pid` runs. An exited process that its parent (init, once run.sh's shell has
/// gone) has not reaped yet, a zombie, does not run.
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 && !is_zombie(pid) }
}

/// The pid in the ready line `brickd ready: pid=N …`.
fn ready_pid(stdout: &str) -> i32 {
    stdout
        .lines()
        .find(|l| l.starts_with("brickd ready:"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("pid=")))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no ready line with a pid in:\n{stdout}"))
}

#[test]
fn run_sh_from_a_clean_copy_serves_answers_its_own_peer_status_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("brickd");
    clean_copy(&copy);
    let home = dir.path().join("home");
    let env = vec![
        ("BRICKD_HOME", home.display().to_string()),
        ("BRICKD_LISTEN", "127.0.0.1:0".to_string()),
        (
            "CARGO_TARGET_DIR",
            Path::new(REPO)
                .join("target/run-sh-copy")
                .display()
                .to_string(),
        ),
    ];
    let build_limit = Duration::from_secs(30 * 60);
    let limit = Duration::from_secs(120);

    // Unknown arguments: usage, exit 2, nothing started.
    let bad = run_sh(&copy, &["--bogus"], &env, limit);
    assert_eq!(bad.status, 2);
    assert!(
        bad.stderr.contains("unknown arguments: --bogus"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("scripts/run.sh --stop"),
        "usage: {}",
        bad.stderr
    );
    assert!(!home.join("brickd.pid").exists());

    // Start: the ready line, the peer status it ran itself, and the command to try.
    let started = run_sh(&copy, &[], &env, build_limit);
    assert_eq!(started.status, 0, "{}", started.stderr);
    let pid = ready_pid(&started.stdout);
    assert!(alive(pid));
    let socket = home.join("brickd.socket");
    let try_line = format!(
        "try: gluster --glusterd-sock={} --mode=script peer status",
        socket.display()
    );
    assert!(started.stdout.contains(&try_line), "{}", started.stdout);
    assert!(
        started.stdout.contains("\nNumber of Peers: 0\n"),
        "run.sh shows the answer it got: {}",
        started.stdout
    );
    // What it tells the user to try works.
    let (code, out, err, _) = common::gluster(&socket, &["peer", "status"]);
    assert_eq!((code, out.as_str()), (0, "Number of Peers: 0\n"), "{err}");

    // Stop: SIGTERM is enough; "stopped" once the process is gone.
    let stopped = run_sh(&copy, &["--stop"], &env, limit);
    assert_eq!(stopped.status, 0);
    assert!(stopped
        .stdout
        .contains(&format!("brickd stopped (pid {pid})")));
    assert!(
        !alive(pid),
        "brickd {pid} still runs after run.sh said stopped"
    );
    let again = run_sh(&copy, &["--stop"], &env, limit);
    assert_eq!(again.status, 0);
    assert!(again.stdout.contains("not running"), "{}", again.stdout);

    // A brickd that ignores SIGTERM (stopped with SIGSTOP) gets SIGKILL.
    let started = run_sh(&copy, &[], &env, limit);
    assert_eq!(started.status, 0, "{}", started.stderr);
    let pid = ready_pid(&started.stdout);
    // SAFETY: as in `alive`.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let mut quick = env.clone();
    quick.push(("BRICKD_STOP_WAIT_S", "1".to_string()));
    let killed = run_sh(&copy, &["--stop"], &quick, limit);
    assert_eq!(killed.status, 0, "{}", killed.stderr);
    assert!(
        killed.stderr.contains("sending SIGKILL"),
        "{}",
        killed.stderr
    );
    assert!(killed
        .stdout
        .contains(&format!("brickd stopped (pid {pid})")));
    assert!(
        !alive(pid) || is_zombie(pid),
        "brickd {pid} survived SIGKILL"
    );

    // A CLI that gets no answer: run.sh fails, shows the CLI's log line and stops brickd.
    let fake_bin = dir.path().join("fake-bin");
    std::fs::create_dir_all(&fake_bin).unwrap();
    let fake = fake_bin.join("gluster");
    std::fs::write(
        &fake,
        "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in --log-file=*) log=\"${a#--log-file=}\";; esac; done\n\
         echo '[2026-01-01 00:00:00.000000 +0000] E [rpc-transport.c:282:rpc_transport_load] 0-rpc-transport: fake-socket.so: cannot open shared object file' >\"$log\"\n\
         exit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut broken = env.clone();
    broken.push((
        "PATH",
        format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap()),
    ));
    let failed = run_sh(&copy, &[], &broken, limit);
    assert_eq!(failed.status, 1, "{}", failed.stdout);
    assert!(failed.stderr.contains("got no answer"), "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .contains("fake-socket.so: cannot open shared object file"),
        "the CLI's own log line: {}",
        failed.stderr
    );
    assert!(!failed.stdout.contains("try:"), "{}", failed.stdout);
    assert!(!home.join("brickd.pid").exists(), "brickd was stopped");
}

/// True if `pid` is a zombie (exited, not yet reaped) or gone.
fn is_zombie(pid: i32) -> bool {
    let stat = PathBuf::from(format!("/proc/{pid}/stat"));
    match std::fs::read_to_string(stat) {
        Ok(text) => text
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}
