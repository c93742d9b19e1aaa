//! This node in a transaction: its locks are the change shard's lock table (its stage and
//! commit are the operation's own code, run here), and [`run_volume_txn`] runs a volume
//! transaction with every connected friend of the pool taking part (`ops::remote`).

use super::shard::ShardState;
use crate::cluster::locks::Holder;
use crate::cluster::txn::{LocalFuture, Locks, Operation, Participant, TxnError, TxnInfo};
use crate::model::Uuid;
use crate::proto::dict::Dict;
use std::rc::Rc;
use std::time::Instant;

/// This node, seen from a transaction running on `state` (the change shard).
pub struct LocalNode {
    /// The change shard.
    pub state: Rc<ShardState>,
}

impl Locks for LocalNode {
    fn lock<'a>(&'a self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut table = self.state.locks.borrow_mut();
            for (i, name) in txn.locks.iter().enumerate() {
                if let Err(e) =
                    table.acquire(name, txn.originator, txn.id, Holder::Local, txn.lease, now)
                {
                    for taken in &txn.locks[..i] {
                        table.release(taken, txn.id, now);
                    }
                    return Err(e.into());
                }
            }
            Ok(())
        })
    }

    fn unlock<'a>(&'a self, txn: &'a TxnInfo) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            let now = Instant::now();
            let mut table = self.state.locks.borrow_mut();
            for name in &txn.locks {
                table.release(name, txn.id, now);
            }
        })
    }

    fn held(&self, txn: &TxnInfo) -> bool {
        let now = Instant::now();
        let mut table = self.state.locks.borrow_mut();
        txn.locks.iter().all(|name| table.holds(name, txn.id, now))
    }
}

/// Runs `op` as transaction `op_number` (glusterd's `GD_OP_*`) holding volume `volname`'s lock
/// (a lease of `timeout` seconds, glusterd's default without one) on this node and on every
/// connected friend of the pool, from the change shard `state`: the CLI answer.
pub async fn run_volume_txn(
    state: Rc<ShardState>,
    op_number: u32,
    volname: &str,
    timeout: Option<i64>,
    op: &mut dyn Operation,
) -> super::volume_create::CliAnswer {
    let txn = TxnInfo {
        id: Uuid::new_v4(),
        originator: state.node.node.uuid(),
        op: op_number,
        locks: vec![crate::cluster::locks::volume_lock(volname)],
        lease: crate::cluster::locks::lease_for(timeout),
    };
    let peers = super::remote::participants(&state);
    let remote: Vec<&dyn Participant> = peers.iter().map(|p| p as &dyn Participant).collect();
    let local = LocalNode { state };
    match crate::cluster::txn::run(&txn, &local, &remote, &mut AfterLock(op)).await {
        Ok(dict) => super::volume_create::CliAnswer {
            op_ret: 0,
            op_errno: 0,
            op_errstr: String::new(),
            dict,
        },
        Err((phase, e)) => {
            tracing::info!(volume = %volname, op = op_number, ?phase, error = %e.message, "volume transaction failed");
            super::volume_create::CliAnswer::failed(e.errno, e.message)
        }
    }
}

/// `dict` with the volume's id (`vol-id`) added, as glusterd sends a volume op's dict to its
/// peers.
pub fn with_volume_id(state: &ShardState, volname: &str, dict: &Dict) -> Dict {
    let mut dict = dict.clone();
    if let Some(volume) = state.catalog().get(volname) {
        dict.set_str("vol-id", &volume.volume_id.to_string());
    }
    dict
}

/// The originator's operation with failpoint `txn.after-lock` once every lock of the pool is
/// taken and nothing is staged anywhere (tests kill or pause the originator there).
pub struct AfterLock<'o>(pub &'o mut dyn Operation);

impl Operation for AfterLock<'_> {
    fn locked<'a>(&'a mut self, _: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
        Box::pin(super::failpoints::pass("txn.after-lock"))
    }
    fn stage<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        self.0.stage(txn)
    }
    fn merge_stage(&mut self, answers: Vec<(Uuid, Dict)>) {
        self.0.merge_stage(answers)
    }
    fn brick_op<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
        self.0.brick_op(txn)
    }
    fn commit<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        self.0.commit(txn)
    }
    fn peer_dict(&self) -> Dict {
        self.0.peer_dict()
    }
    fn undo(&self) -> Option<(u32, Box<dyn Operation + '_>)> {
        self.0.undo()
    }
}
