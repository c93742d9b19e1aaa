//! `sync-floor`: what one durable append costs on this machine, with nothing of brickd's or
//! glusterd's around it. Appends `--bytes` (2,048) to a new file in `--dir` and `fdatasync`s
//! it, `--count` times, pausing `--pause-us` (300) between appends as a create's journal
//! does between flushes, and reports the latency of each append and flush.
//!
//! ```text
//! sync-floor --dir DIR [--count N] [--bytes B] [--pause-us P]
//! ```
//!
//! Every create and delete makes its change durable this way at least once (brickd: one
//! journal record; glusterd: several store files), so this is the floor under both daemons'
//! latency in the same conditions. Run beside `create-volumes` (`perf/create.sh` does) it shows
//! how much of a busy machine's tail is the file system's wake-ups rather than the daemon's.
//!
//! Prints `sync: n=… p50_us=… p90_us=… p99_us=… max_us=…` and `over_1ms=…%`.

use hdrhistogram::Histogram;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Bounds on the arguments: a run of at most a million appends of at most 1 MiB each.
const COUNT_MAX: usize = 1_000_000;
const BYTES_MAX: usize = 1 << 20;
const PAUSE_MAX_US: u64 = 1_000_000;

struct Args {
    dir: PathBuf,
    count: usize,
    bytes: usize,
    pause: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut dir = None;
    let mut count = 1000;
    let mut bytes = 2048;
    let mut pause_us = 300;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--dir" => dir = Some(PathBuf::from(value()?)),
            "--count" => count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--bytes" => bytes = value()?.parse().map_err(|e| format!("--bytes: {e}"))?,
            "--pause-us" => pause_us = value()?.parse().map_err(|e| format!("--pause-us: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !(1..=COUNT_MAX).contains(&count) {
        return Err(format!("--count: 1 to {COUNT_MAX}"));
    }
    if !(1..=BYTES_MAX).contains(&bytes) {
        return Err(format!("--bytes: 1 to {BYTES_MAX}"));
    }
    if pause_us > PAUSE_MAX_US {
        return Err(format!("--pause-us: at most {PAUSE_MAX_US}"));
    }
    Ok(Args {
        dir: dir.ok_or("--dir is required")?,
        count,
        bytes,
        pause: Duration::from_micros(pause_us),
    })
}

fn run(args: &Args) -> io::Result<Histogram<u64>> {
    let path = args
        .dir
        .join(format!("sync-floor-{}.tmp", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let appended = append_all(args, &file);
    // Linked while it is written, as a journal file is; removed whatever happened.
    let removed = std::fs::remove_file(&path);
    let hist = appended?;
    removed?;
    Ok(hist)
}

fn append_all(args: &Args, file: &std::fs::File) -> io::Result<Histogram<u64>> {
    let data = vec![b'j'; args.bytes];
    let mut hist = Histogram::<u64>::new(3).map_err(io::Error::other)?;
    let mut offset = 0u64;
    for _ in 0..args.count {
        std::thread::sleep(args.pause);
        let start = Instant::now();
        file.write_all_at(&data, offset)?;
        file.sync_data()?;
        offset += data.len() as u64;
        hist.record(start.elapsed().as_micros() as u64)
            .map_err(io::Error::other)?;
    }
    Ok(hist)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sync-floor: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(h) => {
            let over: u64 = h
                .iter_recorded()
                .filter(|v| v.value_iterated_to() > 1000)
                .map(|v| v.count_at_value())
                .sum();
            println!(
                "sync: n={} p50_us={} p90_us={} p99_us={} max_us={} over_1ms={:.1}%",
                h.len(),
                h.value_at_quantile(0.50),
                h.value_at_quantile(0.90),
                h.value_at_quantile(0.99),
                h.max(),
                100.0 * over as f64 / h.len() as f64
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sync-floor: {}: {e}", args.dir.display());
            ExitCode::FAILURE
        }
    }
}
