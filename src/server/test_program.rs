//! "brickd test", an RPC program that exists only to test the dispatcher.
//!
//! It is registered on both listeners when `brickd serve --enable-test-program` is given (never
//! by default). Its procedures make the runtime's hard cases reachable from a test over a real
//! socket: replies that complete out of order (DELAY), an internal failure (FAIL → SYSTEM_ERR),
//! large arguments and results (ECHO), and a question to every shard over the shard mesh
//! (SHARDS).

use super::program::{CallContext, LaterReply, Outcome, Program};
use crate::ops::shard::ShardState;
use crate::proto::rpc::ReplyStatus;
use crate::proto::xdr::{XdrReader, XdrWriter};
use std::rc::Rc;
use std::time::Duration;

/// Program number, in the range RFC 5531 leaves to local use.
pub const PROGRAM: u32 = 0x2000_b1cd;
/// Version.
pub const VERSION: u32 = 1;
/// NULL.
pub const PROC_NULL: u32 = 0;
/// DELAY: args `u32 ms, u32 tag`; after `ms` milliseconds replies `u32 tag`.
pub const PROC_DELAY: u32 = 1;
/// FAIL: always answers SYSTEM_ERR.
pub const PROC_FAIL: u32 = 2;
/// ECHO: args `opaque data<>`; replies the same opaque.
pub const PROC_ECHO: u32 = 3;
/// SHARDS: no args; asks every shard for its index over the mesh and replies `u32 count`, then
/// each shard's answer (`u32 index`), in shard order.
pub const PROC_SHARDS: u32 = 4;

/// Longest DELAY a test may ask for.
const DELAY_MS_MAX: u32 = 10_000;
/// Largest ECHO payload.
const ECHO_BYTES_MAX: usize = 16 << 20;

/// The program instance.
pub fn program(state: Rc<ShardState>) -> Rc<dyn Program> {
    Rc::new(TestProgram { state })
}

struct TestProgram {
    state: Rc<ShardState>,
}

impl Program for TestProgram {
    fn name(&self) -> &'static str {
        "brickd test"
    }
    fn number(&self) -> u32 {
        PROGRAM
    }
    fn version(&self) -> u32 {
        VERSION
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        Some(match proc_num {
            PROC_NULL => "NULL",
            PROC_DELAY => "DELAY",
            PROC_FAIL => "FAIL",
            PROC_ECHO => "ECHO",
            PROC_SHARDS => "SHARDS",
            _ => return None,
        })
    }
    fn call(&self, _: &CallContext<'_>, proc_num: u32, args: &[u8], out: &mut Vec<u8>) -> Outcome {
        match proc_num {
            PROC_DELAY => {
                let mut r = XdrReader::new(args);
                let (Ok(ms), Ok(tag), Ok(())) = (r.u32(), r.u32(), r.finish()) else {
                    return Outcome::Now(ReplyStatus::GarbageArgs);
                };
                let ms = ms.min(DELAY_MS_MAX);
                Outcome::Later(Box::pin(async move {
                    glommio::timer::sleep(Duration::from_millis(ms as u64)).await;
                    let mut body = Vec::with_capacity(4);
                    XdrWriter::new(&mut body).u32(tag);
                    LaterReply {
                        status: ReplyStatus::Success,
                        body,
                    }
                }))
            }
            PROC_FAIL => Outcome::Now(ReplyStatus::SystemErr),
            PROC_ECHO => {
                let mut r = XdrReader::new(args);
                match r.opaque(ECHO_BYTES_MAX) {
                    Ok(data) if r.finish().is_ok() => {
                        XdrWriter::new(out).opaque(data);
                        Outcome::Now(ReplyStatus::Success)
                    }
                    _ => Outcome::Now(ReplyStatus::GarbageArgs),
                }
            }
            PROC_SHARDS => {
                let state = self.state.clone();
                Outcome::Later(Box::pin(async move {
                    match state.ask_all(|s: &ShardState| s.index as u32).await {
                        Ok(indexes) => {
                            let mut body = Vec::new();
                            let mut w = XdrWriter::new(&mut body);
                            w.u32(indexes.len() as u32);
                            for i in indexes {
                                w.u32(i);
                            }
                            LaterReply {
                                status: ReplyStatus::Success,
                                body,
                            }
                        }
                        Err(_) => LaterReply {
                            status: ReplyStatus::SystemErr,
                            body: Vec::new(),
                        },
                    }
                }))
            }
            _ => Outcome::Now(ReplyStatus::Success),
        }
    }
}
