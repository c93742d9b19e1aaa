//! `volume create` and `volume delete` with the real gluster CLI over brickd's unix socket, on
//! XFS file systems on loop devices (root; CI provides it).
//!
//! The oracle is a real glusterd 10.3: tests/fixtures/workdirs/glusterd-10.3 holds the store it
//! wrote for the same commands (`scripts/make-glusterd-workdir.sh`: bricks `node-a:/srv/dN/<vol>`
//! on six XFS mounts) and glusterd-10.3.cli what its CLI printed. Here six XFS mounts stand in
//! for /srv/d0…d5, and brickd's files and CLI output must equal glusterd's once the host, the
//! mount paths, the generated ids and the file-system ids are set aside.

mod common;
#[path = "lvm_fixture/mod.rs"]
mod lvm_fixture;

use common::fs::{get_xattr, must_skip, set_xattr, snapshot, Xfs};
use common::{gluster, Brickd, HANG_DEADLINE};
use std::path::{Path, PathBuf};
use std::process::Command;

const VOLUME_ID_XATTR: &str = "trusted.glusterfs.volume-id";

/// This machine's host name: the CLI refuses localhost and 127.0.0.1 as brick hosts.
fn host() -> String {
    let out = Command::new("hostname").output().expect("hostname");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workdirs")
}

/// Six XFS mounts standing in for the fixture's /srv/d0 … /srv/d5.
struct Node {
    disks: Vec<Xfs>,
    host: String,
    brickd: Brickd,
}

impl Node {
    fn new(disks: usize) -> Node {
        Node {
            disks: (0..disks).map(|_| Xfs::new()).collect(),
            host: host(),
            brickd: Brickd::start(&[]),
        }
    }

    fn brick(&self, volume: &str, disk: usize) -> String {
        format!("{}:{}/{volume}", self.host, self.disks[disk].root())
    }

    fn bricks(&self, volume: &str, disks: &[usize]) -> Vec<String> {
        disks.iter().map(|&d| self.brick(volume, d)).collect()
    }

    fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let (code, out, err, _) = gluster(&self.brickd.socket, args);
        (code, out, err)
    }

    /// Rewrites brickd's host, mount paths, ids and fsids into the fixture's.
    fn normalise(&self, text: &str) -> String {
        // brickd is bound to 127.0.0.1 in these tests; the fixture's glusterd was not.
        let mut text = text.replace("    option transport.socket.bind-address 127.0.0.1\n", "");
        for (i, disk) in self.disks.iter().enumerate() {
            let root = disk.root();
            text = text.replace(
                &format!("{}:{}", self.host, root.replace('/', "-")),
                &format!("node-a:-srv-d{i}"),
            );
            text = text.replace(
                &format!("{}:{root}", self.host),
                &format!("node-a:/srv/d{i}"),
            );
            text = text.replace(&root, &format!("/srv/d{i}"));
            // Brick volfile names: `<vol>.<host>.<path without the first '/', '/' as '-'>.vol`.
            text = text.replace(
                &format!("{}.{}", self.host, root[1..].replace('/', "-")),
                &format!("node-a.srv-d{i}"),
            );
        }
        text = text.replace(&format!("hostname={}\n", self.host), "hostname=node-a\n");
        text = text.replace(
            &format!("option remote-host {}\n", self.host),
            "option remote-host node-a\n",
        );
        blank_ids(&text)
    }
}

/// Each bricks file's `brick-fsid` is the `f_fsid` of its brick's file system (0 for a
/// thin-arbiter brick), as glusterd stores it (blanked in the comparisons with glusterd's files, which ran on other disks).
fn assert_brick_fsids(workdir: &Path, volume: &str) {
    let dir = workdir.join("vols").join(volume).join("bricks");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = read(&entry.unwrap().path());
        let path = info_value(&text, "path");
        let stored: u64 = info_value(&text, "brick-fsid").parse().unwrap();
        if info_value(&text, "brick-id").contains("-ta-") {
            // A thin-arbiter brick: glusterd reads no file system for it.
            assert_eq!(
                stored, 0,
                "{volume}: brick-fsid of the thin-arbiter brick {path}"
            );
            continue;
        }
        let c = std::ffi::CString::new(path.as_str()).unwrap();
        // SAFETY: a valid C string and a zeroed out-parameter.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0, "{path}");
        assert_eq!(stored, st.f_fsid as u64, "{volume}: brick-fsid of {path}");
        seen += 1;
    }
    assert!(seen > 0, "{volume}: no bricks files");
}

/// Lines whose value is generated (ids, the node UUID, the file-system id) keep only their key.
fn blank_ids(text: &str) -> String {
    text.lines()
        .map(|line| {
            for key in [
                "volume-id=",
                "username=",
                "password=",
                "uuid=",
                "brick-fsid=",
                "Volume ID: ",
            ] {
                if line.starts_with(key) {
                    return key.to_string();
                }
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `key=` values of an info file.
fn info_value(info: &str, key: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in info"))
        .to_string()
}

/// brickd's volfiles for `volume` equal glusterd's: the same files (brick, FUSE client, gfproxy,
/// rebalance and self-heal volfiles), the same text once brickd's ids are glusterd's, the workdir is
/// glusterd's (/srv/a/lib) and paths and host are the fixture's.
fn assert_volfiles_match_glusterd(node: &Node, volume: &str) {
    let ours = node.brickd.workdir.join("vols").join(volume);
    let theirs = fixture().join("glusterd-10.3/vols").join(volume);
    let (our_info, their_info) = (read(&ours.join("info")), read(&theirs.join("info")));
    let vols = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".vol"))
            .collect();
        names.sort();
        names
    };
    let mut ours_names: Vec<(String, String)> = vols(&ours)
        .into_iter()
        .map(|n| (node.normalise(&n), n))
        .collect();
    ours_names.sort();
    let renamed: Vec<&String> = ours_names.iter().map(|(n, _)| n).collect();
    assert_eq!(
        renamed,
        vols(&theirs).iter().collect::<Vec<_>>(),
        "{volume}: volfiles"
    );
    for (their_name, our_name) in &ours_names {
        let mut text = read(&ours.join(our_name));
        for key in ["volume-id", "username", "password"] {
            text = text.replace(&info_value(&our_info, key), &info_value(&their_info, key));
        }
        text = text.replace(
            &node.brickd.workdir.to_string_lossy().into_owned(),
            "/srv/a/lib",
        );
        assert_eq!(
            node.normalise(&text),
            node.normalise(&read(&theirs.join(their_name))),
            "{volume}/{their_name}"
        );
    }
}

/// brickd's store files for `volume` equal the fixture's.
fn assert_store_matches_glusterd(node: &Node, volume: &str) {
    let ours = node.brickd.workdir.join("vols").join(volume);
    let theirs = fixture().join("glusterd-10.3/vols").join(volume);
    for file in ["info", "node_state.info", "snapd.info"] {
        assert_eq!(
            node.normalise(&read(&ours.join(file))),
            blank_ids(&read(&theirs.join(file))),
            "{volume}/{file}"
        );
    }
    let info = std::fs::read(ours.join("info")).unwrap();
    let cksum = brickd::store::VolumeChecksum::of_info(&info).file_text();
    assert_eq!(read(&ours.join("cksum")), cksum, "{volume}/cksum");
    let mut our_bricks: Vec<String> = std::fs::read_dir(ours.join("bricks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    our_bricks.sort();
    let mut their_bricks: Vec<String> = std::fs::read_dir(theirs.join("bricks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    their_bricks.sort();
    let mut renamed: Vec<(String, String)> = our_bricks
        .iter()
        .map(|b| (node.normalise(b), b.clone()))
        .collect();
    renamed.sort();
    let names: Vec<&String> = renamed.iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        their_bricks.iter().collect::<Vec<_>>(),
        "{volume}/bricks"
    );
    for ((_, ours_name), theirs_name) in renamed.iter().zip(&their_bricks) {
        assert_eq!(
            node.normalise(&read(&ours.join("bricks").join(ours_name))),
            blank_ids(&read(&theirs.join("bricks").join(theirs_name))),
            "{volume}/bricks/{theirs_name}"
        );
    }
}

fn create(node: &Node, volume: &str, shape: &[&str], disks: &[usize], force: bool) {
    let bricks = node.bricks(volume, disks);
    let mut args = vec!["volume", "create", volume];
    args.extend_from_slice(shape);
    args.extend(bricks.iter().map(String::as_str));
    if force {
        args.push("force");
    }
    let (code, out, err) = node.cli(&args);
    assert_eq!(
        (code, out.trim(), err.as_str()),
        (
            0,
            format!("volume create: {volume}: success: please start the volume to access data")
                .as_str(),
            ""
        ),
        "{args:?}"
    );
    common::wait_for_store(&node.brickd.workdir, volume);
}

#[test]
fn every_volume_type_is_stored_and_shown_as_glusterd_does() {
    if must_skip("every_volume_type_is_stored_and_shown_as_glusterd_does") {
        return;
    }
    let node = Node::new(6);
    // The commands scripts/make-glusterd-workdir.sh gave the real glusterd (the last brick of
    // `ta` is its thin-arbiter brick).
    let cases: [(&str, &[&str], &[usize], bool); 8] = [
        ("dist1", &[], &[0], false),
        ("dist3", &[], &[0, 1, 2], false),
        ("rep3", &["replica", "3"], &[0, 1, 2], true),
        ("arb", &["replica", "3", "arbiter", "1"], &[0, 1, 2], true),
        (
            "disp",
            &["disperse", "3", "redundancy", "1"],
            &[0, 1, 2],
            true,
        ),
        ("distrep", &["replica", "3"], &[0, 1, 2, 3, 4, 5], true),
        (
            "distdisp",
            &["disperse", "3", "redundancy", "1"],
            &[0, 1, 2, 3, 4, 5],
            true,
        ),
        (
            "ta",
            &["replica", "2", "thin-arbiter", "1"],
            &[0, 1, 2],
            true,
        ),
    ];
    for (volume, shape, disks, force) in cases {
        create(&node, volume, shape, disks, force);
        assert_brick_fsids(&node.brickd.workdir, volume);
        assert_store_matches_glusterd(&node, volume);
        assert_volfiles_match_glusterd(&node, volume);
        // What glusterd's CLI printed for the volume right after creating it.
        let (code, out, _) = node.cli(&["volume", "info", volume]);
        assert_eq!(code, 0);
        let want = read(
            &fixture()
                .join("glusterd-10.3.cli")
                .join(format!("volume-info-{volume}.txt")),
        );
        assert_eq!(
            node.normalise(&out),
            blank_ids(&want),
            "volume info {volume}"
        );
        // The claim: every brick carries the volume id, and nothing else changed.
        let info = read(&node.brickd.workdir.join("vols").join(volume).join("info"));
        let id = info
            .lines()
            .find_map(|l| l.strip_prefix("volume-id="))
            .unwrap()
            .to_string();
        let (disks, thin_arbiter) = match volume {
            "ta" => (&disks[..2], Some(disks[2])),
            _ => (disks, None),
        };
        // glusterd neither makes nor claims the thin-arbiter brick.
        if let Some(d) = thin_arbiter {
            assert!(
                !node.disks[d].path(volume).exists(),
                "{volume}: thin-arbiter brick"
            );
        }
        for &d in disks {
            let brick = node.disks[d].path(volume);
            let value = get_xattr(&brick, VOLUME_ID_XATTR).expect("volume-id set");
            assert_eq!(
                brickd::model::Uuid::from_bytes(value.try_into().unwrap()).to_string(),
                id
            );
            assert!(brick.join(".glusterfs").is_dir());
        }
    }
    let (_, list, _) = node.cli(&["volume", "list"]);
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        ["arb", "disp", "dist1", "dist3", "distdisp", "distrep", "rep3", "ta"]
    );
    // Every record is retired once its changes are synced (a moment after the reply); what
    // stays is at most a spare file of zeros. The deadline only catches a journal never
    // retired.
    let workdir = node.brickd.workdir.clone();
    let empty = || {
        brickd::store::journal::read_all(&workdir)
            .unwrap()
            .0
            .is_empty()
    };
    let deadline = std::time::Instant::now() + HANG_DEADLINE;
    while !empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the journal is not retired after finished creates within {HANG_DEADLINE:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

#[test]
fn a_refused_create_changes_nothing_and_says_what_glusterd_says() {
    if must_skip("a_refused_create_changes_nothing_and_says_what_glusterd_says") {
        return;
    }
    let node = Node::new(2);
    create(&node, "taken", &[], &[0], false);
    // Stale ids a previous volume left: on the brick, and on an ancestor.
    let used = node.disks[1].path("used");
    std::fs::create_dir(&used).unwrap();
    set_xattr(&used, VOLUME_ID_XATTR, &[7u8; 16]);
    let deep = node.disks[1].path("parent/child");
    std::fs::create_dir_all(&deep).unwrap();
    set_xattr(&node.disks[1].path("parent"), VOLUME_ID_XATTR, &[8u8; 16]);
    let before: Vec<_> = node.disks.iter().map(|d| snapshot(&d.mount)).collect();
    let d1 = node.disks[1].root();
    let h = node.host.clone();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![format!("{h}:{d1}/new")],
            "Volume taken already exists".into(),
        ),
        (
            vec![format!("{h}:{d1}/used")],
            format!("{d1}/used is already part of a volume"),
        ),
        (
            vec![format!("{h}:{d1}/parent/child")],
            format!("parent directory {d1}/parent is already part of a volume"),
        ),
        (
            vec![format!("{h}:{}/taken/inner", node.disks[0].root())],
            format!(
                "Brick: {h}:{}/taken/inner not available. Brick may be containing or be \
                 contained by an existing brick.",
                node.disks[0].root()
            ),
        ),
        (
            vec![format!("{h}:{d1}")],
            format!(
                "The brick {h}:{d1} is a mount point. Please create a sub-directory under the \
                 mount point and use that as the brick directory. Or use 'force' at the end of \
                 the command if you want to override this behavior."
            ),
        ),
        (
            vec![format!("{h}:/var/tmp/brickd-root-brick-test")],
            format!(
                "The brick {h}:/var/tmp/brickd-root-brick-test is being created in the root \
                 partition. It is recommended that you don't use the system's root partition \
                 for storage backend. Or use 'force' at the end of the command if you want to \
                 override this behavior."
            ),
        ),
        (
            vec![format!("192.0.2.77:{d1}/remote")],
            "Host 192.0.2.77 is not in 'Peer in Cluster' state".into(),
        ),
    ];
    for (bricks, message) in cases {
        let name = if message.starts_with("Volume taken") {
            "taken"
        } else {
            "fresh"
        };
        let mut args = vec!["volume", "create", name];
        args.extend(bricks.iter().map(String::as_str));
        let (code, out, err) = node.cli(&args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        let printed = format!("{out}{err}");
        assert!(
            printed
                .trim()
                .starts_with(&format!("volume create: {name}: failed: ")),
            "{printed}"
        );
        assert!(
            printed.contains(&message),
            "{args:?}\nwant: {message}\ngot: {printed}"
        );
    }
    // A replica set on one node without force: glusterd's brick order message.
    let (code, out, err) = node.cli(&[
        "volume",
        "create",
        "fresh",
        "replica",
        "2",
        &format!("{h}:{d1}/r1"),
        &format!("{h}:{d1}/r2"),
    ]);
    assert_eq!(code, 1);
    assert!(
        format!("{out}{err}")
            .contains("Multiple bricks of a replicate volume are present on the same server"),
        "{out}{err}"
    );
    let after: Vec<_> = node.disks.iter().map(|d| snapshot(&d.mount)).collect();
    assert_eq!(before, after, "a refused create left something behind");
    assert!(!Path::new("/var/tmp/brickd-root-brick-test").exists());
    assert!(!node.brickd.workdir.join("vols/fresh").exists());
}

#[test]
fn delete_releases_the_bricks_and_create_again_works() {
    if must_skip("delete_releases_the_bricks_and_create_again_works") {
        return;
    }
    let node = Node::new(1);
    create(&node, "v1", &[], &[0], false);
    let brick = node.disks[0].path("v1");
    assert!(get_xattr(&brick, VOLUME_ID_XATTR).is_some());
    let (code, out, _) = node.cli(&["volume", "delete", "v1"]);
    assert_eq!((code, out.trim()), (0, "volume delete: v1: success"));
    assert_eq!(get_xattr(&brick, VOLUME_ID_XATTR), None);
    assert!(!node.brickd.workdir.join("vols/v1").exists());
    let (code, out, err) = node.cli(&["volume", "info", "v1"]);
    assert_eq!(
        (code, format!("{out}{err}").trim()),
        (1, "Volume v1 does not exist")
    );
    // The same bricks, at once, under a new name: nothing left "part of a volume".
    create(&node, "v2", &[], &[0], false);
    let (code, out, err) = node.cli(&["volume", "delete", "nosuch"]);
    assert_eq!(code, 1);
    assert_eq!(
        format!("{out}{err}").trim(),
        "volume delete: nosuch: failed: Volume nosuch does not exist"
    );
    // Another volume's id on the brick is never removed by a delete.
    let v2 = node.disks[0].path("v1");
    set_xattr(&v2, VOLUME_ID_XATTR, &[9u8; 16]);
    let (code, _, _) = node.cli(&["volume", "delete", "v2"]);
    assert_eq!(code, 0);
    assert_eq!(get_xattr(&v2, VOLUME_ID_XATTR), Some(vec![9u8; 16]));
}

#[test]
fn a_created_volume_survives_a_restart_and_shows_options_as_a_restarted_glusterd() {
    if must_skip("a_created_volume_survives_a_restart_and_shows_options_as_a_restarted_glusterd") {
        return;
    }
    let mut node = Node::new(1);
    create(&node, "dist1", &[], &[0], false);
    let workdir = node.brickd.workdir.clone();
    // Keep the workdir: restart on it.
    let keep = tempfile::tempdir().unwrap();
    let copy = keep.path().join("workdir");
    common::copy_dir(&workdir, &copy);
    node.brickd = Brickd::start_on(Some(copy), &[], |_| {});
    let (code, out, _) = node.cli(&["volume", "info", "dist1"]);
    assert_eq!(code, 0);
    // tests/golden/cli holds what a glusterd restarted on its workdir printed.
    let want = read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/cli/volume-info-dist1.stdout.txt"),
    );
    assert_eq!(node.normalise(&out), blank_ids(&want));
}

#[test]
fn a_create_sends_fetchspec_to_every_connected_client_like_glusterd() {
    if must_skip("a_create_sends_fetchspec_to_every_connected_client_like_glusterd") {
        return;
    }
    let node = Node::new(1);
    // Two idle clients, one per listener, as a mounted client or a peer would be.
    let mut unix = node.brickd.unix_client();
    let mut tcp = node.brickd.tcp_client();
    // Make sure both are accepted before the create.
    for client in [&mut unix as &mut dyn Ping, &mut tcp] {
        client.ping();
    }
    create(&node, "v1", &[], &[0], false);
    // What a real glusterd 10.3 sent the CLI's connection after a create (captured with
    // perf's create-volumes): xid 1, CALL, RPC v2, program 52743234 v1 procedure 1
    // (FETCHSPEC), AUTH_NULL credential and verifier, no arguments.
    let want: Vec<u8> = [1u32, 0, 2, 52_743_234, 1, 1, 0, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect();
    assert_eq!(
        unix.read_record().expect("a callback on the unix socket"),
        want
    );
    assert_eq!(tcp.read_record().expect("a callback on TCP"), want);
    // A delete sends none (nor does glusterd): the next thing on the wire is a reply (a
    // callback there fails `ping`, which reads a reply).
    let (code, _, _) = node.cli(&["volume", "delete", "v1"]);
    assert_eq!(code, 0);
    for client in [&mut unix as &mut dyn Ping, &mut tcp] {
        client.ping();
    }
    create(&node, "v2", &[], &[0], false);
    let second = unix.read_record().expect("the next callback");
    assert_eq!(
        &second[..4],
        &2u32.to_be_bytes(),
        "callbacks are numbered per connection"
    );
    assert_eq!(&second[4..], &want[4..]);
    // One callback per create, none per delete, even a late one: a reply is next again.
    unix.ping();
}

/// A NULL call that waits for its reply (the connection is then surely accepted).
trait Ping {
    fn ping(&mut self);
}

impl<S: std::io::Read + std::io::Write> Ping for common::Client<S> {
    fn ping(&mut self) {
        let xid = self.next_xid();
        self.send(&common::call_record(xid, 1_238_463, 2, 0, &[]));
        let reply = self.read_reply().expect("NULL reply");
        assert_eq!(reply.xid, xid);
    }
}

/// Starts the real glusterfsd on a brick volfile (no glusterd: `-f`), waits until it listens
/// on `port`, stops it; the log on failure.
fn glusterfsd_serves(
    volfile: &Path,
    volume: &str,
    port: u16,
    node_uuid: &str,
) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("brick.log");
    let mut child = Command::new("glusterfsd")
        .arg("-N")
        .arg("-f")
        .arg(volfile)
        .arg("-l")
        .arg(&log)
        .arg("-p")
        .arg(dir.path().join("pid"))
        .arg("--brick-port")
        .arg(port.to_string())
        .arg("--xlator-option")
        .arg(format!("{volume}-server.listen-port={port}"))
        .arg("--xlator-option")
        .arg(format!("*-posix.glusterd-uuid={node_uuid}"))
        .spawn()
        .expect("glusterfsd is installed (glusterfs-server); scripts/test.sh installs it");
    // Far beyond glusterfsd's start-up: only a glusterfsd that never listens runs into it.
    let deadline = std::time::Instant::now() + HANG_DEADLINE;
    let mut result = Err(String::new());
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            result = Ok(());
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            result = Err(format!("glusterfsd exited: {status}"));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("] E [") || l.contains("] C ["))
        .collect();
    match result {
        Ok(()) if errors.is_empty() => Ok(()),
        Ok(()) => Err(format!(
            "listening, but the log has errors:\n{}",
            errors.join("\n")
        )),
        Err(why) => Err(format!("{why}; log:\n{text}")),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_real_glusterfsd_serves_the_brick_volfiles_brickd_writes() {
    if must_skip("the_real_glusterfsd_serves_the_brick_volfiles_brickd_writes") {
        return;
    }
    let node = Node::new(3);
    create(&node, "gd1", &[], &[0], false);
    create(
        &node,
        "garb",
        &["replica", "3", "arbiter", "1"],
        &[0, 1, 2],
        true,
    );
    create(
        &node,
        "gdisp",
        &["disperse", "3", "redundancy", "1"],
        &[0, 1, 2],
        true,
    );
    let uuid = read(&node.brickd.workdir.join("glusterd.info"))
        .lines()
        .find_map(|l| l.strip_prefix("UUID="))
        .unwrap()
        .to_string();
    // A plain brick, an arbiter brick (features/arbiter above posix) and a disperse brick.
    for (volume, disk) in [("gd1", 0), ("garb", 2), ("gdisp", 1)] {
        let brick = node.disks[disk].path(volume);
        let name = format!(
            "{volume}.{}.{}.vol",
            node.host,
            brick.to_string_lossy()[1..].replace('/', "-")
        );
        let volfile = node.brickd.workdir.join("vols").join(volume).join(&name);
        assert!(volfile.exists(), "{}", volfile.display());
        if let Err(e) = glusterfsd_serves(&volfile, volume, free_port(), &uuid) {
            panic!("{volume}: {e}");
        }
    }
}

/// The journal record a create of `name` on `brick` appends, as brickd would write it, with
/// the bytes of every store file under `workdir/vols/name` (not the volfiles: start-up renders
/// them from the store files, for the node the record names).
fn create_record(workdir: &Path, name: &str, id: &str, brick: &Path, op: &str) -> Vec<u8> {
    let mut files = Vec::new();
    let dir = workdir.join("vols").join(name);
    let node = info_value(&read(&workdir.join("glusterd.info")), "UUID");
    for sub in [dir.clone(), dir.join("bricks")] {
        for e in std::fs::read_dir(&sub).unwrap().flatten() {
            if e.file_type().unwrap().is_file()
                && !e.file_name().to_string_lossy().ends_with(".vol")
            {
                let rel = e
                    .path()
                    .strip_prefix(workdir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    brickd::store::journal::encode(&brickd::store::journal::Record {
        seq: 1,
        txn: brickd::model::Uuid::from_bytes([9; 16]),
        op: op.into(),
        volname: name.into(),
        volume_id: brickd::model::Uuid::parse(id).unwrap(),
        pairs: vec![
            ("node-uuid".into(), node),
            // brickd runs bound to 127.0.0.1 here, and says so in its records.
            ("node-bind-address".into(), "127.0.0.1".into()),
            ("brick-0".into(), brick.display().to_string()),
            ("brick-0.existed".into(), "0".into()),
        ],
        files: if op == "create" { files } else { Vec::new() },
    })
}

#[test]
fn a_journal_left_by_a_crash_is_redone_at_start_up() {
    if must_skip("a_journal_left_by_a_crash_is_redone_at_start_up") {
        return;
    }
    let mut node = Node::new(1);
    let before = snapshot(&node.disks[0].mount);
    create(&node, "v", &[], &[0], false);
    let workdir = node.brickd.workdir.clone();
    let id = info_value(&read(&workdir.join("vols/v/info")), "volume-id");
    let brick = node.disks[0].path("v");
    let claimed = snapshot(&node.disks[0].mount);
    let stored = read(&workdir.join("vols/v/info"));
    let volfiles: Vec<(PathBuf, String)> = std::fs::read_dir(workdir.join("vols/v"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".vol"))
        .map(|e| (PathBuf::from(e.file_name()), read(&e.path())))
        .collect();
    // A brick volfile, two client volfiles, the gfproxy daemon's and its client's (one brick:
    // no rebalance volfile; distribute: no self-heal volfile).
    assert_eq!(volfiles.len(), 5, "{volfiles:?}");
    let keep = tempfile::tempdir().unwrap();

    // 1. A crash before the changes reached the disk: a store file missing, another cut
    //    short, the brick's volume-id and .glusterfs gone; the journal holds the create.
    let copy = keep.path().join("redo");
    common::copy_dir(&workdir, &copy);
    let record = create_record(&copy, "v", &id, &brick, "create");
    for (name, _) in &volfiles {
        std::fs::remove_file(copy.join("vols/v").join(name)).unwrap();
    }
    std::fs::write(copy.join("vols/v/info"), &stored.as_bytes()[..10]).unwrap();
    std::fs::remove_dir(brick.join(".glusterfs")).unwrap();
    common::fs::remove_xattr(&brick, "trusted.glusterfs.volume-id");
    std::fs::create_dir_all(copy.join("brickd/journal")).unwrap();
    // A cut-off second record after the whole one: ignored.
    let mut bytes = record.clone();
    bytes.extend_from_slice(&record[..record.len() / 2]);
    std::fs::write(copy.join("brickd/journal/0-1.log"), bytes).unwrap();
    node.brickd = Brickd::start_on(Some(copy.clone()), &[], |_| {});
    let (_, out, _) = node.cli(&["volume", "list"]);
    assert_eq!(out.trim(), "v");
    assert_eq!(read(&copy.join("vols/v/info")), stored);
    for (name, text) in &volfiles {
        // The same bytes, but for the copy's workdir (the marker's timestamp file).
        let expected = text.replace(workdir.to_str().unwrap(), copy.to_str().unwrap());
        assert_eq!(
            read(&copy.join("vols/v").join(name)),
            expected,
            "{} rendered again as the create wrote it",
            name.display()
        );
    }
    assert_eq!(
        snapshot(&node.disks[0].mount),
        claimed,
        "the claim is redone"
    );
    let (records, tails) = brickd::store::journal::read_all(&copy).unwrap();
    assert!(
        records.is_empty() && tails.is_empty(),
        "the journal is cleared"
    );

    // 2. The same create followed by its abort record (it failed and was being undone):
    //    start-up finishes the undo, whatever part of it had reached the disk.
    let copy2 = keep.path().join("undo");
    common::copy_dir(&copy, &copy2);
    let mut bytes = create_record(&copy2, "v", &id, &brick, "create");
    let mut abort = create_record(&copy2, "v", &id, &brick, "abort");
    // seq 2: the abort follows the create.
    let mut with_seq = brickd::store::journal::decode(&abort).unwrap().0;
    with_seq.seq = 2;
    abort = brickd::store::journal::encode(&with_seq);
    bytes.extend(abort);
    std::fs::create_dir_all(copy2.join("brickd/journal")).unwrap();
    std::fs::write(copy2.join("brickd/journal/1-1.log"), bytes).unwrap();
    node.brickd = Brickd::start_on(Some(copy2.clone()), &[], |_| {});
    let (_, out, err) = node.cli(&["volume", "list"]);
    assert_eq!(
        format!("{out}{err}").trim(),
        "No volumes present in cluster"
    );
    assert!(!copy2.join("vols/v").exists());
    assert_eq!(
        snapshot(&node.disks[0].mount),
        before,
        "the brick is as before the create"
    );
}

#[test]
fn volume_group_bricks_are_tagged_on_create_and_untagged_on_delete() {
    if must_skip("volume_group_bricks_are_tagged_on_create_and_untagged_on_delete") {
        return;
    }
    if let Some(why) = lvm_fixture::unavailable() {
        common::skip::missing(
            "volume_group_bricks_are_tagged_on_create_and_untagged_on_delete",
            &why,
        );
        return;
    }
    let node = Node::new(1);
    let vg = lvm_fixture::ScratchVg::create();
    let brick = |name: &str| {
        format!(
            "{}:{}?{}",
            node.host,
            node.disks[0].path(name).display(),
            vg.name
        )
    };
    // The CLI passes `?VG` through; the group gets this volume's tag.
    let (code, out, err) = node.cli(&["volume", "create", "vg1", &brick("a")]);
    assert_eq!(code, 0, "{out}{err}");
    // The store files follow the reply.
    common::wait_for_store(&node.brickd.workdir, "vg1");
    let info = read(&node.brickd.workdir.join("vols/vg1/info"));
    let id = info_value(&info, "volume-id");
    assert_eq!(vg.tags(), [brickd::lvm::volume_tag(&id)]);
    let bricks = node.brickd.workdir.join("vols/vg1/bricks");
    let file = std::fs::read_dir(&bricks)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        read(&file).ends_with(&format!("vg={}\n", vg.name)),
        "{}",
        read(&file)
    );
    // Another volume on the same group is refused, and changes nothing.
    let (code, out, err) = node.cli(&["volume", "create", "vg2", &brick("b")]);
    assert_eq!(code, 1);
    assert!(
        format!("{out}{err}").contains(&format!("is already part of volume {id}")),
        "{out}{err}"
    );
    assert!(!node.disks[0].path("b").exists());
    // Delete removes the tag: the group is free again.
    let (code, _, _) = node.cli(&["volume", "delete", "vg1"]);
    assert_eq!(code, 0);
    assert!(vg.tags().is_empty(), "{:?}", vg.tags());
    let (code, out, err) = node.cli(&["volume", "create", "vg2", &brick("b")]);
    assert_eq!(code, 0, "{out}{err}");
}
