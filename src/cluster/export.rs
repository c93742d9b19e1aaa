//! The volume export peers exchange: the dict in the `vols` opaque of a FRIEND_ADD
//! (`gd1_mgmt_friend_req`, reference §3.5), which carries every volume of the sender, and the
//! comparison a receiver makes with it.
//!
//! This module owns the keys of that dict and their meaning: [`export_volumes`] builds it as
//! glusterd 10.3's `glusterd_rpc_friend_add` + `glusterd_add_volumes_to_export_dict` +
//! `glusterd_add_volume_to_dict` do, with the same keys, values and wire order;
//! [`import_volume`] reads one volume back into a [`Volume`] as `glusterd_import_volinfo`
//! does, and [`compare`] applies `glusterd_compare_friend_volume` to every volume of a peer's
//! dict. It is pure: model values and dicts in, model values and dicts out, no I/O and no
//! clock. Sending, storing and starting what is imported are the callers' business.
//!
//! # Order
//!
//! glusterd builds the dict by inserting pairs (each at the head of its list, so the wire order
//! is the reverse of insertion, see [`Dict`]); [`export_volumes`] inserts the same pairs in the
//! same order, so [`Dict::encode`] writes glusterd's bytes. The lists inside a volume (options,
//! geo-replication sessions, the rebalance dict) and the global options are walked the way
//! glusterd walks its in-memory dicts (`dict_foreach`, newest key first). For a dict glusterd
//! read from a file that is the file's order reversed, because it prepends each key as it reads;
//! volume options are held in that order already ([`Volume::options`]), the other lists are
//! taken as read from their files.
//!
//! An imported volume's options are held as glusterd holds what it imports, each key put at
//! the head as it is read: the reverse of the order they came in (and its `info` is written in
//! that order, see [`Volume::set_option`]); exporting it again lists them reversed. The other
//! lists keep the order they came in as their file order. Captured: 127.1.1.1 sent `cv`'s options as `key1=cluster.granular-entry-heal` …
//! `key5=performance.client-io-threads`, and 127.1.1.3, right after importing it, sent them
//! back in the reverse order. Checksums do not depend on that order (the `info` lines are
//! sorted first), and [`compare`] matches list entries by name.
//!
//! # Limits
//!
//! Every count read from a peer is capped ([`VOLUMES_PER_DICT_MAX`], [`BRICKS_PER_VOLUME_MAX`],
//! [`OPTIONS_PER_VOLUME_MAX`], [`GEO_REP_SESSIONS_PER_VOLUME_MAX`],
//! [`REBALANCE_KEYS_PER_VOLUME_MAX`]) before anything is read for it; a missing, garbled or
//! inconsistent key is an [`ExportError`] naming the key, never a panic. Values that would end up
//! in a store file are checked so the store can write and read them back.
//!
//! # Not carried
//!
//! glusterd adds a volume's quota configuration (`gfid<N>`, `quota-cksum`, `quota-version`) when
//! `features.quota` is set, read from its `quota.conf`: brickd keeps no quota configuration,
//! so it neither sends nor compares them. Snapshots (`snap<N>.*`, `missed_snaps_<N>`) are not
//! supported: the export always says `snap_count` 0 and `missed_snap_count` 0. The dict is what
//! glusterd sends at cluster op-version 30600 or more (snapshot keys included), and checksums
//! are those of op-version 50400 or more ([`VolumeChecksum::of_info`]).

#![forbid(unsafe_code)]

use crate::model::{Brick, Extra, Transport, Uuid, Volume, VolumeStatus, VolumeType};
use crate::proto::dict::{Dict, DictGetError, DictRef};
use crate::store::cksum::VolumeChecksum;
use crate::store::{kv, render};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Display;
use thiserror::Error;

/// Most volumes one peer dict may announce (`count`). A FRIEND_ADD's dict is at most
/// `proto::peer::VOLS_BYTES_MAX` (8 MiB), and a volume takes well over 1 KiB of it.
pub const VOLUMES_PER_DICT_MAX: u32 = 8192;

/// Most bricks one imported volume may have (`volume<i>.brick_count`); the same bound as
/// `volume create` puts on one request.
pub const BRICKS_PER_VOLUME_MAX: u32 = 10_000;

/// Most options one imported volume may have (`volume<i>.opt-count`). glusterd's option table
/// has a few hundred keys; `user.*` keys are free-form.
pub const OPTIONS_PER_VOLUME_MAX: u32 = 4096;

/// Most geo-replication sessions one imported volume may have (`volume<i>.gsync-count`).
pub const GEO_REP_SESSIONS_PER_VOLUME_MAX: u32 = 1024;

/// Most keys of one imported volume's rebalance dict (`volume<i>.rebal-dict-count`).
pub const REBALANCE_KEYS_PER_VOLUME_MAX: u32 = 1024;

/// The longest volume name imported (`GD_VOLUME_NAME_MAX`, as `volume create` accepts).
pub const VOLUME_NAME_BYTES_MAX: usize = 256;

/// Why a peer's export dict, or one volume in it, cannot be used. Every variant names the key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExportError {
    /// A key is missing, or its value is not text or not a number of the right range
    /// (negative counts included).
    #[error("peer volume export: {0}")]
    Value(#[from] DictGetError),
    /// A count over its cap.
    #[error("peer volume export: {key} is {value}, over the limit of {max}")]
    OverLimit {
        /// The count's key.
        key: String,
        /// The count read.
        value: u32,
        /// The cap.
        max: u32,
    },
    /// A value that reads but cannot be taken: an unknown type number, a bad UUID, text a
    /// store file cannot hold, counts that contradict each other.
    #[error("peer volume export: {key} = {value:?}: {problem}")]
    Invalid {
        /// The key.
        key: String,
        /// Its value, as text (at most 64 bytes of it).
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// [`import_volume`] was asked for a volume the dict does not have.
    #[error("peer volume export has no volume{index} (count is {count})")]
    NoSuchVolume {
        /// The index asked for (1-based).
        index: u32,
        /// The dict's `count`.
        count: u32,
    },
    /// The peer is deleting this volume (`stage_deleted` is set): glusterd does not import it.
    #[error("volume {volume} (volume{index} of the peer's export) is being deleted on the peer")]
    BeingDeleted {
        /// The index in the dict.
        index: u32,
        /// The volume.
        volume: String,
    },
}

/// How many bytes of a bad value an [`ExportError::Invalid`] quotes.
const QUOTED_VALUE_BYTES_MAX: usize = 64;

// ---------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------

/// The checksum peers compare for `volume` (`volinfo->cksum`, sent as `volume<i>.ckusm`): the
/// chained checksum of the `info` file the store renders for it (reference §8).
pub fn volume_cksum(volume: &Volume) -> u32 {
    VolumeChecksum::of_info(&kv::render(&render::volume_info(volume))).chained
}

/// The export dict of a FRIEND_ADD to the peer this node knows as `hostname_in_cluster`:
/// `volumes` (in any order: they are numbered `volume1`, `volume2`, … by name, as glusterd's
/// volume list is sorted) and this node's global options (`global_options`, in glusterd's
/// in-memory order, such as `global-option-version`). Encoded with [`Dict::encode`], it is
/// byte for byte what glusterd 10.3 sends for the same store.
pub fn export_volumes<'v>(
    volumes: impl IntoIterator<Item = &'v Volume>,
    global_options: &[(String, String)],
    hostname_in_cluster: &str,
) -> Dict {
    let mut dict = Dict::new();
    push_str(&mut dict, "hostname_in_cluster", hostname_in_cluster);
    push_num(&mut dict, "missed_snap_count", 0);
    push_num(&mut dict, "snap_count", 0);
    let mut volumes: Vec<&Volume> = volumes.into_iter().collect();
    volumes.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    for (i, volume) in volumes.iter().enumerate() {
        add_volume(&mut dict, i + 1, volume);
    }
    push_num(&mut dict, "count", volumes.len());
    push_list(&mut dict, "global", "key", "val", global_options.iter());
    push_num(&mut dict, "global-opt-count", global_options.len());
    dict
}

/// Appends a text value plus its NUL. `push`, not a setter: every key is new, and a setter
/// would scan the whole dict for it (quadratic in the number of volumes).
fn push_str(dict: &mut Dict, key: &str, value: &str) {
    let mut bytes = Vec::with_capacity(value.len() + 1);
    bytes.extend_from_slice(value.as_bytes());
    bytes.push(0);
    dict.push(key, bytes);
}

/// Appends a number as decimal text plus its NUL, as glusterd's `dict_set_int32` & co.
fn push_num(dict: &mut Dict, key: &str, value: impl Display) {
    push_str(dict, key, &value.to_string());
}

/// Appends `<prefix>.<name_key><k>` and `<prefix>.<value_key><k>` for each pair, k from 1
/// (glusterd's `_add_dict_to_prdict`).
fn push_list<'a>(
    dict: &mut Dict,
    prefix: &str,
    name_key: &str,
    value_key: &str,
    pairs: impl Iterator<Item = &'a (String, String)>,
) {
    for (k, (name, value)) in pairs.enumerate() {
        push_str(dict, &format!("{prefix}.{name_key}{}", k + 1), name);
        push_str(dict, &format!("{prefix}.{value_key}{}", k + 1), value);
    }
}

/// Whether a key of `info` is a geo-replication session (glusterd's `gsync_secondaries`), as
/// the store reads it.
fn is_geo_rep_key(key: &str) -> bool {
    key.contains("secondary") || key.contains("slave")
}

/// `glusterd_add_volume_to_dict(volinfo, dict, index, "volume")`, key for key.
fn add_volume(dict: &mut Dict, index: usize, volume: &Volume) {
    let p = format!("volume{index}");
    let d = dict;
    let key = |name: &str| format!("{p}.{name}");
    push_str(d, &key("name"), &volume.name);
    push_num(d, &key("type"), volume.volume_type.number());
    push_num(d, &key("brick_count"), volume.brick_count);
    push_num(d, &key("version"), volume.version);
    push_num(d, &key("status"), volume.status.number());
    push_num(d, &key("sub_count"), volume.sub_count);
    push_num(d, &key("subvol_count"), volume.subvol_count());
    push_num(d, &key("replica_count"), volume.replica_count);
    push_num(d, &key("arbiter_count"), volume.arbiter_count);
    push_num(d, &key("thin_arbiter_count"), volume.thin_arbiter_count);
    push_num(d, &key("disperse_count"), volume.disperse_count);
    push_num(d, &key("redundancy_count"), volume.redundancy_count);
    push_num(d, &key("dist_count"), volume.dist_count());
    push_num(d, &key("ckusm"), volume_cksum(volume));
    push_num(d, &key("transport_type"), volume.transport.number());
    // A volume being deleted is not in the model any more.
    push_num(d, &key("stage_deleted"), 0);
    // gd_add_vol_snap_details_to_dict.
    push_str(
        d,
        &key("restored_from_snap"),
        &volume.restored_from_snap.to_string(),
    );
    if !volume.parent_volname.is_empty() {
        push_str(d, &key("parent_volname"), &volume.parent_volname);
    }
    push_num(d, &key("is_snap_volume"), 0);
    push_num(d, &key("snap-max-hard-limit"), volume.snap_max_hard_limit);
    push_str(d, &key("volume_id"), &volume.volume_id.to_string());
    if let Some(username) = &volume.username {
        push_str(d, &key("username"), username);
    }
    if let Some(password) = &volume.password {
        push_str(d, &key("password"), password);
    }
    push_num(d, &key("rebalance"), volume.rebalance.command);
    push_str(d, &key("rebalance-id"), &volume.rebalance.id.to_string());
    push_num(d, &key("rebalance-op"), volume.rebalance.op);
    // glusterd has a rebalance dict only when node_state.info had keys beyond its own.
    let rebalance_keys = &volume.rebalance.extra;
    if !rebalance_keys.is_empty() {
        let pairs = rebalance_keys.iter().rev();
        push_list(d, &p, "rebal-dict-key", "rebal-dict-value", pairs);
        push_num(d, &key("rebal-dict-count"), rebalance_keys.len());
    }
    push_list(d, &p, "key", "value", volume.options.iter());
    push_num(d, &key("opt-count"), volume.options.len());
    let sessions: Vec<&(String, String)> = (volume.extra.iter())
        .filter(|(name, _)| is_geo_rep_key(name))
        .collect();
    push_list(
        d,
        &p,
        "secondary-num",
        "secondary-val",
        sessions.iter().rev().copied(),
    );
    push_num(d, &key("gsync-count"), sessions.len());
    for (j, brick) in volume.bricks.iter().enumerate() {
        let b = format!("{p}.brick{}", j + 1);
        push_str(d, &format!("{b}.hostname"), &brick.hostname);
        push_str(d, &format!("{b}.path"), &brick.path);
        push_num(d, &format!("{b}.decommissioned"), brick.decommissioned);
        push_str(d, &format!("{b}.brick_id"), &brick.brick_id);
        push_str(d, &format!("{b}.uuid"), &brick.uuid.to_string());
        // gd_add_brick_snap_details_to_dict.
        push_num(d, &format!("{b}.snap_status"), brick.snap_status);
        push_str(d, &format!("{b}.device_path"), &brick.device_path);
        push_str(d, &format!("{b}.fs_type"), &brick.fs_type);
        push_str(d, &format!("{b}.mnt_opts"), &brick.mnt_opts);
        push_str(d, &format!("{b}.mount_dir"), &brick.mount_dir);
    }
    // glusterd holds one thin-arbiter brick per replica set, all naming the one stored
    // `ta-brick-0` with the set's own id, and sends each.
    if volume.thin_arbiter_count == 1 {
        if let Some(brick) = &volume.thin_arbiter_brick {
            for j in 1..=volume.subvol_count() {
                let b = format!("{p}.ta-brick{j}");
                push_str(d, &format!("{b}.hostname"), &brick.hostname);
                push_str(d, &format!("{b}.path"), &brick.path);
                push_num(d, &format!("{b}.decommissioned"), brick.decommissioned);
                let id = volume.thin_arbiter_id(j as usize - 1);
                push_str(d, &format!("{b}.brick_id"), &id);
                push_str(d, &format!("{b}.uuid"), &brick.uuid.to_string());
            }
        }
    }
    push_num(d, &key("op-version"), volume.op_version);
    push_num(d, &key("client-op-version"), volume.client_op_version);
    push_num(d, &key("quota-xattr-version"), volume.quota_version);
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

/// A peer's export dict indexed by key, for [`import_volume`] and [`compare`]. Build it once
/// per dict (from a [`DictRef`] or a decoded [`Dict`]): each lookup is then constant time
/// rather than a scan of every pair, which keeps reading a thousand-volume dict linear.
///
/// With duplicate keys the pair later on the wire counts, as in glusterd's lookups.
#[derive(Debug, Clone, Default)]
pub struct PeerExport<'a> {
    pairs: HashMap<&'a str, &'a [u8]>,
}

impl<'a> PeerExport<'a> {
    /// Indexes `pairs`, given in wire order (a later pair replaces an earlier one).
    pub fn new(pairs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> PeerExport<'a> {
        PeerExport {
            pairs: pairs.into_iter().collect(),
        }
    }

    /// The number of volumes the dict announces (`count`), capped at
    /// [`VOLUMES_PER_DICT_MAX`].
    pub fn volume_count(&self) -> Result<u32, ExportError> {
        self.count("count", VOLUMES_PER_DICT_MAX)
    }

    /// Reads `key` with one of [`Dict`]'s typed getters, so every value is read by the same
    /// rules as everywhere else in brickd (`strtol` base 0 for numbers, text up to its NUL).
    fn get<T>(
        &self,
        key: &str,
        getter: impl FnOnce(&Dict, &str) -> Result<T, DictGetError>,
    ) -> Result<T, ExportError> {
        let mut one = Dict::new();
        if let Some(value) = self.pairs.get(key) {
            one.push(key, value.to_vec());
        }
        Ok(getter(&one, key)?)
    }

    /// Like [`get`](Self::get), `None` when the key is absent.
    fn get_optional<T>(
        &self,
        key: &str,
        getter: impl FnOnce(&Dict, &str) -> Result<T, DictGetError>,
    ) -> Result<Option<T>, ExportError> {
        if self.pairs.contains_key(key) {
            self.get(key, getter).map(Some)
        } else {
            Ok(None)
        }
    }

    fn text(&self, key: &str) -> Result<String, ExportError> {
        self.get(key, |d, k| d.get_str(k).map(str::to_owned))
    }

    fn text_optional(&self, key: &str) -> Result<Option<String>, ExportError> {
        self.get_optional(key, |d, k| d.get_str(k).map(str::to_owned))
    }

    fn u32(&self, key: &str) -> Result<u32, ExportError> {
        self.get(key, Dict::get_u32)
    }

    fn u32_optional(&self, key: &str) -> Result<Option<u32>, ExportError> {
        self.get_optional(key, Dict::get_u32)
    }

    fn i32(&self, key: &str) -> Result<i32, ExportError> {
        self.get(key, Dict::get_i32)
    }

    fn i32_optional(&self, key: &str) -> Result<Option<i32>, ExportError> {
        self.get_optional(key, Dict::get_i32)
    }

    fn u64(&self, key: &str) -> Result<u64, ExportError> {
        self.get(key, Dict::get_u64)
    }

    /// A count, refused over `max`.
    fn count(&self, key: &str, max: u32) -> Result<u32, ExportError> {
        check_count(key, self.u32(key)?, max)
    }

    fn count_optional(&self, key: &str, max: u32) -> Result<Option<u32>, ExportError> {
        self.u32_optional(key)?
            .map(|value| check_count(key, value, max))
            .transpose()
    }

    fn uuid(&self, key: &str) -> Result<Uuid, ExportError> {
        parse_uuid(key, &self.text(key)?)
    }

    /// Text that goes into a store file as a value: not empty, no newline.
    fn stored_text(&self, key: &str) -> Result<String, ExportError> {
        let text = self.text(key)?;
        check_stored(key, &text, false)?;
        Ok(text)
    }

    /// Text for a store key glusterd writes only when it is not empty: no newline.
    fn stored_text_or_empty(&self, key: &str) -> Result<String, ExportError> {
        let text = self.text(key)?;
        check_stored(key, &text, true)?;
        Ok(text)
    }

    /// The `<prefix>.<name_key><k>` / `<prefix>.<value_key><k>` list of `count` pairs, in key
    /// order; each name must pass `check_name`, each value must be storable. A name given twice
    /// keeps its first place and takes the later value, as glusterd's `dict_set` does.
    fn list(
        &self,
        prefix: &str,
        (name_key, value_key): (&str, &str),
        count: u32,
        check_name: impl Fn(&str) -> Option<&'static str>,
    ) -> Result<Extra, ExportError> {
        let mut pairs = Extra::new();
        let mut places: HashMap<String, usize> = HashMap::new();
        for k in 1..=count {
            let name_key = format!("{prefix}.{name_key}{k}");
            let name = self.text(&name_key)?;
            if let Some(problem) = check_store_key(&name).or_else(|| check_name(&name)) {
                return Err(invalid(&name_key, &name, problem));
            }
            let value = self.stored_text(&format!("{prefix}.{value_key}{k}"))?;
            match places.get(&name) {
                Some(&at) => pairs[at].1 = value,
                None => {
                    places.insert(name.clone(), pairs.len());
                    pairs.push((name, value));
                }
            }
        }
        Ok(pairs)
    }
}

/// Most global options one peer may send (`global-opt-count`).
pub const GLOBAL_OPTIONS_MAX: u32 = 1024;

impl PeerExport<'_> {
    /// The peer's global options (`global.key<N>`/`global.val<N>`), in the order they came
    /// (the peer's memory order); none if it sent no `global-opt-count`.
    pub fn global_options(&self) -> Result<Extra, ExportError> {
        match self.count_optional("global-opt-count", GLOBAL_OPTIONS_MAX)? {
            Some(n) => self.list("global", ("key", "val"), n, |_| None),
            None => Ok(Extra::new()),
        }
    }
}

impl<'a> From<DictRef<'a>> for PeerExport<'a> {
    fn from(dict: DictRef<'a>) -> PeerExport<'a> {
        PeerExport::new(dict.iter())
    }
}

impl<'a> From<&'a Dict> for PeerExport<'a> {
    fn from(dict: &'a Dict) -> PeerExport<'a> {
        PeerExport::new(dict.iter())
    }
}

fn check_count(key: &str, value: u32, max: u32) -> Result<u32, ExportError> {
    if value > max {
        return Err(ExportError::OverLimit {
            key: key.to_owned(),
            value,
            max,
        });
    }
    Ok(value)
}

fn invalid(key: &str, value: &str, problem: impl Into<String>) -> ExportError {
    let mut end = value.len().min(QUOTED_VALUE_BYTES_MAX);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    ExportError::Invalid {
        key: key.to_owned(),
        value: value[..end].to_owned(),
        problem: problem.into(),
    }
}

fn parse_uuid(key: &str, text: &str) -> Result<Uuid, ExportError> {
    Uuid::parse(text).map_err(|e| invalid(key, text, format!("not a UUID: {e}")))
}

/// Refuses text a store file cannot hold as a value (`kv`: one line, not empty).
fn check_stored(key: &str, text: &str, may_be_empty: bool) -> Result<(), ExportError> {
    if text.contains('\n') {
        return Err(invalid(key, text, "a store file cannot hold a newline"));
    }
    if text.is_empty() && !may_be_empty {
        return Err(invalid(key, text, "empty"));
    }
    Ok(())
}

/// Why `name` cannot be a key of a store file, if it cannot.
fn check_store_key(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.contains(['=', '\n']) {
        Some("cannot be a store key (empty, '=' or newline)")
    } else {
        None
    }
}

/// A volume name as `volume create` accepts it: it becomes a directory of the store.
fn check_volume_name(key: &str, name: &str) -> Result<(), ExportError> {
    let valid = !name.is_empty()
        && name.len() <= VOLUME_NAME_BYTES_MAX
        && !name.starts_with('-')
        && (name.bytes()).all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(invalid(
            key,
            name,
            format!(
                "not a volume name (1 to {VOLUME_NAME_BYTES_MAX} letters, digits, '_' or '-', \
                 not starting with '-')"
            ),
        ));
    }
    Ok(())
}

/// The peer's copy of volume `name` ([`import_volume`] of the volume so named), `None` when
/// its export has no such volume.
pub fn import_volume_named(
    peer: &PeerExport<'_>,
    name: &str,
) -> Option<Result<Volume, ExportError>> {
    let count = match peer.volume_count() {
        Ok(count) => count,
        Err(e) => return Some(Err(e)),
    };
    (1..=count)
        .find(|&i| peer.text(&format!("volume{i}.name")).ok().as_deref() == Some(name))
        .map(|i| import_volume(peer, i))
}

/// Reads `volume<index>` of a peer's export into a model volume, as `glusterd_import_volinfo`
/// does, with its bricks (and thin-arbiter brick), options, geo-replication sessions and
/// rebalance state. `index` counts from 1 up to [`PeerExport::volume_count`].
///
/// What the dict does not carry is what a node knows only of itself, and is left for the
/// caller: brick ports (0), `brick-fsid` (0; statvfs of the bricks this node owns), the snapshot
/// daemon port (0), `vg`. Brick `real_path` is the path, as glusterd 10.3 writes it. Keys
/// glusterd treats as optional for older peers default as glusterd's; `subvol_count`,
/// `dist_count` and `ckusm` must be present but are derived again from the rest.
///
/// The options are held in the reverse of the order they came in, the other lists in that
/// order (see the module documentation).
pub fn import_volume(peer: &PeerExport<'_>, index: u32) -> Result<Volume, ExportError> {
    let count = peer.volume_count()?;
    if index == 0 || index > count {
        return Err(ExportError::NoSuchVolume { index, count });
    }
    let p = format!("volume{index}");
    let key = |name: &str| format!("{p}.{name}");

    let name = peer.text(&key("name"))?;
    check_volume_name(&key("name"), &name)?;
    if peer.u32_optional(&key("stage_deleted"))?.unwrap_or(0) != 0 {
        return Err(ExportError::BeingDeleted {
            index,
            volume: name,
        });
    }
    let type_key = key("type");
    let type_number = peer.u32(&type_key)?;
    let volume_type = VolumeType::from_number(type_number)
        .ok_or_else(|| invalid(&type_key, &type_number.to_string(), "not a volume type"))?;
    let status_key = key("status");
    let status_number = peer.u32(&status_key)?;
    let status = VolumeStatus::from_number(status_number)
        .ok_or_else(|| invalid(&status_key, &status_number.to_string(), "not a status"))?;
    let transport_key = key("transport_type");
    let transport_number = peer.u32(&transport_key)?;
    let transport = Transport::from_number(transport_number).ok_or_else(|| {
        invalid(
            &transport_key,
            &transport_number.to_string(),
            "not a transport",
        )
    })?;
    let brick_count = peer.count(&key("brick_count"), BRICKS_PER_VOLUME_MAX)?;
    let sub_count = peer.u32(&key("sub_count"))?;
    // glusterd needs subvol_count and ckusm (not dist_count) and derives all three again from
    // the rest, as the model does: they are read only to refuse garbage.
    peer.u32(&key("subvol_count"))?;
    peer.u32_optional(&key("dist_count"))?;
    peer.u32(&key("ckusm"))?;

    let parent_volname = match peer.text_optional(&key("parent_volname"))? {
        Some(parent) => {
            check_stored(&key("parent_volname"), &parent, false)?;
            parent
        }
        None => "N/A".to_owned(),
    };
    let is_snap_volume = peer.u32(&key("is_snap_volume"))?;
    if is_snap_volume != 0 {
        let value = is_snap_volume.to_string();
        let problem = "snapshot volumes are not supported";
        return Err(invalid(&key("is_snap_volume"), &value, problem));
    }
    let thin_arbiter_key = key("thin_arbiter_count");
    let thin_arbiter_count = peer.u32_optional(&thin_arbiter_key)?.unwrap_or(0);
    if thin_arbiter_count > 1 {
        let value = thin_arbiter_count.to_string();
        return Err(invalid(&thin_arbiter_key, &value, "0 or 1"));
    }

    let mut volume = Volume {
        volume_type,
        brick_count,
        status,
        sub_count,
        arbiter_count: peer.u32_optional(&key("arbiter_count"))?.unwrap_or(0),
        disperse_count: peer.u32_optional(&key("disperse_count"))?.unwrap_or(0),
        redundancy_count: peer.u32_optional(&key("redundancy_count"))?.unwrap_or(0),
        version: peer.u32(&key("version"))?,
        transport,
        username: peer.text_optional(&key("username"))?,
        password: peer.text_optional(&key("password"))?,
        quota_version: peer.u32_optional(&key("quota-xattr-version"))?.unwrap_or(0),
        thin_arbiter_count,
        parent_volname,
        restored_from_snap: peer.uuid(&key("restored_from_snap"))?,
        snap_max_hard_limit: peer.u64(&key("snap-max-hard-limit"))?,
        ..Volume::new_distribute(name, peer.uuid(&key("volume_id"))?)
    };
    for (field, secret) in [
        ("username", &volume.username),
        ("password", &volume.password),
    ] {
        if let Some(text) = secret {
            check_stored(&key(field), text, false)?;
        }
    }
    // A peer of an old version may leave replica_count out: the store's rule then.
    volume.replica_count = match peer.u32_optional(&key("replica_count"))? {
        Some(replica) => replica,
        None if volume_type == VolumeType::Replicate => sub_count,
        None => 1,
    };
    check_layout(&p, &volume)?;
    (volume.op_version, volume.client_op_version) = op_versions(peer, &p)?;

    volume.rebalance.command = peer.i32(&key("rebalance"))?;
    if let Some(id) = peer.text_optional(&key("rebalance-id"))? {
        volume.rebalance.id = parse_uuid(&key("rebalance-id"), &id)?;
    }
    volume.rebalance.op = peer.i32_optional(&key("rebalance-op"))?.unwrap_or(0);
    let rebalance_keys_key = key("rebal-dict-count");
    if let Some(n) = peer.count_optional(&rebalance_keys_key, REBALANCE_KEYS_PER_VOLUME_MAX)? {
        let keys = ("rebal-dict-key", "rebal-dict-value");
        volume.rebalance.extra = peer.list(&p, keys, n, |_| None)?;
    }

    let options_count = peer.count(&key("opt-count"), OPTIONS_PER_VOLUME_MAX)?;
    // Each key put at the head as it is read, as glusterd's import does.
    volume.options =
        Volume::options_from_file(peer.list(&p, ("key", "value"), options_count, |option| {
            // The store reads a key without a dot, or a geo-replication key, as something else.
            if !option.contains('.') || is_geo_rep_key(option) {
                Some("not a volume option key")
            } else {
                None
            }
        })?);
    let sessions_count = peer.count(&key("gsync-count"), GEO_REP_SESSIONS_PER_VOLUME_MAX)?;
    let session_keys = ("secondary-num", "secondary-val");
    volume.extra = peer.list(&p, session_keys, sessions_count, |session| {
        (!is_geo_rep_key(session)).then_some("not a geo-replication key")
    })?;

    let mut file_names = HashSet::new();
    for j in 1..=brick_count {
        // A peer older than persistent AFR xattrs sends no brick_id: glusterd numbers them.
        let default_id = format!("{}-client-{}", volume.name, j - 1);
        let brick = import_brick(peer, &format!("{p}.brick{j}"), Some(default_id))?;
        if !file_names.insert(brick.file_name()) {
            let path_key = format!("{p}.brick{j}.path");
            let problem = "names the same bricks file as an earlier brick";
            return Err(invalid(&path_key, &brick.path, problem));
        }
        volume.bricks.push(brick);
    }
    if thin_arbiter_count == 1 {
        // One per replica set, all the same brick: the model (like the store) keeps the first.
        for j in 1..=volume.subvol_count() {
            let brick = import_brick(peer, &format!("{p}.ta-brick{j}"), None)?;
            if j == 1 {
                volume.thin_arbiter_brick = Some(brick);
            }
        }
    }
    Ok(volume)
}

/// Refuses counts the model (and the store, which would refuse to load the volume) cannot
/// take.
fn check_layout(prefix: &str, volume: &Volume) -> Result<(), ExportError> {
    if volume.volume_type == VolumeType::Disperse
        && (volume.disperse_count == 0 || volume.redundancy_count == 0)
    {
        let key = format!("{prefix}.disperse_count");
        let value = format!("{}/{}", volume.disperse_count, volume.redundancy_count);
        return Err(invalid(
            &key,
            &value,
            "a disperse volume needs disperse_count and redundancy_count above 0",
        ));
    }
    if volume.dist_count() == 0 {
        let key = format!("{prefix}.replica_count");
        let value = volume.replica_count.to_string();
        return Err(invalid(&key, &value, "a replicate volume needs replicas"));
    }
    Ok(())
}

/// `op-version` and `client-op-version`: both or neither (then 1 and 1, a 3.3 peer).
fn op_versions(peer: &PeerExport<'_>, prefix: &str) -> Result<(u32, u32), ExportError> {
    let op_key = format!("{prefix}.op-version");
    let client_key = format!("{prefix}.client-op-version");
    let op = peer.u32_optional(&op_key)?.unwrap_or(0);
    let client = peer.u32_optional(&client_key)?.unwrap_or(0);
    let only_one = |unset_key: &str, set_key: &str, set: u32| {
        let problem = format!("absent or 0 while {set_key} is {set}");
        invalid(unset_key, "0", problem)
    };
    match (op, client) {
        (0, 0) => Ok((1, 1)),
        (0, _) => Err(only_one(&op_key, &client_key, client)),
        (_, 0) => Err(only_one(&client_key, &op_key, op)),
        both => Ok(both),
    }
}

/// `glusterd_import_new_brick` for the keys under `prefix` (`volume<i>.brick<j>`), given the
/// brick id to use when the peer sends none; or, without one, `glusterd_import_new_ta_brick`
/// (`volume<i>.ta-brick<j>`: no snapshot details, and the id is required, since glusterd would
/// store an empty one).
fn import_brick(
    peer: &PeerExport<'_>,
    prefix: &str,
    default_brick_id: Option<String>,
) -> Result<Brick, ExportError> {
    let key = |name: &str| format!("{prefix}.{name}");
    let hostname = peer.stored_text(&key("hostname"))?;
    if hostname.contains('/') {
        let problem = "a host name with '/' cannot name a bricks file";
        return Err(invalid(&key("hostname"), &hostname, problem));
    }
    let path = peer.stored_text(&key("path"))?;
    if !path.starts_with('/') {
        return Err(invalid(&key("path"), &path, "not an absolute path"));
    }
    let with_snap_details = default_brick_id.is_some();
    let brick_id = match (peer.text_optional(&key("brick_id"))?, default_brick_id) {
        (None, Some(id)) => id,
        _ => peer.stored_text(&key("brick_id"))?,
    };
    let mut brick = Brick {
        uuid: peer.uuid(&key("uuid"))?,
        real_path: path.clone(),
        decommissioned: peer.u32_optional(&key("decommissioned"))?.unwrap_or(0),
        brick_id,
        hostname,
        path,
        ..Brick::default()
    };
    if with_snap_details {
        brick.snap_status = peer.i32(&key("snap_status"))?;
        brick.device_path = peer.stored_text_or_empty(&key("device_path"))?;
        brick.fs_type = peer.stored_text_or_empty(&key("fs_type"))?;
        brick.mnt_opts = peer.stored_text_or_empty(&key("mnt_opts"))?;
        brick.mount_dir = peer.stored_text_or_empty(&key("mount_dir"))?;
    }
    Ok(brick)
}

// ---------------------------------------------------------------------------------------------
// Compare
// ---------------------------------------------------------------------------------------------

/// What a peer's export means for this node's volumes.
///
/// As in glusterd, one rejected volume rejects the peer: a caller that finds `rejected`
/// non-empty refuses the friend request (`GD_FRIEND_EVENT_RCVD_RJT`) and imports nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    /// Volumes to store from the peer, in the peer's order: those this node lacks, and those
    /// at a higher version on the peer (which replace the local ones).
    pub import: Vec<Volume>,
    /// Volumes at the same version with different checksums.
    pub rejected: Vec<Rejection>,
    /// Volumes this node has and the peer's export lacks, by name. glusterd's receiver does
    /// nothing about them (the peer imports them from this node's own export).
    pub local_only: Vec<String>,
    /// Volumes the peer is deleting (`stage_deleted`), by name: not imported.
    pub peer_deleting: Vec<String>,
}

impl Comparison {
    /// Records a volume to import, or one the peer is deleting (which glusterd's
    /// `glusterd_import_volinfo` skips without an error).
    fn take(&mut self, imported: Result<Volume, ExportError>) -> Result<(), ExportError> {
        match imported {
            Ok(volume) => self.import.push(volume),
            Err(ExportError::BeingDeleted { volume, .. }) => self.peer_deleting.push(volume),
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// A volume at the same version on both nodes whose checksums differ (glusterd: "Version of
/// Cksums … differ", and the peer is rejected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The volume.
    pub volume: String,
    /// Its version here.
    pub local_version: u32,
    /// Its version on the peer (the same, or there would be no rejection).
    pub peer_version: u32,
    /// The checksum here ([`volume_cksum`]).
    pub local_cksum: u32,
    /// The peer's `ckusm`.
    pub peer_cksum: u32,
    /// The export keys whose values differ between the two nodes, without the `volume<i>.`
    /// prefix (`version`, `brick2.path`, `opt-count`, …), sorted. List entries are matched by
    /// name, not position: a differing option is `option:<name>`, a geo-replication session
    /// `geo-rep:<name>`, a rebalance dict key `rebalance:<name>`. `ckusm` is left out. Empty
    /// when the difference is in what the export does not carry (`info` keys such as
    /// `stripe_count`, or keys brickd does not know).
    pub differing_keys: Vec<String>,
}

/// Compares a peer's export with this node's volumes (`local`), volume by volume, with
/// `glusterd_compare_friend_volume`'s rules: a volume missing here is imported (unless the
/// peer is deleting it); a higher version on the peer is imported; a lower one is left (the
/// peer will update from this node's export); the same version with a different checksum is
/// rejected, with the keys that differ.
///
/// A missing or garbled key is an error, as are two volumes of the same name in the dict; so
/// is any volume to import that [`import_volume`] refuses.
pub fn compare<'v>(
    local: impl IntoIterator<Item = &'v Volume>,
    peer: &PeerExport<'_>,
) -> Result<Comparison, ExportError> {
    let local: BTreeMap<&str, &Volume> = (local.into_iter())
        .map(|volume| (volume.name.as_str(), volume))
        .collect();
    let mut comparison = Comparison::default();
    let mut peer_names: HashMap<String, u32> = HashMap::new();
    let mut rejected_at: Vec<(u32, &Volume)> = Vec::new();
    for index in 1..=peer.volume_count()? {
        let name_key = format!("volume{index}.name");
        let name = peer.text(&name_key)?;
        if let Some(first) = peer_names.insert(name.clone(), index) {
            let problem = format!("the same volume as volume{first}");
            return Err(invalid(&name_key, &name, problem));
        }
        let Some(&volume) = local.get(name.as_str()) else {
            // glusterd needs the key for a volume it lacks: without it, the comparison fails.
            peer.u32(&format!("volume{index}.stage_deleted"))?;
            comparison.take(import_volume(peer, index))?;
            continue;
        };
        let peer_version = peer.u32(&format!("volume{index}.version"))?;
        if peer_version > volume.version {
            comparison.take(import_volume(peer, index))?;
        } else if peer_version == volume.version {
            let peer_cksum = peer.u32(&format!("volume{index}.ckusm"))?;
            let local_cksum = volume_cksum(volume);
            if peer_cksum != local_cksum {
                comparison.rejected.push(Rejection {
                    volume: name,
                    local_version: volume.version,
                    peer_version,
                    local_cksum,
                    peer_cksum,
                    differing_keys: Vec::new(),
                });
                rejected_at.push((index, volume));
            }
        }
    }
    if !rejected_at.is_empty() {
        let mut by_volume = peer_pairs_by_volume(peer);
        for (rejection, (index, volume)) in comparison.rejected.iter_mut().zip(rejected_at) {
            let theirs = by_volume.remove(&index).unwrap_or_default();
            rejection.differing_keys = differing_keys(volume, theirs);
        }
    }
    comparison.local_only = (local.keys())
        .filter(|name| !peer_names.contains_key(**name))
        .map(|name| (*name).to_owned())
        .collect();
    Ok(comparison)
}

/// The peer's pairs grouped by volume index, each key without its `volume<i>.` prefix.
fn peer_pairs_by_volume<'a>(peer: &PeerExport<'a>) -> HashMap<u32, Vec<(&'a str, &'a [u8])>> {
    let mut by_volume: HashMap<u32, Vec<(&'a str, &'a [u8])>> = HashMap::new();
    for (&key, &value) in &peer.pairs {
        let Some((prefix, rest)) = key.split_once('.') else {
            continue;
        };
        let Some(index) = prefix.strip_prefix("volume").and_then(numbered) else {
            continue;
        };
        by_volume.entry(index).or_default().push((rest, value));
    }
    by_volume
}

/// The number in `<digits>`, if the text is only digits.
fn numbered(digits: &str) -> Option<u32> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The lists inside a volume's export: name key, value key, and the label a differing entry
/// is reported with.
const LISTS: [(&str, &str, &str); 3] = [
    ("key", "value", "option"),
    ("secondary-num", "secondary-val", "geo-rep"),
    ("rebal-dict-key", "rebal-dict-value", "rebalance"),
];

/// The keys of `local`'s export and `theirs` (a peer's pairs of the same volume, prefix
/// stripped) whose values differ; see [`Rejection::differing_keys`].
fn differing_keys(local: &Volume, theirs: Vec<(&str, &[u8])>) -> Vec<String> {
    let mut ours = Dict::new();
    add_volume(&mut ours, 1, local);
    let ours = comparable(ours.iter().filter_map(|(key, value)| {
        let rest = key.strip_prefix("volume1.")?;
        Some((rest, value))
    }));
    let theirs = comparable(theirs);
    let mut keys: Vec<String> = ours
        .iter()
        .filter(|(key, value)| theirs.get(*key) != Some(*value))
        .map(|(key, _)| key.clone())
        .collect();
    keys.extend(
        theirs
            .keys()
            .filter(|key| !ours.contains_key(*key))
            .cloned(),
    );
    keys.sort();
    keys
}

/// A volume's exported pairs keyed for comparison: list entries by `<label>:<name>` instead of
/// their position, without `ckusm`.
fn comparable<'p>(
    pairs: impl IntoIterator<Item = (&'p str, &'p [u8])>,
) -> BTreeMap<String, &'p [u8]> {
    let pairs: HashMap<&str, &[u8]> = pairs.into_iter().collect();
    let mut out = BTreeMap::new();
    'pairs: for (&key, &value) in &pairs {
        if key == "ckusm" {
            continue;
        }
        for (name_key, value_key, label) in LISTS {
            if let Some(k) = key.strip_prefix(name_key).filter(|k| numbered(k).is_some()) {
                if let Some(&entry_value) = pairs.get(format!("{value_key}{k}").as_str()) {
                    let name = String::from_utf8_lossy(c_text(value));
                    out.insert(format!("{label}:{name}"), entry_value);
                    continue 'pairs;
                }
            }
            if let Some(k) = key
                .strip_prefix(value_key)
                .filter(|k| numbered(k).is_some())
            {
                if pairs.contains_key(format!("{name_key}{k}").as_str()) {
                    continue 'pairs;
                }
            }
        }
        out.insert(key.to_owned(), value);
    }
    out
}

/// The text a C reader sees: up to the first NUL.
fn c_text(value: &[u8]) -> &[u8] {
    value.split(|&b| b == 0).next().unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RebalanceState;
    use crate::proto::dict::DictLimits;
    use crate::store::Store;
    use std::path::PathBuf;

    /// `tests/golden/peer-export/` (its README says where each file comes from).
    fn golden(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/peer-export")
            .join(path)
    }

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(golden(path)).unwrap()
    }

    /// The `vols` dict 127.1.1.1 sent 127.1.1.3 in FRIEND_ADD (frame 20 of probe3.pcap).
    fn frame20() -> Vec<u8> {
        read("frame20-vols.bin")
    }

    /// The `vols` dict 127.1.1.3 sent back to 127.1.1.1 right after importing `cv` (frame 32).
    fn frame32() -> Vec<u8> {
        read("frame32-vols.bin")
    }

    /// `cv` as glusterd on 127.1.1.1 stored it, read by the store.
    fn golden_cv() -> Volume {
        Store::new(golden("")).load_volume("cv").unwrap()
    }

    /// `cv` as 127.1.1.1 held it in the run that created it (and sent frame 20): its options in
    /// `info` file order (loading the file reverses them).
    fn golden_cv_as_created() -> Volume {
        let mut cv = golden_cv();
        cv.options.reverse();
        cv
    }

    /// The `options` file of a node that never ran `volume set all`.
    fn global_options() -> Extra {
        vec![("global-option-version".into(), "0".into())]
    }

    fn encode(dict: &Dict) -> Vec<u8> {
        let mut out = Vec::new();
        dict.encode(&mut out);
        out
    }

    fn decode(bytes: &[u8]) -> Dict {
        Dict::decode(bytes, DictLimits::default()).unwrap().unwrap()
    }

    fn render_file(pairs: &render::Pairs) -> Vec<u8> {
        kv::render(pairs)
    }

    fn import_one(bytes: &[u8]) -> Volume {
        let dict = DictRef::decode(bytes, DictLimits::default())
            .unwrap()
            .unwrap();
        import_volume(&PeerExport::from(dict), 1).unwrap()
    }

    #[test]
    fn golden_checksums_are_the_stored_ones() {
        let info = read("vols/cv/info");
        let sum = VolumeChecksum::of_info(&info);
        assert_eq!(sum.file_text().into_bytes(), read("vols/cv/cksum"));
        let cv = golden_cv_as_created();
        assert_eq!(render_file(&render::volume_info(&cv)), info);
        assert_eq!(volume_cksum(&cv), sum.chained);
        // What frame 20 carries as volume1.ckusm.
        assert_eq!(volume_cksum(&cv), 466_386_678);
    }

    #[test]
    fn golden_export_is_glusterds_bytes() {
        let cv = golden_cv_as_created();
        let dict = export_volumes([&cv], &global_options(), "127.1.1.3");
        assert_eq!(dict.encoded_len(), frame20().len());
        assert_eq!(encode(&dict), frame20());
    }

    #[test]
    fn golden_import_renders_the_stored_files() {
        let imported = import_one(&frame20());
        // The importer holds the options in the reverse of the order they came in, and writes
        // them so: its `info` is 127.1.1.1's with the option lines reversed (glusterd's, seen
        // with two glusterds: a sender that had loaded its store sent them reversed, and the
        // importer's file came out as the sender's file).
        let mut as_sent = imported.clone();
        as_sent.options.reverse();
        assert_eq!(
            render_file(&render::volume_info(&as_sent)),
            read("vols/cv/info")
        );
        assert_eq!(imported.options[0].0, "performance.client-io-threads");
        let brick_files = ["127.1.1.1:-tmp-cap-b-1-cv", "127.1.1.2:-tmp-cap-b-2-cv"];
        for (brick, file) in imported.bricks.iter().zip(brick_files) {
            assert_eq!(brick.file_name(), file);
        }
        // 127.1.1.2's brick: everything its file says came in the dict.
        let brick2 = &imported.bricks[1];
        assert_eq!(
            render_file(&render::brick(brick2)),
            read("vols/cv/bricks/127.1.1.2:-tmp-cap-b-2-cv")
        );
        // 127.1.1.1 stored its own brick's statvfs f_fsid, which no dict carries: the node
        // that owns a brick fills it in.
        let mut brick1 = imported.bricks[0].clone();
        assert_eq!(brick1.brick_fsid, 0);
        brick1.brick_fsid = 4_046_335_008_924_857_074;
        assert_eq!(
            render_file(&render::brick(&brick1)),
            read("vols/cv/bricks/127.1.1.1:-tmp-cap-b-1-cv")
        );
        assert_eq!(
            render_file(&render::node_state(&imported.rebalance)),
            read("vols/cv/node_state.info")
        );
        assert_eq!(
            render_file(&render::snapd_info(imported.snapd_port)),
            read("vols/cv/snapd.info")
        );
        // The whole model value is the stored one, fsid aside.
        let mut stored = golden_cv();
        stored.bricks[0].brick_fsid = 0;
        assert_eq!(imported, stored);
    }

    #[test]
    fn golden_reexport_after_import_is_what_glusterd_sent_back() {
        let imported = import_one(&frame20());
        let dict = export_volumes([&imported], &global_options(), "127.1.1.1");
        assert_eq!(encode(&dict), frame32());
    }

    // -----------------------------------------------------------------------------------------
    // Round trips
    // -----------------------------------------------------------------------------------------

    fn uuid(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn brick(volume: &str, host: &str, index: usize) -> Brick {
        let path = format!("/bricks/{volume}/b{index}");
        Brick {
            uuid: uuid(host.len() as u8),
            hostname: host.into(),
            real_path: path.clone(),
            path,
            brick_id: format!("{volume}-client-{index}"),
            mount_dir: format!("/b{index}"),
            ..Brick::default()
        }
    }

    fn bricks(volume: &str, count: usize) -> Vec<Brick> {
        let hosts = ["node-a", "node-bb", "node-ccc"];
        (0..count).map(|i| brick(volume, hosts[i % 3], i)).collect()
    }

    fn with_options(volume: Volume, options: &[(&str, &str)]) -> Volume {
        Volume {
            options: (options.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..volume
        }
    }

    fn distribute() -> Volume {
        let volume = Volume {
            brick_count: 3,
            bricks: bricks("dist", 3),
            username: Some("user-dist".into()),
            password: Some("secret".into()),
            op_version: 40000,
            ..Volume::new_distribute("dist", uuid(1))
        };
        with_options(volume, &[("nfs.disable", "on"), ("user.a", "x=y")])
    }

    fn replicate() -> Volume {
        let volume = Volume {
            volume_type: VolumeType::Replicate,
            brick_count: 6,
            sub_count: 3,
            replica_count: 3,
            version: 7,
            status: VolumeStatus::Started,
            client_op_version: 30800,
            op_version: 40000,
            bricks: bricks("rep", 6),
            extra: vec![
                ("secondary1".into(), "a:ssh://root@geo::secondary".into()),
                ("slave2".into(), "b:ssh://root@geo2::slave".into()),
            ],
            rebalance: RebalanceState {
                command: 1,
                status: 3,
                id: uuid(9),
                extra: vec![
                    ("rebalance-status".into(), "done".into()),
                    ("node-uuid".into(), uuid(7).to_string()),
                ],
                ..RebalanceState::default()
            },
            ..Volume::new_distribute("rep", uuid(2))
        };
        with_options(
            volume,
            &[
                ("cluster.granular-entry-heal", "on"),
                ("storage.fips-mode-rchecksum", "on"),
                ("nfs.disable", "on"),
            ],
        )
    }

    fn disperse() -> Volume {
        Volume {
            volume_type: VolumeType::Disperse,
            brick_count: 12,
            sub_count: 6,
            disperse_count: 6,
            redundancy_count: 2,
            transport: Transport::TcpRdma,
            bricks: bricks("ec", 12),
            snap_max_hard_limit: 100,
            quota_version: 2,
            ..Volume::new_distribute("ec", uuid(3))
        }
    }

    fn arbiter() -> Volume {
        let mut bricks = bricks("arb", 3);
        bricks[2].decommissioned = 1;
        bricks[1].snap_status = 1;
        bricks[1].device_path = "/dev/vg/snap".into();
        bricks[1].fs_type = "xfs".into();
        bricks[1].mnt_opts = "rw,noatime".into();
        let volume = Volume {
            volume_type: VolumeType::Replicate,
            brick_count: 3,
            sub_count: 3,
            replica_count: 3,
            arbiter_count: 1,
            bricks,
            restored_from_snap: uuid(5),
            parent_volname: "origin".into(),
            ..Volume::new_distribute("arb", uuid(4))
        };
        with_options(volume, &[("performance.client-io-threads", "off")])
    }

    fn thin_arbiter() -> Volume {
        Volume {
            volume_type: VolumeType::Replicate,
            brick_count: 4,
            sub_count: 2,
            replica_count: 2,
            thin_arbiter_count: 1,
            bricks: bricks("ta", 4),
            // glusterd sends no snapshot details (mount_dir among them) for a thin arbiter.
            thin_arbiter_brick: Some(Brick {
                brick_id: "ta-ta-2".into(),
                mount_dir: String::new(),
                ..brick("ta", "node-ta", 9)
            }),
            ..Volume::new_distribute("ta", uuid(6))
        }
    }

    #[test]
    fn each_replica_set_sends_the_thin_arbiter_brick_with_its_own_id() {
        let bytes = encode(&export_volumes(
            &[thin_arbiter()],
            &global_options(),
            "peer",
        ));
        let dict = DictRef::decode(&bytes, DictLimits::default())
            .unwrap()
            .unwrap();
        let export = PeerExport::from(dict);
        let id = |j: u32| {
            export
                .text_optional(&format!("volume1.ta-brick{j}.brick_id"))
                .unwrap()
        };
        // The clients of two sets of two: ta-0, ta-1, ta-ta-2, ta-3, ta-4, ta-ta-5.
        assert_eq!(id(1).as_deref(), Some("ta-ta-2"));
        assert_eq!(id(2).as_deref(), Some("ta-ta-5"));
        assert_eq!(id(3), None);
        // Read back, the volume keeps the first.
        let imported = import_volume(&export, 1).unwrap();
        assert_eq!(imported.thin_arbiter_brick.unwrap().brick_id, "ta-ta-2");
    }

    fn all_types() -> Vec<Volume> {
        vec![
            distribute(),
            replicate(),
            disperse(),
            arbiter(),
            thin_arbiter(),
        ]
    }

    /// One hop: the export, read back by a receiver.
    fn hop(volumes: &[Volume]) -> (Vec<u8>, Vec<Volume>) {
        let bytes = encode(&export_volumes(volumes, &global_options(), "peer"));
        let dict = DictRef::decode(&bytes, DictLimits::default())
            .unwrap()
            .unwrap();
        let export = PeerExport::from(dict);
        let count = export.volume_count().unwrap();
        let imported = (1..=count)
            .map(|i| import_volume(&export, i).unwrap())
            .collect();
        (bytes, imported)
    }

    /// A volume with its lists sorted: equal for two volumes that hold the same entries.
    fn sorted_lists(mut volume: Volume) -> Volume {
        volume.options.sort();
        volume.extra.sort();
        volume.rebalance.extra.sort();
        volume
    }

    #[test]
    fn export_import_keeps_every_field_of_every_volume_type() {
        let volumes = all_types();
        let (_, imported) = hop(&volumes);
        // Numbered by name, as glusterd's volume list is sorted.
        let names: Vec<&str> = imported.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["arb", "dist", "ec", "rep", "ta"]);
        for original in volumes {
            let got = imported.iter().find(|v| v.name == original.name).unwrap();
            // Only what a node keeps of itself is lost: the rebalance counters and status.
            let expected = Volume {
                rebalance: RebalanceState {
                    command: original.rebalance.command,
                    id: original.rebalance.id,
                    op: original.rebalance.op,
                    extra: original.rebalance.extra.clone(),
                    ..RebalanceState::default()
                },
                ..original.clone()
            };
            assert_eq!(
                sorted_lists(got.clone()),
                sorted_lists(expected),
                "{}",
                original.name
            );
            assert_eq!(
                volume_cksum(got),
                volume_cksum(&original),
                "{}",
                original.name
            );
        }
    }

    #[test]
    fn each_hop_reverses_the_lists_like_glusterd_and_two_hops_give_the_same_bytes() {
        let (first, imported) = hop(&all_types());
        let (second, imported_again) = hop(&imported);
        let (third, _) = hop(&imported_again);
        assert_eq!(third, first);
        assert_ne!(second, first);
        assert_eq!(second.len(), first.len());
        // The second export says the same as the first: a receiver finds nothing to do.
        let first_dict = decode(&first);
        let comparison = compare(&imported_again, &PeerExport::from(&first_dict)).unwrap();
        assert_eq!(comparison, Comparison::default());
        let second_dict = decode(&second);
        let comparison = compare(&all_types(), &PeerExport::from(&second_dict)).unwrap();
        assert_eq!(comparison, Comparison::default());
    }

    #[test]
    fn a_volume_with_one_entry_per_list_round_trips_byte_for_byte() {
        let volume = arbiter();
        let (first, imported) = hop(std::slice::from_ref(&volume));
        let (second, _) = hop(&imported);
        assert_eq!(second, first);
    }

    #[test]
    fn an_empty_node_exports_counts_and_global_options_only() {
        // In memory order: an `options` file of global-option-version=3 then
        // cluster.brick-multiplex=on, read back each line to the head.
        let options: Extra = vec![
            ("cluster.brick-multiplex".into(), "on".into()),
            ("global-option-version".into(), "3".into()),
        ];
        let dict = export_volumes([], &options, "h");
        let wire: Vec<(&str, &[u8])> = dict.iter_wire_order().collect();
        assert_eq!(
            wire,
            [
                ("global-opt-count", &b"2\0"[..]),
                ("global.val2", b"3\0"),
                ("global.key2", b"global-option-version\0"),
                ("global.val1", b"on\0"),
                ("global.key1", b"cluster.brick-multiplex\0"),
                ("count", b"0\0"),
                ("snap_count", b"0\0"),
                ("missed_snap_count", b"0\0"),
                ("hostname_in_cluster", b"h\0"),
            ]
        );
    }

    // -----------------------------------------------------------------------------------------
    // Bad input
    // -----------------------------------------------------------------------------------------

    fn with(bytes: &[u8], change: impl FnOnce(&mut Dict)) -> Dict {
        let mut dict = decode(bytes);
        change(&mut dict);
        dict
    }

    fn import_from(dict: &Dict) -> Result<Volume, ExportError> {
        import_volume(&PeerExport::from(dict), 1)
    }

    fn missing(key: &str) -> ExportError {
        ExportError::Value(DictGetError::Missing { key: key.into() })
    }

    /// Keys import_volume does without: not about the volume, or left out by older peers
    /// (glusterd's importer takes a default for them).
    fn is_optional(key: &str) -> bool {
        let Some(rest) = key.strip_prefix("volume1.") else {
            return key != "count";
        };
        let rest = rest.split_once('.').map_or(rest, |(brick, field)| {
            if brick.starts_with("brick") {
                field
            } else {
                rest
            }
        });
        [
            "stage_deleted",
            "parent_volname",
            "username",
            "password",
            "rebalance-id",
            "rebalance-op",
            "quota-xattr-version",
            "decommissioned",
            "brick_id",
            "replica_count",
            "arbiter_count",
            "thin_arbiter_count",
            "disperse_count",
            "redundancy_count",
            "dist_count",
        ]
        .contains(&rest)
    }

    #[test]
    fn every_missing_key_is_named_or_has_a_default() {
        let bytes = frame20();
        let keys: Vec<String> = decode(&bytes).iter().map(|(k, _)| k.to_owned()).collect();
        for key in &keys {
            let dict = with(&bytes, |d| {
                d.remove(key);
            });
            let result = import_from(&dict);
            if is_optional(key) {
                let volume = result.unwrap_or_else(|e| panic!("without {key}: {e}"));
                assert_eq!(volume.name, "cv");
            } else if key == "volume1.op-version" || key == "volume1.client-op-version" {
                // Both or neither.
                assert!(
                    matches!(&result, Err(ExportError::Invalid { key: got, .. }) if got == key),
                    "{result:?}"
                );
            } else {
                assert_eq!(result.unwrap_err(), missing(key), "without {key}");
            }
            // A peer without it: compare never panics either.
            let _ = compare([], &PeerExport::from(&dict));
            let _ = compare([&golden_cv()], &PeerExport::from(&dict));
        }
    }

    #[test]
    fn defaults_for_keys_older_peers_leave_out() {
        let dict = with(&frame20(), |d| {
            for key in [
                "replica_count",
                "op-version",
                "client-op-version",
                "brick2.brick_id",
            ] {
                d.remove(&format!("volume1.{key}"));
            }
        });
        let volume = import_from(&dict).unwrap();
        assert_eq!(volume.replica_count, 2); // sub_count, as the store reads a replicate volume
        assert_eq!((volume.op_version, volume.client_op_version), (1, 1));
        assert_eq!(volume.bricks[1].brick_id, "cv-client-1");
    }

    #[test]
    fn garbled_values_are_errors_naming_the_key() {
        let bytes = frame20();
        let keys: Vec<String> = decode(&bytes).iter().map(|(k, _)| k.to_owned()).collect();
        for garbage in [
            &b"x\0"[..],
            b"-1\0",
            b"\xff\xfe\0",
            b"",
            b"99999999999999999999999\0",
        ] {
            for key in &keys {
                let dict = with(&bytes, |d| d.set_bin(key, garbage));
                if let Err(e) = import_from(&dict) {
                    let text = e.to_string();
                    assert!(text.contains(key.as_str()), "{key} = {garbage:?}: {text}");
                }
                let _ = compare([&golden_cv()], &PeerExport::from(&dict));
            }
        }
    }

    #[test]
    fn counts_are_capped_before_use() {
        let bytes = frame20();
        let over = |key: &str, value: &str| {
            let dict = with(&bytes, |d| d.set_str(key, value));
            import_from(&dict).unwrap_err()
        };
        assert_eq!(
            over("count", "4294967295"),
            ExportError::OverLimit {
                key: "count".into(),
                value: u32::MAX,
                max: VOLUMES_PER_DICT_MAX
            }
        );
        assert!(matches!(
            over("volume1.brick_count", "10001"),
            ExportError::OverLimit {
                max: BRICKS_PER_VOLUME_MAX,
                ..
            }
        ));
        assert!(matches!(
            over("volume1.opt-count", "4097"),
            ExportError::OverLimit {
                max: OPTIONS_PER_VOLUME_MAX,
                ..
            }
        ));
        assert!(matches!(
            over("volume1.gsync-count", "99999"),
            ExportError::OverLimit {
                max: GEO_REP_SESSIONS_PER_VOLUME_MAX,
                ..
            }
        ));
        assert!(matches!(
            over("volume1.rebal-dict-count", "1025"),
            ExportError::OverLimit {
                max: REBALANCE_KEYS_PER_VOLUME_MAX,
                ..
            }
        ));
        // Negative and out-of-range counts are value errors.
        for value in ["-1", "-2147483648", "4294967296", "0x"] {
            let error = over("volume1.opt-count", value);
            assert!(matches!(error, ExportError::Value(_)), "{value}: {error}");
        }
        // Within the cap, a count larger than what is there stops at the first missing key.
        assert_eq!(
            over("volume1.brick_count", "3"),
            missing("volume1.brick3.hostname")
        );
        assert_eq!(over("volume1.opt-count", "6"), missing("volume1.key6"));
        assert_eq!(
            over("volume1.gsync-count", "1"),
            missing("volume1.secondary-num1")
        );
        assert_eq!(
            over("volume1.thin_arbiter_count", "1"),
            missing("volume1.ta-brick1.hostname")
        );
    }

    #[test]
    fn values_the_store_cannot_hold_or_the_model_cannot_take_are_refused() {
        let bytes = frame20();
        let refused = |key: &str, value: &str| {
            let dict = with(&bytes, |d| d.set_str(key, value));
            match import_from(&dict) {
                Err(ExportError::Invalid { key: got, .. }) => assert_eq!(got, key, "{value:?}"),
                other => panic!("{key} = {value:?}: {other:?}"),
            }
        };
        for name in ["", "../etc", "a/b", "-x", "a b", &"v".repeat(257)] {
            refused("volume1.name", name);
        }
        refused("volume1.type", "6");
        refused("volume1.status", "3");
        refused("volume1.transport_type", "3");
        refused("volume1.volume_id", "2a68f916");
        refused("volume1.rebalance-id", "not-a-uuid");
        refused("volume1.brick1.uuid", "");
        refused("volume1.key2", "no-dot");
        refused("volume1.key2", "a=b.c");
        refused("volume1.key2", "geo.slave");
        refused("volume1.value2", "");
        refused("volume1.value2", "two\nlines");
        refused("volume1.username", "");
        refused("volume1.parent_volname", "");
        refused("volume1.brick1.hostname", "a/b");
        refused("volume1.brick1.hostname", "");
        refused("volume1.brick1.path", "relative/path");
        refused("volume1.brick1.mount_dir", "x\ny");
        let dict = with(&bytes, |d| {
            d.set_str("volume1.brick2.hostname", "127.1.1.1");
            d.set_str("volume1.brick2.path", "/tmp/cap/b/1/cv");
        });
        match import_from(&dict) {
            Err(ExportError::Invalid { key, problem, .. }) => {
                assert_eq!(
                    (key.as_str(), problem.as_str()),
                    (
                        "volume1.brick2.path",
                        "names the same bricks file as an earlier brick"
                    )
                )
            }
            other => panic!("a brick twice: {other:?}"),
        }
        refused("volume1.is_snap_volume", "1");
        refused("volume1.thin_arbiter_count", "2");
        refused("volume1.client-op-version", "0");
        refused("volume1.replica_count", "0");
        let dict = with(&bytes, |d| {
            d.set_str("volume1.type", "4");
            d.set_str("volume1.disperse_count", "2");
        });
        assert!(matches!(
            import_from(&dict),
            Err(ExportError::Invalid { .. })
        ));
    }

    #[test]
    fn volume_index_and_deletion() {
        let dict = decode(&frame20());
        let export = PeerExport::from(&dict);
        for index in [0, 2, u32::MAX] {
            assert_eq!(
                import_volume(&export, index),
                Err(ExportError::NoSuchVolume { index, count: 1 })
            );
        }
        let dict = with(&frame20(), |d| d.set_str("volume1.stage_deleted", "1"));
        assert_eq!(
            import_from(&dict),
            Err(ExportError::BeingDeleted {
                index: 1,
                volume: "cv".into()
            })
        );
    }

    #[test]
    fn duplicate_keys_read_as_glusterd_reads_them() {
        // The pair later on the wire counts.
        let mut dict = decode(&frame20());
        dict.push("volume1.version", b"5\0".to_vec());
        assert_eq!(import_from(&dict).unwrap().version, 5);
        // An option named twice keeps its first place and its later value; held in the reverse
        // of wire order, the first place is the last.
        let dict = with(&frame20(), |d| {
            d.set_str("volume1.key4", "cluster.granular-entry-heal");
            d.set_str("volume1.value4", "off");
        });
        let options = import_from(&dict).unwrap().options;
        assert_eq!(options.len(), 4);
        assert_eq!(
            options[3],
            ("cluster.granular-entry-heal".into(), "off".into())
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_dicts_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Ok(Some(dict)) = DictRef::decode(&bytes, DictLimits::default()) {
                let export = PeerExport::from(dict);
                let _ = import_volume(&export, 1);
                let _ = compare([&golden_cv()], &export);
            }
        }

        #[test]
        fn mangled_golden_dicts_never_panic(
            changes in proptest::collection::vec(
                (0usize..68, proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..12))),
                1..8,
            ),
        ) {
            let mut dict = decode(&frame20());
            let keys: Vec<String> = dict.iter().map(|(k, _)| k.to_owned()).collect();
            for (at, value) in changes {
                let key = &keys[at % keys.len()];
                match value {
                    Some(value) => dict.set_bin(key, &value),
                    None => {
                        dict.remove(key);
                    }
                }
            }
            let export = PeerExport::from(&dict);
            let _ = import_volume(&export, 1);
            let _ = compare([&golden_cv()], &export);
            let _ = compare([], &export);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Compare
    // -----------------------------------------------------------------------------------------

    fn compare_with_frame20(local: &[Volume]) -> Result<Comparison, ExportError> {
        let dict = decode(&frame20());
        compare(local, &PeerExport::from(&dict))
    }

    #[test]
    fn a_volume_missing_here_is_imported() {
        let comparison = compare_with_frame20(&[]).unwrap();
        assert_eq!(comparison.import, [import_one(&frame20())]);
        assert!(comparison.rejected.is_empty());
        assert!(comparison.local_only.is_empty());
    }

    #[test]
    fn a_newer_volume_on_the_peer_is_imported_an_older_one_left() {
        let mut older_here = golden_cv();
        older_here.version = 0;
        let comparison = compare_with_frame20(&[older_here]).unwrap();
        assert_eq!(comparison.import.len(), 1);
        assert_eq!(comparison.import[0].version, 1);

        let mut newer_here = golden_cv();
        newer_here.version = 2;
        newer_here.options.clear(); // a later change: the peer will take it from us
        assert_eq!(
            compare_with_frame20(&[newer_here]).unwrap(),
            Comparison::default()
        );
    }

    #[test]
    fn the_same_volume_is_left_alone() {
        assert_eq!(
            compare_with_frame20(&[golden_cv()]).unwrap(),
            Comparison::default()
        );
    }

    #[test]
    fn same_version_and_different_checksum_is_rejected_with_the_keys_that_differ() {
        let mut cv = golden_cv();
        cv.options.retain(|(k, _)| k != "nfs.disable");
        cv.options.push(("nfs.disable".into(), "off".into()));
        cv.options.push(("user.extra".into(), "1".into()));
        cv.bricks[1].path = "/tmp/cap/b/2/other".into();
        let comparison = compare_with_frame20(std::slice::from_ref(&cv)).unwrap();
        assert!(comparison.import.is_empty());
        assert_eq!(
            comparison.rejected,
            [Rejection {
                volume: "cv".into(),
                local_version: 1,
                peer_version: 1,
                local_cksum: volume_cksum(&cv),
                peer_cksum: 466_386_678,
                differing_keys: vec![
                    "brick2.path".into(),
                    "opt-count".into(),
                    "option:nfs.disable".into(),
                    "option:user.extra".into(),
                ],
            }]
        );
    }

    #[test]
    fn a_difference_outside_the_export_is_rejected_with_no_keys() {
        let mut cv = golden_cv();
        cv.stripe_count = Some(1); // in info (so in the checksum), not in the export
        let comparison = compare_with_frame20(&[cv]).unwrap();
        assert_eq!(comparison.rejected.len(), 1);
        assert!(comparison.rejected[0].differing_keys.is_empty());
    }

    #[test]
    fn volumes_only_here_are_listed() {
        let mut other = golden_cv();
        other.name = "another".into();
        let comparison = compare_with_frame20(&[golden_cv(), other]).unwrap();
        assert_eq!(comparison.local_only, ["another"]);
        assert!(comparison.import.is_empty() && comparison.rejected.is_empty());
    }

    #[test]
    fn a_volume_the_peer_is_deleting_is_not_imported() {
        let dict = with(&frame20(), |d| d.set_str("volume1.stage_deleted", "1"));
        let comparison = compare([], &PeerExport::from(&dict)).unwrap();
        assert_eq!(comparison.peer_deleting, ["cv"]);
        assert!(comparison.import.is_empty());
        // An update of a volume the peer is deleting is skipped too.
        let mut older_here = golden_cv();
        older_here.version = 0;
        let comparison = compare([&older_here], &PeerExport::from(&dict)).unwrap();
        assert_eq!(comparison.peer_deleting, ["cv"]);
        // glusterd needs stage_deleted for a volume it lacks.
        let dict = with(&frame20(), |d| {
            d.remove("volume1.stage_deleted");
        });
        assert_eq!(
            compare([], &PeerExport::from(&dict)),
            Err(missing("volume1.stage_deleted"))
        );
        assert!(compare([&golden_cv()], &PeerExport::from(&dict)).is_ok());
    }

    #[test]
    fn two_volumes_of_one_name_are_refused() {
        let (bytes, _) = hop(&[distribute(), replicate()]);
        let dict = with(&bytes, |d| d.set_str("volume2.name", "dist"));
        assert!(matches!(
            compare([], &PeerExport::from(&dict)),
            Err(ExportError::Invalid { key, .. }) if key == "volume2.name"
        ));
    }

    #[test]
    fn several_volumes_compare_independently() {
        let mut here = all_types();
        here[0].version += 1; // dist: newer here
        here[1].options[0].1 = "off".into(); // rep: same version, different options
        here.remove(2); // ec: missing here
        let (bytes, _) = hop(&all_types());
        let dict = decode(&bytes);
        let comparison = compare(&here, &PeerExport::from(&dict)).unwrap();
        let imported: Vec<&str> = comparison.import.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(imported, ["ec"]);
        assert_eq!(comparison.rejected.len(), 1);
        assert_eq!(comparison.rejected[0].volume, "rep");
        assert_eq!(
            comparison.rejected[0].differing_keys,
            ["option:cluster.granular-entry-heal"]
        );
    }
}
