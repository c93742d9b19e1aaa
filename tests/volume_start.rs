//! `volume start` / `volume stop` end to end, real parts only: XFS bricks on loop devices, the
//! real `glusterfsd` brick processes brickd starts, the real FUSE client
//! (`mount -t glusterfs -o server-port=P`), the real CLI. brickd listens on a loopback address
//! of its own (not 24007), so every brick and client must be told where it is.
//!
//! Needs root, loop devices, XFS, /dev/fuse and the glusterfs packages (scripts/test.sh
//! installs them); a missing one is a counted skip, and a failure under CI=true.

mod common;

use common::compare::status_normalized;
use common::fs::{get_xattr, remove_xattr, set_xattr, Xfs};
use common::gluster;
use common::node::{
    alive, cmdline, create, data, skip, statedump, wait_until, Mount, Node, StopAll,
};
use common::HANG_DEADLINE;
use std::path::Path;

const VOLUME_ID_XATTR: &str = "trusted.glusterfs.volume-id";

#[test]
fn distribute_replica_and_disperse_volumes_serve_files_through_fuse() {
    let test = "distribute_replica_and_disperse_volumes_serve_files_through_fuse";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let disks: Vec<Xfs> = (0..3).map(|_| Xfs::new()).collect();
    let mut ran = 0;
    for (volume, layout) in [
        ("dist", vec![]),
        ("rep3", vec!["replica", "3"]),
        ("ec3", vec!["disperse", "3", "redundancy", "1"]),
    ] {
        let paths = create(&node, volume, &layout, &disks);
        let _guard = StopAll(&node, vec![volume.to_string()]);
        node.expect_store(volume, "info", "status", "0");
        assert_eq!(
            node.ok(&["volume", "start", volume]),
            format!("volume start: {volume}: success\n")
        );
        // Started in the store as glusterd stores it: status 1, version 2, each brick's port.
        node.expect_store(volume, "info", "status", "1");
        node.expect_store(volume, "info", "version", "2");
        let rows = node.status(volume);
        assert_eq!(rows.len(), paths.len());
        for ((path, port, online, pid), brick) in rows.iter().zip(&paths) {
            assert_eq!(path, brick);
            assert_eq!(online, "Y", "{rows:?}");
            let pid: i32 = pid.parse().unwrap();
            assert!(alive(pid));
            // The process is the brick's glusterfsd, with glusterd's command line.
            let line = cmdline(pid);
            assert!(
                line.starts_with(&format!(
                    "/usr/sbin/glusterfsd -s {} --volfile-id ",
                    node.host
                )),
                "{line}"
            );
            assert!(line.contains(&format!("--brick-name {brick} ")), "{line}");
            assert!(line.contains(&format!("--brick-port {port} ")), "{line}");
            assert!(line.contains(&format!("--volfile-server-port {}", node.brickd.tcp.port())));
            let file = format!("bricks/{}:{}", node.host, brick.replace('/', "-"));
            node.expect_store(volume, &file, "listen-port", port);
            // brickd is bound to its address: so are its bricks (their volfile says so, as a
            // bound glusterd's does), not every address.
            let port: u16 = port.parse().unwrap();
            assert!(std::net::TcpStream::connect((node.host.as_str(), port)).is_ok());
            assert!(std::net::TcpStream::connect(("127.0.0.2", port)).is_err());
            let pid_file = node.pid_file(volume, brick);
            assert_eq!(
                std::fs::read_to_string(&pid_file).unwrap().trim(),
                pid.to_string()
            );
        }
        // `detail` reads each brick's file system, as glusterd shows it.
        let detail = node.ok(&["volume", "status", volume, "detail"]);
        for (disk, path) in disks.iter().zip(&paths) {
            let block = detail
                .split("------------------------------------------------------------------------------\n")
                .find(|b| b.contains(&format!("Brick                : Brick {}:{path}\n", node.host)))
                .unwrap_or_else(|| panic!("{path} in {detail}"));
            for want in [
                "File System          : xfs ".to_string(),
                format!("Device               : {} ", disk.device),
                "Inode Size           : 512 ".to_string(),
                "Total Disk Space     : ".to_string(),
            ] {
                assert!(block.contains(&want), "{want:?} in {block}");
            }
            assert!(!block.contains("N/A"), "{block}");
        }
        assert!(!detail.contains("Self-heal"), "{detail}");
        // Replicate and disperse volumes get a self-heal daemon, as with glusterd.
        let status = node.ok(&["volume", "status", volume]);
        let shd_pid: Option<i32> = status
            .lines()
            .find(|l| l.starts_with("Self-heal Daemon on localhost"))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(&f[4..7], &["N/A", "N/A", "Y"], "{l}");
                f[7].parse().unwrap()
            });
        assert_eq!(shd_pid.is_some(), volume != "dist", "{status}");
        if let Some(pid) = shd_pid {
            let line = cmdline(pid);
            assert!(
                line.contains(&format!("--volfile-id shd/{volume} "))
                    && line.contains("--process-name glustershd"),
                "{line}"
            );
        }
        // Files written through FUSE read back the same, and land on the bricks.
        {
            let mount = Mount::new(&node, volume);
            for i in 0..4u8 {
                let bytes = data(i + 1, 256 << 10);
                std::fs::write(mount.path(&format!("f{i}")), &bytes).unwrap();
                assert_eq!(std::fs::read(mount.path(&format!("f{i}"))).unwrap(), bytes);
            }
            let on_bricks = paths
                .iter()
                .filter(|p| Path::new(&format!("{p}/f0")).exists())
                .count();
            match volume {
                "dist" => assert_eq!(on_bricks, 1),
                _ => assert_eq!(on_bricks, 3),
            }
            // `clients` asks each brick (GD_BRICK STATUS): the mount is one of them.
            let clients = node.ok(&["volume", "status", volume, "clients"]);
            let connected: Vec<u32> = clients
                .lines()
                .filter_map(|l| l.strip_prefix("Clients connected : "))
                .map(|n| n.trim().parse().unwrap())
                .collect();
            assert_eq!(connected.len(), paths.len(), "{clients}");
            assert!(connected.iter().all(|&n| n >= 1), "{clients}");
            if volume == "rep3" {
                for p in &paths {
                    assert_eq!(
                        std::fs::read(format!("{p}/f0")).unwrap(),
                        data(1, 256 << 10)
                    );
                }
            }
        }
        let pids: Vec<i32> = node
            .status(volume)
            .iter()
            .map(|r| r.3.parse().unwrap())
            .collect();
        assert_eq!(
            node.ok(&["volume", "stop", volume]),
            format!("volume stop: {volume}: success\n")
        );
        if let Some(pid) = shd_pid {
            assert!(!alive(pid), "self-heal daemon {pid} survived the stop");
        }
        for (pid, brick) in pids.iter().zip(&paths) {
            assert!(!alive(*pid), "brick process {pid} survived the stop");
            assert!(!node.pid_file(volume, brick).exists());
        }
        node.expect_store(volume, "info", "status", "2");
        node.expect_store(volume, "info", "version", "3");
        let (code, _, err) = node.cli(&["volume", "status", volume]);
        assert_eq!(
            (code, err.trim()),
            (1, format!("Volume {volume} is not started").as_str())
        );
        node.ok(&["volume", "delete", volume]);
        ran += 1;
    }
    assert_eq!(ran, 3);
}

#[test]
fn a_killed_brick_is_shown_offline_io_goes_on_and_supervision_restarts_it() {
    let test = "a_killed_brick_is_shown_offline_io_goes_on_and_supervision_restarts_it";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let disks: Vec<Xfs> = (0..3).map(|_| Xfs::new()).collect();
    let paths = create(&node, "r3", &["replica", "3"], &disks);
    let _guard = StopAll(&node, vec!["r3".into()]);
    node.ok(&["volume", "start", "r3"]);
    let mount = Mount::new(&node, "r3");
    std::fs::write(mount.path("before"), b"before").unwrap();
    let victim = node.status("r3")[1].clone();
    let pid: i32 = victim.3.parse().unwrap();
    // SAFETY: kill(2) of a brick process this test's brickd started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    // Offline at once (brickd watches the process), then back under a new pid.
    let mut saw_offline = false;
    wait_until(
        || {
            let row = node.status("r3")[1].clone();
            if row.2 == "N" {
                assert_eq!((row.1.as_str(), row.3.as_str()), ("N/A", "N/A"));
                saw_offline = true;
            }
            saw_offline || (row.2 == "Y" && row.3 != victim.3)
        },
        "the killed brick shown offline",
    );
    // I/O goes on with one replica down (or back already).
    std::fs::write(mount.path("during"), b"during").unwrap();
    assert_eq!(std::fs::read(mount.path("before")).unwrap(), b"before");
    wait_until(
        || {
            let row = node.status("r3")[1].clone();
            row.2 == "Y" && row.3 != victim.3
        },
        "the killed brick restarted",
    );
    let row = node.status("r3")[1].clone();
    assert_eq!(row.0, paths[1]);
    assert!(alive(row.3.parse().unwrap()));
    assert_eq!(std::fs::read(mount.path("during")).unwrap(), b"during");
}

#[test]
fn brickd_killed_and_restarted_adopts_running_bricks_and_the_mount_keeps_working() {
    let test = "brickd_killed_and_restarted_adopts_running_bricks_and_the_mount_keeps_working";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let disks: Vec<Xfs> = (0..2).map(|_| Xfs::new()).collect();
    create(&node, "r2", &["replica", "2"], &disks);
    node.ok(&["volume", "start", "r2"]);
    let before = node.status("r2");
    let mount = Mount::new(&node, "r2");
    std::fs::write(mount.path("a"), b"one").unwrap();
    // kill -9 brickd; a new one on the same workdir, port and run directory.
    let (node, brickd) = node.restart(libc::SIGKILL);
    let _guard = StopAll(&node, vec!["r2".into()]);
    // The same processes, adopted (not restarted), online.
    assert_eq!(node.status("r2"), before);
    for row in &before {
        assert!(alive(row.3.parse().unwrap()));
    }
    std::fs::write(mount.path("b"), b"two").unwrap();
    assert_eq!(std::fs::read(mount.path("a")).unwrap(), b"one");
    assert_eq!(std::fs::read(mount.path("b")).unwrap(), b"two");
    drop(mount);
    drop(brickd);
    node.ok(&["volume", "stop", "r2"]);
    for row in &before {
        assert!(!alive(row.3.parse().unwrap()));
    }
}

#[test]
fn start_with_a_brick_directory_or_volume_id_gone_says_what_glusterd_says() {
    let test = "start_with_a_brick_directory_or_volume_id_gone_says_what_glusterd_says";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let disk = Xfs::new();
    let paths = create(&node, "f1", &[], std::slice::from_ref(&disk));
    let brick = &paths[0];
    let _guard = StopAll(&node, vec!["f1".into()]);
    let id = get_xattr(Path::new(brick), VOLUME_ID_XATTR).unwrap();
    std::fs::remove_dir_all(brick).unwrap();
    for args in [
        &["volume", "start", "f1"][..],
        &["volume", "start", "f1", "force"],
    ] {
        let (code, _, err) = node.cli(args);
        assert_eq!(code, 1);
        assert_eq!(
            err.trim(),
            format!("volume start: f1: failed: Failed to find brick directory {brick} for volume f1. Reason : No such file or directory")
        );
    }
    // An empty directory: no volume-id.
    std::fs::create_dir(brick).unwrap();
    let (code, _, err) = node.cli(&["volume", "start", "f1"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        format!("volume start: f1: failed: Failed to get extended attribute trusted.glusterfs.volume-id for brick dir {brick}. Reason : No data available")
    );
    // force puts the id back; without .glusterfs the brick dies in init, and the start says
    // why, from the brick's log.
    let (code, _, err) = node.cli(&["volume", "start", "f1", "force"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!(
            "volume start: f1: failed: Failed to start a brick of volume f1:\nBrick {}:{brick}: ",
            node.host
        )),
        "{err}"
    );
    assert!(err.contains("Failed to find parent dir"), "{err}");
    assert_eq!(get_xattr(Path::new(brick), VOLUME_ID_XATTR).unwrap(), id);
    node.expect_store("f1", "info", "status", "0");
    // With .glusterfs back and the id removed, force starts it.
    std::fs::create_dir(format!("{brick}/.glusterfs")).unwrap();
    remove_xattr(Path::new(brick), VOLUME_ID_XATTR);
    node.ok(&["volume", "start", "f1", "force"]);
    assert_eq!(get_xattr(Path::new(brick), VOLUME_ID_XATTR).unwrap(), id);
    assert_eq!(node.status("f1")[0].2, "Y");
    let (code, _, err) = node.cli(&["volume", "start", "f1"]);
    assert_eq!(
        (code, err.trim()),
        (1, "volume start: f1: failed: Volume f1 already started")
    );
    let (code, _, err) = node.cli(&["volume", "delete", "f1"]);
    assert_eq!(
        (code, err.trim()),
        (1, "volume delete: f1: failed: Volume f1 has been started.Volume needs to be stopped before deletion.")
    );
    node.ok(&["volume", "stop", "f1"]);
    let (code, _, err) = node.cli(&["volume", "stop", "f1"]);
    assert_eq!(
        (code, err.trim()),
        (
            1,
            "volume stop: f1: failed: Volume f1 is not in the started state"
        )
    );
    // A stop force of a stopped volume succeeds and bumps the version, as glusterd's does.
    // The stop's files are written after its reply: wait for them before reading the version.
    node.expect_store("f1", "info", "status", "2");
    let version: u32 = node.store_value("f1", "info", "version").parse().unwrap();
    node.ok(&["volume", "stop", "f1", "force"]);
    node.expect_store("f1", "info", "version", &(version + 1).to_string());
    // Another volume's id: force does not override it.
    set_xattr(Path::new(brick), VOLUME_ID_XATTR, &[0x11; 16]);
    let (code, _, err) = node.cli(&["volume", "start", "f1", "force"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "Volume id mismatch for brick {}:{brick}. Expected volume id ",
            node.host
        )) && err.contains("volume id 11111111-1111-1111-1111-111111111111 found"),
        "{err}"
    );
}

#[test]
fn concurrent_start_and_stop_of_one_volume_one_wins_the_other_gets_the_lock_message() {
    let test = "concurrent_start_and_stop_of_one_volume_one_wins_the_other_gets_the_lock_message";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let disks: Vec<Xfs> = (0..2).map(|_| Xfs::new()).collect();
    create(&node, "c2", &[], &disks);
    let _guard = StopAll(&node, vec!["c2".into()]);
    let socket = node.brickd.socket.clone();
    let mut rounds = 0;
    let mut lock_refusals = 0;
    for _ in 0..4 {
        let (s1, s2) = (socket.clone(), socket.clone());
        let start = std::thread::spawn(move || gluster(&s1, &["volume", "start", "c2"]));
        let stop = std::thread::spawn(move || gluster(&s2, &["volume", "stop", "c2"]));
        let (start, stop) = (start.join().unwrap(), stop.join().unwrap());
        for (code, out, err, _) in [&start, &stop] {
            if *code != 0 {
                let allowed = err.contains("Another transaction is in progress for c2")
                    || err.contains("already started")
                    || err.contains("is not in the started state");
                assert!(allowed, "{out}{err}");
                if err.contains("Another transaction is in progress") {
                    lock_refusals += 1;
                }
            }
        }
        // Whatever won, the state is whole: started with every brick up, or stopped with none.
        let (code, out, _) = node.cli(&["volume", "info", "c2"]);
        assert_eq!(code, 0);
        if out.contains("Status: Started") {
            assert!(node.status("c2").iter().all(|r| r.2 == "Y"));
            node.ok(&["volume", "stop", "c2"]);
        }
        rounds += 1;
    }
    assert_eq!(rounds, 4);
    eprintln!("concurrent start/stop: {lock_refusals} lock refusals in {rounds} rounds");
}

#[test]
fn a_brick_asked_to_terminate_over_its_unix_socket_exits_and_stays_down_without_restarts() {
    let test =
        "a_brick_asked_to_terminate_over_its_unix_socket_exits_and_stays_down_without_restarts";
    if skip(test) {
        return;
    }
    let node = Node::start_on(None, None, &["--no-brick-restart"]);
    let disk = Xfs::new();
    let paths = create(&node, "t1", &[], std::slice::from_ref(&disk));
    let _guard = StopAll(&node, vec!["t1".into()]);
    node.ok(&["volume", "start", "t1"]);
    let pid: i32 = node.status("t1")[0].3.parse().unwrap();
    // The brick's unix socket, from its command line (`-S PATH`).
    let line = cmdline(pid);
    let socket = line
        .split(' ')
        .skip_while(|a| *a != "-S")
        .nth(1)
        .expect("-S on the command line")
        .to_string();
    // GD_BRICK TERMINATE, as brickd's stop sends it: the brick answers and exits, no signal.
    brickd::brick::process::terminate(Path::new(&socket), &paths[0], HANG_DEADLINE).unwrap();
    wait_until(|| !alive(pid), "the brick gone after TERMINATE");
    // Seen at once, and (restarts off, glusterd's behaviour) left down.
    wait_until(|| node.status("t1")[0].2 == "N", "the brick shown offline");
    let (code, _, err) = node.cli(&["volume", "start", "t1"]);
    assert_eq!(
        (code, err.trim()),
        (1, "volume start: t1: failed: Volume t1 already started")
    );
    // start force brings it back.
    node.ok(&["volume", "start", "t1", "force"]);
    let row = node.status("t1")[0].clone();
    assert_eq!(row.2, "Y");
    assert_ne!(row.3, pid.to_string());
}

#[test]
fn a_brick_that_keeps_dying_is_left_down_with_the_reason_from_its_log() {
    let test = "a_brick_that_keeps_dying_is_left_down_with_the_reason_from_its_log";
    if skip(test) {
        return;
    }
    let node = Node::start_on(
        None,
        None,
        &[
            "--brick-restarts-max",
            "2",
            "--brick-restart-backoff-ms",
            "20",
        ],
    );
    let disk = Xfs::new();
    let paths = create(&node, "d1", &[], std::slice::from_ref(&disk));
    let _guard = StopAll(&node, vec!["d1".into()]);
    node.ok(&["volume", "start", "d1"]);
    let pid: i32 = node.status("d1")[0].3.parse().unwrap();
    // Every restart will die in init: its .glusterfs is gone.
    std::fs::remove_dir_all(format!("{}/.glusterfs", paths[0])).unwrap();
    // SAFETY: kill(2) of the brick process this test's brickd started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let mut dump = String::new();
    wait_until(
        || {
            dump = statedump(&node);
            dump.contains("left down after 2 restarts")
        },
        "the brick left down after its restarts",
    );
    assert!(
        dump.contains(&format!("brick0.path={}\n", paths[0])),
        "{dump}"
    );
    assert!(dump.contains("brick0.online=0\n"), "{dump}");
    assert!(dump.contains("brick0.restarts=2\n"), "{dump}");
    assert!(dump.contains("Failed to find parent dir"), "{dump}");
    assert_eq!(node.status("d1")[0].2, "N");
}

#[test]
fn a_real_glusterd_on_a_copy_of_brickds_workdir_shows_the_same_state() {
    let test = "a_real_glusterd_on_a_copy_of_brickds_workdir_shows_the_same_state";
    if skip(test) {
        return;
    }
    let node = Node::start();
    let disks: Vec<Xfs> = (0..2).map(|_| Xfs::new()).collect();
    create(&node, "s1", &["replica", "2"], &disks);
    create(&node, "s2", &[], &disks[..1]);
    let _guard = StopAll(&node, vec!["s1".into(), "s2".into()]);
    node.ok(&["volume", "start", "s1"]);
    node.ok(&["volume", "start", "s2"]);
    node.ok(&["volume", "stop", "s2"]);
    node.expect_store("s2", "info", "status", "2");
    node.expect_store("s1", "info", "status", "1");
    let keep = tempfile::tempdir().unwrap();
    let copy = keep.path().join("workdir");
    common::copy_dir(&node.brickd.workdir, &copy);
    let ours = node.ok(&["volume", "info"]);
    // A loopback address of its own, port 24007 (never the system glusterd's).
    let address = format!(
        "127.1.{}.{}",
        100 + std::process::id() % 100,
        2 + std::process::id() % 200
    );
    let glusterd = common::node::Glusterd::start(&copy, &address);
    let (code, theirs, err) = glusterd.cli(&["volume", "info"]);
    assert_eq!(code, 0, "{err}");
    // The options' display order after a reload is issue 19's (glusterd lists a loaded store's
    // options in another order than a running one's): compared as sets here.
    assert_eq!(options_sorted(&theirs), options_sorted(&ours));
    assert!(theirs.contains("Volume Name: s1\n") && theirs.contains("Status: Started\n"));
    assert!(theirs.contains("Volume Name: s2\n") && theirs.contains("Status: Stopped\n"));
}

/// `volume info` text with each volume's "Options Reconfigured" lines sorted.
fn options_sorted(info: &str) -> String {
    let mut out = Vec::new();
    let mut options: Vec<&str> = Vec::new();
    let mut in_options = false;
    for line in info.lines() {
        if in_options && line.contains(": ") && !line.starts_with(' ') {
            options.push(line);
            continue;
        }
        if in_options {
            options.sort_unstable();
            out.append(&mut options);
        }
        in_options = line == "Options Reconfigured:";
        out.push(line);
    }
    options.sort_unstable();
    out.append(&mut options);
    out.join("\n")
}

/// XML status with the values that differ by construction replaced.
fn xml_normalized(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let replaced = [
            "hostname",
            "path",
            "peerid",
            "port",
            "tcp",
            "pid",
            "sizeFree",
            "inodesFree",
        ]
        .iter()
        .find(|tag| trimmed.starts_with(&format!("<{tag}>")))
        .filter(|_| !trimmed.contains(">Self-heal Daemon<") && !trimmed.contains(">localhost<"))
        .filter(|_| !trimmed.contains(">N/A<"))
        .map(|tag| format!("{}<{tag}>X</{tag}>", &line[..line.len() - trimmed.len()]));
        out.push_str(&replaced.unwrap_or_else(|| line.to_string()));
        out.push('\n');
    }
    out
}

#[test]
fn volume_status_prints_what_a_real_glusterd_prints_for_the_same_volume() {
    let test = "volume_status_prints_what_a_real_glusterd_prints_for_the_same_volume";
    if skip(test) {
        return;
    }
    let disks: Vec<Xfs> = (0..2).map(|_| Xfs::new()).collect();
    // A real glusterd on a loopback address of its own, its bricks named by that address.
    let keep = tempfile::tempdir().unwrap();
    let workdir = keep.path().join("glusterd");
    std::fs::create_dir_all(&workdir).unwrap();
    let address = format!(
        "127.2.{}.{}",
        1 + std::process::id() % 200,
        2 + std::process::id() % 200
    );
    let glusterd = common::node::Glusterd::start(&workdir, &address);
    let mut args: Vec<String> = ["volume", "create", "s", "replica", "2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(disks.iter().map(|d| format!("{address}:{}/g", d.root())));
    args.push("force".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = glusterd.cli(&args);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = glusterd.cli(&["volume", "start", "s"]);
    assert_eq!(code, 0, "{out}{err}");
    // The same volume on brickd, on the same file systems.
    let node = Node::start();
    create(&node, "s", &["replica", "2"], &disks);
    let _guard = StopAll(&node, vec!["s".into()]);
    node.ok(&["volume", "start", "s"]);
    // glusterd's bricks sign in on their own time.
    let mut theirs = String::new();
    wait_until(
        || {
            theirs = glusterd.cli(&["volume", "status", "s"]).1;
            let rows = status_normalized(&theirs);
            rows.lines()
                .filter(|l| *l == "Brick NAME PORT 0 Y PID")
                .count()
                == 2
                && rows.contains("Self-heal Daemon on localhost N/A N/A Y PID")
        },
        "glusterd's bricks online",
    );
    let ours = node.ok(&["volume", "status", "s"]);
    assert_eq!(status_normalized(&ours), status_normalized(&theirs));
    let (_, theirs_xml, _) = glusterd.cli(&["volume", "status", "s", "--xml"]);
    let ours_xml = node.ok(&["volume", "status", "s", "--xml"]);
    assert_eq!(xml_normalized(&ours_xml), xml_normalized(&theirs_xml));
    let (_, theirs_detail, _) = glusterd.cli(&["volume", "status", "s", "detail"]);
    let ours_detail = node.ok(&["volume", "status", "s", "detail"]);
    assert_eq!(
        status_normalized(&ours_detail),
        status_normalized(&theirs_detail)
    );
    // Stopped: the same refusal.
    let (code, _, err) = glusterd.cli(&["volume", "stop", "s"]);
    assert_eq!(code, 0, "{err}");
    node.ok(&["volume", "stop", "s"]);
    let theirs = glusterd.cli(&["volume", "status", "s"]);
    let ours = node.cli(&["volume", "status", "s"]);
    assert_eq!(ours, theirs);
}

#[test]
fn bricks_can_fetch_their_volfile_and_sign_in_over_the_unix_socket() {
    let test = "bricks_can_fetch_their_volfile_and_sign_in_over_the_unix_socket";
    if skip(test) {
        return;
    }
    let node = Node::start_on(None, None, &["--bricks-via-unix-socket"]);
    let disks: Vec<Xfs> = (0..2).map(|_| Xfs::new()).collect();
    create(&node, "u2", &["replica", "2"], &disks);
    let _guard = StopAll(&node, vec!["u2".into()]);
    node.ok(&["volume", "start", "u2"]);
    let socket = node.brickd.socket.display().to_string();
    for row in node.status("u2") {
        assert_eq!(row.2, "Y");
        let line = cmdline(row.3.parse().unwrap());
        assert!(
            line.starts_with(&format!("/usr/sbin/glusterfsd -s {socket} --volfile-id "))
                && line.ends_with("--volfile-server-transport unix "),
            "{line}"
        );
    }
    // Clients still find the bricks over TCP.
    let mount = Mount::new(&node, "u2");
    std::fs::write(mount.path("f"), b"over unix").unwrap();
    assert_eq!(std::fs::read(mount.path("f")).unwrap(), b"over unix");
}
