//! `brickd peer reconcile PEER [--socket PATH]`: makes a peer this node rejected ("Peer
//! Rejected": a volume at the same version with a different checksum on each side) a friend
//! again, by taking the peer's copies of the volumes that differ. glusterd's only way out is
//! by hand: stop the daemon, empty its working directory but `glusterd.info`, start it and
//! probe again.

use super::admin::{call, report};
use crate::proto::admin;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `brickd peer`.
#[derive(Debug, clap::Args)]
pub struct PeerArgs {
    /// brickd's unix socket.
    #[arg(long, default_value = "local/brickd.socket", global = true)]
    pub socket: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub action: PeerAction,
}

/// `brickd peer` actions.
#[derive(Debug, clap::Subcommand)]
pub enum PeerAction {
    /// Replace this node's copies of the volumes it rejected PEER over with PEER's (and take
    /// what else PEER's last friend request carried, as an accepted one would), then send PEER
    /// this node's volumes again: both sides are friends once they agree.
    Reconcile {
        /// The peer: a host name it is known by here, or its UUID.
        peer: String,
    },
}

/// Runs `brickd peer`.
pub fn run(args: PeerArgs) -> ExitCode {
    let result = match &args.action {
        PeerAction::Reconcile { peer } => {
            let mut req = Vec::new();
            admin::encode_name_req(&mut req, peer);
            call(&args.socket, admin::PROC_RECONCILE_PEER, &req)
        }
    };
    report("brickd peer", result)
}
