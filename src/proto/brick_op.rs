//! GD_BRICK 4867634 v2 (reference §3.6): what glusterd calls on a brick process over the
//! brick's unix socket (`-S`). brickd sends TERMINATE to stop a brick gracefully, and STATUS
//! for `volume status … clients`.
//!
//! `gd1_mgmt_brick_op_req { string name<>; int op; opaque input<>; opaque dict<> }` →
//! `gd1_mgmt_brick_op_rsp { int op_ret; int op_errno; opaque output<>; string op_errstr<> }`.

use super::xdr::{XdrError, XdrReader, XdrWriter};

/// Program number.
pub const PROGRAM: u32 = 4_867_634;
/// Version.
pub const VERSION: u32 = 2;
/// `GLUSTERD_BRICK_TERMINATE`.
pub const PROC_TERMINATE: u32 = 1;
/// `GLUSTERD_BRICK_STATUS`.
pub const PROC_STATUS: u32 = 4;

/// Cap on a brick name (a path).
pub const NAME_BYTES_MAX: usize = 4096;
/// Cap on the input and dict blobs, and on a reply's output.
pub const BLOB_BYTES_MAX: usize = 1 << 20;
/// Cap on a reply's error string.
pub const ERRSTR_BYTES_MAX: usize = 64 << 10;

/// `gd1_mgmt_brick_op_req`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrickOpReq<'a> {
    /// The brick's path (the xlator the op is for).
    pub name: &'a str,
    /// glusterd's brick op number (the procedure's, for TERMINATE).
    pub op: i32,
    /// Op-specific input.
    pub input: &'a [u8],
    /// A serialized dict.
    pub dict: &'a [u8],
}

/// Encodes a brick op request.
pub fn encode_req(out: &mut Vec<u8>, req: &BrickOpReq<'_>) {
    let mut w = XdrWriter::new(out);
    w.string(req.name);
    w.i32(req.op);
    w.opaque(req.input);
    w.opaque(req.dict);
}

/// Decodes a brick op request.
pub fn decode_req(input: &[u8]) -> Result<BrickOpReq<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let req = BrickOpReq {
        name: r.string(NAME_BYTES_MAX)?,
        op: r.i32()?,
        input: r.opaque(BLOB_BYTES_MAX)?,
        dict: r.opaque(BLOB_BYTES_MAX)?,
    };
    r.finish()?;
    Ok(req)
}

/// `gd1_mgmt_brick_op_rsp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrickOpRsp<'a> {
    /// 0 or -1.
    pub op_ret: i32,
    /// An errno.
    pub op_errno: i32,
    /// Op-specific output.
    pub output: &'a [u8],
    /// Why it failed.
    pub op_errstr: &'a str,
}

/// Encodes a brick op reply.
pub fn encode_rsp(out: &mut Vec<u8>, rsp: &BrickOpRsp<'_>) {
    let mut w = XdrWriter::new(out);
    w.i32(rsp.op_ret);
    w.i32(rsp.op_errno);
    w.opaque(rsp.output);
    w.string(rsp.op_errstr);
}

/// Decodes a brick op reply.
pub fn decode_rsp(input: &[u8]) -> Result<BrickOpRsp<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let rsp = BrickOpRsp {
        op_ret: r.i32()?,
        op_errno: r.i32()?,
        output: r.opaque(BLOB_BYTES_MAX)?,
        op_errstr: r.string(ERRSTR_BYTES_MAX)?,
    };
    r.finish()?;
    Ok(rsp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip() {
        let req = BrickOpReq {
            name: "/bricks/b1/v1",
            op: PROC_TERMINATE as i32,
            input: &[],
            dict: b"\x00\x00\x00\x00",
        };
        let mut out = Vec::new();
        encode_req(&mut out, &req);
        assert_eq!(decode_req(&out), Ok(req));
        let rsp = BrickOpRsp {
            op_ret: -1,
            op_errno: 2,
            output: b"xy",
            op_errstr: "no such brick",
        };
        let mut out = Vec::new();
        encode_rsp(&mut out, &rsp);
        assert_eq!(decode_rsp(&out), Ok(rsp));
    }

    #[test]
    fn truncated_oversized_and_negative_lengths_are_errors() {
        let mut out = Vec::new();
        encode_rsp(
            &mut out,
            &BrickOpRsp {
                op_ret: 0,
                op_errno: 0,
                output: b"abc",
                op_errstr: "e",
            },
        );
        for len in 0..out.len() {
            assert!(decode_rsp(&out[..len]).is_err(), "length {len}");
        }
        let mut long = out.clone();
        long.extend_from_slice(&[0; 4]);
        assert!(decode_rsp(&long).is_err());
        for bad in [u32::MAX, BLOB_BYTES_MAX as u32 + 1] {
            let mut b = vec![0, 0, 0, 0, 0, 0, 0, 0];
            b.extend_from_slice(&bad.to_be_bytes());
            b.extend_from_slice(&[0; 32]);
            assert!(decode_rsp(&b).is_err());
        }
        let mut b = (NAME_BYTES_MAX as u32 + 1).to_be_bytes().to_vec();
        b.extend_from_slice(&[b'a'; 64]);
        assert!(decode_req(&b).is_err());
    }
}
