//! `gluster system uuid reset` against the real glusterd: the same answers (text and --xml) on
//! a new node and on a node with a volume; brickd's new UUID is the one `system uuid get`
//! shows, the one `glusterd.info` keeps and the one a restarted brickd has, and a volume
//! created afterwards is this node's. Killed (SIGKILL, from a failpoint) before or after its
//! store step, brickd comes back with the old UUID or the new one, never a mix.
//!
//! Needs root and the glusterfs packages; the crash test needs the `failpoints` feature
//! (scripts/test.sh runs this file with it).

mod common;

use common::node::{skip, Pair};

/// The UUID `glusterd.info` in `workdir` names.
fn stored_uuid(workdir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(workdir.join("glusterd.info")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("UUID="))
        .unwrap_or_else(|| panic!("no UUID= in {text}"))
        .to_string()
}

/// A node's CLI: the arguments in, the exit code, stdout and stderr out.
type Cli<'a> = dyn Fn(&[&str]) -> (i32, String, String) + 'a;

/// What `system uuid get` prints: `UUID: <uuid>`.
fn shown_uuid(cli: &Cli<'_>) -> String {
    let (code, out, err) = cli(&["system", "uuid", "get"]);
    assert_eq!(code, 0, "{out}{err}");
    out.trim()
        .strip_prefix("UUID: ")
        .unwrap_or(&out)
        .to_string()
}

#[test]
fn uuid_reset_answers_and_acts_as_glusterds() {
    let test = "uuid_reset_answers_and_acts_as_glusterds";
    if skip(test) {
        return;
    }
    let Pair {
        node,
        glusterd,
        glusterd_dir: _glusterd_dir,
        glusterd_address,
        bricks,
        ..
    } = Pair::start();
    let ours_cli = |a: &[&str]| node.cli(a);
    let theirs_cli = |a: &[&str]| glusterd.cli(a);
    let before = shown_uuid(&ours_cli);
    let theirs_before = shown_uuid(&theirs_cli);
    let mut compared = 0;
    // A new node: success, a new UUID.
    let reset = ["system", "uuid", "reset"];
    let (b, g) = (node.cli(&reset), glusterd.cli(&reset));
    assert_eq!(b, g, "system uuid reset on a new node");
    assert_eq!(b.0, 0, "{b:?}");
    compared += 1;
    let after = shown_uuid(&ours_cli);
    assert_ne!(after, before, "brickd's UUID changed");
    assert_ne!(
        shown_uuid(&theirs_cli),
        theirs_before,
        "glusterd's UUID changed"
    );
    assert_eq!(
        stored_uuid(&node.brickd.workdir),
        after,
        "glusterd.info keeps it"
    );
    // A volume made now is this node's (its bricks are the new UUID's: start-able, listed).
    for (prefix, cli) in [
        (
            format!("{}:{}/b", node.host, bricks.path().display()),
            &ours_cli as &Cli<'_>,
        ),
        (
            format!("{glusterd_address}:{}/g", bricks.path().display()),
            &theirs_cli,
        ),
    ] {
        let (code, out, err) = cli(&["volume", "create", "u", &prefix, "force"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let brick_file = std::fs::read_dir(node.brickd.workdir.join("vols/u/bricks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let brick = std::fs::read_to_string(&brick_file).unwrap();
    assert!(brick.contains(&format!("uuid={after}\n")), "{brick}");
    // With a volume: glusterd's refusal, text and --xml.
    for args in [&reset[..], &["system", "uuid", "reset", "--xml"]] {
        let (b, g) = (node.cli(args), glusterd.cli(args));
        assert_eq!(b, g, "{}", args.join(" "));
        compared += 1;
    }
    assert_eq!(
        shown_uuid(&ours_cli),
        after,
        "the refused reset changed nothing"
    );
    // A restarted brickd has the new UUID.
    node.brickd.signal(libc::SIGKILL);
    let node = node.restart_after_kill(&[]);
    assert_eq!(shown_uuid(&|a: &[&str]| node.cli(a)), after);
    println!("{test}: {compared} answers as glusterd's; the new UUID stored, shown and kept");
}

#[cfg(feature = "failpoints")]
mod crash {
    use super::common::node::{skip, Node};
    use super::{shown_uuid, stored_uuid};

    #[test]
    fn a_uuid_reset_killed_at_either_step_keeps_one_uuid() {
        let test = "a_uuid_reset_killed_at_either_step_keeps_one_uuid";
        if skip(test) {
            return;
        }
        let mut ran = 0;
        for (failpoint, changed) in [
            ("uuid-reset.before-store", false),
            ("uuid-reset.after-store", true),
        ] {
            let node = Node::start_env(None, None, &[], &[("BRICKD_FAILPOINT", failpoint)]);
            let before = shown_uuid(&|a: &[&str]| node.cli(a));
            let _ = node.cli(&["system", "uuid", "reset"]);
            let node = node.restart_after_kill(&[]);
            let now = shown_uuid(&|a: &[&str]| node.cli(a));
            assert_eq!(now != before, changed, "{failpoint}: {before} -> {now}");
            assert_eq!(stored_uuid(&node.brickd.workdir), now, "{failpoint}");
            assert!(
                !node.brickd.workdir.join("glusterd.info.tmp").exists(),
                "{failpoint}: a .tmp left"
            );
            ran += 1;
        }
        println!("{test}: {ran} failpoints");
    }
}
