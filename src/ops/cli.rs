//! GLUSTER_CLI_PROGRAM 1238463 v2 as an RPC program: which procedures each listener offers and
//! how each call is answered.
//!
//! The unix socket carries glusterd's full table and TCP its read-only subset (reference §3.2;
//! the admin procedures are never offered on TCP: CVE-2018-10841). A procedure brickd has not
//! implemented yet still answers, with op_ret -1 and an op_errstr that says so, so the CLI
//! prints `<command>: failed: …` at once instead of an empty line or a time-out.

use super::cmd_log::Style;
use super::shard::ShardState;
use super::volume_create::CliAnswer;
use super::{
    peer_list, volume_create, volume_delete, volume_info, volume_options, volume_start,
    volume_status,
};
use crate::program::LaterReply;
use crate::program::{CallContext, Outcome, Program};
use crate::proto::cli::{self, CliRsp};
use crate::proto::dict::Dict;
use crate::proto::dict::DictLimits;
use crate::proto::programs::names;
use crate::proto::rpc::ReplyStatus;
use std::rc::Rc;

/// errno brickd answers for a procedure it does not implement (ENOSYS).
pub const ENOSYS: i32 = 38;

/// Which of glusterd's two CLI actor tables a listener gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliTable {
    /// The full table, for the unix socket.
    Full,
    /// The read-only subset, for TCP.
    ReadOnly,
}

/// The CLI program for one listener.
pub struct CliProgram {
    table: CliTable,
    state: Rc<ShardState>,
}

impl CliProgram {
    /// The program serving `table` for this shard.
    pub fn shared(table: CliTable, state: Rc<ShardState>) -> Rc<dyn Program> {
        Rc::new(CliProgram { table, state })
    }

    fn offers(&self, proc_num: u32) -> bool {
        cli::PROCEDURES
            .get(proc_num as usize)
            .is_some_and(|&(_, _, uds, tcp)| match self.table {
                CliTable::Full => uds,
                CliTable::ReadOnly => tcp,
            })
    }
}

/// Encodes a `gf_cli_rsp` with an optional dict.
fn encode_rsp(out: &mut Vec<u8>, op_ret: i32, op_errno: i32, op_errstr: &str, dict: Option<&Dict>) {
    let mut bytes = Vec::new();
    if let Some(d) = dict {
        d.encode(&mut bytes);
    }
    cli::encode_cli_rsp(
        out,
        &CliRsp {
            op_ret,
            op_errno,
            op_errstr,
            dict: &bytes,
        },
    );
}

/// The CLI's text of the command (`cmd-str`), if the request carries one.
fn command_text(dict_bytes: &[u8]) -> Option<String> {
    let dict = Dict::decode(dict_bytes, DictLimits::default()).ok()??;
    dict.get_str("cmd-str").ok().map(str::to_owned)
}

/// Logs a command's outcome in `cmd_history.log`, as glusterd does for the commands that
/// change something and for `volume status`.
fn log_command(
    state: &ShardState,
    command: Option<&str>,
    op_ret: i32,
    op_errstr: &str,
    style: Style,
) {
    if let Some(command) = command {
        state.node.cmd_log.record(command, op_ret, op_errstr, style);
    }
}

/// A `volume status` answer made after the call returned: logged, then encoded.
fn status_reply(
    state: &ShardState,
    command: Option<&str>,
    r: &volume_status::StatusReply,
) -> LaterReply {
    log_command(state, command, r.op_ret, &r.op_errstr, Style::Plain);
    let mut body = Vec::new();
    encode_rsp(&mut body, r.op_ret, r.op_errno, &r.op_errstr, Some(&r.dict));
    LaterReply {
        status: ReplyStatus::Success,
        body,
    }
}

/// The request's dict, or (after encoding the failure reply into `out`) `None`.
fn request_dict(bytes: &[u8], out: &mut Vec<u8>) -> Option<Dict> {
    match Dict::decode(bytes, DictLimits::default()) {
        Ok(d) => Some(d.unwrap_or_default()),
        Err(e) => {
            encode_rsp(out, -1, 0, &format!("malformed request dict: {e}"), None);
            None
        }
    }
}

/// A `gf_cli_rsp` reply for an asynchronous answer.
fn later_rsp(answer: &CliAnswer) -> LaterReply {
    let mut body = Vec::new();
    encode_rsp(
        &mut body,
        answer.op_ret,
        answer.op_errno,
        &answer.op_errstr,
        Some(&answer.dict),
    );
    LaterReply {
        status: ReplyStatus::Success,
        body,
    }
}

/// The op_errstr for a procedure brickd does not implement yet.
pub fn not_implemented_message(proc_name: &str) -> String {
    format!("brickd does not implement the CLI procedure {proc_name} yet")
}

impl Program for CliProgram {
    fn name(&self) -> &'static str {
        match self.table {
            CliTable::Full => names::CLI,
            CliTable::ReadOnly => names::CLI_READ_ONLY,
        }
    }
    fn number(&self) -> u32 {
        cli::PROGRAM
    }
    fn version(&self) -> u32 {
        cli::VERSION
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        // NULL answers on every program (docs/rpc-deviations.md); the rest follow glusterd's
        // tables.
        if proc_num == 0 {
            return Some("NULL");
        }
        if self.offers(proc_num) {
            cli::procedure_name(proc_num)
        } else {
            None
        }
    }
    fn call(
        &self,
        _ctx: &CallContext<'_>,
        proc_num: u32,
        args: &[u8],
        out: &mut Vec<u8>,
    ) -> Outcome {
        let name = match cli::procedure_name(proc_num) {
            Some(n) => n,
            None => return Outcome::Now(ReplyStatus::ProcUnavail),
        };
        match proc_num {
            0 => Outcome::Now(ReplyStatus::Success),
            cli::PROC_GETWD => {
                if cli::decode_getwd_req(args).is_err() {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                }
                let wd = self.state.node.workdir.to_string_lossy();
                cli::encode_getwd_rsp(out, 0, 0, &wd);
                Outcome::Now(ReplyStatus::Success)
            }
            cli::PROC_LIST_FRIENDS => {
                let Ok((flags, _)) = cli::decode_peer_list_req(args) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                let node = &self.state.node;
                let friends = peer_list::friends_dict(&node.node.info(), &node.peers.load(), flags);
                let mut bytes = Vec::with_capacity(friends.encoded_len());
                friends.encode(&mut bytes);
                cli::encode_peer_list_rsp(out, 0, 0, &bytes);
                Outcome::Now(ReplyStatus::Success)
            }
            cli::PROC_UUID_GET => {
                if cli::decode_cli_req(args).is_err() {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                }
                let mut dict = Dict::new();
                dict.set_str("uuid", &self.state.node.node.uuid().to_string());
                encode_rsp(out, 0, 0, "", Some(&dict));
                Outcome::Now(ReplyStatus::Success)
            }
            cli::PROC_GET_VOLUME => {
                let Ok(dict_bytes) = cli::decode_cli_req(args) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                match volume_info::parse_request(dict_bytes) {
                    Ok(request) => {
                        let one = matches!(request, volume_info::GetVolume::One(_));
                        let catalog = self.state.catalog();
                        let found = volume_info::lookup(&catalog, request);
                        let dict =
                            volume_info::reply_dict(found.as_deref(), catalog.global_options());
                        if found.is_none() && one {
                            encode_rsp(
                                out,
                                -1,
                                volume_info::EG_NOVOL,
                                "Volume does not exist",
                                Some(&dict),
                            );
                        } else {
                            encode_rsp(out, 0, 0, "", Some(&dict));
                        }
                    }
                    Err(e) => encode_rsp(out, -1, 0, &e.to_string(), None),
                }
                Outcome::Now(ReplyStatus::Success)
            }
            cli::PROC_LIST_VOLUME => {
                if cli::decode_cli_req(args).is_err() {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                }
                let dict = volume_info::list_dict(&self.state.catalog());
                encode_rsp(out, 0, 0, "", Some(&dict));
                Outcome::Now(ReplyStatus::Success)
            }
            cli::PROC_STATUS_VOLUME => {
                let Ok(dict_bytes) = cli::decode_cli_req(args) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                let command = command_text(dict_bytes);
                if volume_status::needs_peers(&self.state, dict_bytes) {
                    // Bricks on other nodes: theirs are asked from the change shard, where the
                    // links to the peers live.
                    let (state, request) = (self.state.clone(), dict_bytes.to_vec());
                    return Outcome::Later(Box::pin(async move {
                        let r = state
                            .run_on(super::shard::CHANGE_SHARD, move |s| async move {
                                volume_status::pool_status(&s, &request).await
                            })
                            .await
                            .unwrap_or_else(|e| volume_status::StatusReply {
                                op_ret: -1,
                                op_errno: 0,
                                op_errstr: e.to_string(),
                                dict: Dict::new(),
                            });
                        status_reply(&state, command.as_deref(), &r)
                    }));
                }
                if let Some(what) = volume_status::to_gather(&self.state, dict_bytes) {
                    // `detail` reads each brick's file system, `clients` asks each brick: on
                    // a thread, off the shard.
                    let (state, request) = (self.state.clone(), dict_bytes.to_vec());
                    return Outcome::Later(Box::pin(async move {
                        let (tx, rx) = futures_channel::oneshot::channel();
                        let spawned = std::thread::Builder::new()
                            .name("brickd-status".into())
                            .spawn(move || {
                                let _ = tx.send(volume_status::gather(what));
                            });
                        let gathered = match spawned {
                            Ok(_) => rx.await.unwrap_or_default(),
                            Err(_) => volume_status::Gathered::default(),
                        };
                        let r = volume_status::answer_with(&state, &request, &gathered);
                        status_reply(&state, command.as_deref(), &r)
                    }));
                }
                let r = volume_status::answer(&self.state, dict_bytes);
                log_command(
                    &self.state,
                    command.as_deref(),
                    r.op_ret,
                    &r.op_errstr,
                    Style::Plain,
                );
                encode_rsp(out, r.op_ret, r.op_errno, &r.op_errstr, Some(&r.dict));
                Outcome::Now(ReplyStatus::Success)
            }
            cli::PROC_GET_VOL_OPT => {
                let Ok(dict_bytes) = cli::decode_cli_req(args) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                let Some(request) = request_dict(dict_bytes, out) else {
                    return Outcome::Now(ReplyStatus::Success);
                };
                let catalog = self.state.catalog();
                let answer = if request.get_str("volname").ok() == Some("all") {
                    let op_version = self.state.node.node.op_version;
                    volume_options::get_global(catalog.global_options(), op_version, request)
                } else {
                    volume_options::get(&catalog, self.state.node.node.op_version, request)
                };
                encode_rsp(
                    out,
                    answer.op_ret,
                    answer.op_errno,
                    &answer.op_errstr,
                    Some(&answer.dict),
                );
                Outcome::Now(ReplyStatus::Success)
            }
            cli::PROC_CREATE_VOLUME
            | cli::PROC_SET_VOLUME
            | cli::PROC_RESET_VOLUME
            | cli::PROC_DELETE_VOLUME
            | cli::PROC_START_VOLUME
            | cli::PROC_STOP_VOLUME
            | cli::PROC_PROBE
            | cli::PROC_DEPROBE
            | cli::PROC_UUID_RESET => {
                let Ok(dict_bytes) = cli::decode_cli_req(args) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                let Some(request) = request_dict(dict_bytes, out) else {
                    return Outcome::Now(ReplyStatus::Success);
                };
                let state = self.state.clone();
                let command = request.get_str("cmd-str").ok().map(str::to_owned);
                Outcome::Later(Box::pin(async move {
                    let logger = state.clone();
                    let answer = match proc_num {
                        cli::PROC_CREATE_VOLUME => volume_create::handle(state, request).await,
                        cli::PROC_PROBE => super::pool::handle_probe(state, request).await,
                        cli::PROC_DEPROBE => super::pool::handle_deprobe(state, request).await,
                        cli::PROC_UUID_RESET => super::uuid_reset::handle(state, request).await,
                        cli::PROC_DELETE_VOLUME => volume_delete::handle(state, request).await,
                        cli::PROC_SET_VOLUME => volume_options::handle_set(state, request).await,
                        cli::PROC_RESET_VOLUME => {
                            volume_options::handle_reset(state, request).await
                        }
                        cli::PROC_START_VOLUME => {
                            volume_start::handle(state, request, volume_start::Action::Start).await
                        }
                        _ => volume_start::handle(state, request, volume_start::Action::Stop).await,
                    };
                    let style = match proc_num {
                        cli::PROC_PROBE | cli::PROC_DEPROBE => Style::Peer,
                        _ => Style::Plain,
                    };
                    log_command(
                        &logger,
                        command.as_deref(),
                        answer.op_ret,
                        &answer.op_errstr,
                        style,
                    );
                    later_rsp(&answer)
                }))
            }
            cli::PROC_MOUNT => {
                if cli::decode_mount_req(args).is_err() {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                }
                cli::encode_mount_rsp(out, -1, ENOSYS, "");
                Outcome::Now(ReplyStatus::Success)
            }
            cli::PROC_UMOUNT => {
                if cli::decode_umount_req(args).is_err() {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                }
                cli::encode_umount_rsp(out, -1, ENOSYS);
                Outcome::Now(ReplyStatus::Success)
            }
            cli::PROC_FSM_LOG => {
                let Ok(name) = cli::decode_fsm_log_req(args) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                // brickd runs no op or friend state machine yet, so every log is empty: for
                // this node (empty name) glusterd sends a dict with no pairs, for a peer with
                // no transitions `count`=0.
                let mut log = Dict::new();
                if !name.is_empty() {
                    let known = self.state.node.peers.load().peers.iter().any(|p| {
                        p.peer.hostnames.iter().any(|h| h == name)
                            || p.peer.uuid.to_string() == name
                    });
                    if !known {
                        let message = format!("{name} is not a peer of this node");
                        cli::encode_fsm_log_rsp(out, -1, 0, &message, &[]);
                        return Outcome::Now(ReplyStatus::Success);
                    }
                    log.set_u32("count", 0);
                }
                let mut bytes = Vec::new();
                log.encode(&mut bytes);
                cli::encode_fsm_log_rsp(out, 0, 0, "", &bytes);
                Outcome::Now(ReplyStatus::Success)
            }
            _ => {
                if cli::decode_cli_req(args).is_err() {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                }
                cli::encode_cli_rsp(
                    out,
                    &CliRsp {
                        op_ret: -1,
                        op_errno: ENOSYS,
                        op_errstr: &not_implemented_message(name),
                        dict: &[],
                    },
                );
                Outcome::Now(ReplyStatus::Success)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::Transport;
    use crate::proto::auth::Credential;

    fn program(table: CliTable) -> Rc<dyn Program> {
        CliProgram::shared(table, crate::ops::shard::tests::lone_shard())
    }

    fn call(p: &dyn Program, proc_num: u32, args: &[u8]) -> (ReplyStatus, Vec<u8>) {
        let cred = Credential::Null;
        let ctx = CallContext {
            shard: 0,
            connection: 0,
            transport: Transport::Unix,
            credential: &cred,
        };
        let mut out = Vec::new();
        match p.call(&ctx, proc_num, args, &mut out) {
            Outcome::Now(s) => (s, out),
            Outcome::Later(_) => panic!("CLI procedures answer at once for now"),
        }
    }

    #[test]
    fn tcp_offers_only_the_read_only_subset() {
        let p = program(CliTable::ReadOnly);
        assert_eq!(p.procedure_name(26), Some("GETWD"));
        assert_eq!(p.procedure_name(4), None, "CREATE_VOLUME never on TCP");
        assert_eq!(
            p.procedure_name(21),
            None,
            "FSM_LOG is not read-only in glusterd"
        );
        assert_eq!(p.name(), "GlusterD svc cli read-only");
        let full = program(CliTable::Full);
        assert_eq!(full.procedure_name(4), Some("CREATE_VOLUME"));
        assert_eq!(full.procedure_name(6), None, "GET_NEXT_VOLUME has no actor");
        assert_eq!(full.procedure_name(0), Some("NULL"));
        assert_eq!(full.procedure_name(50), None);
    }

    #[test]
    fn unimplemented_procedures_say_so() {
        let p = program(CliTable::Full);
        let mut args = Vec::new();
        cli::encode_cli_req(&mut args, &[]);
        let (status, body) = call(p.as_ref(), 47, &args);
        assert_eq!(status, ReplyStatus::Success);
        let rsp = cli::decode_cli_rsp(&body).unwrap();
        assert_eq!((rsp.op_ret, rsp.op_errno), (-1, ENOSYS));
        assert_eq!(
            rsp.op_errstr,
            "brickd does not implement the CLI procedure RESET_BRICK yet"
        );
    }

    #[test]
    fn getwd_answers_the_workdir() {
        let p = program(CliTable::ReadOnly);
        let (status, body) = call(p.as_ref(), cli::PROC_GETWD, &[0, 0, 0, 0]);
        assert_eq!(status, ReplyStatus::Success);
        assert_eq!(&body[8..12], &[0, 0, 0, 15]);
        assert_eq!(&body[12..27], b"/var/lib/glustr");
    }

    #[test]
    fn malformed_arguments_are_garbage_args() {
        let p = program(CliTable::Full);
        for proc_num in [3, 4, 5, 21, 26, 29, 30, 33, 36] {
            assert_eq!(
                call(p.as_ref(), proc_num, &[0, 0]).0,
                ReplyStatus::GarbageArgs,
                "{proc_num}"
            );
        }
    }
}
