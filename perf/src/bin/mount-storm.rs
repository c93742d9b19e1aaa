//! `mount-storm`: many clients mounting one volume at once, as the management daemon sees it.
//!
//! Each client does, over and over, what a FUSE mount (`mount -t glusterfs HOST:/VOL DIR`) asks
//! glusterd (docs/glusterd-volume-start.md §5.2 in the repository):
//!
//! 1. connection A: GETSPEC (Handshake 14398633 v2 proc 2) `{ flags = 1, key = "/VOL",
//!    xdata = { max-op-version = "100000", min-op-version = "1" } }`, reply
//!    `{ op_ret = volfile length, op_errno = 0, spec, xdata }`;
//! 2. then, for every brick of the volfile at once, a new TCP connection to the same management
//!    address with DUMP (GF-DUMP 123451501 v1 proc 1, gfs_id 0xcaed) and PING (proc 2) sent back
//!    to back, then, once both are answered, PMAP PORTBYBRICK (Portmap 34123456 v1 proc 1)
//!    `{ brick = PATH }` → `{ op_ret = 0, op_errno, status, port > 0 }`; the client closes each
//!    connection after the PORTBYBRICK reply (it would then connect to the brick's port);
//! 3. when every brick has its port the mount is done: connection A is closed too (a real
//!    client keeps it; a storm of new mounts is a storm of new processes) and the client starts
//!    its next mount at once (closed loop).
//!
//! Counted over the measured window: every RPC answered and judged good (GETSPEC, DUMP, PING,
//! PORTBYBRICK: `requests`, with the latency from the call's write to its reply), whole mounts
//! (`mounts`, from the first connect to the last PORTBYBRICK reply), and TCP connects (their
//! latency). A mount with any error (connect refused, closed early, a bad or refused reply) is
//! abandoned, counted as failed, and started again.
//!
//! The brick paths are read from the first volfile (`option remote-subvolume` of every
//! protocol/client volume), or given with `--bricks`. One mio poller per client thread, all
//! sockets non-blocking; nothing is allocated per request beyond the DUMP reply's program list.
//!
//! Usage: mount-storm --target HOST:PORT --volume VOL [--clients 64] [--duration 10]
//!        [--warmup 1] [--threads 1] [--server-pid PID] [--bricks P1,P2,…]
//!        [--source-addrs N [--source-base 127.0.0.1]] [--json]

use brickd::proto::auth::{AUTH_GLUSTERFS_V2, CLI_CREDENTIAL_V2};
use brickd::proto::dict::Dict;
use brickd::proto::record::{fragment_header, RecordDecoder};
use brickd::proto::rpc::{self, CallHeader, OpaqueAuth, ReplyStatus};
use brickd::proto::{dump, hndsk, pmap};
use clap::Parser;
use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use serde_json::{json, Value};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::os::fd::FromRawFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../cpu.rs"]
mod cpu;

/// The gfs_id a client's DUMP carries (glusterfs' `GF_DUMP` client id, seen on the wire).
const GFS_ID_CLIENT: u64 = 0xcaed;
/// GETSPEC on connection A, and DUMP, PING, PORTBYBRICK on a brick connection: xids from 2.
const XID_FIRST: u32 = 2;
const XID_GETSPEC: u32 = 2;
const XID_DUMP: u32 = 2;
const XID_PING: u32 = 3;
const XID_PMAP: u32 = 4;
/// Largest volfile accepted (a 6-brick client volfile is a few KiB).
const SPEC_BYTES_MAX: usize = 4 << 20;
/// Largest reply record accepted.
const RECORD_BYTES_MAX: usize = 8 << 20;
/// Bytes read per `read`.
const READ_CHUNK_BYTES: usize = 256 << 10;
/// Highest latency tracked (60 s in ns).
const LATENCY_NS_MAX: u64 = 60_000_000_000;
/// Cap on clients.
const CLIENTS_MAX: usize = 4096;
/// Cap on bricks per volume.
const BRICKS_MAX: usize = 256;
/// The percentiles reported.
const PERCENTILES: [(&str, f64); 4] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];

#[derive(Debug, Parser)]
#[command(
    name = "mount-storm",
    about = "Clients mounting one volume at once: GETSPEC, then DUMP+PING+PORTBYBRICK per brick on new connections"
)]
struct Args {
    /// The management daemon, HOST:PORT (TCP).
    #[arg(long)]
    target: String,
    /// The volume (the GETSPEC key is "/VOL", as `mount -t glusterfs HOST:/VOL` sends it).
    #[arg(long)]
    volume: String,
    /// Concurrent clients, each mounting over and over.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds before the measured window (not counted).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Client threads (clients are spread round-robin).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Server process whose CPU time (utime+stime) is read over the window.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Brick paths to ask PORTBYBRICK for, comma-separated (default: the volfile's
    /// remote-subvolume options).
    #[arg(long, value_delimiter = ',')]
    bricks: Vec<String>,
    /// Spread the client connections over this many source addresses from --source-base
    /// (0: let the kernel choose). Each source address has its own ephemeral ports, so a fast
    /// server does not run the client out of ports held in TIME_WAIT.
    #[arg(long, default_value_t = 0)]
    source_addrs: u32,
    /// First source address with --source-addrs.
    #[arg(long, default_value = "127.0.0.1")]
    source_base: Ipv4Addr,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Judge replies by their RPC status only and do not fetch the volfile first (needs
    /// --bricks): for a server that does no work, such as perf's echo-server, to measure the
    /// floor the connections and calls themselves cost on this machine.
    #[arg(long)]
    floor: bool,
}

// ---------------------------------------------------------------------------------------------
// Sans-IO: calls, replies, volfile.

/// The RPC procedures of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Getspec,
    Dump,
    Ping,
    Portmap,
}

const KINDS: [Kind; 4] = [Kind::Getspec, Kind::Dump, Kind::Ping, Kind::Portmap];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Getspec => "getspec",
            Kind::Dump => "dump",
            Kind::Ping => "ping",
            Kind::Portmap => "portbybrick",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// What a reply to xid on connection A (`on_a`) or a brick connection answers.
    fn of(on_a: bool, xid: u32) -> Option<Kind> {
        match (on_a, xid) {
            (true, XID_GETSPEC) => Some(Kind::Getspec),
            (false, XID_DUMP) => Some(Kind::Dump),
            (false, XID_PING) => Some(Kind::Ping),
            (false, XID_PMAP) => Some(Kind::Portmap),
            _ => None,
        }
    }

    /// Judges the result bytes of a SUCCESS reply.
    fn check(self, results: &[u8]) -> Result<(), &'static str> {
        match self {
            Kind::Getspec => {
                let rsp = hndsk::decode_getspec_rsp(results, SPEC_BYTES_MAX)
                    .map_err(|_| "GETSPEC reply does not decode")?;
                if rsp.op_ret < 0 {
                    return Err("GETSPEC refused");
                }
                if rsp.spec.is_empty() || rsp.op_ret as usize != rsp.spec.len() {
                    return Err("GETSPEC op_ret is not the volfile's length");
                }
                Ok(())
            }
            Kind::Dump => {
                let rsp = dump::decode_reply(results).map_err(|_| "DUMP reply does not decode")?;
                if rsp.op_ret != 0 || rsp.programs.is_empty() {
                    return Err("DUMP lists no programs");
                }
                Ok(())
            }
            Kind::Ping => match results.get(..4) {
                Some([0, 0, 0, 0]) => Ok(()),
                _ => Err("PING op_ret is not 0"),
            },
            Kind::Portmap => {
                let rsp = pmap::decode_port_by_brick_rsp(results)
                    .map_err(|_| "PORTBYBRICK reply does not decode")?;
                if rsp.op_ret != 0 || rsp.port <= 0 {
                    return Err("PORTBYBRICK has no port (brick not signed in)");
                }
                Ok(())
            }
        }
    }
}

/// Appends one call record (one fragment) with the CLI's AUTH_GLUSTERFS_v2 credential.
fn append_call(out: &mut Vec<u8>, xid: u32, prog: u32, vers: u32, proc_num: u32, args: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    rpc::encode_call(
        out,
        &CallHeader {
            xid,
            prog,
            vers,
            proc_num,
            cred: OpaqueAuth {
                flavor: AUTH_GLUSTERFS_V2,
                body: &CLI_CREDENTIAL_V2,
            },
            verf: OpaqueAuth::NULL,
        },
    );
    out.extend_from_slice(args);
    let len = out.len() - start - 4;
    out[start..start + 4].copy_from_slice(&fragment_header(len));
}

/// The GETSPEC call of `mount -t glusterfs HOST:/VOL`.
fn getspec_call(volume: &str) -> Vec<u8> {
    // Wire order max-op-version, min-op-version: insertion order is the reverse.
    let mut dict = Dict::new();
    dict.set_str("min-op-version", "1");
    dict.set_str("max-op-version", "100000");
    let mut xdata = Vec::new();
    dict.encode(&mut xdata);
    let key = format!("/{volume}");
    let mut args = Vec::new();
    hndsk::encode_getspec_req(
        &mut args,
        &hndsk::GetspecReq {
            flags: hndsk::GETSPEC_FLAG_SERVERS_LIST,
            key: &key,
            xdata: &xdata,
        },
    );
    let mut out = Vec::new();
    append_call(
        &mut out,
        XID_GETSPEC,
        hndsk::PROGRAM,
        hndsk::VERSION,
        hndsk::PROC_GETSPEC,
        &args,
    );
    out
}

/// DUMP then PING, back to back, as the client sends them first on a brick connection.
fn dump_ping_calls() -> Vec<u8> {
    let mut args = Vec::new();
    dump::encode_request(&mut args, GFS_ID_CLIENT);
    let mut out = Vec::new();
    append_call(
        &mut out,
        XID_DUMP,
        dump::PROGRAM,
        dump::VERSION,
        dump::PROC_DUMP,
        &args,
    );
    append_call(
        &mut out,
        XID_PING,
        dump::PROGRAM,
        dump::VERSION,
        dump::PROC_PING,
        &[],
    );
    out
}

/// PORTBYBRICK for `brick` (its path).
fn portmap_call(brick: &str) -> Vec<u8> {
    let mut args = Vec::new();
    pmap::encode_port_by_brick_req(&mut args, brick);
    let mut out = Vec::new();
    append_call(
        &mut out,
        XID_PMAP,
        pmap::PROGRAM,
        pmap::VERSION,
        pmap::PROC_PORTBYBRICK,
        &args,
    );
    out
}

/// What a client volfile tells a mount about its bricks.
#[derive(Debug, Default, PartialEq, Eq)]
struct VolfileBricks {
    /// `remote-subvolume` of every protocol/client volume, in volfile order.
    paths: Vec<String>,
    /// Their `remote-host` values, deduplicated.
    hosts: Vec<String>,
    /// Their `remote-port` values, deduplicated (none: the client asks port 24007).
    ports: Vec<String>,
}

/// Reads the protocol/client volumes of a client volfile.
fn volfile_bricks(spec: &str) -> VolfileBricks {
    let mut out = VolfileBricks::default();
    let mut in_client = false;
    let (mut path, mut host, mut port) = (None, None, None);
    for line in spec.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["volume", _] => {
                in_client = false;
                (path, host, port) = (None, None, None);
            }
            ["type", "protocol/client"] => in_client = true,
            ["option", "remote-subvolume", v] => path = Some(v.to_string()),
            ["option", "remote-host", v] => host = Some(v.to_string()),
            ["option", "remote-port", v] => port = Some(v.to_string()),
            ["end-volume"] => {
                if in_client {
                    if let Some(p) = path.take() {
                        out.paths.push(p);
                    }
                    for (value, list) in
                        [(host.take(), &mut out.hosts), (port.take(), &mut out.ports)]
                    {
                        if let Some(v) = value {
                            if !list.contains(&v) {
                                list.push(v);
                            }
                        }
                    }
                }
                in_client = false;
            }
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Sockets.

/// Opens a non-blocking TCP connection to `dst` (from `src` when given, port chosen at connect).
fn connect_nonblocking(dst: SocketAddr, src: Option<Ipv4Addr>) -> io::Result<TcpStream> {
    let SocketAddr::V4(dst) = dst else {
        return TcpStream::connect(dst);
    };
    // SAFETY: plain socket syscalls on a descriptor this function owns until it is wrapped.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let stream = std::net::TcpStream::from_raw_fd(fd);
        let one: libc::c_int = 1;
        let set = |level, name| {
            libc::setsockopt(
                fd,
                level,
                name,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if set(libc::IPPROTO_TCP, libc::TCP_NODELAY) != 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(src) = src {
            if set(libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT) != 0 {
                return Err(io::Error::last_os_error());
            }
            let sin = sockaddr_in(SocketAddrV4::new(src, 0));
            if libc::bind(
                fd,
                (&sin as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        let sin = sockaddr_in(dst);
        if libc::connect(
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        ) != 0
        {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
        }
        Ok(TcpStream::from_std(stream))
    }
}

fn sockaddr_in(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// One of a mount's connections.
struct Sock {
    stream: TcpStream,
    connecting: bool,
    opened: Instant,
    decoder: RecordDecoder,
    out: Vec<u8>,
    written: usize,
    /// Write time of the call with xid XID_FIRST + i; `None` until written.
    sent: [Option<Instant>; 3],
    /// Calls queued whose write time is not stamped yet (bit i: xid XID_FIRST + i).
    unstamped: u8,
    /// Replies still expected.
    awaiting: u8,
}

impl Sock {
    fn open(dst: SocketAddr, src: Option<Ipv4Addr>, now: Instant) -> io::Result<Sock> {
        Ok(Sock {
            stream: connect_nonblocking(dst, src)?,
            connecting: true,
            opened: now,
            decoder: RecordDecoder::new(RECORD_BYTES_MAX),
            out: Vec::with_capacity(256),
            written: 0,
            sent: [None; 3],
            unstamped: 0,
            awaiting: 0,
        })
    }

    /// Queues pre-encoded calls with the given xids.
    fn queue(&mut self, calls: &[u8], xids: &[u32]) {
        self.out.extend_from_slice(calls);
        for &xid in xids {
            self.unstamped |= 1 << (xid - XID_FIRST);
            self.awaiting += 1;
        }
    }

    /// Finishes a connect in progress: Ok(true) when connected, Ok(false) still connecting.
    fn finish_connect(&mut self) -> io::Result<bool> {
        if !self.connecting {
            return Ok(true);
        }
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.connecting = false;
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes what is queued; stamps the calls' write time once all of it went out.
    fn flush(&mut self) -> io::Result<()> {
        if self.connecting || self.written == self.out.len() {
            return Ok(());
        }
        let now = Instant::now();
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        for i in 0..3 {
            if self.unstamped & (1 << i) != 0 {
                self.sent[i] = Some(now);
            }
        }
        self.unstamped = 0;
        self.out.clear();
        self.written = 0;
        Ok(())
    }
}

/// A reply as read: xid, when, and the verdict.
struct Reply {
    xid: u32,
    at: Instant,
    verdict: Result<(), Failure>,
}

/// Why a mount failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Connect,
    Closed,
    Io,
    Malformed,
    UnknownXid,
    Status,
    BadResult(Kind),
}

const FAILURES: [&str; 10] = [
    "connect",
    "closed",
    "io",
    "malformed",
    "unknown_xid",
    "status",
    "bad_getspec",
    "bad_dump",
    "bad_ping",
    "bad_portbybrick",
];

impl Failure {
    fn index(self) -> usize {
        match self {
            Failure::Connect => 0,
            Failure::Closed => 1,
            Failure::Io => 2,
            Failure::Malformed => 3,
            Failure::UnknownXid => 4,
            Failure::Status => 5,
            Failure::BadResult(kind) => 6 + kind.index(),
        }
    }
}

/// Reads what the socket has; pushes each reply, judged, to `replies`. Err: the connection
/// broke (after the replies that came before it were pushed).
fn receive(
    sock: &mut Sock,
    on_a: bool,
    status_only: bool,
    buf: &mut [u8],
    replies: &mut Vec<Reply>,
) -> Result<(), Failure> {
    loop {
        let n = match sock.stream.read(buf) {
            Ok(0) => return Err(Failure::Closed),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Err(Failure::Io),
        };
        let at = Instant::now();
        let mut input = &buf[..n];
        while !input.is_empty() {
            let (used, record) = sock.decoder.decode(input).map_err(|_| Failure::Malformed)?;
            if let Some(record) = record {
                let (xid, verdict) = match rpc::decode_reply(record) {
                    Err(_) => (0, Err(Failure::Malformed)),
                    Ok((header, results)) => {
                        let verdict = match Kind::of(on_a, header.xid) {
                            None => Err(Failure::UnknownXid),
                            Some(_) if header.status != ReplyStatus::Success => {
                                Err(Failure::Status)
                            }
                            Some(_) if status_only => Ok(()),
                            Some(kind) => kind.check(results).map_err(|_| Failure::BadResult(kind)),
                        };
                        (header.xid, verdict)
                    }
                };
                replies.push(Reply { xid, at, verdict });
            } else if used == 0 {
                break;
            }
            input = &input[used..];
        }
        if n < buf.len() {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Counting.

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3).expect("valid histogram bounds")
}

/// What one thread measured.
struct Stats {
    requests: u64,
    by_kind: [u64; 4],
    mounts: u64,
    connects: u64,
    failed_mounts: u64,
    failures: [u64; FAILURES.len()],
    first_failure: Option<String>,
    unfinished_mounts: u64,
    request_ns: Histogram<u64>,
    kind_ns: [Histogram<u64>; 4],
    mount_ns: Histogram<u64>,
    connect_ns: Histogram<u64>,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            requests: 0,
            by_kind: [0; 4],
            mounts: 0,
            connects: 0,
            failed_mounts: 0,
            failures: [0; FAILURES.len()],
            first_failure: None,
            unfinished_mounts: 0,
            request_ns: histogram(),
            kind_ns: [histogram(), histogram(), histogram(), histogram()],
            mount_ns: histogram(),
            connect_ns: histogram(),
        }
    }

    fn merge(&mut self, other: &Stats) {
        self.requests += other.requests;
        self.mounts += other.mounts;
        self.connects += other.connects;
        self.failed_mounts += other.failed_mounts;
        self.unfinished_mounts += other.unfinished_mounts;
        for i in 0..4 {
            self.by_kind[i] += other.by_kind[i];
            self.kind_ns[i].add(&other.kind_ns[i]).expect("same bounds");
        }
        for i in 0..FAILURES.len() {
            self.failures[i] += other.failures[i];
        }
        if self.first_failure.is_none() {
            self.first_failure.clone_from(&other.first_failure);
        }
        self.request_ns.add(&other.request_ns).expect("same bounds");
        self.mount_ns.add(&other.mount_ns).expect("same bounds");
        self.connect_ns.add(&other.connect_ns).expect("same bounds");
    }
}

fn nanos(d: Duration) -> u64 {
    (d.as_nanos() as u64).clamp(1, LATENCY_NS_MAX)
}

// ---------------------------------------------------------------------------------------------
// The event loop.

/// What every client of a run shares.
struct Plan {
    dst: SocketAddr,
    getspec: Vec<u8>,
    dump_ping: Vec<u8>,
    portmap: Vec<Vec<u8>>,
    sources: Vec<Ipv4Addr>,
    status_only: bool,
    start: Instant,
    measure_start: Instant,
    measure_end: Instant,
}

/// One client: the mount it is doing.
struct Client {
    mount_start: Instant,
    a: Option<Sock>,
    bricks: Vec<Option<Sock>>,
    bricks_left: usize,
}

struct Thread {
    plan: Arc<Plan>,
    poll: Poll,
    clients: Vec<Client>,
    stats: Stats,
    next_source: usize,
    slots: usize,
}

impl Thread {
    fn in_window(&self, at: Instant) -> bool {
        at >= self.plan.measure_start && at < self.plan.measure_end
    }

    fn source(&mut self) -> Option<Ipv4Addr> {
        if self.plan.sources.is_empty() {
            return None;
        }
        self.next_source = (self.next_source + 1) % self.plan.sources.len();
        Some(self.plan.sources[self.next_source])
    }

    fn open(&mut self, ci: usize, slot: usize) -> io::Result<Sock> {
        let src = self.source();
        let mut sock = Sock::open(self.plan.dst, src, Instant::now())?;
        self.poll.registry().register(
            &mut sock.stream,
            Token(ci * self.slots + slot),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(sock)
    }

    fn close(&mut self, sock: Option<Sock>) {
        if let Some(mut sock) = sock {
            let _ = self.poll.registry().deregister(&mut sock.stream);
        }
    }

    fn fail(&mut self, ci: usize, why: Failure) {
        self.stats.failed_mounts += 1;
        self.stats.failures[why.index()] += 1;
        if self.stats.first_failure.is_none() {
            self.stats.first_failure = Some(FAILURES[why.index()].to_string());
        }
        self.abandon(ci);
        self.start_mount(ci);
    }

    fn abandon(&mut self, ci: usize) {
        let a = self.clients[ci].a.take();
        self.close(a);
        for b in 0..self.clients[ci].bricks.len() {
            let sock = self.clients[ci].bricks[b].take();
            self.close(sock);
        }
    }

    fn start_mount(&mut self, ci: usize) {
        if Instant::now() >= self.plan.measure_end {
            return;
        }
        self.clients[ci].mount_start = Instant::now();
        match self.open(ci, 0) {
            Ok(mut sock) => {
                sock.queue(&self.plan.getspec, &[XID_GETSPEC]);
                self.clients[ci].a = Some(sock);
            }
            Err(_) => self.fail(ci, Failure::Connect),
        }
    }

    fn start_bricks(&mut self, ci: usize) {
        let n = self.plan.portmap.len();
        self.clients[ci].bricks_left = n;
        for b in 0..n {
            match self.open(ci, 1 + b) {
                Ok(mut sock) => {
                    sock.queue(&self.plan.dump_ping, &[XID_DUMP, XID_PING]);
                    self.clients[ci].bricks[b] = Some(sock);
                }
                Err(_) => return self.fail(ci, Failure::Connect),
            }
        }
    }

    fn sock(&mut self, ci: usize, slot: usize) -> Option<&mut Sock> {
        let client = &mut self.clients[ci];
        if slot == 0 {
            client.a.as_mut()
        } else {
            client.bricks.get_mut(slot - 1).and_then(Option::as_mut)
        }
    }

    /// Handles readiness of one socket.
    fn on_event(&mut self, ci: usize, slot: usize, buf: &mut [u8], replies: &mut Vec<Reply>) {
        let window = (self.plan.measure_start, self.plan.measure_end);
        let status_only = self.plan.status_only;
        let Some(sock) = self.sock(ci, slot) else {
            return;
        };
        let was_connecting = sock.connecting;
        match sock.finish_connect() {
            Ok(false) => return,
            Ok(true) => {}
            Err(_) => return self.fail(ci, Failure::Connect),
        }
        let connect_time = was_connecting.then(|| sock.opened.elapsed());
        if sock.flush().is_err() {
            return self.fail(ci, Failure::Io);
        }
        replies.clear();
        let broke = receive(sock, slot == 0, status_only, buf, replies).err();
        let awaiting_after = sock.awaiting.saturating_sub(replies.len() as u8);
        if let Some(d) = connect_time {
            if self.in_window(Instant::now()) {
                self.stats.connects += 1;
                self.stats.connect_ns.record(nanos(d)).ok();
            }
        }
        for reply in replies.iter() {
            if let Err(why) = reply.verdict {
                return self.fail(ci, why);
            }
            let kind = Kind::of(slot == 0, reply.xid).expect("judged replies have a kind");
            let sock = self.sock(ci, slot).expect("the socket is still there");
            let Some(sent) = sock.sent[(reply.xid - XID_FIRST) as usize].take() else {
                return self.fail(ci, Failure::UnknownXid);
            };
            if reply.at >= window.0 && reply.at < window.1 {
                let ns = nanos(reply.at - sent);
                self.stats.requests += 1;
                self.stats.by_kind[kind.index()] += 1;
                self.stats.request_ns.record(ns).ok();
                self.stats.kind_ns[kind.index()].record(ns).ok();
            }
        }
        let sock = self.sock(ci, slot).expect("the socket is still there");
        sock.awaiting = awaiting_after;
        if awaiting_after > 0 {
            if let Some(why) = broke {
                return self.fail(ci, why);
            }
            return;
        }
        // Every reply this connection waited for is in.
        if slot == 0 {
            if self.clients[ci].bricks_left == 0 && replies.iter().any(|r| r.xid == XID_GETSPEC) {
                self.start_bricks(ci);
            }
            return;
        }
        let got_pmap = replies.iter().any(|r| r.xid == XID_PMAP);
        if !got_pmap {
            // DUMP and PING answered: ask the brick's port.
            let plan = self.plan.clone();
            let sock = self.sock(ci, slot).expect("the socket is still there");
            sock.queue(&plan.portmap[slot - 1], &[XID_PMAP]);
            if sock.flush().is_err() {
                return self.fail(ci, Failure::Io);
            }
            return;
        }
        let done = self.clients[ci].bricks[slot - 1].take();
        self.close(done);
        self.clients[ci].bricks_left -= 1;
        if self.clients[ci].bricks_left == 0 {
            let now = Instant::now();
            let a = self.clients[ci].a.take();
            self.close(a);
            if self.in_window(now) {
                self.stats.mounts += 1;
                self.stats
                    .mount_ns
                    .record(nanos(now - self.clients[ci].mount_start))
                    .ok();
            }
            self.start_mount(ci);
        }
    }

    fn run(mut self) -> io::Result<Stats> {
        let mut events = Events::with_capacity(1024);
        let mut buf = vec![0u8; READ_CHUNK_BYTES];
        let mut replies = Vec::with_capacity(8);
        let delay = self.plan.start.saturating_duration_since(Instant::now());
        std::thread::sleep(delay);
        for ci in 0..self.clients.len() {
            self.start_mount(ci);
        }
        loop {
            let now = Instant::now();
            if now >= self.plan.measure_end {
                break;
            }
            let timeout = (self.plan.measure_end - now).min(Duration::from_millis(100));
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                let token = event.token().0;
                self.on_event(
                    token / self.slots,
                    token % self.slots,
                    &mut buf,
                    &mut replies,
                );
            }
        }
        for ci in 0..self.clients.len() {
            if self.clients[ci].a.is_some() || self.clients[ci].bricks.iter().any(Option::is_some) {
                self.stats.unfinished_mounts += 1;
            }
            self.abandon(ci);
        }
        Ok(self.stats)
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up and report.

/// One blocking GETSPEC: the volfile the mounts will get.
fn fetch_volfile(dst: SocketAddr, call: &[u8]) -> Result<String, String> {
    let mut stream = std::net::TcpStream::connect_timeout(&dst, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to {dst}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    stream
        .write_all(call)
        .map_err(|e| format!("cannot send GETSPEC: {e}"))?;
    let mut decoder = RecordDecoder::new(RECORD_BYTES_MAX);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = stream
            .read(&mut buf)
            .map_err(|e| format!("no GETSPEC reply: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection before the GETSPEC reply".into());
        }
        let mut input = &buf[..n];
        while !input.is_empty() {
            let (used, record) = decoder
                .decode(input)
                .map_err(|e| format!("bad record: {e}"))?;
            if let Some(record) = record {
                let (header, results) =
                    rpc::decode_reply(record).map_err(|e| format!("bad reply: {e}"))?;
                if header.status != ReplyStatus::Success {
                    return Err(format!("GETSPEC answered {}", header.status.name()));
                }
                let rsp = hndsk::decode_getspec_rsp(results, SPEC_BYTES_MAX)
                    .map_err(|e| format!("bad GETSPEC reply: {e}"))?;
                if rsp.op_ret < 0 {
                    return Err(format!("GETSPEC refused: op_errno {}", rsp.op_errno));
                }
                return Ok(rsp.spec.to_string());
            }
            if used == 0 {
                break;
            }
            input = &input[used..];
        }
    }
}

fn percentiles(h: &Histogram<u64>) -> Value {
    let mut map = serde_json::Map::new();
    for (label, q) in PERCENTILES {
        map.insert(
            label.into(),
            json!(round1(h.value_at_quantile(q) as f64 / 1000.0)),
        );
    }
    map.insert("max".into(), json!(round1(h.max() as f64 / 1000.0)));
    map.insert("mean".into(), json!(round1(h.mean() / 1000.0)));
    Value::Object(map)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn self_cpu_s() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn run(args: &Args) -> Result<Value, String> {
    if args.clients == 0 || args.clients > CLIENTS_MAX {
        return Err(format!("--clients must be 1..={CLIENTS_MAX}"));
    }
    let threads = args.threads.clamp(1, args.clients);
    let dst = args
        .target
        .to_socket_addrs()
        .map_err(|e| format!("bad --target {}: {e}", args.target))?
        .next()
        .ok_or_else(|| format!("--target {} has no address", args.target))?;
    let getspec = getspec_call(&args.volume);
    if args.floor && args.bricks.is_empty() {
        return Err("--floor needs --bricks".into());
    }
    let spec = if args.floor {
        String::new()
    } else {
        fetch_volfile(dst, &getspec)?
    };
    let found = volfile_bricks(&spec);
    let bricks = if args.bricks.is_empty() {
        found.paths.clone()
    } else {
        args.bricks.clone()
    };
    if bricks.is_empty() || bricks.len() > BRICKS_MAX {
        return Err(format!(
            "the volfile of {} names {} bricks (expected 1..={BRICKS_MAX})",
            args.volume,
            bricks.len()
        ));
    }
    let sources = (0..args.source_addrs)
        .map(|i| Ipv4Addr::from(u32::from(args.source_base) + i))
        .collect();
    let start = Instant::now() + Duration::from_millis(50);
    let measure_start = start + Duration::from_secs_f64(args.warmup);
    let measure_end = measure_start + Duration::from_secs_f64(args.duration);
    let plan = Arc::new(Plan {
        dst,
        getspec,
        dump_ping: dump_ping_calls(),
        portmap: bricks.iter().map(|b| portmap_call(b)).collect(),
        sources,
        status_only: args.floor,
        start,
        measure_start,
        measure_end,
    });
    let slots = 1 + bricks.len();
    let mut handles = Vec::new();
    for t in 0..threads {
        let n = (args.clients + threads - 1 - t) / threads;
        let clients = (0..n)
            .map(|_| Client {
                mount_start: start,
                a: None,
                bricks: (0..bricks.len()).map(|_| None).collect(),
                bricks_left: 0,
            })
            .collect();
        let thread = Thread {
            plan: plan.clone(),
            poll: Poll::new().map_err(|e| format!("cannot make a poller: {e}"))?,
            clients,
            stats: Stats::new(),
            next_source: t,
            slots,
        };
        handles.push(
            std::thread::Builder::new()
                .name(format!("storm-{t}"))
                .spawn(move || thread.run())
                .map_err(|e| format!("cannot start a thread: {e}"))?,
        );
    }
    let ticks = |pid: Option<u32>| pid.and_then(|p| cpu::process_cpu_ticks(p).ok());
    std::thread::sleep(measure_start.saturating_duration_since(Instant::now()));
    let (server_before, client_before) = (ticks(args.server_pid), self_cpu_s());
    std::thread::sleep(measure_end.saturating_duration_since(Instant::now()));
    let (server_after, client_after) = (ticks(args.server_pid), self_cpu_s());
    let mut stats = Stats::new();
    for handle in handles {
        let s = handle
            .join()
            .map_err(|_| "a client thread panicked".to_string())?
            .map_err(|e| format!("a client thread failed: {e}"))?;
        stats.merge(&s);
    }
    let server_cpu_s = match (server_before, server_after) {
        (Some(b), Some(a)) => {
            Some(a.saturating_sub(b) as f64 / cpu::clock_ticks_per_second() as f64)
        }
        _ => None,
    };
    let d = args.duration;
    let mut by_kind = serde_json::Map::new();
    for kind in KINDS {
        by_kind.insert(
            kind.name().into(),
            json!({
                "requests": stats.by_kind[kind.index()],
                "latency_us": percentiles(&stats.kind_ns[kind.index()]),
            }),
        );
    }
    let mut failures = serde_json::Map::new();
    for (i, name) in FAILURES.iter().enumerate() {
        failures.insert((*name).into(), json!(stats.failures[i]));
    }
    Ok(json!({
        "workload": format!("mount-storm:{}", args.volume),
        "floor": args.floor,
        "target": args.target,
        "clients": args.clients,
        "threads": threads,
        "bricks": bricks,
        "volfile_bytes": spec.len(),
        "volfile_remote_hosts": found.hosts,
        "volfile_remote_ports": found.ports,
        "source_addrs": args.source_addrs,
        "duration": d,
        "warmup": args.warmup,
        "requests": stats.requests,
        "rps": stats.requests as f64 / d,
        "mounts": stats.mounts,
        "mounts_per_s": stats.mounts as f64 / d,
        "connects": stats.connects,
        "latency_us": percentiles(&stats.request_ns),
        "mount_latency_us": percentiles(&stats.mount_ns),
        "connect_latency_us": percentiles(&stats.connect_ns),
        "by_procedure": by_kind,
        "failed_mounts": stats.failed_mounts,
        "errors": stats.failures.iter().sum::<u64>(),
        "errors_by_kind": failures,
        "first_error": stats.first_failure,
        "unfinished_mounts": stats.unfinished_mounts,
        "server_cpu_s": server_cpu_s,
        "req_per_server_cpu_s": server_cpu_s.filter(|s| *s > 0.0).map(|s| stats.requests as f64 / s),
        "client_cpu_s": round1((client_after - client_before) * 1000.0) / 1000.0,
    }))
}

fn table(v: &Value) -> String {
    let lat = |key: &str| {
        let l = &v[key];
        format!(
            "p50 {} us  p90 {} us  p99 {} us  p99.9 {} us  max {} us",
            l["p50"], l["p90"], l["p99"], l["p99.9"], l["max"]
        )
    };
    let mut out = String::new();
    out += &format!(
        "mount-storm {} -> {}: {} clients, {} bricks ({}), {} s measured\n",
        v["workload"],
        v["target"],
        v["clients"],
        v["bricks"].as_array().map_or(0, Vec::len),
        v["bricks"],
        v["duration"]
    );
    out += &format!(
        "requests   {:>10}  {:>10.0}/s   {}\n",
        v["requests"],
        v["rps"].as_f64().unwrap_or(0.0),
        lat("latency_us")
    );
    out += &format!(
        "mounts     {:>10}  {:>10.1}/s   {}\n",
        v["mounts"],
        v["mounts_per_s"].as_f64().unwrap_or(0.0),
        lat("mount_latency_us")
    );
    out += &format!(
        "connects   {:>10}               {}\n",
        v["connects"],
        lat("connect_latency_us")
    );
    for kind in KINDS {
        let k = &v["by_procedure"][kind.name()];
        out += &format!(
            "  {:<12} {:>10}   p50 {} us  p99 {} us\n",
            kind.name(),
            k["requests"],
            k["latency_us"]["p50"],
            k["latency_us"]["p99"]
        );
    }
    out += &format!(
        "errors {} (failed mounts {}, first: {}), unfinished at the end {}\n",
        v["errors"], v["failed_mounts"], v["first_error"], v["unfinished_mounts"]
    );
    out += &format!(
        "server CPU {} s ({} req/CPU-s), client CPU {} s\n",
        v["server_cpu_s"], v["req_per_server_cpu_s"], v["client_cpu_s"]
    );
    out
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(v) => {
            if args.json {
                println!("{v}");
            } else {
                print!("{}", table(&v));
            }
            if v["mounts"].as_u64() == Some(0) {
                eprintln!("mount-storm: no mount completed");
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mount-storm: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickd::proto::dict::DictLimits;
    use brickd::proto::record::RecordDecoder;

    fn decode_calls(bytes: &[u8]) -> Vec<(u32, u32, u32, u32, Vec<u8>)> {
        let mut decoder = RecordDecoder::new(1 << 20);
        let mut input = bytes;
        let mut calls = Vec::new();
        while !input.is_empty() {
            let (used, record) = decoder.decode(input).unwrap();
            let (call, args) = rpc::decode_call(record.unwrap()).unwrap();
            assert_eq!(call.cred.flavor, AUTH_GLUSTERFS_V2);
            calls.push((call.xid, call.prog, call.vers, call.proc_num, args.to_vec()));
            input = &input[used..];
        }
        calls
    }

    #[test]
    fn getspec_is_the_fuse_mounts_call() {
        let calls = decode_calls(&getspec_call("v2"));
        assert_eq!(calls.len(), 1);
        let (xid, prog, vers, proc_num, args) = &calls[0];
        assert_eq!((*xid, *prog, *vers, *proc_num), (2, 14_398_633, 2, 2));
        let req = hndsk::decode_getspec_req(args).unwrap();
        assert_eq!(req.flags, 1);
        assert_eq!(req.key, "/v2");
        let dict = Dict::decode(req.xdata, DictLimits::default())
            .unwrap()
            .unwrap();
        let wire: Vec<(&str, &[u8])> = dict.iter().collect();
        assert_eq!(
            wire,
            [
                ("max-op-version", &b"100000\0"[..]),
                ("min-op-version", &b"1\0"[..])
            ]
        );
    }

    #[test]
    fn brick_connection_calls_dump_ping_then_portbybrick() {
        let calls = decode_calls(&dump_ping_calls());
        assert_eq!(calls.len(), 2);
        assert_eq!(
            (calls[0].0, calls[0].1, calls[0].2, calls[0].3),
            (2, 123_451_501, 1, 1)
        );
        assert_eq!(dump::decode_request(&calls[0].4), Ok(0xcaed));
        assert_eq!(
            (calls[1].0, calls[1].1, calls[1].2, calls[1].3),
            (3, 123_451_501, 1, 2)
        );
        assert!(calls[1].4.is_empty());
        let calls = decode_calls(&portmap_call("/b/1"));
        assert_eq!(
            (calls[0].0, calls[0].1, calls[0].2, calls[0].3),
            (4, 34_123_456, 1, 1)
        );
        assert_eq!(pmap::decode_port_by_brick_req(&calls[0].4), Ok("/b/1"));
    }

    #[test]
    fn replies_are_judged() {
        let mut ok = Vec::new();
        hndsk::encode_getspec_rsp(
            &mut ok,
            &hndsk::GetspecRsp {
                op_ret: 3,
                op_errno: 0,
                spec: "abc",
                xdata: &[],
            },
        );
        assert_eq!(Kind::Getspec.check(&ok), Ok(()));
        let mut refused = Vec::new();
        hndsk::encode_getspec_rsp(
            &mut refused,
            &hndsk::GetspecRsp {
                op_ret: -1,
                op_errno: 2,
                spec: "",
                xdata: &[],
            },
        );
        assert!(Kind::Getspec.check(&refused).is_err());
        for len in 0..ok.len() {
            assert!(Kind::Getspec.check(&ok[..len]).is_err());
        }
        let mut port = Vec::new();
        pmap::encode_port_by_brick_rsp(
            &mut port,
            &pmap::PortByBrickRsp {
                op_ret: 0,
                op_errno: 0,
                status: 0,
                port: 50_000,
            },
        );
        assert_eq!(Kind::Portmap.check(&port), Ok(()));
        let mut down = Vec::new();
        pmap::encode_port_by_brick_rsp(
            &mut down,
            &pmap::PortByBrickRsp {
                op_ret: -1,
                op_errno: 0,
                status: 0,
                port: 0,
            },
        );
        assert!(Kind::Portmap.check(&down).is_err());
        let mut ping = Vec::new();
        dump::encode_ping_reply(&mut ping);
        assert_eq!(Kind::Ping.check(&ping), Ok(()));
        let mut programs = Vec::new();
        dump::encode_reply(
            &mut programs,
            [dump::ProgramEntry {
                name: "Gluster Portmap",
                number: 34_123_456,
                version: 1,
            }],
        );
        assert_eq!(Kind::Dump.check(&programs), Ok(()));
        let mut none = Vec::new();
        dump::encode_reply(&mut none, []);
        assert!(Kind::Dump.check(&none).is_err());
        assert_eq!(Kind::of(true, 2), Some(Kind::Getspec));
        assert_eq!(Kind::of(false, 4), Some(Kind::Portmap));
        assert_eq!(Kind::of(true, 3), None);
    }

    #[test]
    fn volfile_bricks_are_the_client_volumes_remote_subvolumes() {
        let spec = "volume v-client-0\n    type protocol/client\n    option remote-host 127.1.9.1\n    \
                    option remote-subvolume /x/b0\n    option transport-type tcp\nend-volume\n\n\
                    volume v-client-1\n    type protocol/client\n    option remote-host 127.1.9.1\n    \
                    option remote-port 24508\n    option remote-subvolume /x/b1\nend-volume\n\n\
                    volume v-dht\n    type cluster/distribute\n    option remote-subvolume /not/a/brick\n    \
                    subvolumes v-client-0 v-client-1\nend-volume\n";
        let found = volfile_bricks(spec);
        assert_eq!(found.paths, ["/x/b0", "/x/b1"]);
        assert_eq!(found.hosts, ["127.1.9.1"]);
        assert_eq!(found.ports, ["24508"]);
    }
}
