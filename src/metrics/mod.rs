//! Per-shard service metrics: a histogram of service time and call/error counters for every
//! (program, version, procedure), and the text statedump that `kill -USR1` writes.
//!
//! Each shard owns one [`ShardMetrics`]; nothing here is shared between threads or locked on
//! the request path. The statedump asks every shard for its section (see `server`) and joins
//! them; this module only renders text and writes the file.

use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest service time a histogram records; longer ones are clamped to it.
pub const SERVICE_TIME_NS_MAX: u64 = 600 * 1_000_000_000;
/// Significant figures kept by each histogram (2 keeps ~1% precision in a few tens of KiB).
const HISTOGRAM_SIGFIG: u8 = 2;

/// Identifies one procedure of one program version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcKey {
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number.
    pub proc_num: u32,
}

/// Counters and service-time histogram of one procedure on one shard.
#[derive(Debug, Clone)]
pub struct ProcStats {
    /// Program name as DUMP shows it.
    pub program_name: &'static str,
    /// Procedure name.
    pub proc_name: &'static str,
    /// Calls answered.
    pub calls: u64,
    /// Calls answered with anything but SUCCESS.
    pub errors: u64,
    /// Service time in nanoseconds, from decoded call to encoded reply.
    pub service_ns: Histogram<u64>,
}

/// Counters that are not tied to a procedure.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionCounters {
    /// Connections accepted over TCP since start.
    pub tcp_accepted: u64,
    /// Connections accepted on the unix socket since start.
    pub unix_accepted: u64,
    /// Connections open now (both listeners).
    pub open: u64,
    /// Connections refused because the shard was at its connection cap.
    pub refused_at_cap: u64,
    /// Connections closed for a record over the cap.
    pub closed_oversized_record: u64,
    /// Connections closed on a record too short to carry an xid (zero to three bytes).
    pub closed_unanswerable_record: u64,
    /// Records that were not calls (replies sent to a server) and were dropped.
    pub records_dropped: u64,
    /// Calls answered without reaching a procedure (PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL,
    /// RPC_MISMATCH, AUTH_ERROR, GARBAGE_ARGS of a bad header).
    pub calls_refused: u64,
}

/// All metrics of one shard.
#[derive(Debug, Default)]
pub struct ShardMetrics {
    procs: HashMap<ProcKey, ProcStats>,
    /// Connection counters.
    pub connections: ConnectionCounters,
}

impl ShardMetrics {
    /// Empty metrics.
    pub fn new() -> Self {
        ShardMetrics::default()
    }

    /// Records one answered call.
    #[inline]
    pub fn record(
        &mut self,
        key: ProcKey,
        names: (&'static str, &'static str),
        service: Duration,
        success: bool,
    ) {
        let stats = self.procs.entry(key).or_insert_with(|| ProcStats {
            program_name: names.0,
            proc_name: names.1,
            calls: 0,
            errors: 0,
            service_ns: Histogram::new_with_max(SERVICE_TIME_NS_MAX, HISTOGRAM_SIGFIG)
                .expect("constant histogram bounds are valid"),
        });
        stats.calls += 1;
        if !success {
            stats.errors += 1;
        }
        let ns = (service.as_nanos() as u64).clamp(1, SERVICE_TIME_NS_MAX);
        stats.service_ns.saturating_record(ns);
    }

    /// The statistics of one procedure, if it was ever called.
    pub fn proc_stats(&self, key: ProcKey) -> Option<&ProcStats> {
        self.procs.get(&key)
    }

    /// Renders this shard's section of a statedump: key=value lines, procedures sorted.
    pub fn render(&self, shard: usize, out: &mut String) {
        let c = &self.connections;
        let _ = writeln!(out, "[shard.{shard}.connections]");
        let _ = writeln!(out, "open={}", c.open);
        let _ = writeln!(out, "tcp_accepted={}", c.tcp_accepted);
        let _ = writeln!(out, "unix_accepted={}", c.unix_accepted);
        let _ = writeln!(out, "refused_at_cap={}", c.refused_at_cap);
        let _ = writeln!(out, "closed_oversized_record={}", c.closed_oversized_record);
        let _ = writeln!(
            out,
            "closed_unanswerable_record={}",
            c.closed_unanswerable_record
        );
        let _ = writeln!(out, "records_dropped={}", c.records_dropped);
        let _ = writeln!(out, "calls_refused={}", c.calls_refused);
        let mut keys: Vec<&ProcKey> = self.procs.keys().collect();
        keys.sort();
        for key in keys {
            let s = &self.procs[key];
            let h = &s.service_ns;
            let _ = writeln!(
                out,
                "[shard.{shard}.rpc.{}.{}.{}]",
                s.program_name, key.vers, s.proc_name
            );
            let _ = writeln!(out, "prognum={}", key.prog);
            let _ = writeln!(out, "procnum={}", key.proc_num);
            let _ = writeln!(out, "calls={}", s.calls);
            let _ = writeln!(out, "errors={}", s.errors);
            for (label, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
                let _ = writeln!(
                    out,
                    "{label}_us={:.3}",
                    h.value_at_quantile(q) as f64 / 1000.0
                );
            }
            let _ = writeln!(out, "max_us={:.3}", h.max() as f64 / 1000.0);
        }
    }
}

/// Writes a statedump file named like glusterfs's (`brickd.<pid>.dump.<unix seconds>`) into
/// `run_dir`, atomically (temporary name, then rename). Returns its path.
pub fn write_statedump(run_dir: &Path, text: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(run_dir)?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = format!("brickd.{}.dump.{}", std::process::id(), secs);
    let path = run_dir.join(&name);
    let tmp = run_dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_counts_calls_errors_and_quantiles() {
        let mut m = ShardMetrics::new();
        let key = ProcKey {
            prog: 123_451_501,
            vers: 1,
            proc_num: 2,
        };
        for us in 1..=100 {
            m.record(
                key,
                ("GF-DUMP", "PING"),
                Duration::from_micros(us),
                us != 100,
            );
        }
        let s = m.proc_stats(key).unwrap();
        assert_eq!((s.calls, s.errors), (100, 1));
        let p50 = s.service_ns.value_at_quantile(0.5);
        assert!((49_000..=51_000).contains(&p50), "{p50}");
        let mut text = String::new();
        m.render(3, &mut text);
        assert!(text.contains("[shard.3.rpc.GF-DUMP.1.PING]\nprognum=123451501\nprocnum=2\ncalls=100\nerrors=1\np50_us="));
    }

    #[test]
    fn absurd_service_time_is_clamped_not_lost() {
        let mut m = ShardMetrics::new();
        let key = ProcKey {
            prog: 1,
            vers: 1,
            proc_num: 0,
        };
        m.record(key, ("x", "NULL"), Duration::from_secs(100_000), true);
        m.record(key, ("x", "NULL"), Duration::ZERO, true);
        assert_eq!(m.proc_stats(key).unwrap().service_ns.len(), 2);
    }

    #[test]
    fn statedump_file_is_written_atomically() {
        let dir = std::env::temp_dir().join(format!("brickd-metrics-{}", std::process::id()));
        let path = write_statedump(&dir, "hello\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
        assert!(path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!("brickd.{}.dump.", std::process::id())));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
