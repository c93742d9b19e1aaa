//! Test harness: a real `brickd serve` process on a temporary workdir, unix socket and TCP
//! port, and a small blocking RPC client built on `brickd::proto`.
#![allow(dead_code)]

pub mod compare;
pub mod fs;
pub mod node;
pub mod pool;
pub mod skip;

use brickd::proto::auth::{AUTH_GLUSTERFS_V2, CLI_CREDENTIAL_V2};
use brickd::proto::record::{fragment_header, RecordDecoder};
use brickd::proto::rpc::{decode_reply, CallHeader, OpaqueAuth, ReplyStatus};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the real gluster CLI against the unix socket `socket` in script mode; returns its exit
/// code, stdout, stderr and how long it took.
pub fn gluster(socket: &Path, args: &[&str]) -> (i32, String, String, Duration) {
    let started = Instant::now();
    let out = Command::new("gluster")
        .arg(format!("--glusterd-sock={}", socket.display()))
        .arg("--mode=script")
        .arg("--timeout=60")
        .args(args)
        .output()
        .expect("the gluster CLI is installed (glusterfs-cli); scripts/test.sh installs it");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

/// How long a test waits for something that must happen (a reply, an exit): far beyond any
/// real delay, so that it only turns a hang into a failure. Never a claim about speed.
pub const HANG_DEADLINE: Duration = Duration::from_secs(60);

/// A running brickd.
pub struct Brickd {
    pub child: Child,
    pub tcp: SocketAddr,
    pub socket: PathBuf,
    pub workdir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Brickd {
    /// Starts brickd with the test program and `extra` flags; waits for its ready line.
    pub fn start(extra: &[&str]) -> Brickd {
        Self::start_with(extra, |_| {})
    }

    /// Like `start`, with a hook to adjust the command (limits, environment).
    pub fn start_with(extra: &[&str], adjust: impl FnOnce(&mut Command)) -> Brickd {
        Self::start_on(None, extra, adjust)
    }

    /// Like `start_with`, serving the existing workdir `workdir` (else a fresh one).
    pub fn start_on(
        workdir: Option<PathBuf>,
        extra: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Brickd {
        let dir = tempfile::tempdir().expect("temp dir");
        let workdir = workdir.unwrap_or_else(|| dir.path().join("workdir"));
        let socket = dir.path().join("brickd.socket");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brickd"));
        cmd.arg("serve")
            .arg("--workdir")
            .arg(&workdir)
            .arg("--socket")
            .arg(&socket);
        if !extra.contains(&"--listen") {
            cmd.arg("--listen").arg("127.0.0.1:0");
        }
        // Brick processes' pid files, logs and sockets stay in the test's directory, never
        // in the system's /var/run/gluster and /var/log/glusterfs.
        if !extra.contains(&"--run-dir") {
            cmd.arg("--run-dir").arg(dir.path().join("run"));
            cmd.arg("--log-dir").arg(dir.path().join("log"));
        }
        if !extra.contains(&"--brick-socket-dir") {
            cmd.arg("--brick-socket-dir")
                .arg(dir.path().join("sockets"));
        }
        cmd.arg("--enable-test-program")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("spawn brickd");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("brickd printed no ready line within 60 s");
        assert!(
            line.starts_with("brickd ready:"),
            "unexpected first line: {line}"
        );
        let tcp = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("tcp="))
            .expect("ready line names the TCP address")
            .parse()
            .expect("TCP address parses");
        Brickd {
            child,
            tcp,
            socket,
            workdir,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0);
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// A TCP client whose reads fail the test after [`HANG_DEADLINE`].
    pub fn tcp_client(&self) -> Client<TcpStream> {
        let s = TcpStream::connect(self.tcp).expect("connect tcp");
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(HANG_DEADLINE)).unwrap();
        Client::new(s)
    }

    /// A unix-socket client whose reads fail the test after [`HANG_DEADLINE`].
    pub fn unix_client(&self) -> Client<UnixStream> {
        let s = UnixStream::connect(&self.socket).expect("connect unix");
        s.set_read_timeout(Some(HANG_DEADLINE)).unwrap();
        Client::new(s)
    }
}

impl Drop for Brickd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A decoded reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub xid: u32,
    pub status: ReplyStatus,
    pub verf_flavor: u32,
    pub verf_body: Vec<u8>,
    pub body: Vec<u8>,
}

/// Encodes one call record (with its record mark) with the CLI's credential.
pub fn call_record(xid: u32, prog: u32, vers: u32, proc_num: u32, args: &[u8]) -> Vec<u8> {
    call_record_with(
        xid,
        prog,
        vers,
        proc_num,
        OpaqueAuth {
            flavor: AUTH_GLUSTERFS_V2,
            body: &CLI_CREDENTIAL_V2,
        },
        OpaqueAuth::NULL,
        args,
    )
}

pub fn call_record_with(
    xid: u32,
    prog: u32,
    vers: u32,
    proc_num: u32,
    cred: OpaqueAuth<'_>,
    verf: OpaqueAuth<'_>,
    args: &[u8],
) -> Vec<u8> {
    let mut record = Vec::new();
    brickd::proto::calls::encode_call_record(
        &mut record,
        &CallHeader {
            xid,
            prog,
            vers,
            proc_num,
            cred,
            verf,
        },
        |out| out.extend_from_slice(args),
    );
    record
}

pub fn with_mark(body: &[u8]) -> Vec<u8> {
    let mut rec = fragment_header(body.len()).to_vec();
    rec.extend_from_slice(body);
    rec
}

/// A blocking RPC client.
pub struct Client<S> {
    pub stream: S,
    decoder: RecordDecoder,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    next_xid: u32,
}

impl<S: Read + Write> Client<S> {
    pub fn new(stream: S) -> Self {
        Client {
            stream,
            decoder: RecordDecoder::new(64 << 20),
            buf: vec![0; 1 << 16],
            start: 0,
            end: 0,
            next_xid: 2,
        }
    }

    pub fn next_xid(&mut self) -> u32 {
        let x = self.next_xid;
        self.next_xid += 1;
        x
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads one whole reply record; `None` at EOF or on a read error. A read that times out
    /// (the stream's read timeout) fails the test: the server neither answered nor closed,
    /// which must not pass for "closed".
    pub fn read_record(&mut self) -> Option<Vec<u8>> {
        loop {
            while self.start < self.end {
                let (n, rec) = self
                    .decoder
                    .decode(&self.buf[self.start..self.end])
                    .expect("server record within cap");
                let rec = rec.map(|r| r.to_vec());
                self.start += n;
                if rec.is_some() {
                    return rec;
                }
            }
            self.start = 0;
            self.end = 0;
            match self.stream.read(&mut self.buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    panic!("no reply and no close within the read timeout: {e}")
                }
                Ok(0) | Err(_) => return None,
                Ok(n) => self.end = n,
            }
        }
    }

    pub fn read_reply(&mut self) -> Option<Reply> {
        let rec = self.read_record()?;
        let (hdr, body) = decode_reply(&rec).expect("well-formed reply");
        Some(Reply {
            xid: hdr.xid,
            status: hdr.status,
            verf_flavor: hdr.verf.flavor,
            verf_body: hdr.verf.body.to_vec(),
            body: body.to_vec(),
        })
    }

    pub fn call(&mut self, prog: u32, vers: u32, proc_num: u32, args: &[u8]) -> Reply {
        let xid = self.next_xid();
        let rec = call_record(xid, prog, vers, proc_num, args);
        self.send(&rec);
        let reply = self.read_reply().expect("a reply");
        assert_eq!(reply.xid, xid);
        reply
    }
}

/// Copies a directory tree (fixtures into a test's temporary directory).
/// Waits until volume `name`'s store files are on disk: brickd writes them right after a
/// create's reply (the commit journal holds them until then), `cksum` last.
pub fn wait_for_store(workdir: &Path, name: &str) {
    let cksum = workdir.join("vols").join(name).join("cksum");
    let deadline = Instant::now() + HANG_DEADLINE;
    while Instant::now() < deadline {
        if std::fs::metadata(&cksum)
            .map(|m| m.len() > 0)
            .unwrap_or(false)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{}: not written within {HANG_DEADLINE:?}", cksum.display());
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// True once nothing answers on the address.
pub fn refuses_connections(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err()
}
