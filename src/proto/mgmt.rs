//! GD_MGMT_V3 (1238433 v3), the glusterd ↔ glusterd transaction program: the LOCK and UNLOCK
//! structs of `glusterd1-xdr.x` (reference §3.4, §4).
//!
//! A uuid in these structs is `unsigned char uuid[16]`, which XDR encodes as sixteen 4-byte
//! words (64 bytes on the wire). A word above 255 is truncated to its low byte, as glusterd's
//! `xdr_u_char` does. The dict stays opaque bytes; `proto::dict` decodes it.

use super::xdr::{XdrError, XdrReader, XdrWriter};

/// Program number (shared with the v2 op-sm program).
pub const PROGRAM: u32 = super::programs::MGMT;
/// This program's version.
pub const VERSION_V3: u32 = 3;
/// `GLUSTERD_MGMT_V3_LOCK`.
pub const PROC_V3_LOCK: u32 = 1;
/// `GLUSTERD_MGMT_V3_UNLOCK`.
pub const PROC_V3_UNLOCK: u32 = 6;

/// Cap on the dict of a lock request (a few names and ids).
pub const LOCK_DICT_BYTES_MAX: usize = 64 << 10;

/// `gd1_mgmt_v3_lock_req` and `gd1_mgmt_v3_unlock_req` (same fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V3LockReq<'a> {
    /// The sender's node UUID.
    pub uuid: [u8; 16],
    /// The transaction (zeros from the mgmt_v3 initiator).
    pub txn_id: [u8; 16],
    /// glusterd's op number.
    pub op: i32,
    /// The serialized op dict (`volname`, …).
    pub dict: &'a [u8],
}

pub(crate) fn read_uuid(r: &mut XdrReader<'_>) -> Result<[u8; 16], XdrError> {
    let mut out = [0u8; 16];
    for byte in &mut out {
        *byte = r.u32()? as u8;
    }
    Ok(out)
}

pub(crate) fn write_uuid(w: &mut XdrWriter<'_>, uuid: &[u8; 16]) {
    for &b in uuid {
        w.u32(u32::from(b));
    }
}

/// Decodes a v3 LOCK or UNLOCK request; nothing may follow it.
pub fn decode_v3_lock_req(input: &[u8]) -> Result<V3LockReq<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let uuid = read_uuid(&mut r)?;
    let txn_id = read_uuid(&mut r)?;
    let op = r.i32()?;
    let dict = r.opaque(LOCK_DICT_BYTES_MAX)?;
    r.finish()?;
    Ok(V3LockReq {
        uuid,
        txn_id,
        op,
        dict,
    })
}

/// Encodes a v3 LOCK or UNLOCK request.
pub fn encode_v3_lock_req(out: &mut Vec<u8>, req: &V3LockReq<'_>) {
    let mut w = XdrWriter::new(out);
    write_uuid(&mut w, &req.uuid);
    write_uuid(&mut w, &req.txn_id);
    w.i32(req.op);
    w.opaque(req.dict);
}

/// `gd1_mgmt_v3_lock_rsp` / `unlock_rsp`: the responder's uuid, the txn id (glusterd sends
/// zeros), a dict, op_ret, op_errno.
pub fn encode_v3_lock_rsp(
    out: &mut Vec<u8>,
    uuid: &[u8; 16],
    txn_id: &[u8; 16],
    dict: &[u8],
    op_ret: i32,
    op_errno: i32,
) {
    let mut w = XdrWriter::new(out);
    write_uuid(&mut w, uuid);
    write_uuid(&mut w, txn_id);
    w.opaque(dict);
    w.i32(op_ret);
    w.i32(op_errno);
}

/// A decoded lock reply (for tests and peers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V3LockRsp<'a> {
    /// The responder's UUID.
    pub uuid: [u8; 16],
    /// The txn id echoed.
    pub txn_id: [u8; 16],
    /// The reply dict.
    pub dict: &'a [u8],
    /// 0 or -1.
    pub op_ret: i32,
    /// op_errno (30802 for a busy lock).
    pub op_errno: i32,
}

/// Decodes a v3 LOCK or UNLOCK reply.
pub fn decode_v3_lock_rsp(input: &[u8]) -> Result<V3LockRsp<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let uuid = read_uuid(&mut r)?;
    let txn_id = read_uuid(&mut r)?;
    let dict = r.opaque(LOCK_DICT_BYTES_MAX)?;
    let op_ret = r.i32()?;
    let op_errno = r.i32()?;
    r.finish()?;
    Ok(V3LockRsp {
        uuid,
        txn_id,
        dict,
        op_ret,
        op_errno,
    })
}

/// GD_MGMT v2 (`glusterd_op_sm`/syncop) procedures: STAGE_OP and COMMIT_OP.
pub const VERSION_V2: u32 = 2;
/// `GLUSTERD_MGMT_STAGE_OP`.
pub const PROC_V2_STAGE_OP: u32 = 3;
/// `GLUSTERD_MGMT_COMMIT_OP`.
pub const PROC_V2_COMMIT_OP: u32 = 4;
/// `GLUSTERD_MGMT_V3_PRE_VALIDATE`.
pub const PROC_V3_PRE_VALIDATE: u32 = 2;
/// `GLUSTERD_MGMT_V3_BRICK_OP`.
pub const PROC_V3_BRICK_OP: u32 = 3;
/// `GLUSTERD_MGMT_V3_COMMIT`.
pub const PROC_V3_COMMIT: u32 = 4;
/// `GLUSTERD_MGMT_V3_POST_VALIDATE`.
pub const PROC_V3_POST_VALIDATE: u32 = 5;
/// `GLUSTERD_MGMT_V3_POST_COMMIT`.
pub const PROC_V3_POST_COMMIT: u32 = 7;

/// Cap on the op dict of a phase request or answer (a create names every brick).
pub const OP_DICT_BYTES_MAX: usize = 4 << 20;
/// Cap on a phase answer's error string.
pub const OP_ERRSTR_BYTES_MAX: usize = 64 << 10;

/// A phase request: `gd1_mgmt_stage_op_req`, `gd1_mgmt_commit_op_req` (v2) and the v3
/// `pre_val`, `brick_op`, `commit`, `post_commit` requests (the same three fields), and
/// `gd1_mgmt_v3_post_val_req` (with `op_ret` between the op and the dict).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseReq<'a> {
    /// The originator's node UUID.
    pub uuid: [u8; 16],
    /// glusterd's op number.
    pub op: i32,
    /// POST_VALIDATE only: how the transaction went (0 or -1).
    pub op_ret: Option<i32>,
    /// The serialized op dict.
    pub dict: &'a [u8],
}

/// Decodes a phase request; `with_op_ret` for POST_VALIDATE.
pub fn decode_phase_req(input: &[u8], with_op_ret: bool) -> Result<PhaseReq<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let uuid = read_uuid(&mut r)?;
    let op = r.i32()?;
    let op_ret = if with_op_ret { Some(r.i32()?) } else { None };
    let dict = r.opaque(OP_DICT_BYTES_MAX)?;
    r.finish()?;
    Ok(PhaseReq {
        uuid,
        op,
        op_ret,
        dict,
    })
}

/// Encodes a phase request (`op_ret` is written when set: POST_VALIDATE).
pub fn encode_phase_req(out: &mut Vec<u8>, req: &PhaseReq<'_>) {
    let mut w = XdrWriter::new(out);
    write_uuid(&mut w, &req.uuid);
    w.i32(req.op);
    if let Some(op_ret) = req.op_ret {
        w.i32(op_ret);
    }
    w.opaque(req.dict);
}

/// Where a phase answer puts its dict: after the error string (stage, pre-validate,
/// brick-op, post-validate) or before it (both commits, post-commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RspLayout {
    /// `op_errstr` then `dict`.
    ErrstrFirst,
    /// `dict` then `op_errstr`.
    DictFirst,
}

impl RspLayout {
    /// The layout of v2 procedure `proc_num`'s answer.
    pub fn v2(proc_num: u32) -> RspLayout {
        if proc_num == PROC_V2_COMMIT_OP {
            RspLayout::DictFirst
        } else {
            RspLayout::ErrstrFirst
        }
    }

    /// The layout of v3 procedure `proc_num`'s answer.
    pub fn v3(proc_num: u32) -> RspLayout {
        if proc_num == PROC_V3_COMMIT || proc_num == PROC_V3_POST_COMMIT {
            RspLayout::DictFirst
        } else {
            RspLayout::ErrstrFirst
        }
    }
}

/// A phase answer (every v2 and v3 phase but LOCK and UNLOCK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseRsp<'a> {
    /// The responder's node UUID.
    pub uuid: [u8; 16],
    /// The op, echoed.
    pub op: i32,
    /// 0 or -1.
    pub op_ret: i32,
    /// glusterd's op_errno.
    pub op_errno: i32,
    /// Why, on failure.
    pub op_errstr: &'a str,
    /// The responder's dict (a stage answer's `brick<N>.mount_dir`).
    pub dict: &'a [u8],
}

/// Decodes a phase answer of `layout`.
pub fn decode_phase_rsp(input: &[u8], layout: RspLayout) -> Result<PhaseRsp<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let uuid = read_uuid(&mut r)?;
    let op = r.i32()?;
    let op_ret = r.i32()?;
    let op_errno = r.i32()?;
    let (op_errstr, dict) = match layout {
        RspLayout::ErrstrFirst => {
            let e = r.string(OP_ERRSTR_BYTES_MAX)?;
            (e, r.opaque(OP_DICT_BYTES_MAX)?)
        }
        RspLayout::DictFirst => {
            let d = r.opaque(OP_DICT_BYTES_MAX)?;
            (r.string(OP_ERRSTR_BYTES_MAX)?, d)
        }
    };
    r.finish()?;
    Ok(PhaseRsp {
        uuid,
        op,
        op_ret,
        op_errno,
        op_errstr,
        dict,
    })
}

/// Encodes a phase answer of `layout`.
pub fn encode_phase_rsp(out: &mut Vec<u8>, rsp: &PhaseRsp<'_>, layout: RspLayout) {
    let mut w = XdrWriter::new(out);
    write_uuid(&mut w, &rsp.uuid);
    w.i32(rsp.op);
    w.i32(rsp.op_ret);
    w.i32(rsp.op_errno);
    match layout {
        RspLayout::ErrstrFirst => {
            w.string(rsp.op_errstr);
            w.opaque(rsp.dict);
        }
        RspLayout::DictFirst => {
            w.opaque(rsp.dict);
            w.string(rsp.op_errstr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_request_round_trips_with_64_byte_uuids() {
        let req = V3LockReq {
            uuid: [7; 16],
            txn_id: [9; 16],
            op: 1,
            dict: b"\0\0\0\0",
        };
        let mut out = Vec::new();
        encode_v3_lock_req(&mut out, &req);
        assert_eq!(out.len(), 64 + 64 + 4 + 4 + 4);
        assert_eq!(&out[..8], &[0, 0, 0, 7, 0, 0, 0, 7]);
        assert_eq!(decode_v3_lock_req(&out).unwrap(), req);
    }

    #[test]
    fn truncated_oversized_and_trailing_requests_are_errors() {
        let mut out = Vec::new();
        encode_v3_lock_req(
            &mut out,
            &V3LockReq {
                uuid: [1; 16],
                txn_id: [0; 16],
                op: 1,
                dict: &[],
            },
        );
        for cut in [0, 4, 63, 64, 127, 128, 131, 135] {
            assert!(decode_v3_lock_req(&out[..cut]).is_err(), "{cut}");
        }
        let mut trailing = out.clone();
        trailing.extend_from_slice(&[0; 4]);
        assert!(matches!(
            decode_v3_lock_req(&trailing),
            Err(XdrError::Trailing { .. })
        ));
        let mut huge = out[..132].to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            decode_v3_lock_req(&huge),
            Err(XdrError::TooLong { .. })
        ));
        // A negative op is carried as is (glusterd rejects unknown ops itself).
        let mut neg = out.clone();
        neg[128..132].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(decode_v3_lock_req(&neg).unwrap().op, -1);
    }

    #[test]
    fn phase_requests_and_answers_round_trip_in_both_layouts() {
        let req = PhaseReq {
            uuid: [1; 16],
            op: 1,
            op_ret: None,
            dict: b"abcd",
        };
        let mut out = Vec::new();
        encode_phase_req(&mut out, &req);
        assert_eq!(decode_phase_req(&out, false).unwrap(), req);
        assert!(decode_phase_req(&out, true).is_err());
        let post = PhaseReq {
            op_ret: Some(-1),
            ..req
        };
        out.clear();
        encode_phase_req(&mut out, &post);
        assert_eq!(decode_phase_req(&out, true).unwrap(), post);
        for layout in [RspLayout::ErrstrFirst, RspLayout::DictFirst] {
            let rsp = PhaseRsp {
                uuid: [2; 16],
                op: 5,
                op_ret: -1,
                op_errno: 0,
                op_errstr: "Staging failed",
                dict: b"d",
            };
            out.clear();
            encode_phase_rsp(&mut out, &rsp, layout);
            assert_eq!(decode_phase_rsp(&out, layout).unwrap(), rsp);
            for cut in 0..out.len() {
                assert!(decode_phase_rsp(&out[..cut], layout).is_err(), "{cut}");
            }
        }
        assert_eq!(RspLayout::v2(PROC_V2_COMMIT_OP), RspLayout::DictFirst);
        assert_eq!(RspLayout::v3(PROC_V3_PRE_VALIDATE), RspLayout::ErrstrFirst);
        // An oversized dict length is refused before anything is read.
        let mut huge = vec![0u8; 68];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_phase_req(&huge, false).is_err());
    }

    #[test]
    fn lock_reply_round_trips() {
        let mut out = Vec::new();
        encode_v3_lock_rsp(&mut out, &[3; 16], &[0; 16], &[], -1, 30802);
        let rsp = decode_v3_lock_rsp(&out).unwrap();
        assert_eq!((rsp.uuid, rsp.op_ret, rsp.op_errno), ([3; 16], -1, 30802));
    }
}
