//! `create-volumes`: the create-volume workload. Sends the gluster CLI's CREATE_VOLUME (and
//! DELETE_VOLUME) calls, exactly as `gluster volume create <name> <host>:<dir>/<name>` sends
//! them, one at a time over a unix socket, to brickd or glusterd, and reports the latency of
//! each.
//!
//! ```text
//! create-volumes --socket PATH --host H --brick-dir DIR --count N [--delete] [--prefix P]
//!                [--per-create FILE]
//! ```
//!
//! - without `--delete`: creates `<prefix>0000` … `<prefix>N-1` (each on its own brick
//!   directory `DIR/<name>`) and keeps them: the "1,000 creates" chart. `--per-create FILE`
//!   writes `index,microseconds` per create.
//! - with `--delete`: creates and deletes each volume in turn (the brick directory is reused
//!   after the delete has released it, on brickd; glusterd leaves its xattrs, so each round
//!   uses a new directory there too): the latency workload.
//!
//! Prints one line per operation kind: count, p50, p90, p99, max (microseconds). A failed
//! operation stops the run with its op_errstr (exit status 1).

use brickd::proto::auth::{AUTH_GLUSTERFS_V2, CLI_CREDENTIAL_V2};
use brickd::proto::cli::{self, decode_cli_rsp, encode_cli_req};
use brickd::proto::dict::Dict;
use brickd::proto::record::{fragment_header, RecordDecoder};
use brickd::proto::rpc::{decode_reply, encode_call, CallHeader, OpaqueAuth, ReplyStatus};
use hdrhistogram::Histogram;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    socket: PathBuf,
    host: String,
    brick_dir: String,
    count: usize,
    delete: bool,
    prefix: String,
    per_create: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut socket = None;
    let mut host = None;
    let mut brick_dir = None;
    let mut count = 100;
    let mut delete = false;
    let mut prefix = "cv".to_string();
    let mut per_create = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--socket" => socket = Some(PathBuf::from(value()?)),
            "--host" => host = Some(value()?),
            "--brick-dir" => brick_dir = Some(value()?),
            "--count" => count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--prefix" => prefix = value()?,
            "--per-create" => per_create = Some(PathBuf::from(value()?)),
            "--delete" => delete = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(Args {
        socket: socket.ok_or("--socket is required")?,
        host: host.ok_or("--host is required")?,
        brick_dir: brick_dir.ok_or("--brick-dir is required")?,
        count,
        delete,
        prefix,
        per_create,
    })
}

struct Cli {
    stream: UnixStream,
    decoder: RecordDecoder,
    xid: u32,
    buf: Vec<u8>,
    pending: Vec<u8>,
}

impl Cli {
    fn connect(path: &PathBuf) -> Result<Cli, String> {
        Ok(Cli {
            stream: UnixStream::connect(path).map_err(|e| format!("{}: {e}", path.display()))?,
            decoder: RecordDecoder::new(64 << 20),
            xid: 2,
            buf: vec![0; 1 << 16],
            pending: Vec::new(),
        })
    }

    /// One CLI call with `dict`; the reply's (op_ret, op_errstr).
    fn call(&mut self, proc_num: u32, dict: &Dict) -> Result<(i32, String), String> {
        let mut dict_bytes = Vec::new();
        dict.encode(&mut dict_bytes);
        let mut body = Vec::new();
        encode_call(
            &mut body,
            &CallHeader {
                xid: self.xid,
                prog: cli::PROGRAM,
                vers: cli::VERSION,
                proc_num,
                cred: OpaqueAuth {
                    flavor: AUTH_GLUSTERFS_V2,
                    body: &CLI_CREDENTIAL_V2,
                },
                verf: OpaqueAuth::NULL,
            },
        );
        self.xid += 1;
        encode_cli_req(&mut body, &dict_bytes);
        let mut record = fragment_header(body.len()).to_vec();
        record.extend_from_slice(&body);
        self.stream.write_all(&record).map_err(|e| e.to_string())?;
        let mut reply = self.read_record()?;
        // glusterd may send calls of its own on the connection (callbacks): skip them.
        while reply.len() >= 8 && reply[4..8] == [0, 0, 0, 0] {
            if std::env::var_os("CV_DEBUG").is_some() {
                eprintln!(
                    "skipping a call from the server ({} bytes): {:02x?}",
                    reply.len(),
                    &reply
                );
            }
            reply = self.read_record()?;
        }
        if std::env::var_os("CV_DEBUG").is_some() {
            eprintln!(
                "sent {} bytes, reply {} bytes: {:02x?}",
                record.len(),
                reply.len(),
                &reply[..reply.len().min(32)]
            );
        }
        let (header, results) = decode_reply(&reply).map_err(|e| e.to_string())?;
        if header.status != ReplyStatus::Success {
            return Err(format!("RPC status {:?}", header.status));
        }
        let rsp = decode_cli_rsp(results).map_err(|e| e.to_string())?;
        Ok((rsp.op_ret, rsp.op_errstr.to_string()))
    }

    fn read_record(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if !self.pending.is_empty() {
                let (used, record) = self
                    .decoder
                    .decode(&self.pending)
                    .map_err(|e| e.to_string())?;
                let record = record.map(|r| r.to_vec());
                self.pending.drain(..used);
                if let Some(r) = record {
                    return Ok(r);
                }
            }
            let n = self.stream.read(&mut self.buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            self.pending.extend_from_slice(&self.buf[..n]);
        }
    }
}

/// The dict `gluster volume create NAME BRICK` sends (reference §6.1).
fn create_dict(name: &str, brick: &str) -> Dict {
    let mut d = Dict::new();
    d.set_str("cmd-str", &format!("volume create {name} {brick}"));
    d.set_str("force", "0");
    d.set_str("count", "1");
    d.set_str("bricks", &format!(" {brick} "));
    d.set_str("transport", "tcp");
    d.set_str("type", "0");
    d.set_str("volname", name);
    d
}

fn delete_dict(name: &str) -> Dict {
    let mut d = Dict::new();
    d.set_str("cmd-str", &format!("volume delete {name}"));
    d.set_str("volname", name);
    d
}

fn report(what: &str, h: &Histogram<u64>) {
    println!(
        "{what}: n={} p50_us={} p90_us={} p99_us={} max_us={}",
        h.len(),
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.90),
        h.value_at_quantile(0.99),
        h.max()
    );
}

fn run(args: &Args) -> Result<(), String> {
    let mut cli = Cli::connect(&args.socket)?;
    let mut creates =
        Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).map_err(|e| e.to_string())?;
    let mut deletes =
        Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).map_err(|e| e.to_string())?;
    let mut per_create = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let name = format!("{}{i:04}", args.prefix);
        let brick = format!("{}:{}/{name}", args.host, args.brick_dir);
        let started = Instant::now();
        let (op_ret, errstr) = cli.call(cli::PROC_CREATE_VOLUME, &create_dict(&name, &brick))?;
        let us = started.elapsed().as_micros() as u64;
        if op_ret != 0 {
            return Err(format!("create {name}: {errstr}"));
        }
        if std::env::var_os("CV_DEBUG").is_some() {
            eprintln!("create {name}: {us} us");
        }
        creates.saturating_record(us);
        per_create.push(us);
        if args.delete {
            let started = Instant::now();
            let (op_ret, errstr) = cli.call(cli::PROC_DELETE_VOLUME, &delete_dict(&name))?;
            if op_ret != 0 {
                return Err(format!("delete {name}: {errstr}"));
            }
            deletes.saturating_record(started.elapsed().as_micros() as u64);
        }
    }
    report("create", &creates);
    if args.delete {
        report("delete", &deletes);
    }
    if let Some(path) = &args.per_create {
        let text: String = per_create
            .iter()
            .enumerate()
            .map(|(i, us)| format!("{i},{us}\n"))
            .collect();
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("create-volumes: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("create-volumes: {e}");
            ExitCode::FAILURE
        }
    }
}
