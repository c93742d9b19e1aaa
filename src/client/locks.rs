//! `brickd locks list|release NAME [--socket PATH]`: the operator's view of the lock leases of
//! a running brickd (over its unix socket, BRICKD-ADMIN), and the way to drop one that blocks
//! "Another transaction is in progress" for no good reason.

use crate::proto::admin;
use crate::proto::auth::{AUTH_GLUSTERFS_V2, CLI_CREDENTIAL_V2};
use crate::proto::calls::encode_call_record;
use crate::proto::record::RecordDecoder;
use crate::proto::rpc::{decode_reply, CallHeader, OpaqueAuth, ReplyStatus};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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

/// How long the command waits for brickd.
const TIMEOUT: Duration = Duration::from_secs(30);

fn call(socket: &PathBuf, proc_num: u32, args: &[u8]) -> Result<(i32, String), String> {
    let mut stream =
        UnixStream::connect(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut record = Vec::new();
    encode_call_record(
        &mut record,
        &CallHeader {
            xid: 1,
            prog: admin::PROGRAM,
            vers: admin::VERSION,
            proc_num,
            cred: OpaqueAuth {
                flavor: AUTH_GLUSTERFS_V2,
                body: &CLI_CREDENTIAL_V2,
            },
            verf: OpaqueAuth::NULL,
        },
        |out| out.extend_from_slice(args),
    );
    stream.write_all(&record).map_err(|e| e.to_string())?;
    let mut decoder = RecordDecoder::new(admin::TEXT_BYTES_MAX + 1024);
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("brickd closed the connection without answering".into());
        }
        pending.extend_from_slice(&buf[..n]);
        let (used, rec) = decoder.decode(&pending).map_err(|e| e.to_string())?;
        let rec = rec.map(<[u8]>::to_vec);
        pending.drain(..used);
        let Some(rec) = rec else { continue };
        let (header, results) = decode_reply(&rec).map_err(|e| e.to_string())?;
        if header.status != ReplyStatus::Success {
            return Err(format!(
                "brickd refused the call ({:?}): is this a brickd socket?",
                header.status
            ));
        }
        let (op_ret, text) = admin::decode_rsp(results).map_err(|e| e.to_string())?;
        return Ok((op_ret, text.to_string()));
    }
}

/// Runs `brickd locks`.
pub fn run(args: LocksArgs) -> ExitCode {
    let result = match &args.action {
        LocksAction::List => call(&args.socket, admin::PROC_LIST_LOCKS, &[]),
        LocksAction::Release { name } => {
            let mut req = Vec::new();
            admin::encode_release_req(&mut req, name);
            call(&args.socket, admin::PROC_RELEASE_LOCK, &req)
        }
    };
    match result {
        Ok((0, text)) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Ok((_, text)) => {
            eprintln!("brickd locks: {text}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("brickd locks: {e}");
            ExitCode::FAILURE
        }
    }
}
