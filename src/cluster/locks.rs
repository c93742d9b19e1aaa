//! Lock leases: glusterd's mgmt_v3 locks (`<name>_vol`, …) with an owner, a transaction and an
//! expiry, so that a lock can never outlive its purpose.
//!
//! glusterd's locks are held until the transaction unlocks them, until the originating peer
//! disconnects, or until a timer (180 s, `timeout` + 120 s when the CLI sends one) fires; a lock
//! whose unlock got lost leaves "Another transaction is in progress" until then, and nobody can
//! see who holds it. Here every lock is a [`Lease`]: it names its holder (node UUID, the
//! transaction, and the connection it came over when a peer took it), when it was taken and
//! when it lapses; [`LockTable::list`] shows them all, [`LockTable::force_release`] lets an
//! operator drop one. Expiry is checked whenever the table is used, so an expired lease is
//! free at once and never listed.
//!
//! One table per shard, used on the change shard only (`ops::shard::CHANGE_SHARD`: every volume
//! change runs there), so the table needs no synchronisation. Time is passed in (`now`), which keeps
//! the table pure and its tests exact.

use crate::model::Uuid;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// glusterd's errno for a lock held by another transaction (`EG_ANOTRANS`).
pub const EG_ANOTRANS: i32 = 30802;

/// A lock's life when nobody says otherwise (glusterd's `GF_LOCK_TIMER`, 180 s).
pub const LEASE_DEFAULT: Duration = Duration::from_secs(180);

/// What glusterd adds to the CLI's `timeout` for the lock timer.
pub const LEASE_TIMEOUT_EXTRA: Duration = Duration::from_secs(120);

/// The longest lease a request may ask for (the CLI's `timeout` is an int of seconds; a lease of
/// days would be a lock that never clears).
pub const LEASE_MAX: Duration = Duration::from_secs(3_600);

/// Most locks one table holds at once (one per volume in a transaction; a bound on memory).
pub const LOCKS_MAX: usize = 65_536;

/// The lease length for a transaction whose CLI request carried `timeout` (seconds), as
/// glusterd computes it: `timeout + 120`, or the default without one; capped at [`LEASE_MAX`].
pub fn lease_for(cli_timeout_s: Option<i64>) -> Duration {
    match cli_timeout_s {
        Some(t) if t > 0 => {
            let secs = u64::try_from(t).unwrap_or(u64::MAX);
            Duration::from_secs(secs)
                .saturating_add(LEASE_TIMEOUT_EXTRA)
                .min(LEASE_MAX)
        }
        _ => LEASE_DEFAULT,
    }
}

/// The lock name glusterd uses for a volume: `<volname>_vol`.
pub fn volume_lock(volname: &str) -> String {
    format!("{volname}_vol")
}

/// Where a lock's holder is reached: a transaction running on this node, or a peer's request
/// that came over a connection (released when that connection closes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A transaction this node originated.
    Local,
    /// A peer's lock request, over connection `connection` of shard `shard`.
    Connection {
        /// The shard serving the connection.
        shard: usize,
        /// The connection's number on that shard.
        connection: u64,
    },
}

/// One held lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The lock's name (`v1_vol`).
    pub name: String,
    /// The node that took it.
    pub owner: Uuid,
    /// The transaction it belongs to.
    pub txn: Uuid,
    /// How the holder is reached.
    pub holder: Holder,
    /// When it was taken.
    pub taken: Instant,
    /// When it lapses.
    pub expires: Instant,
}

/// Why a lock was not granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// Another transaction holds it.
    Busy {
        /// The lock's name.
        name: String,
        /// Its current lease.
        held_by: Box<Lease>,
    },
    /// The table is full.
    TooMany,
}

impl LockError {
    /// glusterd's op_errstr for the CLI. For a volume lock the name is the volume's.
    pub fn message(&self) -> String {
        match self {
            LockError::Busy { name, .. } => format!(
                "Another transaction is in progress for {}. Please try again after some time.",
                name.strip_suffix("_vol").unwrap_or(name)
            ),
            LockError::TooMany => format!(
                "Too many locks are held on this node (at most {LOCKS_MAX}). Please try again \
                 after some time."
            ),
        }
    }

    /// glusterd's op_errno.
    pub fn errno(&self) -> i32 {
        EG_ANOTRANS
    }
}

/// The locks of one shard.
#[derive(Debug, Default)]
pub struct LockTable {
    leases: BTreeMap<String, Lease>,
}

impl LockTable {
    /// An empty table.
    pub fn new() -> LockTable {
        LockTable::default()
    }

    fn expire(&mut self, now: Instant) {
        self.leases.retain(|_, lease| lease.expires > now);
    }

    /// Takes `name` for transaction `txn` of node `owner` for `lease`. Taking a lock the same
    /// transaction already holds renews it (glusterd's lock is not re-entrant across
    /// transactions, but a retried LOCK of one transaction must not deadlock itself).
    pub fn acquire(
        &mut self,
        name: &str,
        owner: Uuid,
        txn: Uuid,
        holder: Holder,
        lease: Duration,
        now: Instant,
    ) -> Result<(), LockError> {
        self.expire(now);
        if let Some(held) = self.leases.get(name) {
            if held.owner != owner || held.txn != txn {
                return Err(LockError::Busy {
                    name: name.to_string(),
                    held_by: Box::new(held.clone()),
                });
            }
        } else if self.leases.len() >= LOCKS_MAX {
            return Err(LockError::TooMany);
        }
        self.leases.insert(
            name.to_string(),
            Lease {
                name: name.to_string(),
                owner,
                txn,
                holder,
                taken: now,
                expires: now + lease.min(LEASE_MAX),
            },
        );
        Ok(())
    }

    /// Releases `name` if transaction `txn` holds it; true if it did. A lease that already
    /// lapsed (and was perhaps taken by another transaction since) is left alone.
    pub fn release(&mut self, name: &str, txn: Uuid, now: Instant) -> bool {
        self.expire(now);
        match self.leases.get(name) {
            Some(held) if held.txn == txn => {
                self.leases.remove(name);
                true
            }
            _ => false,
        }
    }

    /// Releases `name` if node `owner` holds it, whatever the transaction (mgmt v3 UNLOCK
    /// names the owner, and its txn id may be zero); true if it did.
    pub fn release_owned(&mut self, name: &str, owner: Uuid, now: Instant) -> bool {
        self.expire(now);
        match self.leases.get(name) {
            Some(held) if held.owner == owner => {
                self.leases.remove(name);
                true
            }
            _ => false,
        }
    }

    /// Releases every lock taken over connection `connection` of shard `shard` (the peer went
    /// away); returns what was released.
    pub fn release_connection(&mut self, shard: usize, connection: u64) -> Vec<Lease> {
        let holder = Holder::Connection { shard, connection };
        let names: Vec<String> = self
            .leases
            .values()
            .filter(|l| l.holder == holder)
            .map(|l| l.name.clone())
            .collect();
        names.iter().filter_map(|n| self.leases.remove(n)).collect()
    }

    /// Whether transaction `txn` still holds `name` (its lease has not lapsed, nobody
    /// released it).
    pub fn holds(&mut self, name: &str, txn: Uuid, now: Instant) -> bool {
        self.expire(now);
        self.leases.get(name).is_some_and(|held| held.txn == txn)
    }

    /// Whether node `owner` holds `name` (whatever the transaction: mgmt v3 start and stop
    /// lock with a zero transaction id).
    pub fn held_by(&mut self, name: &str, owner: Uuid, now: Instant) -> bool {
        self.expire(now);
        self.leases
            .get(name)
            .is_some_and(|held| held.owner == owner)
    }

    /// Drops `name` whoever holds it (an operator's decision); the lease it had, if any.
    pub fn force_release(&mut self, name: &str, now: Instant) -> Option<Lease> {
        self.expire(now);
        self.leases.remove(name)
    }

    /// Every lease in force, by name.
    pub fn list(&mut self, now: Instant) -> Vec<Lease> {
        self.expire(now);
        self.leases.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Uuid, Uuid, Uuid) {
        (
            Uuid::from_bytes([1; 16]),
            Uuid::from_bytes([2; 16]),
            Uuid::from_bytes([3; 16]),
        )
    }

    #[test]
    fn a_held_lock_is_busy_for_another_transaction_with_glusterds_message() {
        let (node, t1, t2) = ids();
        let now = Instant::now();
        let mut table = LockTable::new();
        table
            .acquire("v1_vol", node, t1, Holder::Local, LEASE_DEFAULT, now)
            .unwrap();
        let err = table
            .acquire("v1_vol", node, t2, Holder::Local, LEASE_DEFAULT, now)
            .unwrap_err();
        assert_eq!(
            err.message(),
            "Another transaction is in progress for v1. Please try again after some time."
        );
        assert_eq!(err.errno(), 30802);
        match err {
            LockError::Busy { held_by, .. } => assert_eq!(held_by.txn, t1),
            other => panic!("{other:?}"),
        }
        // Another volume is free; the same transaction renews.
        table
            .acquire("v2_vol", node, t2, Holder::Local, LEASE_DEFAULT, now)
            .unwrap();
        table
            .acquire("v1_vol", node, t1, Holder::Local, LEASE_DEFAULT, now)
            .unwrap();
        assert_eq!(table.list(now).len(), 2);
    }

    #[test]
    fn release_needs_the_holding_transaction() {
        let (node, t1, t2) = ids();
        let now = Instant::now();
        let mut table = LockTable::new();
        table
            .acquire("v1_vol", node, t1, Holder::Local, LEASE_DEFAULT, now)
            .unwrap();
        assert!(!table.release("v1_vol", t2, now));
        assert!(table.release("v1_vol", t1, now));
        assert!(!table.release("v1_vol", t1, now));
        table
            .acquire("v1_vol", node, t2, Holder::Local, LEASE_DEFAULT, now)
            .unwrap();
    }

    #[test]
    fn a_lease_lapses_and_the_lock_is_free() {
        let (node, t1, t2) = ids();
        let now = Instant::now();
        let mut table = LockTable::new();
        let lease = Duration::from_secs(10);
        table
            .acquire("v1_vol", node, t1, Holder::Local, lease, now)
            .unwrap();
        let before = now + Duration::from_secs(9);
        assert!(table
            .acquire("v1_vol", node, t2, Holder::Local, lease, before)
            .is_err());
        let after = now + Duration::from_secs(10);
        assert!(table.list(after).is_empty());
        table
            .acquire("v1_vol", node, t2, Holder::Local, lease, after)
            .unwrap();
        // The lapsed holder's late unlock does not free the new holder's lock.
        assert!(!table.release("v1_vol", t1, after));
        assert_eq!(table.list(after)[0].txn, t2);
    }

    #[test]
    fn a_closed_connection_frees_its_locks_only() {
        let (node, t1, t2) = ids();
        let now = Instant::now();
        let mut table = LockTable::new();
        let peer = Holder::Connection {
            shard: 1,
            connection: 7,
        };
        table
            .acquire("a_vol", node, t1, peer, LEASE_DEFAULT, now)
            .unwrap();
        table
            .acquire("b_vol", node, t2, Holder::Local, LEASE_DEFAULT, now)
            .unwrap();
        assert!(table.release_connection(1, 8).is_empty());
        assert!(table.release_connection(0, 7).is_empty());
        let freed = table.release_connection(1, 7);
        assert_eq!(freed.len(), 1);
        assert_eq!(freed[0].name, "a_vol");
        let left: Vec<String> = table.list(now).into_iter().map(|l| l.name).collect();
        assert_eq!(left, ["b_vol"]);
    }

    #[test]
    fn release_owned_needs_the_owner_not_the_transaction() {
        let (node, t1, _) = ids();
        let other = Uuid::from_bytes([4; 16]);
        let now = Instant::now();
        let mut table = LockTable::new();
        table
            .acquire("v_vol", node, t1, Holder::Local, LEASE_DEFAULT, now)
            .unwrap();
        assert!(!table.release_owned("v_vol", other, now));
        assert!(table.release_owned("v_vol", node, now));
        assert!(table.list(now).is_empty());
    }

    #[test]
    fn force_release_drops_any_holder() {
        let (node, t1, _) = ids();
        let now = Instant::now();
        let mut table = LockTable::new();
        table
            .acquire("v1_vol", node, t1, Holder::Local, LEASE_DEFAULT, now)
            .unwrap();
        assert_eq!(table.force_release("v1_vol", now).unwrap().txn, t1);
        assert!(table.force_release("v1_vol", now).is_none());
    }

    #[test]
    fn lease_length_follows_glusterd_and_is_capped() {
        assert_eq!(lease_for(None), Duration::from_secs(180));
        assert_eq!(lease_for(Some(0)), Duration::from_secs(180));
        assert_eq!(lease_for(Some(-5)), Duration::from_secs(180));
        assert_eq!(lease_for(Some(300)), Duration::from_secs(420));
        assert_eq!(lease_for(Some(i64::MAX)), LEASE_MAX);
        let (node, t1, _) = ids();
        let now = Instant::now();
        let mut table = LockTable::new();
        table
            .acquire("v_vol", node, t1, Holder::Local, Duration::MAX, now)
            .unwrap();
        assert_eq!(table.list(now)[0].expires, now + LEASE_MAX);
    }
}
