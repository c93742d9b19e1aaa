//! `brickd lvm-helper`: the child process that owns the lvm2 handle.
//!
//! It loads liblvm2cmd with `dlopen` (never the serving brickd process: the library is not
//! thread-safe, mlocks the process in its critical sections and renices it), calls `lvm2_init`
//! once, and then serves one request at a time over the socket it inherited (`--fd`), until
//! the socket closes. Each request becomes at most one `lvm2_run` command line, built by
//! [`report`](super::report) from checked names only; LVM's messages for that command are
//! captured through the log callback and parsed or sent back.
//!
//! It prints nothing on stdout (LVM's output goes to the callback); its own diagnostics go to
//! stderr, which it shares with brickd.

use super::proto::{
    frame_payload_len, Failure, FailureKind, Request, RequestBody, Response, ResponseBody,
    FRAME_HEADER_BYTES,
};
use super::report::{parse_vg_report, says_vg_not_found, vgchange_tags_command, vgs_command};
use lvm2_sys::{Lvm2Cmd, LVM2CMD_SONAME, LVM2_COMMAND_SUCCEEDED, LVM2_LOG_PRINT};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::ptr::NonNull;
use std::sync::Mutex;

/// Command-line arguments of `brickd lvm-helper`.
#[derive(Debug, clap::Args)]
pub struct HelperArgs {
    /// The inherited socket descriptor to serve requests on.
    #[arg(long)]
    pub fd: i32,
}

/// The most LVM message lines kept for one command; later lines are counted, not kept.
const CAPTURED_LINES_MAX: usize = 256;

/// The most bytes of LVM messages kept for one command (the reply must fit in one frame).
const CAPTURED_BYTES_MAX: usize = 16 * 1024;

/// Runs the helper until its socket closes: success on a clean close, failure when the socket
/// is unusable or the client breaks the protocol.
pub fn run(args: HelperArgs) -> ExitCode {
    let stream = match adopt_socket(args.fd) {
        Ok(stream) => stream,
        Err(err) => {
            eprintln!("brickd lvm-helper: --fd {}: {err}", args.fd);
            return ExitCode::FAILURE;
        }
    };
    let lvm = Lvm::open();
    if let Err(reason) = &lvm {
        eprintln!("brickd lvm-helper: {reason}");
    }
    match serve(stream, lvm.as_ref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("brickd lvm-helper: {err}");
            ExitCode::FAILURE
        }
    }
}

fn adopt_socket(fd: i32) -> io::Result<UnixStream> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_GETFD only reads the descriptor flags; it fails with EBADF on a closed fd.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open (checked above) and was handed to this process to own.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let stream = UnixStream::from(owned);
    // Not ours to leak into anything LVM may exec.
    // SAFETY: F_SETFD on an fd we own.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok(stream)
}

fn serve(mut stream: UnixStream, lvm: Result<&Lvm, &String>) -> io::Result<()> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    let mut out = Vec::new();
    loop {
        if !read_header(&mut stream, &mut header)? {
            return Ok(());
        }
        let payload_bytes = frame_payload_len(header).map_err(protocol_error)?;
        let mut payload = vec![0u8; payload_bytes];
        stream.read_exact(&mut payload)?;
        let request = Request::decode(&payload).map_err(protocol_error)?;
        let response = Response {
            id: request.id,
            body: handle(lvm, request.body),
        };
        out.clear();
        if let Err(err) = response.encode_frame(&mut out) {
            let failed = Response {
                id: request.id,
                body: failed(FailureKind::BadReport, 0, "", err.to_string()),
            };
            failed.encode_frame(&mut out).map_err(protocol_error)?;
        }
        stream.write_all(&out)?;
    }
}

/// Reads a frame header; `false` on a clean end of stream before its first byte.
fn read_header(stream: &mut UnixStream, header: &mut [u8; FRAME_HEADER_BYTES]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < header.len() {
        match stream.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(true)
}

fn protocol_error(err: super::proto::ProtoError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err)
}

fn failed(kind: FailureKind, code: i32, command: &str, output: String) -> ResponseBody {
    ResponseBody::Failed(Failure {
        kind,
        code,
        command: command.to_owned(),
        output,
    })
}

fn handle(lvm: Result<&Lvm, &String>, request: RequestBody) -> ResponseBody {
    match (request, lvm) {
        (RequestBody::Ping, _) => ResponseBody::Pong {
            pid: std::process::id(),
        },
        (_, Err(reason)) => failed(FailureKind::Unavailable, 0, "", reason.clone()),
        (RequestBody::VgInfo { vg }, Ok(lvm)) => vg_info(lvm, &vg),
        (RequestBody::ChangeTags { vg, add, delete }, Ok(lvm)) => {
            change_tags(lvm, &vg, &add, &delete)
        }
    }
}

fn vg_info(lvm: &Lvm, vg: &str) -> ResponseBody {
    let command = match vgs_command(vg) {
        Ok(command) => command,
        Err(problem) => return failed(FailureKind::Refused, 0, "", problem.to_string()),
    };
    let (code, messages) = lvm.run(&command);
    if code == LVM2_COMMAND_SUCCEEDED {
        match parse_vg_report(&messages, vg) {
            Some(info) => ResponseBody::VgInfo(Some(info)),
            None => failed(FailureKind::BadReport, code, &command, messages.join("\n")),
        }
    } else if says_vg_not_found(&messages, vg) {
        ResponseBody::VgInfo(None)
    } else {
        failed(FailureKind::Command, code, &command, messages.join("\n"))
    }
}

fn change_tags(lvm: &Lvm, vg: &str, add: &[String], delete: &[String]) -> ResponseBody {
    let command = match vgchange_tags_command(vg, add, delete) {
        Ok(command) => command,
        Err(problem) => return failed(FailureKind::Refused, 0, "", problem.to_string()),
    };
    let (code, messages) = lvm.run(&command);
    if code == LVM2_COMMAND_SUCCEEDED {
        ResponseBody::TagsChanged
    } else {
        failed(FailureKind::Command, code, &command, messages.join("\n"))
    }
}

/// LVM's messages of the command being run, filled by [`capture_log_line`].
struct Captured {
    lines: Vec<String>,
    bytes: usize,
    dropped: usize,
}

static CAPTURED: Mutex<Captured> = Mutex::new(Captured {
    lines: Vec::new(),
    bytes: 0,
    dropped: 0,
});

fn captured() -> std::sync::MutexGuard<'static, Captured> {
    CAPTURED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The log callback given to `lvm2_log_fn`: keeps messages up to `LVM2_LOG_PRINT` (errors,
/// warnings and printed output such as report lines), drops verbose and debug ones.
///
/// With a callback installed LVM sends every message here, whatever `lvm2_log_level` says,
/// and prints nothing itself.
unsafe extern "C" fn capture_log_line(
    level: c_int,
    _file: *const c_char,
    _line: c_int,
    _dm_errno: c_int,
    message: *const c_char,
) {
    // The low bits are the level; LVM may or each level with flags (stderr, once, ...).
    if level & 0x0f > LVM2_LOG_PRINT || message.is_null() {
        return;
    }
    // SAFETY: LVM passes a NUL-terminated message that lives for the duration of the call.
    let message = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    let mut captured = captured();
    if captured.lines.len() >= CAPTURED_LINES_MAX
        || captured.bytes + message.len() > CAPTURED_BYTES_MAX
    {
        captured.dropped += 1;
        return;
    }
    captured.bytes += message.len();
    captured.lines.push(message.into_owned());
}

/// liblvm2cmd, loaded, with its handle.
struct Lvm {
    lib: Lvm2Cmd,
    handle: NonNull<c_void>,
}

impl Lvm {
    fn open() -> Result<Lvm, String> {
        // SAFETY: this process exists to host liblvm2cmd; it is loaded once, from this thread.
        let lib = unsafe { Lvm2Cmd::load() }.map_err(|err| {
            format!(
                "cannot load {LVM2CMD_SONAME} ({err}); install LVM2's command library \
                 (Debian/Ubuntu: liblvm2cmd2.03, pulled in by lvm2)"
            )
        })?;
        // SAFETY: the callback matches lvm2_log_fn_t and never unwinds.
        unsafe { lib.lvm2_log_fn(Some(capture_log_line)) };
        // SAFETY: lvm2_init takes no arguments; a null result is handled below.
        let handle = NonNull::new(unsafe { lib.lvm2_init() }).ok_or_else(|| {
            let output = take_captured().join("\n");
            format!("lvm2_init failed: {output}")
        })?;
        // SAFETY: the handle was just returned by lvm2_init. Tag and report commands never
        // need dmeventd; the helper must not start or talk to it.
        unsafe { lib.lvm2_disable_dmeventd_monitoring(handle.as_ptr()) };
        take_captured();
        Ok(Lvm { lib, handle })
    }

    /// Runs one command line; returns `lvm2_run`'s code and LVM's captured messages.
    fn run(&self, command: &str) -> (c_int, Vec<String>) {
        let Ok(line) = CString::new(command) else {
            return (
                lvm2_sys::LVM2_INVALID_PARAMETERS,
                vec!["command line holds a NUL byte".to_owned()],
            );
        };
        take_captured();
        // SAFETY: the handle is live until Drop; `line` is NUL-terminated and outlives the
        // call; lvm2_run copies what it keeps.
        let code = unsafe { self.lib.lvm2_run(self.handle.as_ptr(), line.as_ptr()) };
        (code, take_captured())
    }
}

impl Drop for Lvm {
    fn drop(&mut self) {
        // SAFETY: the handle came from lvm2_init and is released once.
        unsafe { self.lib.lvm2_exit(self.handle.as_ptr()) };
    }
}

fn take_captured() -> Vec<String> {
    let mut captured = captured();
    let mut lines = std::mem::take(&mut captured.lines);
    if captured.dropped > 0 {
        lines.push(format!("({} more messages not kept)", captured.dropped));
    }
    captured.bytes = 0;
    captured.dropped = 0;
    lines
}
