//! Fuzz target for the glusterfs dict codec (`proto::dict`).
//!
//! The whole input is a dict blob (the contents of an XDR `opaque dict<>`), decoded with small
//! limits so the caps are reached often. Neither decoder may panic, and the borrowed view
//! (`DictRef`) and the owned `Dict` must agree on the outcome, the pairs and every lookup.
//! A decoded dict re-encodes to the same length with its pairs reversed (newest first, as
//! glusterd forwards a dict it received), that encoding decodes again, and the decoded dict
//! reversed to the sender's insertion order encodes to exactly the input bytes.
#![no_main]

use brickd::proto::dict::{Dict, DictLimits, DictRef};
use libfuzzer_sys::fuzz_target;

const LIMITS: DictLimits = DictLimits {
    pairs_max: 32,
    key_bytes_max: 64,
    value_bytes_max: 256,
};

fn encoded(dict: &Dict) -> Vec<u8> {
    let mut out = Vec::new();
    dict.encode(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let view = match DictRef::decode(data, LIMITS) {
        Ok(Some(view)) => view,
        Ok(None) => {
            assert!(data.is_empty(), "only an empty opaque is \"no dict\"");
            assert_eq!(Dict::decode(data, LIMITS), Ok(None));
            return;
        }
        Err(err) => {
            assert!(!err.to_string().is_empty());
            assert_eq!(Dict::decode(data, LIMITS), Err(err));
            return;
        }
    };
    assert!(view.len() <= LIMITS.pairs_max);
    assert_eq!(view.as_bytes(), data);

    let dict = Dict::decode(data, LIMITS)
        .expect("Dict decodes what DictRef decodes")
        .expect("a dict");
    assert_eq!(dict, view.to_dict());
    assert_eq!(dict.len(), view.len());
    assert!(view.iter().eq(dict.iter()), "insertion order is wire order");

    for (key, value) in view.iter() {
        assert!(key.len() <= LIMITS.key_bytes_max && !key.contains('\0'));
        assert!(value.len() <= LIMITS.value_bytes_max);
        let last_on_wire = view
            .iter()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v);
        assert_eq!(view.get_bin(key), last_on_wire);
        assert_eq!(dict.get_bin(key), last_on_wire);
        assert_eq!(view.get_str(key), dict.get_str(key));
        assert_eq!(view.get_i32(key), dict.get_i32(key));
        assert_eq!(view.get_i64(key), dict.get_i64(key));
        assert_eq!(view.get_u32(key), dict.get_u32(key));
        assert_eq!(view.get_u64(key), dict.get_u64(key));
        assert_eq!(view.get_bool(key), dict.get_bool(key));
        if let (Ok(narrow), Ok(wide)) = (dict.get_i32(key), dict.get_i64(key)) {
            assert_eq!(i64::from(narrow), wide);
        }
    }

    assert_eq!(dict.encoded_len(), data.len());
    let forwarded = encoded(&dict);
    assert_eq!(forwarded.len(), data.len());
    let mut again = Dict::decode(&forwarded, LIMITS)
        .expect("a re-encoded dict decodes")
        .expect("a dict");
    assert!(again.iter().eq(dict.iter_wire_order()));
    again.reverse();
    assert_eq!(again, dict);

    let mut sender = dict;
    sender.reverse();
    assert_eq!(encoded(&sender), data);
});
