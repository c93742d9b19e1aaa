//! The `brickd` command line.

use brickd::config::ServeArgs;
use brickd::server::InitialState;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// brickd: a storage-node agent for GlusterFS-style brick hosts.
#[derive(Debug, Parser)]
#[command(name = "brickd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve glusterd's management protocol on a unix socket and TCP.
    Serve(Box<ServeArgs>),
    /// Operator commands on this node's bricks: inspect, release.
    Brick(brickd::brick::command::BrickArgs),
    /// The lock leases of a running brickd: list them, or release one.
    Locks(brickd::client::locks::LocksArgs),
    /// Pool repairs on a running brickd: reconcile a rejected peer.
    Peer(brickd::client::peer_admin::PeerArgs),
    /// The LVM helper child process (started by brickd itself, not by operators).
    #[command(name = "lvm-helper", hide = true)]
    LvmHelper(brickd::lvm::helper::HelperArgs),
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::LvmHelper(args) => brickd::lvm::helper::run(args),
        Command::Locks(args) => brickd::client::locks::run(args),
        Command::Peer(args) => brickd::client::peer_admin::run(args),
        Command::Brick(args) => {
            init_logging("warn");
            brickd::brick::command::run(args)
        }
        Command::Serve(args) => {
            init_logging(&args.log_level);
            // Finish or undo what a crashed commit left, before the workdir is read.
            if let Err(message) = recover_journal(&args.workdir) {
                eprintln!("brickd: {message}");
                return ExitCode::FAILURE;
            }
            // Load the whole workdir before anything listens: a damaged file stops the start
            // with an error naming it, and nothing runs half-loaded.
            let workdir = match brickd::store::Store::load(&args.workdir) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!(
                        "brickd: cannot load workdir {}: {e}",
                        args.workdir.display()
                    );
                    return ExitCode::FAILURE;
                }
            };
            if workdir.node_created {
                tracing::info!(uuid = %workdir.node.uuid, "new node: wrote glusterd.info");
            }
            tracing::info!(
                uuid = %workdir.node.uuid,
                peers = workdir.peers.len(),
                volumes = workdir.volumes.len(),
                "workdir loaded"
            );
            let initial = InitialState {
                node: workdir.node,
                peers: workdir.peers,
                volumes: workdir.volumes,
                global_options: workdir.global_options,
            };
            match brickd::server::run(args.server_config(initial)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("brickd: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Runs start-up recovery of the commit journal (src/ops/recover.rs) with a brick engine of
/// its own: every record left is redone, then the journal is removed. What could not be done
/// is logged as an error and the start goes on (the volume stays as recovery left it).
fn recover_journal(workdir: &std::path::Path) -> Result<(), String> {
    use brickd::brick::engine::{Engine, EngineConfig};
    use brickd::store::journal;
    let (records, tails) =
        journal::read_all(workdir).map_err(|e| format!("cannot read the commit journal: {e}"))?;
    for (path, offset, why) in &tails {
        // A record whose append never finished: its commit went no further.
        tracing::info!(path = %path.display(), offset, reason = %why, "journal ends in a cut-off record (ignored)");
    }
    if records.is_empty() {
        journal::clear(workdir).map_err(|e| format!("cannot remove the commit journal: {e}"))?;
        return brickd::store::Store::new(workdir)
            .empty_trash()
            .map_err(|e| e.to_string());
    }
    let engine = Engine::start(EngineConfig::default())
        .map_err(|e| format!("the commit journal needs the brick engine: {e}"))?;
    let lvm = if brickd::ops::recover::needs_lvm(&records) {
        brickd::lvm::LvmClient::start(brickd::lvm::LvmConfig::default()).ok()
    } else {
        None
    };
    let done = futures_lite::future::block_on(brickd::ops::recover::recover(
        workdir,
        &engine,
        lvm.as_ref(),
        &records,
    ))
    .map_err(|e| format!("recovery failed: {e}"))?;
    for r in done {
        if r.problems.is_empty() {
            tracing::info!(txn = %r.txn, outcome = %r.outcome, "recovered an interrupted commit");
        } else {
            tracing::error!(txn = %r.txn, outcome = %r.outcome, problems = ?r.problems, "interrupted commit only partly recovered");
        }
    }
    Ok(())
}
