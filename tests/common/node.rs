//! A brickd that runs volumes: private run and log directories for its brick processes, FUSE
//! mounts of its volumes, and the checks the volume tests share. Fixtures clean up in Drop
//! (volumes stopped, mounts unmounted) even when a test fails.

use super::fs::Xfs;
use super::{gluster, Brickd, HANG_DEADLINE};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Why these tests cannot run here (on top of the brick tests' reasons).
pub fn skip(test: &str) -> bool {
    if super::fs::must_skip(test) {
        return true;
    }
    for (path, package) in [
        ("/usr/sbin/glusterfsd", "glusterfs-common"),
        ("/usr/sbin/glusterfs", "glusterfs-client"),
        ("/sbin/mount.glusterfs", "glusterfs-client"),
        ("/dev/fuse", "the fuse kernel module"),
    ] {
        if !Path::new(path).exists() {
            super::skip::missing(test, &format!("{path} is missing ({package})"));
            return true;
        }
    }
    false
}

/// A loopback address of its own for each node this test process starts (all of 127/8 reaches
/// lo): brickd listens there, and bricks and clients are named by it, so nothing depends on
/// the machine's host name resolving (a fresh container's may not) and the CLI, which refuses
/// 127.0.0.1 and localhost as brick hosts, takes it.
pub fn node_address() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pid = std::process::id();
    format!("127.77.{}.{}", pid % 250, 1 + (pid / 250 + n) % 250)
}

/// A brickd with private run and log directories (brick pid files and logs), on a loopback
/// address of its own; its bricks are named by that address (`host`).
pub struct Node {
    // Dropped in this order: brickd first (so that it restarts nothing), then the reaper
    // (while the run directory and its pid files still exist), then the directories.
    pub brickd: Brickd,
    /// Kills what is left of the node's brick processes when the node goes, even when a test
    /// fails before it stopped its volumes (a test that hands the run directory on disarms it).
    pub reaper: Reaper,
    pub dirs: tempfile::TempDir,
    pub host: String,
    /// Directories this node's brickd serves from that an earlier brickd made (its workdir,
    /// inherited through a restart): removed when the node goes, after its brickd.
    pub inherited: Vec<Inherited>,
}

/// A directory a node inherited: a dead brickd's (holding the workdir the node serves), or a
/// copy of one.
pub enum Inherited {
    Brickd(Brickd),
    Dir(tempfile::TempDir),
}

/// SIGKILLs, on drop, every process named by a pid file under a run directory.
pub struct Reaper {
    run: Option<PathBuf>,
}

impl Reaper {
    /// The run directory is someone else's from now on.
    pub fn disarm(mut self) {
        self.run = None;
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(run) = self.run.take() {
            kill_pid_files(&run);
        }
    }
}

/// SIGKILLs every process named by a pid file anywhere under `dir` (what a daemon of a test
/// started: bricks, self-heal daemons).
pub fn kill_pid_files(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "pid") {
                if let Some(pid) = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok())
                    .filter(|&pid| pid > 1)
                {
                    // SAFETY: kill(2) of a process a daemon of this test started.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

impl Node {
    /// A pool member: on port 24007 of a loopback address of its own (peers reach each
    /// other on 24007 only, as glusterd's do).
    pub fn pool_member() -> Node {
        Self::pool_member_with(None, &[], &[])
    }

    /// A pool member on `workdir` (else a fresh one) with `extra` flags and environment
    /// variables (failpoints), on `address` (else a fresh one).
    pub fn pool_member_at(
        address: Option<&str>,
        workdir: Option<PathBuf>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Node {
        let listen = format!(
            "{}:24007",
            address.map(str::to_string).unwrap_or_else(node_address)
        );
        let mut args = vec!["--listen", &listen];
        args.extend_from_slice(extra);
        Self::start_env(workdir, None, &args, env)
    }

    /// A fresh pool member with `extra` flags and environment variables.
    pub fn pool_member_with(
        workdir: Option<PathBuf>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Node {
        Self::pool_member_at(None, workdir, extra, env)
    }

    pub fn start() -> Node {
        Self::start_on(None, None, &[])
    }

    /// On `workdir` (else a fresh one), on `port` (else any), with `extra` flags.
    pub fn start_on(
        workdir: Option<PathBuf>,
        dirs: Option<tempfile::TempDir>,
        extra: &[&str],
    ) -> Node {
        Self::start_env(workdir, dirs, extra, &[])
    }

    /// Like `start_on`, with environment variables (failpoints).
    pub fn start_env(
        workdir: Option<PathBuf>,
        dirs: Option<tempfile::TempDir>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Node {
        let dirs = dirs.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let run = dirs.path().join("run");
        let log = dirs.path().join("log");
        let mut args: Vec<String> = vec![
            "--run-dir".into(),
            run.display().to_string(),
            "--log-dir".into(),
            log.display().to_string(),
            "--brick-socket-dir".into(),
            dirs.path().join("sockets").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        if !extra.contains(&"--listen") {
            args.push("--listen".into());
            args.push(format!("{}:0", node_address()));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let brickd = Brickd::start_on(workdir, &args, |cmd| {
            for (key, value) in env {
                cmd.env(key, value);
            }
        });
        let host = brickd.tcp.ip().to_string();
        let reaper = Reaper { run: Some(run) };
        Node {
            brickd,
            dirs,
            host,
            reaper,
            inherited: Vec::new(),
        }
    }

    /// Starts brickd again on this node's workdir, port and directories, with `env` set, once
    /// the running one was killed at a failpoint (the test fails if it does not die).
    pub fn restart_after_kill(self, env: &[(&str, &str)]) -> Node {
        let (mut node, brickd, status) = self.respawn(None, env);
        assert!(!status.success(), "brickd was not killed at its failpoint");
        // The dead brickd's temporary directory holds the workdir: the new node keeps it.
        node.inherited.push(Inherited::Brickd(brickd));
        node
    }

    /// Sends `signal` to brickd, waits for it to exit, and starts a new brickd on the same
    /// workdir, address and directories, which takes the brick processes over. Returns the
    /// new node and the old brickd, whose temporary directory holds the workdir: keep it until
    /// the new node is done.
    pub fn restart(self, signal: i32) -> (Node, Brickd) {
        let (node, brickd, _) = self.respawn(Some(signal), &[]);
        (node, brickd)
    }

    /// Sends `signal` (if any) to brickd, waits for it to exit, and starts a new brickd with
    /// `env` on the same workdir, address and directories; the new one takes the run directory
    /// (and the brick processes) over. Returns the new node, the old brickd and its exit.
    fn respawn(
        self,
        signal: Option<i32>,
        env: &[(&str, &str)],
    ) -> (Node, Brickd, std::process::ExitStatus) {
        let Node {
            mut brickd,
            dirs,
            reaper,
            inherited,
            ..
        } = self;
        reaper.disarm();
        if let Some(signal) = signal {
            brickd.signal(signal);
        }
        let status = brickd
            .wait_exit(HANG_DEADLINE)
            .expect("brickd did not exit");
        let workdir = brickd.workdir.clone();
        let listen = brickd.tcp.to_string();
        let mut node = Node::start_env(Some(workdir), Some(dirs), &["--listen", &listen], env);
        node.inherited = inherited;
        (node, brickd, status)
    }

    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let (code, out, err, _) = gluster(&self.brickd.socket, args);
        (code, out, err)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.cli(args);
        assert_eq!(code, 0, "gluster {args:?}: {out}{err}");
        out
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dirs.path().join("run")
    }

    pub fn pid_file(&self, volume: &str, path: &str) -> PathBuf {
        self.run_dir().join("vols").join(volume).join(format!(
            "{}-{}.pid",
            self.host,
            path.trim_start_matches('/').replace('/', "-")
        ))
    }

    /// The brick rows of `volume status VOL`: (path, port, online, pid).
    pub fn status(&self, volume: &str) -> Vec<(String, String, String, String)> {
        status_rows(&self.ok(&["volume", "status", volume]))
    }

    /// Waits until `key=` of store file `file` says `expected` (the store files are written
    /// after the reply: right after the CLI answered, a file may not be there yet, or may still
    /// hold the old bytes).
    pub fn expect_store(&self, volume: &str, file: &str, key: &str, expected: &str) {
        let mut last = None;
        let deadline = Instant::now() + HANG_DEADLINE;
        while Instant::now() < deadline {
            last = self.try_store_value(volume, file, key);
            if last.as_deref() == Some(expected) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{volume}/{file}: {key}={last:?}, expected {expected}");
    }

    /// `key=` of store file `file`, if the file is there and says it.
    fn try_store_value(&self, volume: &str, file: &str, key: &str) -> Option<String> {
        let path = self.brickd.workdir.join("vols").join(volume).join(file);
        let text = std::fs::read_to_string(path).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
    }

    /// `key=` of store file `file`; the file must be written already (see `expect_store`).
    pub fn store_value(&self, volume: &str, file: &str, key: &str) -> String {
        self.try_store_value(volume, file, key)
            .unwrap_or_else(|| panic!("no {key}= in {volume}/{file}"))
    }
}

/// A FUSE mount of a volume, unmounted on drop.
pub struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    pub fn new(node: &Node, volume: &str) -> Mount {
        let dir = tempfile::tempdir().unwrap();
        let log = node.dirs.path().join(format!("fuse-{volume}.log"));
        let out = Command::new("mount")
            .args(["-t", "glusterfs", "-o"])
            .arg(format!(
                "server-port={},log-file={}",
                node.brickd.tcp.port(),
                log.display()
            ))
            .arg(format!("{}:/{volume}", node.host))
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount {volume}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Mount { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(self.dir.path()).status();
        if !unmounted.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Stops every volume left started (so no brick process outlives a failed test).
pub struct StopAll<'a>(pub &'a Node, pub Vec<String>);

impl Drop for StopAll<'_> {
    fn drop(&mut self) {
        for v in &self.1 {
            let _ = self.0.cli(&["volume", "stop", v, "force"]);
        }
    }
}

pub fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + HANG_DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn data(seed: u8, len: usize) -> Vec<u8> {
    let mut x = u32::from(seed) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next())
        })
        .is_some_and(|state| state != 'Z' && state != 'X')
}

pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Creates `volume` with `layout` (e.g. `["replica", "3"]`) over one directory per disk.
pub fn create(node: &Node, volume: &str, layout: &[&str], disks: &[Xfs]) -> Vec<String> {
    let paths: Vec<String> = disks
        .iter()
        .map(|d| format!("{}/{volume}", d.root()))
        .collect();
    let mut args = vec!["volume".to_string(), "create".into(), volume.into()];
    args.extend(layout.iter().map(|s| s.to_string()));
    args.extend(paths.iter().map(|p| format!("{}:{p}", node.host)));
    args.push("force".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    node.ok(&args);
    paths
}

/// A real glusterd 10.3 on a private workdir, run directory, unix socket and loopback address
/// (port 24007 of its own address: the way glusterfs's cluster tests run several), stopped on
/// drop together with every process it started (pid files under its run directory).
pub struct Glusterd {
    pub socket: PathBuf,
    pub dir: tempfile::TempDir,
    pid: Option<i32>,
}

impl Glusterd {
    /// Starts glusterd on `workdir`, bound to `address`; waits until its CLI socket answers.
    pub fn start(workdir: &Path, address: &str) -> Glusterd {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        let socket = dir.path().join("glusterd.socket");
        let pid_file = dir.path().join("glusterd.pid");
        let status = Command::new("glusterd")
            .args(["--xlator-option"])
            .arg(format!(
                "management.transport.socket.bind-address={address}"
            ))
            .args(["--xlator-option"])
            .arg(format!(
                "management.working-directory={}",
                workdir.display()
            ))
            .args(["--xlator-option"])
            .arg(format!("management.run-directory={}", run.display()))
            .args(["--xlator-option"])
            .arg(format!("management.glusterd-sockfile={}", socket.display()))
            .arg(format!("--pid-file={}", pid_file.display()))
            .arg(format!(
                "--log-file={}",
                dir.path().join("glusterd.log").display()
            ))
            .status()
            .expect("glusterd is installed (glusterfs-server)");
        assert!(status.success(), "glusterd did not start: {status}");
        let mut g = Glusterd {
            socket,
            dir,
            pid: None,
        };
        wait_until(
            || {
                g.pid = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|t| t.trim().parse().ok());
                g.pid.is_some() && gluster(&g.socket, &["volume", "list"]).0 == 0
            },
            "glusterd answering",
        );
        g
    }

    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let (code, out, err, _) = gluster(&self.socket, args);
        (code, out, err)
    }
}

impl Drop for Glusterd {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            // SAFETY: kill(2) of the glusterd this fixture started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // Whatever it spawned (bricks of a started volume) has a pid file under its run dir.
        kill_pid_files(&self.dir.path().join("run"));
    }
}

/// The node's statedump (SIGUSR1), fresh.
pub fn statedump(node: &Node) -> String {
    let run = node.brickd.workdir.join("run");
    if let Ok(entries) = std::fs::read_dir(&run) {
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    node.brickd.signal(libc::SIGUSR1);
    let mut text = String::new();
    wait_until(
        || {
            let found = std::fs::read_dir(&run).ok().and_then(|entries| {
                entries.flatten().find(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with("brickd.") && name.contains(".dump.")
                })
            });
            match found.and_then(|e| std::fs::read_to_string(e.path()).ok()) {
                Some(t) if t.contains("[bricks]") => {
                    text = t;
                    true
                }
                _ => false,
            }
        },
        "a statedump",
    );
    text
}

/// The brick rows of a `volume status` text: (path, port, online, pid), a brick name the CLI
/// wrapped onto two lines joined again.
pub fn status_rows(out: &str) -> Vec<(String, String, String, String)> {
    let lines = super::compare::status_lines(out);
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("Brick "))
        .map(|row| {
            let f: Vec<&str> = row.split_whitespace().collect();
            let path = f[0].split_once(':').unwrap().1.to_string();
            (path, f[1].into(), f[3].into(), f[4].into())
        })
        .collect()
}

/// A brickd node and a real glusterd side by side, for differential tests, with a brick
/// directory prefix for each (`HOST:DIR/b` on brickd, `ADDRESS:DIR/g` on glusterd).
#[allow(dead_code)]
pub struct Pair {
    // Dropped in this order: brickd, glusterd, then the directories.
    pub node: Node,
    pub glusterd: Glusterd,
    pub glusterd_dir: tempfile::TempDir,
    /// glusterd's address (its bricks' host).
    pub glusterd_address: String,
    pub bricks: tempfile::TempDir,
    /// `HOST:DIR/b`: brickd's bricks are this plus a name.
    pub ours: String,
    /// `ADDRESS:DIR/g`: glusterd's bricks are this plus a name.
    pub theirs: String,
}

#[allow(dead_code)]
impl Pair {
    /// Starts both.
    pub fn start() -> Pair {
        let node = Node::start();
        let glusterd_dir = tempfile::tempdir().unwrap();
        let glusterd_address = node_address();
        let glusterd = Glusterd::start(glusterd_dir.path(), &glusterd_address);
        let bricks = tempfile::tempdir().unwrap();
        let root = bricks.path().display().to_string();
        let ours = format!("{}:{root}/b", node.host);
        let theirs = format!("{glusterd_address}:{root}/g");
        Pair {
            node,
            glusterd,
            glusterd_dir,
            glusterd_address,
            bricks,
            ours,
            theirs,
        }
    }

    /// `volume create VOLUME replica 2 …BRICKS force` on both, each brick a name under the
    /// daemon's own prefix; the test fails if either refuses.
    pub fn create_replica_2(&self, volume: &str, bricks: &[&str]) {
        for (prefix, on_brickd) in [(&self.ours, true), (&self.theirs, false)] {
            let names: Vec<String> = bricks.iter().map(|b| format!("{prefix}{b}")).collect();
            let mut args = vec!["volume", "create", volume, "replica", "2"];
            args.extend(names.iter().map(String::as_str));
            args.push("force");
            let (code, out, err) = if on_brickd {
                self.node.cli(&args)
            } else {
                self.glusterd.cli(&args)
            };
            assert_eq!(code, 0, "{}: {out}{err}", args.join(" "));
        }
    }
}
