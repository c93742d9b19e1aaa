//! This node as a transaction participant: its locks are the change shard's lock table, its
//! stage and commit are the operation's own code run here.

use super::shard::ShardState;
use crate::cluster::locks::Holder;
use crate::cluster::txn::{LocalFuture, Operation, Participant, TxnError, TxnInfo};
use crate::model::Uuid;
use crate::proto::dict::Dict;
use std::rc::Rc;
use std::time::Instant;

/// This node, seen from a transaction running on `state` (the change shard).
pub struct LocalNode {
    /// The change shard.
    pub state: Rc<ShardState>,
}

impl Participant for LocalNode {
    fn uuid(&self) -> Uuid {
        self.state.node.node.uuid
    }

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

    fn stage<'a>(
        &'a self,
        txn: &'a TxnInfo,
        op: &'a mut dyn Operation,
    ) -> LocalFuture<'a, Result<Dict, TxnError>> {
        op.stage(txn)
    }

    fn commit<'a>(
        &'a self,
        txn: &'a TxnInfo,
        op: &'a mut dyn Operation,
    ) -> LocalFuture<'a, Result<Dict, TxnError>> {
        op.commit(txn)
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
}

/// Runs `op` as transaction `op_number` (glusterd's `GD_OP_*`) holding volume `volname`'s lock
/// (a lease of `timeout` seconds, glusterd's default without one), with this node as its only
/// participant, on the change shard `state`: the CLI answer. Peers join the participant set
/// with issue 18.
pub async fn run_volume_txn(
    state: Rc<ShardState>,
    op_number: u32,
    volname: &str,
    timeout: Option<i64>,
    op: &mut dyn Operation,
) -> super::volume_create::CliAnswer {
    let txn = TxnInfo {
        id: Uuid::new_v4(),
        originator: state.node.node.uuid,
        op: op_number,
        locks: vec![crate::cluster::locks::volume_lock(volname)],
        lease: crate::cluster::locks::lease_for(timeout),
    };
    let local = LocalNode { state };
    let participants: [&dyn Participant; 1] = [&local];
    match crate::cluster::txn::run(&txn, &participants, op).await {
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
