//! The outbound side of an RPC connection, sans-IO (docs/peer-client.md): the calls in flight
//! on one connection, their xids and deadlines, the encoding of a call record, and the
//! matching of reply records to calls. No clock and no socket: the caller hands in instants
//! and bytes, and takes bytes and answers out.
//!
//! Every call gets exactly one answer: its reply, [`CallFailure::Expired`] when its deadline
//! passed ([`Calls::expired`]), or [`CallFailure::Dropped`] when the connection went
//! ([`Calls::drop_all`]). A reply to no call in flight (unknown, late or duplicate) is counted
//! and ignored.

use super::rpc::{decode_reply, encode_call, CallHeader, OpaqueAuth, ReplyStatus};
use std::collections::BTreeMap;
use std::time::Instant;

/// Most calls in flight on one connection (glusterd's rpcsvc throttle on the other side).
pub const CALLS_IN_FLIGHT_MAX: usize = 64;

/// Why a call got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    /// Its deadline passed (glusterd's call-bail).
    #[error("no reply before the call's deadline")]
    Expired,
    /// The connection went before the reply came.
    #[error("the connection went before the reply")]
    Dropped,
}

/// Why a call could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// [`CALLS_IN_FLIGHT_MAX`] calls are in flight already.
    #[error("{CALLS_IN_FLIGHT_MAX} calls in flight already")]
    Busy,
}

/// A reply matched to its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The call's xid.
    pub xid: u32,
    /// The reply's status.
    pub status: ReplyStatus,
    /// The procedure's results (empty unless SUCCESS).
    pub body: Vec<u8>,
}

/// What a reply record turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matched {
    /// The reply of a call in flight.
    Answer(Answer),
    /// A well-formed reply to no call in flight (late, duplicate, or never sent).
    Unknown(u32),
    /// Not a reply.
    Malformed,
}

/// Appends one call record to `out`: the record mark (one last fragment), the call header,
/// then what `args` writes. Every caller of brickd's (the peer client, the operator's
/// commands, GD_BRICK calls to brick processes, the tests and the load generator) frames its
/// calls with it.
pub fn encode_call_record(
    out: &mut Vec<u8>,
    header: &CallHeader<'_>,
    args: impl FnOnce(&mut Vec<u8>),
) {
    let mark_at = out.len();
    out.extend_from_slice(&[0; 4]);
    encode_call(out, header);
    args(out);
    let len = out.len() - mark_at - 4;
    out[mark_at..mark_at + 4].copy_from_slice(&super::record::fragment_header(len));
}

/// The calls in flight on one connection.
#[derive(Debug)]
pub struct Calls {
    next_xid: u32,
    in_flight: BTreeMap<u32, Instant>,
    /// Replies to no call in flight, counted.
    pub unknown_replies: u64,
    /// Records that were not replies, counted.
    pub malformed_replies: u64,
}

impl Default for Calls {
    fn default() -> Self {
        Calls::new()
    }
}

impl Calls {
    /// No calls yet. The first xid is 2, as libgfrpc's (reference §1).
    pub fn new() -> Calls {
        Calls {
            next_xid: 2,
            in_flight: BTreeMap::new(),
            unknown_replies: 0,
            malformed_replies: 0,
        }
    }

    /// Calls in flight.
    pub fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether none is in flight.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Starts a call: appends its record (marked, one fragment) to `out` and returns its xid.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        out: &mut Vec<u8>,
        prog: u32,
        vers: u32,
        proc_num: u32,
        cred: OpaqueAuth<'_>,
        args: &[u8],
        deadline: Instant,
    ) -> Result<u32, StartError> {
        if self.in_flight.len() >= CALLS_IN_FLIGHT_MAX {
            return Err(StartError::Busy);
        }
        // The next xid no call in flight holds (wraps past u32::MAX).
        let mut xid = self.next_xid;
        while self.in_flight.contains_key(&xid) {
            xid = xid.wrapping_add(1);
        }
        self.next_xid = xid.wrapping_add(1);
        encode_call_record(
            out,
            &CallHeader {
                xid,
                prog,
                vers,
                proc_num,
                cred,
                verf: OpaqueAuth::NULL,
            },
            |out| out.extend_from_slice(args),
        );
        self.in_flight.insert(xid, deadline);
        Ok(xid)
    }

    /// Matches a reply record (record marking removed) to its call; the call is then done.
    pub fn reply(&mut self, record: &[u8]) -> Matched {
        let Ok((header, body)) = decode_reply(record) else {
            self.malformed_replies += 1;
            return Matched::Malformed;
        };
        if self.in_flight.remove(&header.xid).is_none() {
            self.unknown_replies += 1;
            return Matched::Unknown(header.xid);
        }
        let body = if header.status == ReplyStatus::Success {
            body.to_vec()
        } else {
            Vec::new()
        };
        Matched::Answer(Answer {
            xid: header.xid,
            status: header.status,
            body,
        })
    }

    /// The calls whose deadline is at or before `now`, oldest deadline first; they are done
    /// ([`CallFailure::Expired`]).
    pub fn expired(&mut self, now: Instant) -> Vec<u32> {
        let mut gone: Vec<(Instant, u32)> = self
            .in_flight
            .iter()
            .filter(|(_, &deadline)| deadline <= now)
            .map(|(&xid, &deadline)| (deadline, xid))
            .collect();
        gone.sort_unstable();
        for (_, xid) in &gone {
            self.in_flight.remove(xid);
        }
        gone.into_iter().map(|(_, xid)| xid).collect()
    }

    /// The earliest deadline of the calls in flight (when to look again).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.in_flight.values().min().copied()
    }

    /// The connection went: every call in flight is done ([`CallFailure::Dropped`]).
    pub fn drop_all(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.in_flight).into_keys().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::rpc::encode_reply;
    use std::time::Duration;

    fn reply_record(xid: u32, status: ReplyStatus, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_reply(&mut out, xid, OpaqueAuth::NULL, status);
        out.extend_from_slice(body);
        out
    }

    fn start(calls: &mut Calls, deadline: Instant) -> (u32, Vec<u8>) {
        let mut out = Vec::new();
        let xid = calls
            .start(
                &mut out,
                1_238_437,
                2,
                1,
                OpaqueAuth::NULL,
                b"args",
                deadline,
            )
            .unwrap();
        (xid, out)
    }

    #[test]
    fn a_call_is_one_marked_record_and_its_reply_answers_it_once() {
        let mut calls = Calls::new();
        let now = Instant::now();
        let (xid, record) = start(&mut calls, now + Duration::from_secs(600));
        assert_eq!(xid, 2, "libgfrpc's first xid");
        // One fragment with the last bit, the whole call after it.
        let len = u32::from_be_bytes(record[..4].try_into().unwrap());
        assert_eq!(len, 0x8000_0000 | (record.len() as u32 - 4));
        let (header, args) = crate::proto::rpc::decode_call(&record[4..]).unwrap();
        assert_eq!(
            (header.xid, header.prog, header.proc_num),
            (2, 1_238_437, 1)
        );
        assert_eq!(args, b"args");
        let answer = calls.reply(&reply_record(xid, ReplyStatus::Success, b"body"));
        assert_eq!(
            answer,
            Matched::Answer(Answer {
                xid,
                status: ReplyStatus::Success,
                body: b"body".to_vec()
            })
        );
        // The same reply again: a duplicate, counted, not an answer.
        assert_eq!(
            calls.reply(&reply_record(xid, ReplyStatus::Success, b"body")),
            Matched::Unknown(xid)
        );
        assert_eq!(calls.unknown_replies, 1);
        assert!(calls.is_empty());
    }

    #[test]
    fn deadlines_expire_oldest_first_and_a_drop_answers_every_call() {
        let mut calls = Calls::new();
        let now = Instant::now();
        let (late, _) = start(&mut calls, now + Duration::from_secs(3));
        let (early, _) = start(&mut calls, now + Duration::from_secs(1));
        let (never, _) = start(&mut calls, now + Duration::from_secs(600));
        assert_eq!(calls.next_deadline(), Some(now + Duration::from_secs(1)));
        assert_eq!(calls.expired(now), Vec::<u32>::new());
        assert_eq!(
            calls.expired(now + Duration::from_secs(5)),
            vec![early, late]
        );
        // A reply after its call expired is late: unknown.
        assert_eq!(
            calls.reply(&reply_record(early, ReplyStatus::Success, &[])),
            Matched::Unknown(early)
        );
        assert_eq!(calls.drop_all(), vec![never]);
        assert!(calls.is_empty());
        assert_eq!(calls.next_deadline(), None);
    }

    #[test]
    fn the_table_is_capped_and_xids_skip_calls_in_flight() {
        let mut calls = Calls::new();
        let far = Instant::now() + Duration::from_secs(600);
        let xids: Vec<u32> = (0..CALLS_IN_FLIGHT_MAX)
            .map(|_| start(&mut calls, far).0)
            .collect();
        let mut out = Vec::new();
        assert_eq!(
            calls.start(&mut out, 1, 1, 0, OpaqueAuth::NULL, &[], far),
            Err(StartError::Busy)
        );
        assert!(out.is_empty(), "a refused call writes nothing");
        // Around the wrap, an xid still in flight is skipped.
        let mut calls = Calls::new();
        calls.next_xid = u32::MAX;
        let (a, _) = start(&mut calls, far);
        let (b, _) = start(&mut calls, far);
        assert_eq!((a, b), (u32::MAX, 0));
        calls.next_xid = u32::MAX;
        let (c, _) = start(&mut calls, far);
        assert_eq!(c, 1);
        assert_eq!(xids.len(), CALLS_IN_FLIGHT_MAX);
    }

    #[test]
    fn truncated_and_garbage_replies_are_counted_never_answers() {
        let mut calls = Calls::new();
        let (xid, _) = start(&mut calls, Instant::now() + Duration::from_secs(600));
        let record = reply_record(xid, ReplyStatus::Success, &[]);
        for len in 0..record.len() {
            assert_eq!(
                calls.reply(&record[..len]),
                Matched::Malformed,
                "length {len}"
            );
        }
        assert_eq!(calls.malformed_replies, record.len() as u64);
        assert_eq!(calls.len(), 1, "still waiting for its reply");
        // A call record is not a reply.
        let (_, call) = start(&mut calls, Instant::now() + Duration::from_secs(600));
        assert_eq!(calls.reply(&call[4..]), Matched::Malformed);
        // A refusal answers the call with its status and no body.
        let refused = reply_record(xid, ReplyStatus::ProcUnavail, b"ignored");
        assert!(matches!(
            calls.reply(&refused),
            Matched::Answer(Answer { status: ReplyStatus::ProcUnavail, ref body, .. }) if body.is_empty()
        ));
    }
}
