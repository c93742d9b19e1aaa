//! This node as a participant in another node's transaction (a brickd or a glusterd
//! originator): the v2 STAGE_OP and COMMIT_OP of create (op 1) and delete (op 4), and the
//! mgmt v3 PRE_VALIDATE, BRICK_OP, COMMIT, POST_COMMIT and POST_VALIDATE of start (5) and
//! stop (6). Each phase runs the operation's own stage and commit here, on the change shard,
//! for this node's bricks only: a create checks and claims the bricks this node owns and
//! stores the whole volume; a start starts this node's bricks.
//!
//! Only a befriended peer, on a connection where it proved who it is (MGMT_HNDSK VERSIONS),
//! may run a phase here; the UUID in the request body must be that peer's.
//!
//! A create's or delete's commit uses the operation its stage kept (syncop transactions carry
//! an id); a start's or stop's (mgmt v3 sends none) stages again first, read-only.

use super::shard::{ShardState, CHANGE_SHARD};
use crate::cluster::txn::{Operation, TxnError, TxnInfo};
use crate::model::Uuid;
use crate::program::{CallContext, LaterReply, Outcome, Program};
use crate::proto::dict::{Dict, DictLimits};
use crate::proto::mgmt::{self, PhaseRsp, RspLayout};
use crate::proto::programs::names;
use crate::proto::rpc::ReplyStatus;
use std::rc::Rc;

/// What a participant is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Stage or pre-validate: checks only.
    Stage,
    /// Commit: the change here.
    Commit,
    /// Brick-op, post-commit, post-validate: nothing more to do here.
    Nothing,
}

/// The operation `op` (glusterd's number) on this node, from its op dict.
fn operation(state: &Rc<ShardState>, op: i32, dict: Dict) -> Result<Box<dyn Operation>, TxnError> {
    match op {
        1 => super::volume_create::participant_op(state.clone(), dict),
        4 => super::volume_delete::participant_op(state.clone(), dict),
        5 => super::volume_start::participant_op(
            state.clone(),
            dict,
            super::volume_start::Action::Start,
        ),
        6 => super::volume_start::participant_op(
            state.clone(),
            dict,
            super::volume_start::Action::Stop,
        ),
        11 | 12 => super::volume_options::participant_op(state.clone(), dict, op as u32),
        other => Err(TxnError::new(format!(
            "brickd does not take part in operation {other} yet"
        ))),
    }
}

/// Runs `step` of `op` here for `originator`; the answer dict.
pub async fn run(
    state: Rc<ShardState>,
    originator: Uuid,
    op: i32,
    step: Step,
    dict: Dict,
) -> Result<Dict, TxnError> {
    let id = dict
        .get_bin("transaction_id")
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(Uuid::from_bytes)
        .unwrap_or_else(Uuid::new_v4);
    let txn = TxnInfo {
        id,
        originator,
        op: op as u32,
        locks: Vec::new(),
        lease: std::time::Duration::ZERO,
    };
    if step == Step::Nothing {
        return Ok(Dict::new());
    }
    if op as u32 == super::remote::OP_STATUS_VOLUME {
        // A status: this node's bricks and daemons, read (the stage checks the same).
        let mut bytes = Vec::new();
        dict.encode(&mut bytes);
        let answer = super::volume_status::local_status(&state, &bytes).await;
        if answer.op_ret != 0 {
            return Err(TxnError {
                errno: answer.op_errno,
                message: answer.op_errstr,
                refused: true,
            });
        }
        return Ok(if step == Step::Commit {
            answer.dict
        } else {
            Dict::new()
        });
    }
    let name = match step {
        Step::Stage => "participant.stage",
        _ => "participant.commit",
    };
    super::failpoints::pass(name).await?;
    // Only inside the originator's lock here: a node that restarted (or whose lease lapsed)
    // between the LOCK and this phase does not act on a transaction it no longer holds the
    // lock for (glusterd's participant does).
    if step == Step::Commit || step == Step::Stage {
        let names = super::mgmt_v3::lock_names(&dict).unwrap_or_default();
        let now = std::time::Instant::now();
        let mut locks = state.locks.borrow_mut();
        if let Some(name) = names
            .iter()
            .find(|name| !locks.held_by(&crate::cluster::locks::volume_lock(name), originator, now))
        {
            return Err(TxnError::new(format!(
                "Locking failed: {originator} does not hold the lock on {name} here (this node restarted or the lock's lease lapsed)"
            )));
        }
    }
    // A transaction with an id (syncop's `transaction_id`) keeps its staged operation here
    // until its commit, which then skips a second stage; one without stages again.
    let key = dict.get_bin("transaction_id").map(|_| (originator, id, op));
    let kept = match (step, key) {
        (Step::Commit, Some(key)) => state.staged.borrow_mut().take(key),
        _ => None,
    };
    let mut operation = match kept {
        Some(operation) => operation,
        None => {
            let mut operation = operation(&state, op, dict.clone())?;
            let mut answer = operation.stage(&txn).await?;
            if step == Step::Stage {
                if op == 1 {
                    let count = dict.get_str("count").unwrap_or("0").trim().to_string();
                    answer.set_str("brick_count", &count);
                }
                if let Some(key) = key {
                    state.staged.borrow_mut().keep(key, operation);
                }
                return Ok(answer);
            }
            operation
        }
    };
    // The originator's commit dict carries every node's stage answers.
    operation.merge_stage(vec![(originator, dict)]);
    operation.brick_op(&txn).await?;
    operation.commit(&txn).await
}

/// Whether `claimed` may run phases here: a befriended peer that proved itself as `claimed`
/// on this connection.
fn allowed(state: &ShardState, connection: u64, claimed: Uuid) -> bool {
    state.peer_of(connection) == Some(claimed) && state.node.peers.load().is_friend(claimed)
}

/// Answers a phase call: decodes it, runs it on the change shard, encodes the answer.
pub fn answer_phase(
    state: &Rc<ShardState>,
    ctx: &CallContext<'_>,
    args: &[u8],
    step: Step,
    layout: RspLayout,
    post_validate: bool,
) -> Outcome {
    let Ok(req) = mgmt::decode_phase_req(args, post_validate) else {
        return Outcome::Now(ReplyStatus::GarbageArgs);
    };
    let originator = Uuid::from_bytes(req.uuid);
    let me = state.node.node.uuid();
    let op = req.op;
    let permitted = allowed(state, ctx.connection, originator);
    let dict = Dict::decode(req.dict, DictLimits::default());
    let state = state.clone();
    Outcome::Later(Box::pin(async move {
        let result = match (permitted, dict) {
            (false, _) => Err(TxnError::new(format!(
                "{originator} is not a peer of this node on this connection"
            ))),
            (true, Err(e)) => Err(TxnError::new(format!("malformed op dict: {e}"))),
            (true, Ok(dict)) => {
                let dict = dict.unwrap_or_default();
                state
                    .run_on(CHANGE_SHARD, move |s| async move {
                        run(s, originator, op, step, dict).await
                    })
                    .await
                    .unwrap_or_else(|e| Err(TxnError::new(e.to_string())))
            }
        };
        let (op_ret, op_errno, errstr, answer) = match result {
            Ok(answer) => (0, 0, String::new(), answer),
            Err(e) => {
                tracing::info!(%originator, op, ?step, error = %e.message, "phase failed here");
                (-1, e.errno, e.message, Dict::new())
            }
        };
        let mut bytes = Vec::new();
        if !answer.is_empty() {
            answer.encode(&mut bytes);
        }
        let mut body = Vec::new();
        mgmt::encode_phase_rsp(
            &mut body,
            &PhaseRsp {
                uuid: *me.as_bytes(),
                op,
                op_ret,
                op_errno,
                op_errstr: &errstr,
                dict: &bytes,
            },
            layout,
        );
        LaterReply {
            status: ReplyStatus::Success,
            body,
        }
    }))
}

/// GD_MGMT v2 (1238433 v2) on TCP: STAGE_OP and COMMIT_OP of a peer's syncop transaction.
pub struct MgmtV2Program {
    state: Rc<ShardState>,
}

impl MgmtV2Program {
    /// The program for one shard.
    pub fn shared(state: Rc<ShardState>) -> Rc<dyn Program> {
        Rc::new(MgmtV2Program { state })
    }
}

impl Program for MgmtV2Program {
    fn name(&self) -> &'static str {
        names::MGMT
    }
    fn number(&self) -> u32 {
        mgmt::PROGRAM
    }
    fn version(&self) -> u32 {
        mgmt::VERSION_V2
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        match proc_num {
            0 => Some("NULL"),
            mgmt::PROC_V2_STAGE_OP => Some("STAGE_OP"),
            mgmt::PROC_V2_COMMIT_OP => Some("COMMIT_OP"),
            _ => None,
        }
    }
    fn call(
        &self,
        ctx: &CallContext<'_>,
        proc_num: u32,
        args: &[u8],
        _out: &mut Vec<u8>,
    ) -> Outcome {
        let step = match proc_num {
            0 => return Outcome::Now(ReplyStatus::Success),
            mgmt::PROC_V2_STAGE_OP => Step::Stage,
            mgmt::PROC_V2_COMMIT_OP => Step::Commit,
            _ => return Outcome::Now(ReplyStatus::ProcUnavail),
        };
        answer_phase(&self.state, ctx, args, step, RspLayout::v2(proc_num), false)
    }
}

/// Most staged operations kept for their commit.
pub const STAGED_MAX: usize = 64;
/// How long a staged operation waits for its commit (an originator that never commits).
pub const STAGED_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// Operations staged here for another node's transaction, kept until its commit (by
/// originator, transaction id and op): at most [`STAGED_MAX`], none older than
/// [`STAGED_FOR`].
#[derive(Default)]
pub struct Staged {
    kept: Vec<(StagedKey, std::time::Instant, Box<dyn Operation>)>,
}

/// What a staged operation is kept by: the originator, the transaction id, the op.
pub type StagedKey = (Uuid, Uuid, i32);

impl Staged {
    /// Keeps `operation`, staged for `key`.
    pub fn keep(&mut self, key: StagedKey, operation: Box<dyn Operation>) {
        let now = std::time::Instant::now();
        self.kept
            .retain(|(k, at, _)| *k != key && now.duration_since(*at) < STAGED_FOR);
        if self.kept.len() >= STAGED_MAX {
            self.kept.remove(0);
        }
        self.kept.push((key, now, operation));
    }

    /// The operation staged for `key`, if it is still kept.
    pub fn take(&mut self, key: StagedKey) -> Option<Box<dyn Operation>> {
        let at = self.kept.iter().position(|(k, _, _)| *k == key)?;
        let (_, staged, operation) = self.kept.remove(at);
        (staged.elapsed() < STAGED_FOR).then_some(operation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::txn::LocalFuture;

    struct Nop(u8);

    impl Operation for Nop {
        fn stage<'a>(&'a mut self, _: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
            Box::pin(async { Ok(Dict::new()) })
        }
        fn merge_stage(&mut self, _: Vec<(Uuid, Dict)>) {}
        fn brick_op<'a>(&'a mut self, _: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
            Box::pin(async { Ok(()) })
        }
        fn commit<'a>(&'a mut self, _: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
            Box::pin(async { Ok(Dict::new()) })
        }
        fn peer_dict(&self) -> Dict {
            let mut d = Dict::new();
            d.set_str("n", &self.0.to_string());
            d
        }
    }

    fn key(n: u8) -> (Uuid, Uuid, i32) {
        (Uuid::from_bytes([1; 16]), Uuid::from_bytes([n; 16]), 1)
    }

    #[test]
    fn a_staged_operation_is_taken_once_and_the_oldest_go_first() {
        let mut staged = Staged::default();
        staged.keep(key(1), Box::new(Nop(1)));
        staged.keep(key(2), Box::new(Nop(2)));
        let taken = staged.take(key(1)).expect("kept");
        assert_eq!(taken.peer_dict().get_str("n").unwrap(), "1");
        assert!(staged.take(key(1)).is_none(), "taken once");
        // The same key again replaces it.
        staged.keep(key(2), Box::new(Nop(3)));
        assert_eq!(
            staged
                .take(key(2))
                .unwrap()
                .peer_dict()
                .get_str("n")
                .unwrap(),
            "3"
        );
        // At most STAGED_MAX: the oldest goes.
        for n in 0..=STAGED_MAX as u8 {
            staged.keep(key(n.wrapping_add(10)), Box::new(Nop(n)));
        }
        assert!(staged.take(key(10)).is_none());
        assert!(staged.take(key(11)).is_some());
    }
}
