//! The command line of `brickd-load`: flags, `--target` and `--workload` values, and the checks
//! that tie them together.

use crate::workload::{self, Workload};
use clap::Parser;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Cap on outstanding calls per connection (`--depth`), and the open-loop default.
pub const DEPTH_MAX: usize = 1024;
/// Cap on connections per run.
pub const CONNS_MAX: usize = 4096;
/// Cap on client threads.
pub const THREADS_MAX: usize = 256;

/// Where the calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A TCP host (name, IPv4 or IPv6, brackets optional) and port.
    Tcp {
        /// Host as given, without brackets.
        host: String,
        /// Port.
        port: u16,
    },
    /// A unix stream socket.
    Unix(PathBuf),
}

/// Why a `--target` value is not understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("bad target {text:?}: {reason} (expected tcp:HOST:PORT or unix:PATH)")]
pub struct TargetParseError {
    text: String,
    reason: &'static str,
}

impl FromStr for Target {
    type Err = TargetParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason| TargetParseError {
            text: text.to_string(),
            reason,
        };
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(fail("empty socket path"));
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        let rest = text
            .strip_prefix("tcp:")
            .ok_or_else(|| fail("unknown scheme"))?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| fail("no port"))?;
        let port: u16 = port.parse().map_err(|_| fail("port is not a number"))?;
        if port == 0 {
            return Err(fail("port 0"));
        }
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(fail("empty host"));
        }
        Ok(Target::Tcp {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } if host.contains(':') => write!(f, "tcp:[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if !seconds.is_finite() || !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("{text} is not between 0 and 86400 seconds"));
    }
    Ok(seconds)
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if !rate.is_finite() || rate <= 0.0 || rate > 1e9 {
        return Err(format!("{text} is not a rate between 0 and 1e9 requests/s"));
    }
    Ok(rate)
}

/// SunRPC load generator for glusterd and brickd.
///
/// Closed loop by default: every connection keeps --depth calls in flight and sends a new one
/// as each reply arrives. With --rate the run is open loop: calls go out on a fixed schedule
/// and latency is measured from each call's scheduled time, so a slow server cannot hide its
/// queueing (no coordinated omission).
#[derive(Parser, Clone)]
#[command(name = "brickd-load", version)]
pub struct Args {
    /// tcp:HOST:PORT or unix:PATH.
    #[arg(long)]
    pub target: Target,

    /// null, ping, dump, peer-list, vol-info:NAME, vol-status:NAME (or PREFIX{A..B}), vol-get:NAME:KEY,
    /// getspec:KEY, port-by-brick:PATH or raw:PROG:VERS:PROC (raw sends empty arguments).
    #[arg(long, value_parser = workload::parse)]
    pub workload: Arc<dyn Workload>,

    /// Connections.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=CONNS_MAX as u64))]
    pub conns: u64,

    /// Calls in flight per connection (closed loop, default 1); the cap per connection in open
    /// loop (default 1024). Calls due while a connection is at the cap wait, and the wait counts.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=DEPTH_MAX as u64))]
    pub depth: Option<u64>,

    /// Measured seconds.
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    pub duration: f64,

    /// Seconds of load before the measured window (not measured).
    #[arg(long, default_value = "1", value_parser = parse_seconds)]
    pub warmup: f64,

    /// Open loop: total requests per second over all connections.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Client threads; connections are spread over them (at most one thread per connection).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=THREADS_MAX as u64))]
    pub threads: u64,

    /// Server process whose CPU time (/proc/PID/stat utime+stime) is measured over the window.
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

impl Args {
    /// Outstanding calls allowed per connection.
    pub fn depth(&self) -> usize {
        match (self.depth, self.rate) {
            (Some(depth), _) => depth as usize,
            (None, Some(_)) => DEPTH_MAX,
            (None, None) => 1,
        }
    }

    /// Threads actually used: never more than connections.
    pub fn threads(&self) -> usize {
        self.threads.min(self.conns) as usize
    }

    /// The measured window.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration)
    }

    /// The warm-up before it.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<Args, clap::Error> {
        let mut argv = vec!["brickd-load"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv)
    }

    #[test]
    fn tcp_targets_take_names_ipv4_and_ipv6() {
        assert_eq!(
            "tcp:127.0.0.1:24007".parse(),
            Ok(Target::Tcp {
                host: "127.0.0.1".into(),
                port: 24007
            })
        );
        assert_eq!(
            "tcp:localhost:1".parse(),
            Ok(Target::Tcp {
                host: "localhost".into(),
                port: 1
            })
        );
        let v6: Target = "tcp:[::1]:24410".parse().unwrap();
        assert_eq!(
            v6,
            Target::Tcp {
                host: "::1".into(),
                port: 24410
            }
        );
        assert_eq!(v6.to_string(), "tcp:[::1]:24410");
    }

    #[test]
    fn unix_targets_keep_the_whole_path() {
        let target: Target = "unix:/tmp/gd:x/glusterd.socket".parse().unwrap();
        assert_eq!(target, Target::Unix("/tmp/gd:x/glusterd.socket".into()));
        assert_eq!(target.to_string(), "unix:/tmp/gd:x/glusterd.socket");
    }

    #[test]
    fn bad_targets_are_refused() {
        for text in [
            "127.0.0.1:24007",
            "tcp:127.0.0.1",
            "tcp::24007",
            "tcp:host:0",
            "tcp:host:65536",
            "tcp:host:x",
            "unix:",
            "udp:host:1",
        ] {
            assert!(text.parse::<Target>().is_err(), "{text}");
        }
    }

    #[test]
    fn defaults_are_one_connection_depth_one_closed_loop() {
        let a = args(&["--target", "tcp:127.0.0.1:24007", "--workload", "ping"]).unwrap();
        assert_eq!((a.conns, a.depth(), a.threads()), (1, 1, 1));
        assert_eq!((a.duration, a.warmup, a.rate), (10.0, 1.0, None));
        assert_eq!(a.workload.name(), "ping");
        assert!(!a.json);
    }

    #[test]
    fn open_loop_depth_defaults_to_the_cap_and_threads_to_conns() {
        let a = args(&[
            "--target",
            "unix:/s",
            "--workload",
            "raw:1:2:3",
            "--rate",
            "50000",
            "--conns",
            "2",
            "--threads",
            "8",
            "--duration",
            "0.5",
        ])
        .unwrap();
        assert_eq!((a.depth(), a.threads()), (DEPTH_MAX, 2));
        assert_eq!(a.duration(), Duration::from_millis(500));
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let base = ["--target", "tcp:h:1", "--workload", "ping"];
        for extra in [
            &["--conns", "0"][..],
            &["--depth", "0"],
            &["--depth", "1025"],
            &["--rate", "0"],
            &["--rate", "-5"],
            &["--duration", "nan"],
            &["--warmup", "-1"],
            &["--threads", "0"],
        ] {
            let mut argv = base.to_vec();
            argv.extend_from_slice(extra);
            assert!(args(&argv).is_err(), "{extra:?}");
        }
        assert!(args(&["--target", "tcp:h:1", "--workload", "pong"]).is_err());
    }
}
