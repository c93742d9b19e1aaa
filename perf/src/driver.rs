//! One client thread: a mio poller over its share of the connections, driving the closed loop
//! or the open-loop schedule until the measured window ends.
//!
//! Each pass of the loop waits for events, reads and judges every reply that arrived, then
//! tops every connection up (closed loop: back to `depth` calls in flight; open loop: every
//! call that has come due) and writes each connection's new calls in one `write`. Only replies
//! received inside the measured window are counted.

use crate::call::{check_reply, salvage_xid, CallEncoder, Verdict};
use crate::conn::{ConnError, Connection, ReplySink, Stream};
use crate::inflight::InflightTable;
use crate::pacer::Pacer;
use crate::stats::{status_index, Stats};
use crate::workload::Workload;
use mio::{Events, Poll, Token};
use std::io::{self, ErrorKind};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes read from a socket at once.
const READ_BUFFER_BYTES: usize = 256 << 10;
/// Readiness events taken from one poll.
const EVENTS_MAX: usize = 1024;
/// Poller token of the open-loop timer (connections use their index).
const PACER: Token = Token(usize::MAX);

/// When the run starts, and the measured window inside it.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// When the first calls go out (warm-up starts).
    pub start: Instant,
    /// Start of the measured window.
    pub measure_start: Instant,
    /// End of the run.
    pub measure_end: Instant,
}

impl Window {
    fn contains(&self, at: Instant) -> bool {
        at >= self.measure_start && at < self.measure_end
    }
}

/// Open-loop pacing: a fixed total rate shared evenly by all connections of the run.
#[derive(Debug, Clone, Copy)]
pub struct OpenLoop {
    /// Requests per second over all connections.
    pub rate: f64,
    /// Connections in the whole run (over all threads).
    pub conns_total: usize,
}

/// What one thread is given.
pub struct ThreadPlan {
    /// Its connections, each with its index in the whole run.
    pub streams: Vec<(usize, Stream)>,
    /// Calls in flight per connection (closed loop) or the cap (open loop).
    pub depth: usize,
    /// What to call.
    pub workload: Arc<dyn Workload>,
    /// The run's window.
    pub window: Window,
    /// Open loop, or closed loop when `None`.
    pub open_loop: Option<OpenLoop>,
}

/// What one thread measured.
pub struct ThreadResult {
    /// Counters and latencies of the measured window.
    pub stats: Stats,
    /// How the first lost connection was lost, if any was.
    pub first_connection_error: Option<String>,
}

/// The schedule of one connection in open loop: call `k` is due at `first_due + k × interval`.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    first_due: Instant,
    interval_ns: f64,
    queued: u64,
}

impl Schedule {
    fn next_due(&self) -> Instant {
        self.first_due + Duration::from_nanos((self.queued as f64 * self.interval_ns) as u64)
    }
}

struct Client {
    conn: Connection,
    open: bool,
    schedule: Option<Schedule>,
}

impl Client {
    /// Takes a failed connection out of the run and counts it.
    fn lose(
        &mut self,
        error: &ConnError,
        registry: &mio::Registry,
        stats: &mut Stats,
        first_error: &mut Option<String>,
    ) {
        self.open = false;
        self.conn.deregister(registry);
        stats.errors.connections_lost += 1;
        first_error.get_or_insert_with(|| describe(error));
    }
}

/// Counts replies into the thread's [`Stats`].
struct Recorder<'a> {
    workload: &'a dyn Workload,
    stats: &'a mut Stats,
    window: Window,
}

impl ReplySink for Recorder<'_> {
    fn on_record(&mut self, record: &[u8], inflight: &mut InflightTable, received: Instant) {
        let counted = self.window.contains(received);
        let stats = &mut *self.stats;
        match check_reply(self.workload, record) {
            Ok(reply) => match inflight.finish(reply.xid) {
                None if counted => stats.errors.unknown_xid += 1,
                None => {}
                Some(_) if !counted => {}
                Some(sent) => {
                    stats.replies += 1;
                    stats.statuses[status_index(reply.status)] += 1;
                    match reply.verdict {
                        Verdict::Ok => {
                            stats.ok += 1;
                            let latency_ns = received.saturating_duration_since(sent).as_nanos();
                            stats.latency_ns.saturating_record(
                                u64::try_from(latency_ns).unwrap_or(u64::MAX).max(1),
                            );
                        }
                        Verdict::StatusNotAccepted => stats.errors.status += 1,
                        Verdict::BadResults => stats.errors.bad_results += 1,
                    }
                }
            },
            Err(_) => {
                if let Some(xid) = salvage_xid(record) {
                    inflight.finish(xid);
                }
                if counted {
                    stats.errors.malformed += 1;
                }
            }
        }
    }
}

fn describe(error: &ConnError) -> String {
    match error {
        ConnError::Closed => "server closed the connection".to_string(),
        ConnError::Io(e) => format!("socket error: {e}"),
        ConnError::Record(e) => format!("bad record from server: {e}"),
    }
}

/// Runs one thread's share of the load until the window ends.
pub fn run(plan: ThreadPlan) -> io::Result<ThreadResult> {
    let mut poll = Poll::new()?;
    let encoder = CallEncoder::new(plan.workload.clone());
    let window = plan.window;
    let mut clients = Vec::with_capacity(plan.streams.len());
    for (local, (global, stream)) in plan.streams.into_iter().enumerate() {
        let mut conn = Connection::new(stream, plan.depth);
        conn.register(poll.registry(), Token(local))?;
        let schedule = plan.open_loop.map(|open| {
            let gap_ns = 1e9 / open.rate;
            Schedule {
                first_due: window.start + Duration::from_nanos((global as f64 * gap_ns) as u64),
                interval_ns: gap_ns * open.conns_total as f64,
                queued: 0,
            }
        });
        clients.push(Client {
            conn,
            open: true,
            schedule,
        });
    }
    let pacer = match plan.open_loop {
        Some(_) => Some(Pacer::new(poll.registry(), PACER)?),
        None => None,
    };

    let mut stats = Stats::new();
    let mut first_connection_error = None;
    let mut read_buf = vec![0u8; READ_BUFFER_BYTES];
    let mut events = Events::with_capacity(EVENTS_MAX);
    let mut open_clients = clients.len();
    let mut pacer_armed_for: Option<Instant> = None;

    loop {
        let now = Instant::now();
        let mut next_due: Option<Instant> = None;
        for client in clients.iter_mut().filter(|c| c.open) {
            match &mut client.schedule {
                None => while client.conn.queue_call(&encoder, now) {},
                Some(schedule) => {
                    while schedule.next_due() <= now
                        && client.conn.queue_call(&encoder, schedule.next_due())
                    {
                        schedule.queued += 1;
                    }
                    if client.conn.inflight.has_room() {
                        let due = schedule.next_due();
                        next_due = Some(next_due.map_or(due, |d: Instant| d.min(due)));
                    }
                }
            }
            if let Err(error) = client.conn.flush() {
                client.lose(
                    &error,
                    poll.registry(),
                    &mut stats,
                    &mut first_connection_error,
                );
                open_clients -= 1;
            }
        }
        if now >= window.measure_end || open_clients == 0 {
            break;
        }
        if let (Some(pacer), Some(due)) = (&pacer, next_due) {
            if pacer_armed_for != Some(due) {
                pacer.arm(due.saturating_duration_since(now))?;
                pacer_armed_for = Some(due);
            }
        }
        match poll.poll(&mut events, Some(window.measure_end - now)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if event.token() == PACER {
                if let Some(pacer) = &pacer {
                    pacer.acknowledge();
                    pacer_armed_for = None;
                }
                continue;
            }
            let Some(client) = clients.get_mut(event.token().0) else {
                continue;
            };
            if !client.open || !(event.is_readable() || event.is_read_closed() || event.is_error())
            {
                continue;
            }
            let mut recorder = Recorder {
                workload: &*plan.workload,
                stats: &mut stats,
                window,
            };
            if let Err(error) = client.conn.receive(&mut read_buf, &mut recorder) {
                client.lose(
                    &error,
                    poll.registry(),
                    &mut stats,
                    &mut first_connection_error,
                );
                open_clients -= 1;
            }
        }
    }
    stats.unanswered = clients
        .iter()
        .filter(|c| c.open)
        .map(|c| c.conn.inflight.len() as u64)
        .sum();
    Ok(ThreadResult {
        stats,
        first_connection_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Target;
    use crate::workload;
    use brickd::proto::dump;
    use brickd::proto::record::{fragment_header, RecordDecoder};
    use brickd::proto::rpc::{self, OpaqueAuth, ReplyStatus};
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::PathBuf;

    /// A fake server on a unix socket that answers every call with `status` (and a PING result
    /// for SUCCESS), until the client hangs up.
    fn fake_server(name: &str, status: ReplyStatus) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("brickd-load-{}-{name}.socket", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                std::thread::spawn(move || serve(stream, status));
            }
        });
        path
    }

    fn serve(mut stream: UnixStream, status: ReplyStatus) {
        let mut decoder = RecordDecoder::new(1 << 20);
        let mut buf = vec![0u8; 64 << 10];
        let mut out = Vec::new();
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let mut input = &buf[..n];
            while !input.is_empty() {
                let (used, record) = decoder.decode(input).unwrap();
                if let Some(record) = record {
                    let (call, _) = rpc::decode_call(record).unwrap();
                    let mut reply = Vec::new();
                    rpc::encode_reply(&mut reply, call.xid, OpaqueAuth::NULL, status);
                    if status == ReplyStatus::Success {
                        dump::encode_ping_reply(&mut reply);
                    }
                    out.extend_from_slice(&fragment_header(reply.len()));
                    out.extend_from_slice(&reply);
                }
                input = &input[used..];
            }
            if stream.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
    }

    fn run_against(
        path: &PathBuf,
        conns: usize,
        depth: usize,
        open_loop: Option<OpenLoop>,
    ) -> ThreadResult {
        let target = Target::Unix(path.clone());
        let streams = (0..conns)
            .map(|i| (i, Stream::connect(&target).unwrap()))
            .collect();
        let start = Instant::now();
        let measure_start = start + Duration::from_millis(50);
        let result = run(ThreadPlan {
            streams,
            depth,
            workload: workload::parse("ping").unwrap(),
            window: Window {
                start,
                measure_start,
                measure_end: measure_start + Duration::from_millis(300),
            },
            open_loop,
        })
        .unwrap();
        let _ = std::fs::remove_file(path);
        result
    }

    #[test]
    fn closed_loop_counts_successful_round_trips() {
        let path = fake_server("closed", ReplyStatus::Success);
        let result = run_against(&path, 2, 4, None);
        let stats = &result.stats;
        assert!(stats.ok > 100, "only {} replies", stats.ok);
        assert_eq!(stats.errors.total(), 0, "{:?}", stats.errors);
        assert_eq!(stats.statuses[0], stats.ok);
        assert_eq!(stats.latency_ns.len(), stats.ok);
        assert!(result.first_connection_error.is_none());
    }

    #[test]
    fn refused_calls_are_errors_with_their_status_counted() {
        let path = fake_server("garbage", ReplyStatus::GarbageArgs);
        let stats = run_against(&path, 1, 2, None).stats;
        assert_eq!(stats.ok, 0);
        assert!(stats.replies > 0);
        assert_eq!(stats.errors.status, stats.replies);
        assert_eq!(stats.statuses[4], stats.replies);
    }

    #[test]
    fn open_loop_keeps_to_the_rate() {
        let path = fake_server("open", ReplyStatus::Success);
        let open_loop = OpenLoop {
            rate: 2000.0,
            conns_total: 2,
        };
        let stats = run_against(&path, 2, 64, Some(open_loop)).stats;
        // 300 ms at 2,000/s is 600 calls; leave room for a loaded test machine.
        assert!((300..=660).contains(&stats.ok), "{} replies", stats.ok);
        assert_eq!(stats.errors.total(), 0);
    }

    #[test]
    fn a_server_that_hangs_up_is_a_lost_connection() {
        let path =
            std::env::temp_dir().join(format!("brickd-load-{}-hangup.socket", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
            }
        });
        let result = run_against(&path, 1, 1, None);
        assert_eq!(result.stats.errors.connections_lost, 1);
        assert!(result.first_connection_error.is_some());
    }
}
