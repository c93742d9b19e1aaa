//! One connection: read records, dispatch calls, write replies.
//!
//! A connection is one task on its shard. It reads as much as the socket has into an iobuf,
//! takes every complete record out of it, answers each call, and writes all the replies that
//! are ready in one write. Synchronous procedures encode straight into the reply buffer, so the
//! common path allocates nothing and spawns nothing. Asynchronous procedures run as their own
//! tasks and hand their replies back through [`ConnShared`]; replies therefore leave in
//! completion order, matched to calls by xid. At most `inflight_max` asynchronous calls are
//! outstanding: past that the connection stops taking records (and so stops reading) until one
//! completes; nothing is dropped.

use super::program::{CallContext, LaterReply, Outcome, ProgramTable, Route, Transport};
use super::ShardContext;
use crate::iobuf::IoBuf;
use crate::metrics::ProcKey;
use crate::proto::auth::decode_credential;
use crate::proto::record::{fragment_header, RecordDecoder, RecordError};
use crate::proto::rpc::{
    decode_call, encode_reply, AuthStat, CallError, CallHeader, OpaqueAuth, ReplyStatus,
    RPC_VERSION,
};
use futures_lite::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Instant;

/// Bytes read from the socket per read (an iobuf size class).
pub(crate) const READ_BUFFER_BYTES: usize = 32 << 10;
/// Replies are written out once this many bytes are waiting, even mid-batch.
const WRITE_FLUSH_BYTES: usize = 24 << 10;

/// A finished asynchronous call waiting to be written.
struct Completion {
    xid: u32,
    verifier_flavor: u32,
    verifier_body: Vec<u8>,
    key: ProcKey,
    names: (&'static str, &'static str),
    started: Instant,
    reply: LaterReply,
}

/// State a connection shares with its asynchronous calls and its shard.
#[derive(Default)]
pub(crate) struct ConnShared {
    completions: RefCell<VecDeque<Completion>>,
    waker: RefCell<Option<Waker>>,
    closing: Cell<bool>,
    /// FETCHSPEC callbacks to send (a volfile changed).
    fetchspec_due: Cell<u32>,
    /// xid of the last callback this connection sent (glusterd numbers them per connection
    /// from 1).
    callback_xid: Cell<u32>,
}

/// Most FETCHSPEC callbacks queued on one connection: they carry nothing, so one more than
/// "some" tells a client no more than one does.
const FETCHSPEC_QUEUED_MAX: u32 = 8;

/// `GF_CBK_FETCHSPEC`, procedure 1 of the Gluster Callback program v1.
const CBK_FETCHSPEC: u32 = 1;

impl ConnShared {
    /// Queues a FETCHSPEC callback (glusterd sends one to every connection after a volfile
    /// change) and wakes the connection to send it.
    pub(crate) fn notify_fetchspec(&self) {
        let due = self.fetchspec_due.get();
        if due < FETCHSPEC_QUEUED_MAX {
            self.fetchspec_due.set(due + 1);
        }
        self.wake();
    }

    /// Wakes the connection task (a completion arrived or the shard is stopping).
    pub(crate) fn wake(&self) {
        if let Some(w) = self.waker.borrow().as_ref() {
            w.wake_by_ref();
        }
    }

    fn register(&self, waker: &Waker) {
        let mut slot = self.waker.borrow_mut();
        match slot.as_ref() {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
}

enum Wake {
    Read(std::io::Result<usize>),
    Completion,
    Shutdown,
}

/// What happened to one record.
enum RecordFate {
    Answered,
    Pending,
    Dropped,
    /// Too short to carry an xid (a zero-byte record among them): there is nothing to answer
    /// and the stream cannot be trusted; close the connection after the replies before it.
    Unanswerable,
}

/// Serves one accepted connection until the peer closes it, it breaks a rule that ends it, or
/// the shard stops.
pub(crate) async fn serve<S>(mut stream: S, transport: Transport, shard: Rc<ShardContext>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shared = Rc::new(ConnShared::default());
    let conn_id = shard.register_connection(shared.clone());
    if shard.is_stopping() {
        // Accepted just before the shard began to stop, so `ShardContext::stop` did not see it.
        begin_close(&shared);
    }
    let table = match transport {
        Transport::Tcp(_) => &shard.tcp_programs,
        Transport::Unix => &shard.unix_programs,
    };
    // Filled once when first made, then kept by the shard between connections: zeroing 32 KiB
    // for every accepted connection cost 7% of a mount storm's CPU.
    let mut input = shard.take_read_buffer();
    let mut output: IoBuf = shard.arena.get(READ_BUFFER_BYTES);
    let mut decoder = RecordDecoder::new(shard.limits.record_bytes_max);
    let (mut start, mut end) = (0usize, 0usize);
    let mut pending = 0usize;
    let mut eof = false;
    let mut stopping = false;
    // Set when a record ends the connection: the replies already encoded go out, then it closes.
    let mut closing_now = false;

    loop {
        pending -= drain_completions(&shared, &mut output, &shard);

        while start < end && pending < shard.limits.inflight_max && output.len() < WRITE_FLUSH_BYTES
        {
            let (used, record) = match decoder.decode(&input[start..end]) {
                Ok(step) => step,
                Err(RecordError::TooLarge {
                    claimed_bytes,
                    max_bytes,
                }) => {
                    tracing::warn!(
                        shard = shard.id,
                        peer = ?transport,
                        claimed_bytes,
                        max_bytes,
                        "closing connection: record over the cap"
                    );
                    shard
                        .metrics
                        .borrow_mut()
                        .connections
                        .closed_oversized_record += 1;
                    closing_now = true;
                    break;
                }
            };
            start += used;
            if let Some(record) = record {
                match answer(
                    record,
                    transport,
                    table,
                    &shard,
                    &shared,
                    conn_id,
                    &mut output,
                ) {
                    RecordFate::Answered => {}
                    RecordFate::Pending => pending += 1,
                    RecordFate::Dropped => {
                        shard.metrics.borrow_mut().connections.records_dropped += 1
                    }
                    RecordFate::Unanswerable => {
                        tracing::warn!(
                            shard = shard.id,
                            peer = ?transport,
                            record_bytes = record.len(),
                            "closing connection: a record too short to carry an xid"
                        );
                        shard
                            .metrics
                            .borrow_mut()
                            .connections
                            .closed_unanswerable_record += 1;
                        closing_now = true;
                        break;
                    }
                }
            }
        }

        if closing_now {
            if !output.is_empty() {
                let _ = stream.write_all(&output).await;
            }
            break;
        }

        if !output.is_empty() {
            if let Err(e) = stream.write_all(&output).await {
                tracing::debug!(shard = shard.id, peer = ?transport, error = %e, "write failed");
                break;
            }
            output.clear();
            continue;
        }

        let reading = !eof && !stopping && pending < shard.limits.inflight_max && start == end;
        if !reading && pending == 0 && (eof || stopping) {
            break;
        }
        if start == end {
            start = 0;
            end = 0;
        }
        let wake = poll_fn(|cx| {
            shared.register(cx.waker());
            if !stopping && shared.closing.get() {
                return Poll::Ready(Wake::Shutdown);
            }
            if !shared.completions.borrow().is_empty() || shared.fetchspec_due.get() > 0 {
                return Poll::Ready(Wake::Completion);
            }
            if reading {
                if let Poll::Ready(r) = Pin::new(&mut stream).poll_read(cx, &mut input[end..]) {
                    return Poll::Ready(Wake::Read(r));
                }
            }
            Poll::Pending
        })
        .await;
        match wake {
            Wake::Read(Ok(0)) => eof = true,
            Wake::Read(Ok(n)) => end += n,
            Wake::Read(Err(e)) => {
                tracing::debug!(shard = shard.id, peer = ?transport, error = %e, "read failed");
                eof = true;
            }
            Wake::Completion => {}
            Wake::Shutdown => stopping = true,
        }
    }
    let _ = stream.close().await;
    shard.unregister_connection(conn_id);
    shard.return_read_buffer(input);
}

/// Moves finished asynchronous replies into the output buffer; returns how many.
fn drain_completions(shared: &ConnShared, out: &mut Vec<u8>, shard: &ShardContext) -> usize {
    // Callbacks first: glusterd's FETCHSPEC reaches the CLI before the reply of the create
    // that caused it.
    for _ in 0..shared.fetchspec_due.replace(0) {
        let xid = shared.callback_xid.get().wrapping_add(1);
        shared.callback_xid.set(xid);
        crate::proto::calls::encode_call_record(
            out,
            &CallHeader {
                xid,
                prog: crate::proto::programs::CALLBACK,
                vers: 1,
                proc_num: CBK_FETCHSPEC,
                cred: OpaqueAuth::NULL,
                verf: OpaqueAuth::NULL,
            },
            |_| {},
        );
    }
    let mut completions = shared.completions.borrow_mut();
    let count = completions.len();
    for c in completions.drain(..) {
        let verf = OpaqueAuth {
            flavor: c.verifier_flavor,
            body: &c.verifier_body,
        };
        let start = begin_record(out);
        encode_reply(out, c.xid, verf, c.reply.status);
        if c.reply.status == ReplyStatus::Success {
            out.extend_from_slice(&c.reply.body);
        }
        end_record(out, start);
        shard.metrics.borrow_mut().record(
            c.key,
            c.names,
            c.started.elapsed(),
            c.reply.status == ReplyStatus::Success,
        );
    }
    count
}

#[inline]
fn begin_record(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    start
}

#[inline]
fn end_record(out: &mut [u8], start: usize) {
    let len = out.len() - start - 4;
    out[start..start + 4].copy_from_slice(&fragment_header(len));
}

/// Writes a complete reply record with no results.
fn refuse(out: &mut Vec<u8>, xid: u32, verf: OpaqueAuth<'_>, status: ReplyStatus) {
    let start = begin_record(out);
    encode_reply(out, xid, verf, status);
    end_record(out, start);
}

/// Answers one record: a reply is written now, or an asynchronous call is started, or the
/// record is dropped because it cannot be answered.
fn answer(
    record: &[u8],
    transport: Transport,
    table: &ProgramTable,
    shard: &Rc<ShardContext>,
    shared: &Rc<ConnShared>,
    conn_id: u64,
    out: &mut Vec<u8>,
) -> RecordFate {
    let started = Instant::now();
    let (call, args) = match decode_call(record) {
        Ok(parts) => parts,
        Err(err) => {
            let (xid, status) = match err {
                CallError::NoXid { .. } => return RecordFate::Unanswerable,
                CallError::NotACall { .. } => {
                    tracing::debug!(shard = shard.id, peer = ?transport, %err, "dropping record");
                    return RecordFate::Dropped;
                }
                CallError::RpcMismatch { xid, .. } => (
                    xid,
                    ReplyStatus::RpcMismatch {
                        low: RPC_VERSION,
                        high: RPC_VERSION,
                    },
                ),
                CallError::BadAuth { xid, stat, .. } => (xid, ReplyStatus::AuthError(stat)),
                CallError::Truncated { xid, .. } => (xid, ReplyStatus::GarbageArgs),
            };
            tracing::debug!(shard = shard.id, peer = ?transport, %err, "refusing call");
            refuse(out, xid, OpaqueAuth::NULL, status);
            shard.metrics.borrow_mut().connections.calls_refused += 1;
            return RecordFate::Answered;
        }
    };
    let credential = match decode_credential(call.cred.flavor, call.cred.body) {
        Ok(c) => c,
        Err(err) => {
            tracing::debug!(shard = shard.id, peer = ?transport, %err, "refusing credential");
            refuse(
                out,
                call.xid,
                OpaqueAuth::NULL,
                ReplyStatus::AuthError(AuthStat::BadCred),
            );
            shard.metrics.borrow_mut().connections.calls_refused += 1;
            return RecordFate::Answered;
        }
    };
    let (program, proc_name) = match table.route(call.prog, call.vers, call.proc_num) {
        Route::Program(p, name) => (p, name),
        Route::Refuse(status) => {
            refuse(out, call.xid, call.verf, status);
            shard.metrics.borrow_mut().connections.calls_refused += 1;
            return RecordFate::Answered;
        }
    };
    let key = ProcKey {
        prog: call.prog,
        vers: call.vers,
        proc_num: call.proc_num,
    };
    let names = (program.name(), proc_name);
    let ctx = CallContext {
        shard: shard.id,
        connection: conn_id,
        transport,
        credential: &credential,
    };
    let start = begin_record(out);
    encode_reply(out, call.xid, call.verf, ReplyStatus::Success);
    match program.call(&ctx, call.proc_num, args, out) {
        Outcome::Now(status) => {
            if status != ReplyStatus::Success {
                out.truncate(start + 4);
                encode_reply(out, call.xid, call.verf, status);
            }
            end_record(out, start);
            shard.metrics.borrow_mut().record(
                key,
                names,
                started.elapsed(),
                status == ReplyStatus::Success,
            );
            RecordFate::Answered
        }
        Outcome::Later(future) => {
            out.truncate(start);
            let xid = call.xid;
            let verifier_flavor = call.verf.flavor;
            let verifier_body = call.verf.body.to_vec();
            let shared = shared.clone();
            glommio::spawn_local(async move {
                let reply = future.await;
                shared.completions.borrow_mut().push_back(Completion {
                    xid,
                    verifier_flavor,
                    verifier_body,
                    key,
                    names,
                    started,
                    reply,
                });
                shared.wake();
            })
            .detach();
            RecordFate::Pending
        }
    }
}

/// Marks a connection as closing because its shard stops: it reads no more calls, finishes the
/// ones in flight, writes their replies and closes.
pub(crate) fn begin_close(shared: &ConnShared) {
    shared.closing.set(true);
    shared.wake();
}
