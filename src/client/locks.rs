//! `brickd locks list|release NAME [--socket PATH]`: the operator's view of the lock leases of
//! a running brickd (over its unix socket, BRICKD-ADMIN), and the way to drop one that blocks
//! "Another transaction is in progress" for no good reason.

use super::admin::{call, report};
use crate::proto::admin;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `brickd locks`.
#[derive(Debug, clap::Args)]
pub struct LocksArgs {
    /// brickd's unix socket.
    #[arg(long, default_value = "local/brickd.socket")]
    pub socket: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub action: LocksAction,
}

/// `brickd locks` actions.
#[derive(Debug, clap::Subcommand)]
pub enum LocksAction {
    /// Print every lease (name, owner, transaction, holder, seconds held and left).
    List,
    /// Drop the lease on NAME (`<volname>_vol`) whoever holds it.
    Release {
        /// The lock, e.g. `v1_vol`.
        name: String,
    },
}

/// Runs `brickd locks`.
pub fn run(args: LocksArgs) -> ExitCode {
    let result = match &args.action {
        LocksAction::List => call(&args.socket, admin::PROC_LIST_LOCKS, &[]),
        LocksAction::Release { name } => {
            let mut req = Vec::new();
            admin::encode_name_req(&mut req, name);
            call(&args.socket, admin::PROC_RELEASE_LOCK, &req)
        }
    };
    report("brickd locks", result)
}
