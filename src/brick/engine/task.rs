//! One request with everything its SQE points to, and the three things the engine does with it:
//! build the SQE, or run the equivalent syscall, then turn the result into the caller's answer.
//!
//! Both paths produce the same `i32` (a value, or `-errno`) and share [`Task::complete`], so a
//! fallback syscall and an io_uring opcode cannot disagree on what the caller sees.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use futures_channel::oneshot;
use io_uring::{opcode, squeue, types};

use super::probe::{ProbeRequest, Step};
use super::{Fd, FsStat, Op, Stat, RW_BYTES_MAX};

/// Where the engine sends one request's answer.
pub(super) type Reply<T> = oneshot::Sender<io::Result<T>>;

/// What statx asks the kernel for: the basic fields and the mount id.
const STATX_MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_MNT_ID;

/// One operation. Every pointer an SQE carries points into a heap allocation (C string, `Vec`,
/// `Box`) owned by the task, so moving the task does not move what the kernel reads or writes.
pub(super) enum Task {
    Open {
        dir: Option<Fd>,
        path: CString,
        flags: i32,
        mode: u32,
        reply: Reply<Fd>,
    },
    Statx {
        dir: Option<Fd>,
        path: CString,
        flags: i32,
        buf: Box<libc::statx>,
        reply: Reply<Stat>,
    },
    GetXattr {
        fd: Fd,
        name: CString,
        /// Its length is the size passed to the kernel.
        buf: Vec<u8>,
        reply: Reply<Vec<u8>>,
    },
    SetXattr {
        fd: Fd,
        name: CString,
        value: Vec<u8>,
        flags: i32,
        reply: Reply<()>,
    },
    RemoveXattr {
        fd: Fd,
        name: CString,
        reply: Reply<()>,
    },
    MkDir {
        dir: Option<Fd>,
        path: CString,
        mode: u32,
        reply: Reply<()>,
    },
    Unlink {
        dir: Option<Fd>,
        path: CString,
        flags: i32,
        reply: Reply<()>,
    },
    Rename {
        old_dir: Option<Fd>,
        old: CString,
        new_dir: Option<Fd>,
        new: CString,
        reply: Reply<()>,
    },
    Write {
        fd: Fd,
        data: Vec<u8>,
        offset: u64,
        reply: Reply<usize>,
    },
    Fsync {
        fd: Fd,
        datasync: bool,
        reply: Reply<()>,
    },
    /// The engine's own close of an fd nobody else references; the kernel releases the fd
    /// whatever the result, so completion forgets the `OwnedFd` instead of closing it again.
    Close { fd: OwnedFd },
    /// `statvfs(2)`; no io_uring opcode, always a syscall on the engine thread.
    Statvfs {
        path: CString,
        buf: Box<libc::statvfs>,
        reply: Reply<FsStat>,
    },
    /// A bulk directory probe; the worker turns it into [`Step`]s and never starts it itself.
    Probe(ProbeRequest),
    /// One ring operation of a bulk probe; the worker completes it through its batches.
    Step(Step),
}

/// The SQE of `openat(dir, path, flags, mode)`.
pub(super) fn open_sqe(dir: RawFd, path: &CString, flags: i32, mode: u32) -> squeue::Entry {
    opcode::OpenAt::new(types::Fd(dir), path.as_ptr())
        .flags(flags)
        .mode(mode)
        .build()
}

/// The SQE of `statx(dir, path, flags, STATX_MASK, buf)`.
pub(super) fn statx_sqe(
    dir: RawFd,
    path: &CString,
    flags: i32,
    buf: &mut libc::statx,
) -> squeue::Entry {
    let statx_ptr: *mut libc::statx = buf;
    opcode::Statx::new(
        types::Fd(dir),
        path.as_ptr(),
        statx_ptr.cast::<types::statx>(),
    )
    .flags(flags)
    .mask(STATX_MASK)
    .build()
}

/// The SQE of `fgetxattr(fd, name, buf, buf.len())`.
pub(super) fn getxattr_sqe(fd: RawFd, name: &CString, buf: &mut [u8]) -> squeue::Entry {
    opcode::FGetXattr::new(
        types::Fd(fd),
        name.as_ptr(),
        buf.as_mut_ptr().cast(),
        u32::try_from(buf.len()).unwrap_or(u32::MAX),
    )
    .build()
}

/// `openat(2)`; the raw return (pass it through [`syscall_result`] at once).
pub(super) fn open_syscall(dir: RawFd, path: &CString, flags: i32, mode: u32) -> isize {
    // SAFETY: a live C string; a non-negative result is an fd the caller takes ownership of.
    unsafe { libc::openat(dir, path.as_ptr(), flags, mode) as isize }
}

/// `statx(2)` into `buf`; the raw return.
pub(super) fn statx_syscall(
    dir: RawFd,
    path: &CString,
    flags: i32,
    buf: &mut libc::statx,
) -> isize {
    // SAFETY: a live C string and a statx buffer the call fills.
    unsafe { libc::statx(dir, path.as_ptr(), flags, STATX_MASK, buf) as isize }
}

/// `fgetxattr(2)` into `buf`; the raw return.
pub(super) fn getxattr_syscall(fd: RawFd, name: &CString, buf: &mut [u8]) -> isize {
    // SAFETY: a live C string and a buffer of the length passed.
    unsafe { libc::fgetxattr(fd, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
}

/// The value an fgetxattr with buffer `buf` returned as `res`, or the errno.
pub(super) fn xattr_value(res: i32, mut buf: Vec<u8>) -> Result<Vec<u8>, i32> {
    match usize::try_from(res) {
        Err(_) => Err(-res),
        // Size 0 makes the kernel report the value's length instead of ERANGE.
        Ok(len) if len > buf.len() => Err(libc::ERANGE),
        Ok(len) => {
            buf.truncate(len);
            Ok(buf)
        }
    }
}

fn dir_fd(dir: &Option<Fd>) -> RawFd {
    dir.as_ref().map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd())
}

/// The result convention of a CQE: the value, or `-errno`.
pub(super) fn syscall_result(ret: isize) -> i32 {
    if ret < 0 {
        -io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    } else {
        // Every syscall here returns an fd, 0, a length capped at XATTR_SIZE_MAX, or a write
        // count capped at MAX_RW_COUNT: all fit in i32.
        i32::try_from(ret).unwrap_or(i32::MAX)
    }
}

fn unit_result(res: i32) -> io::Result<()> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(())
    }
}

/// Keeps `fd` for the engine to close if the task held the last reference to it.
pub(super) fn retire(fd: Option<Fd>, closing: &mut Vec<OwnedFd>) {
    if let Some(fd) = fd {
        if let Ok(owned) = Arc::try_unwrap(fd) {
            closing.push(owned);
        }
    }
}

/// Sends the caller its answer.
fn answer<T>(reply: Reply<T>, result: io::Result<T>) {
    // The caller may have dropped its future; the result is dropped with it.
    let _ = reply.send(result);
}

impl Task {
    /// The ring operation this task needs, `None` for one with no io_uring opcode.
    pub(super) fn op(&self) -> Option<Op> {
        match self {
            Task::Open { .. } => Some(Op::OpenAt),
            Task::Statx { .. } => Some(Op::Statx),
            Task::GetXattr { .. } => Some(Op::FGetXattr),
            Task::SetXattr { .. } => Some(Op::FSetXattr),
            Task::RemoveXattr { .. } | Task::Statvfs { .. } => None,
            Task::MkDir { .. } => Some(Op::MkDirAt),
            Task::Unlink { .. } => Some(Op::UnlinkAt),
            Task::Rename { .. } => Some(Op::RenameAt),
            Task::Write { .. } => Some(Op::Write),
            Task::Fsync { .. } => Some(Op::Fsync),
            Task::Close { .. } => Some(Op::Close),
            Task::Probe(_) => None,
            Task::Step(step) => Some(step.op()),
        }
    }

    /// A caller's request, as opposed to the engine's own close.
    pub(super) fn is_request(&self) -> bool {
        !matches!(self, Task::Close { .. } | Task::Probe(_))
    }

    /// The SQE for this task (without user_data). Its pointers stay valid as long as the task
    /// is alive and not mutated, wherever it is moved. `RemoveXattr` has no opcode and never
    /// gets here ([`Task::op`] is `None`); it builds a no-op rather than panic.
    pub(super) fn sqe(&mut self) -> squeue::Entry {
        match self {
            Task::Open {
                dir,
                path,
                flags,
                mode,
                ..
            } => open_sqe(dir_fd(dir), path, *flags, *mode),
            Task::Statx {
                dir,
                path,
                flags,
                buf,
                ..
            } => statx_sqe(dir_fd(dir), path, *flags, buf),
            Task::GetXattr { fd, name, buf, .. } => getxattr_sqe(fd.as_raw_fd(), name, buf),
            Task::SetXattr {
                fd,
                name,
                value,
                flags,
                ..
            } => opcode::FSetXattr::new(
                types::Fd(fd.as_raw_fd()),
                name.as_ptr(),
                value.as_ptr().cast(),
                u32::try_from(value.len()).unwrap_or(u32::MAX),
            )
            .flags(*flags)
            .build(),
            Task::RemoveXattr { .. } | Task::Statvfs { .. } | Task::Probe(_) => {
                opcode::Nop::new().build()
            }
            Task::Step(step) => step.sqe(),
            Task::MkDir {
                dir, path, mode, ..
            } => opcode::MkDirAt::new(types::Fd(dir_fd(dir)), path.as_ptr())
                .mode(*mode)
                .build(),
            Task::Unlink {
                dir, path, flags, ..
            } => opcode::UnlinkAt::new(types::Fd(dir_fd(dir)), path.as_ptr())
                .flags(*flags)
                .build(),
            Task::Rename {
                old_dir,
                old,
                new_dir,
                new,
                ..
            } => opcode::RenameAt::new(
                types::Fd(dir_fd(old_dir)),
                old.as_ptr(),
                types::Fd(dir_fd(new_dir)),
                new.as_ptr(),
            )
            .build(),
            Task::Write {
                fd, data, offset, ..
            } => {
                let len = data.len().min(RW_BYTES_MAX);
                opcode::Write::new(
                    types::Fd(fd.as_raw_fd()),
                    data.as_ptr(),
                    u32::try_from(len).unwrap_or(u32::MAX),
                )
                .offset(*offset)
                .build()
            }
            Task::Fsync { fd, datasync, .. } => {
                let flags = if *datasync {
                    types::FsyncFlags::DATASYNC
                } else {
                    types::FsyncFlags::empty()
                };
                opcode::Fsync::new(types::Fd(fd.as_raw_fd()))
                    .flags(flags)
                    .build()
            }
            Task::Close { fd } => opcode::Close::new(types::Fd(fd.as_raw_fd())).build(),
        }
    }

    /// Runs the task as a plain syscall on this thread; the result in the CQE convention.
    pub(super) fn syscall(&mut self) -> i32 {
        // SAFETY (every call below): pointers come from live C strings and buffers owned by
        // this task, with the lengths of those buffers; fds are kept open by the task's `Fd`s.
        let ret: isize = unsafe {
            match self {
                Task::Open {
                    dir,
                    path,
                    flags,
                    mode,
                    ..
                } => open_syscall(dir_fd(dir), path, *flags, *mode),
                Task::Statx {
                    dir,
                    path,
                    flags,
                    buf,
                    ..
                } => statx_syscall(dir_fd(dir), path, *flags, buf),
                Task::GetXattr { fd, name, buf, .. } => getxattr_syscall(fd.as_raw_fd(), name, buf),
                Task::SetXattr {
                    fd,
                    name,
                    value,
                    flags,
                    ..
                } => libc::fsetxattr(
                    fd.as_raw_fd(),
                    name.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    *flags,
                ) as isize,
                Task::RemoveXattr { fd, name, .. } => {
                    libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) as isize
                }
                Task::MkDir {
                    dir, path, mode, ..
                } => libc::mkdirat(dir_fd(dir), path.as_ptr(), *mode) as isize,
                Task::Unlink {
                    dir, path, flags, ..
                } => libc::unlinkat(dir_fd(dir), path.as_ptr(), *flags) as isize,
                Task::Rename {
                    old_dir,
                    old,
                    new_dir,
                    new,
                    ..
                } => libc::renameat(dir_fd(old_dir), old.as_ptr(), dir_fd(new_dir), new.as_ptr())
                    as isize,
                Task::Write {
                    fd, data, offset, ..
                } => libc::pwrite(
                    fd.as_raw_fd(),
                    data.as_ptr().cast(),
                    data.len().min(RW_BYTES_MAX),
                    // Checked at the API: offsets above i64::MAX never reach the engine.
                    i64::try_from(*offset).unwrap_or(i64::MAX),
                ),
                Task::Fsync { fd, datasync, .. } => {
                    if *datasync {
                        libc::fdatasync(fd.as_raw_fd()) as isize
                    } else {
                        libc::fsync(fd.as_raw_fd()) as isize
                    }
                }
                Task::Close { fd } => libc::close(fd.as_raw_fd()) as isize,
                Task::Statvfs { path, buf, .. } => {
                    libc::statvfs(path.as_ptr(), &mut **buf) as isize
                }
                // The worker never runs these as tasks (see [`Task::Probe`]).
                Task::Probe(_) => 0,
                Task::Step(step) => return step.syscall(),
            }
        };
        syscall_result(ret)
    }

    /// Answers the caller with `res` (the CQE result or [`Task::syscall`]'s). Fds the task held
    /// the last reference to, and an opened fd nobody is waiting for, go to `closing`.
    pub(super) fn complete(self, res: i32, closing: &mut Vec<OwnedFd>) {
        match self {
            Task::Open { dir, reply, .. } => {
                retire(dir, closing);
                if res < 0 {
                    answer(reply, Err(io::Error::from_raw_os_error(-res)));
                } else {
                    // SAFETY: a successful openat returns a new fd that nothing else owns.
                    let fd = Arc::new(unsafe { OwnedFd::from_raw_fd(res) });
                    if let Err(Ok(fd)) = reply.send(Ok(fd)) {
                        retire(Some(fd), closing);
                    }
                }
            }
            Task::Statx {
                dir, buf, reply, ..
            } => {
                retire(dir, closing);
                answer(reply, unit_result(res).map(|()| Stat::from_statx(&buf)));
            }
            Task::GetXattr { fd, buf, reply, .. } => {
                retire(Some(fd), closing);
                answer(
                    reply,
                    xattr_value(res, buf).map_err(io::Error::from_raw_os_error),
                );
            }
            Task::SetXattr { fd, reply, .. }
            | Task::RemoveXattr { fd, reply, .. }
            | Task::Fsync { fd, reply, .. } => {
                retire(Some(fd), closing);
                answer(reply, unit_result(res));
            }
            Task::MkDir { dir, reply, .. } | Task::Unlink { dir, reply, .. } => {
                retire(dir, closing);
                answer(reply, unit_result(res));
            }
            Task::Rename {
                old_dir,
                new_dir,
                reply,
                ..
            } => {
                retire(old_dir, closing);
                retire(new_dir, closing);
                answer(reply, unit_result(res));
            }
            Task::Write { fd, reply, .. } => {
                retire(Some(fd), closing);
                let result = match usize::try_from(res) {
                    Ok(written) => Ok(written),
                    Err(_) => Err(io::Error::from_raw_os_error(-res)),
                };
                answer(reply, result);
            }
            Task::Close { fd } => {
                if res < 0 {
                    tracing::debug!(
                        error = %io::Error::from_raw_os_error(-res),
                        "brick engine: close reported an error (the fd is released anyway)"
                    );
                }
                let _released = fd.into_raw_fd();
            }
            Task::Statvfs { buf, reply, .. } => {
                answer(
                    reply,
                    unit_result(res).map(|()| FsStat {
                        fsid: buf.f_fsid,
                        block_size: buf.f_bsize,
                        blocks: buf.f_blocks,
                        blocks_free: buf.f_bavail,
                    }),
                );
            }
            Task::Probe(request) => answer(
                request.reply,
                Err(io::Error::other("brick engine: probe completed as a task")),
            ),
            Task::Step(_) => {
                tracing::error!("brick engine: probe step completed as a task");
            }
        }
    }
}
