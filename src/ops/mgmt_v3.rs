//! GD_MGMT_V3 (1238433 v3) on TCP: the LOCK and UNLOCK a peer's transaction sends before and
//! after its phases (reference §3.4); its phases (pre-validate, brick-op, commit, post-*) are
//! `ops::participant`'s.
//!
//! LOCK takes `<volname>_vol` (or `volname1..N` with `volcount`) for the requesting node, as a
//! lease tied to the connection it came over: released by UNLOCK, when the connection closes,
//! or when the lease lapses (`timeout` + 120 s, or 180 s). Only a peer of this node may lock,
//! and only on a connection where it proved who it is (its MGMT_HNDSK VERSIONS): the UUID in
//! the request body must be that peer's (glusterd trusts the body).

use super::shard::{ShardState, CHANGE_SHARD};
use crate::cluster::locks::{lease_for, volume_lock, Holder};
use crate::model::Uuid;
use crate::program::{CallContext, LaterReply, Outcome, Program};
use crate::proto::dict::{Dict, DictLimits};
use crate::proto::mgmt::{self, decode_v3_lock_req, encode_v3_lock_rsp};
use crate::proto::programs::names;
use crate::proto::rpc::ReplyStatus;
use std::rc::Rc;
use std::time::Instant;

/// Most volume locks one request may name (`volcount`).
pub const LOCK_NAMES_MAX: usize = 256;

/// The mgmt v3 program for one shard.
pub struct MgmtV3Program {
    state: Rc<ShardState>,
}

impl MgmtV3Program {
    /// The program for this shard.
    pub fn shared(state: Rc<ShardState>) -> Rc<dyn Program> {
        Rc::new(MgmtV3Program { state })
    }
}

/// The volume names a lock request names: `volname`, or `volname1..volnameN` with `volcount`.
pub fn lock_names(dict: &Dict) -> Result<Vec<String>, String> {
    if dict
        .get_str("hold_vol_locks")
        .is_ok_and(|v| v.trim() == "0" || v.trim() == "false")
    {
        return Ok(Vec::new());
    }
    if let Ok(count) = dict.get_str("volcount") {
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| format!("volcount {count:?} is not a count"))?;
        if count > LOCK_NAMES_MAX {
            return Err(format!(
                "volcount {count}: at most {LOCK_NAMES_MAX} volumes"
            ));
        }
        return (1..=count)
            .map(|i| {
                dict.get_str(&format!("volname{i}"))
                    .map(str::to_owned)
                    .map_err(|_| format!("volname{i} missing"))
            })
            .collect();
    }
    match dict.get_str("volname") {
        Ok(name) => Ok(vec![name.to_string()]),
        Err(_) => Err("the lock request names no volume".into()),
    }
}

fn reply(me: &Uuid, op_ret: i32, op_errno: i32) -> LaterReply {
    let mut body = Vec::new();
    // glusterd answers with zeros for the txn id and an empty dict.
    encode_v3_lock_rsp(&mut body, me.as_bytes(), &[0; 16], &[], op_ret, op_errno);
    LaterReply {
        status: ReplyStatus::Success,
        body,
    }
}

async fn lock(
    state: Rc<ShardState>,
    shard: usize,
    connection: u64,
    owner: Uuid,
    txn: Uuid,
    names: Vec<String>,
    timeout: Option<i64>,
) -> Result<(), (i32, String)> {
    let lease = lease_for(timeout);
    let holder = Holder::Connection { shard, connection };
    // Every name in one visit to the change shard, all or nothing: no transaction there runs
    // between two of them.
    let got = state
        .ask(CHANGE_SHARD, move |s: &ShardState| {
            let mut locks = s.locks.borrow_mut();
            let now = Instant::now();
            let mut taken: Vec<String> = Vec::new();
            for name in &names {
                let lock = volume_lock(name);
                if let Err(e) = locks.acquire(&lock, owner, txn, holder, lease, now) {
                    for lock in &taken {
                        let _ = locks.release_owned(lock, owner, now);
                    }
                    return Err((e.errno(), e.message()));
                }
                taken.push(lock);
            }
            Ok(())
        })
        .await;
    got.unwrap_or_else(|e| Err((0, e.to_string())))
}

/// Releases `owner`'s locks on `names` (on [`CHANGE_SHARD`], where the locks live).
async fn unlock(state: &ShardState, owner: Uuid, names: Vec<String>) {
    // Every name in one visit, as the LOCK took them.
    let _ = state
        .ask(CHANGE_SHARD, move |s: &ShardState| {
            let mut locks = s.locks.borrow_mut();
            let now = Instant::now();
            for name in &names {
                let _ = locks.release_owned(&volume_lock(name), owner, now);
            }
        })
        .await;
}

impl Program for MgmtV3Program {
    fn name(&self) -> &'static str {
        names::MGMT_V3
    }
    fn number(&self) -> u32 {
        mgmt::PROGRAM
    }
    fn version(&self) -> u32 {
        mgmt::VERSION_V3
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        match proc_num {
            0 => Some("NULL"),
            mgmt::PROC_V3_LOCK => Some("LOCK"),
            mgmt::PROC_V3_PRE_VALIDATE => Some("PRE_VALIDATE"),
            mgmt::PROC_V3_BRICK_OP => Some("BRICK_OP"),
            mgmt::PROC_V3_COMMIT => Some("COMMIT"),
            mgmt::PROC_V3_POST_VALIDATE => Some("POST_VALIDATE"),
            mgmt::PROC_V3_UNLOCK => Some("UNLOCK"),
            mgmt::PROC_V3_POST_COMMIT => Some("POST_COMMIT"),
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
        use crate::ops::participant::{answer_phase, Step};
        let phase = |step| {
            answer_phase(
                &self.state,
                ctx,
                args,
                step,
                mgmt::RspLayout::v3(proc_num),
                proc_num == mgmt::PROC_V3_POST_VALIDATE,
            )
        };
        match proc_num {
            0 => return Outcome::Now(ReplyStatus::Success),
            mgmt::PROC_V3_LOCK | mgmt::PROC_V3_UNLOCK => {}
            mgmt::PROC_V3_PRE_VALIDATE => return phase(Step::Stage),
            mgmt::PROC_V3_COMMIT => return phase(Step::Commit),
            mgmt::PROC_V3_BRICK_OP | mgmt::PROC_V3_POST_COMMIT | mgmt::PROC_V3_POST_VALIDATE => {
                return phase(Step::Nothing)
            }
            _ => return Outcome::Now(ReplyStatus::ProcUnavail),
        }
        let Ok(req) = decode_v3_lock_req(args) else {
            return Outcome::Now(ReplyStatus::GarbageArgs);
        };
        let me = self.state.node.node.uuid();
        let owner = Uuid::from_bytes(req.uuid);
        let txn = Uuid::from_bytes(req.txn_id);
        // The peer is the one that proved itself on this connection (MGMT_HNDSK VERSIONS),
        // never only the UUID the body carries.
        let proven = self.state.peer_of(ctx.connection);
        let known = proven == Some(owner) && self.state.node.peers.load().get(owner).is_some();
        let dict = Dict::decode(req.dict, DictLimits::default());
        let state = self.state.clone();
        let (shard, connection) = (ctx.shard, ctx.connection);
        Outcome::Later(Box::pin(async move {
            if !known {
                tracing::info!(%owner, ?proven, "mgmt v3 lock request from a node that is not a peer on this connection: refused");
                return reply(&me, -1, 0);
            }
            let dict = match dict {
                Ok(d) => d.unwrap_or_default(),
                Err(_) => return reply(&me, -1, 0),
            };
            let names = match lock_names(&dict) {
                Ok(n) => n,
                Err(why) => {
                    tracing::info!(%owner, why, "mgmt v3 lock request refused");
                    return reply(&me, -1, 0);
                }
            };
            if proc_num == mgmt::PROC_V3_UNLOCK {
                unlock(&state, owner, names).await;
                return reply(&me, 0, 0);
            }
            let timeout = dict
                .get_str("timeout")
                .ok()
                .and_then(|v| v.trim().parse().ok());
            state.note_locker(connection);
            match lock(state, shard, connection, owner, txn, names, timeout).await {
                Ok(()) => reply(&me, 0, 0),
                Err((errno, message)) => {
                    tracing::info!(%owner, message, "mgmt v3 lock refused");
                    reply(&me, -1, errno)
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(pairs: &[(&str, &str)]) -> Dict {
        let mut d = Dict::new();
        for (k, v) in pairs {
            d.set_str(k, v);
        }
        d
    }

    #[test]
    fn lock_names_follow_glusterds_keys() {
        assert_eq!(lock_names(&dict(&[("volname", "v1")])).unwrap(), ["v1"]);
        assert_eq!(
            lock_names(&dict(&[
                ("volcount", "2"),
                ("volname1", "a"),
                ("volname2", "b")
            ]))
            .unwrap(),
            ["a", "b"]
        );
        assert!(
            lock_names(&dict(&[("volname", "v1"), ("hold_vol_locks", "0")]))
                .unwrap()
                .is_empty()
        );
        assert!(lock_names(&dict(&[])).is_err());
        assert!(lock_names(&dict(&[("volcount", "2"), ("volname1", "a")])).is_err());
        assert!(lock_names(&dict(&[("volcount", "-1")])).is_err());
        assert!(lock_names(&dict(&[("volcount", "100000")])).is_err());
    }
}
