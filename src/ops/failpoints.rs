//! Failpoints as a transaction step sees them (`crate::failpoint`): an armed `error` fails the
//! step, `sleep-<ms>` and `pause` pause it without blocking the shard.

use crate::cluster::txn::TxnError;
use crate::failpoint::{self, Action};

/// Passes failpoint `name`.
pub(super) async fn pass(name: &str) -> Result<(), TxnError> {
    match failpoint::hit(name) {
        Action::Pass => Ok(()),
        Action::Error => Err(TxnError::new(format!("failpoint {name}"))),
        Action::Sleep(ms) => {
            // A timer thread, so the pause works on any executor and blocks no shard.
            let (done, wait) = futures_channel::oneshot::channel::<()>();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                let _ = done.send(());
            });
            let _ = wait.await;
            Ok(())
        }
        Action::Pause(go) => {
            // As for a sleep: a thread waits, the task awaits it.
            let (done, wait) = futures_channel::oneshot::channel::<()>();
            std::thread::spawn(move || {
                wait_for(&go);
                let _ = done.send(());
            });
            let _ = wait.await;
            Ok(())
        }
    }
}

/// Blocks until file `go` exists (the test's release of a paused failpoint).
fn wait_for(go: &std::path::Path) {
    while !go.exists() {
        std::thread::sleep(failpoint::PAUSE_POLL);
    }
}

/// Passes failpoint `name` on a plain thread (a script or journal thread, not a shard):
/// `sleep-<ms>` blocks that thread.
pub(super) fn pass_on_thread(name: &str) -> Result<(), String> {
    match failpoint::hit(name) {
        Action::Pass => Ok(()),
        Action::Error => Err(format!("failpoint {name}")),
        Action::Sleep(ms) => {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            Ok(())
        }
        Action::Pause(go) => {
            wait_for(&go);
            Ok(())
        }
    }
}
