//! Volumes (`vols/<volume>/info`, `node_state.info`, `snapd.info`) and the numbers glusterd
//! uses for their type, status and transport.

use super::{Brick, Extra, Uuid};

/// How a volume places data (`gf1_cluster_type`, the `type=` of `info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumeType {
    /// 0, `GF_CLUSTER_TYPE_NONE`: plain distribute.
    Distribute,
    /// 1, `GF_CLUSTER_TYPE_STRIPE`: no longer supported since glusterfs 6.
    Stripe,
    /// 2, `GF_CLUSTER_TYPE_REPLICATE` (also arbiter and thin-arbiter volumes).
    Replicate,
    /// 3, `GF_CLUSTER_TYPE_STRIPE_REPLICATE`: no longer supported since glusterfs 6.
    StripeReplicate,
    /// 4, `GF_CLUSTER_TYPE_DISPERSE`.
    Disperse,
    /// 5, `GF_CLUSTER_TYPE_TIER`: no longer supported since glusterfs 6.
    Tier,
}

/// The CLI's `vol_type_str` table: `Type:` of `volume info`, indexed by the type number, plus
/// 5 for a distributed variant.
const TYPE_NAMES: [&str; 10] = [
    "Distribute",
    "Stripe [NOT SUPPORTED from v6.0]",
    "Replicate",
    "Striped-Replicate [NOT SUPPORTED from v6.0]",
    "Disperse",
    "Tier [NOT SUPPORTED from v6.0]",
    "Distributed-Stripe [NOT SUPPORTED from v6.0]",
    "Distributed-Replicate",
    "Distributed-Striped-Replicate [NOT SUPPORTED from v6.0]",
    "Distributed-Disperse",
];

impl VolumeType {
    /// The type with glusterd's number, or `None` for a number glusterd never writes.
    pub fn from_number(number: u32) -> Option<VolumeType> {
        Some(match number {
            0 => VolumeType::Distribute,
            1 => VolumeType::Stripe,
            2 => VolumeType::Replicate,
            3 => VolumeType::StripeReplicate,
            4 => VolumeType::Disperse,
            5 => VolumeType::Tier,
            _ => return None,
        })
    }

    /// glusterd's number for the type.
    pub fn number(self) -> u32 {
        match self {
            VolumeType::Distribute => 0,
            VolumeType::Stripe => 1,
            VolumeType::Replicate => 2,
            VolumeType::StripeReplicate => 3,
            VolumeType::Disperse => 4,
            VolumeType::Tier => 5,
        }
    }
}

/// Whether a volume's bricks should run (`status=` of `info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumeStatus {
    /// 0, `GLUSTERD_STATUS_NONE`: created, never started.
    Created,
    /// 1, `GLUSTERD_STATUS_STARTED`.
    Started,
    /// 2, `GLUSTERD_STATUS_STOPPED`.
    Stopped,
}

impl VolumeStatus {
    /// The status with glusterd's number, or `None` for any other number.
    pub fn from_number(number: u32) -> Option<VolumeStatus> {
        Some(match number {
            0 => VolumeStatus::Created,
            1 => VolumeStatus::Started,
            2 => VolumeStatus::Stopped,
            _ => return None,
        })
    }

    /// glusterd's number for the status.
    pub fn number(self) -> u32 {
        match self {
            VolumeStatus::Created => 0,
            VolumeStatus::Started => 1,
            VolumeStatus::Stopped => 2,
        }
    }

    /// What `volume info` prints after `Status:`.
    pub fn name(self) -> &'static str {
        match self {
            VolumeStatus::Created => "Created",
            VolumeStatus::Started => "Started",
            VolumeStatus::Stopped => "Stopped",
        }
    }
}

/// The transport clients use to reach the bricks (`transport-type=` of `info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// 0, `GF_TRANSPORT_TCP`.
    Tcp,
    /// 1, `GF_TRANSPORT_RDMA`.
    Rdma,
    /// 2, `GF_TRANSPORT_BOTH_TCP_RDMA`.
    TcpRdma,
}

impl Transport {
    /// The transport with glusterd's number, or `None` for any other number.
    pub fn from_number(number: u32) -> Option<Transport> {
        Some(match number {
            0 => Transport::Tcp,
            1 => Transport::Rdma,
            2 => Transport::TcpRdma,
            _ => return None,
        })
    }

    /// glusterd's number for the transport.
    pub fn number(self) -> u32 {
        match self {
            Transport::Tcp => 0,
            Transport::Rdma => 1,
            Transport::TcpRdma => 2,
        }
    }

    /// What `volume info` prints after `Transport-type:`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Rdma => "rdma",
            Transport::TcpRdma => "tcp,rdma",
        }
    }
}

/// `GF_DEFRAG_CMD_STATUS`: a rebalance status query. glusterd writes an empty
/// `node_state.info` when this is the last rebalance command.
pub const DEFRAG_CMD_STATUS: i32 = 3;

/// The last rebalance on this node, as `node_state.info` keeps it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RebalanceState {
    /// The last rebalance command, a `gf_cli_defrag_type` number (`rebalance_status=`).
    pub command: i32,
    /// Its outcome, a `gf_defrag_status_t` number (`status=`).
    pub status: i32,
    /// The operation that ran it, a `glusterd_op_t` number (`rebalance_op=`).
    pub op: i32,
    /// Task id (`rebalance-id=`), nil if none ran.
    pub id: Uuid,
    /// Files moved (`rebalanced-files=`).
    pub rebalanced_files: u64,
    /// Bytes moved (`size=`).
    pub size_bytes: u64,
    /// Files looked at (`scanned=`).
    pub scanned_files: u64,
    /// Files that failed (`failures=`).
    pub failures: u64,
    /// Files skipped (`skipped=`).
    pub skipped_files: u64,
    /// Run time in seconds (`run-time=`, written with six decimals).
    pub run_time_s: f64,
    /// Further keys (glusterd's rebalance dict, or keys brickd does not know), in file order.
    pub extra: Extra,
}

/// A volume: everything glusterd writes in `vols/<name>/info`, its bricks files,
/// `node_state.info` and `snapd.info`.
///
/// Counts are kept exactly as written, so that a volume read from disk is written back byte
/// for byte; the helpers ([`Volume::dist_count`], [`Volume::type_name`], …) derive what the
/// CLI shows from them the way glusterd does.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// The volume name (the directory name under `vols/`).
    pub name: String,
    /// `type=`.
    pub volume_type: VolumeType,
    /// `count=`: the number of bricks (thin-arbiter brick excluded).
    pub brick_count: u32,
    /// `status=`.
    pub status: VolumeStatus,
    /// `sub_count=`: bricks per replica or disperse set when that is more than 1, else 0.
    pub sub_count: u32,
    /// `replica_count=` (1 for distribute and disperse).
    pub replica_count: u32,
    /// `stripe_count=`, which glusterd writes (always 1) only while the cluster op-version is
    /// below 100000; `None` when absent, as in files written at 10.x.
    pub stripe_count: Option<u32>,
    /// `arbiter_count=`, written only when non-zero.
    pub arbiter_count: u32,
    /// `disperse_count=`.
    pub disperse_count: u32,
    /// `redundancy_count=`.
    pub redundancy_count: u32,
    /// `version=`, incremented by most changes; peers compare it.
    pub version: u32,
    /// `transport-type=`.
    pub transport: Transport,
    /// `volume-id=`, also set as `trusted.glusterfs.volume-id` on every brick root.
    pub volume_id: Uuid,
    /// `username=` for the internal client authentication, if set.
    pub username: Option<String>,
    /// `password=` for the internal client authentication, if set.
    pub password: Option<String>,
    /// `op-version=`: the op-version the volume's options need.
    pub op_version: u32,
    /// `client-op-version=`: the op-version clients need.
    pub client_op_version: u32,
    /// `quota-version=`.
    pub quota_version: u32,
    /// `tier-enabled=` (glusterd 10.3 always writes 0).
    pub tier_enabled: u32,
    /// `thin_arbiter_count=`, written only when non-zero.
    pub thin_arbiter_count: u32,
    /// `parent_volname=`: the origin volume of a snapshot volume, `N/A` otherwise.
    pub parent_volname: String,
    /// `restored_from_snap=`, nil unless restored from a snapshot.
    pub restored_from_snap: Uuid,
    /// `snap-max-hard-limit=`.
    pub snap_max_hard_limit: u64,
    /// Volume options (`volume set` keys, all with a `.`: `nfs.disable`, `user.*`, …) in the
    /// order glusterd holds them in memory, which is the order `volume info` shows and the
    /// order glusterd writes them to `info` (see [`Volume::set_option`]).
    pub options: Extra,
    /// Other keys brickd does not interpret (such as geo-replication `secondary`/`slave`
    /// entries, which glusterd writes after the options), in file order.
    pub extra: Extra,
    /// The bricks in `brick-0`, `brick-1`, … order.
    pub bricks: Vec<Brick>,
    /// The thin-arbiter brick (`ta-brick-0`), if the volume has one.
    pub thin_arbiter_brick: Option<Brick>,
    /// `node_state.info`.
    pub rebalance: RebalanceState,
    /// `snapd-port=` of `snapd.info` (0 when the snapshot daemon never ran).
    pub snapd_port: u32,
}

/// glusterd's default `snap-max-hard-limit` (`GLUSTERD_SNAPS_MAX_HARD_LIMIT`).
const SNAP_MAX_HARD_LIMIT_DEFAULT: u64 = 256;

/// The order of a volume's options, as glusterd keeps them (found by experiment on glusterd
/// 10.3's store; `tests/golden/volopt/order.md` has the runs):
///
/// - In memory they are one list. `volume info` shows it from the head, and every write of
///   `info` (a set, a reset, a start, a stop, …) writes it from the head.
/// - A set of a key the volume does not have puts it at the head; a set of a key it has
///   changes the value where it is ([`Volume::set_option`]). A reset takes the key out.
/// - Loading `info` puts each key at the head as it is read, so a volume read from the store
///   holds its options in the reverse of file order: a restarted glusterd shows them reversed,
///   and its next write of `info` reverses the file ([`Volume::options_from_file`]).
/// - A volume imported from a peer is loaded the same way from the peer's export, whose keys
///   come in the peer's memory order.
impl Volume {
    /// Sets option `key` to `value`: a key the volume has keeps its place, a new key goes to
    /// the head of the list.
    pub fn set_option(&mut self, key: &str, value: &str) {
        match self.options.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.to_string(),
            None => self.options.insert(0, (key.to_string(), value.to_string())),
        }
    }

    /// Removes option `key`; whether the volume had it.
    pub fn reset_option(&mut self, key: &str) -> bool {
        let before = self.options.len();
        self.options.retain(|(k, _)| k != key);
        self.options.len() != before
    }

    /// The value of option `key`, if the volume has it.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The in-memory list of options read in `file_order` (each key put at the head as it
    /// is read).
    pub fn options_from_file(file_order: Extra) -> Extra {
        let mut options = file_order;
        options.reverse();
        options
    }

    /// A new distribute volume as glusterd 10.3 stores one before any option or brick is
    /// set: status Created, version 1, tcp, counts of a plain distribute volume, no options,
    /// no bricks, `parent_volname=N/A`, `snap-max-hard-limit=256`. Callers fill in the rest
    /// with struct update syntax.
    pub fn new_distribute(name: impl Into<String>, volume_id: Uuid) -> Volume {
        Volume {
            name: name.into(),
            volume_type: VolumeType::Distribute,
            brick_count: 0,
            status: VolumeStatus::Created,
            sub_count: 0,
            replica_count: 1,
            stripe_count: None,
            arbiter_count: 0,
            disperse_count: 0,
            redundancy_count: 0,
            version: 1,
            transport: Transport::Tcp,
            volume_id,
            username: None,
            password: None,
            op_version: 1,
            client_op_version: 2,
            quota_version: 0,
            tier_enabled: 0,
            thin_arbiter_count: 0,
            parent_volname: "N/A".into(),
            restored_from_snap: Uuid::NIL,
            snap_max_hard_limit: SNAP_MAX_HARD_LIMIT_DEFAULT,
            options: Extra::new(),
            extra: Extra::new(),
            bricks: Vec::new(),
            thin_arbiter_brick: None,
            rebalance: RebalanceState::default(),
            snapd_port: 0,
        }
    }

    /// Bricks per distribute subvolume: `disperse_count` for disperse, `replica_count` for
    /// replicate, 1 otherwise (glusterd's `dist_leaf_count`, sent as `dist_count` in
    /// `volume info`).
    pub fn dist_count(&self) -> u32 {
        match self.volume_type {
            VolumeType::Disperse => self.disperse_count,
            VolumeType::Replicate => self.replica_count,
            _ => 1,
        }
    }

    /// Number of distribute subvolumes (`brick_count / dist_count`, 0 if `dist_count` is 0).
    pub fn subvol_count(&self) -> u32 {
        self.brick_count.checked_div(self.dist_count()).unwrap_or(0)
    }

    /// The id of replica set `set`'s thin-arbiter client, `<volume>-ta-N`: glusterd numbers a
    /// thin-arbiter volume's clients set by set, the set's bricks then its thin-arbiter client
    /// (`-ta-2` and `-ta-5` for two sets of two), and stores the first set's as the brick's id.
    pub fn thin_arbiter_id(&self, set: usize) -> String {
        let leaf = self.dist_count() as usize;
        format!("{}-ta-{}", self.name, set * (leaf + 1) + leaf)
    }

    /// What `volume info` prints after `Type:`. A replicate, disperse or stripe volume with
    /// more bricks than one set is the "Distributed-" variant, as the CLI decides it.
    pub fn type_name(&self) -> &'static str {
        let mut index = self.volume_type.number() as usize;
        if self.volume_type != VolumeType::Tier
            && self.volume_type != VolumeType::Distribute
            && self.dist_count() < self.brick_count
        {
            index += 5;
        }
        TYPE_NAMES[index]
    }

    /// Whether brick `index` (0-based) is an arbiter: the last of each replica set of a
    /// volume with `arbiter_count` 1 (glusterd's `isArbiter` in `volume info`).
    pub fn is_arbiter_brick(&self, index: usize) -> bool {
        let replica = self.replica_count as usize;
        self.arbiter_count == 1 && replica > 1 && (index + 1).is_multiple_of(replica)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(volume_type: VolumeType, bricks: u32, replica: u32, disperse: u32) -> Volume {
        Volume {
            volume_type,
            brick_count: bricks,
            replica_count: replica,
            disperse_count: disperse,
            ..Volume::new_distribute("v", Uuid::NIL)
        }
    }

    #[test]
    fn numbers_round_trip_and_unknown_numbers_are_none() {
        for n in 0..6 {
            assert_eq!(VolumeType::from_number(n).unwrap().number(), n);
        }
        assert_eq!(VolumeType::from_number(6), None);
        for n in 0..3 {
            assert_eq!(VolumeStatus::from_number(n).unwrap().number(), n);
            assert_eq!(Transport::from_number(n).unwrap().number(), n);
        }
        assert_eq!(VolumeStatus::from_number(3), None);
        assert_eq!(Transport::from_number(3), None);
        assert_eq!(Transport::TcpRdma.name(), "tcp,rdma");
        assert_eq!(VolumeStatus::Stopped.name(), "Stopped");
    }

    #[test]
    fn dist_count_follows_the_type() {
        assert_eq!(volume(VolumeType::Distribute, 3, 1, 0).dist_count(), 1);
        assert_eq!(volume(VolumeType::Replicate, 6, 3, 0).dist_count(), 3);
        assert_eq!(volume(VolumeType::Disperse, 6, 1, 3).dist_count(), 3);
        assert_eq!(volume(VolumeType::Disperse, 6, 1, 3).subvol_count(), 2);
        assert_eq!(volume(VolumeType::Disperse, 6, 1, 0).subvol_count(), 0);
    }

    #[test]
    fn type_names_match_the_cli() {
        assert_eq!(
            volume(VolumeType::Distribute, 1, 1, 0).type_name(),
            "Distribute"
        );
        assert_eq!(
            volume(VolumeType::Distribute, 3, 1, 0).type_name(),
            "Distribute"
        );
        assert_eq!(
            volume(VolumeType::Replicate, 3, 3, 0).type_name(),
            "Replicate"
        );
        assert_eq!(
            volume(VolumeType::Replicate, 6, 3, 0).type_name(),
            "Distributed-Replicate"
        );
        assert_eq!(
            volume(VolumeType::Disperse, 3, 1, 3).type_name(),
            "Disperse"
        );
        assert_eq!(
            volume(VolumeType::Disperse, 6, 1, 3).type_name(),
            "Distributed-Disperse"
        );
        assert_eq!(
            volume(VolumeType::Stripe, 4, 1, 0).type_name(),
            "Distributed-Stripe [NOT SUPPORTED from v6.0]"
        );
        assert_eq!(
            volume(VolumeType::Tier, 4, 1, 0).type_name(),
            "Tier [NOT SUPPORTED from v6.0]"
        );
    }

    #[test]
    fn arbiter_is_the_last_brick_of_each_replica_set() {
        let mut v = volume(VolumeType::Replicate, 6, 3, 0);
        assert!(!v.is_arbiter_brick(2));
        v.arbiter_count = 1;
        let arbiters: Vec<usize> = (0..6).filter(|&i| v.is_arbiter_brick(i)).collect();
        assert_eq!(arbiters, [2, 5]);
    }
}
