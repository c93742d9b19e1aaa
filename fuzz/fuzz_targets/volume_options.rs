//! Fuzz target for `volume set` and `volume reset` (`ops::volume_options`): the input is a
//! request dict, decoded with small limits; its `key<N>`/`value<N>` pairs (or `key`, when the
//! first byte says reset) go through the whole stage of a set on a one-brick distribute volume:
//! glusterd's key rules, the option table's lookup and hints, volgen with the new value, and
//! the value checks. None may panic; an accepted set leaves every key it named in the volume.
#![no_main]

use brickd::model::{Brick, Uuid, Volume};
use brickd::ops::volume_options::{changed_volume, Change};
use brickd::proto::dict::{Dict, DictLimits};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

const LIMITS: DictLimits = DictLimits {
    pairs_max: 64,
    key_bytes_max: 128,
    value_bytes_max: 256,
};

fn volume() -> Volume {
    let node = Uuid::from_bytes([7; 16]);
    let mut volume = Volume::new_distribute("f", Uuid::from_bytes([9; 16]));
    volume.brick_count = 1;
    volume.bricks.push(Brick {
        hostname: "node-a".into(),
        path: "/srv/b/f".into(),
        real_path: "/srv/b/f".into(),
        uuid: node,
        ..Brick::default()
    });
    volume.options = vec![
        ("storage.fips-mode-rchecksum".into(), "on".into()),
        ("transport.address-family".into(), "inet".into()),
        ("nfs.disable".into(), "on".into()),
    ];
    volume.op_version = 40000;
    volume.client_op_version = 2;
    volume
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(Some(dict)) = Dict::decode(rest, LIMITS) else {
        return;
    };
    let change = if first & 1 == 1 {
        match dict.get_str("key") {
            Ok(key) => Change::Reset {
                key: key.to_string(),
                force: first & 2 == 2,
            },
            Err(_) => return,
        }
    } else {
        let mut pairs = Vec::new();
        for i in 1..=8 {
            let (Ok(k), Ok(v)) = (
                dict.get_str(&format!("key{i}")),
                dict.get_str(&format!("value{i}")),
            ) else {
                break;
            };
            if k.contains(['\0', '\n', '=']) || v.contains(['\0', '\n']) {
                return;
            }
            pairs.push((k.to_string(), v.to_string()));
        }
        if pairs.is_empty() {
            return;
        }
        Change::Set(pairs)
    };
    let before = volume();
    if let Ok(after) = changed_volume(&before, &change, Path::new("/var/lib/glusterd"), Uuid::NIL, None) {
        // A change moves the version on by one; a reset of a key the volume does not have
        // changes nothing at all, the version included (glusterd's way).
        let untouched = matches!(change, Change::Reset { .. }) && after == before;
        if !untouched {
            assert_eq!(after.version, before.version + 1);
        }
        // The op-versions are worked out again from the options, as glusterd does.
        let worked_out = brickd::volopt::op_versions_of(&after.options, false);
        assert_eq!((after.op_version, after.client_op_version), worked_out);
    }
});
