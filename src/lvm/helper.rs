//! `brickd lvm-helper`: the child process that owns the lvm2 handle (placeholder).

use std::process::ExitCode;

/// Command-line arguments of `brickd lvm-helper`.
#[derive(Debug, clap::Args)]
pub struct HelperArgs {
    /// The inherited socket descriptor to serve requests on.
    #[arg(long)]
    pub fd: i32,
}

/// Runs the helper until its socket closes.
pub fn run(_args: HelperArgs) -> ExitCode {
    ExitCode::FAILURE
}
