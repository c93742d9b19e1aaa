//! The program registry: which RPC programs a listener serves and how a call reaches one.
//!
//! Each listener has its own [`ProgramTable`] (glusterd's TCP and unix listeners carry different
//! sets, reference §3.1). The table answers the dispatch questions the RPC layer asks:
//! PROG_UNAVAIL, PROG_MISMATCH with the true version range, PROC_UNAVAIL. A [`Program`] either
//! answers at once, writing its results into the reply buffer (the fast path: no allocation,
//! no task), or returns a future whose reply is sent when it completes, possibly after replies
//! to later calls.

use crate::ops::cli::{CliProgram, CliTable};
use crate::ops::shard::ShardState;
pub use crate::program::{CallContext, LaterFuture, LaterReply, Outcome, Program, Transport};
use crate::proto::dump::{self, ProgramEntry};
use crate::proto::programs::names;
use crate::proto::rpc::ReplyStatus;
use std::rc::Rc;

/// Where a call goes.
pub enum Route<'a> {
    /// To this program, whose procedure has this name.
    Program(&'a dyn Program, &'static str),
    /// Answered without a program.
    Refuse(ReplyStatus),
}

/// The programs one listener serves, in registration order.
#[derive(Clone)]
pub struct ProgramTable {
    programs: Vec<Rc<dyn Program>>,
}

impl ProgramTable {
    /// A table of GF-DUMP followed by `programs`; DUMP lists exactly these, in this order.
    pub fn with_dump(programs: Vec<Rc<dyn Program>>) -> ProgramTable {
        let mut listed: Vec<(&'static str, u32, u32)> =
            vec![(names::DUMP, dump::PROGRAM, dump::VERSION)];
        listed.extend(programs.iter().map(|p| (p.name(), p.number(), p.version())));
        let mut all: Vec<Rc<dyn Program>> = vec![Rc::new(DumpProgram { listed })];
        all.extend(programs);
        ProgramTable { programs: all }
    }

    /// Adds a program that answers but is not listed by DUMP (brickd's own admin program, so
    /// DUMP stays exactly glusterd's).
    pub fn add_unlisted(&mut self, program: Rc<dyn Program>) {
        self.programs.push(program);
    }

    /// The registered programs, in order.
    pub fn programs(&self) -> impl Iterator<Item = &dyn Program> {
        self.programs.iter().map(|p| p.as_ref())
    }

    /// Finds where a call goes.
    #[inline]
    pub fn route(&self, prog: u32, vers: u32, proc_num: u32) -> Route<'_> {
        let mut versions: Option<(u32, u32)> = None;
        for p in &self.programs {
            if p.number() != prog {
                continue;
            }
            if p.version() == vers {
                return match p.procedure_name(proc_num) {
                    Some(name) => Route::Program(p.as_ref(), name),
                    None => Route::Refuse(ReplyStatus::ProcUnavail),
                };
            }
            let v = p.version();
            versions = Some(match versions {
                None => (v, v),
                Some((low, high)) => (low.min(v), high.max(v)),
            });
        }
        Route::Refuse(match versions {
            Some((low, high)) => ReplyStatus::ProgMismatch { low, high },
            None => ReplyStatus::ProgUnavail,
        })
    }
}

/// GF-DUMP 123451501 v1: NULL, DUMP and PING.
struct DumpProgram {
    listed: Vec<(&'static str, u32, u32)>,
}

impl Program for DumpProgram {
    fn name(&self) -> &'static str {
        names::DUMP
    }
    fn number(&self) -> u32 {
        dump::PROGRAM
    }
    fn version(&self) -> u32 {
        dump::VERSION
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        match proc_num {
            dump::PROC_NULL => Some("NULL"),
            dump::PROC_DUMP => Some("DUMP"),
            dump::PROC_PING => Some("PING"),
            _ => None,
        }
    }
    fn call(&self, _: &CallContext<'_>, proc_num: u32, args: &[u8], out: &mut Vec<u8>) -> Outcome {
        match proc_num {
            dump::PROC_DUMP => {
                if dump::decode_request(args).is_err() {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                }
                dump::encode_reply(
                    out,
                    self.listed
                        .iter()
                        .map(|&(name, number, version)| ProgramEntry {
                            name,
                            number: number as u64,
                            version: version as u64,
                        }),
                );
            }
            dump::PROC_PING => dump::encode_ping_reply(out),
            _ => {}
        }
        Outcome::Now(ReplyStatus::Success)
    }
}

/// A program whose procedures are not implemented yet: it is registered (so DUMP lists it and
/// peers see the same program set as glusterd's), answers NULL, and answers every other
/// procedure PROC_UNAVAIL.
pub struct NullOnlyProgram {
    name: &'static str,
    number: u32,
    version: u32,
}

impl NullOnlyProgram {
    /// A program with this DUMP name, number and version.
    pub fn shared(name: &'static str, number: u32, version: u32) -> Rc<dyn Program> {
        Rc::new(NullOnlyProgram {
            name,
            number,
            version,
        })
    }
}

impl Program for NullOnlyProgram {
    fn name(&self) -> &'static str {
        self.name
    }
    fn number(&self) -> u32 {
        self.number
    }
    fn version(&self) -> u32 {
        self.version
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        (proc_num == 0).then_some("NULL")
    }
    fn call(&self, _: &CallContext<'_>, _: u32, _: &[u8], _: &mut Vec<u8>) -> Outcome {
        Outcome::Now(ReplyStatus::Success)
    }
}

/// The programs glusterd serves on TCP 24007, in its DUMP order (reference §3.1).
pub fn tcp_programs(state: &Rc<ShardState>) -> Vec<Rc<dyn Program>> {
    vec![
        crate::ops::pool::FriendProgram::shared(state.clone()),
        CliProgram::shared(CliTable::ReadOnly, state.clone()),
        crate::ops::participant::MgmtV2Program::shared(state.clone()),
        crate::ops::mgmt_v3::MgmtV3Program::shared(state.clone()),
        crate::ops::portmap::PortmapProgram::shared(state.clone()),
        crate::ops::handshake::HandshakeProgram::tcp(state.clone()),
        crate::ops::pool::MgmtHandshakeProgram::shared(state.clone()),
    ]
}

/// The programs glusterd serves on its unix socket, in its DUMP order (reference §3.1).
pub fn unix_programs(state: &Rc<ShardState>) -> Vec<Rc<dyn Program>> {
    vec![
        CliProgram::shared(CliTable::Full, state.clone()),
        crate::ops::handshake::HandshakeProgram::unix(state.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::auth::Credential;
    use crate::proto::programs;

    fn node() -> Rc<ShardState> {
        crate::ops::shard::tests::lone_shard()
    }

    fn ctx<'a>(cred: &'a Credential<'a>) -> CallContext<'a> {
        CallContext {
            shard: 0,
            connection: 0,
            transport: Transport::Unix,
            credential: cred,
        }
    }

    #[test]
    fn routes_follow_glusterd_rules() {
        let table = ProgramTable::with_dump(tcp_programs(&node()));
        assert!(matches!(
            table.route(999_999, 1, 0),
            Route::Refuse(ReplyStatus::ProgUnavail)
        ));
        assert!(matches!(
            table.route(programs::MGMT, 1, 0),
            Route::Refuse(ReplyStatus::ProgMismatch { low: 2, high: 3 })
        ));
        assert!(matches!(
            table.route(programs::CLI, 1, 3),
            Route::Refuse(ReplyStatus::ProgMismatch { low: 2, high: 2 })
        ));
        assert!(matches!(
            table.route(programs::CLI, 2, 4),
            Route::Refuse(ReplyStatus::ProcUnavail)
        ));
        assert!(matches!(
            table.route(dump::PROGRAM, 1, 3),
            Route::Refuse(ReplyStatus::ProcUnavail)
        ));
        let Route::Program(p, name) = table.route(programs::MGMT, 3, 0) else {
            panic!("mgmt v3 NULL must route")
        };
        assert_eq!((p.name(), name), (names::MGMT_V3, "NULL"));
    }

    #[test]
    fn dump_lists_the_listeners_programs_in_registration_order() {
        let table = ProgramTable::with_dump(unix_programs(&node()));
        let Route::Program(p, "DUMP") = table.route(dump::PROGRAM, 1, 1) else {
            panic!("DUMP must route")
        };
        let mut out = Vec::new();
        let mut args = Vec::new();
        dump::encode_request(&mut args, 0xcafe);
        let cred = Credential::Null;
        assert!(matches!(
            p.call(&ctx(&cred), 1, &args, &mut out),
            Outcome::Now(ReplyStatus::Success)
        ));
        let reply = dump::decode_reply(&out).unwrap();
        let got: Vec<_> = reply
            .programs
            .iter()
            .map(|e| (e.name, e.number, e.version))
            .collect();
        assert_eq!(
            got,
            vec![
                ("GF-DUMP", 123_451_501, 1),
                ("GlusterD svc cli", 1_238_463, 2),
                ("Gluster Handshake (CLI Getspec)", 14_398_633, 2)
            ]
        );
        assert_eq!(reply.gfs_id, 0);
    }

    #[test]
    fn dump_with_bad_arguments_is_garbage_args() {
        let table = ProgramTable::with_dump(Vec::new());
        let Route::Program(p, _) = table.route(dump::PROGRAM, 1, 1) else {
            panic!()
        };
        let cred = Credential::Null;
        let mut out = Vec::new();
        assert!(matches!(
            p.call(&ctx(&cred), 1, &[0, 0, 0], &mut out),
            Outcome::Now(ReplyStatus::GarbageArgs)
        ));
    }
}
