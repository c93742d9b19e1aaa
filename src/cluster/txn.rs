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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnError {
    /// glusterd's op_errno (0 when glusterd sends none).
    pub errno: i32,
    /// The op_errstr.
    pub message: String,
    /// The node answered that its phase failed: nothing of it changed there. Not so when no
    /// answer came (the node may have gone on, and a commit may be finished from its journal
    /// at restart).
    pub refused: bool,
}

impl TxnError {
    /// An error with op_errno 0.
    pub fn new(message: impl Into<String>) -> TxnError {
        TxnError {
            errno: 0,
            message: message.into(),
            refused: false,
        }
    }
}

impl From<LockError> for TxnError {
    fn from(e: LockError) -> TxnError {
        TxnError {
            errno: e.errno(),
            message: e.message(),
            refused: false,
        }
    }
}

/// The work of one operation, phase by phase, on this node.
pub trait Operation {
    /// Stage: checks only, no change anywhere. Returns this node's stage answer (for create:
    /// each local brick's `brick<N>.mount_dir`), which is merged into the op's context.
    fn stage<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>>;
    /// Takes the stage answers of the other participants, in participant order.
    fn merge_stage(&mut self, answers: Vec<(Uuid, Dict)>);
    /// The brick-op phase (on the originator, before commit).
    fn brick_op<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>>;
    /// Commit: the change itself, all or nothing on this node. Returns the reply dict.
    fn commit<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>>;
    /// The op dict the other participants get with each phase: the request, and once the
    /// stage answers are merged, what they added (create: every brick's mount dir).
    fn peer_dict(&self) -> Dict;
    /// Called once every lock is taken, before any stage (tests pause a transaction there).
    fn locked<'a>(&'a mut self, _txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
        Box::pin(async { Ok(()) })
    }
    /// The operation that takes this one's commit back (a create's: the delete of its volume)
    /// and its op code, run on the nodes that committed when another node refused its commit;
    /// `None` when there is none.
    fn undo(&self) -> Option<(u32, Box<dyn Operation + '_>)> {
        None
    }
}

/// This node's side of the lock phase (its own stage and commit are the [`Operation`]'s).
pub trait Locks {
    /// Takes the transaction's locks here.
    fn lock<'a>(&'a self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>>;
    /// Releases them (never fails: a lock it cannot release lapses).
    fn unlock<'a>(&'a self, txn: &'a TxnInfo) -> LocalFuture<'a, ()>;
    /// Whether every lock of the transaction is still held here: a transaction whose lease
    /// lapsed while it waited (a peer's answer can take up to the frame timeout, longer than a
    /// lease) must not go on to change anything, since another transaction may have taken the
    /// locks and run in between.
    fn held(&self, txn: &TxnInfo) -> bool;
}

/// Another node taking part in a transaction: its phases run there, on the op dict.
pub trait Participant {
    /// The node's UUID.
    fn uuid(&self) -> Uuid;
    /// The name it is known by (for messages: "Staging failed on HOST").
    fn name(&self) -> String;
    /// Takes the transaction's locks there.
    fn lock<'a>(
        &'a self,
        txn: &'a TxnInfo,
        dict: &'a Dict,
    ) -> LocalFuture<'a, Result<(), TxnError>>;
    /// Runs the stage phase there; its answer.
    fn stage<'a>(
        &'a self,
        txn: &'a TxnInfo,
        dict: &'a Dict,
    ) -> LocalFuture<'a, Result<Dict, TxnError>>;
    /// Runs the commit phase there.
    fn commit<'a>(
        &'a self,
        txn: &'a TxnInfo,
        dict: &'a Dict,
    ) -> LocalFuture<'a, Result<Dict, TxnError>>;
    /// Releases the transaction's locks there (never fails: a lock it cannot release lapses,
    /// and a peer's locks go with its connection).
    fn unlock<'a>(&'a self, txn: &'a TxnInfo, dict: &'a Dict) -> LocalFuture<'a, ()>;
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

/// Runs `op` on this node (`local` holds its locks) and on `peers`, in glusterd's syncop
/// shape: every lock (this node first, then every peer at once), the stage here and on every
/// peer at once (their answers merged), brick-op here, the commit here and on every peer at
/// once; the unlock phase runs whatever happened. The first failure, this node's first then
/// in participant order, is the transaction's.
pub async fn run(
    txn: &TxnInfo,
    local: &dyn Locks,
    peers: &[&dyn Participant],
    op: &mut dyn Operation,
) -> TxnResult {
    local.lock(txn).await.map_err(|e| (Phase::Lock, e))?;
    let dict = op.peer_dict();
    let locked = join_all(peers.iter().map(|p| p.lock(txn, &dict))).await;
    let mut failed = None;
    for (p, outcome) in peers.iter().zip(&locked) {
        if let Err(e) = outcome {
            tracing::info!(txn = %txn.id, node = %p.uuid(), error = %e.message, "lock refused");
            failed.get_or_insert_with(|| e.clone());
        }
    }
    let mut undo_on = None;
    let result = match failed {
        Some(e) => Err((Phase::Lock, e)),
        None => match op.locked(txn).await {
            Err(e) => Err((Phase::Lock, e)),
            Ok(()) => phases(txn, local, peers, op, &mut undo_on).await,
        },
    };
    // Unlock phase, whatever happened: every peer, then this node. A peer whose LOCK failed is
    // sent an UNLOCK too (glusterd skips it): a LOCK that timed out may still be taken when the
    // peer gets to it, and the UNLOCK that follows it on the connection frees it then, where
    // glusterd's peer would hold it until its lease ends. An UNLOCK of a lock not held is a
    // no-op.
    let dict = op.peer_dict();
    join_all(peers.iter().map(|p| p.unlock(txn, &dict))).await;
    local.unlock(txn).await;
    if let Some(committed) = undo_on {
        let committed: Vec<&dyn Participant> = committed.into_iter().map(|i| peers[i]).collect();
        undo_half_commit(txn, local, &committed, op).await;
    }
    result
}

async fn phases(
    txn: &TxnInfo,
    local: &dyn Locks,
    peers: &[&dyn Participant],
    op: &mut dyn Operation,
    undo_on: &mut Option<Vec<usize>>,
) -> TxnResult {
    let started = std::time::Instant::now();
    // Stage here and on every peer at once: stages only read, and a peer's needs nothing from
    // this node's (its answer goes into the commit's dict).
    let dict = op.peer_dict();
    let (here, staged) = futures_util::future::join(
        op.stage(txn),
        join_all(peers.iter().map(|p| p.stage(txn, &dict))),
    )
    .await;
    here.map_err(|e| (Phase::Stage, e))?;
    let mut answers = Vec::with_capacity(peers.len());
    for (p, outcome) in peers.iter().zip(staged) {
        match outcome {
            Ok(answer) => answers.push((p.uuid(), answer)),
            Err(e) => return Err((Phase::Stage, e)),
        }
    }
    op.merge_stage(answers);
    let staged = started.elapsed();
    // Nothing changes once the locks are gone (their lease lapsed during a long phase).
    let lapsed = |phase| {
        (
            phase,
            TxnError::new(format!(
                "Locking failed: the transaction outlived its locks' lease ({} s) and was stopped before it changed anything",
                txn.lease.as_secs()
            )),
        )
    };
    if !local.held(txn) {
        return Err(lapsed(Phase::BrickOp));
    }
    // The brick-op (a start's bricks) before any commit: if it fails, nobody commits.
    op.brick_op(txn).await.map_err(|e| (Phase::BrickOp, e))?;
    if !local.held(txn) {
        return Err(lapsed(Phase::Commit));
    }
    let brick_op = started.elapsed();
    // Commit here and on every peer at once (glusterd commits here first, then on the peers:
    // one journal flush less of latency; either order leaves the same pool when one fails).
    let dict = op.peer_dict();
    let (reply, committed) = futures_util::future::join(
        op.commit(txn),
        join_all(peers.iter().map(|p| p.commit(txn, &dict))),
    )
    .await;
    // Half a commit: this node and maybe some peers made it, and every node that did not
    // answered that it failed (a silent node may have committed: it finishes from its journal
    // at restart, so nothing is taken back then). The peers that made it, by index.
    let refused = committed
        .iter()
        .any(|r| r.as_ref().is_err_and(|e| e.refused));
    let silent = committed
        .iter()
        .any(|r| r.as_ref().is_err_and(|e| !e.refused));
    if reply.is_ok() && refused && !silent {
        *undo_on = Some(
            (committed.iter().enumerate())
                .filter(|(_, r)| r.is_ok())
                .map(|(i, _)| i)
                .collect(),
        );
    } else if reply.is_ok() && silent {
        tracing::warn!(txn = %txn.id, "a node did not answer its commit: the others keep theirs (it finishes its own from its journal at restart)");
    }
    let reply = reply.map_err(|e| (Phase::Commit, e))?;
    for outcome in committed {
        outcome.map_err(|e| (Phase::Commit, e))?;
    }
    tracing::debug!(
        txn = %txn.id,
        stage_us = staged.as_micros() as u64,
        brick_op_us = (brick_op - staged).as_micros() as u64,
        commit_us = (started.elapsed() - brick_op).as_micros() as u64,
        "transaction phases"
    );
    Ok(reply)
}

/// A commit that this node and some peers made and others refused would leave the volume on
/// part of the pool (glusterd leaves it so): the operation's undo (a create's: the delete of
/// its volume) runs as a transaction of its own, with a new id, on this node and the peers
/// that committed, right after the first one's unlock. (Inside the first transaction a
/// glusterd peer answers no second phase of one kind: its op state machine has moved on.)
/// Best effort: what the undo cannot take back is logged; the first transaction's failure is
/// what the caller reports either way.
async fn undo_half_commit(
    txn: &TxnInfo,
    local: &dyn Locks,
    committed: &[&dyn Participant],
    op: &mut dyn Operation,
) {
    let Some((undo_op, mut undo)) = op.undo() else {
        return;
    };
    let undo_txn = TxnInfo {
        id: Uuid::new_v4(),
        op: undo_op,
        ..txn.clone()
    };
    let undone = Box::pin(run(&undo_txn, local, committed, &mut *undo)).await;
    match undone {
        Ok(_) => {
            tracing::warn!(txn = %txn.id, undo = %undo_txn.id, peers = committed.len(), "a commit refused by a node was taken back here and on every peer that had made it")
        }
        Err((phase, e)) => {
            tracing::error!(txn = %txn.id, undo = %undo_txn.id, ?phase, error = %e.message, "a commit refused by a node could not be taken back")
        }
    }
}

/// Runs every future at once on this task and returns their outputs in order.
async fn join_all<'a, T>(futures: impl Iterator<Item = LocalFuture<'a, T>>) -> Vec<T> {
    futures_util::future::join_all(futures).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A node that records what it is asked and fails where told.
    struct Node {
        uuid: Uuid,
        fail: Option<Phase>,
        log: RefCell<Vec<String>>,
        /// Its lease lapsed (as this node, the originator, sees it).
        lapsed: std::cell::Cell<bool>,
        /// It fails without an answer (a dropped connection) instead of refusing.
        silent: bool,
    }

    impl Node {
        fn new(byte: u8, fail: Option<Phase>) -> Node {
            Node {
                uuid: Uuid::from_bytes([byte; 16]),
                fail,
                log: RefCell::new(Vec::new()),
                lapsed: std::cell::Cell::new(false),
                silent: false,
            }
        }
        fn step(&self, phase: Phase, what: &str) -> Result<(), TxnError> {
            self.log.borrow_mut().push(what.to_string());
            if self.fail == Some(phase) {
                Err(TxnError {
                    refused: !self.silent,
                    ..TxnError::new(format!("{what} failed"))
                })
            } else {
                Ok(())
            }
        }
    }

    impl Locks for Node {
        fn lock<'a>(&'a self, _: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
            Box::pin(async move { self.step(Phase::Lock, "lock") })
        }
        fn unlock<'a>(&'a self, _: &'a TxnInfo) -> LocalFuture<'a, ()> {
            Box::pin(async move {
                self.log.borrow_mut().push("unlock".into());
            })
        }
        fn held(&self, _: &TxnInfo) -> bool {
            !self.lapsed.get()
        }
    }

    impl Participant for Node {
        fn uuid(&self) -> Uuid {
            self.uuid
        }
        fn name(&self) -> String {
            self.uuid.to_string()
        }
        fn lock<'a>(
            &'a self,
            _: &'a TxnInfo,
            _: &'a Dict,
        ) -> LocalFuture<'a, Result<(), TxnError>> {
            Box::pin(async move { self.step(Phase::Lock, "lock") })
        }
        fn stage<'a>(
            &'a self,
            _: &'a TxnInfo,
            dict: &'a Dict,
        ) -> LocalFuture<'a, Result<Dict, TxnError>> {
            Box::pin(async move {
                self.step(Phase::Stage, "stage")?;
                let mut answer = Dict::new();
                answer.set_str("seen", dict.get_str("request").unwrap_or(""));
                Ok(answer)
            })
        }
        fn commit<'a>(
            &'a self,
            _: &'a TxnInfo,
            dict: &'a Dict,
        ) -> LocalFuture<'a, Result<Dict, TxnError>> {
            Box::pin(async move {
                self.step(Phase::Commit, "commit")?;
                assert_eq!(
                    dict.get_str("merged").ok(),
                    Some("1"),
                    "commit gets the merged dict"
                );
                Ok(Dict::new())
            })
        }
        fn unlock<'a>(&'a self, _: &'a TxnInfo, _: &'a Dict) -> LocalFuture<'a, ()> {
            Box::pin(async move {
                self.log.borrow_mut().push("unlock".into());
            })
        }
    }

    #[derive(Default)]
    struct Op {
        merged: Vec<Uuid>,
        stages: u32,
        brick_ops: u32,
        commits: u32,
        fail: Option<Phase>,
        /// Where its undo (if it has one) notes its phases here.
        undo_log: Option<std::rc::Rc<RefCell<Vec<String>>>>,
    }

    /// An undo that notes its phases; its dict is what the peers' commit checks for.
    struct Undo(std::rc::Rc<RefCell<Vec<String>>>);

    impl Operation for Undo {
        fn stage<'a>(&'a mut self, _: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
            self.0.borrow_mut().push("undo stage".into());
            Box::pin(async { Ok(Dict::new()) })
        }
        fn merge_stage(&mut self, _: Vec<(Uuid, Dict)>) {}
        fn brick_op<'a>(&'a mut self, _: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
            Box::pin(async { Ok(()) })
        }
        fn commit<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
            self.0
                .borrow_mut()
                .push(format!("undo commit op {}", txn.op));
            Box::pin(async { Ok(Dict::new()) })
        }
        fn peer_dict(&self) -> Dict {
            let mut d = Dict::new();
            d.set_str("request", "r");
            d.set_str("merged", "1");
            d
        }
    }

    impl Operation for Op {
        fn stage<'a>(&'a mut self, _: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
            self.stages += 1;
            let fail = self.fail == Some(Phase::Stage);
            Box::pin(async move {
                if fail {
                    return Err(TxnError::new("local stage failed"));
                }
                Ok(Dict::new())
            })
        }
        fn merge_stage(&mut self, answers: Vec<(Uuid, Dict)>) {
            for (_, a) in &answers {
                assert_eq!(a.get_str("seen").ok(), Some("r"));
            }
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
        fn peer_dict(&self) -> Dict {
            let mut d = Dict::new();
            d.set_str("request", "r");
            if !self.merged.is_empty() {
                d.set_str("merged", "1");
            }
            d
        }
        fn undo(&self) -> Option<(u32, Box<dyn Operation + '_>)> {
            let log = self.undo_log.clone()?;
            Some((4, Box::new(Undo(log))))
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

    fn run_on(local: &Node, peers: &[&Node], op: &mut Op) -> TxnResult {
        let peers: Vec<&dyn Participant> = peers.iter().map(|p| *p as &dyn Participant).collect();
        futures_lite::future::block_on(run(&info(), local, &peers, op))
    }

    #[test]
    fn every_phase_runs_on_every_participant_in_order() {
        let (a, b, c) = (Node::new(1, None), Node::new(2, None), Node::new(3, None));
        let mut op = Op::default();
        let reply = run_on(&a, &[&b, &c], &mut op).unwrap();
        assert_eq!(reply.get_bin("volname"), Some(&b"v\0"[..]));
        assert_eq!(op.merged, [b.uuid, c.uuid]);
        assert_eq!((op.stages, op.brick_ops, op.commits), (1, 1, 1));
        let peer = ["lock", "stage", "commit", "unlock"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            logs(&[&a, &b, &c]),
            [
                vec!["lock".to_string(), "unlock".into()],
                peer.clone(),
                peer
            ]
        );
    }

    #[test]
    fn a_refused_commit_is_undone_where_it_was_made_and_a_silent_one_is_not() {
        // c refuses its commit: the undo (op 4) runs here and on b, which committed, not on c.
        let (a, b) = (Node::new(1, None), Node::new(2, None));
        let c = Node::new(3, Some(Phase::Commit));
        let here = std::rc::Rc::new(RefCell::new(Vec::new()));
        let mut op = Op {
            undo_log: Some(here.clone()),
            ..Op::default()
        };
        let (phase, e) = run_on(&a, &[&b, &c], &mut op).unwrap_err();
        assert_eq!(
            (phase, e.message.as_str()),
            (Phase::Commit, "commit failed")
        );
        assert_eq!(*here.borrow(), ["undo stage", "undo commit op 4"]);
        fn peer(undone: bool) -> Vec<&'static str> {
            let mut log = vec!["lock", "stage", "commit", "unlock"];
            if undone {
                log.extend(["lock", "stage", "commit", "unlock"]);
            }
            log
        }
        assert_eq!(
            logs(&[&a, &b, &c]),
            [
                vec!["lock", "unlock", "lock", "unlock"],
                peer(true),
                peer(false)
            ],
            "the undo a transaction of its own after the unlock, on the nodes that committed"
        );
        // c goes silent instead: it may have committed (and would finish at restart), so
        // nothing is undone anywhere.
        let (a, b) = (Node::new(1, None), Node::new(2, None));
        let mut c = Node::new(3, Some(Phase::Commit));
        c.silent = true;
        let here = std::rc::Rc::new(RefCell::new(Vec::new()));
        let mut op = Op {
            undo_log: Some(here.clone()),
            ..Op::default()
        };
        let (phase, _) = run_on(&a, &[&b, &c], &mut op).unwrap_err();
        assert_eq!(phase, Phase::Commit);
        assert!(here.borrow().is_empty());
        assert_eq!(logs(&[&b, &c]), [peer(false), peer(false)]);
    }

    #[test]
    fn a_refused_lock_unlocks_every_peer_and_runs_nothing() {
        let (a, b, c) = (
            Node::new(1, None),
            Node::new(2, Some(Phase::Lock)),
            Node::new(3, None),
        );
        let mut op = Op::default();
        let (phase, e) = run_on(&a, &[&b, &c], &mut op).unwrap_err();
        assert_eq!((phase, e.message.as_str()), (Phase::Lock, "lock failed"));
        assert_eq!(
            logs(&[&a, &b, &c]),
            [
                vec!["lock", "unlock"],
                vec!["lock", "unlock"],
                vec!["lock", "unlock"]
            ],
            "the refusing peer is sent an unlock too: a timed-out lock may be taken later"
        );
        assert_eq!((op.stages, op.brick_ops, op.commits), (0, 0, 0));
    }

    #[test]
    fn a_refused_local_lock_asks_no_peer() {
        let (a, b) = (Node::new(1, Some(Phase::Lock)), Node::new(2, None));
        let mut op = Op::default();
        let (phase, _) = run_on(&a, &[&b], &mut op).unwrap_err();
        assert_eq!(phase, Phase::Lock);
        assert_eq!(logs(&[&a, &b]), [vec!["lock"], vec![]]);
    }

    #[test]
    fn a_failed_stage_skips_brick_op_and_commit_but_unlocks_all() {
        let (a, b) = (Node::new(1, None), Node::new(2, Some(Phase::Stage)));
        let mut op = Op::default();
        let (phase, _) = run_on(&a, &[&b], &mut op).unwrap_err();
        assert_eq!(phase, Phase::Stage);
        assert_eq!((op.brick_ops, op.commits), (0, 0));
        assert_eq!(
            logs(&[&a, &b]),
            [vec!["lock", "unlock"], vec!["lock", "stage", "unlock"]]
        );
        // A local stage that fails fails the transaction: peers staged alongside (a stage
        // only reads) and commit nothing.
        let (a, b) = (Node::new(1, None), Node::new(2, None));
        let mut op = Op {
            fail: Some(Phase::Stage),
            ..Op::default()
        };
        assert_eq!(run_on(&a, &[&b], &mut op).unwrap_err().0, Phase::Stage);
        assert_eq!(logs(&[&b]), [vec!["lock", "stage", "unlock"]]);
        assert_eq!(op.commits, 0);
    }

    #[test]
    fn a_failed_peer_commit_fails_the_transaction_and_still_unlocks() {
        let (a, b) = (Node::new(1, None), Node::new(2, Some(Phase::Commit)));
        let mut op = Op::default();
        let (phase, _) = run_on(&a, &[&b], &mut op).unwrap_err();
        assert_eq!(phase, Phase::Commit);
        assert_eq!(op.commits, 1, "this node committed first");
        assert_eq!(logs(&[&b]), [vec!["lock", "stage", "commit", "unlock"]]);
    }

    #[test]
    fn a_transaction_whose_lease_lapsed_changes_nothing() {
        let (a, b) = (Node::new(1, None), Node::new(2, None));
        a.lapsed.set(true);
        let mut op = Op::default();
        let (phase, e) = run_on(&a, &[&b], &mut op).unwrap_err();
        assert_eq!(phase, Phase::BrickOp);
        assert!(
            e.message.contains("outlived its locks' lease"),
            "{}",
            e.message
        );
        assert_eq!((op.brick_ops, op.commits), (0, 0));
        assert_eq!(logs(&[&b]), [vec!["lock", "stage", "unlock"]]);
    }
}
