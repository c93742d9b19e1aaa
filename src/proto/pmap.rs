//! Gluster Portmap 34123456 v1 (reference §3.6, `portmap-xdr.x` of 10.3): bricks sign in
//! with their port and pid, clients ask for a brick's port.
//!
//! | proc | request | reply |
//! |---|---|---|
//! | 1 PORTBYBRICK | `{ string brick<> }` | `{ int op_ret; int op_errno; int status; int port }` |
//! | 2 BRICKBYPORT | `{ int port }` | `{ int op_ret; int op_errno; int status; string brick<> }` |
//! | 4 SIGNIN | `{ string brick<>; int port; int pid }` | `{ int op_ret; int op_errno }` |
//! | 5 SIGNOUT | `{ string brick<>; int port; int rdma_port }` | `{ int op_ret; int op_errno }` |
//!
//! 10.3's SIGNIN has the `pid` (older `.x` files and tshark know only brick and port); a
//! SIGNIN without it is accepted too, with pid 0, as an older brick sends it.

use super::xdr::{XdrError, XdrReader, XdrWriter};

/// Program number.
pub const PROGRAM: u32 = super::programs::PORTMAP;
/// Version.
pub const VERSION: u32 = 1;
/// `GF_PMAP_PORTBYBRICK`.
pub const PROC_PORTBYBRICK: u32 = 1;
/// `GF_PMAP_BRICKBYPORT`.
pub const PROC_BRICKBYPORT: u32 = 2;
/// `GF_PMAP_SIGNIN`.
pub const PROC_SIGNIN: u32 = 4;
/// `GF_PMAP_SIGNOUT`.
pub const PROC_SIGNOUT: u32 = 5;

/// Cap on a brick name (a path; PATH_MAX).
pub const BRICK_BYTES_MAX: usize = 4096;

/// The procedure names of this program, by number (`None`: PROC_UNAVAIL; glusterd has no
/// actor for SIGNUP).
pub fn procedure_name(proc_num: u32) -> Option<&'static str> {
    match proc_num {
        0 => Some("NULL"),
        PROC_PORTBYBRICK => Some("PORTBYBRICK"),
        PROC_BRICKBYPORT => Some("BRICKBYPORT"),
        PROC_SIGNIN => Some("SIGNIN"),
        PROC_SIGNOUT => Some("SIGNOUT"),
        _ => None,
    }
}

/// Decodes a PORTBYBRICK request: the brick's path.
pub fn decode_port_by_brick_req(input: &[u8]) -> Result<&str, XdrError> {
    let mut r = XdrReader::new(input);
    let brick = r.string(BRICK_BYTES_MAX)?;
    r.finish()?;
    Ok(brick)
}

/// Encodes a PORTBYBRICK request.
pub fn encode_port_by_brick_req(out: &mut Vec<u8>, brick: &str) {
    XdrWriter::new(out).string(brick);
}

/// A PORTBYBRICK reply: `{0, 0, 0, port}` for a brick that signed in, `{-1, 0, 0, 0}` else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortByBrickRsp {
    /// 0 or -1.
    pub op_ret: i32,
    /// glusterd sends 0 either way.
    pub op_errno: i32,
    /// Always 0.
    pub status: i32,
    /// The brick's port, 0 if unknown.
    pub port: i32,
}

/// Encodes a PORTBYBRICK reply.
pub fn encode_port_by_brick_rsp(out: &mut Vec<u8>, rsp: &PortByBrickRsp) {
    let mut w = XdrWriter::new(out);
    w.i32(rsp.op_ret);
    w.i32(rsp.op_errno);
    w.i32(rsp.status);
    w.i32(rsp.port);
}

/// Decodes a PORTBYBRICK reply.
pub fn decode_port_by_brick_rsp(input: &[u8]) -> Result<PortByBrickRsp, XdrError> {
    let mut r = XdrReader::new(input);
    let rsp = PortByBrickRsp {
        op_ret: r.i32()?,
        op_errno: r.i32()?,
        status: r.i32()?,
        port: r.i32()?,
    };
    r.finish()?;
    Ok(rsp)
}

/// Decodes a BRICKBYPORT request: the port.
pub fn decode_brick_by_port_req(input: &[u8]) -> Result<i32, XdrError> {
    let mut r = XdrReader::new(input);
    let port = r.i32()?;
    r.finish()?;
    Ok(port)
}

/// Encodes a BRICKBYPORT reply.
pub fn encode_brick_by_port_rsp(out: &mut Vec<u8>, op_ret: i32, brick: &str) {
    let mut w = XdrWriter::new(out);
    w.i32(op_ret);
    w.i32(0);
    w.i32(0);
    w.string(brick);
}

/// A SIGNIN or SIGNOUT request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignReq<'a> {
    /// The brick's path (not `host:path`).
    pub brick: &'a str,
    /// The brick's TCP port.
    pub port: i32,
    /// SIGNIN: the brick's pid (0 from a brick older than 10.x); SIGNOUT: the RDMA port.
    pub third: i32,
}

/// Decodes a SIGNIN (`{brick, port, pid}`, or `{brick, port}` from an older brick) or a
/// SIGNOUT (`{brick, port, rdma_port}`).
pub fn decode_sign_req(input: &[u8]) -> Result<SignReq<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let brick = r.string(BRICK_BYTES_MAX)?;
    let port = r.i32()?;
    let third = if r.rest().is_empty() { 0 } else { r.i32()? };
    r.finish()?;
    Ok(SignReq { brick, port, third })
}

/// Encodes a SIGNIN or SIGNOUT request (three fields, as 10.3 sends them).
pub fn encode_sign_req(out: &mut Vec<u8>, req: &SignReq<'_>) {
    let mut w = XdrWriter::new(out);
    w.string(req.brick);
    w.i32(req.port);
    w.i32(req.third);
}

/// Encodes a SIGNIN or SIGNOUT reply.
pub fn encode_sign_rsp(out: &mut Vec<u8>, op_ret: i32, op_errno: i32) {
    let mut w = XdrWriter::new(out);
    w.i32(op_ret);
    w.i32(op_errno);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signin_is_decoded_from_the_bytes_a_real_brick_sent() {
        // docs/glusterd-volume-start.md §5.1: brick /tmp/obs/mnt/b1/data, port 50712, pid 10410.
        let mut bytes = 20u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"/tmp/obs/mnt/b1/data");
        bytes.extend_from_slice(&[0x00, 0x00, 0xc6, 0x18, 0x00, 0x00, 0x28, 0xaa]);
        let req = decode_sign_req(&bytes).unwrap();
        assert_eq!(
            req,
            SignReq {
                brick: "/tmp/obs/mnt/b1/data",
                port: 50712,
                third: 10410
            }
        );
        let mut again = Vec::new();
        encode_sign_req(&mut again, &req);
        assert_eq!(again, bytes);
        // An older brick's two-field SIGNIN.
        let old = &bytes[..bytes.len() - 4];
        assert_eq!(decode_sign_req(old).unwrap().third, 0);
    }

    #[test]
    fn truncated_trailing_and_oversized_requests_are_errors() {
        let mut bytes = Vec::new();
        encode_sign_req(
            &mut bytes,
            &SignReq {
                brick: "/b",
                port: 1,
                third: 2,
            },
        );
        // Every cut but the one after the port (an older brick's SIGNIN) is an error.
        for len in (0..bytes.len()).filter(|&l| l != bytes.len() - 4) {
            assert!(decode_sign_req(&bytes[..len]).is_err(), "length {len}");
        }
        let mut long = bytes.clone();
        long.extend_from_slice(&[0; 4]);
        assert!(decode_sign_req(&long).is_err());
        for len in [u32::MAX, BRICK_BYTES_MAX as u32 + 1] {
            let mut b = len.to_be_bytes().to_vec();
            b.extend_from_slice(&[b'x'; 16]);
            assert!(decode_port_by_brick_req(&b).is_err());
            assert!(decode_sign_req(&b).is_err());
        }
        assert!(decode_brick_by_port_req(&[0, 0, 1]).is_err());
        assert_eq!(decode_brick_by_port_req(&[0xff, 0xff, 0xff, 0xff]), Ok(-1));
    }

    #[test]
    fn port_by_brick_round_trips() {
        let mut req = Vec::new();
        encode_port_by_brick_req(&mut req, "/tmp/obs/mnt/b1/r2");
        assert_eq!(decode_port_by_brick_req(&req), Ok("/tmp/obs/mnt/b1/r2"));
        let rsp = PortByBrickRsp {
            op_ret: 0,
            op_errno: 0,
            status: 0,
            port: 57993,
        };
        let mut out = Vec::new();
        encode_port_by_brick_rsp(&mut out, &rsp);
        assert_eq!(out.len(), 16);
        assert_eq!(decode_port_by_brick_rsp(&out), Ok(rsp));
    }
}
