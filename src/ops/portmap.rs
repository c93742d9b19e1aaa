//! Gluster Portmap 34123456 v1 as glusterd serves it on TCP: bricks SIGNIN with their port
//! and pid once they listen (and SIGNOUT when they stop); clients ask PORTBYBRICK for each
//! brick of their volfile. Answered from the node-wide brick table
//! (`brick::process::BrickTable`) on whichever shard the call arrives, without a hop.
//!
//! PORTBYBRICK of a brick that is not up answers `{-1, 0, 0, 0}`, as glusterd does; a client
//! asks again every 3 s.

use super::shard::ShardState;
use crate::program::{CallContext, Outcome, Program};
use crate::proto::pmap::{self, PortByBrickRsp};
use crate::proto::programs::names;
use crate::proto::rpc::ReplyStatus;
use std::rc::Rc;

/// The portmap program.
pub struct PortmapProgram {
    state: Rc<ShardState>,
}

impl PortmapProgram {
    /// The program, answering from `state`'s node.
    pub fn shared(state: Rc<ShardState>) -> Rc<dyn Program> {
        Rc::new(PortmapProgram { state })
    }
}

impl Program for PortmapProgram {
    fn name(&self) -> &'static str {
        names::PORTMAP
    }
    fn number(&self) -> u32 {
        pmap::PROGRAM
    }
    fn version(&self) -> u32 {
        pmap::VERSION
    }
    fn procedure_name(&self, proc_num: u32) -> Option<&'static str> {
        pmap::procedure_name(proc_num)
    }
    fn call(&self, _: &CallContext<'_>, proc_num: u32, args: &[u8], out: &mut Vec<u8>) -> Outcome {
        let bricks = &self.state.node.bricks;
        let answered = match proc_num {
            pmap::PROC_PORTBYBRICK => pmap::decode_port_by_brick_req(args)
                .map(|brick| {
                    let port = bricks.port_of(brick);
                    let rsp = PortByBrickRsp {
                        op_ret: if port.is_some() { 0 } else { -1 },
                        op_errno: 0,
                        status: 0,
                        port: port.map_or(0, i32::from),
                    };
                    pmap::encode_port_by_brick_rsp(out, &rsp);
                })
                .is_ok(),
            pmap::PROC_BRICKBYPORT => pmap::decode_brick_by_port_req(args)
                .map(|port| {
                    let brick = u16::try_from(port).ok().and_then(|p| bricks.brick_on(p));
                    let op_ret = if brick.is_some() { 0 } else { -1 };
                    pmap::encode_brick_by_port_rsp(out, op_ret, brick.as_deref().unwrap_or(""));
                })
                .is_ok(),
            pmap::PROC_SIGNIN => pmap::decode_sign_req(args)
                .map(|req| match u16::try_from(req.port) {
                    Ok(port) if port != 0 => {
                        tracing::info!(brick = req.brick, port, pid = req.third, "brick signed in");
                        bricks.signed_in(req.brick, port, req.third);
                        pmap::encode_sign_rsp(out, 0, 0);
                    }
                    _ => pmap::encode_sign_rsp(out, -1, libc::EINVAL),
                })
                .is_ok(),
            pmap::PROC_SIGNOUT => pmap::decode_sign_req(args)
                .map(|req| {
                    tracing::info!(brick = req.brick, port = req.port, "brick signed out");
                    bricks.signed_out(req.brick);
                    pmap::encode_sign_rsp(out, 0, 0);
                })
                .is_ok(),
            _ => true,
        };
        if answered {
            Outcome::Now(ReplyStatus::Success)
        } else {
            Outcome::Now(ReplyStatus::GarbageArgs)
        }
    }
}
