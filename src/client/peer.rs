//! The peer client (docs/peer-client.md): one outbound connection to one management daemon
//! (a brickd or a glusterd peer), kept up for as long as the peer is part of the pool.
//!
//! A [`PeerLink`] owns a task on the shard that made it (the change shard). The task connects
//! (from this node's bound address, so that the peer sees the name it knows this node by),
//! runs glusterd's connection bring-up (reference §3.7: DUMP, MGMT_HNDSK VERSIONS with this
//! node's UUID, VERSIONS_ACK with the op-version), then reads replies and matches them to
//! calls through the sans-IO [`Calls`] table. When the connection drops, every call in flight
//! fails at once with [`CallError::Disconnected`] and the task reconnects with exponential
//! backoff (100 ms to 3 s, ±20% jitter). Calls made while the link is not up fail at once:
//! the caller (a transaction, the friend state machine) decides what that means.
//!
//! What the calls mean is `ops`' business; this module only moves them.

use crate::model::Uuid;
use crate::proto::auth::{AUTH_GLUSTERFS_V2, CLI_CREDENTIAL_V2};
use crate::proto::calls::{Calls, Matched};
use crate::proto::dict::{Dict, DictLimits};
use crate::proto::record::RecordDecoder;
use crate::proto::rpc::{OpaqueAuth, ReplyStatus};
use crate::proto::{dump, peer as wire};
use futures_channel::{mpsc, oneshot};
use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// glusterd's frame-timeout for peer connections: a call without a reply fails after it.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long each call of the bring-up may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// The first wait before reconnecting.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between attempts (glusterd reconnects every 3 s).
pub const BACKOFF_MAX: Duration = Duration::from_secs(3);
/// Largest reply record accepted from a peer (a FRIEND_ADD answer is small; a volume export
/// rides in calls, not replies, but a peer's STAGE answer may carry a dict).
pub const REPLY_BYTES_MAX: usize = 8 << 20;
/// Read buffer size.
const READ_BYTES: usize = 64 << 10;
/// `gfs_id` glusterd sends when it dumps a peer.
const DUMP_GFS_ID: u64 = 0xcafe;

/// Where and how to reach a peer.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The peer's name or address (its first host name).
    pub host: String,
    /// Its management port.
    pub port: u16,
    /// This node's address, bound as the source of the connection (the peer names this node
    /// by the address it sees).
    pub source: Option<IpAddr>,
    /// This node's UUID (sent in VERSIONS).
    pub me: Uuid,
    /// This node's op-version (checked against the peer's range, sent in VERSIONS_ACK).
    pub op_version: u32,
    /// Per-call timeout when the caller gives none.
    pub frame_timeout: Duration,
    /// glusterd's ping-timeout: while calls are in flight, a PING every this often, and a
    /// connection whose PING goes unanswered that long is dropped (its calls fail at once).
    /// `None` (glusterd's stock peer setting, 0) sends none.
    pub ping_timeout: Option<Duration>,
}

/// The link's connection, as ops and statedumps see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Connecting or running the bring-up.
    Connecting,
    /// Up, since then.
    Connected {
        /// When the bring-up finished.
        since: Instant,
    },
    /// Down, since then, and why.
    Down {
        /// When it went down.
        since: Instant,
        /// Why.
        why: String,
    },
}

/// Why a call got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The link is not up, or went down before the reply.
    #[error("{0} is not connected")]
    Disconnected(String),
    /// No reply within the call's timeout (glusterd's call-bail).
    #[error("no reply from {0} in time")]
    TimedOut(String),
    /// Too many calls in flight on the link.
    #[error("too many calls in flight to {0}")]
    Busy(String),
    /// The peer answered with an RPC error (PROC_UNAVAIL, GARBAGE_ARGS, …).
    #[error("{peer} answered {status}")]
    Rpc {
        /// The peer.
        peer: String,
        /// Its answer.
        status: &'static str,
    },
}

/// What the link tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The bring-up finished: calls may go.
    Up,
    /// The connection went (or an attempt failed), with why.
    Down(String),
}

type Waiter = oneshot::Sender<Result<Vec<u8>, CallError>>;

/// One outbound connection to one peer, kept up by its own task.
pub struct PeerLink {
    config: LinkConfig,
    state: RefCell<LinkState>,
    calls: RefCell<Calls>,
    waiting: RefCell<HashMap<u32, Waiter>>,
    /// The writer of the current connection (set while connected, bring-up included).
    out: RefCell<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    /// Past the bring-up.
    up: Cell<bool>,
    closed: Cell<bool>,
    /// Connections made (the first one included).
    pub connects: Cell<u64>,
    events: Box<dyn Fn(LinkEvent)>,
    /// Wakes the task out of its backoff (a probe retried by hand).
    kick: RefCell<Option<oneshot::Sender<()>>>,
}

impl PeerLink {
    /// Starts a link to `config.host` on the calling shard's executor; `events` hears when it
    /// comes up and goes down. The link lives until [`PeerLink::close`].
    pub fn start(config: LinkConfig, events: Box<dyn Fn(LinkEvent)>) -> Rc<PeerLink> {
        let link = Rc::new(PeerLink {
            config,
            state: RefCell::new(LinkState::Connecting),
            calls: RefCell::new(Calls::new()),
            waiting: RefCell::new(HashMap::new()),
            out: RefCell::new(None),
            up: Cell::new(false),
            closed: Cell::new(false),
            connects: Cell::new(0),
            events,
            kick: RefCell::new(None),
        });
        glommio::spawn_local(run(Rc::downgrade(&link))).detach();
        link
    }

    /// The peer's name.
    pub fn host(&self) -> &str {
        &self.config.host
    }

    /// Whether the link is up (past the bring-up).
    pub fn is_up(&self) -> bool {
        self.up.get()
    }

    /// The connection's state.
    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    /// Calls in flight.
    pub fn in_flight(&self) -> usize {
        self.calls.borrow().len()
    }

    /// Stops the link: the connection closes and every call in flight fails.
    pub fn close(&self) {
        self.closed.set(true);
        self.teardown("closed by this node");
        if let Some(kick) = self.kick.borrow_mut().take() {
            let _ = kick.send(());
        }
    }

    /// Calls `proc_num` of (`prog`, `vers`) with `args` and returns the reply's results, or
    /// why there are none. Fails at once if the link is not up.
    pub async fn call(
        &self,
        prog: u32,
        vers: u32,
        proc_num: u32,
        args: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>, CallError> {
        if !self.up.get() {
            return Err(CallError::Disconnected(self.config.host.clone()));
        }
        self.call_raw(
            prog,
            vers,
            proc_num,
            args,
            timeout.unwrap_or(self.config.frame_timeout),
        )
        .await
    }

    async fn call_raw(
        &self,
        prog: u32,
        vers: u32,
        proc_num: u32,
        args: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, CallError> {
        let host = || self.config.host.clone();
        let deadline = Instant::now() + timeout;
        let (tx, rx) = oneshot::channel();
        {
            let out = self.out.borrow();
            let Some(out) = out.as_ref() else {
                return Err(CallError::Disconnected(host()));
            };
            let mut record = Vec::with_capacity(args.len() + 64);
            let xid = self
                .calls
                .borrow_mut()
                .start(
                    &mut record,
                    prog,
                    vers,
                    proc_num,
                    OpaqueAuth {
                        flavor: AUTH_GLUSTERFS_V2,
                        body: &CLI_CREDENTIAL_V2,
                    },
                    args,
                    deadline,
                )
                .map_err(|_| CallError::Busy(host()))?;
            self.waiting.borrow_mut().insert(xid, tx);
            if out.unbounded_send(record).is_err() {
                self.waiting.borrow_mut().remove(&xid);
                return Err(CallError::Disconnected(host()));
            }
        }
        let answer = futures_lite::future::or(
            async {
                rx.await
                    .unwrap_or_else(|_| Err(CallError::Disconnected(host())))
            },
            async {
                glommio::timer::sleep(timeout).await;
                Err(CallError::TimedOut(host()))
            },
        )
        .await;
        if matches!(answer, Err(CallError::TimedOut(_))) {
            // Call-bail: every call past its deadline fails now (this one among them).
            let gone = self.calls.borrow_mut().expired(Instant::now());
            for xid in gone {
                if let Some(waiter) = self.waiting.borrow_mut().remove(&xid) {
                    let _ = waiter.send(Err(CallError::TimedOut(host())));
                }
            }
        }
        answer
    }

    /// Feeds one record read from the connection.
    fn received(&self, record: &[u8]) {
        match self.calls.borrow_mut().reply(record) {
            Matched::Answer(answer) => {
                let Some(waiter) = self.waiting.borrow_mut().remove(&answer.xid) else {
                    return;
                };
                let result = if answer.status == ReplyStatus::Success {
                    Ok(answer.body)
                } else {
                    Err(CallError::Rpc {
                        peer: self.config.host.clone(),
                        status: answer.status.name(),
                    })
                };
                let _ = waiter.send(result);
            }
            Matched::Unknown(xid) => {
                tracing::debug!(peer = %self.config.host, xid, "reply to no call in flight (late or duplicate)");
            }
            // A glusterd peer also sends callbacks (FETCHSPEC) on connections it accepted;
            // brickd fetches nothing from its peers, so they are dropped.
            Matched::Malformed => {}
        }
    }

    /// The connection is gone: every call fails at once, the writer goes.
    fn teardown(&self, why: &str) {
        let was_up = self.up.replace(false);
        self.out.borrow_mut().take();
        let gone = self.calls.borrow_mut().drop_all();
        for xid in gone {
            if let Some(waiter) = self.waiting.borrow_mut().remove(&xid) {
                let _ = waiter.send(Err(CallError::Disconnected(self.config.host.clone())));
            }
        }
        *self.state.borrow_mut() = LinkState::Down {
            since: Instant::now(),
            why: why.to_string(),
        };
        if was_up || !self.closed.get() {
            (self.events)(LinkEvent::Down(why.to_string()));
        }
    }
}

/// The link's task: connect, bring up, read until the connection drops, back off, again.
async fn run(link: Weak<PeerLink>) {
    let mut backoff = BACKOFF_MIN;
    let mut seed = {
        let Some(l) = link.upgrade() else { return };
        l.config
            .me
            .as_bytes()
            .iter()
            .fold(0x9e37_79b9_u64, |h, &b| h.rotate_left(5) ^ u64::from(b))
            ^ Instant::now().elapsed().as_nanos() as u64
    };
    loop {
        let Some(l) = link.upgrade() else { return };
        if l.closed.get() {
            return;
        }
        *l.state.borrow_mut() = LinkState::Connecting;
        let config = l.config.clone();
        drop(l);
        let outcome = connect(&config).await;
        let Some(l) = link.upgrade() else { return };
        if l.closed.get() {
            return;
        }
        match outcome {
            Err(why) => {
                tracing::debug!(peer = %config.host, %why, "peer connection attempt failed");
                l.teardown(&why);
            }
            Ok(stream) => {
                l.connects.set(l.connects.get() + 1);
                let socket_fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
                let (mut reader, mut writer) = futures_lite::io::split(stream);
                let (tx, mut rx) = mpsc::unbounded::<Vec<u8>>();
                *l.out.borrow_mut() = Some(tx);
                glommio::spawn_local(async move {
                    while let Some(record) = rx.next().await {
                        if writer.write_all(&record).await.is_err() {
                            break;
                        }
                    }
                    let _ = writer.close().await;
                })
                .detach();
                let reading = {
                    let link = link.clone();
                    glommio::spawn_local(async move {
                        let mut decoder = RecordDecoder::new(REPLY_BYTES_MAX);
                        let mut buf = vec![0u8; READ_BYTES];
                        loop {
                            let n = match reader.read(&mut buf).await {
                                Ok(0) => return "the peer closed the connection".to_string(),
                                Ok(n) => n,
                                Err(e) => return format!("read: {e}"),
                            };
                            let Some(l) = link.upgrade() else {
                                return "link gone".into();
                            };
                            let mut input = &buf[..n];
                            while !input.is_empty() {
                                match decoder.decode(input) {
                                    Ok((used, record)) => {
                                        if let Some(record) = record {
                                            l.received(record);
                                        }
                                        input = &input[used..];
                                    }
                                    Err(e) => return format!("bad record from the peer: {e}"),
                                }
                            }
                        }
                    })
                };
                drop(l);
                // The bring-up runs while the reader feeds replies.
                let brought_up = {
                    let Some(l) = link.upgrade() else { return };
                    bring_up(&l).await
                };
                let Some(l) = link.upgrade() else { return };
                match brought_up {
                    Ok(()) => {
                        backoff = BACKOFF_MIN;
                        l.up.set(true);
                        *l.state.borrow_mut() = LinkState::Connected {
                            since: Instant::now(),
                        };
                        tracing::info!(peer = %config.host, "peer connection up");
                        (l.events)(LinkEvent::Up);
                        if let Some(every) = config.ping_timeout {
                            let connection = l.connects.get();
                            glommio::spawn_local(ping(link.clone(), connection, socket_fd, every))
                                .detach();
                        }
                        drop(l);
                        let why = reading.await;
                        let Some(l) = link.upgrade() else { return };
                        tracing::info!(peer = %config.host, %why, "peer connection down");
                        l.teardown(&why);
                    }
                    Err(why) => {
                        tracing::info!(peer = %config.host, %why, "peer handshake failed");
                        l.teardown(&why);
                        drop(l);
                        drop(reading);
                    }
                }
            }
        }
        // Back off, with ±20% jitter, or until kicked.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let jitter = 0.8 + (seed % 401) as f64 / 1000.0;
        let wait = backoff.mul_f64(jitter);
        backoff = (backoff * 2).min(BACKOFF_MAX);
        let (kick, kicked) = oneshot::channel();
        {
            let Some(l) = link.upgrade() else { return };
            if l.closed.get() {
                return;
            }
            *l.kick.borrow_mut() = Some(kick);
        }
        futures_lite::future::or(
            async {
                let _ = kicked.await;
            },
            glommio::timer::sleep(wait),
        )
        .await;
    }
}

impl PeerLink {
    /// Ends a backoff wait at once (a new probe of a peer that is down).
    pub fn reconnect_now(&self) {
        if let Some(kick) = self.kick.borrow_mut().take() {
            let _ = kick.send(());
        }
    }
}

/// The ping timer of connection number `connection` (glusterd's rpc-clnt ping): while calls
/// are in flight, a PING every `every`; one that goes unanswered that long shuts the socket
/// down, so the reader ends and every call in flight fails at once (instead of at its frame
/// timeout).
async fn ping(
    link: Weak<PeerLink>,
    connection: u64,
    socket_fd: std::os::fd::RawFd,
    every: Duration,
) {
    loop {
        glommio::timer::sleep(every).await;
        let Some(l) = link.upgrade() else { return };
        if !l.up.get() || l.connects.get() != connection {
            return;
        }
        if l.in_flight() == 0 {
            continue;
        }
        let pinged = l
            .call_raw(dump::PROGRAM, dump::VERSION, dump::PROC_PING, &[], every)
            .await;
        if let Err(CallError::TimedOut(_)) = pinged {
            if l.up.get() && l.connects.get() == connection {
                tracing::warn!(peer = %l.config.host, timeout_s = every.as_secs(), "no answer to PING: dropping the connection");
                // SAFETY: shutdown(2) of this connection's socket, still open (its reader owns
                // it and has not ended: the link is up on this connection); it only makes the
                // reader see the end of the stream.
                unsafe { libc::shutdown(socket_fd, libc::SHUT_RDWR) };
            }
            return;
        }
    }
}

/// DUMP, VERSIONS, VERSIONS_ACK (reference §3.7).
async fn bring_up(link: &PeerLink) -> Result<(), String> {
    let mut args = Vec::new();
    dump::encode_request(&mut args, DUMP_GFS_ID);
    let body = link
        .call_raw(
            dump::PROGRAM,
            dump::VERSION,
            dump::PROC_DUMP,
            &args,
            HANDSHAKE_TIMEOUT,
        )
        .await
        .map_err(|e| format!("DUMP: {e}"))?;
    let programs = dump::decode_reply(&body).map_err(|e| format!("DUMP reply: {e}"))?;
    let has_handshake = programs.programs.iter().any(|p| {
        p.number == u64::from(wire::HNDSK_PROGRAM) && p.version == u64::from(wire::HNDSK_VERSION)
    });
    if !has_handshake {
        return Err(format!(
            "Peer {} does not support required op-version",
            link.config.host
        ));
    }
    let mut hello = Dict::new();
    hello.set_str("peer-id", &link.config.me.to_string());
    let versions = hndsk_call(link, wire::PROC_VERSIONS, "VERSIONS", &hello).await?;
    let number = |key: &str| {
        versions
            .get_str(key)
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    let (min, max) = (
        number("minimum-operating-version").unwrap_or(1),
        number("maximum-operating-version").unwrap_or(u32::MAX),
    );
    let mine = link.config.op_version;
    if mine < min || mine > max {
        return Err(format!(
            "op-version {mine} is outside the peer's range {min}..{max}"
        ));
    }
    let mut ack = Dict::new();
    ack.set_str("operating-version", &mine.to_string());
    hndsk_call(link, wire::PROC_VERSIONS_ACK, "VERSIONS_ACK", &ack).await?;
    Ok(())
}

/// One MGMT_HNDSK call with `dict`; the reply's dict, or why not.
async fn hndsk_call(
    link: &PeerLink,
    proc_num: u32,
    what: &str,
    dict: &Dict,
) -> Result<Dict, String> {
    let mut bytes = Vec::new();
    dict.encode(&mut bytes);
    let mut args = Vec::new();
    wire::encode_hndsk_req(&mut args, &bytes);
    let body = link
        .call_raw(
            wire::HNDSK_PROGRAM,
            wire::HNDSK_VERSION,
            proc_num,
            &args,
            HANDSHAKE_TIMEOUT,
        )
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    let rsp = wire::decode_hndsk_rsp(&body).map_err(|e| format!("{what} reply: {e}"))?;
    if rsp.op_ret != 0 {
        return Err(format!("{what} refused (errno {})", rsp.op_errno));
    }
    Dict::decode(rsp.dict, DictLimits::default())
        .map(Option::unwrap_or_default)
        .map_err(|e| format!("{what} reply dict: {e}"))
}

/// Resolves and connects, bound to the source address, on a thread of its own (a name lookup
/// or a connect to an unreachable host must not stall the shard), and hands the socket to the
/// executor.
async fn connect(config: &LinkConfig) -> Result<glommio::net::TcpStream, String> {
    let (host, port, source) = (config.host.clone(), config.port, config.source);
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("brickd-connect".into())
        .spawn(move || {
            let _ = tx.send(connect_blocking(&host, port, source));
        })
        .map_err(|e| format!("cannot start a connect thread: {e}"))?;
    let socket = rx
        .await
        .map_err(|_| "connect thread vanished".to_string())??;
    use std::os::fd::{FromRawFd, IntoRawFd};
    let fd = socket.into_raw_fd();
    // SAFETY: `fd` is a connected TCP socket this function owns; the stream takes it over.
    Ok(unsafe { glommio::net::TcpStream::from_raw_fd(fd) })
}

fn connect_blocking(
    host: &str,
    port: u16,
    source: Option<IpAddr>,
) -> Result<std::net::TcpStream, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} has no address");
    for addr in addrs {
        if source.is_some_and(|s| s.is_ipv4() != addr.is_ipv4()) {
            continue;
        }
        let domain = socket2::Domain::for_address(addr);
        let socket =
            socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))
                .map_err(|e| format!("socket: {e}"))?;
        if let Some(source) = source {
            if let Err(e) = socket.bind(&SocketAddr::new(source, 0).into()) {
                last = format!("bind {source}: {e}");
                continue;
            }
        }
        match socket.connect_timeout(&addr.into(), CONNECT_TIMEOUT) {
            Ok(()) => {
                let _ = socket.set_nodelay(true);
                return Ok(socket.into());
            }
            Err(e) => last = format!("connect {addr}: {e}"),
        }
    }
    Err(last)
}
