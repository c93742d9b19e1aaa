//! A timer with microsecond resolution for the open-loop schedule.
//!
//! epoll's own timeout counts whole milliseconds, which would send an open-loop schedule out in
//! bursts of a millisecond's worth of calls. A timerfd registered with the poller wakes the
//! thread at the next due call instead (to within the kernel's timer slack, 50 µs by default).

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// A non-blocking CLOCK_MONOTONIC timerfd.
#[derive(Debug)]
pub struct Pacer {
    fd: OwnedFd,
}

impl Pacer {
    /// Creates the timer and registers it with `registry` under `token`.
    pub fn new(registry: &Registry, token: Token) -> io::Result<Pacer> {
        // SAFETY: timerfd_create takes no pointers; the result is checked before use.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(Pacer { fd })
    }

    /// Fires once after `delay` (at least one nanosecond), replacing any earlier setting.
    pub fn arm(&self, delay: Duration) -> io::Result<()> {
        let delay = delay.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: delay.as_secs() as libc::time_t,
                tv_nsec: delay.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: `spec` is a valid itimerspec for the call's duration; the old-value pointer
        // may be null.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consumes an expiry so the next one raises a new edge.
    pub fn acknowledge(&self) {
        let mut expirations = [0u8; 8];
        // SAFETY: the buffer is 8 writable bytes, the size a timerfd read needs. EAGAIN (no
        // expiry pending) is fine and ignored.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                expirations.as_mut_ptr().cast(),
                expirations.len(),
            );
        }
    }
}
