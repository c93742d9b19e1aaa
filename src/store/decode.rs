//! Parsed store files → model, with glusterd's defaults and checks. Pure; `load` reads the
//! files.
//!
//! Keys are matched exactly (glusterd compares most of them by prefix, which agrees on every
//! key glusterd writes). Numbers must be decimal (glusterd's `atoi` would read garbage as 0).
//! A key that appears twice in one file is an error (glusterd lets the last one win).

use super::error::StoreError;
use super::kv::{KvEntry, KvFile};
use super::layout;
use crate::model::{
    Brick, Extra, NodeInfo, Peer, RebalanceState, Transport, Uuid, Volume, VolumeStatus,
    VolumeType, OP_VERSION_MAX, OP_VERSION_MIN,
};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

/// A `brick-N` or `ta-brick-N` line of `info`: the bricks file it names.
#[derive(Debug, Clone)]
pub(crate) struct BrickRef {
    pub(crate) key: String,
    pub(crate) file_name: String,
    pub(crate) line: usize,
}

/// A decoded `info` file: the volume without its bricks, and where to find them.
#[derive(Debug)]
pub(crate) struct VolumeInfo {
    pub(crate) volume: Volume,
    pub(crate) bricks: Vec<BrickRef>,
    pub(crate) thin_arbiter_brick: Option<BrickRef>,
}

/// One file being decoded, for error messages.
struct Fields<'a> {
    path: &'a Path,
    file: &'a KvFile,
}

impl<'a> Fields<'a> {
    /// Checks that no key appears twice.
    fn new(path: &'a Path, file: &'a KvFile) -> Result<Fields<'a>, StoreError> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for entry in &file.entries {
            if let Some(first) = seen.insert(&entry.key, entry.line) {
                return Err(StoreError::Inconsistent {
                    path: path.to_path_buf(),
                    problem: format!(
                        "key {} appears twice (lines {first} and {})",
                        entry.key, entry.line
                    ),
                });
            }
        }
        Ok(Fields { path, file })
    }

    fn bad_value(&self, entry: &KvEntry, problem: impl Into<String>) -> StoreError {
        StoreError::Value {
            path: self.path.to_path_buf(),
            line: entry.line,
            key: entry.key.clone(),
            value: entry.value.clone(),
            problem: problem.into(),
        }
    }

    fn missing(&self, key: &str, hint: String) -> StoreError {
        StoreError::MissingKey {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            hint,
        }
    }

    fn inconsistent(&self, problem: String) -> StoreError {
        StoreError::Inconsistent {
            path: self.path.to_path_buf(),
            problem,
        }
    }

    fn number<T: FromStr>(&self, entry: &KvEntry) -> Result<T, StoreError> {
        let digits = entry.value.strip_prefix('-').unwrap_or(&entry.value);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.bad_value(entry, "not a decimal number"));
        }
        entry
            .value
            .parse()
            .map_err(|_| self.bad_value(entry, "number out of range"))
    }

    fn uuid(&self, entry: &KvEntry) -> Result<Uuid, StoreError> {
        Uuid::parse(&entry.value).map_err(|e| self.bad_value(entry, e.to_string()))
    }

    fn require(&self, key: &str) -> Result<&'a KvEntry, StoreError> {
        self.file
            .get(key)
            .ok_or_else(|| self.missing(key, String::new()))
    }
}

/// `glusterd.info`. A missing `operating-version` means an upgrade from a release that did
/// not store one: glusterd then runs at [`OP_VERSION_MIN`], and so does brickd.
pub(crate) fn node_info(path: &Path, file: &KvFile) -> Result<NodeInfo, StoreError> {
    let fields = Fields::new(path, file)?;
    let uuid_entry = file.get("UUID").ok_or_else(|| {
        fields.missing(
            "UUID",
            "; the node's identity is unreadable. brickd will not invent a new one over an \
             existing file: restore it, or delete the file to make this a new node"
                .to_string(),
        )
    })?;
    let uuid = fields.uuid(uuid_entry)?;
    if uuid.is_nil() {
        return Err(fields.bad_value(uuid_entry, "the node UUID cannot be nil"));
    }
    let mut node = NodeInfo {
        uuid,
        op_version: OP_VERSION_MIN,
        extra: Extra::new(),
    };
    for entry in &file.entries {
        match entry.key.as_str() {
            "UUID" => {}
            "operating-version" => {
                let op_version: u32 = fields.number(entry)?;
                if !(OP_VERSION_MIN..=OP_VERSION_MAX).contains(&op_version) {
                    return Err(fields.bad_value(
                        entry,
                        format!(
                            "glusterd 10.3 supports op-versions {OP_VERSION_MIN} to {OP_VERSION_MAX}"
                        ),
                    ));
                }
                node.op_version = op_version;
            }
            _ => node.extra.push((entry.key.clone(), entry.value.clone())),
        }
    }
    Ok(node)
}

/// `glusterd.upgrade`: its `maximum-operating-version`, if any.
pub(crate) fn upgrade(path: &Path, file: &KvFile) -> Result<Option<u32>, StoreError> {
    let fields = Fields::new(path, file)?;
    file.get("maximum-operating-version")
        .map(|entry| fields.number(entry))
        .transpose()
}

/// `options`: every pair, in order.
pub(crate) fn global_options(path: &Path, file: &KvFile) -> Result<Extra, StoreError> {
    Fields::new(path, file)?;
    Ok(file
        .entries
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect())
}

/// `peers/<name>` read as glusterd reads one at start-up: a key starting with `uuid` gives
/// the UUID, `state` the state (C's `atoi`: 0 for a word), `hostname` a name (`hostname1=`,
/// `hostname2=`, … and the older `hostname=`); other keys are kept as they are. `Err` says why
/// glusterd would skip the file as malformed: no parsable UUID, or no name.
pub(crate) fn peer_as_glusterd(file: &KvFile) -> Result<Peer, String> {
    let mut uuid = None;
    let mut peer = Peer {
        uuid: Uuid::NIL,
        state: 0,
        hostnames: Vec::new(),
        extra: Extra::new(),
    };
    for entry in &file.entries {
        let (key, value) = (entry.key.as_str(), entry.value.as_str());
        if key.starts_with("uuid") {
            uuid = Uuid::parse(value).ok().filter(|u| *u != Uuid::NIL);
        } else if key.starts_with("state") {
            peer.state = atoi(value).clamp(0, i64::from(u32::MAX)) as u32;
        } else if key.starts_with("hostname") {
            peer.hostnames.push(value.to_string());
        } else {
            peer.extra.push((entry.key.clone(), entry.value.clone()));
        }
    }
    peer.uuid = uuid.ok_or("no parsable uuid= line")?;
    if peer.hostnames.is_empty() {
        return Err("no hostname line".to_string());
    }
    Ok(peer)
}

/// C's `atoi`: leading blanks, a sign, the digits that follow; 0 when there are none.
fn atoi(text: &str) -> i64 {
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative {
        -n
    } else {
        n
    }
}

/// Whether an `info` key is a geo-replication secondary entry (glusterd puts keys containing
/// "secondary" or "slave" into `gsync_secondaries`, written after the options).
fn is_geo_rep_key(key: &str) -> bool {
    key.contains("secondary") || key.contains("slave")
}

/// `vols/<name>/info`.
pub(crate) fn volume_info(
    name: &str,
    path: &Path,
    file: &KvFile,
) -> Result<VolumeInfo, StoreError> {
    let fields = Fields::new(path, file)?;
    let type_entry = fields.require("type")?;
    let type_number: u32 = fields.number(type_entry)?;
    let volume_type = VolumeType::from_number(type_number).ok_or_else(|| {
        fields.bad_value(
            type_entry,
            "not a volume type glusterd knows (0 distribute, 1 stripe, 2 replicate, \
             3 stripe-replicate, 4 disperse, 5 tier)",
        )
    })?;
    let status_entry = fields.require("status")?;
    let status = VolumeStatus::from_number(fields.number(status_entry)?).ok_or_else(|| {
        fields.bad_value(
            status_entry,
            "not a volume status (0 created, 1 started, 2 stopped)",
        )
    })?;
    let count_entry = fields.require("count")?;
    let brick_count: u32 = fields.number(count_entry)?;
    let volume_id = fields.uuid(fields.require("volume-id")?)?;

    // A key the file lacks keeps what glusterd assumes for it: a new distribute volume's
    // values, except the versions (0 until the file says).
    let mut volume = Volume {
        volume_type,
        brick_count,
        status,
        version: 0,
        op_version: 0,
        client_op_version: 0,
        ..Volume::new_distribute(name, volume_id)
    };
    let mut bricks: Vec<(usize, BrickRef)> = Vec::new();
    let mut ta_bricks: Vec<(usize, BrickRef)> = Vec::new();
    for entry in &file.entries {
        let key = entry.key.as_str();
        match key {
            "type" | "count" | "status" | "volume-id" => {}
            "sub_count" => volume.sub_count = fields.number(entry)?,
            "replica_count" => volume.replica_count = fields.number(entry)?,
            "stripe_count" => volume.stripe_count = Some(fields.number(entry)?),
            "arbiter_count" => volume.arbiter_count = fields.number(entry)?,
            "disperse_count" => volume.disperse_count = fields.number(entry)?,
            "redundancy_count" => volume.redundancy_count = fields.number(entry)?,
            "version" => volume.version = fields.number(entry)?,
            "transport-type" => {
                volume.transport =
                    Transport::from_number(fields.number(entry)?).ok_or_else(|| {
                        fields.bad_value(entry, "not a transport (0 tcp, 1 rdma, 2 tcp,rdma)")
                    })?
            }
            "username" => volume.username = Some(entry.value.clone()),
            "password" => volume.password = Some(entry.value.clone()),
            "op-version" => volume.op_version = fields.number(entry)?,
            "client-op-version" => volume.client_op_version = fields.number(entry)?,
            "quota-version" => volume.quota_version = fields.number(entry)?,
            "tier-enabled" => volume.tier_enabled = fields.number(entry)?,
            "thin_arbiter_count" => volume.thin_arbiter_count = fields.number(entry)?,
            "parent_volname" => volume.parent_volname = entry.value.clone(),
            "restored_from_snap" => volume.restored_from_snap = fields.uuid(entry)?,
            "snap-max-hard-limit" => volume.snap_max_hard_limit = fields.number(entry)?,
            _ => {
                let brick_ref = || BrickRef {
                    key: entry.key.clone(),
                    file_name: entry.value.clone(),
                    line: entry.line,
                };
                let pair = (entry.key.clone(), entry.value.clone());
                if let Some(index) = layout::indexed_key(key, "brick-") {
                    bricks.push((index, brick_ref()));
                } else if let Some(index) = layout::indexed_key(key, "ta-brick-") {
                    ta_bricks.push((index, brick_ref()));
                } else if is_geo_rep_key(key) || !key.contains('.') {
                    volume.extra.push(pair);
                } else {
                    volume.options.push(pair);
                }
            }
        }
    }

    // Held as glusterd holds what it reads: last key first (see `Volume::options_from_file`).
    volume.options = Volume::options_from_file(std::mem::take(&mut volume.options));

    // glusterd's "backward compatibility" block: the replica count follows the type.
    match volume.volume_type {
        VolumeType::Distribute => volume.replica_count = 1,
        VolumeType::Replicate => volume.replica_count = volume.sub_count,
        VolumeType::Disperse => {
            if volume.disperse_count == 0 || volume.redundancy_count == 0 {
                return Err(fields.inconsistent(format!(
                    "a disperse volume needs disperse_count and redundancy_count above 0, \
                     this one has {} and {}",
                    volume.disperse_count, volume.redundancy_count
                )));
            }
        }
        VolumeType::Stripe | VolumeType::StripeReplicate | VolumeType::Tier => {}
    }
    if volume.dist_count() == 0 {
        return Err(fields.inconsistent(format!(
            "a {} volume needs sub_count above 0 (bricks per replica set)",
            volume.type_name()
        )));
    }

    bricks.sort_by_key(|(index, _)| *index);
    for (expected, (index, brick)) in bricks.iter().enumerate() {
        if *index != expected {
            return Err(fields.missing(
                &layout::brick_key(expected),
                format!(
                    " (count={brick_count} on line {}, next is {} on line {})",
                    count_entry.line, brick.key, brick.line
                ),
            ));
        }
    }
    if bricks.len() != brick_count as usize {
        return Err(if bricks.len() < brick_count as usize {
            fields.missing(
                &layout::brick_key(bricks.len()),
                format!(" (count={brick_count} on line {})", count_entry.line),
            )
        } else {
            fields.inconsistent(format!(
                "count={brick_count} on line {} but there are {} brick-N lines",
                count_entry.line,
                bricks.len()
            ))
        });
    }
    let thin_arbiter_brick = match (volume.thin_arbiter_count, ta_bricks.as_slice()) {
        (0, []) => None,
        (1, [(0, brick)]) => Some(brick.clone()),
        (1, []) => {
            return Err(fields.missing(&layout::ta_brick_key(0), " (thin_arbiter_count=1)".into()))
        }
        (count, _) => {
            return Err(fields.inconsistent(format!(
                "thin_arbiter_count={count} with {} ta-brick-N lines; glusterd supports one \
                 thin-arbiter brick (ta-brick-0) with thin_arbiter_count=1",
                ta_bricks.len()
            )))
        }
    };
    Ok(VolumeInfo {
        volume,
        bricks: bricks.into_iter().map(|(_, brick)| brick).collect(),
        thin_arbiter_brick,
    })
}

/// `vols/<volume>/bricks/<file>`.
pub(crate) fn brick(path: &Path, file: &KvFile) -> Result<Brick, StoreError> {
    let fields = Fields::new(path, file)?;
    if file.entries.is_empty() {
        return Err(fields.inconsistent("the bricks file has no key=value lines".into()));
    }
    let mut brick = Brick {
        hostname: fields.require("hostname")?.value.clone(),
        path: fields.require("path")?.value.clone(),
        ..Brick::default()
    };
    for entry in &file.entries {
        match entry.key.as_str() {
            "hostname" | "path" => {}
            "uuid" => brick.uuid = fields.uuid(entry)?,
            "real_path" => brick.real_path = entry.value.clone(),
            "listen-port" => brick.listen_port = fields.number(entry)?,
            "rdma.listen-port" => brick.rdma_listen_port = fields.number(entry)?,
            "decommissioned" => brick.decommissioned = fields.number(entry)?,
            "brick-id" => brick.brick_id = entry.value.clone(),
            "device_path" => brick.device_path = entry.value.clone(),
            "mount_dir" => brick.mount_dir = entry.value.clone(),
            "fs-type" => brick.fs_type = entry.value.clone(),
            "mnt-opts" => brick.mnt_opts = entry.value.clone(),
            "snap-status" => brick.snap_status = fields.number(entry)?,
            "brick-fsid" => brick.brick_fsid = fields.number(entry)?,
            "vg" => brick.vg = entry.value.clone(),
            _ => brick.extra.push((entry.key.clone(), entry.value.clone())),
        }
    }
    Ok(brick)
}

/// `vols/<volume>/node_state.info`. An empty file (glusterd writes one after a rebalance
/// status query) gives the defaults.
pub(crate) fn node_state(path: &Path, file: &KvFile) -> Result<RebalanceState, StoreError> {
    let fields = Fields::new(path, file)?;
    let mut state = RebalanceState::default();
    for entry in &file.entries {
        match entry.key.as_str() {
            "rebalance_status" => state.command = fields.number(entry)?,
            "status" => state.status = fields.number(entry)?,
            "rebalance_op" => state.op = fields.number(entry)?,
            "rebalance-id" => state.id = fields.uuid(entry)?,
            "rebalanced-files" => state.rebalanced_files = fields.number(entry)?,
            "size" => state.size_bytes = fields.number(entry)?,
            "scanned" => state.scanned_files = fields.number(entry)?,
            "failures" => state.failures = fields.number(entry)?,
            "skipped" => state.skipped_files = fields.number(entry)?,
            "run-time" => {
                state.run_time_s = entry
                    .value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| fields.bad_value(entry, "not a number of seconds"))?
            }
            _ => state.extra.push((entry.key.clone(), entry.value.clone())),
        }
    }
    Ok(state)
}

/// `vols/<volume>/snapd.info`: the snapshot daemon's port (0 if the key is absent).
pub(crate) fn snapd_port(path: &Path, file: &KvFile) -> Result<u32, StoreError> {
    let fields = Fields::new(path, file)?;
    file.get("snapd-port")
        .map_or(Ok(0), |entry| fields.number(entry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv;

    const INFO: &str = "type=2\ncount=3\nstatus=1\nsub_count=3\nreplica_count=3\n\
        arbiter_count=1\ndisperse_count=0\nredundancy_count=0\nversion=2\ntransport-type=0\n\
        volume-id=d10056e1-2d87-4df8-82cd-1e7a8ffdb641\nusername=u\npassword=p\n\
        op-version=40000\nclient-op-version=30800\nquota-version=0\ntier-enabled=0\n\
        parent_volname=N/A\nrestored_from_snap=00000000-0000-0000-0000-000000000000\n\
        snap-max-hard-limit=256\ncluster.granular-entry-heal=on\nport=7\nslave1=x::y\n\
        nfs.disable=on\nbrick-0=h:-b0\nbrick-1=h:-b1\nbrick-2=h:-b2\n";

    fn decode(text: &str) -> Result<VolumeInfo, StoreError> {
        volume_info(
            "v",
            Path::new("vols/v/info"),
            &kv::parse(text.as_bytes()).unwrap(),
        )
    }

    #[test]
    fn info_keys_become_fields_options_extras_and_brick_refs() {
        let info = decode(INFO).unwrap();
        let v = &info.volume;
        assert_eq!(v.volume_type, VolumeType::Replicate);
        assert_eq!((v.brick_count, v.sub_count, v.replica_count), (3, 3, 3));
        assert_eq!(v.arbiter_count, 1);
        assert_eq!(v.status, VolumeStatus::Started);
        assert_eq!(v.client_op_version, 30800);
        assert_eq!(v.username.as_deref(), Some("u"));
        assert_eq!(
            v.options,
            [
                ("nfs.disable".to_string(), "on".to_string()),
                ("cluster.granular-entry-heal".to_string(), "on".to_string())
            ],
            "held last key first, as glusterd holds what it reads"
        );
        assert_eq!(
            v.extra,
            [
                ("port".to_string(), "7".to_string()),
                ("slave1".to_string(), "x::y".to_string())
            ]
        );
        let names: Vec<&str> = info.bricks.iter().map(|b| b.file_name.as_str()).collect();
        assert_eq!(names, ["h:-b0", "h:-b1", "h:-b2"]);
        assert_eq!(info.bricks[2].line, 27);
    }

    #[test]
    fn unknown_type_names_the_line() {
        let err = decode(&INFO.replace("type=2", "type=9")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("vols/v/info line 1: type=9: not a volume type"),
            "{text}"
        );
    }

    #[test]
    fn bad_numbers_and_uuids_name_the_line() {
        let err = decode(&INFO.replace("version=2", "version=two")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vols/v/info line 9: version=two: not a decimal number"
        );
        let err = decode(&INFO.replace("volume-id=d1", "volume-id=x1")).unwrap_err();
        assert!(err.to_string().contains("line 11: volume-id=x1"), "{err}");
    }

    #[test]
    fn missing_brick_key_is_reported_with_the_count_line() {
        let err = decode(&INFO.replace("brick-1=h:-b1\n", "")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vols/v/info: no brick-1= line (count=3 on line 2, next is brick-2 on line 26)"
        );
        let err = decode(&INFO.replace("brick-2=h:-b2\n", "")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vols/v/info: no brick-2= line (count=3 on line 2)"
        );
        let err = decode(&INFO.replace("count=3", "count=2")).unwrap_err();
        assert!(
            err.to_string().contains("but there are 3 brick-N lines"),
            "{err}"
        );
    }

    #[test]
    fn replica_count_follows_the_type_like_glusterd() {
        let info = decode(&INFO.replace("replica_count=3", "replica_count=7")).unwrap();
        assert_eq!(info.volume.replica_count, 3);
        let err = decode(&INFO.replace("sub_count=3", "sub_count=0")).unwrap_err();
        assert!(err.to_string().contains("needs sub_count above 0"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = decode(&INFO.replace("version=2\n", "version=2\nversion=3\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vols/v/info: key version appears twice (lines 9 and 10)"
        );
    }

    #[test]
    fn node_info_defaults_to_op_version_min_and_refuses_a_missing_uuid() {
        let path = Path::new("glusterd.info");
        let file = kv::parse(b"UUID=7cb5f09e-9644-4924-942e-63f432b4f7f7\n").unwrap();
        let node = node_info(path, &file).unwrap();
        assert_eq!(node.op_version, OP_VERSION_MIN);
        let file = kv::parse(b"operating-version=100000\n").unwrap();
        let err = node_info(path, &file).unwrap_err().to_string();
        assert!(err.starts_with("glusterd.info: no UUID= line;"), "{err}");
        let file =
            kv::parse(b"UUID=7cb5f09e-9644-4924-942e-63f432b4f7f7\noperating-version=100001\n")
                .unwrap();
        assert!(node_info(path, &file).is_err());
    }

    #[test]
    fn peers_read_as_glusterd_reads_them() {
        let read = |text: &str| peer_as_glusterd(&kv::parse(text.as_bytes()).unwrap());
        let p =
            read("uuid=8b154d7c-90eb-47b6-84eb-4ff5007235b5\nstate=3\nhostname1=b\nhostname2=c\n")
                .unwrap();
        assert_eq!(p.hostnames, ["b", "c"]);
        assert_eq!(p.state, 3);
        // The older format, and a state that is no number (atoi: 0).
        let old = read("uuid=8b154d7c-90eb-47b6-84eb-4ff5007235b5\nstate=x\nhostname=b\n").unwrap();
        assert_eq!(
            (old.hostnames.as_slice(), old.state),
            (&["b".to_string()][..], 0)
        );
        assert_eq!(atoi(" -12abc"), -12);
        assert_eq!(atoi("+7"), 7);
        assert_eq!(atoi(""), 0);
        // Malformed: no UUID, a null one, no name.
        assert!(read("state=3\nhostname1=b\n").is_err());
        assert!(read("uuid=00000000-0000-0000-0000-000000000000\nhostname1=b\n").is_err());
        assert!(read("uuid=not-a-uuid\nhostname1=b\n").is_err());
        assert!(read("uuid=8b154d7c-90eb-47b6-84eb-4ff5007235b5\nstate=3\n").is_err());
        // Keys brickd does not know are kept.
        let extra =
            read("uuid=8b154d7c-90eb-47b6-84eb-4ff5007235b5\nhostname1=b\nfoo=1\n").unwrap();
        assert_eq!(extra.extra.len(), 1);
    }
}
