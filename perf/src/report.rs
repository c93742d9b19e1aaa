//! The result of a run: a human table or one JSON object.

use crate::stats::{Stats, STATUS_NAMES};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;

/// Percentiles reported, as (label, quantile).
const PERCENTILES: [(&str, f64); 4] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p99", 0.99),
    ("p99.9", 0.999),
];

/// Everything a run reports.
pub struct Summary {
    /// Workload name.
    pub workload: String,
    /// Target as given.
    pub target: String,
    /// Connections.
    pub conns: usize,
    /// Depth (closed loop) or in-flight cap (open loop).
    pub depth: usize,
    /// Client threads.
    pub threads: usize,
    /// Open-loop rate, if any.
    pub rate: Option<f64>,
    /// Measured seconds.
    pub duration_s: f64,
    /// Warm-up seconds.
    pub warmup_s: f64,
    /// Merged measurements.
    pub stats: Stats,
    /// Server CPU seconds over the window, with `--server-pid`.
    pub server_cpu_s: Option<f64>,
    /// How the first lost connection was lost.
    pub first_connection_error: Option<String>,
}

impl Summary {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        if self.duration_s > 0.0 {
            self.stats.ok as f64 / self.duration_s
        } else {
            0.0
        }
    }

    /// Successful requests per second of server CPU.
    pub fn req_per_server_cpu_s(&self) -> Option<f64> {
        self.server_cpu_s
            .filter(|s| *s > 0.0)
            .map(|s| self.stats.ok as f64 / s)
    }

    fn latency_us(&self, quantile: f64) -> f64 {
        self.stats.latency_ns.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn max_us(&self) -> f64 {
        self.stats.latency_ns.max() as f64 / 1000.0
    }

    /// The JSON object `--json` prints.
    pub fn to_json(&self) -> Value {
        let mut statuses = Map::new();
        for (name, count) in STATUS_NAMES.iter().zip(self.stats.statuses) {
            if count > 0 {
                statuses.insert(name.to_string(), json!(count));
            }
        }
        let mut errors_by_kind = Map::new();
        for (name, count) in self.stats.errors.named() {
            errors_by_kind.insert(name.to_string(), json!(count));
        }
        let mut latency = Map::new();
        for (label, quantile) in PERCENTILES {
            latency.insert(label.to_string(), json!(round2(self.latency_us(quantile))));
        }
        latency.insert("max".into(), json!(round2(self.max_us())));
        latency.insert(
            "mean".into(),
            json!(round2(self.stats.latency_ns.mean() / 1000.0)),
        );
        json!({
            "workload": self.workload,
            "target": self.target,
            "mode": if self.rate.is_some() { "open" } else { "closed" },
            "conns": self.conns,
            "depth": self.depth,
            "threads": self.threads,
            "rate": self.rate,
            "duration": self.duration_s,
            "warmup": self.warmup_s,
            "requests": self.stats.ok,
            "replies": self.stats.replies,
            "unanswered": self.stats.unanswered,
            "rps": round2(self.rps()),
            "errors": self.stats.errors.total(),
            "errors_by_kind": errors_by_kind,
            "first_connection_error": self.first_connection_error,
            "statuses": statuses,
            "latency_us": latency,
            "server_cpu_s": self.server_cpu_s,
            "req_per_server_cpu_s": self.req_per_server_cpu_s().map(round2),
        })
    }

    /// The table printed by default.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let mode = match self.rate {
            Some(rate) => format!(
                "open loop at {rate} req/s, at most {} in flight per connection",
                self.depth
            ),
            None => format!("closed loop, depth {}", self.depth),
        };
        let _ = writeln!(
            out,
            "{} -> {}: {} conn(s), {} thread(s), {}, {} s measured after {} s warm-up",
            self.workload,
            self.target,
            self.conns,
            self.threads,
            mode,
            self.duration_s,
            self.warmup_s
        );
        let _ = writeln!(out, "{:<14}{:>14}", "requests", self.stats.ok);
        let _ = writeln!(out, "{:<14}{:>14.1}", "requests/s", self.rps());
        let _ = writeln!(out, "{:<14}{:>14}", "errors", self.stats.errors.total());
        for (name, count) in self.stats.errors.named() {
            if count > 0 {
                let _ = writeln!(out, "  {name:<18}{count:>8}");
            }
        }
        if let Some(error) = &self.first_connection_error {
            let _ = writeln!(out, "  first lost connection: {error}");
        }
        let statuses: Vec<String> = STATUS_NAMES
            .iter()
            .zip(self.stats.statuses)
            .filter(|(_, count)| *count > 0)
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        let _ = writeln!(
            out,
            "{:<14}{}",
            "statuses",
            if statuses.is_empty() {
                "none".to_string()
            } else {
                statuses.join(", ")
            }
        );
        let _ = writeln!(out, "{:<14}{:>14}", "unanswered", self.stats.unanswered);
        let mut latency = String::new();
        for (label, quantile) in PERCENTILES {
            let _ = write!(latency, "{label} {:.1}  ", self.latency_us(quantile));
        }
        let _ = write!(latency, "max {:.1}", self.max_us());
        let _ = writeln!(out, "{:<14}{}", "latency (us)", latency);
        if let Some(cpu_s) = self.server_cpu_s {
            let per_cpu = self
                .req_per_server_cpu_s()
                .map_or("n/a".to_string(), |r| format!("{r:.0}"));
            let _ = writeln!(
                out,
                "{:<14}{cpu_s:.2} s ({per_cpu} requests per CPU-second)",
                "server cpu"
            );
        }
        out
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        let mut stats = Stats::new();
        stats.ok = 1000;
        stats.replies = 1001;
        stats.statuses[0] = 1000;
        stats.statuses[3] = 1;
        stats.errors.status = 1;
        for us in 1..=1000u64 {
            stats.latency_ns.saturating_record(us * 1000);
        }
        Summary {
            workload: "ping".into(),
            target: "tcp:127.0.0.1:24410".into(),
            conns: 4,
            depth: 16,
            threads: 1,
            rate: None,
            duration_s: 2.0,
            warmup_s: 1.0,
            stats,
            server_cpu_s: Some(0.5),
            first_connection_error: None,
        }
    }

    #[test]
    fn json_has_the_documented_fields() {
        let v = summary().to_json();
        assert_eq!(v["workload"], "ping");
        assert_eq!(v["requests"], 1000);
        assert_eq!(v["rps"], 500.0);
        assert_eq!(v["errors"], 1);
        assert_eq!(v["statuses"]["PROC_UNAVAIL"], 1);
        assert_eq!(v["req_per_server_cpu_s"], 2000.0);
        let p50 = v["latency_us"]["p50"].as_f64().unwrap();
        assert!((499.0..=501.0).contains(&p50), "{p50}");
        assert!(v["latency_us"]["p99.9"].as_f64().unwrap() >= 998.0);
        assert_eq!(v["mode"], "closed");
    }

    #[test]
    fn table_names_the_run_and_the_errors() {
        let table = summary().to_table();
        assert!(table.starts_with("ping -> tcp:127.0.0.1:24410: 4 conn(s)"));
        assert!(table.contains("requests/s"));
        assert!(table.contains("SUCCESS 1000, PROC_UNAVAIL 1"));
        assert!(table.contains("2000 requests per CPU-second"));
    }
}
