//! The store against a workdir that a real glusterd 10.3 wrote
//! (`tests/fixtures/workdirs/glusterd-10.3`, made by `scripts/make-glusterd-workdir.sh`; see
//! the README there): loading every volume, brick, option and peer, the checksums glusterd
//! wrote, byte-for-byte round trips, damaged files, atomic writes and crashes.
//!
//! The expected values come from the fixture and from the real CLI's outputs captured in the
//! same run (`glusterd-10.3.cli/`); nothing depends on this machine's host name.

use brickd::model::{
    Brick, Transport, Uuid, Volume, VolumeStatus, VolumeType, OP_VERSION_MAX, OP_VERSION_MIN,
    PEER_STATE_BEFRIENDED,
};
use brickd::store::{cksum, tmp_path, Store, StoreError, VolumeChecksum, Workdir};
use std::fs;
use std::path::{Path, PathBuf};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/workdirs/glusterd-10.3"
);
const FIXTURE_CLI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/workdirs/glusterd-10.3.cli"
);

/// node-a, whose workdir the fixture is.
const NODE_A: &str = "c0155f6f-c725-48f2-bab5-38cdd0172027";
/// node-b, probed from node-a.
const NODE_B: &str = "9bc79563-9ed1-48d7-801d-1fb249cfea5b";

const VOLUMES: [&str; 11] = [
    "arb", "disp", "dist1", "dist3", "distdisp", "distrep", "opts", "rep3", "started", "stopped",
    "ta",
];

fn fixture() -> Workdir {
    Store::load(FIXTURE).expect("the glusterd 10.3 fixture loads")
}

fn cli_output(name: &str) -> String {
    fs::read_to_string(Path::new(FIXTURE_CLI).join(format!("{name}.txt"))).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A private, writable copy of the fixture.
fn fixture_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("workdir");
    copy_dir(Path::new(FIXTURE), &root);
    (dir, root)
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn volume<'a>(workdir: &'a Workdir, name: &str) -> &'a Volume {
    workdir
        .volume(name)
        .unwrap_or_else(|| panic!("volume {name} is loaded"))
}

fn load_err(root: &Path) -> String {
    match Store::load(root) {
        Ok(_) => panic!("{} should not load", root.display()),
        Err(e) => e.to_string(),
    }
}

// --- loading -------------------------------------------------------------------------------

#[test]
fn loads_the_node_identity_glusterd_generated() {
    let workdir = fixture();
    assert_eq!(workdir.node.uuid, Uuid::parse(NODE_A).unwrap());
    assert_eq!(workdir.node.op_version, OP_VERSION_MAX);
    assert!(workdir.node.extra.is_empty());
    assert!(!workdir.node_created);
    assert_eq!(workdir.max_op_version, Some(100_000));
    assert_eq!(
        workdir.global_options,
        [("global-option-version".to_string(), "0".to_string())]
    );
    assert_eq!(
        cli_output("system-uuid-get"),
        format!("UUID: {}\n", workdir.node.uuid)
    );
}

#[test]
fn loads_the_probed_peer() {
    let workdir = fixture();
    assert_eq!(workdir.peers.len(), 1);
    let peer = &workdir.peers[0];
    assert_eq!(peer.uuid, Uuid::parse(NODE_B).unwrap());
    assert_eq!(peer.state, PEER_STATE_BEFRIENDED);
    assert_eq!(peer.hostnames, ["node-b"]);
    assert!(peer.extra.is_empty());
    let status = cli_output("peer-status");
    assert!(status.contains(&format!("Hostname: node-b\nUuid: {}\n", peer.uuid)));
    assert!(status.contains(&format!(
        "State: {} (Connected)",
        brickd::model::peer_state_name(peer.state)
    )));
}

#[test]
fn loads_every_volume_sorted_by_name() {
    let workdir = fixture();
    let names: Vec<&str> = workdir.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, VOLUMES);
    let listed: Vec<String> = cli_output("volume-list")
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(listed, VOLUMES);
}

#[test]
fn loads_type_status_and_counts_of_every_volume() {
    let workdir = fixture();
    // name, type, status, bricks, sub_count, replica, arbiter, disperse, redundancy, thin
    // arbiter, version, client op-version
    let expected = [
        (
            "arb",
            VolumeType::Replicate,
            VolumeStatus::Created,
            3,
            3,
            3,
            1,
            0,
            0,
            0,
            1,
            30800,
        ),
        (
            "disp",
            VolumeType::Disperse,
            VolumeStatus::Created,
            3,
            3,
            1,
            0,
            3,
            1,
            0,
            1,
            30600,
        ),
        (
            "dist1",
            VolumeType::Distribute,
            VolumeStatus::Created,
            1,
            0,
            1,
            0,
            0,
            0,
            0,
            1,
            2,
        ),
        (
            "dist3",
            VolumeType::Distribute,
            VolumeStatus::Created,
            3,
            0,
            1,
            0,
            0,
            0,
            0,
            1,
            2,
        ),
        (
            "distdisp",
            VolumeType::Disperse,
            VolumeStatus::Created,
            6,
            3,
            1,
            0,
            3,
            1,
            0,
            1,
            30600,
        ),
        (
            "distrep",
            VolumeType::Replicate,
            VolumeStatus::Created,
            6,
            3,
            3,
            0,
            0,
            0,
            0,
            1,
            30800,
        ),
        (
            "opts",
            VolumeType::Distribute,
            VolumeStatus::Created,
            2,
            0,
            1,
            0,
            0,
            0,
            0,
            6,
            2,
        ),
        (
            "rep3",
            VolumeType::Replicate,
            VolumeStatus::Created,
            3,
            3,
            3,
            0,
            0,
            0,
            0,
            1,
            30800,
        ),
        (
            "started",
            VolumeType::Distribute,
            VolumeStatus::Started,
            2,
            0,
            1,
            0,
            0,
            0,
            0,
            2,
            2,
        ),
        (
            "stopped",
            VolumeType::Distribute,
            VolumeStatus::Stopped,
            1,
            0,
            1,
            0,
            0,
            0,
            0,
            3,
            2,
        ),
        (
            "ta",
            VolumeType::Replicate,
            VolumeStatus::Created,
            2,
            2,
            2,
            0,
            0,
            0,
            1,
            1,
            30800,
        ),
    ];
    for (
        name,
        ty,
        status,
        bricks,
        sub,
        replica,
        arbiter,
        disperse,
        redundancy,
        thin,
        version,
        client,
    ) in expected
    {
        let v = volume(&workdir, name);
        assert_eq!(v.volume_type, ty, "{name}");
        assert_eq!(v.status, status, "{name}");
        assert_eq!(v.brick_count, bricks, "{name}");
        assert_eq!(v.bricks.len(), bricks as usize, "{name}");
        assert_eq!(v.sub_count, sub, "{name}");
        assert_eq!(v.replica_count, replica, "{name}");
        assert_eq!(v.arbiter_count, arbiter, "{name}");
        assert_eq!(v.disperse_count, disperse, "{name}");
        assert_eq!(v.redundancy_count, redundancy, "{name}");
        assert_eq!(v.thin_arbiter_count, thin, "{name}");
        assert_eq!(v.thin_arbiter_brick.is_some(), thin == 1, "{name}");
        assert_eq!(v.version, version, "{name}");
        assert_eq!(v.client_op_version, client, "{name}");
        // Common to every volume glusterd 10.3 creates.
        assert_eq!(v.op_version, 40000, "{name}");
        assert_eq!(v.transport, Transport::Tcp, "{name}");
        assert_eq!(v.stripe_count, None, "{name}");
        assert_eq!(v.quota_version, 0, "{name}");
        assert_eq!(v.tier_enabled, 0, "{name}");
        assert_eq!(v.parent_volname, "N/A", "{name}");
        assert!(v.restored_from_snap.is_nil(), "{name}");
        assert_eq!(v.snap_max_hard_limit, 256, "{name}");
        assert_eq!(v.username.as_ref().map(|u| u.len()), Some(36), "{name}");
        assert_eq!(v.password.as_ref().map(|p| p.len()), Some(36), "{name}");
        assert!(v.extra.is_empty(), "{name}");
        assert_eq!(v.snapd_port, 0, "{name}");
        assert_eq!(v.rebalance, Default::default(), "{name}");
    }
    assert_eq!(
        volume(&workdir, "dist1").volume_id,
        Uuid::parse("771feadf-955b-4aa3-820c-ce7f7b930402").unwrap()
    );
}

#[test]
fn loads_every_brick_file() {
    let workdir = fixture();
    let node_a = Uuid::parse(NODE_A).unwrap();
    for v in &workdir.volumes {
        for (i, brick) in v.bricks.iter().enumerate() {
            let what = format!("{} brick {i}", v.name);
            assert_eq!(brick.uuid, node_a, "{what}");
            assert_eq!(brick.hostname, "node-a", "{what}");
            assert!(brick.path.starts_with("/srv/d"), "{what}");
            assert!(brick.path.ends_with(&format!("/{}", v.name)), "{what}");
            assert_eq!(brick.real_path, brick.path, "{what}");
            assert_eq!(brick.brick_id, format!("{}-client-{i}", v.name), "{what}");
            assert_eq!(brick.mount_dir, format!("/{}", v.name), "{what}");
            // f_fsid of /srv/dN on loop device N: 0x700 + N.
            let fs_index: u64 = brick.path[6..7].parse().unwrap();
            assert_eq!(brick.brick_fsid, 1792 + fs_index, "{what}");
            assert_eq!(
                (brick.rdma_listen_port, brick.decommissioned),
                (0, 0),
                "{what}"
            );
            assert_eq!(brick.snap_status, 0, "{what}");
            assert!(
                brick.device_path.is_empty() && brick.fs_type.is_empty(),
                "{what}"
            );
            assert!(brick.mnt_opts.is_empty() && brick.vg.is_empty(), "{what}");
            assert!(brick.extra.is_empty(), "{what}");
            // A brick that never ran has port 0; glusterd keeps the last port after a stop.
            assert_eq!(
                brick.listen_port == 0,
                v.status == VolumeStatus::Created,
                "{what}: only bricks that ran have ports"
            );
        }
    }
    let started = volume(&workdir, "started");
    let ports: Vec<u32> = started.bricks.iter().map(|b| b.listen_port).collect();
    assert_eq!(ports, [57859, 49400]);
    assert_eq!(volume(&workdir, "stopped").bricks[0].listen_port, 49159);

    let ta = volume(&workdir, "ta").thin_arbiter_brick.as_ref().unwrap();
    assert_eq!(
        ta,
        &Brick {
            uuid: Uuid::NIL,
            hostname: "node-a".into(),
            path: "/srv/d2/ta".into(),
            real_path: "/srv/d2/ta".into(),
            brick_id: "ta-ta-2".into(),
            ..Brick::default()
        }
    );
}

#[test]
fn options_are_held_last_key_first_with_values_with_equals() {
    let workdir = fixture();
    let opts = volume(&workdir, "opts");
    let options: Vec<(&str, &str)> = opts
        .options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        options,
        [
            ("nfs.disable", "on"),
            ("transport.address-family", "inet"),
            ("storage.fips-mode-rchecksum", "on"),
            ("performance.cache-size", "64MB"),
            ("auth.allow", "192.0.2.*"),
            ("features.read-only", "on"),
            ("diagnostics.brick-log-level", "WARNING"),
            ("user.brickd.note", "a=b=c"),
        ]
    );
    let rep3: Vec<&str> = volume(&workdir, "rep3")
        .options
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        rep3,
        [
            "performance.client-io-threads",
            "nfs.disable",
            "transport.address-family",
            "storage.fips-mode-rchecksum",
            "cluster.granular-entry-heal",
        ]
    );
}

/// `volume info <name>` as the real CLI prints it, from the model and its helpers
/// (`gf_cli_get_volume_cbk`, `gf_cli_print_number_of_bricks`).
fn cli_volume_info(v: &Volume) -> String {
    let mut out = String::from(" \n");
    out += &format!("Volume Name: {}\n", v.name);
    out += &format!("Type: {}\n", v.type_name());
    out += &format!("Volume ID: {}\n", v.volume_id);
    out += &format!("Status: {}\n", v.status.name());
    out += "Snapshot Count: 0\n";
    let (bricks, dist) = (v.brick_count, v.dist_count());
    out += &match v.volume_type {
        VolumeType::Distribute => format!("Number of Bricks: {bricks}\n"),
        VolumeType::Disperse => format!(
            "Number of Bricks: {} x ({} + {}) = {bricks}\n",
            v.subvol_count(),
            v.disperse_count - v.redundancy_count,
            v.redundancy_count
        ),
        _ if v.arbiter_count == 0 => {
            format!(
                "Number of Bricks: {} x {dist} = {bricks}\n",
                v.subvol_count()
            )
        }
        _ => format!(
            "Number of Bricks: {} x ({} + {}) = {bricks}\n",
            v.subvol_count(),
            dist - v.arbiter_count,
            v.arbiter_count
        ),
    };
    out += &format!("Transport-type: {}\n", v.transport.name());
    out += "Bricks:\n";
    for (i, brick) in v.bricks.iter().enumerate() {
        let arbiter = if v.is_arbiter_brick(i) {
            " (arbiter)"
        } else {
            ""
        };
        out += &format!("Brick{}: {}{arbiter}\n", i + 1, brick.name());
    }
    if let Some(ta) = &v.thin_arbiter_brick {
        out += &format!("Thin-arbiter-path: {}\n", ta.name());
    }
    out += "Options Reconfigured:\n";
    // The glusterd that made these volumes answered in the same run, holding the options in
    // file order; loading the files holds them last key first.
    for (key, value) in v.options.iter().rev() {
        out += &format!("{key}: {value}\n");
    }
    out
}

#[test]
fn the_model_reproduces_the_real_cli_volume_info_of_every_volume() {
    let workdir = fixture();
    let mut all = String::new();
    for v in &workdir.volumes {
        let text = cli_volume_info(v);
        assert_eq!(
            text,
            cli_output(&format!("volume-info-{}", v.name)),
            "{}",
            v.name
        );
        all += &text;
    }
    assert_eq!(all, cli_output("volume-info"));
}

// --- checksums and round trips -------------------------------------------------------------

#[test]
fn cksum_of_every_volume_equals_the_file_glusterd_wrote() {
    let workdir = fixture();
    for name in VOLUMES {
        let dir = Path::new(FIXTURE).join("vols").join(name);
        let written = fs::read_to_string(dir.join("cksum")).unwrap();
        let info = fs::read(dir.join("info")).unwrap();
        let computed = VolumeChecksum::of_info(&info);
        assert_eq!(computed.file_text(), written, "{name}");
        assert_eq!(workdir.checksums[name], computed, "{name}");
        assert_eq!(
            computed.chained,
            cksum::checksum(written.as_bytes(), computed.info, OP_VERSION_MAX),
            "{name}"
        );
    }
}

/// What a load of `v`, once written, holds: its options reversed (glusterd writes them from
/// the head of its list and reads each back to the head).
fn reloaded(v: &Volume) -> Volume {
    let mut v = v.clone();
    v.options.reverse();
    v
}

#[test]
fn writing_every_loaded_volume_reproduces_glusterds_files_byte_for_byte() {
    let workdir = fixture();
    let out = tempfile::tempdir().unwrap();
    let store = Store::new(out.path());
    store.write_node_info(&workdir.node).unwrap();
    for peer in &workdir.peers {
        store.write_peer(peer).unwrap();
    }
    for v in &workdir.volumes {
        // As the glusterd that wrote these files held them: options in file order (a load
        // holds them last key first).
        let v = &reloaded(v);
        let checksum = store.write_volume(v).unwrap();
        assert_eq!(checksum, workdir.checksums[&v.name], "{}", v.name);
    }
    let written = files_under(out.path());
    // Everything we wrote exists in glusterd's workdir and is identical to it.
    for file in &written {
        assert_eq!(
            fs::read(out.path().join(file)).unwrap(),
            fs::read(Path::new(FIXTURE).join(file)).unwrap(),
            "{}",
            file.display()
        );
    }
    // And we wrote every store file glusterd has (the rest are volfiles and files brickd's
    // store does not own).
    let store_files: Vec<PathBuf> = files_under(Path::new(FIXTURE))
        .into_iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_str().unwrap();
            !name.ends_with(".vol")
                && !matches!(name, "glusterd.upgrade" | "options")
                && !f.starts_with("snaps")
        })
        .collect();
    assert_eq!(written, store_files);
    // A store file is 0600, like glusterd's.
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(out.path().join("vols/opts/info"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_written_workdir_loads_back_to_the_same_model() {
    let workdir = fixture();
    let out = tempfile::tempdir().unwrap();
    let store = Store::new(out.path());
    store.write_node_info(&workdir.node).unwrap();
    for peer in &workdir.peers {
        store.write_peer(peer).unwrap();
    }
    for v in &workdir.volumes {
        store.write_volume(v).unwrap();
    }
    let back = Store::load(out.path()).unwrap();
    assert_eq!(back.node, workdir.node);
    assert_eq!(back.peers, workdir.peers);
    // Written from the head of each option list, read back each key to the head: reversed,
    // as glusterd's write and load are.
    let expected: Vec<Volume> = workdir.volumes.iter().map(reloaded).collect();
    assert_eq!(back.volumes, expected);
    assert_eq!(back.checksums, workdir.checksums);
}

// --- new node --------------------------------------------------------------------------------

#[test]
fn a_missing_glusterd_info_makes_a_new_node_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("new");
    let first = Store::load(&root).unwrap();
    assert!(first.node_created);
    assert_eq!(first.node.op_version, OP_VERSION_MAX);
    assert!(first.volumes.is_empty() && first.peers.is_empty());
    let text = fs::read_to_string(root.join("glusterd.info")).unwrap();
    assert_eq!(
        text,
        format!("UUID={}\noperating-version=100000\n", first.node.uuid)
    );
    let second = Store::load(&root).unwrap();
    assert!(!second.node_created);
    assert_eq!(second.node, first.node);
}

#[test]
fn a_failed_load_of_a_new_node_writes_nothing() {
    let (_dir, root) = fixture_copy();
    fs::remove_file(root.join("glusterd.info")).unwrap();
    fs::write(root.join("vols/dist1/info"), b"type=0\nnonsense\n").unwrap();
    load_err(&root);
    assert!(!root.join("glusterd.info").exists());
}

// --- damaged files ---------------------------------------------------------------------------

#[test]
fn a_line_without_equals_names_file_and_line() {
    let (_dir, root) = fixture_copy();
    let info = root.join("vols/rep3/info");
    let text = fs::read_to_string(&info).unwrap();
    fs::write(&info, text.replacen("version=1\n", "version 1\n", 1)).unwrap();
    let err = load_err(&root);
    assert_eq!(
        err,
        format!(
            "{} line 8: no '=' in the line (expected key=value)",
            info.display()
        )
    );
}

#[test]
fn an_unknown_volume_type_names_file_and_line() {
    let (_dir, root) = fixture_copy();
    let info = root.join("vols/disp/info");
    let text = fs::read_to_string(&info).unwrap();
    fs::write(&info, text.replacen("type=4\n", "type=7\n", 1)).unwrap();
    let err = load_err(&root);
    assert!(
        err.starts_with(&format!(
            "{} line 1: type=7: not a volume type glusterd knows",
            info.display()
        )),
        "{err}"
    );
}

#[test]
fn a_truncated_info_file_is_an_error_naming_the_file() {
    let (_dir, root) = fixture_copy();
    let info = root.join("vols/distrep/info");
    let bytes = fs::read(&info).unwrap();
    // Cut in the middle of the brick-4 line: that line has no newline and is ignored, as
    // glusterd ignores it, so brick-4 is missing.
    let cut = bytes.len() - "node-a:-srv-d5-distrep\n".len() - "brick-4=node-a:-sr".len();
    fs::write(&info, &bytes[..cut]).unwrap();
    let err = load_err(&root);
    assert_eq!(
        err,
        format!("{}: no brick-4= line (count=6 on line 2)", info.display())
    );
    fs::write(&info, b"").unwrap();
    assert_eq!(
        load_err(&root),
        format!(
            "{}: the volume info file has no key=value lines",
            info.display()
        )
    );
}

#[test]
fn a_bricks_file_named_by_info_but_missing_names_the_info_line() {
    let (_dir, root) = fixture_copy();
    let brick = root.join("vols/dist3/bricks/node-a:-srv-d1-dist3");
    fs::remove_file(&brick).unwrap();
    let err = load_err(&root);
    let info = root.join("vols/dist3/info");
    assert!(
        err.starts_with(&format!(
            "{} line 24: brick-1=node-a:-srv-d1-dist3: cannot read the bricks file {}:",
            info.display(),
            brick.display()
        )),
        "{err}"
    );
}

#[test]
fn a_damaged_bricks_file_names_its_line() {
    let (_dir, root) = fixture_copy();
    let brick = root.join("vols/started/bricks/node-a:-srv-d5-started");
    let text = fs::read_to_string(&brick).unwrap();
    fs::write(&brick, text.replace("listen-port=49400", "listen-port=")).unwrap();
    assert_eq!(
        load_err(&root),
        format!(
            "{} line 5: listen-port= has an empty value",
            brick.display()
        )
    );
}

/// What glusterd skips in `peers/` (with a log line) costs a warning, not the node: a file
/// not named by a UUID, a file with no usable UUID or no host name, a file that is no
/// `key=value` text; the other peers load.
#[test]
fn damaged_and_stray_peer_files_are_skipped_as_glusterd_skips_them() {
    let fixture = fixture();
    let (_dir, root) = fixture_copy();
    let peers = root.join("peers");
    let huge = b"hostname1=x\n".repeat(200_000);
    let damaged = [
        ("notes.txt", &b"anything\n"[..]),
        (
            "node-c",
            &b"uuid=11111111-2222-3333-4444-555555555555\nhostname1=node-c\n"[..],
        ),
        (
            "11111111-2222-3333-4444-555555555555",
            &b"uuid=not-a-uuid\nstate=3\nhostname1=c\n"[..],
        ),
        (
            "22222222-2222-3333-4444-555555555555",
            &b"uuid=22222222-2222-3333-4444-555555555555\nstate=3\n"[..],
        ),
        (
            "33333333-2222-3333-4444-555555555555",
            &b"no equals sign here\n"[..],
        ),
        ("44444444-2222-3333-4444-555555555555", &b""[..]),
        // Larger than any peer file: skipped unread.
        ("66666666-2222-3333-4444-555555555555", &huge[..]),
    ];
    for (name, bytes) in damaged {
        fs::write(peers.join(name), bytes).unwrap();
    }
    let workdir = Store::load(&root).expect("a store with junk in peers/ loads");
    assert_eq!(workdir.peers, fixture.peers, "only the real peer is loaded");
    println!("{} damaged or stray peer files skipped", damaged.len());
}

/// A peer file in the older format (`hostname=`, no index) loads, as glusterd loads it.
#[test]
fn an_older_format_peer_file_loads() {
    let (_dir, root) = fixture_copy();
    let uuid = "55555555-2222-3333-4444-555555555555";
    fs::write(
        root.join("peers").join(uuid),
        format!("uuid={uuid}\nstate=3\nhostname=node-old\n"),
    )
    .unwrap();
    let workdir = Store::load(&root).unwrap();
    let peer = (workdir.peers.iter())
        .find(|p| p.uuid.to_string() == uuid)
        .expect("the older peer file is loaded");
    assert_eq!(peer.hostnames, ["node-old"]);
    assert_eq!(peer.state, 3);
}

/// What glusterd 10.3 left of its own failed create (`volume create v replica 2 HOST:/one
/// force`: "Failed to create volume files"; tests/fixtures/workdirs/failed-create/v): a
/// restarted glusterd lists `v` ("Number of Bricks: 0 x 2 = 1"), and so does brickd.
#[test]
fn the_leftover_of_glusterds_failed_create_loads_as_glusterd_loads_it() {
    let (_dir, root) = fixture_copy();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workdirs/failed-create/v"),
        &root.join("vols").join("v"),
    );
    let workdir = Store::load(&root).expect("the leftover loads, as in a restarted glusterd");
    let v = volume(&workdir, "v");
    assert_eq!((v.bricks.len(), v.replica_count), (1, 2));
    let info = cli_volume_info(v);
    assert!(info.contains("Number of Bricks: 0 x 2 = 1\n"), "{info}");
}

#[test]
fn a_last_line_without_newline_is_ignored_like_glusterd() {
    let (_dir, root) = fixture_copy();
    // glusterd.info whose operating-version line lost its newline: glusterd no longer finds
    // the op-version, sees a known UUID and runs at the minimum op-version ("upgrade").
    fs::write(
        root.join("glusterd.info"),
        format!("UUID={NODE_A}\noperating-version=100000"),
    )
    .unwrap();
    // A node_state.info whose last line (run-time) has no newline: the default stays.
    let node_state = root.join("vols/opts/node_state.info");
    let text = fs::read_to_string(&node_state).unwrap();
    let text = text.replace("run-time=0.000000\n", "run-time=12.500000");
    fs::write(&node_state, text).unwrap();

    let workdir = Store::load(&root).unwrap();
    assert_eq!(workdir.node.uuid, Uuid::parse(NODE_A).unwrap());
    assert_eq!(workdir.node.op_version, OP_VERSION_MIN);
    assert_eq!(volume(&workdir, "opts").rebalance.run_time_s, 0.0);
}

#[test]
fn an_existing_glusterd_info_without_uuid_is_refused() {
    let (_dir, root) = fixture_copy();
    fs::write(root.join("glusterd.info"), b"").unwrap();
    let err = load_err(&root);
    assert!(err.contains("glusterd.info: no UUID= line"), "{err}");
}

// --- atomic writes and crashes -------------------------------------------------------------

#[test]
fn stale_tmp_files_from_a_crash_are_ignored_on_load() {
    let (_dir, root) = fixture_copy();
    let garbage = b"half written garbage without equals\nand no newline";
    for stale in [
        "glusterd.info.tmp",
        "options.tmp",
        "vols/dist1/info.tmp",
        "vols/dist1/node_state.info.tmp",
        "vols/dist1/bricks/node-a:-srv-d0-dist1.tmp",
    ] {
        fs::write(root.join(stale), garbage).unwrap();
    }
    fs::write(root.join("peers").join(format!("{NODE_B}.tmp")), garbage).unwrap();
    fs::create_dir(root.join("vols/newvol.tmp")).unwrap();
    fs::write(root.join("vols/newvol.tmp/info"), garbage).unwrap();
    let workdir = Store::load(&root).unwrap();
    let fixture = fixture();
    assert_eq!(workdir.volumes, fixture.volumes);
    assert_eq!(workdir.peers, fixture.peers);
}

#[test]
fn writing_a_volume_leaves_no_tmp_behind() {
    let (_dir, root) = fixture_copy();
    let workdir = Store::load(&root).unwrap();
    let mut v = volume(&workdir, "distdisp").clone();
    v.version += 1;
    v.options
        .insert(0, ("performance.readdir-ahead".into(), "off".into()));
    let checksum = workdir.store().write_volume(&v).unwrap();
    let leftovers: Vec<PathBuf> = files_under(&root)
        .into_iter()
        .filter(|f| f.to_str().unwrap().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let back = Store::load(&root).unwrap();
    assert_eq!(volume(&back, "distdisp"), &reloaded(&v));
    assert_eq!(back.checksums["distdisp"], checksum);
    assert_ne!(checksum, workdir.checksums["distdisp"]);
    let info = fs::read_to_string(root.join("vols/distdisp/info")).unwrap();
    assert!(info.contains("version=2\n"));
    assert!(info.contains("snap-max-hard-limit=256\nperformance.readdir-ahead=off\n"));
    assert_eq!(
        fs::read_to_string(root.join("vols/distdisp/cksum")).unwrap(),
        checksum.file_text()
    );
}

#[test]
fn a_crash_before_commit_leaves_the_old_volume_and_tmp_files_that_load_ignores() {
    let (_dir, root) = fixture_copy();
    let workdir = Store::load(&root).unwrap();
    let old = volume(&workdir, "rep3").clone();
    let mut new = old.clone();
    new.version = 9;
    new.status = VolumeStatus::Started;
    let prepared = workdir.store().prepare_volume(&new).unwrap();
    // Every file is staged, none is in place.
    let info = root.join("vols/rep3/info");
    assert!(fs::read_to_string(tmp_path(&info))
        .unwrap()
        .contains("version=9\n"));
    // The process dies here: nothing runs the destructors, the .tmp files stay.
    std::mem::forget(prepared);
    let after_crash = Store::load(&root).unwrap();
    assert_eq!(volume(&after_crash, "rep3"), &old);
    assert_eq!(after_crash.checksums["rep3"], workdir.checksums["rep3"]);
    // The restarted node writes again over the stale .tmp files.
    after_crash.store().write_volume(&new).unwrap();
    assert!(!tmp_path(&info).exists());
    assert_eq!(
        volume(&Store::load(&root).unwrap(), "rep3"),
        &reloaded(&new)
    );
}

#[test]
fn an_abandoned_prepare_removes_its_tmp_files() {
    let (_dir, root) = fixture_copy();
    let workdir = Store::load(&root).unwrap();
    let before = files_under(&root);
    let prepared = workdir
        .store()
        .prepare_volume(volume(&workdir, "arb"))
        .unwrap();
    drop(prepared);
    assert_eq!(files_under(&root), before);
}

#[test]
fn a_volume_that_cannot_be_read_back_is_not_written() {
    let (_dir, root) = fixture_copy();
    let workdir = Store::load(&root).unwrap();
    let before = files_under(&root);
    let mut v = volume(&workdir, "dist3").clone();
    v.brick_count = 4;
    let err = workdir.store().write_volume(&v).unwrap_err();
    assert!(matches!(err, StoreError::Inconsistent { .. }), "{err}");
    let mut v = volume(&workdir, "dist3").clone();
    v.options.push(("user.empty".into(), String::new()));
    let err = workdir.store().write_volume(&v).unwrap_err().to_string();
    assert!(
        err.contains("the value of user.empty cannot be stored"),
        "{err}"
    );
    assert_eq!(files_under(&root), before);
}

#[test]
fn a_volume_moved_to_the_trash_again_replaces_what_a_crash_left_there() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let vol = root.join("vols").join("v");
    let trashed = root.join("brickd").join("trash").join("v-tag");
    // A crash left the first move's tree in the trash; the volume's files were written again.
    fs::create_dir_all(trashed.join("bricks")).unwrap();
    fs::write(trashed.join("info"), "old").unwrap();
    fs::create_dir_all(vol.join("bricks")).unwrap();
    fs::write(vol.join("info"), "new").unwrap();
    Store::new(root).remove_volume("v", "tag").unwrap();
    assert!(!vol.exists());
    // And the trash is emptied once the move is made.
    assert!(!root.join("brickd").join("trash").exists());
}
