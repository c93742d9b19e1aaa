//! Crash tests of `volume start` and `volume stop`: brickd killed (SIGKILL, from a failpoint)
//! at every step of their commit, then restarted on the same workdir, port and run directory.
//! After the restart the volume is whole: started in the store with every brick process up,
//! or not started with none running — never a started volume without its bricks, nor a brick
//! process of a stopped volume. Also: a start in progress holds the volume's lock, and a stop
//! meanwhile gets glusterd's lock message.
//!
//! Needs the `failpoints` cargo feature (scripts/test.sh runs this file with it) and what the
//! volume tests need (root, loop devices, XFS, the glusterfs packages).

mod common;

#[cfg(feature = "failpoints")]
mod crash {
    use super::common::fs::Xfs;
    use super::common::gluster;
    use super::common::node::{alive, create, skip, wait_until, Node, StopAll};

    /// Restarts `node`'s brickd (killed at a failpoint) on its workdir, port and directories,
    /// with `env` set.
    fn restart(node: Node, env: &[(&str, &str)]) -> Node {
        node.restart_after_kill(env)
    }

    /// The volume's brick processes by pid file (whoever started them).
    fn brick_pids(node: &Node, volume: &str, paths: &[String]) -> Vec<Option<i32>> {
        paths
            .iter()
            .map(|p| {
                std::fs::read_to_string(node.pid_file(volume, p))
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .filter(|&pid| alive(pid))
            })
            .collect()
    }

    /// The volume is whole: started with every brick online, or not started with no brick
    /// process left. Returns whether it is started.
    fn whole(node: &Node, volume: &str, paths: &[String]) -> bool {
        let status = node.store_value(volume, "info", "status");
        if status == "1" {
            wait_until(
                || node.status(volume).iter().all(|r| r.2 == "Y"),
                "every brick of the started volume online",
            );
            let pids = brick_pids(node, volume, paths);
            assert!(pids.iter().all(Option::is_some), "{pids:?}");
            true
        } else {
            wait_until(
                || brick_pids(node, volume, paths).iter().all(Option::is_none),
                "no brick process of the volume that is not started",
            );
            false
        }
    }

    #[test]
    fn a_start_or_stop_killed_at_any_step_leaves_the_volume_whole_after_restart() {
        let test = "a_start_or_stop_killed_at_any_step_leaves_the_volume_whole_after_restart";
        if skip(test) {
            return;
        }
        let disks: Vec<Xfs> = (0..2).map(|_| Xfs::new()).collect();
        let mut checked = 0;
        // Every failpoint of the start/stop commit path (src/failpoint.rs lists them).
        let failpoints: Vec<&str> = brickd::failpoint::NAMES
            .iter()
            .copied()
            .filter(|n| n.starts_with("start.") || n.starts_with("stop."))
            .collect();
        for &failpoint in &failpoints {
            let volume = format!("k{checked}");
            let stopping = failpoint.starts_with("stop.");
            let node = Node::start_env(None, None, &[], &[("BRICKD_FAILPOINT", failpoint)]);
            let paths = create(&node, &volume, &["replica", "2"], &disks);
            if stopping {
                node.ok(&["volume", "start", &volume]);
            }
            let action = if stopping { "stop" } else { "start" };
            let (code, _, _, _) = gluster(&node.brickd.socket, &["volume", action, &volume]);
            if !failpoint.ends_with("after-store") {
                assert_ne!(code, 0, "{failpoint}: the CLI saw the daemon die");
            }
            let node = restart(node, &[]);
            let _guard = StopAll(&node, vec![volume.clone()]);
            let started = whole(&node, &volume, &paths);
            // A kill before the record leaves the old state, after it the new one.
            let expect_new = matches!(
                failpoint,
                "start.after-journal"
                    | "start.after-store"
                    | "stop.after-journal"
                    | "stop.after-store"
            );
            assert_eq!(started, stopping != expect_new, "{failpoint}");
            // And it goes on from there.
            if started {
                node.ok(&["volume", "stop", &volume]);
            } else {
                node.ok(&["volume", "start", &volume]);
                // The store files follow the reply.
                node.expect_store(&volume, "info", "status", "1");
                assert!(whole(&node, &volume, &paths));
                node.ok(&["volume", "stop", &volume]);
            }
            node.expect_store(&volume, "info", "status", "2");
            assert!(!whole(&node, &volume, &paths));
            node.ok(&["volume", "delete", &volume]);
            checked += 1;
        }
        assert_eq!(checked, failpoints.len());
        assert_eq!(checked, 7);
    }

    #[test]
    fn a_stop_while_a_start_is_in_progress_gets_the_lock_message() {
        let test = "a_stop_while_a_start_is_in_progress_gets_the_lock_message";
        if skip(test) {
            return;
        }
        let markers = tempfile::tempdir().unwrap();
        let marker_dir = markers.path().display().to_string();
        let node = Node::start_env(
            None,
            None,
            &[],
            &[
                ("BRICKD_FAILPOINT", "start.after-bricks:pause"),
                ("BRICKD_FAILPOINT_DIR", &marker_dir),
            ],
        );
        let disk = Xfs::new();
        let paths = create(&node, "l1", &[], std::slice::from_ref(&disk));
        let _guard = StopAll(&node, vec!["l1".into()]);
        let socket = node.brickd.socket.clone();
        let start = std::thread::spawn(move || gluster(&socket, &["volume", "start", "l1"]));
        wait_until(
            || markers.path().join("start.after-bricks.reached").exists(),
            "the start paused after its bricks",
        );
        let (code, _, err) = node.cli(&["volume", "stop", "l1"]);
        assert_eq!(
            (code, err.trim()),
            (
                1,
                "volume stop: l1: failed: Another transaction is in progress for l1. Please try again after some time."
            )
        );
        std::fs::write(markers.path().join("start.after-bricks.go"), b"").unwrap();
        let (code, out, err, _) = start.join().unwrap();
        assert_eq!(
            (code, out.as_str()),
            (0, "volume start: l1: success\n"),
            "{err}"
        );
        node.expect_store("l1", "info", "status", "1");
        assert!(whole(&node, "l1", &paths));
        node.ok(&["volume", "stop", "l1"]);
    }
}
