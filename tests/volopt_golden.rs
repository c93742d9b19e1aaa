//! glusterd 10.3's answers to `volume set VOL KEY VALUE` (tests/golden/volopt/keys.jsonl, made
//! by scripts/optable/probe.py against the real glusterd), replayed against brickd's stage of a
//! set (`ops::volume_options::changed_volume`: the key rules, the volfiles built with the value
//! and the graph check), on volumes of the same kinds: a one-brick distribute volume (`d`), a
//! replica 3 (`r3`), a disperse 3 redundancy 1 (`e`). Each record is a fresh volume, as the
//! probe restored the volume after every accepted set.
//!
//! Pure: no daemon, no socket. Prints how many answers match, and fails when fewer match than
//! [`MATCHED_AT_LEAST`] (the figure this change reached; raise it as brickd gets closer).

use brickd::model::{Uuid, Volume};
use brickd::ops::volume_options::{changed_volume, Change};
use brickd::store::{Store, Workdir};
use std::path::Path;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/workdirs/glusterd-10.3"
);
const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/volopt/keys.jsonl"
);

/// The answers brickd must give as glusterd did, at least.
const MATCHED_AT_LEAST: usize = 4468;

fn fixture() -> Workdir {
    Store::load(FIXTURE).expect("the glusterd 10.3 fixture loads")
}

/// The fixture's volume of the kind the probe called `vol_type`, named as the probe's.
fn volume_of(workdir: &Workdir, vol_type: &str) -> Option<Volume> {
    let (fixture_name, name) = match vol_type {
        "dist" => ("dist1", "d"),
        "rep3" => ("rep3", "r3"),
        "disp" => ("disp", "e"),
        _ => return None,
    };
    let mut volume = workdir
        .volumes
        .iter()
        .find(|v| v.name == fixture_name)?
        .clone();
    volume.name = name.to_string();
    // The clients are named after the brick ids the store gives (`rep3-client-0`).
    for brick in &mut volume.bricks {
        if let Some(rest) = brick.brick_id.strip_prefix(fixture_name) {
            brick.brick_id = format!("{name}{rest}");
        }
    }
    Some(volume)
}

/// `option auth.addr.PATH.allow` with the brick's path cut out.
fn brick_path_cut(message: &str) -> String {
    let Some(start) = message.find("auth.addr.") else {
        return message.to_string();
    };
    let rest = &message[start + "auth.addr.".len()..];
    let end = [".allow ", ".reject "]
        .iter()
        .filter_map(|s| rest.find(s))
        .min()
        .unwrap_or(0);
    format!("{}auth.addr.BRICK{}", &message[..start], &rest[end..])
}

#[test]
fn volume_set_answers_as_glusterd_did() {
    // The probe's machine had this directory (`server.statedump-path` must name one).
    std::fs::create_dir_all("/tmp/optable/statedump").unwrap();
    let workdir = fixture();
    let text = std::fs::read_to_string(GOLDEN).expect("the goldens are in the repository");
    let (mut matched, mut compared) = (0, 0);
    let mut differing: Vec<String> = Vec::new();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let argv: Vec<&str> = record["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        if argv.len() != 5 || argv[0] != "volume" || argv[1] != "set" {
            continue;
        }
        let Some(volume) = volume_of(&workdir, record["vol_type"].as_str().unwrap_or("")) else {
            continue;
        };
        let (key, value) = (argv[3], argv[4]);
        let theirs = if record["rc"].as_i64() == Some(0) {
            Ok(())
        } else {
            let said = format!(
                "{}{}",
                record["stdout"].as_str().unwrap_or(""),
                record["stderr"].as_str().unwrap_or("")
            );
            Err(said
                .trim_end()
                .strip_prefix("volume set: failed: ")
                .unwrap_or(&said)
                .to_string())
        };
        let change = Change::Set(vec![(key.to_string(), value.to_string())]);
        let ours = changed_volume(
            &volume,
            &change,
            Path::new("/var/lib/glusterd"),
            Uuid::NIL,
            None,
        )
        .map(|_| ())
        // The probe recorded the CLI's output with its trailing blanks cut.
        .map_err(|e| e.message.trim_end().to_string());
        compared += 1;
        // The probe's bricks were elsewhere: an address list's option name carries the path.
        let (ours, theirs) = (
            ours.map_err(|e| brick_path_cut(&e)),
            theirs.map_err(|e| brick_path_cut(&e)),
        );
        if ours == theirs {
            matched += 1;
        } else {
            differing.push(format!(
                "{} {key} {value:?}: glusterd {theirs:?}, brickd {ours:?}",
                volume.name
            ));
        }
    }
    println!("volume_set_answers_as_glusterd_did: {matched} of {compared} answers as glusterd's");
    // VOLOPT_GOLDEN_ALL=1 lists every difference.
    let shown = if std::env::var_os("VOLOPT_GOLDEN_ALL").is_some() {
        usize::MAX
    } else {
        60
    };
    for d in differing.iter().take(shown) {
        println!("  differs: {d}");
    }
    assert!(compared > 3000, "only {compared} records replayed");
    assert!(
        matched >= MATCHED_AT_LEAST,
        "{matched} of {compared} match, fewer than {MATCHED_AT_LEAST}"
    );
}

/// The op-versions glusterd 10.3 stored for the fixture's volumes (every kind, with and without
/// options) are the ones brickd works out from their options.
#[test]
fn op_versions_are_worked_out_as_glusterd_stored_them() {
    let workdir = fixture();
    let mut compared = 0;
    for volume in &workdir.volumes {
        let disperse = volume.volume_type == brickd::model::VolumeType::Disperse;
        assert_eq!(
            brickd::volopt::op_versions_of(&volume.options, disperse),
            (volume.op_version, volume.client_op_version),
            "volume {} with {:?}",
            volume.name,
            volume.options
        );
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} volumes in the fixture");
    println!("op_versions_are_worked_out_as_glusterd_stored_them: {compared} volumes");
}
