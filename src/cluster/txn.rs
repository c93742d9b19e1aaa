//! The transaction engine, in the shape of glusterd's syncop transactions (reference §3.4):
//! lock on every participant → stage on every participant (answers merged) → brick-op →
//! commit on every participant → unlock on every participant → the reply.
//!
//! It is written against a set of [`Participant`]s. On one node the set is this node alone
//! ([`Participant`] implemented by `ops` over the shard's own state); remote peers join the set
//! as participants that send mgmt RPCs, without changing this code. The operation itself is an
//! [`Operation`]: what the phases do is the op's business, their order and the error handling
//! are this module's.
//!
//! Rules kept from glusterd: a failed lock on any participant unlocks the ones already locked
//! and fails the transaction with that participant's message; a failed stage skips brick-op and
//! commit; the unlock phase runs whatever happened before it. Different from glusterd: the
//! lock is a lease (`locks`), so a participant that never hears the unlock frees itself.

use super::locks::LockError;
use crate::model::Uuid;
use crate::proto::dict::Dict;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A future that stays on its shard.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What a transaction is, as every phase sees it.
#[derive(Debug, Clone)]
pub struct TxnInfo {
    /// The transaction id (glusterd's `transaction_id`).
    pub id: Uuid,
    /// The node that runs it (`originator_uuid`).
    pub originator: Uuid,
    /// glusterd's op number (`glusterd_op_t`: 1 create, 4 delete, …).
    pub op: u32,
    /// The locks it takes, glusterd's names (`<volname>_vol`).
    pub locks: Vec<String>,
    /// How long the locks live if nobody releases them.
    pub lease: Duration,
}

/// Why a transaction failed: what the CLI gets as op_errno and op_errstr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnError {
    /// glusterd's op_errno (0 when glusterd sends none).
    pub errno: i32,
    /// The op_errstr.
    pub message: String,
}

impl TxnError {
    /// An error with op_errno 0.
    pub fn new(message: impl Into<String>) -> TxnError {
        TxnError {
            errno: 0,
            message: message.into(),
        }
    }
}

impl From<LockError> for TxnError {
    fn from(e: LockError) -> TxnError {
        TxnError {
            errno: e.errno(),
            message: e.message(),
        }
    }
}

/// The work of one operation, phase by phase, on this node.
pub trait Operation {
    /// Stage: checks only, no change anywhere. Returns this node's stage answer (for create:
    /// each local brick's `brick<N>.mount_dir`), which is merged into the op's context.
    fn stage<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>>;
    /// Takes the merged stage answers of every participant, in participant order.
    fn merge_stage(&mut self, answers: Vec<(Uuid, Dict)>);
    /// The brick-op phase (on the originator, before commit).
    fn brick_op<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>>;
    /// Commit: the change itself, all or nothing on this node. Returns the reply dict.
    fn commit<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>>;
}

/// One node taking part in a transaction.
pub trait Participant {
    /// The node's UUID.
    fn uuid(&self) -> Uuid;
    /// Takes the transaction's locks there.
    fn lock<'a>(&'a self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>>;
    /// Runs the stage phase there.
    fn stage<'a>(
        &'a self,
        txn: &'a TxnInfo,
        op: &'a mut dyn Operation,
    ) -> LocalFuture<'a, Result<Dict, TxnError>>;
    /// Runs the commit phase there.
    fn commit<'a>(
        &'a self,
        txn: &'a TxnInfo,
        op: &'a mut dyn Operation,
    ) -> LocalFuture<'a, Result<Dict, TxnError>>;
    /// Releases the transaction's locks there (never fails: a lock it cannot release lapses).
    fn unlock<'a>(&'a self, txn: &'a TxnInfo) -> LocalFuture<'a, ()>;
}

/// Which phase a transaction reached; for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Taking the locks.
    Lock,
    /// Stage.
    Stage,
    /// Brick-op.
    BrickOp,
    /// Commit.
    Commit,
}

/// A finished transaction: the reply dict, or the phase that failed and why.
pub type TxnResult = Result<Dict, (Phase, TxnError)>;

/// Runs `op` across `participants` (the originator first). Always unlocks what it locked.
pub async fn run(
    txn: &TxnInfo,
    participants: &[&dyn Participant],
    op: &mut dyn Operation,
) -> TxnResult {
    // Lock phase.
    let mut locked = Vec::with_capacity(participants.len());
    for p in participants {
        if let Err(e) = p.lock(txn).await {
            for q in locked.iter().rev() {
                let q: &&dyn Participant = q;
                q.unlock(txn).await;
            }
            tracing::info!(txn = %txn.id, node = %p.uuid(), error = %e.message, "lock refused");
            return Err((Phase::Lock, e));
        }
        locked.push(*p);
    }
    let result = phases(txn, participants, op).await;
    // Unlock phase, whatever happened.
    for p in locked.iter().rev() {
        p.unlock(txn).await;
    }
    result
}

async fn phases(
    txn: &TxnInfo,
    participants: &[&dyn Participant],
    op: &mut dyn Operation,
) -> TxnResult {
    let started = std::time::Instant::now();
    let mut answers = Vec::with_capacity(participants.len());
    for p in participants {
        match p.stage(txn, op).await {
            Ok(dict) => answers.push((p.uuid(), dict)),
            Err(e) => return Err((Phase::Stage, e)),
        }
    }
    op.merge_stage(answers);
    let staged = started.elapsed();
    op.brick_op(txn).await.map_err(|e| (Phase::BrickOp, e))?;
    let brick_op = started.elapsed();
    let mut reply = None;
    for p in participants {
        match p.commit(txn, op).await {
            // The originator's commit answer is the reply (participants are originator first).
            Ok(dict) => {
                if reply.is_none() {
                    reply = Some(dict);
                }
            }
            Err(e) => return Err((Phase::Commit, e)),
        }
    }
    tracing::debug!(
        txn = %txn.id,
        stage_us = staged.as_micros() as u64,
        brick_op_us = (brick_op - staged).as_micros() as u64,
        commit_us = (started.elapsed() - brick_op).as_micros() as u64,
        "transaction phases"
    );
    Ok(reply.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A participant that records what it is asked and fails where told.
    struct Node {
        uuid: Uuid,
        fail: Option<Phase>,
        log: RefCell<Vec<String>>,
    }

    impl Node {
        fn new(byte: u8, fail: Option<Phase>) -> Node {
            Node {
                uuid: Uuid::from_bytes([byte; 16]),
                fail,
                log: RefCell::new(Vec::new()),
            }
        }
        fn step(&self, phase: Phase, what: &str) -> Result<(), TxnError> {
            self.log.borrow_mut().push(what.to_string());
            if self.fail == Some(phase) {
                Err(TxnError::new(format!("{what} failed")))
            } else {
                Ok(())
            }
        }
    }

    impl Participant for Node {
        fn uuid(&self) -> Uuid {
            self.uuid
        }
        fn lock<'a>(&'a self, _: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
            Box::pin(async move { self.step(Phase::Lock, "lock") })
        }
        fn stage<'a>(
            &'a self,
            txn: &'a TxnInfo,
            op: &'a mut dyn Operation,
        ) -> LocalFuture<'a, Result<Dict, TxnError>> {
            Box::pin(async move {
                self.step(Phase::Stage, "stage")?;
                op.stage(txn).await
            })
        }
        fn commit<'a>(
            &'a self,
            txn: &'a TxnInfo,
            op: &'a mut dyn Operation,
        ) -> LocalFuture<'a, Result<Dict, TxnError>> {
            Box::pin(async move {
                self.step(Phase::Commit, "commit")?;
                op.commit(txn).await
            })
        }
        fn unlock<'a>(&'a self, _: &'a TxnInfo) -> LocalFuture<'a, ()> {
            Box::pin(async move {
                self.log.borrow_mut().push("unlock".into());
            })
        }
    }

    #[derive(Default)]
    struct Op {
        merged: Vec<Uuid>,
        brick_ops: u32,
        commits: u32,
    }

    impl Operation for Op {
        fn stage<'a>(&'a mut self, _: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
            Box::pin(async move { Ok(Dict::new()) })
        }
        fn merge_stage(&mut self, answers: Vec<(Uuid, Dict)>) {
            self.merged = answers.into_iter().map(|(u, _)| u).collect();
        }
        fn brick_op<'a>(&'a mut self, _: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
            self.brick_ops += 1;
            Box::pin(async move { Ok(()) })
        }
        fn commit<'a>(&'a mut self, _: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
            self.commits += 1;
            Box::pin(async move {
                let mut d = Dict::new();
                d.set_str("volname", "v");
                Ok(d)
            })
        }
    }

    fn info() -> TxnInfo {
        TxnInfo {
            id: Uuid::from_bytes([9; 16]),
            originator: Uuid::from_bytes([1; 16]),
            op: 1,
            locks: vec!["v_vol".into()],
            lease: Duration::from_secs(180),
        }
    }

    fn logs(nodes: &[&Node]) -> Vec<Vec<String>> {
        nodes.iter().map(|n| n.log.borrow().clone()).collect()
    }

    #[test]
    fn every_phase_runs_on_every_participant_in_order() {
        let (a, b) = (Node::new(1, None), Node::new(2, None));
        let mut op = Op::default();
        let reply = futures_lite::future::block_on(run(&info(), &[&a, &b], &mut op)).unwrap();
        assert_eq!(reply.get_bin("volname"), Some(&b"v\0"[..]));
        assert_eq!(op.merged, [a.uuid, b.uuid]);
        assert_eq!((op.brick_ops, op.commits), (1, 2));
        let want = ["lock", "stage", "commit", "unlock"]
            .map(String::from)
            .to_vec();
        assert_eq!(logs(&[&a, &b]), [want.clone(), want]);
    }

    #[test]
    fn a_refused_lock_unlocks_the_ones_taken_and_runs_nothing() {
        let (a, b) = (Node::new(1, None), Node::new(2, Some(Phase::Lock)));
        let mut op = Op::default();
        let (phase, e) =
            futures_lite::future::block_on(run(&info(), &[&a, &b], &mut op)).unwrap_err();
        assert_eq!((phase, e.message.as_str()), (Phase::Lock, "lock failed"));
        assert_eq!(logs(&[&a, &b]), [vec!["lock", "unlock"], vec!["lock"]]);
        assert_eq!((op.brick_ops, op.commits), (0, 0));
    }

    #[test]
    fn a_failed_stage_skips_brick_op_and_commit_but_unlocks_all() {
        let (a, b) = (Node::new(1, None), Node::new(2, Some(Phase::Stage)));
        let mut op = Op::default();
        let (phase, _) =
            futures_lite::future::block_on(run(&info(), &[&a, &b], &mut op)).unwrap_err();
        assert_eq!(phase, Phase::Stage);
        assert_eq!((op.brick_ops, op.commits), (0, 0));
        assert_eq!(
            logs(&[&a, &b]),
            [
                vec!["lock", "stage", "unlock"],
                vec!["lock", "stage", "unlock"]
            ]
        );
    }

    #[test]
    fn a_failed_commit_still_unlocks() {
        let a = Node::new(1, Some(Phase::Commit));
        let mut op = Op::default();
        let (phase, _) = futures_lite::future::block_on(run(&info(), &[&a], &mut op)).unwrap_err();
        assert_eq!(phase, Phase::Commit);
        assert_eq!(logs(&[&a]), [vec!["lock", "stage", "commit", "unlock"]]);
    }
}
