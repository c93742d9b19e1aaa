//! Fuzz target for a `peers/<name>` store file read as glusterd reads it
//! (`brickd::store::decode_peer_file`: the `key=value` parser, then the peer's keys by prefix,
//! `atoi` states). Nothing may panic; a peer that decodes has a UUID and a host name, and
//! renders back to a file that decodes to the same peer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(peer) = brickd::store::decode_peer_file(data) {
        assert!(!peer.hostnames.is_empty());
        assert_ne!(peer.uuid, brickd::model::Uuid::NIL);
        let pairs = brickd::store::render::peer(&peer);
        let bytes = brickd::store::kv::render(&pairs);
        if let Ok(again) = brickd::store::decode_peer_file(&bytes) {
            assert_eq!(again.uuid, peer.uuid);
            assert_eq!(again.state, peer.state);
        }
    }
});
