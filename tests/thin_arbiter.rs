//! Thin-arbiter volumes (`volume create V replica 2 thin-arbiter 1 B1 B2 … TA`) against the
//! real glusterd: the same answers, store files and volfiles for a 2 x 2 volume (the
//! thin-arbiter client after each set's bricks, the bricks numbered around it); and a 1 x 2
//! volume started and mounted writes to its two bricks and never to the thin-arbiter brick,
//! which nothing makes, claims or starts, and which a restarted brickd still shows.
//!
//! Needs root, the glusterfs packages (glusterd, the CLI, the FUSE client) and /dev/fuse.

mod common;

use common::compare::{normalised, store_files, volfiles};
use common::node::{alive, skip, Mount, Node, Pair, StopAll};
use std::path::Path;

/// `volume create VOLUME replica 2 thin-arbiter 1 PREFIX<name>… force`.
fn create_args(volume: &str, prefix: &str, names: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "volume",
        "create",
        volume,
        "replica",
        "2",
        "thin-arbiter",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(names.iter().map(|n| format!("{prefix}{n}")));
    args.push("force".into());
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_2x2_thin_arbiter_volume_is_stored_and_rendered_as_glusterd_does() {
    let test = "a_2x2_thin_arbiter_volume_is_stored_and_rendered_as_glusterd_does";
    if skip(test) {
        return;
    }
    let pair = Pair::start();
    let (ours, theirs) = (pair.ours.as_str(), pair.theirs.as_str());
    // glusterd's CLI sends the thin-arbiter brick after a few bytes of garbage, depending on
    // the name's length, and glusterd then fails its commit (src/ops/volume_create.rs,
    // thin_arbiter_brick); brickd takes the brick. So glusterd's create is tried with names
    // of growing length (new data bricks each time: a failed create keeps them), and brickd
    // gets the names glusterd took.
    let mut names = Vec::new();
    for attempt in 1..=24 {
        let tried: Vec<String> = (1..=4)
            .map(|i| format!("{attempt}-{i}"))
            .chain([format!("{attempt}-{}", "t".repeat(attempt))])
            .collect();
        let refs: Vec<&str> = tried.iter().map(String::as_str).collect();
        let (code, out, err) = pair.glusterd.cli(&strs(&create_args("tw", theirs, &refs)));
        if code == 0 {
            names = tried;
            break;
        }
        assert!(err.contains("Commit failed on localhost"), "{out}{err}");
    }
    assert!(
        !names.is_empty(),
        "glusterd never created the thin-arbiter volume"
    );
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (code, out, err) = pair.node.cli(&strs(&create_args("tw", ours, &names)));
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            "volume create: tw: success: please start the volume to access data\n",
            ""
        )
    );
    let mut compared = 1;
    // The volume info either daemon prints, text and XML.
    for args in [
        &["volume", "info", "tw"][..],
        &["volume", "info", "tw", "--xml"],
    ] {
        let (b_code, b_out, b_err) = pair.node.cli(args);
        let (g_code, g_out, g_err) = pair.glusterd.cli(args);
        assert_eq!(
            (b_code, normalised(&(b_out + &b_err), ours)),
            (g_code, normalised(&(g_out + &g_err), theirs)),
            "{}",
            args.join(" ")
        );
        compared += 1;
    }
    common::wait_for_store(&pair.node.brickd.workdir, "tw");
    let b_vols = volfiles(&pair.node.brickd.workdir, "tw", ours);
    let g_vols = volfiles(pair.glusterd_dir.path(), "tw", theirs);
    // Four bricks (none for the thin arbiter), two FUSE clients, gfproxy daemon and client,
    // rebalance and self-heal.
    assert_eq!(
        g_vols.len(),
        10,
        "{:?}",
        g_vols.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (b, g) in b_vols.iter().zip(&g_vols) {
        assert_eq!(b.0, g.0);
        assert_eq!(
            b.1, g.1,
            "{}:\n--- brickd\n{}\n--- glusterd\n{}",
            b.0, b.1, g.1
        );
        compared += 1;
    }
    assert_eq!(b_vols.len(), g_vols.len());
    let fuse = &g_vols.iter().find(|f| f.0 == "tw.tcp-fuse.vol").unwrap().1;
    assert!(
        fuse.contains("subvolumes tw-client-3 tw-client-4 tw-ta-5\n"),
        "{fuse}"
    );
    let b_store = store_files(&pair.node.brickd.workdir, "tw", ours);
    let g_store = store_files(pair.glusterd_dir.path(), "tw", theirs);
    // info and five bricks files.
    assert_eq!(g_store.len(), 6);
    for (b, g) in b_store.iter().zip(&g_store) {
        assert_eq!(b, g);
        compared += 1;
    }
    assert_eq!(b_store.len(), g_store.len());
    // Neither daemon made or claimed the thin-arbiter brick.
    for prefix in [ours, theirs] {
        let (_, dir) = prefix.split_once(':').unwrap();
        assert!(
            !Path::new(&format!("{dir}{}", names[4])).exists(),
            "{dir}{}",
            names[4]
        );
        assert!(
            Path::new(&format!("{dir}{}", names[0])).is_dir(),
            "{dir}{}",
            names[0]
        );
    }
    // Delete answers alike too.
    let delete = ["volume", "delete", "tw"];
    let (b_code, b_out, b_err) = pair.node.cli(&delete);
    let (g_code, g_out, g_err) = pair.glusterd.cli(&delete);
    assert_eq!((b_code, b_out + &b_err), (g_code, g_out + &g_err));
    println!("{test}: {compared} answers, volfiles and store files the same as glusterd's");
}

#[test]
fn a_mounted_thin_arbiter_volume_writes_to_its_bricks_only_and_survives_a_restart() {
    let test = "a_mounted_thin_arbiter_volume_writes_to_its_bricks_only_and_survives_a_restart";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let bricks = tempfile::tempdir().unwrap();
    let root = bricks.path().display().to_string();
    let prefix = format!("{}:{root}/", node.host);
    node.ok(&strs(&create_args("tv", &prefix, &["b1", "b2", "b3"])));
    let info = node.ok(&["volume", "info", "tv"]);
    assert!(info.contains("Number of Bricks: 1 x 2 = 2\n"), "{info}");
    assert!(
        info.contains(&format!("Thin-arbiter-path: {prefix}b3\n")),
        "{info}"
    );
    node.ok(&["volume", "start", "tv"]);
    {
        let _guard = StopAll(&node, vec!["tv".into()]);
        // Two brick processes and the self-heal daemon; nothing for the thin-arbiter brick.
        let rows = node.status("tv");
        let paths: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        assert_eq!(
            paths,
            [format!("{root}/b1"), format!("{root}/b2")],
            "{rows:?}"
        );
        for row in &rows {
            assert_eq!(row.2, "Y", "{rows:?}");
            assert!(alive(row.3.parse().unwrap()), "{row:?}");
        }
        let status = node.ok(&["volume", "status", "tv"]);
        let shd = status
            .lines()
            .find(|l| l.starts_with("Self-heal Daemon on localhost"))
            .unwrap_or_else(|| panic!("no self-heal daemon: {status}"));
        assert!(shd.split_whitespace().any(|w| w == "Y"), "{shd}");
        let mount = Mount::new(&node, "tv");
        std::fs::write(mount.path("a.txt"), b"thin").unwrap();
        assert_eq!(std::fs::read(mount.path("a.txt")).unwrap(), b"thin");
        drop(mount);
        for b in ["b1", "b2"] {
            assert_eq!(std::fs::read(format!("{root}/{b}/a.txt")).unwrap(), b"thin");
        }
        assert!(!Path::new(&format!("{root}/b3")).exists());
        node.ok(&["volume", "stop", "tv"]);
    }
    // A brickd started again on the store shows the same volume.
    let (node, brickd) = node.restart(libc::SIGTERM);
    // The same, but for the options' order: a restarted glusterd lists them in its store's
    // order, and brickd does as it does (docs/options.md).
    let split = |text: &str| {
        let (head, options) = text.split_once("Options Reconfigured:\n").unwrap();
        let mut options: Vec<String> = options.lines().map(str::to_owned).collect();
        options.sort();
        (head.to_owned(), options)
    };
    assert_eq!(
        split(&node.ok(&["volume", "info", "tv"])),
        split(&info.replace("Status: Created", "Status: Stopped"))
    );
    node.ok(&["volume", "delete", "tv"]);
    drop(brickd);
    println!("{test}: created, started, mounted, written, restarted and deleted");
}
