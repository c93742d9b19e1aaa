//! The steady-state ping path allocates nothing per request.
//!
//! A counting global allocator counts the heap allocations made on brickd's shard threads
//! (threads named `brickd-shard-*`) while a client on another thread runs pings against an
//! in-process server over real TCP, in rounds of 1, 16 and 64 pipelined calls. brickd's own
//! path (record reassembly, header and credential decode, dispatch, encode, metrics) allocates
//! nothing. glommio's reactor allocates a fixed handful each time the shard parks and wakes
//! (a poll Source, its preemption timer, the completion batch, the shard-mesh notifier: about 6
//! on this kernel), which is once per round here whatever the round's size. So the test
//! asserts that a round of 16 or 64 requests costs no more than a round of 1, which one
//! allocation per *request* would break by 15 and 63.

use brickd::proto::auth::{AUTH_GLUSTERFS_V2, CLI_CREDENTIAL_V2};
use brickd::proto::dump;
use brickd::proto::rpc::{CallHeader, OpaqueAuth};
use brickd::server::{run, InitialState, Limits, ServerConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct CountingAllocator;

static SHARD_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// 0: not looked at yet, 1: a shard thread, 2: another thread (or looking right now).
    static THREAD_KIND: Cell<u8> = const { Cell::new(0) };
}

fn on_shard_thread() -> bool {
    THREAD_KIND
        .try_with(|kind| match kind.get() {
            0 => {
                kind.set(2);
                let is_shard = std::thread::current()
                    .name()
                    .is_some_and(|n| n.starts_with("brickd-shard-"));
                kind.set(if is_shard { 1 } else { 2 });
                is_shard
            }
            k => k == 1,
        })
        .unwrap_or(false)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if on_shard_thread() {
            SHARD_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if on_shard_thread() {
            SHARD_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn ping_record(xid: u32) -> Vec<u8> {
    let mut rec = Vec::new();
    brickd::proto::calls::encode_call_record(
        &mut rec,
        &CallHeader {
            xid,
            prog: dump::PROGRAM,
            vers: dump::VERSION,
            proc_num: dump::PROC_PING,
            cred: OpaqueAuth {
                flavor: AUTH_GLUSTERFS_V2,
                body: &CLI_CREDENTIAL_V2,
            },
            verf: OpaqueAuth::NULL,
        },
        |_| {},
    );
    rec
}

/// Reply record: mark 4 + header 24 + gf_common_rsp 12.
const PING_REPLY_BYTES: usize = 40;

/// Sends `rounds` batches of `depth` pings and reads every reply, allocating nothing.
fn pings(stream: &mut TcpStream, batch: &[u8], depth: usize, rounds: usize, reply: &mut [u8]) {
    let want = depth * PING_REPLY_BYTES;
    for _ in 0..rounds {
        stream.write_all(batch).unwrap();
        stream.read_exact(&mut reply[..want]).unwrap();
    }
}

fn start_server() -> SocketAddr {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("brickd-zero-alloc-{}", std::process::id()));
    let config = ServerConfig {
        initial: std::sync::Arc::new(InitialState {
            node: brickd::model::NodeInfo::new_random(),
            peers: Vec::new(),
            volumes: Vec::new(),
            global_options: Vec::new(),
        }),
        workdir: dir,
        socket: None,
        listen: Some(addr),
        shards: 1,
        limits: Limits::default(),
        enable_test_program: false,
        pin_shards: true,
        spin_before_park: None,
        sched_slice: None,
        background_off_change_core: true,
        processes: brickd::brick::process::ProcessConfig::glusterd_defaults(),
        peer_frame_timeout: Duration::from_secs(600),
        peer_ping_timeout: None,
    };
    std::thread::spawn(move || run(config).unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect(addr).is_ok() {
            return addr;
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn steady_state_ping_makes_no_heap_allocation_per_request() {
    let addr = start_server();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut reply = vec![0u8; 64 * PING_REPLY_BYTES];
    let mut per_round = Vec::new();
    for depth in [1usize, 16, 64] {
        let batch: Vec<u8> = (0..depth as u32).flat_map(ping_record).collect();
        pings(&mut stream, &batch, depth, 500, &mut reply);
        let rounds = 20_000 / depth;
        let before = SHARD_ALLOCATIONS.load(Ordering::SeqCst);
        let started = Instant::now();
        pings(&mut stream, &batch, depth, rounds, &mut reply);
        let elapsed = started.elapsed();
        let allocations = SHARD_ALLOCATIONS.load(Ordering::SeqCst) - before;
        let requests = (rounds * depth) as u64;
        println!(
            "depth {depth}: {requests} pings in {elapsed:?}, {allocations} allocations on the shard thread"
        );
        println!(
            "  {:.3} per request, {:.2} per round",
            allocations as f64 / requests as f64,
            allocations as f64 / rounds as f64
        );
        per_round.push((depth, allocations as f64 / rounds as f64));
    }
    // Whatever glommio spends per wake-up, a round of 16 or 64 requests costs about what a
    // round of 1 costs (a big round sometimes takes an extra wake-up or two). One allocation
    // per request would add 16 and 64 per round; the bound allows a quarter of that.
    let (_, base) = per_round[0];
    assert!(base < 16.0, "{base} allocations per single-ping round");
    for &(depth, cost) in &per_round[1..] {
        assert!(
            cost < base + depth as f64 / 4.0,
            "depth {depth}: {cost:.2} allocations per round against {base:.2} at depth 1"
        );
    }
}
