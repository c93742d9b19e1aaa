//! Failpoints for crash tests (cargo feature `failpoints`; without it [`hit`] is an empty
//! inline function and the names cost nothing).
//!
//! With the feature, the environment variable `BRICKD_FAILPOINT=<name>[:<action>][,…]` arms
//! failpoints: when the code passes it, `kill` (the default) SIGKILLs the process on the spot,
//! as a crash or `kill -9` would; `error` makes [`hit`] return an error the caller treats like
//! a failed step; `sleep-<ms>` pauses the task there (for tests that need a transaction to be
//! in progress). The names are listed in [`NAMES`] and in docs/volumes.md.

/// Every failpoint, in the order a create or delete passes them.
pub const NAMES: [&str; 12] = [
    "create.before-journal",
    "create.after-journal",
    "create.after-claim",
    "create.after-publish",
    "create.before-store",
    "create.store-writing",
    "create.after-store",
    "delete.before-journal",
    "delete.after-journal",
    "delete.after-move",
    "delete.after-store",
    "journal.before-retire",
];

/// What an armed failpoint asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Go on.
    Pass,
    /// Fail this step.
    Error,
    /// Pause this many milliseconds, then go on.
    Sleep(u64),
}

/// Passes failpoint `name`: kills the process, or says what to do.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) -> Action {
    let Ok(armed) = std::env::var("BRICKD_FAILPOINT") else {
        return Action::Pass;
    };
    // Several may be armed, comma-separated.
    let Some((_, action)) = armed
        .split(',')
        .map(|one| one.split_once(':').unwrap_or((one, "kill")))
        .find(|(point, _)| *point == name)
    else {
        return Action::Pass;
    };
    tracing::warn!(failpoint = name, action, "failpoint hit");
    match action {
        "error" => Action::Error,
        other => match other.strip_prefix("sleep-").and_then(|ms| ms.parse().ok()) {
            Some(ms) => Action::Sleep(ms),
            None => {
                // SAFETY: signalling our own process; SIGKILL cannot be caught, so nothing of
                // ours runs after it, exactly like a crash.
                unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
                Action::Pass
            }
        },
    }
}

/// Passes failpoint `name` (the feature is off: nothing happens).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) -> Action {
    Action::Pass
}
