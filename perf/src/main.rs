//! `brickd-load`: a SunRPC load generator for glusterd and brickd.
//!
//! It opens `--conns` connections to one listener, spreads them over `--threads` client
//! threads (each a mio poller over non-blocking sockets), and drives a [`workload::Workload`]
//! closed loop (`--depth` calls in flight per connection) or open loop (`--rate`). Calls look
//! like the gluster CLI's: AUTH_GLUSTERFS_v2 credential, AUTH_NULL verifier, xids from 2. It
//! reports requests/s, errors, reply statuses, latency percentiles and, with `--server-pid`,
//! the server's CPU time over the measured window.
//!
//! The wire work is done by the `brickd` library's sans-IO `proto` modules; this crate only
//! adds sockets, clocks and counting. It never talks to anything but the given target.

mod args;
mod call;
mod conn;
mod cpu;
mod driver;
mod inflight;
mod pacer;
mod report;
mod stats;
mod workload;

use args::Args;
use clap::Parser;
use conn::Stream;
use driver::{OpenLoop, ThreadPlan, Window};
use report::Summary;
use stats::Stats;
use std::process::ExitCode;
use std::time::Instant;
use thiserror::Error;

/// Why a run could not be made or measured.
#[derive(Debug, Error)]
enum LoadError {
    #[error("cannot connect to {target} (connection {index}): {source}")]
    Connect {
        target: String,
        index: usize,
        source: std::io::Error,
    },
    #[error("cannot read the CPU time of server pid {pid}: {source}")]
    ServerPid { pid: u32, source: std::io::Error },
    #[error("cannot start client thread: {0}")]
    Thread(std::io::Error),
    #[error("client thread failed: {0}")]
    Driver(std::io::Error),
    #[error("a client thread panicked")]
    Panicked,
}

fn sleep_until(at: Instant) {
    let wait = at.saturating_duration_since(Instant::now());
    if !wait.is_zero() {
        std::thread::sleep(wait);
    }
}

fn server_cpu_ticks(pid: Option<u32>) -> Result<Option<u64>, LoadError> {
    pid.map(|pid| {
        cpu::process_cpu_ticks(pid).map_err(|source| LoadError::ServerPid { pid, source })
    })
    .transpose()
}

fn run(args: &Args) -> Result<Summary, LoadError> {
    let conns = args.conns as usize;
    let threads = args.threads();
    let depth = args.depth();
    let target = args.target.to_string();

    server_cpu_ticks(args.server_pid)?;
    let mut shares: Vec<Vec<(usize, Stream)>> = (0..threads).map(|_| Vec::new()).collect();
    for index in 0..conns {
        let stream = Stream::connect(&args.target).map_err(|source| LoadError::Connect {
            target: target.clone(),
            index,
            source,
        })?;
        shares[index % threads].push((index, stream));
    }

    let start = Instant::now();
    let measure_start = start + args.warmup();
    let window = Window {
        start,
        measure_start,
        measure_end: measure_start + args.duration(),
    };
    let open_loop = args.rate.map(|rate| OpenLoop {
        rate,
        conns_total: conns,
    });
    let mut handles = Vec::with_capacity(threads);
    for (index, streams) in shares.into_iter().enumerate() {
        let plan = ThreadPlan {
            streams,
            depth,
            workload: args.workload.clone(),
            window,
            open_loop,
        };
        let handle = std::thread::Builder::new()
            .name(format!("load-{index}"))
            .spawn(move || driver::run(plan))
            .map_err(LoadError::Thread)?;
        handles.push(handle);
    }

    sleep_until(window.measure_start);
    let cpu_before = server_cpu_ticks(args.server_pid);
    sleep_until(window.measure_end);
    let cpu_after = server_cpu_ticks(args.server_pid);

    let mut stats = Stats::new();
    let mut first_connection_error = None;
    for handle in handles {
        let result = handle
            .join()
            .map_err(|_| LoadError::Panicked)?
            .map_err(LoadError::Driver)?;
        stats.merge(&result.stats);
        if first_connection_error.is_none() {
            first_connection_error = result.first_connection_error;
        }
    }
    let server_cpu_s = match (cpu_before?, cpu_after?) {
        (Some(before), Some(after)) => {
            Some(after.saturating_sub(before) as f64 / cpu::clock_ticks_per_second() as f64)
        }
        _ => None,
    };
    Ok(Summary {
        workload: args.workload.name().to_string(),
        target,
        conns,
        depth,
        threads,
        rate: args.rate,
        duration_s: args.duration,
        warmup_s: args.warmup,
        stats,
        server_cpu_s,
        first_connection_error,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(summary) => {
            if args.json {
                println!("{}", summary.to_json());
            } else {
                print!("{}", summary.to_table());
            }
            if summary.stats.ok == 0 {
                eprintln!("brickd-load: no successful replies");
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("brickd-load: {error}");
            ExitCode::from(2)
        }
    }
}
