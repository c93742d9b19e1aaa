//! Fuzz target for the volume export peers exchange in FRIEND_ADD (`cluster::export`).
//!
//! The whole input is the `vols` dict blob, decoded with `DictRef` (limits small enough that
//! decoding succeeds often), indexed as a `PeerExport`, and fed to `import_volume` (the first
//! few volumes) and `compare` (against no local volume, and against what was imported). None
//! may panic. A volume that imports survives the round trip: exported again (as this node would
//! send it) and imported back it has the same fields (each list holds the same entries; glusterd
//! reverses them on every hop) and the same checksum, and a peer comparing that export with the
//! volume finds nothing to do.
#![no_main]

use brickd::cluster::export::{self, Comparison, PeerExport};
use brickd::model::Volume;
use brickd::proto::dict::{DictLimits, DictRef};
use libfuzzer_sys::fuzz_target;

const LIMITS: DictLimits = DictLimits {
    pairs_max: 512,
    key_bytes_max: 128,
    value_bytes_max: 512,
};

/// The volumes to import from one input: enough to reach the second volume's keys.
const VOLUMES_TRIED_MAX: u32 = 3;

/// `volume` with its lists in a fixed order.
fn sorted_lists(mut volume: Volume) -> Volume {
    volume.options.sort();
    volume.extra.sort();
    volume.rebalance.extra.sort();
    volume
}

fuzz_target!(|data: &[u8]| {
    let Ok(Some(dict)) = DictRef::decode(data, LIMITS) else {
        return;
    };
    let peer = PeerExport::from(dict);
    let _ = export::compare([], &peer);
    let Ok(count) = peer.volume_count() else {
        return;
    };
    let mut imported = Vec::new();
    for index in 1..=count.min(VOLUMES_TRIED_MAX) {
        let Ok(volume) = export::import_volume(&peer, index) else {
            continue;
        };
        let global = [("global-option-version".to_owned(), "0".to_owned())];
        let again = export::export_volumes([&volume], &global, "fuzz");
        let mut bytes = Vec::with_capacity(again.encoded_len());
        again.encode(&mut bytes);
        let dict = DictRef::decode(&bytes, DictLimits::default())
            .expect("an export decodes")
            .expect("an export is a dict");
        let back = PeerExport::from(dict);
        let round_trip = export::import_volume(&back, 1).expect("an export imports");
        assert_eq!(
            export::volume_cksum(&round_trip),
            export::volume_cksum(&volume)
        );
        assert_eq!(sorted_lists(round_trip), sorted_lists(volume.clone()));
        assert_eq!(
            export::compare([&volume], &back).expect("an export compares"),
            Comparison::default()
        );
        imported.push(volume);
    }
    let _ = export::compare(&imported, &peer);
});
