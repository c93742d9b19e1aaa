//! `vol-cycle`: one timed `volume start` or `volume stop` through the real gluster CLI, with
//! the time until the bricks are really up (or gone).
//!
//! - `--op start`: runs `gluster --glusterd-sock=SOCKET --mode=script volume start VOL` and
//!   times it (`cli_ms`); then asks the daemon for the volume's status on its unix socket (what
//!   `gluster volume status VOL` sends: CLI proc 27 STATUS_VOLUME, `cmd=256`) every
//!   `--poll-ms` until `--bricks` bricks show status 1 (signed in), and reports `online_ms`,
//!   from the CLI's start to the answer of the first status that showed every brick online.
//!   brickd answers the CLI once every brick signed in, so its first status shows them all;
//!   glusterd answers once the processes are spawned, and its bricks come online later.
//! - `--op stop`: reads the brick pids from the status, runs `volume stop VOL` (`cli_ms`), then
//!   watches `/proc/PID` every millisecond until every brick process is gone (`gone_ms`, from
//!   the CLI's start; a zombie counts as gone).
//!
//! Prints one JSON object. Exit 0 on success, 1 when the CLI failed or the bricks did not come
//! up (or go away) within `--timeout-s`, 2 for a bad command line.
//!
//! Usage: vol-cycle --socket PATH --volume VOL --op start|stop --bricks N [--poll-ms 10]
//!        [--timeout-s 120] [--gluster gluster] [--log-file PATH]

use brickd::proto::auth::{AUTH_GLUSTERFS_V2, CLI_CREDENTIAL_V2};
use brickd::proto::cli;
use brickd::proto::dict::{Dict, DictLimits, DictRef};
use brickd::proto::record::{fragment_header, RecordDecoder};
use brickd::proto::rpc::{self, CallHeader, OpaqueAuth, ReplyStatus};
use clap::{Parser, ValueEnum};
use serde_json::json;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// `GF_CLI_STATUS_VOL`.
const CMD_STATUS_VOL: u32 = 256;
/// Largest status reply accepted.
const RECORD_BYTES_MAX: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Op {
    Start,
    Stop,
}

#[derive(Debug, Parser)]
#[command(
    name = "vol-cycle",
    about = "A timed volume start or stop through the gluster CLI, until the bricks are up or gone"
)]
struct Args {
    /// The daemon's CLI unix socket.
    #[arg(long)]
    socket: PathBuf,
    /// The volume.
    #[arg(long)]
    volume: String,
    /// start or stop.
    #[arg(long, value_enum)]
    op: Op,
    /// Bricks the volume has on this node.
    #[arg(long)]
    bricks: u32,
    /// Milliseconds between status polls after a start.
    #[arg(long, default_value_t = 10)]
    poll_ms: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_s: u64,
    /// The gluster CLI.
    #[arg(long, default_value = "gluster")]
    gluster: PathBuf,
    /// The CLI's log file (--log-file).
    #[arg(long)]
    log_file: Option<PathBuf>,
}

/// One brick of a status answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BrickState {
    online: bool,
    pid: i32,
}

/// The STATUS_VOLUME call record of `volume status VOL`, with `xid`.
fn status_call(volume: &str, xid: u32) -> Vec<u8> {
    let mut dict = Dict::new();
    dict.set_str("volname", volume);
    dict.set_u32("cmd", CMD_STATUS_VOL);
    dict.set_str("cmd-str", &format!("volume status {volume}"));
    let mut bytes = Vec::new();
    dict.encode(&mut bytes);
    let mut out = vec![0; 4];
    rpc::encode_call(
        &mut out,
        &CallHeader {
            xid,
            prog: cli::PROGRAM,
            vers: cli::VERSION,
            proc_num: cli::PROC_STATUS_VOLUME,
            cred: OpaqueAuth {
                flavor: AUTH_GLUSTERFS_V2,
                body: &CLI_CREDENTIAL_V2,
            },
            verf: OpaqueAuth::NULL,
        },
    );
    cli::encode_cli_req(&mut out, &bytes);
    let len = out.len() - 4;
    out[..4].copy_from_slice(&fragment_header(len));
    out
}

/// The bricks of a STATUS_VOLUME reply's results; `Ok(None)` when the daemon refused (volume
/// not started yet, a lock held).
fn bricks_of(results: &[u8]) -> Result<Option<Vec<BrickState>>, String> {
    let rsp = cli::decode_cli_rsp(results).map_err(|e| format!("bad status reply: {e}"))?;
    if rsp.op_ret != 0 {
        return Ok(None);
    }
    let dict = DictRef::decode(rsp.dict, DictLimits::default())
        .map_err(|e| format!("bad status dict: {e}"))?
        .ok_or("status reply without a dict")?;
    let count = dict
        .get_u32("count")
        .map_err(|e| format!("status without count: {e}"))?;
    (0..count)
        .map(|i| {
            Ok(BrickState {
                online: dict.get_i32(&format!("brick{i}.status")) == Ok(1),
                pid: dict.get_i32(&format!("brick{i}.pid")).unwrap_or(-1),
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}

/// A connection to the daemon's CLI socket asking for one volume's status.
struct StatusClient {
    stream: UnixStream,
    decoder: RecordDecoder,
    volume: String,
    xid: u32,
    buf: Vec<u8>,
}

impl StatusClient {
    fn connect(socket: &PathBuf, volume: &str) -> Result<StatusClient, String> {
        let stream = UnixStream::connect(socket)
            .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        Ok(StatusClient {
            stream,
            decoder: RecordDecoder::new(RECORD_BYTES_MAX),
            volume: volume.to_string(),
            xid: 1,
            buf: vec![0; 64 << 10],
        })
    }

    fn status(&mut self) -> Result<Option<Vec<BrickState>>, String> {
        self.xid += 1;
        let call = status_call(&self.volume, self.xid);
        self.stream
            .write_all(&call)
            .map_err(|e| format!("cannot send a status call: {e}"))?;
        loop {
            let n = self
                .stream
                .read(&mut self.buf)
                .map_err(|e| format!("no status reply: {e}"))?;
            if n == 0 {
                return Err("the daemon closed the status connection".into());
            }
            let mut input = &self.buf[..n];
            while !input.is_empty() {
                let (used, record) = self
                    .decoder
                    .decode(input)
                    .map_err(|e| format!("bad record: {e}"))?;
                if let Some(record) = record {
                    let (header, results) =
                        rpc::decode_reply(record).map_err(|e| format!("bad reply: {e}"))?;
                    if header.xid != self.xid {
                        return Err(format!(
                            "reply to xid {}, expected {}",
                            header.xid, self.xid
                        ));
                    }
                    if header.status != ReplyStatus::Success {
                        return Err(format!("status answered {}", header.status.name()));
                    }
                    return bricks_of(results);
                }
                if used == 0 {
                    break;
                }
                input = &input[used..];
            }
        }
    }
}

/// True once process `pid` is gone (or a zombie).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|at| stat[at + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn run(args: &Args) -> Result<serde_json::Value, String> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout_s);
    let mut client = StatusClient::connect(&args.socket, &args.volume)?;
    let pids: Vec<i32> = if args.op == Op::Stop {
        let bricks = client
            .status()?
            .ok_or_else(|| format!("volume {} is not started", args.volume))?;
        bricks
            .iter()
            .filter(|b| b.online && b.pid > 0)
            .map(|b| b.pid)
            .collect()
    } else {
        Vec::new()
    };
    let mut cli = Command::new(&args.gluster);
    cli.arg(format!("--glusterd-sock={}", args.socket.display()))
        .arg("--mode=script");
    if let Some(log) = &args.log_file {
        cli.arg(format!("--log-file={}", log.display()));
    }
    cli.arg("volume")
        .arg(match args.op {
            Op::Start => "start",
            Op::Stop => "stop",
        })
        .arg(&args.volume)
        .stdin(Stdio::null());
    let t0 = Instant::now();
    let output = cli
        .output()
        .map_err(|e| format!("cannot run {}: {e}", args.gluster.display()))?;
    let cli_done = t0.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() {
        return Err(format!(
            "volume {:?} {} failed ({}): {} {}",
            args.op,
            args.volume,
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    match args.op {
        Op::Start => {
            let mut polls = 0u32;
            loop {
                polls += 1;
                let bricks = client.status()?;
                let at = t0.elapsed();
                let online = bricks
                    .as_ref()
                    .map_or(0, |b| b.iter().filter(|b| b.online).count());
                if online as u32 >= args.bricks {
                    return Ok(json!({
                        "op": "start", "volume": args.volume, "bricks": args.bricks,
                        "cli_ms": ms(cli_done), "online_ms": ms(at), "polls": polls,
                        "cli_stdout": stdout,
                    }));
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "{online} of {} bricks online after {} s",
                        args.bricks, args.timeout_s
                    ));
                }
                std::thread::sleep(Duration::from_millis(args.poll_ms));
            }
        }
        Op::Stop => {
            while !pids.iter().all(|&pid| gone(pid)) {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "brick processes still there after {} s",
                        args.timeout_s
                    ));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(json!({
                "op": "stop", "volume": args.volume, "bricks": args.bricks,
                "cli_ms": ms(cli_done), "gone_ms": ms(t0.elapsed()), "pids": pids.len(),
                "cli_stdout": stdout,
            }))
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vol-cycle: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(name: &str) -> Vec<u8> {
        let path = format!("{}/../tests/golden/cli/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn status_call_is_the_real_clis() {
        let call = status_call("started", 2);
        assert_eq!(
            call[4..],
            golden("nodeb-down-volume-status-started.1.call.bin")
        );
    }

    #[test]
    fn bricks_are_read_from_glusterds_reply() {
        let reply = golden("nodeb-down-volume-status-started.1.reply.bin");
        let bricks = bricks_of(&reply[24..]).unwrap().unwrap();
        assert_eq!(
            bricks,
            [
                BrickState {
                    online: true,
                    pid: 8086
                },
                BrickState {
                    online: true,
                    pid: 8108
                }
            ]
        );
    }

    #[test]
    fn a_refused_status_has_no_bricks() {
        let mut out = Vec::new();
        cli::encode_cli_rsp(
            &mut out,
            &cli::CliRsp {
                op_ret: -1,
                op_errno: 30800,
                op_errstr: "Volume v is not started",
                dict: &[],
            },
        );
        assert_eq!(bricks_of(&out), Ok(None));
        assert!(bricks_of(&out[..6]).is_err());
    }

    #[test]
    fn this_process_is_not_gone() {
        assert!(!gone(std::process::id() as i32));
        assert!(gone(-5));
    }
}
