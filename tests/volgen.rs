//! Volfiles against the ones a real glusterd 10.3 wrote (`tests/fixtures/workdirs/glusterd-10.3`,
//! see the README there): for every volume brickd supports, each brick volfile, both client
//! volfiles and the gfproxy, rebalance and self-heal daemon volfiles must equal glusterd's byte
//! for byte, and brickd must name exactly the volfiles glusterd wrote.
//!
//! The fixture's glusterd ran with the workdir `/srv/a/lib` on host `node-a`, which owns every
//! brick.

use brickd::model::Volume;
use brickd::store::{Store, Workdir};
use brickd::volgen::{self, OptionProblem, VolgenError};
use std::fs;
use std::path::{Path, PathBuf};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/workdirs/glusterd-10.3"
);

/// The workdir of the glusterd that wrote the fixture.
const GLUSTERD_WORKDIR: &str = "/srv/a/lib";

/// Every volume of the fixture (`ta` is the thin-arbiter one).
const SUPPORTED: [&str; 11] = [
    "arb", "disp", "dist1", "dist3", "distdisp", "distrep", "opts", "rep3", "started", "stopped",
    "ta",
];

fn fixture() -> Workdir {
    Store::load(FIXTURE).expect("the glusterd 10.3 fixture loads")
}

fn volume<'a>(workdir: &'a Workdir, name: &str) -> &'a Volume {
    workdir
        .volume(name)
        .unwrap_or_else(|| panic!("the fixture has volume {name}"))
}

fn volume_dir(name: &str) -> PathBuf {
    Path::new(FIXTURE).join("vols").join(name)
}

/// Fails with both texts and the first differing line when `ours` is not `expected` exactly.
fn assert_same_file(file: &Path, ours: &str) {
    let expected =
        fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    if ours == expected {
        return;
    }
    let first_difference = ours
        .lines()
        .zip(expected.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .map(|(n, (a, b))| format!("line {}: brickd {a:?}, glusterd {b:?}", n + 1))
        .unwrap_or_else(|| {
            format!(
                "one is a prefix of the other ({} vs {} bytes)",
                ours.len(),
                expected.len()
            )
        });
    panic!(
        "{} differs from glusterd's: {first_difference}\n\
         --- glusterd\n{expected}\n--- brickd\n{ours}\n--- end",
        file.display()
    );
}

/// Every volfile name in a volume directory, sorted.
fn volfiles_in_fixture(name: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(volume_dir(name))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|file| file.ends_with(".vol"))
        .collect();
    names.sort();
    names
}

/// Whether a volfile name is one of the daemons' (what `extra_volfiles` covers).
fn is_extra_volfile(file: &str) -> bool {
    file.ends_with(".gfproxyd.vol")
        || file.ends_with("-gfproxy-fuse.vol")
        || file.ends_with("-rebalance.vol")
        || file.ends_with("-shd.vol")
}

/// The brick and client volfile names in a volume directory.
fn brick_and_client_volfiles_in_fixture(name: &str) -> Vec<String> {
    let mut names = volfiles_in_fixture(name);
    names.retain(|file| !is_extra_volfile(file));
    names
}

/// The names of the brick and client volfiles brickd renders for `volume`.
fn brick_and_client_volfile_names(volume: &Volume) -> Vec<String> {
    let mut names: Vec<String> = (0..volume.bricks.len())
        .map(|index| volgen::brick_volfile_name(volume, index).unwrap())
        .collect();
    names.push(volgen::client_volfile_name(volume, false));
    names.push(volgen::client_volfile_name(volume, true));
    names
}

/// The daemons' volfile names in a volume directory.
fn extra_volfiles_in_fixture(name: &str) -> Vec<String> {
    let mut names = volfiles_in_fixture(name);
    names.retain(|file| is_extra_volfile(file));
    names
}

/// The supported fixture volumes that have `file_name(volume)` in their directory.
fn volumes_with(workdir: &Workdir, file_name: fn(&Volume) -> String) -> Vec<&'static str> {
    SUPPORTED
        .into_iter()
        .filter(|name| {
            volume_dir(name)
                .join(file_name(volume(workdir, name)))
                .exists()
        })
        .collect()
}

#[test]
fn brick_volfiles_match_glusterd_byte_for_byte() {
    let workdir = fixture();
    let mut compared = 0;
    for name in SUPPORTED {
        let volume = volume(&workdir, name);
        for index in 0..volume.bricks.len() {
            let file_name = volgen::brick_volfile_name(volume, index).unwrap();
            let text = volgen::brick_volfile(volume, index, Path::new(GLUSTERD_WORKDIR)).unwrap();
            assert_same_file(&volume_dir(name).join(&file_name), &text);
            compared += 1;
        }
    }
    // 1 + 3 + 3 + 3 + 3 + 6 + 6 + 2 + 2 + 1 bricks, and 2 for `ta` (none for its thin-arbiter
    // brick, which glusterd does not run).
    assert_eq!(compared, 32);
}

#[test]
fn brick_volfiles_written_by_the_owner_match_too() {
    let workdir = fixture();
    for name in SUPPORTED {
        let volume = volume(&workdir, name);
        for index in 0..volume.bricks.len() {
            let file_name = volgen::brick_volfile_name(volume, index).unwrap();
            let text = volgen::brick_volfile_for_node(
                volume,
                index,
                Path::new(GLUSTERD_WORKDIR),
                &workdir.node.uuid,
            )
            .unwrap();
            assert_same_file(&volume_dir(name).join(&file_name), &text);
        }
    }
}

#[test]
fn client_volfiles_match_glusterd_byte_for_byte() {
    let workdir = fixture();
    for name in SUPPORTED {
        let volume = volume(&workdir, name);
        for trusted in [false, true] {
            let file_name = volgen::client_volfile_name(volume, trusted);
            let text = volgen::client_volfile(volume, trusted).unwrap();
            assert_same_file(&volume_dir(name).join(&file_name), &text);
        }
    }
}

#[test]
fn every_brick_and_client_volfile_of_the_fixture_is_generated() {
    let workdir = fixture();
    for name in SUPPORTED {
        let mut ours = brick_and_client_volfile_names(volume(&workdir, name));
        ours.sort();
        assert_eq!(
            ours,
            brick_and_client_volfiles_in_fixture(name),
            "volume {name}"
        );
    }
}

/// Checks a kind of daemon volfile against the fixture: `name` names it, `render` renders it
/// (`None`: glusterd writes none), and exactly the volumes `want` have one.
fn assert_daemon_volfiles_match(
    name: fn(&Volume) -> String,
    render: impl Fn(&Volume) -> Result<Option<String>, VolgenError>,
    want: &[&str],
) {
    let workdir = fixture();
    let with_file = volumes_with(&workdir, name);
    assert_eq!(with_file, want);
    for volume_name in SUPPORTED {
        let volume = volume(&workdir, volume_name);
        let file_name = name(volume);
        match render(volume).unwrap() {
            Some(text) => {
                assert!(with_file.contains(&volume_name), "{file_name} rendered");
                assert_same_file(&volume_dir(volume_name).join(&file_name), &text);
            }
            None => assert!(!with_file.contains(&volume_name), "no {file_name}"),
        }
    }
}

#[test]
fn gfproxy_volfiles_match_glusterd_byte_for_byte() {
    // glusterd writes both, the daemon's and its clients', for every volume.
    assert_daemon_volfiles_match(
        volgen::gfproxyd_volfile_name,
        |v| volgen::gfproxyd_volfile(v).map(Some),
        &SUPPORTED,
    );
    assert_daemon_volfiles_match(
        volgen::gfproxy_client_volfile_name,
        |v| volgen::gfproxy_client_volfile(v).map(Some),
        &SUPPORTED,
    );
}

#[test]
fn rebalance_volfiles_match_glusterd_byte_for_byte() {
    // The volumes whose DHT has more than one subvolume.
    assert_daemon_volfiles_match(
        volgen::rebalance_volfile_name,
        volgen::rebalance_volfile,
        &["dist3", "distdisp", "distrep", "opts", "started"],
    );
}

#[test]
fn shd_volfiles_match_glusterd_byte_for_byte() {
    // Replicate (arbiter and thin arbiter included) and disperse volumes.
    assert_daemon_volfiles_match(
        volgen::shd_volfile_name,
        volgen::shd_volfile,
        &["arb", "disp", "distdisp", "distrep", "rep3", "ta"],
    );
}

#[test]
fn extra_volfiles_are_exactly_the_fixtures_daemon_volfiles() {
    let workdir = fixture();
    let mut compared = 0;
    for name in SUPPORTED {
        let volume = volume(&workdir, name);
        let files = volgen::extra_volfiles(volume).unwrap();
        let mut ours: Vec<String> = files.iter().map(|(file, _)| file.clone()).collect();
        // In the documented order: gfproxyd, gfproxy client, rebalance, shd.
        assert_eq!(ours[0], volgen::gfproxyd_volfile_name(volume));
        assert_eq!(ours[1], volgen::gfproxy_client_volfile_name(volume));
        ours.sort();
        assert_eq!(ours, extra_volfiles_in_fixture(name), "volume {name}");
        for (file, text) in &files {
            assert_same_file(&volume_dir(name).join(file), text);
            compared += 1;
        }
    }
    // 11 gfproxyd + 11 gfproxy client + 5 rebalance + 6 shd.
    assert_eq!(compared, 33);
}

#[test]
fn every_volfile_of_the_fixture_is_generated() {
    let workdir = fixture();
    for name in SUPPORTED {
        let volume = volume(&workdir, name);
        let mut ours = brick_and_client_volfile_names(volume);
        ours.extend(
            volgen::extra_volfiles(volume)
                .unwrap()
                .into_iter()
                .map(|(file, _)| file),
        );
        ours.sort();
        assert_eq!(ours, volfiles_in_fixture(name), "volume {name}");
    }
}

#[test]
fn the_workdir_and_ids_come_from_the_arguments() {
    let workdir = fixture();
    let volume = volume(&workdir, "dist1");
    let text = volgen::brick_volfile(volume, 0, Path::new("/var/lib/glusterd")).unwrap();
    assert!(text.contains("option timestamp-file /var/lib/glusterd/vols/dist1/marker.tstamp\n"));
    assert!(!text.contains("/srv/a/lib"));
    assert!(text.contains(&format!("option volume-id {}\n", volume.volume_id)));
}

#[test]
fn a_thin_arbiter_on_anything_but_replica_2_is_refused() {
    let workdir = fixture();
    let refused = |volume: &Volume| {
        let all = [
            volgen::client_volfile(volume, false).map(|_| ()),
            volgen::brick_volfile(volume, 0, Path::new(GLUSTERD_WORKDIR)).map(|_| ()),
            volgen::extra_volfiles(volume).map(|_| ()),
            volgen::gfproxyd_volfile(volume).map(|_| ()),
            volgen::rebalance_volfile(volume).map(|_| ()),
            volgen::shd_volfile(volume).map(|_| ()),
        ];
        all.iter()
            .all(|r| matches!(r, Err(VolgenError::UnsupportedVolume { .. })))
    };
    let ta = volume(&workdir, "ta");
    assert!(volgen::check_volume(ta).is_ok());
    // The thin-arbiter brick moved onto a replica 3 volume.
    let mut rep3 = volume(&workdir, "rep3").clone();
    rep3.thin_arbiter_count = 1;
    rep3.thin_arbiter_brick = ta.thin_arbiter_brick.clone();
    assert!(refused(&rep3));
    // A count without its brick, and a brick without its count.
    let mut no_brick = ta.clone();
    no_brick.thin_arbiter_brick = None;
    assert!(refused(&no_brick));
    let mut no_count = ta.clone();
    no_count.thin_arbiter_count = 0;
    assert!(refused(&no_count));
    let mut two = ta.clone();
    two.thin_arbiter_count = 2;
    assert!(refused(&two));
}

#[test]
fn an_option_brickd_does_not_model_is_refused() {
    let workdir = fixture();
    let mut volume = volume(&workdir, "dist1").clone();
    // A key no table knows (a store written by something else).
    volume
        .options
        .push(("cluster.made-up-key".into(), ".*".into()));
    let error = volgen::client_volfile(&volume, false).unwrap_err();
    assert_eq!(
        error,
        VolgenError::Option {
            volume: "dist1".into(),
            key: "cluster.made-up-key".into(),
            value: ".*".into(),
            problem: OptionProblem::Unknown,
        }
    );
}

#[test]
fn a_key_the_option_table_maps_is_rendered_where_glusterd_puts_it() {
    let workdir = fixture();
    let mut volume = volume(&workdir, "dist1").clone();
    volume
        .options
        .push(("cluster.rsync-hash-regex".into(), ".*".into()));
    let client = volgen::client_volfile(&volume, false).unwrap();
    assert!(
        client.contains("    type cluster/distribute\n    option force-migration off\n    option lock-migration off\n    option rsync-hash-regex .*\n"),
        "{client}"
    );
}
