//! The seam between the RPC runtime and the operations: what an RPC program is.
//!
//! `server` owns sockets, records and dispatch; `ops` implements programs. Both depend on this
//! module and neither on the other's internals: a [`Program`] gets the decoded call (procedure
//! number, argument bytes, caller context) and either writes its results at once or returns a
//! future that produces them later.

use crate::proto::auth::Credential;
use crate::proto::rpc::ReplyStatus;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

/// Which listener a connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP, with the peer's address.
    Tcp(SocketAddr),
    /// The unix socket.
    Unix,
}

/// What a procedure sees of its call besides the arguments.
#[derive(Debug)]
pub struct CallContext<'a> {
    /// Shard serving the connection.
    pub shard: usize,
    /// The connection's number on that shard (locks a peer takes are tied to it).
    pub connection: u64,
    /// Listener the call arrived on.
    pub transport: Transport,
    /// The caller's credential.
    pub credential: &'a Credential<'a>,
}

/// A reply produced later by an asynchronous procedure.
#[derive(Debug)]
pub struct LaterReply {
    /// Status; for anything but SUCCESS the body is ignored.
    pub status: ReplyStatus,
    /// Encoded results.
    pub body: Vec<u8>,
}

/// The future an asynchronous procedure returns.
pub type LaterFuture = Pin<Box<dyn Future<Output = LaterReply>>>;

/// How a procedure answered.
pub enum Outcome {
    /// Answered now. For SUCCESS the results are in the reply buffer; for any other status
    /// whatever the procedure wrote there is discarded.
    Now(ReplyStatus),
    /// Will answer when the future completes.
    Later(LaterFuture),
}

/// One RPC program at one version.
pub trait Program {
    /// Name reported by DUMP.
    fn name(&self) -> &'static str;
    /// Program number.
    fn number(&self) -> u32;
    /// Program version.
    fn version(&self) -> u32;
    /// Name of a procedure this program answers, `None` for PROC_UNAVAIL.
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str>;
    /// Serves one call of a procedure for which `procedure_name` is `Some`.
    fn call(&self, ctx: &CallContext<'_>, proc_num: u32, args: &[u8], out: &mut Vec<u8>)
        -> Outcome;
}
