//! Brick validation, claim, rollback and release on real XFS file systems on loop devices,
//! and the `brickd brick inspect|release` commands. Run as root (CI is root).

mod common;
#[path = "lvm_fixture/mod.rs"]
mod lvm_fixture;

use brickd::brick::claim::{self, ClaimStep, ClaimTarget, ReleaseError, ReleaseRequest};
use brickd::brick::engine::{Engine, EngineConfig};
use brickd::brick::host::HostMap;
use brickd::brick::validate::{
    self, Env, GroupKind, ProblemKind, Report, Request, VOLUME_ID_XATTR,
};
use brickd::model::{Peer, Uuid};
use common::fs::{get_xattr, must_skip, set_xattr, snapshot, Xfs};
use futures_lite::future::block_on;
use std::path::Path;
use std::process::Command;

const HOST: &str = "localhost";

fn engine() -> Engine {
    Engine::start(EngineConfig::default()).expect("brick engine")
}

fn hosts() -> HostMap {
    HostMap::from_system(&[])
}

fn request(bricks: &[String]) -> Request {
    Request {
        volname: "v1".into(),
        volume_id: Uuid::from_bytes([0x42; 16]),
        bricks: bricks.to_vec(),
        group: None,
        force: false,
        check_order: true,
    }
}

/// Validates `req` with `existing` as the real paths of this node's existing bricks.
fn run_validate(engine: &Engine, req: &Request, existing: &[String]) -> Report {
    let existing: std::collections::BTreeSet<String> = existing.iter().cloned().collect();
    let hosts = hosts();
    let workdir = Path::new("/var/lib/brickd-test-none");
    block_on(validate::validate(
        Env {
            engine,
            lvm: None,
            hosts: &hosts,
            peers: &[],
            connected: &[],
            workdir,
            existing: &existing,
        },
        req,
    ))
}

fn brick(path: &Path) -> String {
    format!("{HOST}:{}", path.display())
}

fn kinds(report: &Report) -> Vec<ProblemKind> {
    report.problems.iter().map(|p| p.kind).collect()
}

/// Validation must change nothing: same entries, modes and xattrs before and after.
fn validate_unchanged(engine: &Engine, xfs: &Xfs, req: &Request) -> Report {
    let before = snapshot(&xfs.mount);
    let report = run_validate(engine, req, &[]);
    assert_eq!(
        before,
        snapshot(&xfs.mount),
        "validation changed the file system"
    );
    report
}

#[test]
fn new_brick_under_a_mount_is_valid_with_its_mount_dir() {
    if must_skip("new_brick_under_a_mount_is_valid_with_its_mount_dir") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    let r = validate_unchanged(&e, &xfs, &request(&[brick(&xfs.path("data"))]));
    assert!(r.is_ok(), "{}", r.message());
    let b = &r.bricks[0];
    assert!(!b.exists);
    assert_eq!(b.mount_dir.as_deref(), Some("/data"));
    assert_eq!(b.brick_root.as_deref(), Some(xfs.root().as_str()));
    let m = b.mount.as_ref().unwrap();
    assert_eq!(m.fs_type, "xfs");
    assert_eq!(m.source, xfs.device);
    assert!(!m.read_only);
    // An existing nested brick: mount dir is the whole path below the mount.
    std::fs::create_dir_all(xfs.path("a/b/c")).unwrap();
    let r = validate_unchanged(&e, &xfs, &request(&[brick(&xfs.path("a/b/c"))]));
    assert!(r.is_ok(), "{}", r.message());
    assert!(r.bricks[0].exists);
    assert_eq!(r.bricks[0].mount_dir.as_deref(), Some("/a/b/c"));
}

#[test]
fn nested_path_without_parent_fails_like_mkdir() {
    if must_skip("nested_path_without_parent_fails_like_mkdir") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    let p = xfs.path("x/y/z");
    let r = validate_unchanged(&e, &xfs, &request(&[brick(&p)]));
    assert_eq!(kinds(&r), [ProblemKind::CannotCreate]);
    assert_eq!(
        r.message(),
        format!(
            "Failed to create brick directory for brick {HOST}:{}. Reason : No such file or directory ",
            p.display()
        )
    );
}

#[test]
fn mount_point_as_brick_is_refused_unless_forced() {
    if must_skip("mount_point_as_brick_is_refused_unless_forced") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    let mut req = request(&[brick(&xfs.mount)]);
    let r = validate_unchanged(&e, &xfs, &req);
    assert_eq!(kinds(&r), [ProblemKind::MountPoint]);
    assert_eq!(
        r.message(),
        format!(
            "The brick {HOST}:{} is a mount point. Please create a sub-directory under the mount point and \
             use that as the brick directory. Or use 'force' at the end of the command if you want to \
             override this behavior.",
            xfs.root()
        )
    );
    assert_eq!(r.bricks[0].mount_dir.as_deref(), Some("/"));
    req.force = true;
    let r = validate_unchanged(&e, &xfs, &req);
    assert!(r.is_ok(), "{}", r.message());
}

#[test]
fn brick_on_the_root_file_system_is_refused_unless_forced() {
    if must_skip("brick_on_the_root_file_system_is_refused_unless_forced") {
        return;
    }
    // /tmp is on the root file system on the CI machines; check rather than assume.
    let dir = tempfile::Builder::new()
        .prefix("brickd-rootfs-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let root_dev = std::os::unix::fs::MetadataExt::dev(&std::fs::metadata("/").unwrap());
    let dir_dev = std::os::unix::fs::MetadataExt::dev(&std::fs::metadata(dir.path()).unwrap());
    if root_dev != dir_dev {
        common::skip::unsupported(
            "brick_on_the_root_file_system_is_refused_unless_forced",
            "/var/tmp is not on the root file system here",
        );
        return;
    }
    let e = engine();
    let p = dir.path().join("brick");
    let mut req = request(&[brick(&p)]);
    let r = run_validate(&e, &req, &[]);
    assert_eq!(kinds(&r), [ProblemKind::RootPartition]);
    assert_eq!(
        r.message(),
        format!(
            "The brick {HOST}:{} is being created in the root partition. It is recommended that you don't \
             use the system's root partition for storage backend. Or use 'force' at the end of the command \
             if you want to override this behavior.",
            p.display()
        )
    );
    assert_eq!(r.bricks[0].mount_dir.as_deref(), Some(p.to_str().unwrap()));
    req.force = true;
    assert!(run_validate(&e, &req, &[]).is_ok());
    assert!(!p.exists(), "validation created the brick");
}

#[test]
fn stale_volume_id_on_an_ancestor_and_gfid_on_the_path_are_in_use() {
    if must_skip("stale_volume_id_on_an_ancestor_and_gfid_on_the_path_are_in_use") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    std::fs::create_dir_all(xfs.path("old/sub")).unwrap();
    set_xattr(&xfs.path("old"), VOLUME_ID_XATTR, &[7; 16]);
    std::fs::create_dir(xfs.path("b2")).unwrap();
    set_xattr(
        &xfs.path("b2"),
        "trusted.gfid",
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    );
    let bricks = [
        brick(&xfs.path("old/sub")),
        brick(&xfs.path("old/new")),
        brick(&xfs.path("b2")),
    ];
    let mut req = request(&bricks);
    let r = validate_unchanged(&e, &xfs, &req);
    let msgs: Vec<_> = r
        .problems
        .iter()
        .map(|p| (p.brick, p.message.clone()))
        .collect();
    let parent = format!(
        "parent directory {} is already part of a volume",
        xfs.path("old").display()
    );
    assert_eq!(
        msgs,
        [
            (Some(0), parent.clone()),
            (Some(1), parent),
            (
                Some(2),
                format!("{} is already part of a volume", xfs.path("b2").display())
            ),
        ],
        "every problem of every brick, in order"
    );
    let walk = &r.bricks[0].levels;
    assert_eq!(&*walk[1].path, xfs.path("old").to_str().unwrap());
    assert!(matches!(walk[1].volume_id, validate::XattrState::Present(ref v) if v == &[7; 16]));
    req.force = true;
    assert!(validate_unchanged(&e, &xfs, &req).is_ok());
}

#[test]
fn oversized_gfid_is_a_hard_error_like_glusterd() {
    if must_skip("oversized_gfid_is_a_hard_error_like_glusterd") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    std::fs::create_dir(xfs.path("b")).unwrap();
    set_xattr(&xfs.path("b"), "trusted.gfid", &[1; 40]);
    let mut req = request(&[brick(&xfs.path("b"))]);
    req.force = true;
    let r = validate_unchanged(&e, &xfs, &req);
    assert_eq!(
        r.message(),
        "Failed to get extended attribute trusted.gfid, reason: Numerical result out of range"
    );
}

#[test]
fn file_or_symlink_where_a_directory_is_expected() {
    if must_skip("file_or_symlink_where_a_directory_is_expected") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    std::fs::write(xfs.path("file"), b"x").unwrap();
    std::fs::create_dir(xfs.path("real")).unwrap();
    std::os::unix::fs::symlink(xfs.path("real"), xfs.path("link")).unwrap();
    let r = validate_unchanged(
        &e,
        &xfs,
        &request(&[
            brick(&xfs.path("file")),
            brick(&xfs.path("link")),
            brick(&xfs.path("file/sub")),
        ]),
    );
    let msgs: Vec<_> = r.problems.iter().map(|p| p.message.clone()).collect();
    assert_eq!(
        msgs,
        [
            format!(
                "The provided path {} which is already present, is not a directory",
                xfs.path("file").display()
            ),
            format!(
                "The provided path {} which is already present, is not a directory",
                xfs.path("link").display()
            ),
            format!(
                "Failed to create brick directory for brick {HOST}:{}. Reason : Not a directory ",
                xfs.path("file/sub").display()
            ),
        ]
    );
}

#[test]
fn brick_under_a_symlinked_ancestor_has_its_real_path() {
    if must_skip("brick_under_a_symlinked_ancestor_has_its_real_path") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    std::fs::create_dir_all(xfs.path("real/brick")).unwrap();
    std::os::unix::fs::symlink(xfs.path("real"), xfs.path("via")).unwrap();
    let r = validate_unchanged(&e, &xfs, &request(&[brick(&xfs.path("via/brick"))]));
    assert!(r.is_ok(), "{}", r.message());
    assert_eq!(
        r.bricks[0].real_path,
        xfs.path("real/brick").to_str().unwrap()
    );
    // An existing brick at the real path makes the symlinked one unavailable.
    let existing = [xfs.path("real").to_string_lossy().into_owned()];
    let r = run_validate(&e, &request(&[brick(&xfs.path("via/brick"))]), &existing);
    assert_eq!(kinds(&r), [ProblemKind::NotAvailable]);
}

#[test]
fn read_only_mount_is_refused_for_new_and_existing_bricks() {
    if must_skip("read_only_mount_is_refused_for_new_and_existing_bricks") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    std::fs::create_dir(xfs.path("have")).unwrap();
    xfs.remount(true);
    let r = validate_unchanged(
        &e,
        &xfs,
        &request(&[brick(&xfs.path("have")), brick(&xfs.path("new"))]),
    );
    let msgs: Vec<_> = r.problems.iter().map(|p| p.message.clone()).collect();
    assert_eq!(
        msgs,
        [
            format!(
                "Glusterfs is not supported on brick: {HOST}:{}.\nSetting extended attributes failed, reason: Read-only file system.",
                xfs.path("have").display()
            ),
            format!(
                "Failed to create brick directory for brick {HOST}:{}. Reason : Read-only file system ",
                xfs.path("new").display()
            ),
        ]
    );
    xfs.remount(false);
}

#[test]
fn brick_inside_another_brick_is_not_available() {
    if must_skip("brick_inside_another_brick_is_not_available") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    let outer = xfs.path("outer");
    std::fs::create_dir(&outer).unwrap();
    let existing = [outer.to_string_lossy().into_owned()];
    let inner = brick(&xfs.path("outer/inner"));
    let r = run_validate(&e, &request(std::slice::from_ref(&inner)), &existing);
    assert_eq!(
        r.message(),
        format!("Brick: {inner} not available. Brick may be containing or be contained by an existing brick.")
    );
    // Containing an existing brick, too; and a sibling with a common prefix is fine.
    let r = run_validate(
        &e,
        &request(&[brick(&xfs.mount), brick(&xfs.path("outer2"))]),
        &existing,
    );
    // The mount contains the existing brick, and contains outer2 of the same command.
    let found: Vec<_> = r.problems.iter().map(|p| (p.brick, p.kind)).collect();
    assert_eq!(
        found,
        [
            (Some(0), ProblemKind::MountPoint),
            (Some(0), ProblemKind::NotAvailable),
            (Some(1), ProblemKind::NotAvailable)
        ]
    );
    assert!(r.problems[2].message.ends_with("of the same command."));
    let r = run_validate(&e, &request(&[brick(&xfs.path("outer2"))]), &existing);
    assert!(
        r.is_ok(),
        "a common prefix not cut at '/' is fine: {}",
        r.message()
    );
    // Two bricks of one command, one inside the other (glusterd lets this through).
    let r = run_validate(
        &e,
        &request(&[brick(&xfs.path("p")), brick(&xfs.path("p/q"))]),
        &[],
    );
    assert_eq!(
        kinds(&r),
        [ProblemKind::CannotCreate],
        "p/q cannot be made before p exists"
    );
    std::fs::create_dir(xfs.path("p")).unwrap();
    let r = run_validate(
        &e,
        &request(&[brick(&xfs.path("p")), brick(&xfs.path("p/q"))]),
        &[],
    );
    assert_eq!(kinds(&r), [ProblemKind::NotAvailable], "{}", r.message());
    // The same brick twice.
    let d = brick(&xfs.path("dup"));
    let r = run_validate(&e, &request(&[d.clone(), d.clone()]), &[]);
    assert_eq!(r.message(), format!("Found duplicate exports {d}"));
}

#[test]
fn inside_the_workdir_is_refused_even_when_forced() {
    if must_skip("inside_the_workdir_is_refused_even_when_forced") {
        return;
    }
    let e = engine();
    let mut req = request(&["localhost:/var/lib/glusterd/bricks/b1".to_string()]);
    req.force = true;
    let r = run_validate(&e, &req, &[]);
    assert!(
        r.problems.iter().any(|p| p.message
            == "Brick isn't allowed to be created inside glusterd's working directory."),
        "{}",
        r.message()
    );
}

#[test]
fn brick_order_is_checked_by_node_identity() {
    if must_skip("brick_order_is_checked_by_node_identity") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    // 127.0.0.1 and localhost are both this node: glusterd would compare DNS answers, brickd
    // compares nodes.
    let bricks = [
        format!("127.0.0.1:{}", xfs.path("r1").display()),
        format!("localhost:{}", xfs.path("r2").display()),
    ];
    let mut req = request(&bricks);
    req.group = Some((GroupKind::Replicate, 2));
    let r = run_validate(&e, &req, &[]);
    assert_eq!(kinds(&r), [ProblemKind::BrickOrder]);
    assert!(r.problems[0]
        .message
        .starts_with("Multiple bricks of a replicate volume are present on the same server."));
    req.group = Some((GroupKind::Disperse, 2));
    let r = run_validate(&e, &req, &[]);
    assert!(r
        .message()
        .starts_with("Multiple bricks of a disperse volume"));
    req.force = true;
    assert!(run_validate(&e, &req, &[]).is_ok());
    // A peer's brick in another set is fine; an unknown host is reported, never passed.
    let peer = Peer {
        uuid: Uuid::from_bytes([9; 16]),
        state: 3,
        hostnames: vec!["node-b".into()],
        extra: Default::default(),
    };
    let hosts = HostMap::new(
        vec!["localhost".into()],
        vec![],
        std::slice::from_ref(&peer),
    );
    let req = Request {
        bricks: vec![
            format!("localhost:{}", xfs.path("a").display()),
            "node-b:/b".into(),
            "nowhere.invalid:/c".into(),
            format!("localhost:{}", xfs.path("d").display()),
        ],
        group: Some((GroupKind::Replicate, 2)),
        ..request(&[])
    };
    let r = block_on(validate::validate(
        Env {
            engine: &e,
            lvm: None,
            hosts: &hosts,
            peers: std::slice::from_ref(&peer),
            connected: &[peer.uuid],
            workdir: Path::new("/nonexistent"),
            existing: &std::collections::BTreeSet::new(),
        },
        &req,
    ));
    let msgs: Vec<_> = r.problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        msgs.contains(&"Host nowhere.invalid is not in 'Peer in Cluster' state"),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("Failed to perform brick order check.")
                && m.contains("nowhere.invalid")),
        "{msgs:?}"
    );
    // The peer's brick needs a connected peer.
    let r = block_on(validate::validate(
        Env {
            engine: &e,
            lvm: None,
            hosts: &hosts,
            peers: std::slice::from_ref(&peer),
            connected: &[],
            workdir: Path::new("/nonexistent"),
            existing: &std::collections::BTreeSet::new(),
        },
        &Request {
            bricks: vec!["node-b:/b".into()],
            ..request(&[])
        },
    ));
    assert_eq!(r.message(), "Host node-b not connected");
}

#[test]
fn claim_then_rollback_leaves_the_file_system_as_it_was() {
    if must_skip("claim_then_rollback_leaves_the_file_system_as_it_was") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    std::fs::create_dir(xfs.path("existing")).unwrap();
    let before = snapshot(&xfs.mount);
    let id = Uuid::from_bytes([0x5a; 16]);
    let targets: Vec<ClaimTarget> = ["new", "existing"]
        .iter()
        .map(|n| ClaimTarget {
            host: HOST.into(),
            path: xfs.path(n).to_string_lossy().into_owned(),
            vg: None,
        })
        .collect();
    let record = block_on(claim::claim(&e, None, id, &targets, false)).expect("claim");
    for t in &targets {
        assert_eq!(
            get_xattr(Path::new(&t.path), VOLUME_ID_XATTR).unwrap(),
            id.as_bytes()
        );
        let meta = std::fs::metadata(Path::new(&t.path).join(".glusterfs")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
            0o600
        );
    }
    assert_eq!(
        record
            .steps
            .iter()
            .filter(|s| matches!(s, ClaimStep::CreatedBrickDir { .. }))
            .count(),
        1,
        "only the new brick dir was created: {record:?}"
    );
    // The claimed bricks now fail validation as glusterd's would.
    let r = run_validate(&e, &request(&[brick(&xfs.path("existing"))]), &[]);
    assert_eq!(
        r.message(),
        format!(
            "{} is already part of a volume",
            xfs.path("existing").display()
        )
    );
    block_on(claim::rollback(&e, None, &record)).expect("rollback");
    assert_eq!(before, snapshot(&xfs.mount), "rollback left a trace");
}

#[test]
fn failed_claim_rolls_back_every_brick_it_touched() {
    if must_skip("failed_claim_rolls_back_every_brick_it_touched") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    std::fs::create_dir(xfs.path("taken")).unwrap();
    set_xattr(&xfs.path("taken"), VOLUME_ID_XATTR, &[1; 16]);
    let before = snapshot(&xfs.mount);
    let targets: Vec<ClaimTarget> = ["fresh", "taken"]
        .iter()
        .map(|n| ClaimTarget {
            host: HOST.into(),
            path: xfs.path(n).to_string_lossy().into_owned(),
            vg: None,
        })
        .collect();
    let err = block_on(claim::claim(
        &e,
        None,
        Uuid::from_bytes([2; 16]),
        &targets,
        false,
    ))
    .unwrap_err();
    assert_eq!(
        err.messages,
        ["Failed to set extended attributes trusted.glusterfs.volume-id, reason: File exists"]
    );
    assert!(err.rollback_failures.is_empty(), "{err}");
    assert_eq!(before, snapshot(&xfs.mount));
    // Forced, it replaces the old id, and rollback restores it.
    let record = block_on(claim::claim(
        &e,
        None,
        Uuid::from_bytes([2; 16]),
        &targets,
        true,
    ))
    .unwrap();
    assert_eq!(
        get_xattr(&xfs.path("taken"), VOLUME_ID_XATTR).unwrap(),
        [2; 16]
    );
    block_on(claim::rollback(&e, None, &record)).unwrap();
    assert_eq!(before, snapshot(&xfs.mount));
}

#[test]
fn release_refuses_a_wrong_id_and_removes_the_right_one() {
    if must_skip("release_refuses_a_wrong_id_and_removes_the_right_one") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    let id = Uuid::from_bytes([0x33; 16]);
    let path = xfs.path("b").to_string_lossy().into_owned();
    let target = ClaimTarget {
        host: HOST.into(),
        path: path.clone(),
        vg: None,
    };
    block_on(claim::claim(
        &e,
        None,
        id,
        std::slice::from_ref(&target),
        false,
    ))
    .unwrap();
    set_xattr(
        Path::new(&path),
        "trusted.gfid",
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    );
    std::fs::create_dir_all(xfs.path("b/.glusterfs/00/00")).unwrap();
    std::fs::write(xfs.path("b/data.txt"), b"user data").unwrap();
    let wrong = Uuid::from_bytes([0x44; 16]);
    let before = snapshot(&xfs.mount);
    let err = block_on(claim::release(
        &e,
        None,
        &ReleaseRequest {
            path: path.clone(),
            volume_id: wrong,
            remove_gfid: true,
            vg: None,
            sync: true,
        },
    ))
    .unwrap_err();
    assert_eq!(
        err,
        ReleaseError::WrongVolume {
            path: path.clone(),
            found: id.to_string(),
            expected: wrong.to_string()
        }
    );
    assert_eq!(
        before,
        snapshot(&xfs.mount),
        "a refused release changed something"
    );
    let report = block_on(claim::release(
        &e,
        None,
        &ReleaseRequest {
            path: path.clone(),
            volume_id: id,
            remove_gfid: true,
            vg: None,
            sync: true,
        },
    ))
    .unwrap();
    assert!(report.removed_volume_id && report.removed_gfid && report.removed_glusterfs_dir);
    assert!(get_xattr(Path::new(&path), VOLUME_ID_XATTR).is_none());
    assert!(get_xattr(Path::new(&path), "trusted.gfid").is_none());
    assert_eq!(std::fs::read(xfs.path("b/data.txt")).unwrap(), b"user data");
    // Now the brick validates again.
    let r = run_validate(&e, &request(&[brick(&xfs.path("b"))]), &[]);
    assert!(r.is_ok(), "{}", r.message());
}

#[test]
fn many_bricks_validate_concurrently_in_one_report() {
    if must_skip("many_bricks_validate_concurrently_in_one_report") {
        return;
    }
    let xfs = Xfs::new();
    let e = engine();
    let mut bricks = Vec::new();
    for i in 0..500 {
        let p = xfs.path(&format!("d{}/e{}/b{i}", i % 10, i % 7));
        std::fs::create_dir_all(&p).unwrap();
        bricks.push(brick(&p));
    }
    set_xattr(&xfs.path("d3"), VOLUME_ID_XATTR, &[3; 16]);
    let before = e.stats();
    let r = validate_unchanged(&e, &xfs, &request(&bricks));
    let after = e.stats();
    assert_eq!(r.bricks.len(), 500);
    assert_eq!(r.problems.len(), 50, "exactly the bricks under d3");
    assert!(r.problems.iter().all(|p| p.kind == ProblemKind::InUse));
    let ops = after.ops - before.ops;
    let submissions = after.submissions - before.submissions;
    assert!(
        submissions * 10 < ops,
        "batching: {ops} ops took {submissions} submissions"
    );
}

fn brickd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_brickd"))
        .args(args)
        .output()
        .expect("run brickd")
}

#[test]
fn inspect_command_reports_what_stage_would_refuse() {
    if must_skip("inspect_command_reports_what_stage_would_refuse") {
        return;
    }
    let xfs = Xfs::new();
    std::fs::create_dir_all(xfs.path("claimed/sub")).unwrap();
    let id = Uuid::from_bytes([
        0x38, 0x4e, 0x0f, 0x68, 0xc9, 0xc6, 0x48, 0x37, 0x8f, 0, 0xd0, 0xa8, 0xe9, 0x57, 0xfa, 0x60,
    ]);
    set_xattr(&xfs.path("claimed"), VOLUME_ID_XATTR, id.as_bytes());
    let before = snapshot(&xfs.mount);
    let sub = xfs.path("claimed/sub");
    let out = brickd(&[
        "brick",
        "inspect",
        "--json",
        "--workdir",
        "/nonexistent",
        sub.to_str().unwrap(),
        &xfs.root(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "problems exit 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(before, snapshot(&xfs.mount));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let b0 = &v["bricks"][0];
    assert_eq!(b0["mount_dir"], "/claimed/sub");
    assert_eq!(b0["mount"]["fs_type"], "xfs");
    assert_eq!(b0["walk"][1]["path"], xfs.path("claimed").to_str().unwrap());
    assert_eq!(
        b0["walk"][1]["trusted.glusterfs.volume-id"]["hex"],
        "0x384e0f68c9c648378f00d0a8e957fa60"
    );
    assert_eq!(
        b0["walk"][1]["trusted.glusterfs.volume-id"]["text"],
        id.to_string()
    );
    assert_eq!(
        b0["problems"][0]["message"],
        format!(
            "parent directory {} is already part of a volume",
            xfs.path("claimed").display()
        )
    );
    assert!(v["bricks"][1]["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("is a mount point"));
    // Text form, a clean brick: exit 0.
    let out = brickd(&[
        "brick",
        "inspect",
        "--workdir",
        "/nonexistent",
        xfs.path("fresh").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("validation:  ok"), "{text}");
    assert!(text.contains("mount_dir: /fresh"), "{text}");
}

#[test]
fn release_command_is_a_dry_run_without_yes_and_refuses_a_wrong_id() {
    if must_skip("release_command_is_a_dry_run_without_yes_and_refuses_a_wrong_id") {
        return;
    }
    let xfs = Xfs::new();
    let b = xfs.path("b");
    std::fs::create_dir(&b).unwrap();
    let id = Uuid::from_bytes([0x11; 16]);
    set_xattr(&b, VOLUME_ID_XATTR, id.as_bytes());
    let workdir = tempfile::tempdir().unwrap();
    let wd = workdir.path().to_str().unwrap();
    let before = snapshot(&xfs.mount);
    let out = brickd(&[
        "brick",
        "release",
        b.to_str().unwrap(),
        "--volume-id",
        &id.to_string(),
        "--workdir",
        wd,
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("dry run"));
    assert_eq!(
        before,
        snapshot(&xfs.mount),
        "the dry run changed something"
    );
    let wrong = Uuid::from_bytes([0x22; 16]).to_string();
    let out = brickd(&[
        "brick",
        "release",
        b.to_str().unwrap(),
        "--volume-id",
        &wrong,
        "--yes",
        "--workdir",
        wd,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("carries volume-id {id}, not {wrong}")),
        "{err}"
    );
    assert_eq!(before, snapshot(&xfs.mount));
    let out = brickd(&[
        "brick",
        "release",
        b.to_str().unwrap(),
        "--volume-id",
        &id.to_string(),
        "--yes",
        "--workdir",
        wd,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(get_xattr(&b, VOLUME_ID_XATTR).is_none());
    let audit = std::fs::read_to_string(workdir.path().join("brick-release.log")).unwrap();
    assert_eq!(audit.lines().count(), 2, "{audit}");
    assert!(
        audit.contains("refused") && audit.contains("released"),
        "{audit}"
    );
}

fn lvm_client() -> brickd::lvm::LvmClient {
    brickd::lvm::LvmClient::start(brickd::lvm::LvmConfig {
        helper_exe: env!("CARGO_BIN_EXE_brickd").into(),
        ..Default::default()
    })
    .expect("lvm helper")
}

fn validate_with_lvm(engine: &Engine, lvm: &brickd::lvm::LvmClient, req: &Request) -> Report {
    let hosts = hosts();
    block_on(validate::validate(
        Env {
            engine,
            lvm: Some(lvm),
            hosts: &hosts,
            peers: &[],
            connected: &[],
            workdir: Path::new("/nonexistent"),
            existing: &std::collections::BTreeSet::new(),
        },
        req,
    ))
}

#[test]
fn volume_group_bricks_are_checked_tagged_untagged_and_released() {
    if must_skip("volume_group_bricks_are_checked_tagged_untagged_and_released") {
        return;
    }
    if let Some(why) = lvm_fixture::unavailable() {
        eprintln!("SKIP volume_group_bricks_are_checked_tagged_untagged_and_released: {why}");
        return;
    }
    let xfs = Xfs::new();
    let vg = lvm_fixture::ScratchVg::create();
    let e = engine();
    let lvm = lvm_client();
    let id = Uuid::from_bytes([0x61; 16]);
    let tag = brickd::lvm::volume_tag(&id.to_string());
    let with_vg = |name: &str, g: &str| format!("{HOST}:{}?{g}", xfs.path(name).display());

    // A missing group, and a good one, in one report.
    let req = Request {
        volume_id: id,
        ..request(&[with_vg("b1", "brickd_no_such_vg"), with_vg("b2", &vg.name)])
    };
    let r = validate_with_lvm(&e, &lvm, &req);
    assert_eq!(
        r.message(),
        format!(
            "Volume group brickd_no_such_vg of brick {HOST}:{} does not exist",
            xfs.path("b1").display()
        )
    );
    assert!(r.bricks[1].vg.as_ref().unwrap().info.is_some());

    // Claim ten bricks on the group: one tag, one LVM command; rollback removes it.
    let targets: Vec<ClaimTarget> = (0..10)
        .map(|i| ClaimTarget {
            host: HOST.into(),
            path: xfs.path(&format!("c{i}")).to_string_lossy().into_owned(),
            vg: Some(vg.name.clone()),
        })
        .collect();
    let before = snapshot(&xfs.mount);
    let record = block_on(claim::claim(&e, Some(&lvm), id, &targets, false)).expect("claim");
    assert_eq!(vg.tags(), std::slice::from_ref(&tag));
    let tag_steps = record
        .steps
        .iter()
        .filter(|s| matches!(s, ClaimStep::AddedVgTag { .. }))
        .count();
    assert_eq!(tag_steps, 1, "one tag per group, not per brick");
    block_on(claim::rollback(&e, Some(&lvm), &record)).unwrap();
    assert!(
        vg.tags().is_empty(),
        "rollback left the tag: {:?}",
        vg.tags()
    );
    assert_eq!(before, snapshot(&xfs.mount));

    // Tagged by another volume: refused, for this volume's create.
    let other = Uuid::from_bytes([0x62; 16]);
    vg.add_tags_with_cli(&[&brickd::lvm::volume_tag(&other.to_string())]);
    let r = validate_with_lvm(
        &e,
        &lvm,
        &Request {
            volume_id: id,
            ..request(&[with_vg("b3", &vg.name)])
        },
    );
    assert_eq!(r.problems.len(), 1);
    assert!(
        r.message().starts_with(&format!(
            "Volume group {} of brick {HOST}:{} is already part of volume {other}.",
            vg.name,
            xfs.path("b3").display()
        )),
        "{}",
        r.message()
    );
    // Release for the wrong volume refuses and changes nothing; for the right one it untags.
    let path = xfs.path("b3").to_string_lossy().into_owned();
    std::fs::create_dir(&path).unwrap();
    set_xattr(Path::new(&path), VOLUME_ID_XATTR, other.as_bytes());
    let err = block_on(claim::release(
        &e,
        Some(&lvm),
        &ReleaseRequest {
            path: path.clone(),
            volume_id: id,
            remove_gfid: false,
            vg: Some(vg.name.clone()),
            sync: true,
        },
    ))
    .unwrap_err();
    assert!(
        matches!(err, ReleaseError::WrongVolumeGroup { .. }),
        "{err}"
    );
    assert_eq!(
        get_xattr(Path::new(&path), VOLUME_ID_XATTR).unwrap(),
        other.as_bytes()
    );
    let report = block_on(claim::release(
        &e,
        Some(&lvm),
        &ReleaseRequest {
            path: path.clone(),
            volume_id: other,
            remove_gfid: false,
            vg: Some(vg.name.clone()),
            sync: true,
        },
    ))
    .unwrap();
    assert!(
        report.removed_volume_id && report.removed_vg_tag,
        "{report:?}"
    );
    assert!(vg.tags().is_empty());
    assert!(validate_with_lvm(
        &e,
        &lvm,
        &Request {
            volume_id: id,
            ..request(&[with_vg("b3", &vg.name)])
        }
    )
    .is_ok());
}

#[test]
fn one_claim_core_creates_and_redoes_by_its_id_rule() {
    if must_skip("one_claim_core_creates_and_redoes_by_its_id_rule") {
        return;
    }
    use brickd::brick::claim::{BrickFailure, IdRule};
    let xfs = Xfs::new();
    let ours = Uuid::new_v4();
    let other = Uuid::new_v4();
    let third = Uuid::new_v4();
    let path = xfs.path("b");
    let target = ClaimTarget {
        host: "h".into(),
        path: path.to_string_lossy().into_owned(),
        vg: None,
    };
    let id = || get_xattr(&path, VOLUME_ID_XATTR);
    // A redo on a brick the crash left bare: everything made, the id set.
    let (steps, result) = claim::claim_brick(ours, &target, &IdRule::Redo { previous: None });
    assert_eq!(result, Ok(()));
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert_eq!(id(), Some(ours.as_bytes().to_vec()));
    // Again: our id is there, nothing to do.
    let (steps, result) = claim::claim_brick(ours, &target, &IdRule::Redo { previous: None });
    assert_eq!((steps, result), (Vec::new(), Ok(())));
    // The id the journaled create replaced is replaced again; any other means the brick went
    // elsewhere since.
    set_xattr(&path, VOLUME_ID_XATTR, other.as_bytes());
    let replaced = IdRule::Redo {
        previous: Some(other.as_bytes().to_vec()),
    };
    let (steps, result) = claim::claim_brick(ours, &target, &replaced);
    assert_eq!(result, Ok(()));
    assert!(matches!(
        steps.as_slice(),
        [ClaimStep::SetVolumeId { previous: Some(p), .. }] if p == other.as_bytes()
    ));
    assert_eq!(id(), Some(ours.as_bytes().to_vec()));
    set_xattr(&path, VOLUME_ID_XATTR, third.as_bytes());
    let (steps, result) = claim::claim_brick(ours, &target, &replaced);
    assert!(steps.is_empty());
    assert!(matches!(result, Err(BrickFailure::Taken(_))), "{result:?}");
    assert_eq!(id(), Some(third.as_bytes().to_vec()), "left alone");
    // A create without force never replaces an id; with force it does.
    let (_, result) = claim::claim_brick(ours, &target, &IdRule::Create { force: false });
    assert!(
        matches!(&result, Err(BrickFailure::Failed(m)) if m.contains("File exists")),
        "{result:?}"
    );
    let (_, result) = claim::claim_brick(ours, &target, &IdRule::Create { force: true });
    assert_eq!(result, Ok(()));
    assert_eq!(id(), Some(ours.as_bytes().to_vec()));
}
