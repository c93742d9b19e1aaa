//! The `brickd` command line.

use brickd::config::ServeArgs;
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
    Serve(ServeArgs),
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
        Command::Serve(args) => {
            init_logging(&args.log_level);
            match brickd::server::run(args.server_config()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("brickd: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
