//! `volume info` (GET_VOLUME, proc 5) and `volume list` (LIST_VOLUME, proc 33).
//!
//! The CLI asks for one volume by name (flags 2) or walks all volumes one reply at a time
//! (flags 3, "GET_NEXT": each request names the last volume it got, and `count`=0 ends the
//! walk). Each reply carries one volume as `volume0.*` keys in the order glusterd inserts them,
//! so the wire bytes (and therefore the CLI's option order, reference §6.2) match glusterd's.
//! Reads use the shard's catalog snapshot (`ops::shard`); the walk goes in name order, as
//! glusterd's does.

use super::shard::Catalog;
use crate::model::Volume;
use crate::proto::dict::{Dict, DictLimits};
use std::sync::Arc;

/// `GF_CLI_GET_VOLUME_ALL`: glusterd answers it with count=0; the CLI never sends it.
pub const FLAGS_ALL: i32 = 1;
/// `GF_CLI_GET_VOLUME`: one volume by name.
pub const FLAGS_ONE: i32 = 2;
/// `GF_CLI_GET_NEXT_VOLUME`: the volume after `volname` (or the first).
pub const FLAGS_NEXT: i32 = 3;

/// glusterd's EG_NOVOL.
pub const EG_NOVOL: i32 = 30806;

/// The key of the global options' version, which `volume info` does not show.
pub const GLOBAL_OPTION_VERSION: &str = "global-option-version";

/// Adds the `volume<index>.*` keys of one volume, in glusterd's insertion order.
pub fn add_volume(dict: &mut Dict, index: usize, vol: &Volume) {
    add_volume_with_global(dict, index, vol, &[]);
}

/// [`add_volume`], then the node's global options (`volume set all`, in memory order but
/// `global-option-version`) as options of the volume, as glusterd's `volume info` lists them
/// after the volume's own.
pub fn add_volume_with_global(
    dict: &mut Dict,
    index: usize,
    vol: &Volume,
    global: &[(String, String)],
) {
    let p = format!("volume{index}");
    dict.set_str(&format!("{p}.name"), &vol.name);
    dict.set_u32(&format!("{p}.type"), vol.volume_type.number());
    dict.set_u32(&format!("{p}.status"), vol.status.number());
    dict.set_u32(&format!("{p}.brick_count"), vol.brick_count);
    dict.set_u32(&format!("{p}.dist_count"), vol.dist_count());
    dict.set_u32(&format!("{p}.replica_count"), vol.replica_count);
    dict.set_u32(&format!("{p}.disperse_count"), vol.disperse_count);
    dict.set_u32(&format!("{p}.redundancy_count"), vol.redundancy_count);
    dict.set_u32(&format!("{p}.arbiter_count"), vol.arbiter_count);
    dict.set_u32(&format!("{p}.transport"), vol.transport.number());
    dict.set_u32(&format!("{p}.thin_arbiter_count"), vol.thin_arbiter_count);
    dict.set_str(&format!("{p}.volume_id"), &vol.volume_id.to_string());
    dict.set_i32(&format!("{p}.rebalance"), vol.rebalance.command);
    dict.set_u32(&format!("{p}.snap_count"), 0);
    for (i, brick) in vol.bricks.iter().enumerate() {
        let n = i + 1;
        dict.set_str(&format!("{p}.brick{n}"), &brick.name());
        dict.set_str(&format!("{p}.brick{n}.uuid"), &brick.uuid.to_string());
        // The CLI prints "(arbiter)" when the key exists, whatever its value.
        if vol.is_arbiter_brick(i) {
            dict.set_i32(&format!("{p}.brick{n}.isArbiter"), 1);
        }
    }
    if let Some(ta) = &vol.thin_arbiter_brick {
        dict.set_str(&format!("{p}.thin_arbiter_brick"), &ta.name());
    }
    // The CLI prints the options in reverse wire order, and the wire order is the reverse of
    // insertion: inserting in glusterd's in-memory order (`Volume::options`) prints them in
    // that order.
    let global: Vec<&(String, String)> = (global.iter())
        .filter(|(k, _)| k != GLOBAL_OPTION_VERSION)
        .collect();
    for (key, value) in vol.options.iter().chain(global.iter().copied()) {
        dict.set_str(&format!("{p}.option.{key}"), value);
    }
    dict.set_u64(
        &format!("{p}.opt_count"),
        (vol.options.len() + global.len()) as u64,
    );
}

/// The reply dict for one volume, or for "no more volumes" (`count`=0).
pub fn reply_dict(vol: Option<&Volume>, global: &[(String, String)]) -> Dict {
    let mut dict = Dict::new();
    if let Some(v) = vol {
        add_volume_with_global(&mut dict, 0, v, global);
        dict.set_u32("count", 1);
    } else {
        dict.set_u32("count", 0);
    }
    dict
}

/// What a GET_VOLUME request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetVolume {
    /// flags 2: this volume.
    One(String),
    /// flags 3: the volume after this one (`None`: the first volume); none if this one does
    /// not exist.
    Next(Option<String>),
    /// flags 1, or anything else: glusterd answers count=0.
    Nothing,
}

/// Why a GET_VOLUME request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetVolumeError {
    /// The dict does not decode.
    #[error("malformed request dict: {0}")]
    Dict(String),
    /// No `flags` key (glusterd never answers this; brickd says why).
    #[error("request has no flags")]
    NoFlags,
}

/// Parses a GET_VOLUME request dict.
pub fn parse_request(dict_bytes: &[u8]) -> Result<GetVolume, GetVolumeError> {
    let dict = Dict::decode(dict_bytes, DictLimits::default())
        .map_err(|e| GetVolumeError::Dict(e.to_string()))?
        .unwrap_or_default();
    let flags = dict.get_i32("flags").map_err(|_| GetVolumeError::NoFlags)?;
    let volname = dict.get_str("volname").ok().map(str::to_owned);
    Ok(match (flags, volname) {
        (FLAGS_ONE, Some(name)) => GetVolume::One(name),
        (FLAGS_NEXT, after) => GetVolume::Next(after),
        // flags 1, or flags 2 without a name: glusterd answers op_ret 0 and count 0.
        _ => GetVolume::Nothing,
    })
}

/// Finds the volume a GET_VOLUME request asks for, in the shard's catalog.
pub fn lookup(catalog: &Catalog, request: GetVolume) -> Option<Arc<Volume>> {
    match request {
        GetVolume::One(name) => catalog.get(&name).cloned(),
        // glusterd walks its list from the named volume; a name it does not know ends the walk.
        GetVolume::Next(Some(after)) if !catalog.contains_key(&after) => None,
        GetVolume::Next(Some(after)) => catalog.next_after(&after).cloned(),
        GetVolume::Next(None) => catalog.values().next().cloned(),
        GetVolume::Nothing => None,
    }
}

/// The LIST_VOLUME reply dict: `volume0..N-1` (sorted) and `count`.
pub fn list_dict(catalog: &Catalog) -> Dict {
    let mut dict = Dict::new();
    for (i, name) in catalog.keys().enumerate() {
        dict.set_str(&format!("volume{i}"), name);
    }
    dict.set_u64("count", catalog.len() as u64);
    dict
}
