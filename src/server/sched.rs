//! The scheduler's latency hint for brickd's threads.
//!
//! A change crosses several threads (shard, brick engine, journal, quick lane) and each
//! cross-thread wake-up is a wait for a CPU. When other work keeps both cores busy, the
//! kernel's EEVDF scheduler (Linux 6.6 and later) lets a woken thread run once the running
//! task's slice ends: 0.7 ms × (1 + log2 CPUs) by default, 1.4 ms on two cores, per wake-up.
//! Since Linux 6.12 a task may ask for a shorter slice (`sched_setattr`, `sched_runtime` with
//! the normal policy): it gets an earlier deadline, so it preempts sooner once it wakes, and
//! is preempted sooner when it runs long. Its weight, and so its share of the CPU, is
//! unchanged. brickd's threads wake often and run briefly, so a short slice cuts their waits
//! without taking CPU from anyone. Older kernels ignore the field.
//!
//! Threads inherit the setting, so it is made once on the main thread before any other starts;
//! so does the LVM helper, a child process brickd starts (it runs briefly too).

use std::io;
use std::time::Duration;

/// The slice brickd asks for unless told otherwise (`brickd serve --sched-slice-us`).
pub const DEFAULT_SLICE: Duration = Duration::from_micros(100);

/// The kernel's bounds for a requested slice (it clamps to them).
const SLICE_MIN: Duration = Duration::from_micros(100);
const SLICE_MAX: Duration = Duration::from_millis(100);

/// `struct sched_attr`, version 0 (48 bytes), as `sched_setattr(2)` takes it.
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// What [`request_slice`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceOutcome {
    /// The request was made (`slice` after the kernel's clamp); a kernel before 6.12 accepts
    /// and ignores it.
    Asked {
        /// The slice asked for.
        slice: Duration,
    },
    /// The calling thread does not run under the normal policy (an operator chose another,
    /// e.g. with `chrt`): left alone.
    NotNormalPolicy,
}

/// The slice the kernel keeps for a request of `wanted`.
pub fn clamped(wanted: Duration) -> Duration {
    wanted.clamp(SLICE_MIN, SLICE_MAX)
}

/// Asks the scheduler for `wanted` slices on the calling thread (and every thread it starts
/// from now on), keeping its nice value. Only under the normal policy.
pub fn request_slice(wanted: Duration) -> io::Result<SliceOutcome> {
    // SAFETY: sched_getscheduler reads the calling thread's policy; no memory is passed.
    let policy = unsafe { libc::sched_getscheduler(0) };
    if policy < 0 {
        return Err(io::Error::last_os_error());
    }
    if policy != libc::SCHED_OTHER {
        return Ok(SliceOutcome::NotNormalPolicy);
    }
    // The call sets the nice value too: pass the current one. getpriority answers -1 both for
    // nice -1 and for an error, told apart by errno.
    // SAFETY: errno is this thread's; getpriority reads no memory of ours.
    let nice = unsafe {
        *libc::__errno_location() = 0;
        libc::getpriority(libc::PRIO_PROCESS, 0)
    };
    if nice == -1 && io::Error::last_os_error().raw_os_error() != Some(0) {
        return Err(io::Error::last_os_error());
    }
    let slice = clamped(wanted);
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: libc::SCHED_OTHER as u32,
        flags: 0,
        nice,
        priority: 0,
        runtime: slice.as_nanos() as u64,
        deadline: 0,
        period: 0,
    };
    // SAFETY: `attr` is a valid, fully initialised sched_attr of the size it declares, alive
    // for the call; pid 0 is the calling thread.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(SliceOutcome::Asked { slice })
}

/// The slice the kernel reports for the calling thread (`se.slice` in `/proc/thread-self/
/// sched`), when it reports one (it needs CONFIG_SCHED_DEBUG and EEVDF).
pub fn current_slice() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/sched").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("se.slice"))
        .and_then(|rest| rest.trim_start_matches([' ', ':']).trim().parse().ok())
        .map(Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_is_the_kernels_version_0() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 48);
    }

    #[test]
    fn requests_are_clamped_to_the_kernels_bounds() {
        assert_eq!(clamped(Duration::from_micros(10)), SLICE_MIN);
        assert_eq!(clamped(Duration::from_secs(1)), SLICE_MAX);
        assert_eq!(
            clamped(Duration::from_micros(300)),
            Duration::from_micros(300)
        );
    }

    /// On a thread of its own (the setting sticks to the thread and what it starts), the
    /// request keeps the nice value and, where the kernel reports slices, takes effect and is
    /// inherited by a thread started afterwards.
    #[test]
    fn a_requested_slice_keeps_nice_and_is_inherited() {
        std::thread::spawn(|| {
            // SAFETY: getpriority/setpriority on the calling thread only.
            let nice = unsafe {
                let now = libc::getpriority(libc::PRIO_PROCESS, 0);
                // One step nicer, which anyone may do (left as it is at the bottom).
                if libc::setpriority(libc::PRIO_PROCESS, 0, now + 1) == 0 {
                    now + 1
                } else {
                    now
                }
            };
            let before = current_slice();
            match request_slice(Duration::from_micros(250)) {
                Ok(SliceOutcome::Asked { slice }) => {
                    assert_eq!(slice, Duration::from_micros(250))
                }
                Ok(SliceOutcome::NotNormalPolicy) => {
                    crate::test_skip::unsupported(
                        "sched::request_slice",
                        "the test runs under another scheduling policy",
                    );
                    return;
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                    crate::test_skip::unsupported(
                        "sched::request_slice",
                        &format!("sched_setattr is not available here ({e})"),
                    );
                    return;
                }
                Err(e) => panic!("sched_setattr: {e}"),
            }
            // SAFETY: as above.
            assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, nice);
            let Some(before) = before else {
                crate::test_skip::unsupported(
                    "sched::request_slice (slice check)",
                    "this kernel reports no se.slice",
                );
                return;
            };
            let now = current_slice().expect("se.slice");
            if now == before && before != Duration::from_micros(250) {
                crate::test_skip::unsupported(
                    "sched::request_slice (slice check)",
                    "this kernel (before 6.12) ignores the request",
                );
                return;
            }
            assert_eq!(now, Duration::from_micros(250));
            let child = std::thread::spawn(current_slice).join().unwrap();
            assert_eq!(child, Some(Duration::from_micros(250)));
        })
        .join()
        .unwrap();
    }
}
