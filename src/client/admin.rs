//! The operator commands' side of BRICKD-ADMIN (`brickd locks`, `brickd peer`): one call over
//! brickd's unix socket, and its answer printed.

use crate::proto::admin;
use crate::proto::auth::{AUTH_GLUSTERFS_V2, CLI_CREDENTIAL_V2};
use crate::proto::calls::encode_call_record;
use crate::proto::record::RecordDecoder;
use crate::proto::rpc::{decode_reply, CallHeader, OpaqueAuth, ReplyStatus};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// How long a command waits for brickd (a reconcile imports volumes and calls the peer).
const TIMEOUT: Duration = Duration::from_secs(120);

/// Calls procedure `proc_num` of BRICKD-ADMIN with `args` over brickd's unix socket `socket`;
/// answers the reply's `op_ret` and text.
pub fn call(socket: &Path, proc_num: u32, args: &[u8]) -> Result<(i32, String), String> {
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
        // brickd calls every client on its socket when a volume changes (FETCHSPEC, message
        // type 0 = CALL): not the answer.
        if rec.get(4..8) == Some(&[0, 0, 0, 0][..]) {
            continue;
        }
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

/// Prints an answer (the text on stdout when `op_ret` is 0, else on stderr after `command`)
/// and gives the exit code.
pub fn report(command: &str, result: Result<(i32, String), String>) -> ExitCode {
    match result {
        Ok((0, text)) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Ok((_, text)) => {
            eprintln!("{command}: {text}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{command}: {e}");
            ExitCode::FAILURE
        }
    }
}
