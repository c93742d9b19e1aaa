//! A peer as a participant in this node's transaction (`cluster::txn::Participant`): each
//! phase is a call over the peer's link, in glusterd 10.3's shape (reference §3.4, and a
//! capture of two glusterds creating, starting, stopping and deleting a volume):
//!
//! - create and delete (syncop): mgmt v3 LOCK (with the transaction id), v2 STAGE_OP,
//!   v2 COMMIT_OP, mgmt v3 UNLOCK;
//! - start and stop (mgmt v3): LOCK (transaction id zero), PRE_VALIDATE, COMMIT, then
//!   POST_COMMIT and POST_VALIDATE, UNLOCK.
//!
//! Failures carry glusterd's messages, naming the peer: "Locking failed on HOST. Please check
//! log file for details.", "Staging failed on HOST. Error: …", "Commit failed on HOST. …".

use super::shard::ShardState;
use crate::client::peer::PeerLink;
use crate::cluster::txn::{LocalFuture, Participant, TxnError, TxnInfo};
use crate::model::Uuid;
use crate::proto::dict::{Dict, DictLimits};
use crate::proto::mgmt::{self, PhaseReq, RspLayout};
use std::rc::Rc;

/// `GD_OP_START_VOLUME` and `GD_OP_STOP_VOLUME` run the mgmt v3 phases; the others syncop's.
fn uses_v3_phases(op: u32) -> bool {
    op == super::volume_start::OP_START_VOLUME || op == super::volume_start::OP_STOP_VOLUME
}

/// One connected friend, through its link.
pub struct RemotePeer {
    uuid: Uuid,
    host: String,
    me: Uuid,
    link: Rc<PeerLink>,
}

/// Every connected friend of the pool, as participants (in pool order).
pub fn participants(state: &ShardState) -> Vec<RemotePeer> {
    let pool = state.node.peers.load();
    let manager = state.pool();
    pool.connected_friends()
        .filter_map(|p| {
            let link = manager.link(p.peer.uuid)?;
            Some(RemotePeer {
                uuid: p.peer.uuid,
                host: p.peer.hostnames.first().cloned().unwrap_or_default(),
                me: state.node.node.uuid(),
                link,
            })
        })
        .collect()
}

impl RemotePeer {
    /// The op dict as glusterd sends it: the op's, with the transaction's ids.
    fn dict_bytes(&self, txn: &TxnInfo, dict: &Dict) -> Vec<u8> {
        let mut dict = dict.clone();
        dict.set_bin("originator_uuid", txn.originator.as_bytes());
        if uses_v3_phases(txn.op) {
            dict.set_str("is_synctasked", "1");
        } else {
            dict.set_bin("transaction_id", txn.id.as_bytes());
        }
        let mut bytes = Vec::with_capacity(dict.encoded_len());
        dict.encode(&mut bytes);
        bytes
    }

    /// A phase call; the peer's answer dict, or `what` failed on it.
    async fn phase(
        &self,
        txn: &TxnInfo,
        dict: &Dict,
        version: u32,
        proc_num: u32,
        what: &str,
    ) -> Result<Dict, TxnError> {
        let bytes = self.dict_bytes(txn, dict);
        let mut args = Vec::with_capacity(bytes.len() + 80);
        let post_validate = version == mgmt::VERSION_V3 && proc_num == mgmt::PROC_V3_POST_VALIDATE;
        mgmt::encode_phase_req(
            &mut args,
            &PhaseReq {
                uuid: *self.me.as_bytes(),
                op: txn.op as i32,
                op_ret: post_validate.then_some(0),
                dict: &bytes,
            },
        );
        let failed =
            |detail: String| TxnError::new(format!("{what} failed on {}. {detail}", self.host));
        let body = self
            .link
            .call(mgmt::PROGRAM, version, proc_num, &args, None)
            .await
            .map_err(|e| failed(format!("Error: {e}")))?;
        let layout = if version == mgmt::VERSION_V2 {
            RspLayout::v2(proc_num)
        } else {
            RspLayout::v3(proc_num)
        };
        let rsp = mgmt::decode_phase_rsp(&body, layout)
            .map_err(|e| failed(format!("Error: bad answer: {e}")))?;
        if rsp.op_ret != 0 {
            let detail = if rsp.op_errstr.is_empty() {
                "Please check log file for details.".to_string()
            } else {
                format!("Error: {}", rsp.op_errstr)
            };
            return Err(TxnError {
                errno: rsp.op_errno,
                message: failed(detail).message,
                refused: true,
            });
        }
        Dict::decode(rsp.dict, DictLimits::default())
            .map(Option::unwrap_or_default)
            .map_err(|e| failed(format!("Error: bad answer dict: {e}")))
    }

    async fn lock_call(&self, txn: &TxnInfo, dict: &Dict, proc_num: u32) -> Result<(), TxnError> {
        let bytes = self.dict_bytes(txn, dict);
        let mut args = Vec::with_capacity(bytes.len() + 140);
        let txn_id = if uses_v3_phases(txn.op) {
            [0; 16]
        } else {
            *txn.id.as_bytes()
        };
        mgmt::encode_v3_lock_req(
            &mut args,
            &mgmt::V3LockReq {
                uuid: *self.me.as_bytes(),
                txn_id,
                op: if proc_num == mgmt::PROC_V3_UNLOCK && !uses_v3_phases(txn.op) {
                    0
                } else {
                    txn.op as i32
                },
                dict: &bytes,
            },
        );
        let failed = || {
            TxnError::new(format!(
                "Locking failed on {}. Please check log file for details.",
                self.host
            ))
        };
        let body = self
            .link
            .call(mgmt::PROGRAM, mgmt::VERSION_V3, proc_num, &args, None)
            .await
            .map_err(|e| {
                tracing::info!(peer = %self.host, error = %e, "lock call failed");
                failed()
            })?;
        let rsp = mgmt::decode_v3_lock_rsp(&body).map_err(|_| failed())?;
        if rsp.op_ret != 0 {
            return Err(TxnError {
                errno: rsp.op_errno,
                message: failed().message,
                refused: true,
            });
        }
        Ok(())
    }
}

impl Participant for RemotePeer {
    fn uuid(&self) -> Uuid {
        self.uuid
    }

    fn name(&self) -> String {
        self.host.clone()
    }

    fn lock<'a>(
        &'a self,
        txn: &'a TxnInfo,
        dict: &'a Dict,
    ) -> LocalFuture<'a, Result<(), TxnError>> {
        Box::pin(self.lock_call(txn, dict, mgmt::PROC_V3_LOCK))
    }

    fn stage<'a>(
        &'a self,
        txn: &'a TxnInfo,
        dict: &'a Dict,
    ) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(async move {
            if uses_v3_phases(txn.op) {
                self.phase(
                    txn,
                    dict,
                    mgmt::VERSION_V3,
                    mgmt::PROC_V3_PRE_VALIDATE,
                    "Pre Validation",
                )
                .await
            } else {
                self.phase(
                    txn,
                    dict,
                    mgmt::VERSION_V2,
                    mgmt::PROC_V2_STAGE_OP,
                    "Staging",
                )
                .await
            }
        })
    }

    fn commit<'a>(
        &'a self,
        txn: &'a TxnInfo,
        dict: &'a Dict,
    ) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(async move {
            if !uses_v3_phases(txn.op) {
                return self
                    .phase(
                        txn,
                        dict,
                        mgmt::VERSION_V2,
                        mgmt::PROC_V2_COMMIT_OP,
                        "Commit",
                    )
                    .await;
            }
            let answer = self
                .phase(txn, dict, mgmt::VERSION_V3, mgmt::PROC_V3_COMMIT, "Commit")
                .await?;
            self.phase(
                txn,
                dict,
                mgmt::VERSION_V3,
                mgmt::PROC_V3_POST_COMMIT,
                "Post commit",
            )
            .await?;
            self.phase(
                txn,
                dict,
                mgmt::VERSION_V3,
                mgmt::PROC_V3_POST_VALIDATE,
                "Post Validation",
            )
            .await?;
            Ok(answer)
        })
    }

    fn unlock<'a>(&'a self, txn: &'a TxnInfo, dict: &'a Dict) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.lock_call(txn, dict, mgmt::PROC_V3_UNLOCK).await {
                // Its lease ends it, or its connection going does.
                tracing::info!(peer = %self.host, error = %e.message, "unlock not answered");
            }
        })
    }
}

/// `GD_OP_STATUS_VOLUME`.
pub const OP_STATUS_VOLUME: u32 = 18;
/// How long a status waits for each peer's part.
pub const STATUS_PEER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Asks every connected friend in `holders` for its part of a `volume status` (op 18, all at
/// once): each peer's host and its answer. Each peer gets glusterd's syncop sequence (v3 LOCK,
/// v2 STAGE_OP and COMMIT_OP, v3 UNLOCK): a glusterd participant answers a status commit only
/// inside a transaction it locked for. This node takes no lock of its own for a status (it
/// reads), where glusterd's originator locks the volume and so can fail a status with
/// "Another transaction is in progress".
pub async fn peer_status(
    state: &ShardState,
    holders: &[Uuid],
    request: &Dict,
) -> Vec<(String, Result<Dict, TxnError>)> {
    let txn = TxnInfo {
        id: Uuid::new_v4(),
        originator: state.node.node.uuid(),
        op: OP_STATUS_VOLUME,
        locks: Vec::new(),
        lease: std::time::Duration::ZERO,
    };
    let peers: Vec<RemotePeer> = participants(state)
        .into_iter()
        .filter(|p| holders.contains(&p.uuid))
        .collect();
    let asks = peers.iter().map(|p| {
        let txn = &txn;
        (p.host.clone(), async move {
            let answer = match p.lock_call(txn, request, mgmt::PROC_V3_LOCK).await {
                Err(e) => Err(e),
                Ok(()) => {
                    let v2 = mgmt::VERSION_V2;
                    let staged = p.phase(txn, request, v2, mgmt::PROC_V2_STAGE_OP, "Staging");
                    let answer = match staged.await {
                        Ok(_) => {
                            p.phase(txn, request, v2, mgmt::PROC_V2_COMMIT_OP, "Commit")
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    if let Err(e) = p.lock_call(txn, request, mgmt::PROC_V3_UNLOCK).await {
                        tracing::info!(peer = %p.host, error = %e.message, "status unlock not answered");
                    }
                    answer
                }
            };
            (p.host.clone(), answer)
        })
    });
    // A status is a read the CLI waits on: a peer that does not answer in time is left out
    // rather than holding every answer up for the frame timeout.
    let limited = asks.map(|ask| {
        let host = ask.0.clone();
        futures_lite::future::or(ask.1, async move {
            state.sleep(STATUS_PEER_TIMEOUT).await;
            (host, Err(TxnError::new("no status answer in time")))
        })
    });
    futures_util::future::join_all(limited).await
}
