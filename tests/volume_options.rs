//! `volume set`, `volume get` and `volume reset` against the real glusterd: the same commands
//! through the real CLI on a private glusterd and on brickd give the same output, byte for
//! byte once brick names and volume ids are normalised; and a brickd killed (SIGKILL, from a
//! failpoint) at each step of a set comes back with the old value or the new one, never a mix.
//!
//! Needs root and the glusterfs packages (glusterd, the CLI); the crash test needs the
//! `failpoints` cargo feature (scripts/test.sh runs this file with it).

mod common;

use common::compare::{normalised, status_normalized, volfiles};
use common::node::{skip, wait_until, Glusterd, Mount, Node, Pair, StopAll};

/// The commands both nodes run, in order, on volume `VOL` (a one-brick distribute volume).
const SCRIPT: &[&str] = &[
    "volume set VOL performance.cache-size 256MB",
    "volume get VOL performance.cache-size",
    "volume get VOL cache-size",
    "volume get VOL performance.io-thread-count",
    "volume set VOL performance.io-cache off",
    "volume set VOL network.ping-timeout 20",
    "volume set VOL performance.cache-size 128MB",
    "volume set VOL performance.quick-read-cache-timeout 2",
    "volume info VOL",
    "volume get VOL network.ping-timeout --xml",
    "volume set VOL user.note hello",
    "volume get VOL user.note",
    "volume get VOL nfs.port",
    "volume get VOL nfs.port --xml",
    "volume get VOL cluster.nufa",
    "volume get VOL config.transport",
    "volume get VOL config.memory-accounting",
    "volume set VOL nfs.port 2049",
    "volume get VOL nfs.port",
    "volume reset VOL network.ping-timeout",
    "volume get VOL network.ping-timeout",
    "volume info VOL",
    "volume reset VOL nfs.disable",
    "volume info VOL",
    "volume reset VOL transport.address-family",
    "volume info VOL",
    "volume set VOL nfs.disable off",
    "volume info VOL",
    "volume set VOL cluster.op-version 90000",
    "volume set VOL performance.read-ahead on --xml",
    "volume reset VOL performance.read-ahead --xml",
    "volume reset VOL",
    "volume info VOL",
    "volume set VOL features.read-only on",
    "volume reset VOL all force",
    "volume info VOL",
    "volume get NOVOL all",
    "volume set NOVOL performance.io-cache off",
    "volume reset NOVOL",
    "volume get all cluster.op-version",
    "volume get all performance.io-cache",
    "volume set all performance.io-cache off",
    "volume set all cluster.server-quorum-ratio 60",
    "volume set all cluster.daemon-log-level DEBUG",
    "volume set all cluster.localtime-logging enable",
    "volume info VOL",
    "volume get all all",
    "volume get all all --xml",
    "volume set all cluster.server-quorum-ratio 70",
    "volume info VOL --xml",
    "volume reset all cluster.server-quorum-ratio",
    "volume info VOL",
    "volume set all cluster.server-quorum-ratio 150",
    "volume set all server-quorum-ratio abc",
    "volume set all cluster.op-version 90000",
    "volume set all cluster.op-version 110000",
    "volume set all cluster.max-op-version 5",
    "volume set all cluster.daemon-log-level bogus",
    "volume set all cluster.localtime-logging maybe",
    "volume set all cluster.enable-shared-storage maybe",
    "volume set all cluster.max-bricks-per-process 4",
    "volume get all cluster.localtime-logging",
    "volume get VOL cluster.server-quorum-ratio",
    "volume get VOL cluster.op-version",
    "volume get VOL cluster.localtime-logging",
    "volume reset all",
    "volume get all all",
];

#[test]
fn set_get_and_reset_answer_as_glusterd_does() {
    let test = "set_get_and_reset_answer_as_glusterd_does";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let glusterd_dir = tempfile::tempdir().unwrap();
    let glusterd_address = common::node::node_address();
    let glusterd = Glusterd::start(glusterd_dir.path(), &glusterd_address);
    let bricks = tempfile::tempdir().unwrap();
    let ours = format!("{}:{}/b", node.host, bricks.path().display());
    let theirs = format!("{glusterd_address}:{}/g", bricks.path().display());
    let (code, out, err) = node.cli(&["volume", "create", "o", &ours, "force"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = glusterd.cli(&["volume", "create", "o", &theirs, "force"]);
    assert_eq!(code, 0, "{out}{err}");
    let mut compared = 0;
    for line in SCRIPT {
        let line = line.replace("NOVOL", "nosuch").replace("VOL", "o");
        let args: Vec<&str> = line.split(' ').collect();
        let (args, xml) = match args.last() {
            Some(&"--xml") => (&args[..args.len() - 1], true),
            _ => (&args[..], false),
        };
        let mut full: Vec<&str> = Vec::new();
        if xml {
            full.push("--xml");
        }
        full.extend_from_slice(args);
        let (b_code, b_out, b_err) = node.cli(&full);
        let (g_code, g_out, g_err) = glusterd.cli(&full);
        assert_eq!(
            (b_code, normalised(&b_out, &ours), normalised(&b_err, &ours)),
            (
                g_code,
                normalised(&g_out, &theirs),
                normalised(&g_err, &theirs)
            ),
            "`gluster {line}`: brickd (left) and glusterd (right) differ"
        );
        compared += 1;
    }
    // The store: the same options in the same order in `info`, and the version moved as far.
    let info_options = |path: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| {
                let key = l.split('=').next().unwrap_or("");
                key.contains('.')
                    || key == "version"
                    || key == "op-version"
                    || key == "client-op-version"
            })
            .map(str::to_owned)
            .collect()
    };
    // brickd writes its store files after the reply: wait for the last change's.
    let ours_info = node.brickd.workdir.join("vols/o/info");
    let theirs_info = glusterd_dir.path().join("vols/o/info");
    let (ours_options, theirs_options) = (
        node.brickd.workdir.join("options"),
        glusterd_dir.path().join("options"),
    );
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    wait_until(
        || {
            info_options(&ours_info) == info_options(&theirs_info)
                && read(&ours_options) == read(&theirs_options)
        },
        "brickd's store files as glusterd's",
    );
    assert_eq!(info_options(&ours_info), info_options(&theirs_info));
    // The node's `options` file, line for line.
    assert_eq!(read(&ours_options), read(&theirs_options));
    println!("{test}: {compared} commands gave glusterd's output, and the info files agree");
}

#[test]
fn an_unknown_key_is_refused_and_changes_nothing() {
    let test = "an_unknown_key_is_refused_and_changes_nothing";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let bricks = tempfile::tempdir().unwrap();
    let brick = format!("{}:{}/b", node.host, bricks.path().display());
    node.ok(&["volume", "create", "u", &brick, "force"]);
    common::wait_for_store(&node.brickd.workdir, "u");
    let before = std::fs::read(node.brickd.workdir.join("vols/u/info")).unwrap();
    let (code, _, err) = node.cli(&["volume", "set", "u", "foo.bar", "1"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("volume set: failed: option : foo.bar does not exist"),
        "{err}"
    );
    let (code, _, err) = node.cli(&["volume", "reset", "u", "user.never-set"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("volume reset: failed: Option user.never-set does not exist"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(node.brickd.workdir.join("vols/u/info")).unwrap(),
        before
    );
}

#[test]
fn a_set_reaches_the_running_brick_and_the_mounted_client_without_a_restart() {
    let test = "a_set_reaches_the_running_brick_and_the_mounted_client_without_a_restart";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let bricks = tempfile::tempdir().unwrap();
    let brick = format!("{}:{}/b", node.host, bricks.path().display());
    node.ok(&["volume", "create", "live", &brick, "force"]);
    node.ok(&["volume", "start", "live"]);
    let _stop = StopAll(&node, vec!["live".into()]);
    let brick_pid = |node: &Node| {
        std::fs::read_to_string(node.pid_file("live", &format!("{}/b", bricks.path().display())))
            .unwrap()
            .trim()
            .to_string()
    };
    let pid_before = brick_pid(&node);
    let mount = Mount::new(&node, "live");
    std::fs::write(mount.path("before"), b"x").unwrap();

    // A brick option: the brick's read-only xlator turns on in the running process.
    node.ok(&["volume", "set", "live", "features.read-only", "on"]);
    let mut refused = None;
    wait_until(
        || {
            refused = std::fs::write(mount.path("during"), b"x").err();
            refused.is_some()
        },
        "writes refused once features.read-only is on",
    );
    assert_eq!(refused.unwrap().raw_os_error(), Some(libc::EROFS));
    node.ok(&["volume", "reset", "live", "features.read-only"]);
    wait_until(
        || std::fs::write(mount.path("after"), b"x").is_ok(),
        "writes taken again once features.read-only is reset",
    );
    assert_eq!(brick_pid(&node), pid_before, "the brick was not restarted");

    // A client option that adds an xlator: the mounted client switches to a new graph.
    let log = node.dirs.path().join("fuse-live.log");
    let switched = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("switched to graph")
            .count()
    };
    let graphs_before = switched();
    node.ok(&["volume", "set", "live", "performance.nl-cache", "on"]);
    wait_until(
        || {
            // The FUSE bridge switches at the next operation.
            let _ = std::fs::read_dir(mount.path(""));
            switched() > graphs_before
        },
        "the client on a new graph after performance.nl-cache on",
    );
    // The store's client volfile follows the reply.
    let client_volfile = node.brickd.workdir.join("vols/live/live.tcp-fuse.vol");
    wait_until(
        || {
            std::fs::read_to_string(&client_volfile)
                .is_ok_and(|t| t.contains("type performance/nl-cache"))
        },
        "the stored client volfile with nl-cache",
    );
    assert_eq!(std::fs::read(mount.path("before")).unwrap(), b"x");
    println!("{test}: the brick and the client reconfigured live");
}

#[cfg(feature = "failpoints")]
mod crash {
    use super::common::node::{skip, wait_until, Node};

    #[test]
    fn a_set_or_reset_killed_at_any_step_leaves_the_old_or_the_new_value() {
        let test = "a_set_or_reset_killed_at_any_step_leaves_the_old_or_the_new_value";
        if skip(test) {
            return;
        }
        let mut ran = 0;
        for (failpoint, new_expected) in [
            ("set.before-journal", false),
            ("set.after-journal", true),
            ("set.after-store", true),
            ("reset.before-journal", false),
            ("reset.after-journal", true),
            ("reset.after-store", true),
        ] {
            let reset = failpoint.starts_with("reset");
            let node = Node::start_env(None, None, &[], &[("BRICKD_FAILPOINT", failpoint)]);
            let bricks = tempfile::tempdir().unwrap();
            let brick = format!("{}:{}/b", node.host, bricks.path().display());
            node.ok(&["volume", "create", "k", &brick, "force"]);
            if reset {
                // Set before the failpoint is reached: the reset is the change under test.
                // (`BRICKD_FAILPOINT` names one failpoint; a set passes only `set.*`.)
                node.ok(&["volume", "set", "k", "performance.cache-size", "64MB"]);
            }
            let info = node.brickd.workdir.join("vols/k/info");
            // The store files follow the reply: wait for them.
            wait_until(
                || {
                    std::fs::read_to_string(&info)
                        .is_ok_and(|t| t.contains("performance.cache-size=64MB") == reset)
                        && node.brickd.workdir.join("vols/k/cksum").exists()
                },
                "the volume's store files",
            );
            let old = std::fs::read_to_string(&info).unwrap();
            let args: &[&str] = if reset {
                &["volume", "reset", "k", "performance.cache-size"]
            } else {
                &["volume", "set", "k", "performance.cache-size", "64MB"]
            };
            // The CLI's connection breaks when brickd dies: its answer does not matter.
            let _ = node.cli(args);
            let node = node.restart_after_kill(&[]);
            let (_, shown, _) = node.cli(&["volume", "get", "k", "performance.cache-size"]);
            let value_is_new = if reset {
                shown.contains("32MB (DEFAULT)")
            } else {
                shown.contains("64MB")
            };
            let value_is_old = if reset {
                shown.contains("64MB")
            } else {
                shown.contains("32MB (DEFAULT)")
            };
            assert!(value_is_new != value_is_old, "{failpoint}: {shown}");
            assert_eq!(value_is_new, new_expected, "{failpoint}: {shown}");
            // The store says the same as the running node (start-up redid a journaled
            // change before answering), and its checksum is whole.
            let stored = std::fs::read_to_string(&info).unwrap();
            assert_eq!(
                stored.contains("performance.cache-size=64MB"),
                value_is_new != reset,
                "{failpoint}: {stored}"
            );
            if !new_expected {
                assert_eq!(stored, old, "{failpoint}");
            }
            let cksum = std::fs::read_to_string(node.brickd.workdir.join("vols/k/cksum")).unwrap();
            let expected = brickd::store::VolumeChecksum::of_info(stored.as_bytes()).file_text();
            assert_eq!(cksum, expected, "{failpoint}");
            ran += 1;
        }
        println!("{test}: {ran} failpoints");
    }

    /// A set of a key glusterd sets on every volume, killed at each step: every volume has the
    /// old value or every volume the new one, each with a whole checksum.
    #[test]
    fn an_every_volume_set_killed_at_any_step_changes_every_volume_or_none() {
        let test = "an_every_volume_set_killed_at_any_step_changes_every_volume_or_none";
        if skip(test) {
            return;
        }
        let mut ran = 0;
        for (failpoint, new_expected) in [
            ("set.before-journal", false),
            ("set.after-journal", true),
            ("set.after-store", true),
        ] {
            let node = Node::start_env(None, None, &[], &[("BRICKD_FAILPOINT", failpoint)]);
            let bricks = tempfile::tempdir().unwrap();
            let names = ["k1", "k2", "k3"];
            for name in names {
                let brick = format!("{}:{}/{name}", node.host, bricks.path().display());
                node.ok(&["volume", "create", name, &brick, "force"]);
            }
            wait_until(
                || {
                    names
                        .iter()
                        .all(|n| node.brickd.workdir.join(format!("vols/{n}/cksum")).exists())
                },
                "the volumes' store files",
            );
            let _ = node.cli(&["volume", "set", "k2", "client.strict-locks", "on"]);
            let node = node.restart_after_kill(&[]);
            for name in names {
                let (_, shown, _) = node.cli(&["volume", "get", name, "client.strict-locks"]);
                let info = node.brickd.workdir.join(format!("vols/{name}/info"));
                let stored = std::fs::read_to_string(info).unwrap();
                assert_eq!(
                    stored.contains("client.strict-locks=on"),
                    new_expected,
                    "{failpoint} {name}: {stored}"
                );
                assert_eq!(
                    (shown.lines()).any(|l| l.split_whitespace().eq(["client.strict-locks", "on"])),
                    new_expected,
                    "{failpoint} {name}: {shown}"
                );
                let cksum =
                    std::fs::read_to_string(node.brickd.workdir.join(format!("vols/{name}/cksum")))
                        .unwrap();
                let expected =
                    brickd::store::VolumeChecksum::of_info(stored.as_bytes()).file_text();
                assert_eq!(cksum, expected, "{failpoint} {name}");
            }
            ran += 1;
        }
        println!("{test}: {ran} failpoints, 3 volumes each");
    }

    #[test]
    fn a_global_set_killed_at_any_step_leaves_the_old_or_the_new_options_file() {
        let test = "a_global_set_killed_at_any_step_leaves_the_old_or_the_new_options_file";
        if skip(test) {
            return;
        }
        let mut ran = 0;
        for (failpoint, new_expected) in [
            ("global.before-journal", false),
            ("global.after-journal", true),
            ("global.after-store", true),
        ] {
            let node = Node::start_env(None, None, &[], &[("BRICKD_FAILPOINT", failpoint)]);
            let options = node.brickd.workdir.join("options");
            let _ = node.cli(&["volume", "set", "all", "cluster.server-quorum-ratio", "60"]);
            let node = node.restart_after_kill(&[]);
            let (_, shown, _) = node.cli(&["volume", "get", "all", "cluster.server-quorum-ratio"]);
            let stored = std::fs::read_to_string(&options).unwrap_or_default();
            if new_expected {
                assert!(
                    shown.contains("cluster.server-quorum-ratio              60 "),
                    "{failpoint}: {shown}"
                );
                assert_eq!(
                    stored, "global-option-version=1\ncluster.server-quorum-ratio=60\n",
                    "{failpoint}"
                );
            } else {
                assert!(shown.contains("51 (DEFAULT)"), "{failpoint}: {shown}");
                assert!(
                    !stored.contains("server-quorum-ratio"),
                    "{failpoint}: {stored}"
                );
            }
            ran += 1;
        }
        println!("{test}: {ran} failpoints");
    }
}

/// Keys of every type, each set to a value glusterd takes (the table's sample), on a replica 2
/// volume on both nodes: after each set, every volfile of the volume is glusterd's.
const VOLFILE_KEYS: &[(&str, &str)] = &[
    ("cluster.lookup-unhashed", "auto"),
    ("cluster.lookup-optimize", "off"),
    ("cluster.min-free-disk", "1MB"),
    ("cluster.min-free-inodes", "10%"),
    ("cluster.rsync-hash-regex", "^\\.(.+)\\.[^.]+$"),
    ("cluster.readdir-optimize", "on"),
    ("cluster.weighted-rebalance", "off"),
    ("cluster.read-hash-mode", "0"),
    ("cluster.background-self-heal-count", "9"),
    ("cluster.heal-timeout", "601"),
    ("cluster.data-self-heal-algorithm", "full"),
    ("cluster.eager-lock", "off"),
    ("cluster.quorum-type", "fixed"),
    ("cluster.quorum-count", "1"),
    ("cluster.self-heal-readdir-size", "2KB"),
    ("cluster.favorite-child-policy", "mtime"),
    ("cluster.full-lock", "no"),
    ("diagnostics.latency-measurement", "on"),
    ("diagnostics.brick-log-level", "DEBUG"),
    ("diagnostics.client-log-level", "DEBUG"),
    ("diagnostics.brick-log-flush-timeout", "121"),
    ("diagnostics.stats-dump-interval", "1"),
    ("performance.cache-size", "64MB"),
    ("performance.io-thread-count", "17"),
    ("performance.quick-read-cache-size", "256MB"),
    ("performance.write-behind-window-size", "2MB"),
    ("performance.strict-o-direct", "on"),
    ("performance.lazy-open", "no"),
    ("performance.md-cache-timeout", "0"),
    ("performance.xattr-cache-list", "user.foo"),
    ("network.frame-timeout", "1801"),
    ("network.ping-timeout", "43"),
    ("network.remote-dio", "enable"),
    ("client.event-threads", "3"),
    ("client.keepalive-time", "21"),
    ("network.inode-lru-limit", "16385"),
    ("auth.allow", "127.0.0.1"),
    ("server.allow-insecure", "off"),
    ("server.event-threads", "3"),
    ("server.outstanding-rpc-limit", "65"),
    ("performance.read-ahead", "on"),
    ("performance.io-cache", "on"),
    ("performance.nl-cache", "on"),
    ("performance.stat-prefetch", "off"),
    ("features.read-only", "on"),
    ("features.worm", "on"),
    ("storage.owner-uid", "1000"),
    ("storage.health-check-interval", "31"),
    ("storage.reserve", "0"),
    ("changelog.rollover-time", "16"),
    ("features.barrier-timeout", "121"),
    ("features.trash", "on"),
    ("features.trash-max-filesize", "10MB"),
    ("locks.trace", "on"),
];

/// Runs `args` on brickd and on glusterd: the same exit code and output, then every volfile of
/// `volume` (`(volume, brickd's first brick, glusterd's first brick)`) the same.
fn same_answer_and_volfiles(
    node: &Node,
    glusterd: &Glusterd,
    glusterd_dir: &std::path::Path,
    (volume, ours, theirs): (&str, &str, &str),
    args: &[&str],
) {
    let (b_code, b_out, b_err) = node.cli(args);
    let (g_code, g_out, g_err) = glusterd.cli(args);
    assert_eq!(
        (b_code, b_out + &b_err),
        (g_code, g_out + &g_err),
        "{}",
        args.join(" ")
    );
    same_volfiles(node, glusterd_dir, (volume, ours, theirs), &args.join(" "));
}

/// Every volfile of `volume` (`(volume, brickd's first brick, glusterd's first brick)`) the
/// same on brickd as on glusterd, after `what`.
fn same_volfiles(
    node: &Node,
    glusterd_dir: &std::path::Path,
    (volume, ours, theirs): (&str, &str, &str),
    what: &str,
) {
    let args = [what];
    let theirs_files = volfiles(glusterd_dir, volume, theirs);
    // Bricks, the two client volfiles and the daemons': nothing compared is no test.
    assert!(theirs_files.len() >= 6, "{theirs_files:?}");
    let mut ours_files = Vec::new();
    wait_until(
        || {
            ours_files = volfiles(&node.brickd.workdir, volume, ours);
            ours_files.len() == theirs_files.len()
                && ours_files
                    .iter()
                    .map(|f| &f.0)
                    .eq(theirs_files.iter().map(|f| &f.0))
                && node
                    .brickd
                    .workdir
                    .join(format!("vols/{volume}/cksum"))
                    .exists()
        },
        "brickd's volfiles",
    );
    // Written after the reply: give the last change's files a moment.
    wait_until(
        || {
            ours_files = volfiles(&node.brickd.workdir, volume, ours);
            ours_files == theirs_files
        },
        &format!(
            "brickd's volfiles to match glusterd's after {}: {}",
            args.join(" "),
            {
                let ours_now = volfiles(&node.brickd.workdir, volume, ours);
                ours_now
                    .iter()
                    .zip(&theirs_files)
                    .find(|(a, b)| a != b)
                    .map(|(a, b)| format!("{}:\n--- brickd\n{}\n--- glusterd\n{}", a.0, a.1, b.1))
                    .unwrap_or_default()
            }
        ),
    );
}

/// Keys that add xlators (or change one's kind), with values glusterd takes; each is set and
/// then reset on a 2 x 2 distributed-replicate volume.
const XLATOR_KEYS: &[(&str, &str)] = &[
    ("performance.parallel-readdir", "on"),
    ("features.tag-namespaces", "on"),
    ("features.sdfs", "on"),
    ("network.compression", "on"),
    ("features.cloudsync", "on"),
    ("cluster.nufa", "on"),
    ("cluster.switch", "on"),
    ("debug.trace", "posix"),
    ("debug.error-gen", "locks"),
    ("debug.delay-gen", "io-stats"),
    ("debug.trace", "client"),
    ("debug.trace", "io-threads,posix"),
];

#[test]
fn keys_that_add_xlators_render_glusterds_volfiles() {
    let test = "keys_that_add_xlators_render_glusterds_volfiles";
    if skip(test) {
        return;
    }
    let pair = Pair::start();
    let (node, glusterd, glusterd_dir) = (&pair.node, &pair.glusterd, &pair.glusterd_dir);
    let (ours, theirs) = (pair.ours.clone(), pair.theirs.clone());
    pair.create_replica_2("dr", &["1", "2", "3", "4"]);
    let volume = ("dr", ours.as_str(), theirs.as_str());
    let mut changes = 0;
    for (key, value) in XLATOR_KEYS {
        same_answer_and_volfiles(
            node,
            glusterd,
            glusterd_dir.path(),
            volume,
            &["volume", "set", "dr", key, value],
        );
        same_answer_and_volfiles(
            node,
            glusterd,
            glusterd_dir.path(),
            volume,
            &["volume", "reset", "dr", key],
        );
        changes += 2;
    }
    // Two at once: readdir-ahead shares its cache between the sets; two debug keys on a step.
    for (key, value) in [
        ("performance.readdir-ahead", "on"),
        ("performance.parallel-readdir", "on"),
        ("debug.trace", "posix"),
        ("debug.error-gen", "posix"),
    ] {
        same_answer_and_volfiles(
            node,
            glusterd,
            glusterd_dir.path(),
            volume,
            &["volume", "set", "dr", key, value],
        );
        changes += 1;
    }
    println!("{test}: {changes} sets and resets, every volfile glusterd's after each");
}

/// `user.xlator.*` against a real glusterd: user xlators stacked on brick steps (two on one
/// step, one on io-stats, which is named after the brick path), their options (one set before
/// its xlator, one named by a key of three parts), the answers and every volfile after each
/// set; `volume reset` of such a key is refused by both ("does not exist"), `volume reset VOL`
/// takes them all out. A step that is no step: glusterd fails its commit, brickd refuses at
/// the stage, and neither changes anything.
#[test]
fn user_xlators_render_glusterds_volfiles() {
    let test = "user_xlators_render_glusterds_volfiles";
    if skip(test) {
        return;
    }
    let pair = Pair::start();
    let (node, glusterd, glusterd_dir) = (&pair.node, &pair.glusterd, &pair.glusterd_dir);
    let (ours, theirs) = (pair.ours.clone(), pair.theirs.clone());
    pair.create_replica_2("ux", &["1", "2"]);
    let volume = ("ux", ours.as_str(), theirs.as_str());
    let mut compared = 0;
    for args in [
        &["volume", "set", "ux", "user.xlator.foo.opt1", "x"][..],
        &["volume", "set", "ux", "user.xlator.foo", "posix"],
        &["volume", "set", "ux", "user.xlator.bar", "posix"],
        &["volume", "set", "ux", "user.xlator.baz", "io-stats"],
        &["volume", "set", "ux", "user.xlator.foo.opt2", "y"],
        &["volume", "set", "ux", "user.xlator.foo.a.b", "z"],
        &["volume", "set", "ux", "user.xlator.qux", "locks"],
        &["volume", "set", "ux", "user.xlator.foo.opt1", "x2"],
        &["volume", "set", "ux", "user.xlator.bar", "marker"],
        &["volume", "reset", "ux", "user.xlator.foo"],
        &["volume", "get", "ux", "user.xlator.foo"],
    ] {
        same_answer_and_volfiles(node, glusterd, glusterd_dir.path(), volume, args);
        compared += 1;
    }
    let before = info_options(&node.brickd.workdir, "ux");
    let nosuch = ["volume", "set", "ux", "user.xlator.foo", "nosuch"];
    let (b_code, b_out, b_err) = node.cli(&nosuch);
    let (g_code, _, g_err) = glusterd.cli(&nosuch);
    assert_eq!((b_code, g_code), (1, 1), "{b_out}{b_err} / {g_err}");
    assert!(g_err.contains("Commit failed on localhost"), "{g_err}");
    assert!(
        b_err.contains("option user.xlator.foo=nosuch: the value names no step of the brick graph"),
        "{b_err}"
    );
    assert_eq!(info_options(&node.brickd.workdir, "ux"), before);
    same_volfiles(
        node,
        glusterd_dir.path(),
        volume,
        "the set of a step that is none",
    );
    compared += 1;
    same_answer_and_volfiles(
        node,
        glusterd,
        glusterd_dir.path(),
        volume,
        &["volume", "reset", "ux"],
    );
    compared += 1;
    println!("{test}: {compared} commands, answers and every volfile glusterd's after each");
}

#[test]
fn each_set_renders_the_volfiles_glusterd_renders() {
    let test = "each_set_renders_the_volfiles_glusterd_renders";
    if skip(test) {
        return;
    }
    let pair = Pair::start();
    let (node, glusterd, glusterd_dir) = (&pair.node, &pair.glusterd, &pair.glusterd_dir);
    let (ours, theirs) = (pair.ours.clone(), pair.theirs.clone());
    pair.create_replica_2("f", &["1", "2"]);
    let mut rendered = 0;
    for (key, value) in VOLFILE_KEYS {
        let set = ["volume", "set", "f", key, value];
        same_answer_and_volfiles(
            node,
            glusterd,
            glusterd_dir.path(),
            ("f", &ours, &theirs),
            &set,
        );
        rendered += 1;
    }
    println!("{test}: {rendered} sets, every volfile glusterd's after each");
}

/// A volume's `info` file as far as a set changes it: its version, op-versions and options
/// (`key.with.dots=value`), in file order.
fn info_options(workdir: &std::path::Path, volume: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(workdir.join("vols").join(volume).join("info")).unwrap_or_default();
    text.lines()
        .filter(|line| {
            let key = line.split('=').next().unwrap_or("");
            ["version", "op-version", "client-op-version"].contains(&key)
                || (key.contains('.') && !key.starts_with("brick-"))
        })
        .map(str::to_owned)
        .collect()
}

/// `features.uss` against a real glusterd: on a replica volume, the set and the snapshot
/// directory keys give glusterd's answers and client volfiles (a snapview-client over the
/// volume and a client of the snapshot daemon); once both volumes are started, the snapshot
/// daemon's volfile (`us-snapd.vol`) is glusterd's too, and both answer `volume status` with
/// a "Snapshot Daemon" row.
#[test]
fn uss_renders_glusterds_volfiles() {
    let test = "uss_renders_glusterds_volfiles";
    if skip(test) {
        return;
    }
    let pair = Pair::start();
    let (node, glusterd, glusterd_dir) = (&pair.node, &pair.glusterd, &pair.glusterd_dir);
    let (ours, theirs) = (pair.ours.clone(), pair.theirs.clone());
    pair.create_replica_2("us", &["1", "2"]);
    let volume = ("us", ours.as_str(), theirs.as_str());
    let mut compared = 0;
    for args in [
        &["volume", "set", "us", "features.uss", "on"][..],
        &[
            "volume",
            "set",
            "us",
            "features.snapshot-directory",
            ".snapshots",
        ],
        &[
            "volume",
            "set",
            "us",
            "features.show-snapshot-directory",
            "on",
        ],
        &["volume", "set", "us", "features.uss", "maybe"],
    ] {
        same_answer_and_volfiles(node, glusterd, glusterd_dir.path(), volume, args);
        compared += 1;
    }
    let _stop = StopAll(node, vec!["us".into()]);
    let start = ["volume", "start", "us"];
    let (b, g) = (node.cli(&start), glusterd.cli(&start));
    assert_eq!((b.0, &b.1), (g.0, &g.1), "{}{} / {}{}", b.1, b.2, g.1, g.2);
    // glusterd writes the daemon's volfile as it starts it; so does brickd.
    let snapd_vol = |dir: &std::path::Path| dir.join("vols/us/us-snapd.vol").exists();
    wait_until(|| snapd_vol(glusterd_dir.path()), "glusterd's us-snapd.vol");
    wait_until(|| snapd_vol(&node.brickd.workdir), "brickd's us-snapd.vol");
    same_volfiles(node, glusterd_dir.path(), volume, "volume start us");
    compared += 1;
    let snapd_row = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("Snapshot Daemon on localhost"))
            .map(|l| l.split_whitespace().nth(6).unwrap_or("").to_string())
    };
    wait_until(
        || snapd_row(&node.ok(&["volume", "status", "us"])).as_deref() == Some("Y"),
        "brickd's Snapshot Daemon online",
    );
    wait_until(
        || snapd_row(&glusterd.cli(&["volume", "status", "us"]).1).as_deref() == Some("Y"),
        "glusterd's Snapshot Daemon online",
    );
    // Each daemon's own status, and the refusals of the daemons the volume has not, as
    // glusterd gives them (ports and pids aside).
    for what in ["snapd", "shd", "quotad", "bitd", "scrub", "nfs"] {
        gluster_same_status(node, glusterd, &["volume", "status", "us", what]);
        compared += 1;
    }
    // The self-heal daemon turned off: left out of the status, its own status refused.
    let off = ["volume", "set", "us", "cluster.self-heal-daemon", "off"];
    same_answer_and_volfiles(node, glusterd, glusterd_dir.path(), volume, &off);
    for what in [
        &["volume", "status", "us"][..],
        &["volume", "status", "us", "shd"],
    ] {
        gluster_same_status(node, glusterd, what);
        compared += 1;
    }
    for daemon in [
        node.cli(&["volume", "stop", "us"]),
        glusterd.cli(&["volume", "stop", "us"]),
    ] {
        assert_eq!(daemon.0, 0, "{}{}", daemon.1, daemon.2);
    }
    println!("{test}: {compared} steps with glusterd's answers and volfiles, snapd online on both");
}

/// The same exit code, and the same text once ports and pids are set aside, from `args` on
/// brickd and on glusterd.
fn gluster_same_status(node: &Node, glusterd: &Glusterd, args: &[&str]) {
    let (b, g) = (node.cli(args), glusterd.cli(args));
    assert_eq!(
        (b.0, status_normalized(&b.1), b.2),
        (g.0, status_normalized(&g.1), g.2),
        "{}",
        args.join(" ")
    );
}

/// A started volume with `features.uss on` runs its snapshot daemon (glusterd's command
/// line), shown in `volume status`; a FUSE mount lists the snapshot directory (empty: no
/// snapshots); `features.uss off` stops the daemon and `on` starts it again, live; a daemon
/// killed is restarted; a brickd killed with -9 takes the running daemon over at restart;
/// `volume stop` stops it.
#[test]
fn uss_runs_the_snapshot_daemon_and_a_mount_sees_the_snapshot_directory() {
    let test = "uss_runs_the_snapshot_daemon_and_a_mount_sees_the_snapshot_directory";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let bricks = tempfile::tempdir().unwrap();
    let brick = format!("{}:{}/b", node.host, bricks.path().display());
    node.ok(&["volume", "create", "sv", &brick, "force"]);
    node.ok(&["volume", "set", "sv", "features.uss", "on"]);
    node.ok(&["volume", "start", "sv"]);
    let pid_file = node.run_dir().join("vols/sv/sv-snapd.pid");
    let snapd_pid = || -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        common::node::alive(pid).then_some(pid)
    };
    let row = |node: &Node| {
        node.ok(&["volume", "status", "sv"])
            .lines()
            .find(|l| l.starts_with("Snapshot Daemon on localhost"))
            .map(|l| {
                l.split_whitespace()
                    .skip(4)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
    };
    wait_until(|| snapd_pid().is_some(), "the snapshot daemon running");
    let pid = snapd_pid().unwrap();
    let cmdline = common::node::cmdline(pid);
    for part in [
        "--volfile-id snapd/sv",
        "--brick-name snapd-sv",
        "--process-name snapd",
        "--no-mem-accounting",
    ] {
        assert!(cmdline.contains(part), "{part} in {cmdline}");
    }
    wait_until(
        || row(&node).is_some_and(|r| r.get(2).map(String::as_str) == Some("Y")),
        "the Snapshot Daemon row online",
    );
    let r = row(&node).unwrap();
    assert_eq!(r[3], pid.to_string(), "{r:?}");
    assert!(
        cmdline.contains(&format!("--brick-port {}", r[0])),
        "{r:?} {cmdline}"
    );
    {
        let mount = Mount::new(&node, "sv");
        std::fs::write(mount.path("f"), b"x").unwrap();
        let snaps: Vec<_> = std::fs::read_dir(mount.path(".snaps"))
            .expect("the snapshot directory lists")
            .collect();
        assert!(snaps.is_empty(), "{snaps:?}");
        assert_eq!(std::fs::read(mount.path("f")).unwrap(), b"x");
    }
    node.ok(&["volume", "set", "sv", "features.uss", "off"]);
    wait_until(
        || snapd_pid().is_none() && !common::node::alive(pid),
        "the daemon stopped",
    );
    assert_eq!(row(&node), None);
    node.ok(&["volume", "set", "sv", "features.uss", "on"]);
    // Up: running and signed in (one killed before it signed in is a start that failed, not
    // a daemon that died, and is not restarted).
    let online = |node: &Node| -> Option<i32> {
        let r = row(node)?;
        let pid = snapd_pid()?;
        (r.get(2).map(String::as_str) == Some("Y") && r.get(3) == Some(&pid.to_string()))
            .then_some(pid)
    };
    wait_until(|| online(&node).is_some(), "the daemon started again");
    let pid = online(&node).unwrap();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_until(
        || online(&node).is_some_and(|p| p != pid),
        "the killed daemon restarted",
    );
    let pid = online(&node).unwrap();
    let (node, _old) = node.restart(libc::SIGKILL);
    let _stop = StopAll(&node, vec!["sv".into()]);
    wait_until(
        || row(&node).is_some_and(|r| r.get(2).map(String::as_str) == Some("Y")),
        "the daemon taken over after brickd's restart",
    );
    assert_eq!(snapd_pid(), Some(pid), "the same daemon, not a new one");
    node.ok(&["volume", "stop", "sv"]);
    wait_until(
        || !common::node::alive(pid),
        "the daemon stopped with the volume",
    );
    println!("{test}: snapd started, shown, served .snaps, stopped, restarted, adopted, stopped");
}

/// What a reset puts back, against a real glusterd, on a replica volume never started: the
/// answer and the `info` options (order and version) after every command. A reset of one key
/// turns `cluster.granular-entry-heal` and `storage.fips-mode-rchecksum` back on; a reset of
/// a key the volume does not have changes nothing (not even the version); `volume reset VOL`
/// keeps the keys that need `force` and says so, and puts back `transport.address-family
/// inet`; `force` takes them out too. Last, a reset of a protected key alone: both refuse
/// with glusterd's words (glusterd has bumped its version by then; brickd changes nothing).
#[test]
fn a_reset_puts_back_what_glusterd_puts_back() {
    let test = "a_reset_puts_back_what_glusterd_puts_back";
    if skip(test) {
        return;
    }
    let pair = Pair::start();
    let (node, glusterd, glusterd_dir) = (&pair.node, &pair.glusterd, &pair.glusterd_dir);
    pair.create_replica_2("rr", &["1", "2"]);
    let mut compared = 0;
    for line in [
        "volume set rr cluster.granular-entry-heal off",
        "volume set rr performance.cache-size 64MB",
        "volume reset rr performance.cache-size",
        "volume set rr storage.fips-mode-rchecksum off",
        "volume set rr cluster.granular-entry-heal off",
        "volume reset rr performance.io-cache",
        "volume set rr performance.cache-size 64MB",
        "volume reset rr cache-size",
        "volume set rr geo-replication.indexing on",
        "volume set rr transport.address-family inet6",
        "volume set rr nfs.disable off",
        "volume set rr performance.cache-size 64MB",
        "volume reset rr",
        "volume reset rr nfs.disable",
        "volume reset rr all force",
        "volume set rr geo-replication.indexing on",
        "volume reset rr geo-replication.indexing force",
        "volume set rr geo-replication.ignore-pid-check on",
    ] {
        let args: Vec<&str> = line.split(' ').collect();
        let (b_code, b_out, b_err) = node.cli(&args);
        let (g_code, g_out, g_err) = glusterd.cli(&args);
        assert_eq!((b_code, b_out + &b_err), (g_code, g_out + &g_err), "{line}");
        let theirs = info_options(glusterd_dir.path(), "rr");
        wait_until(
            || info_options(&node.brickd.workdir, "rr") == theirs,
            &format!("brickd's info as glusterd's after {line}"),
        );
        compared += 1;
    }
    let line = "volume reset rr geo-replication.ignore-pid-check";
    let args: Vec<&str> = line.split(' ').collect();
    let before = info_options(&node.brickd.workdir, "rr");
    let (b_code, b_out, b_err) = node.cli(&args);
    let (g_code, g_out, g_err) = glusterd.cli(&args);
    assert_eq!((b_code, b_out + &b_err), (g_code, g_out + &g_err), "{line}");
    assert!(
        g_err.contains("is protected. To reset use 'force'."),
        "{g_err}"
    );
    let options = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| !l.starts_with("version="))
            .collect()
    };
    assert_eq!(info_options(&node.brickd.workdir, "rr"), before);
    assert_eq!(
        options(before),
        options(info_options(glusterd_dir.path(), "rr"))
    );
    compared += 1;
    println!("{test}: {compared} commands, glusterd's answer and info after each");
}

/// glusterd sets some keys on every volume when they are set on one (`client.strict-locks`,
/// `server.outstanding-rpc-limit`, the NFS server's): brickd does too, in one journaled
/// change, so that a pool with glusterd nodes keeps the same checksums; a reset stays on its
/// volume.
#[test]
fn keys_glusterd_sets_on_every_volume_reach_every_volume() {
    let test = "keys_glusterd_sets_on_every_volume_reach_every_volume";
    if skip(test) {
        return;
    }
    let pair = Pair::start();
    let (node, glusterd, glusterd_dir) = (&pair.node, &pair.glusterd, &pair.glusterd_dir);
    let (ours, theirs) = (pair.ours.clone(), pair.theirs.clone());
    pair.create_replica_2("one", &["o1", "o2"]);
    pair.create_replica_2("two", &["t1", "t2"]);
    let mut compared = 0;
    for args in [
        &["volume", "set", "one", "client.strict-locks", "on"][..],
        &[
            "volume",
            "set",
            "two",
            "server.outstanding-rpc-limit",
            "128",
        ],
        &[
            "volume",
            "set",
            "one",
            "nfs.port",
            "38466",
            "performance.cache-size",
            "64MB",
        ],
        &["volume", "reset", "one", "client.strict-locks"],
        &["volume", "set", "two", "client.strict-locks", "off"],
        // A switch that is off does not count towards the op-version: 30704 then.
        &["volume", "set", "one", "storage.fips-mode-rchecksum", "off"],
    ] {
        let (b_code, b_out, b_err) = node.cli(args);
        let (g_code, g_out, g_err) = glusterd.cli(args);
        assert_eq!(
            (b_code, b_out + &b_err),
            (g_code, g_out + &g_err),
            "{}",
            args.join(" ")
        );
        for volume in ["one", "two"] {
            let what = format!("{} (volume {volume})", args.join(" "));
            same_volfiles(node, glusterd_dir.path(), (volume, &ours, &theirs), &what);
            wait_until(
                || {
                    info_options(&node.brickd.workdir, volume)
                        == info_options(glusterd_dir.path(), volume)
                },
                &format!(
                    "{volume}'s info after {what}: brickd {:?}, glusterd {:?}",
                    info_options(&node.brickd.workdir, volume),
                    info_options(glusterd_dir.path(), volume)
                ),
            );
            let (b_code, b_out, b_err) = node.cli(&["volume", "info", volume]);
            let (g_code, g_out, g_err) = glusterd.cli(&["volume", "info", volume]);
            assert_eq!(
                (b_code, normalised(&(b_out + &b_err), &ours)),
                (g_code, normalised(&(g_out + &g_err), &theirs)),
                "volume info {volume} after {what}"
            );
            compared += 1;
        }
    }
    println!("{test}: {compared} volumes compared after sets and resets (volfiles, info file, volume info)");
}

/// `volume set VOL group NAME` with each group file the glusterfs-server package installs (the
/// CLI reads the file and sends its keys): the same answers as glusterd's, and every volfile
/// glusterd's after each group.
#[test]
fn each_packaged_group_sets_what_glusterd_sets() {
    let test = "each_packaged_group_sets_what_glusterd_sets";
    if skip(test) {
        return;
    }
    let mut groups: Vec<String> = std::fs::read_dir("/var/lib/glusterd/groups")
        .expect("the glusterfs-server package's group files")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    groups.sort();
    assert!(groups.len() >= 5, "group files: {groups:?}");
    let pair = Pair::start();
    let (node, glusterd, glusterd_dir) = (&pair.node, &pair.glusterd, &pair.glusterd_dir);
    let (ours, theirs) = (pair.ours.clone(), pair.theirs.clone());
    pair.create_replica_2("g", &["1", "2"]);
    for group in &groups {
        same_answer_and_volfiles(
            node,
            glusterd,
            glusterd_dir.path(),
            ("g", &ours, &theirs),
            &["volume", "set", "g", "group", group],
        );
    }
    println!(
        "{test}: {} groups, every volfile glusterd's after each",
        groups.len()
    );
}
