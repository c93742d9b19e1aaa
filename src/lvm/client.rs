//! [`LvmClient`]: brickd's handle on the `brickd lvm-helper` child process.
//!
//! One dedicated thread owns the child and its socket. Callers hand it requests through a
//! bounded crossbeam channel and await the answer on a oneshot, so a glommio executor and a
//! plain thread (`futures_lite::future::block_on`) can both use one client. The thread sends
//! one request at a time and waits at most [`LvmConfig::timeout`] for its answer; if the helper
//! dies, breaks the protocol or times out, it is killed, reaped and started again, the request
//! answers an error and the next one goes to the new helper.
//!
//! This module never calls into liblvm2cmd; only the helper does.

use super::names::{check_vg_name, NameProblem};
use super::proto::{
    split_frame, FailureKind, ProtoError, Request, RequestBody, Response, ResponseBody, VgInfo,
};
use super::report::{check_tag_change, CommandProblem};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use futures_channel::oneshot;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one request may take in the helper, unless configured.
pub const TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// The most requests waiting for the helper thread; beyond it calls fail with
/// [`LvmError::Busy`] instead of blocking the caller.
pub const REQUESTS_QUEUED_MAX: usize = 1024;

/// How long a helper may take to exit after its socket closes before it is killed.
const HELPER_EXIT_WAIT: Duration = Duration::from_secs(5);

/// Bytes read from the helper's socket per `read` call.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// How the client starts its helper.
#[derive(Clone, Debug)]
pub struct LvmConfig {
    /// The brickd executable to run as `<helper_exe> lvm-helper --fd N`. Defaults to the
    /// running executable; tests pass the built `brickd` binary.
    pub helper_exe: PathBuf,
    /// How long one request may take once sent to the helper (queueing not included).
    pub timeout: Duration,
}

impl Default for LvmConfig {
    fn default() -> LvmConfig {
        LvmConfig {
            // /proc/self/exe, resolved by the forked child at exec, is still this executable.
            helper_exe: std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into()),
            timeout: TIMEOUT_DEFAULT,
        }
    }
}

/// What can go wrong asking LVM something.
#[derive(Debug, thiserror::Error)]
pub enum LvmError {
    /// The VG name is not one LVM allows; LVM was not run.
    #[error("VG name {name:?} refused before running LVM: {problem}")]
    InvalidVgName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// A tag is not one LVM allows; LVM was not run.
    #[error("tag {tag:?} refused before running LVM: {problem}")]
    InvalidTag {
        /// The tag given.
        tag: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// More tags in one call than one LVM command line can carry; LVM was not run.
    #[error("{count} tag changes in one call, the limit is {max}: split the call")]
    TooManyTags {
        /// Tags to add and delete together.
        count: usize,
        /// The limit ([`TAG_CHANGES_MAX`](super::names::TAG_CHANGES_MAX)).
        max: usize,
    },
    /// `change_tags` was called with nothing to add or delete.
    #[error("no tags to add or delete")]
    NoTags,
    /// The request does not fit in a frame.
    #[error("request cannot be sent to the LVM helper: {0}")]
    Encode(ProtoError),
    /// Too many requests are waiting for the helper.
    #[error("the LVM helper has {max} requests waiting; try again later")]
    Busy {
        /// [`REQUESTS_QUEUED_MAX`].
        max: usize,
    },
    /// The helper process could not be started.
    #[error("cannot start the LVM helper `{exe} lvm-helper`: {source}")]
    Spawn {
        /// The executable.
        exe: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The client's thread could not be started.
    #[error("cannot start the LVM client thread: {0}")]
    Thread(#[source] io::Error),
    /// The helper died or broke the protocol during the request; it is being restarted.
    #[error("the LVM helper (pid {pid}) failed during the request: {detail}; it is restarted")]
    HelperFailed {
        /// The helper's pid.
        pid: u32,
        /// What happened.
        detail: String,
    },
    /// The helper did not answer in time; it was killed and is being restarted. Whether LVM
    /// applied the change is unknown: read the VG again.
    #[error(
        "the LVM helper (pid {pid}) did not answer within {timeout_ms} ms; it was killed and \
         is restarted (the outcome of the request is unknown)"
    )]
    Timeout {
        /// The helper's pid.
        pid: u32,
        /// The configured timeout.
        timeout_ms: u128,
    },
    /// liblvm2cmd could not be loaded or initialised in the helper.
    #[error("LVM is unavailable: {reason}")]
    Unavailable {
        /// The helper's explanation.
        reason: String,
    },
    /// The helper refused the request before running LVM.
    #[error("the LVM helper refused the request: {reason}")]
    Refused {
        /// The helper's explanation.
        reason: String,
    },
    /// LVM ran the command and it failed.
    #[error("LVM command `{command}` failed (lvm2_run returned {code}, {}): {output}", code_name(*.code))]
    Command {
        /// The command line.
        command: String,
        /// `lvm2_run`'s return code (`LVM2_*` in lvm2cmd.h).
        code: i32,
        /// LVM's messages.
        output: String,
    },
    /// The command succeeded but what it printed could not be read.
    #[error("LVM command `{command}` succeeded but its report could not be read: {output:?}")]
    BadReport {
        /// The command line.
        command: String,
        /// LVM's messages.
        output: String,
    },
    /// The client's thread is gone (it only stops when every clone is dropped).
    #[error("the LVM client has stopped")]
    Stopped,
}

fn code_name(code: i32) -> &'static str {
    match code {
        lvm2_sys::LVM2_COMMAND_SUCCEEDED => "LVM2_COMMAND_SUCCEEDED",
        lvm2_sys::LVM2_NO_SUCH_COMMAND => "LVM2_NO_SUCH_COMMAND",
        lvm2_sys::LVM2_INVALID_PARAMETERS => "LVM2_INVALID_PARAMETERS",
        lvm2_sys::LVM2_INIT_FAILED => "LVM2_INIT_FAILED",
        lvm2_sys::LVM2_PROCESSING_FAILED => "LVM2_PROCESSING_FAILED",
        _ => "unknown code",
    }
}

impl From<CommandProblem> for LvmError {
    fn from(problem: CommandProblem) -> LvmError {
        match problem {
            CommandProblem::VgName(name, problem) => LvmError::InvalidVgName { name, problem },
            CommandProblem::Tag(tag, problem) => LvmError::InvalidTag { tag, problem },
            CommandProblem::TooManyTags { count, max } => LvmError::TooManyTags { count, max },
            CommandProblem::NoTags => LvmError::NoTags,
        }
    }
}

/// A request waiting for the helper thread.
struct Job {
    request: RequestBody,
    reply: oneshot::Sender<Result<ResponseBody, LvmError>>,
}

/// What the callers and the helper thread share.
#[derive(Default)]
struct Shared {
    /// The running helper's pid, 0 when none runs.
    helper_pid: AtomicU32,
    /// Helpers started after the first.
    restarts: AtomicU64,
    /// Requests written to the helper and not yet answered (0 or 1: the thread sends one
    /// at a time). See [`LvmClient::requests_at_helper`].
    at_helper: AtomicU32,
}

/// A handle on the LVM helper; clones share one helper and one thread.
///
/// The thread and the helper stop when the last clone is dropped.
#[derive(Clone)]
pub struct LvmClient {
    jobs: Sender<Job>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LvmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LvmClient")
            .field("helper_pid", &self.helper_pid())
            .field("restarts", &self.restarts())
            .field("requests_at_helper", &self.requests_at_helper())
            .finish()
    }
}

impl LvmClient {
    /// Starts the client thread and its first helper; fails if the helper cannot be spawned.
    ///
    /// Whether liblvm2cmd loads in the helper shows on the first request
    /// ([`LvmError::Unavailable`]).
    pub fn start(cfg: LvmConfig) -> Result<LvmClient, LvmError> {
        let (jobs, queue) = crossbeam_channel::bounded(REQUESTS_QUEUED_MAX);
        let shared = Arc::new(Shared::default());
        let (started_tx, started) = crossbeam_channel::bounded(1);
        let worker_shared = Arc::clone(&shared);
        // The helper is spawned on the thread that owns it: its parent-death signal is tied
        // to the spawning thread.
        std::thread::Builder::new()
            .name("brickd-lvm".into())
            .spawn(move || {
                let mut worker = Worker {
                    cfg,
                    shared: worker_shared,
                    helper: None,
                    spawned: false,
                    next_id: 0,
                };
                let first = worker.spawn();
                let ok = first.is_ok();
                let _ = started_tx.send(first);
                if ok {
                    worker.run(queue);
                }
            })
            .map_err(LvmError::Thread)?;
        started.recv().map_err(|_| LvmError::Stopped)??;
        Ok(LvmClient { jobs, shared })
    }

    /// Reports volume group `vg`: `None` when LVM has no such VG.
    pub async fn vg_info(&self, vg: &str) -> Result<Option<VgInfo>, LvmError> {
        check_vg_name(vg).map_err(|problem| LvmError::InvalidVgName {
            name: vg.to_owned(),
            problem,
        })?;
        match self.call(RequestBody::VgInfo { vg: vg.to_owned() }).await? {
            ResponseBody::VgInfo(info) => Ok(info),
            other => Err(unexpected(other)),
        }
    }

    /// Adds `add` and deletes `delete` on VG `vg` in one `vgchange` (one metadata commit).
    ///
    /// Adding a tag the VG has, or deleting one it lacks, is not an error (LVM's behaviour).
    pub async fn change_tags(
        &self,
        vg: &str,
        add: &[String],
        delete: &[String],
    ) -> Result<(), LvmError> {
        check_tag_change(vg, add, delete)?;
        let request = RequestBody::ChangeTags {
            vg: vg.to_owned(),
            add: add.to_vec(),
            delete: delete.to_vec(),
        };
        match self.call(request).await? {
            ResponseBody::TagsChanged => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Asks the helper for its pid without running LVM: a liveness check.
    pub async fn ping(&self) -> Result<u32, LvmError> {
        match self.call(RequestBody::Ping).await? {
            ResponseBody::Pong { pid } => Ok(pid),
            other => Err(unexpected(other)),
        }
    }

    /// The running helper's pid, if one runs.
    pub fn helper_pid(&self) -> Option<u32> {
        match self.shared.helper_pid.load(Ordering::Acquire) {
            0 => None,
            pid => Some(pid),
        }
    }

    /// How many times a helper was started again after the first (after deaths and timeouts).
    pub fn restarts(&self) -> u64 {
        self.shared.restarts.load(Ordering::Acquire)
    }

    /// How many requests are at the helper: written whole to its socket and not yet answered
    /// (0 or 1, as the thread sends one request at a time). It is 1 from the moment the frame
    /// is written until the thread has the reply or gives up on the helper (death, broken
    /// protocol, timeout); requests still queued for the thread do not count.
    ///
    /// A statistic, and what tests wait on to act on a helper while a request is surely in
    /// its hands (kill it mid-request, say).
    pub fn requests_at_helper(&self) -> u32 {
        self.shared.at_helper.load(Ordering::Acquire)
    }

    async fn call(&self, request: RequestBody) -> Result<ResponseBody, LvmError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(Job { request, reply })
            .map_err(|err| match err {
                TrySendError::Full(_) => LvmError::Busy {
                    max: REQUESTS_QUEUED_MAX,
                },
                TrySendError::Disconnected(_) => LvmError::Stopped,
            })?;
        match answer.await.map_err(|_| LvmError::Stopped)?? {
            ResponseBody::Failed(failure) => Err(match failure.kind {
                FailureKind::Refused => LvmError::Refused {
                    reason: failure.output,
                },
                FailureKind::Unavailable => LvmError::Unavailable {
                    reason: failure.output,
                },
                FailureKind::Command => LvmError::Command {
                    command: failure.command,
                    code: failure.code,
                    output: failure.output,
                },
                FailureKind::BadReport => LvmError::BadReport {
                    command: failure.command,
                    output: failure.output,
                },
            }),
            body => Ok(body),
        }
    }
}

/// The worker checks that replies answer their request, so this is a bug, reported as one.
fn unexpected(body: ResponseBody) -> LvmError {
    LvmError::HelperFailed {
        pid: 0,
        detail: format!("reply {body:?} does not answer the request"),
    }
}

/// Whether `response` is a possible answer to `request`.
fn answers(request: &RequestBody, response: &ResponseBody) -> bool {
    matches!(
        (request, response),
        (_, ResponseBody::Failed(_))
            | (RequestBody::Ping, ResponseBody::Pong { .. })
            | (RequestBody::VgInfo { .. }, ResponseBody::VgInfo(_))
            | (RequestBody::ChangeTags { .. }, ResponseBody::TagsChanged)
    )
}

/// A running helper and our end of its socket.
struct Helper {
    child: Child,
    socket: UnixStream,
    received: Vec<u8>,
}

/// Why an exchange with the helper failed; either way the helper is replaced.
enum Broken {
    Timeout,
    Failed(String),
}

impl From<io::Error> for Broken {
    fn from(err: io::Error) -> Broken {
        match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Broken::Timeout,
            _ => Broken::Failed(err.to_string()),
        }
    }
}

impl Helper {
    /// Sends one request frame and reads the one reply frame, within `deadline`. Sets
    /// `at_helper` to 1 once the frame is written; the caller clears it.
    fn exchange(
        &mut self,
        request: &Request,
        frame: &[u8],
        deadline: Instant,
        at_helper: &AtomicU32,
    ) -> Result<Response, Broken> {
        self.socket.set_write_timeout(Some(remaining(deadline)?))?;
        self.socket.write_all(frame)?;
        at_helper.store(1, Ordering::Release);
        self.received.clear();
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        loop {
            match split_frame(&self.received) {
                Ok(Some((payload, used))) => {
                    if used != self.received.len() {
                        return Err(Broken::Failed("sent more than one reply".into()));
                    }
                    let response = Response::decode(payload)
                        .map_err(|err| Broken::Failed(format!("unreadable reply: {err}")))?;
                    if response.id != request.id || !answers(&request.body, &response.body) {
                        return Err(Broken::Failed(format!(
                            "reply {response:?} does not answer request {}",
                            request.id
                        )));
                    }
                    return Ok(response);
                }
                Ok(None) => {}
                Err(err) => return Err(Broken::Failed(format!("unreadable reply: {err}"))),
            }
            self.socket.set_read_timeout(Some(remaining(deadline)?))?;
            match self.socket.read(&mut chunk) {
                Ok(0) => {
                    return Err(Broken::Failed(
                        "it closed its socket (exited or was killed)".into(),
                    ))
                }
                Ok(n) => self.received.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
}

fn remaining(deadline: Instant) -> Result<Duration, Broken> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(Broken::Timeout),
    }
}

/// The state of the client thread.
struct Worker {
    cfg: LvmConfig,
    shared: Arc<Shared>,
    helper: Option<Helper>,
    /// Whether a helper was ever spawned (later spawns are restarts).
    spawned: bool,
    next_id: u32,
}

impl Worker {
    fn run(mut self, queue: Receiver<Job>) {
        for job in queue.iter() {
            if job.reply.is_canceled() {
                continue;
            }
            let result = self.call(job.request);
            let _ = job.reply.send(result);
        }
        self.shut_down();
    }

    fn call(&mut self, body: RequestBody) -> Result<ResponseBody, LvmError> {
        self.next_id = self.next_id.wrapping_add(1);
        let request = Request {
            id: self.next_id,
            body,
        };
        let mut frame = Vec::new();
        request.encode_frame(&mut frame).map_err(LvmError::Encode)?;
        if self.helper.is_none() {
            self.spawn()?;
        }
        let Some(helper) = self.helper.as_mut() else {
            return Err(LvmError::Stopped);
        };
        let pid = helper.child.id();
        let deadline = Instant::now() + self.cfg.timeout;
        let exchanged = helper.exchange(&request, &frame, deadline, &self.shared.at_helper);
        // Answered or given up on: no longer at the helper.
        self.shared.at_helper.store(0, Ordering::Release);
        match exchanged {
            Ok(response) => Ok(response.body),
            Err(broken) => {
                self.kill_helper();
                // A warm helper for the next request; if this fails, the next request retries.
                if let Err(err) = self.spawn() {
                    tracing::warn!("restarting the LVM helper: {err}");
                }
                Err(match broken {
                    Broken::Timeout => LvmError::Timeout {
                        pid,
                        timeout_ms: self.cfg.timeout.as_millis(),
                    },
                    Broken::Failed(detail) => LvmError::HelperFailed { pid, detail },
                })
            }
        }
    }

    fn spawn(&mut self) -> Result<(), LvmError> {
        let spawn_error = |source| LvmError::Spawn {
            exe: self.cfg.helper_exe.clone(),
            source,
        };
        // Both ends are close-on-exec, so no other child of brickd inherits them.
        let (ours, theirs) = UnixStream::pair().map_err(spawn_error)?;
        let fd = theirs.as_raw_fd();
        let mut command = Command::new(&self.cfg.helper_exe);
        command
            .arg("lvm-helper")
            .arg("--fd")
            .arg(fd.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own process group: a terminal's Ctrl-C goes to brickd, which shuts the
            // helper down by closing the socket.
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and makes only
        // async-signal-safe calls on values it owns (an fd number).
        unsafe {
            command.pre_exec(move || {
                // Let the helper's end survive exec (in the child only).
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
                // If this thread (and so brickd) dies, the helper dies too.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(spawn_error)?;
        drop(theirs);
        self.shared.helper_pid.store(child.id(), Ordering::Release);
        if self.spawned {
            self.shared.restarts.fetch_add(1, Ordering::AcqRel);
            tracing::info!(pid = child.id(), "LVM helper restarted");
        }
        self.spawned = true;
        self.helper = Some(Helper {
            child,
            socket: ours,
            received: Vec::new(),
        });
        Ok(())
    }

    fn kill_helper(&mut self) {
        self.shared.helper_pid.store(0, Ordering::Release);
        if let Some(mut helper) = self.helper.take() {
            // Fails only if it is already reaped, which it is not: we own the Child.
            let _ = helper.child.kill();
            let _ = helper.child.wait();
        }
    }

    /// Closes the socket and lets the helper exit on its own; kills it if it lingers.
    fn shut_down(mut self) {
        self.shared.helper_pid.store(0, Ordering::Release);
        let Some(Helper {
            mut child, socket, ..
        }) = self.helper.take()
        else {
            return;
        };
        drop(socket);
        let deadline = Instant::now() + HELPER_EXIT_WAIT;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_can_be_shared_across_threads_and_executors() {
        fn send_sync<T: Send + Sync + Clone>() {}
        send_sync::<LvmClient>();
    }

    #[test]
    fn only_matching_replies_answer_a_request() {
        let vg_info = RequestBody::VgInfo { vg: "vg".into() };
        assert!(answers(&vg_info, &ResponseBody::VgInfo(None)));
        assert!(!answers(&vg_info, &ResponseBody::TagsChanged));
        assert!(!answers(&RequestBody::Ping, &ResponseBody::VgInfo(None)));
        let failed = ResponseBody::Failed(super::super::proto::Failure {
            kind: FailureKind::Command,
            code: 5,
            command: String::new(),
            output: String::new(),
        });
        assert!(answers(&vg_info, &failed));
    }

    #[test]
    fn command_errors_name_the_lvm_return_code() {
        let err = LvmError::Command {
            command: "vgchange --addtag x vg".into(),
            code: lvm2_sys::LVM2_PROCESSING_FAILED,
            output: "Volume group \"vg\" not found".into(),
        };
        assert_eq!(
            err.to_string(),
            "LVM command `vgchange --addtag x vg` failed (lvm2_run returned 5, \
             LVM2_PROCESSING_FAILED): Volume group \"vg\" not found"
        );
    }
}
