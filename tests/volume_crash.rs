//! Crash tests: brickd killed (SIGKILL, from a failpoint) at every step of a volume create and
//! delete, then restarted on the same workdir. After the restart the store and the bricks hold
//! the old state or the new state, never a mix. Also: a create that is in progress holds the
//! volume's lock, and a second create of the name gets glusterd's lock message.
//!
//! Needs the `failpoints` cargo feature (scripts/test.sh runs this file with it; built without
//! it the file has no tests, so nothing here counts as passed) and root for
//! the XFS loop devices.

mod common;

#[cfg(feature = "failpoints")]
mod crash {
    use super::common::fs::{get_xattr, must_skip, snapshot, Xfs};
    use super::common::{gluster, Brickd, HANG_DEADLINE};
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    const VOLUME_ID_XATTR: &str = "trusted.glusterfs.volume-id";

    fn host() -> String {
        let out = std::process::Command::new("hostname").output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn start(workdir: &Path, failpoint: Option<&str>) -> Brickd {
        start_marked(workdir, failpoint, None)
    }

    /// Like `start`, with the failpoints' markers in `markers` (`pause` and `mark` need them).
    fn start_marked(workdir: &Path, failpoint: Option<&str>, markers: Option<&Markers>) -> Brickd {
        let failpoint = failpoint.map(str::to_owned);
        let markers = markers.map(|m| m.dir.path().to_path_buf());
        Brickd::start_on(Some(workdir.to_path_buf()), &[], move |cmd| {
            if let Some(f) = failpoint {
                cmd.env("BRICKD_FAILPOINT", f);
            }
            if let Some(dir) = markers {
                cmd.env("BRICKD_FAILPOINT_DIR", dir);
            }
        })
    }

    /// The directory where brickd marks the failpoints it passes and where a test releases a
    /// paused one (`BRICKD_FAILPOINT_DIR`, src/failpoint.rs).
    struct Markers {
        dir: tempfile::TempDir,
    }

    impl Markers {
        fn new() -> Markers {
            Markers {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn is_reached(&self, failpoint: &str) -> bool {
            self.dir
                .path()
                .join(format!("{failpoint}.reached"))
                .exists()
        }

        /// Waits until brickd has passed (or is paused at) `failpoint`.
        fn reached(&self, failpoint: &str) {
            wait_until(
                || self.is_reached(failpoint),
                &format!("{failpoint} reached"),
            );
        }

        /// Lets a `pause`d `failpoint` go on.
        fn release(&self, failpoint: &str) {
            std::fs::write(self.dir.path().join(format!("{failpoint}.go")), b"").unwrap();
        }
    }

    /// Polls `done` until it holds; fails after [`HANG_DEADLINE`], which only catches a hang.
    fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
        let deadline = Instant::now() + HANG_DEADLINE;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "not {what} within {HANG_DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn volumes(b: &Brickd) -> Vec<String> {
        let (_, out, _, _) = gluster(&b.socket, &["volume", "list"]);
        out.lines()
            .filter(|l| *l != "No volumes present in cluster")
            .map(str::to_owned)
            .collect()
    }

    /// A file system for one brick, a directory to keep a workdir in, the workdir's path, the
    /// brick's, and the brick as the CLI names it.
    fn one_brick() -> (Xfs, tempfile::TempDir, PathBuf, PathBuf, String) {
        let disk = Xfs::new();
        let keep = tempfile::tempdir().unwrap();
        let workdir = keep.path().join("workdir");
        let brick = disk.path("b");
        let spec = format!("{}:{}", host(), brick.display());
        (disk, keep, workdir, brick, spec)
    }

    /// Recovery redid the journal and removed it (no record is left to redo).
    fn no_journal(workdir: &Path) -> bool {
        brickd::store::journal::read_all(workdir)
            .unwrap()
            .0
            .is_empty()
    }

    /// Kills brickd at `failpoint` during `args`, restarts it, and returns the new brickd.
    fn crash_during(workdir: &Path, failpoint: &str, args: &[&str]) -> Brickd {
        killed_during(start(workdir, Some(failpoint)), workdir, failpoint, args)
    }

    /// Has `b` (armed to be killed at `failpoint`) run `args`, checks it was killed, and
    /// restarts brickd on `workdir`.
    fn killed_during(mut b: Brickd, workdir: &Path, failpoint: &str, args: &[&str]) -> Brickd {
        let (code, _, _, _) = gluster(&b.socket, args);
        // The store files are written after the reply: a kill there comes after the CLI's
        // answer.
        if !matches!(
            failpoint,
            "create.before-store" | "create.store-writing" | "create.after-store"
        ) {
            assert_ne!(code, 0, "{failpoint}: the CLI saw the daemon die");
        }
        let status = b
            .wait_exit(HANG_DEADLINE)
            .unwrap_or_else(|| panic!("{failpoint}: brickd was not killed"));
        assert!(!status.success(), "{failpoint}: {status:?}");
        drop(b);
        start(workdir, None)
    }

    #[test]
    fn a_create_killed_at_any_step_is_whole_or_absent_after_restart() {
        if must_skip("a_create_killed_at_any_step_is_whole_or_absent_after_restart") {
            return;
        }
        let disk = Xfs::new();
        let keep = tempfile::tempdir().unwrap();
        let h = host();
        // Before the journal record nothing has changed; after it, the create is redone.
        for (failpoint, created) in [
            ("create.before-journal", false),
            ("create.after-journal", true),
            ("create.after-claim", true),
            ("create.after-publish", true),
            ("create.before-store", true),
            ("create.store-writing", true),
            ("create.after-store", true),
        ] {
            let workdir: PathBuf = keep.path().join(failpoint);
            let before = snapshot(&disk.mount);
            let brick = disk.path(failpoint);
            let spec = format!("{h}:{}", brick.display());
            let b = crash_during(&workdir, failpoint, &["volume", "create", "v", &spec]);
            assert!(
                no_journal(&workdir),
                "{failpoint}: journal left after recovery"
            );
            if created {
                assert_eq!(volumes(&b), ["v"], "{failpoint}");
                assert!(workdir.join("vols/v/cksum").exists());
                let volfiles = std::fs::read_dir(workdir.join("vols/v"))
                    .unwrap()
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".vol"))
                    .count();
                // A brick's, two clients', the gfproxy daemon's and its client's.
                assert_eq!(volfiles, 5, "{failpoint}: volfiles");
                let info = std::fs::read_to_string(workdir.join("vols/v/info")).unwrap();
                let id = info
                    .lines()
                    .find_map(|l| l.strip_prefix("volume-id="))
                    .unwrap();
                let on_disk = get_xattr(&brick, VOLUME_ID_XATTR).expect("claimed");
                assert_eq!(
                    brickd::model::Uuid::from_bytes(on_disk.try_into().unwrap()).to_string(),
                    id,
                    "{failpoint}"
                );
                // Clean up for the next case: the volume and its claim go.
                let (code, _, _, _) = gluster(&b.socket, &["volume", "delete", "v"]);
                assert_eq!(code, 0);
                std::fs::remove_dir_all(&brick).unwrap();
            } else {
                assert!(volumes(&b).is_empty(), "{failpoint}");
                assert!(!workdir.join("vols/v").exists(), "{failpoint}");
            }
            assert_eq!(
                snapshot(&disk.mount),
                before,
                "{failpoint}: the brick file system is not as before"
            );
        }
    }

    #[test]
    fn a_forced_create_killed_mid_commit_is_redone_or_keeps_the_replaced_id() {
        if must_skip("a_forced_create_killed_mid_commit_is_redone_or_keeps_the_replaced_id") {
            return;
        }
        let disk = Xfs::new();
        let keep = tempfile::tempdir().unwrap();
        let h = host();
        let stale = [7u8; 16];
        for failpoint in [
            "create.before-journal",
            "create.after-claim",
            "create.after-store",
        ] {
            let workdir = keep.path().join(failpoint);
            let brick = disk.path(failpoint);
            std::fs::create_dir(&brick).unwrap();
            super::common::fs::set_xattr(&brick, VOLUME_ID_XATTR, &stale);
            let before = snapshot(&disk.mount);
            let spec = format!("{h}:{}", brick.display());
            let b = crash_during(
                &workdir,
                failpoint,
                &["volume", "create", "v", &spec, "force"],
            );
            assert!(
                no_journal(&workdir),
                "{failpoint}: journal left after recovery"
            );
            if failpoint != "create.before-journal" {
                // The new state: the volume, and its id on the brick.
                assert_eq!(volumes(&b), ["v"], "{failpoint}");
                assert_ne!(get_xattr(&brick, VOLUME_ID_XATTR), Some(stale.to_vec()));
                let (code, _, _, _) = gluster(&b.socket, &["volume", "delete", "v"]);
                assert_eq!(code, 0);
            } else {
                // The old state, the stale id included.
                assert!(volumes(&b).is_empty(), "{failpoint}");
                assert_eq!(
                    get_xattr(&brick, VOLUME_ID_XATTR),
                    Some(stale.to_vec()),
                    "{failpoint}"
                );
                assert_eq!(snapshot(&disk.mount), before, "{failpoint}");
            }
        }
    }

    #[test]
    fn a_failed_forced_create_puts_the_replaced_id_back_and_a_crash_keeps_it_undone() {
        if must_skip("a_failed_forced_create_puts_the_replaced_id_back_and_a_crash_keeps_it_undone")
        {
            return;
        }
        let disk = Xfs::new();
        let keep = tempfile::tempdir().unwrap();
        let workdir = keep.path().join("workdir");
        let brick = disk.path("b");
        std::fs::create_dir(&brick).unwrap();
        let stale = [7u8; 16];
        super::common::fs::set_xattr(&brick, VOLUME_ID_XATTR, &stale);
        let before = snapshot(&disk.mount);
        // The commit fails after the claim replaced the stale id and the volume was
        // published; the journal is not retired (paused until the kill), so the restart finds
        // the create and its abort record.
        let markers = Markers::new();
        let mut b = start_marked(
            &workdir,
            Some("create.after-publish:error,journal.before-retire:pause"),
            Some(&markers),
        );
        let spec = format!("{}:{}", host(), brick.display());
        let (code, out, err, _) = gluster(&b.socket, &["volume", "create", "v", &spec, "force"]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            format!("{out}{err}").contains("failpoint create.after-publish"),
            "{out}{err}"
        );
        assert!(volumes(&b).is_empty());
        assert_eq!(get_xattr(&brick, VOLUME_ID_XATTR), Some(stale.to_vec()));
        assert_eq!(snapshot(&disk.mount), before, "undone at once");
        markers.reached("journal.before-retire");
        let records = brickd::store::journal::read_all(&workdir).unwrap().0;
        let ops: Vec<&str> = records.iter().map(|r| r.op.as_str()).collect();
        assert_eq!(ops, ["create", "abort"], "the records wait in the journal");
        b.signal(libc::SIGKILL);
        b.wait_exit(HANG_DEADLINE).expect("killed");
        drop(b);
        let b = start(&workdir, None);
        assert!(no_journal(&workdir), "journal left after recovery");
        assert!(volumes(&b).is_empty(), "the failed create stays undone");
        assert!(!workdir.join("vols/v").exists());
        assert_eq!(snapshot(&disk.mount), before, "after the restart");
    }

    #[test]
    fn a_delete_killed_at_any_step_is_whole_or_absent_after_restart() {
        if must_skip("a_delete_killed_at_any_step_is_whole_or_absent_after_restart") {
            return;
        }
        let disk = Xfs::new();
        let keep = tempfile::tempdir().unwrap();
        let h = host();
        for (failpoint, deleted) in [
            ("delete.before-journal", false),
            ("delete.after-journal", true),
            ("delete.after-move", true),
            ("delete.after-store", true),
        ] {
            let workdir = keep.path().join(failpoint);
            let brick = disk.path(failpoint);
            let spec = format!("{h}:{}", brick.display());
            {
                let b = start(&workdir, None);
                let (code, out, err, _) = gluster(&b.socket, &["volume", "create", "v", &spec]);
                assert_eq!(code, 0, "{out}{err}");
            }
            let b = crash_during(&workdir, failpoint, &["volume", "delete", "v"]);
            assert!(
                no_journal(&workdir),
                "{failpoint}: journal left after recovery"
            );
            if deleted {
                assert!(volumes(&b).is_empty(), "{failpoint}");
                assert!(!workdir.join("vols/v").exists());
                assert!(!workdir.join("brickd/trash").exists());
                assert_eq!(get_xattr(&brick, VOLUME_ID_XATTR), None, "{failpoint}");
            } else {
                assert_eq!(volumes(&b), ["v"], "{failpoint}");
                assert!(get_xattr(&brick, VOLUME_ID_XATTR).is_some(), "{failpoint}");
            }
        }
    }

    #[test]
    fn a_delete_right_after_its_create_killed_mid_way_is_whole_after_restart() {
        if must_skip("a_delete_right_after_its_create_killed_mid_way_is_whole_after_restart") {
            return;
        }
        // The create's store files are written but still noted as pending while the
        // failpoint after them pauses (until the kill), so the delete finds them written and
        // moves them.
        let disk = Xfs::new();
        let keep = tempfile::tempdir().unwrap();
        let h = host();
        for failpoint in ["delete.after-journal", "delete.after-move"] {
            let workdir = keep.path().join(failpoint);
            let brick = disk.path(failpoint);
            let spec = format!("{h}:{}", brick.display());
            let armed = format!("create.after-store:pause,{failpoint}");
            let markers = Markers::new();
            let b = start_marked(&workdir, Some(&armed), Some(&markers));
            let (code, out, err, _) = gluster(&b.socket, &["volume", "create", "v", &spec]);
            assert_eq!(code, 0, "{out}{err}");
            markers.reached("create.after-store");
            assert!(
                workdir.join("vols/v/info").exists(),
                "{failpoint}: the store files are written"
            );
            let b = killed_during(b, &workdir, failpoint, &["volume", "delete", "v"]);
            assert!(
                no_journal(&workdir),
                "{failpoint}: journal left after recovery"
            );
            assert!(volumes(&b).is_empty(), "{failpoint}");
            assert!(!workdir.join("vols/v").exists(), "{failpoint}");
            assert!(!workdir.join("brickd/trash").exists(), "{failpoint}");
            assert_eq!(get_xattr(&brick, VOLUME_ID_XATTR), None, "{failpoint}");
        }
    }

    #[test]
    fn a_delete_while_its_creates_store_files_are_pending_leaves_none_behind() {
        if must_skip("a_delete_while_its_creates_store_files_are_pending_leaves_none_behind") {
            return;
        }
        // The create's store files are held (a pause on the store lane) while still queued,
        // then while being written; the delete sent meanwhile cancels them in the first case
        // and waits for them in the second. Either way none may land after the delete's move
        // (the volume would come back at the restart).
        for failpoint in ["create.before-store", "create.store-writing"] {
            let (_disk, _keep, workdir, brick, spec) = one_brick();
            let armed = format!("{failpoint}:pause,delete.after-settle:mark");
            let markers = Markers::new();
            let mut b = start_marked(&workdir, Some(&armed), Some(&markers));
            let (code, out, err, _) = gluster(&b.socket, &["volume", "create", "v", &spec]);
            assert_eq!(code, 0, "{failpoint}: {out}{err}");
            // The store lane is at the pause: the files are held, queued or being written.
            markers.reached(failpoint);
            assert!(
                !workdir.join("vols/v/info").exists(),
                "{failpoint}: the store files were written before the delete was sent"
            );
            let socket = b.socket.clone();
            let delete = std::thread::spawn(move || gluster(&socket, &["volume", "delete", "v"]));
            // The delete has settled the create's files while they are held: cancelled
            // (queued) or found being written (its move then waits behind them).
            markers.reached("delete.after-settle");
            if failpoint == "create.before-store" {
                // Cancelled: the delete needs nothing of the paused store lane.
                let (code, out, err, _) = delete.join().unwrap();
                assert_eq!(code, 0, "{failpoint}: {out}{err}");
                assert!(
                    !workdir.join("vols/v").exists(),
                    "{failpoint}: the delete moved the volume away"
                );
                markers.release(failpoint);
            } else {
                markers.release(failpoint);
                let (code, out, err, _) = delete.join().unwrap();
                assert_eq!(code, 0, "{failpoint}: {out}{err}");
            }
            // Every commit retired: the create's files were settled (its record goes only
            // then).
            wait_until(
                || no_journal(&workdir),
                &format!("{failpoint}: the journal retired"),
            );
            assert!(volumes(&b).is_empty(), "{failpoint}");
            assert!(
                !workdir.join("vols/v").exists(),
                "{failpoint}: the create's files landed after the delete"
            );
            assert_eq!(get_xattr(&brick, VOLUME_ID_XATTR), None, "{failpoint}");
            b.signal(libc::SIGKILL);
            b.wait_exit(HANG_DEADLINE).expect("killed");
            drop(b);
            let b = start(&workdir, None);
            assert!(
                volumes(&b).is_empty(),
                "{failpoint}: the volume came back at the restart"
            );
            assert!(!workdir.join("vols/v").exists(), "{failpoint}");
            assert!(!workdir.join("brickd/trash").exists(), "{failpoint}");
            // The same brick takes a new volume.
            let (code, out, err, _) = gluster(&b.socket, &["volume", "create", "v", &spec]);
            assert_eq!(code, 0, "{failpoint}: {out}{err}");
        }
    }

    #[test]
    fn a_failed_delete_stays_failed_after_a_crash() {
        if must_skip("a_failed_delete_stays_failed_after_a_crash") {
            return;
        }
        let (_disk, _keep, workdir, brick, spec) = one_brick();
        {
            let b = start(&workdir, None);
            let (code, out, err, _) = gluster(&b.socket, &["volume", "create", "v", &spec]);
            assert_eq!(code, 0, "{out}{err}");
            super::common::wait_for_store(&workdir, "v");
        }
        // The move to the trash fails after the delete's journal record; the journal is not
        // retired, so the restart finds the delete and its abort record.
        let markers = Markers::new();
        let mut b = start_marked(
            &workdir,
            Some("delete.after-journal:error,journal.before-retire:pause"),
            Some(&markers),
        );
        let (code, out, err, _) = gluster(&b.socket, &["volume", "delete", "v"]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            format!("{out}{err}").contains("Failed to remove volume v"),
            "{out}{err}"
        );
        markers.reached("journal.before-retire");
        let (records, _) = brickd::store::journal::read_all(&workdir).unwrap();
        let ops: Vec<&str> = records.iter().map(|r| r.op.as_str()).collect();
        assert_eq!(ops, ["delete", "abort-delete"]);
        b.signal(libc::SIGKILL);
        b.wait_exit(HANG_DEADLINE).expect("killed");
        drop(b);
        let b = start(&workdir, None);
        assert!(no_journal(&workdir), "journal left after recovery");
        assert_eq!(volumes(&b), ["v"], "the failed delete stays failed");
        assert!(workdir.join("vols/v/info").exists());
        assert!(get_xattr(&brick, VOLUME_ID_XATTR).is_some());
    }

    /// The first statedump written under `run_dir`, waited for.
    fn wait_for_dump(run_dir: &Path) -> String {
        let deadline = Instant::now() + HANG_DEADLINE;
        loop {
            if let Ok(entries) = std::fs::read_dir(run_dir) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.starts_with("brickd.") && name.contains(".dump.") {
                        return std::fs::read_to_string(e.path()).unwrap();
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no statedump in {} within {HANG_DEADLINE:?}",
                run_dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_second_create_of_a_name_in_progress_gets_the_lock_message() {
        if must_skip("a_second_create_of_a_name_in_progress_gets_the_lock_message") {
            return;
        }
        let disk = Xfs::new();
        let keep = tempfile::tempdir().unwrap();
        let workdir = keep.path().join("workdir");
        // The first create pauses inside its commit, holding v_vol, until released.
        let markers = Markers::new();
        let b = start_marked(&workdir, Some("create.after-claim:pause"), Some(&markers));
        let h = host();
        let first = format!("{h}:{}", disk.path("one").display());
        let second = format!("{h}:{}", disk.path("two").display());
        let socket = b.socket.clone();
        let slow = std::thread::spawn(move || gluster(&socket, &["volume", "create", "v", &first]));
        markers.reached("create.after-claim");
        let (code, out, err, _) = gluster(&b.socket, &["volume", "create", "v", &second]);
        assert_eq!(code, 1);
        assert_eq!(
            format!("{out}{err}").trim(),
            "volume create: v: failed: Another transaction is in progress for v. Please try \
             again after some time."
        );
        // Answered while the lock is held: the first create cannot end before its release.
        assert!(!slow.is_finished(), "the first create ended while paused");
        // The statedump names the lease while it is held.
        b.signal(libc::SIGUSR1);
        let dump = wait_for_dump(&workdir.join("run"));
        assert!(dump.contains("count=1\n"), "{dump}");
        assert!(dump.contains(".name=v_vol\n"), "{dump}");
        assert!(dump.contains(".holder=local\n"), "{dump}");
        assert!(dump.contains(".expires_in_s=17"), "a 180 s lease: {dump}");
        markers.release("create.after-claim");
        let (code, out, _, _) = slow.join().unwrap();
        assert_eq!(code, 0, "{out}");
        assert_eq!(volumes(&b), ["v"]);
        // The lock was released with the transaction: the name is free for the next op.
        let (code, _, _, _) = gluster(&b.socket, &["volume", "delete", "v"]);
        assert_eq!(code, 0);
        assert!(get_xattr(&disk.path("two"), VOLUME_ID_XATTR).is_none());
    }
}
