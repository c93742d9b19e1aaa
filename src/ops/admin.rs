//! BRICKD-ADMIN on the unix socket: `brickd locks list`, `brickd locks release NAME` and
//! `brickd peer reconcile PEER` (`ops::pool`, on the change shard).
//! Listing asks every shard for its leases (only the change shard holds any; asking all keeps
//! the listing whole whichever shard holds them); releasing goes to the change shard and drops
//! the lease whoever holds it, and logs who held it.

use super::shard::{ShardState, CHANGE_SHARD};
use crate::program::{CallContext, LaterReply, Outcome, Program};
use crate::proto::admin::{self, decode_name_req, encode_rsp};
use crate::proto::rpc::ReplyStatus;
use std::rc::Rc;
use std::time::Instant;

/// The admin program for one shard.
pub struct AdminProgram {
    state: Rc<ShardState>,
}

impl AdminProgram {
    /// The program for this shard.
    pub fn shared(state: Rc<ShardState>) -> Rc<dyn Program> {
        Rc::new(AdminProgram { state })
    }
}

fn reply(op_ret: i32, text: &str) -> LaterReply {
    let mut body = Vec::new();
    encode_rsp(&mut body, op_ret, text);
    LaterReply {
        status: ReplyStatus::Success,
        body,
    }
}

impl Program for AdminProgram {
    fn name(&self) -> &'static str {
        "BRICKD-ADMIN"
    }
    fn number(&self) -> u32 {
        admin::PROGRAM
    }
    fn version(&self) -> u32 {
        admin::VERSION
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        match proc_num {
            0 => Some("NULL"),
            admin::PROC_LIST_LOCKS => Some("LIST_LOCKS"),
            admin::PROC_RELEASE_LOCK => Some("RELEASE_LOCK"),
            admin::PROC_RECONCILE_PEER => Some("RECONCILE_PEER"),
            _ => None,
        }
    }
    fn call(&self, _: &CallContext<'_>, proc_num: u32, args: &[u8], _: &mut Vec<u8>) -> Outcome {
        let state = self.state.clone();
        match proc_num {
            0 => Outcome::Now(ReplyStatus::Success),
            admin::PROC_LIST_LOCKS => {
                if !args.is_empty() {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                }
                Outcome::Later(Box::pin(async move {
                    match state.ask_all(|s: &ShardState| s.locks_statedump()).await {
                        Ok(sections) => reply(0, &sections.concat()),
                        Err(e) => reply(-1, &e.to_string()),
                    }
                }))
            }
            admin::PROC_RELEASE_LOCK => {
                let Ok(name) = decode_name_req(args).map(str::to_owned) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                Outcome::Later(Box::pin(async move {
                    let lock = name.clone();
                    let released = state
                        .ask(CHANGE_SHARD, move |s: &ShardState| {
                            s.locks.borrow_mut().force_release(&lock, Instant::now())
                        })
                        .await;
                    match released {
                        Ok(Some(lease)) => {
                            let text = format!(
                                "released {name} (owner {}, transaction {}, held {} s)",
                                lease.owner,
                                lease.txn,
                                lease.taken.elapsed().as_secs()
                            );
                            tracing::warn!(lock = %name, owner = %lease.owner, "lock force-released by an operator");
                            reply(0, &text)
                        }
                        Ok(None) => reply(-1, &format!("no lock named {name} is held")),
                        Err(e) => reply(-1, &e.to_string()),
                    }
                }))
            }
            admin::PROC_RECONCILE_PEER => {
                let Ok(peer) = decode_name_req(args).map(str::to_owned) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                Outcome::Later(Box::pin(async move {
                    let run = state
                        .run_on(CHANGE_SHARD, move |s| async move {
                            s.pool().reconcile(peer).await
                        })
                        .await;
                    match run {
                        Ok(Ok(text)) => reply(0, &text),
                        Ok(Err(text)) => reply(-1, &text),
                        Err(e) => reply(-1, &e.to_string()),
                    }
                }))
            }
            _ => Outcome::Now(ReplyStatus::ProcUnavail),
        }
    }
}
