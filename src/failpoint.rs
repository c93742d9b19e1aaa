//! Failpoints for crash tests (cargo feature `failpoints`; without it [`hit`] is an empty
//! inline function and the names cost nothing).
//!
//! With the feature, the environment variable `BRICKD_FAILPOINT=<name>[:<action>][,…]` arms
//! failpoints: when the code passes it, `kill` (the default) SIGKILLs the process on the spot,
//! as a crash or `kill -9` would; `error` makes [`hit`] return an error the caller treats like
//! a failed step; `sleep-<ms>` pauses the task there (for tests that need a transaction to be
//! in progress). The names are listed in [`NAMES`] and in docs/volumes.md.
//!
//! So that a test acts at a failpoint rather than after a guessed delay, the environment
//! variable `BRICKD_FAILPOINT_DIR=<dir>` names a directory of markers: every armed failpoint,
//! when passed, first creates `<dir>/<name>.reached`, whatever its action. Two more actions
//! use it: `pause` waits there until the test creates `<dir>/<name>.go` (without limit: the
//! test releases it or kills the process), and `mark` only leaves the marker and goes on.

/// Every failpoint, in the order a create, delete, start or stop passes them (`start.*`,
/// `stop.*`, `set.*`, `reset.*`, `global.*` and `import.*` (a volume taken from a peer) are
/// `ops::commit`'s, with the op's name); then the pool's: `txn.after-lock` (an
/// originator holding every participant's lock), `participant.*` (a peer's stage or commit
/// reaching this node), `peer.*` (a `peers/` file written).
pub const NAMES: [&str; 39] = [
    "create.before-journal",
    "create.after-journal",
    "create.after-claim",
    "create.after-publish",
    "create.before-store",
    "create.store-writing",
    "create.after-store",
    "delete.before-journal",
    "delete.after-journal",
    "delete.after-settle",
    "delete.after-move",
    "delete.after-store",
    "journal.before-retire",
    "start.after-bricks",
    "start.before-journal",
    "start.after-journal",
    "start.after-store",
    "stop.before-journal",
    "stop.after-journal",
    "stop.after-store",
    "set.before-journal",
    "set.after-journal",
    "set.after-store",
    "reset.before-journal",
    "reset.after-journal",
    "reset.after-store",
    "global.before-journal",
    "global.after-journal",
    "global.after-store",
    "import.before-journal",
    "import.after-journal",
    "import.after-store",
    "txn.after-lock",
    "participant.stage",
    "participant.commit",
    "peer.before-store",
    "peer.after-store",
    "uuid-reset.before-store",
    "uuid-reset.after-store",
];

/// What an armed failpoint asks of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Go on.
    Pass,
    /// Fail this step.
    Error,
    /// Pause this many milliseconds, then go on.
    Sleep(u64),
    /// Pause until this file exists, then go on.
    Pause(std::path::PathBuf),
}

/// How often a paused failpoint looks for its release file.
pub const PAUSE_POLL: std::time::Duration = std::time::Duration::from_millis(10);

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
    let markers = std::env::var_os("BRICKD_FAILPOINT_DIR").map(std::path::PathBuf::from);
    if let Some(dir) = &markers {
        let reached = dir.join(format!("{name}.reached"));
        if let Err(e) = std::fs::write(&reached, b"") {
            tracing::error!(failpoint = name, error = %e, path = %reached.display(), "cannot leave the failpoint's marker");
        }
    }
    match action {
        "error" => Action::Error,
        "mark" => Action::Pass,
        "pause" => match markers {
            Some(dir) => Action::Pause(dir.join(format!("{name}.go"))),
            None => {
                tracing::error!(
                    failpoint = name,
                    "pause needs BRICKD_FAILPOINT_DIR; not paused"
                );
                Action::Pass
            }
        },
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
