//! Faults in a pool's transactions (issue 18): a participant killed (SIGKILL) during its stage
//! and during its commit, a participant stopped (SIGSTOP) for longer than call-bail, and the
//! originator killed while it holds every node's lock. After each: no lock outlives its
//! holder's connection, no node keeps half a volume, and a restarted node catches up.
//!
//! Needs the `failpoints` cargo feature (scripts/test.sh runs this file with it): the faults
//! strike at named points of the transaction, not after a guessed delay.
#![cfg(feature = "failpoints")]

mod common;

use common::node::{node_address, wait_until, Glusterd, Node};
use common::pool::*;
use std::path::{Path, PathBuf};

/// Three pool members; `b` with `b_env` (its failpoints) and `a` with `a_extra` flags.
fn pool(a_extra: &[&str], a_env: &[(&str, &str)], b_env: &[(&str, &str)]) -> [Node; 3] {
    let a = Node::pool_member_with(None, a_extra, a_env);
    let b = Node::pool_member_with(None, &[], b_env);
    let c = Node::pool_member();
    a.ok(&["peer", "probe", &b.host]);
    a.ok(&["peer", "probe", &c.host]);
    for (n, others) in [(&a, [&b, &c]), (&b, [&a, &c]), (&c, [&a, &b])] {
        let hosts = [others[0].host.as_str(), others[1].host.as_str()];
        wait_in_cluster(|args: &[&str]| n.cli(args), &hosts, &n.host);
    }
    [a, b, c]
}

/// `volume create NAME replica 3` with one brick per node under `root`; the CLI's outcome.
fn create(on: &Node, nodes: &[&Node], name: &str, root: &str) -> (i32, String, Vec<PathBuf>) {
    let paths: Vec<PathBuf> = nodes
        .iter()
        .map(|n| PathBuf::from(format!("{root}/{name}-{}", n.host)))
        .collect();
    let bricks: Vec<String> = nodes
        .iter()
        .zip(&paths)
        .map(|(n, p)| format!("{}:{}", n.host, p.display()))
        .collect();
    let mut args = vec!["volume", "create", name, "replica", "3"];
    args.extend(bricks.iter().map(String::as_str));
    let (code, out, err) = on.cli(&args);
    (code, format!("{out}{err}"), paths)
}

/// A node brought back on its address and workdir, without failpoints.
fn restart(node: Node) -> Node {
    let (host, workdir) = (node.host.clone(), node.brickd.workdir.clone());
    let keep = tempfile::tempdir().unwrap();
    let copy = keep.path().join("w");
    // Dead already (its failpoint killed it): its workdir as it left it, before the node's
    // directories go.
    common::copy_dir(&workdir, &copy);
    drop(node);
    let mut back = Node::pool_member_at(Some(&host), Some(copy), &[], &[]);
    back.inherited.push(common::node::Inherited::Dir(keep));
    back
}

/// A pool whose `b` has `failpoint` on, and the replica 3 create of `v` from `a` (a brick on
/// each node under `root`) that fails with "`phase` failed on b": the pool and the bricks.
fn create_failing_on_b(failpoint: &str, phase: &str, root: &str) -> ([Node; 3], Vec<PathBuf>) {
    let [a, b, c] = pool(&[], &[], &[("BRICKD_FAILPOINT", failpoint)]);
    let (code, said, paths) = create(&a, &[&a, &b, &c], "v", root);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains(&format!("{phase} failed on {}", b.host)),
        "{said}"
    );
    ([a, b, c], paths)
}

fn has_volume(node: &Node, name: &str) -> bool {
    node.cli(&["volume", "info", name]).0 == 0
}

#[test]
fn a_participant_killed_in_its_stage_fails_the_create_and_leaves_nothing() {
    let test = "a_participant_killed_in_its_stage_fails_the_create_and_leaves_nothing";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    let ([a, b, c], paths) = create_failing_on_b("participant.stage:kill", "Staging", &disk.root());
    // No lock anywhere, no volume, no brick claimed.
    assert_eq!((leases(&a), leases(&c)), (0, 0));
    assert!(!has_volume(&a, "v") && !has_volume(&c, "v"));
    for p in &paths {
        assert!(volume_id_xattr(p).is_none(), "{} claimed", p.display());
    }
    // b comes back with nothing of it, rejoins, and the create goes through.
    let b = restart(b);
    assert!(!has_volume(&b, "v"));
    // Every node sees every other connected again (c's link to b reconnects with backoff;
    // until then c's stage says b is not connected).
    for (n, others) in [(&a, [&b, &c]), (&b, [&a, &c]), (&c, [&a, &b])] {
        let hosts = [others[0].host.as_str(), others[1].host.as_str()];
        wait_in_cluster(|args: &[&str]| n.cli(args), &hosts, &n.host);
    }
    let (code, said, _) = create(&a, &[&a, &b, &c], "v", &disk.root());
    assert_eq!(code, 0, "{said}");
    for n in [&a, &b, &c] {
        common::wait_for_store(&n.brickd.workdir, "v");
    }
    let store = volume_store(&a.brickd.workdir, "v");
    assert_eq!(volume_store(&b.brickd.workdir, "v"), store);
}

#[test]
fn a_participant_killed_in_its_commit_catches_up_when_it_restarts() {
    let test = "a_participant_killed_in_its_commit_catches_up_when_it_restarts";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    // Killed with its commit's record durable, nothing claimed yet.
    let ([a, b, c], paths) =
        create_failing_on_b("create.after-journal:kill", "Commit", &disk.root());
    assert_eq!((leases(&a), leases(&c)), (0, 0));
    // The nodes that committed hold the whole volume; b finishes its commit from its journal
    // when it restarts, and all three agree.
    let b = restart(b);
    for n in [&a, &b, &c] {
        wait_until(|| has_volume(n, "v"), &format!("{} to hold v", n.host));
        common::wait_for_store(&n.brickd.workdir, "v");
    }
    let store = volume_store(&a.brickd.workdir, "v");
    for n in [&b, &c] {
        assert_eq!(volume_store(&n.brickd.workdir, "v"), store, "{}", n.host);
    }
    for p in &paths {
        assert!(volume_id_xattr(p).is_some(), "{} claimed", p.display());
    }
}

#[test]
fn a_commit_refused_by_a_participant_is_taken_back_on_every_node_that_made_it() {
    let test = "a_commit_refused_by_a_participant_is_taken_back_on_every_node_that_made_it";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    // b answers that its commit failed (nothing changed there); a and c commit. glusterd
    // leaves the volume on a and c, and their bricks claimed; brickd takes it back there.
    let ([a, b, c], paths) =
        create_failing_on_b("participant.commit:error", "Commit", &disk.root());
    for n in [&a, &b, &c] {
        wait_until(
            || !has_volume(n, "v") && !n.brickd.workdir.join("vols/v").exists(),
            &format!("{} to hold no v", n.host),
        );
    }
    for p in &paths {
        assert!(
            volume_id_xattr(p).is_none(),
            "{} still claimed",
            p.display()
        );
    }
    assert_eq!((leases(&a), leases(&b), leases(&c)), (0, 0, 0));
}

#[test]
fn a_refused_commit_is_taken_back_on_a_real_glusterd_that_made_it() {
    let test = "a_refused_commit_is_taken_back_on_a_real_glusterd_that_made_it";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    let g_dir = tempfile::tempdir().unwrap();
    let g_host = node_address();
    let g = Glusterd::start(g_dir.path(), &g_host);
    let a = Node::pool_member();
    let c = Node::pool_member_with(
        None,
        &[],
        &[("BRICKD_FAILPOINT", "participant.commit:error")],
    );
    a.ok(&["peer", "probe", &g_host]);
    a.ok(&["peer", "probe", &c.host]);
    wait_in_cluster(|args: &[&str]| a.cli(args), &[&g_host, &c.host], "a");
    wait_in_cluster(|args: &[&str]| g.cli(args), &[&a.host, &c.host], "glusterd");
    let bricks: Vec<String> = [&a.host, &g_host, &c.host]
        .iter()
        .map(|h| format!("{h}:{}/v-{h}", disk.root()))
        .collect();
    let mut args = vec!["volume", "create", "v", "replica", "3"];
    args.extend(bricks.iter().map(String::as_str));
    let (code, out, err) = a.cli(&args);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!("Commit failed on {}", c.host)),
        "{out}{err}"
    );
    // glusterd, which had committed, took the delete (its own delete leaves the brick's
    // volume-id, as glusterd's always does); brickd's nodes hold nothing.
    wait_until(
        || g.cli(&["volume", "info", "v"]).0 != 0,
        "glusterd to hold no v",
    );
    assert!(!g_dir.path().join("vols/v").exists());
    for n in [&a, &c] {
        wait_until(|| !has_volume(n, "v"), &format!("{} to hold no v", n.host));
    }
    let a_brick = PathBuf::from(format!("{}/v-{}", disk.root(), a.host));
    assert!(
        volume_id_xattr(&a_brick).is_none(),
        "a's brick still claimed"
    );
    assert_eq!((leases(&a), leases(&c)), (0, 0));
}

#[test]
fn a_participant_stopped_past_call_bail_fails_the_create_and_frees_every_lock() {
    let test = "a_participant_stopped_past_call_bail_fails_the_create_and_frees_every_lock";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    let [a, b, c] = pool(&["--peer-frame-timeout-s", "2"], &[], &[]);
    b.brickd.signal(libc::SIGSTOP);
    let started = std::time::Instant::now();
    let (code, said, paths) = create(&a, &[&a, &b, &c], "v", &disk.root());
    let took = started.elapsed();
    b.brickd.signal(libc::SIGCONT);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains(&format!("Locking failed on {}", b.host)),
        "{said}"
    );
    assert!(
        took < common::HANG_DEADLINE,
        "call-bail came after {took:?}"
    );
    // The originator and c hold nothing; b, once it runs again, takes the lock it was sent and
    // then drops it on the unlock that followed.
    assert_eq!((leases(&a), leases(&c)), (0, 0));
    wait_until(|| leases(&b) == 0, "b's lock to go");
    for n in [&a, &b, &c] {
        assert!(!has_volume(n, "v"), "{}", n.host);
    }
    for p in &paths {
        assert!(volume_id_xattr(p).is_none());
    }
}

#[test]
fn the_originator_killed_holding_every_lock_frees_them_with_its_connections() {
    let test = "the_originator_killed_holding_every_lock_frees_them_with_its_connections";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    let [a, b, c] = pool(&[], &[("BRICKD_FAILPOINT", "txn.after-lock:kill")], &[]);
    let (code, said, paths) = create(&a, &[&a, &b, &c], "v", &disk.root());
    assert_ne!(code, 0, "{said}");
    // b and c free a's locks when its connections close (well before the 180 s lease).
    for n in [&b, &c] {
        wait_until(|| leases(n) == 0, &format!("{}'s locks to go", n.host));
        assert!(!has_volume(n, "v"));
    }
    for p in &paths {
        assert!(volume_id_xattr(Path::new(p)).is_none());
    }
}

#[test]
fn a_participant_that_restarted_after_the_lock_refuses_the_phases() {
    let test = "a_participant_that_restarted_after_the_lock_refuses_the_phases";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    let marks = tempfile::tempdir().unwrap();
    let marks_dir = marks.path().display().to_string();
    // a pauses with every lock taken; b restarts meanwhile, losing the lock a took there.
    let a = Node::pool_member_with(
        None,
        &[],
        &[
            ("BRICKD_FAILPOINT", "txn.after-lock:pause"),
            ("BRICKD_FAILPOINT_DIR", &marks_dir),
        ],
    );
    let b = Node::pool_member();
    a.ok(&["peer", "probe", &b.host]);
    wait_in_cluster(|args: &[&str]| b.cli(args), &[&a.host], "b");
    let (a_host, b_host) = (a.host.clone(), b.host.clone());
    let bricks = [
        format!("{a_host}:{}/v-a", disk.root()),
        format!("{b_host}:{}/v-b", disk.root()),
    ];
    let socket = a.brickd.socket.clone();
    let creating = std::thread::spawn(move || {
        common::gluster(
            &socket,
            &[
                "volume", "create", "v", "replica", "2", &bricks[0], &bricks[1], "force",
            ],
        )
    });
    wait_until(
        || marks.path().join("txn.after-lock.reached").exists(),
        "a to hold every lock",
    );
    assert_eq!(leases(&b), 1);
    let b = restart(b);
    assert_eq!(leases(&b), 0);
    wait_in_cluster(|args: &[&str]| a.cli(args), &[&b_host], "a");
    std::fs::write(marks.path().join("txn.after-lock.go"), b"").unwrap();
    let (code, out, err, _) = creating.join().unwrap();
    assert_eq!(code, 1, "{out}{err}");
    let said = format!("{out}{err}");
    assert!(
        said.contains(&format!("Staging failed on {b_host}"))
            && said.contains("does not hold the lock"),
        "{said}"
    );
    assert!(!has_volume(&a, "v") && !has_volume(&b, "v"));
    assert_eq!((leases(&a), leases(&b)), (0, 0));
}

#[test]
fn a_reconcile_killed_in_its_import_leaves_the_old_copy_or_the_peers_never_a_mix() {
    let test = "a_reconcile_killed_in_its_import_leaves_the_old_copy_or_the_peers_never_a_mix";
    if common::node::skip(test) {
        return;
    }
    let mut killed = 0;
    // Before its journal record, the node keeps its own copy and still rejects the peer;
    // after it, start-up finishes the import and the two are friends.
    for (point, taken) in [
        ("import.before-journal", false),
        ("import.after-journal", true),
        ("import.after-store", true),
    ] {
        let disk = common::fs::Xfs::new();
        let (a, b) = two_members_with_volume(&disk, "v");
        let armed = format!("{point}:kill");
        let (b, _dirs) = restart_with_drift(b, &a.host, "v", &[("BRICKD_FAILPOINT", &armed)]);
        wait_until(|| shows_rejected(&b, &a.host), "b to reject a");
        wait_rejection_noted(&b);
        let drifted = info_lines_and_cksum(&b.brickd.workdir, "v");
        let (code, out, err) = brickd_peer(&b, &["reconcile", &a.host]);
        // Killed: no answer.
        assert_eq!((code, out.as_str()), (1, ""), "{point}: {err}");
        assert!(
            err.contains("closed the connection without answering"),
            "{point}: {err}"
        );
        killed += 1;
        let b = restart(b);
        let want = if taken {
            info_lines_and_cksum(&a.brickd.workdir, "v")
        } else {
            drifted
        };
        wait_until(
            || info_lines_and_cksum(&b.brickd.workdir, "v") == want,
            &format!(
                "{point}: b's v to be the {} copy",
                if taken { "peer's" } else { "old" }
            ),
        );
        if taken {
            wait_in_cluster(|args: &[&str]| b.cli(args), &[&a.host], "b");
            wait_in_cluster(|args: &[&str]| a.cli(args), &[&b.host], "a");
        } else {
            wait_until(
                || shows_rejected(&b, &a.host),
                &format!("{point}: b to reject a still"),
            );
        }
    }
    println!("{test}: killed at {killed} failpoints, each left one whole copy");
}
