//! GLUSTER_HNDSK 14398633 v2, the handshake program bricks and clients use to fetch their
//! volfiles (reference §3.6): GETSPEC, GET_VOLUME_INFO and EVENT_NOTIFY.
//!
//! `gf_getspec_req { u_int flags; string key<>; opaque xdata<> }` →
//! `gf_getspec_rsp { int op_ret; int op_errno; string spec<>; opaque xdata<> }`;
//! `gf_get_volume_info_req { u_int flags; opaque dict<> }` →
//! `gf_get_volume_info_rsp { int op_ret; int op_errno; string op_errstr<>; opaque dict<> }`;
//! `gf_event_notify_req { int op; opaque dict<> }` →
//! `gf_event_notify_rsp { int op_ret; int op_errno; opaque dict<> }`.
//! Dicts stay opaque bytes here; `proto::dict` decodes them.

use super::xdr::{XdrError, XdrReader, XdrWriter};

/// Program number.
pub const PROGRAM: u32 = super::programs::HANDSHAKE;
/// Version.
pub const VERSION: u32 = 2;
/// `GF_HNDSK_GETSPEC`.
pub const PROC_GETSPEC: u32 = 2;
/// `GF_HNDSK_EVENT_NOTIFY`.
pub const PROC_EVENT_NOTIFY: u32 = 5;
/// `GF_HNDSK_GET_VOLUME_INFO`.
pub const PROC_GET_VOLUME_INFO: u32 = 6;
/// `GF_HNDSK_GET_SNAPSHOT_INFO`: a snapshot daemon's `snapview-server` asks for the
/// volume's snapshots.
pub const PROC_GET_SNAPSHOT_INFO: u32 = 7;

/// `GF_GETSPEC_FLAG_SERVERS_LIST`: the client wants the volfile servers' list in xdata.
pub const GETSPEC_FLAG_SERVERS_LIST: u32 = 1;

/// Cap on a volfile id (glusterd's keys are a volume name, a host and a path: well under this).
pub const KEY_BYTES_MAX: usize = 4096;
/// Cap on a request's dict (a handful of version keys and a brick name).
pub const XDATA_BYTES_MAX: usize = 64 << 10;

/// The procedure names of this program, by number (`None`: PROC_UNAVAIL).
pub fn procedure_name(proc_num: u32) -> Option<&'static str> {
    match proc_num {
        0 => Some("NULL"),
        PROC_GETSPEC => Some("GETSPEC"),
        PROC_EVENT_NOTIFY => Some("EVENT_NOTIFY"),
        PROC_GET_VOLUME_INFO => Some("GET_VOLUME_INFO"),
        PROC_GET_SNAPSHOT_INFO => Some("GETSNAPINFO"),
        _ => None,
    }
}

/// `gf_getspec_req`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetspecReq<'a> {
    /// [`GETSPEC_FLAG_SERVERS_LIST`] or 0.
    pub flags: u32,
    /// The volfile id: `v1.host.bricks-b1` for a brick, `/v1` or `v1` for a mount, `shd/v1`…
    pub key: &'a str,
    /// The serialized request dict (`brick_name`, `max-op-version`, `min-op-version`).
    pub xdata: &'a [u8],
}

/// Decodes a GETSPEC request; nothing may follow it.
pub fn decode_getspec_req(input: &[u8]) -> Result<GetspecReq<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let flags = r.u32()?;
    let key = r.string(KEY_BYTES_MAX)?;
    let xdata = r.opaque(XDATA_BYTES_MAX)?;
    r.finish()?;
    Ok(GetspecReq { flags, key, xdata })
}

/// Encodes a GETSPEC request.
pub fn encode_getspec_req(out: &mut Vec<u8>, req: &GetspecReq<'_>) {
    let mut w = XdrWriter::new(out);
    w.u32(req.flags);
    w.string(req.key);
    w.opaque(req.xdata);
}

/// `gf_getspec_rsp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetspecRsp<'a> {
    /// The volfile's length on success, -1 on failure.
    pub op_ret: i32,
    /// 0, or ENOENT for an unknown id.
    pub op_errno: i32,
    /// The volfile text ("" on failure).
    pub spec: &'a str,
    /// The serialized reply dict (empty from glusterd on one node).
    pub xdata: &'a [u8],
}

/// Encodes a GETSPEC reply.
pub fn encode_getspec_rsp(out: &mut Vec<u8>, rsp: &GetspecRsp<'_>) {
    let mut w = XdrWriter::new(out);
    w.i32(rsp.op_ret);
    w.i32(rsp.op_errno);
    w.string(rsp.spec);
    w.opaque(rsp.xdata);
}

/// Decodes a GETSPEC reply whose volfile is at most `spec_bytes_max` bytes.
pub fn decode_getspec_rsp(input: &[u8], spec_bytes_max: usize) -> Result<GetspecRsp<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let op_ret = r.i32()?;
    let op_errno = r.i32()?;
    let spec = r.string(spec_bytes_max)?;
    let xdata = r.opaque(XDATA_BYTES_MAX)?;
    r.finish()?;
    Ok(GetspecRsp {
        op_ret,
        op_errno,
        spec,
        xdata,
    })
}

/// `gf_get_volume_info_req`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeInfoReq<'a> {
    /// `GF_GET_VOLUME_UUID` (1) and friends.
    pub flags: u32,
    /// The serialized request dict (`volname`, `flags`).
    pub dict: &'a [u8],
}

/// Decodes a GET_VOLUME_INFO request.
pub fn decode_volume_info_req(input: &[u8]) -> Result<VolumeInfoReq<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let flags = r.u32()?;
    let dict = r.opaque(XDATA_BYTES_MAX)?;
    r.finish()?;
    Ok(VolumeInfoReq { flags, dict })
}

/// Encodes a GET_VOLUME_INFO request.
pub fn encode_volume_info_req(out: &mut Vec<u8>, req: &VolumeInfoReq<'_>) {
    let mut w = XdrWriter::new(out);
    w.u32(req.flags);
    w.opaque(req.dict);
}

/// Encodes a GET_VOLUME_INFO reply.
pub fn encode_volume_info_rsp(
    out: &mut Vec<u8>,
    op_ret: i32,
    op_errno: i32,
    op_errstr: &str,
    dict: &[u8],
) {
    let mut w = XdrWriter::new(out);
    w.i32(op_ret);
    w.i32(op_errno);
    w.string(op_errstr);
    w.opaque(dict);
}

/// Decodes a GET_SNAPSHOT_INFO request (`gf_getsnap_name_uuid_req`): its serialized dict
/// (`volname`). The reply (`gf_getsnap_name_uuid_rsp`: op_ret, op_errno, op_errstr, dict) is
/// laid out as GET_VOLUME_INFO's: [`encode_volume_info_rsp`].
pub fn decode_snapshot_info_req(input: &[u8]) -> Result<&[u8], XdrError> {
    let mut r = XdrReader::new(input);
    let dict = r.opaque(XDATA_BYTES_MAX)?;
    r.finish()?;
    Ok(dict)
}

/// Encodes a GET_SNAPSHOT_INFO request.
pub fn encode_snapshot_info_req(out: &mut Vec<u8>, dict: &[u8]) {
    XdrWriter::new(out).opaque(dict);
}

/// `gf_event_notify_req`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventNotifyReq<'a> {
    /// The event (`GF_EN_DEFRAG_STATUS` = 1 is the only one glusterd acts on).
    pub op: i32,
    /// The serialized event dict.
    pub dict: &'a [u8],
}

/// Decodes an EVENT_NOTIFY request.
pub fn decode_event_notify_req(input: &[u8]) -> Result<EventNotifyReq<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let op = r.i32()?;
    let dict = r.opaque(XDATA_BYTES_MAX)?;
    r.finish()?;
    Ok(EventNotifyReq { op, dict })
}

/// Encodes an EVENT_NOTIFY request.
pub fn encode_event_notify_req(out: &mut Vec<u8>, req: &EventNotifyReq<'_>) {
    let mut w = XdrWriter::new(out);
    w.i32(req.op);
    w.opaque(req.dict);
}

/// Encodes an EVENT_NOTIFY reply.
pub fn encode_event_notify_rsp(out: &mut Vec<u8>, op_ret: i32, op_errno: i32, dict: &[u8]) {
    let mut w = XdrWriter::new(out);
    w.i32(op_ret);
    w.i32(op_errno);
    w.opaque(dict);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The GETSPEC a real glusterfsd 10.3 sent for brick `/tmp/obs/mnt/b1/data`
    /// (docs/glusterd-volume-start.md §5.1): flags 0, the volfile id, a 3-item dict.
    fn brick_getspec() -> Vec<u8> {
        let mut dict = crate::proto::dict::Dict::new();
        dict.set_str("brick_name", "/tmp/obs/mnt/b1/data");
        dict.set_str("max-op-version", "100000");
        dict.set_str("min-op-version", "1");
        let mut xdata = Vec::new();
        dict.encode(&mut xdata);
        let mut out = Vec::new();
        encode_getspec_req(
            &mut out,
            &GetspecReq {
                flags: 0,
                key: "v1.127.5.5.5.tmp-obs-mnt-b1-data",
                xdata: &xdata,
            },
        );
        out
    }

    #[test]
    fn getspec_request_round_trips() {
        let bytes = brick_getspec();
        let req = decode_getspec_req(&bytes).unwrap();
        assert_eq!(req.flags, 0);
        assert_eq!(req.key, "v1.127.5.5.5.tmp-obs-mnt-b1-data");
        // flags, key length, 32 key bytes, dict length: the dict follows at offset 40.
        assert_eq!(&bytes[4..8], &32u32.to_be_bytes());
        let mut again = Vec::new();
        encode_getspec_req(&mut again, &req);
        assert_eq!(again, bytes);
    }

    #[test]
    fn truncated_requests_are_errors_at_every_length() {
        let bytes = brick_getspec();
        for len in 0..bytes.len() {
            assert!(decode_getspec_req(&bytes[..len]).is_err(), "length {len}");
        }
        let mut trailing = bytes.clone();
        trailing.extend_from_slice(&[0, 0, 0, 0]);
        assert!(decode_getspec_req(&trailing).is_err());
    }

    #[test]
    fn oversized_and_negative_lengths_are_refused_before_allocating() {
        // A key length of 0xffffffff (-1 as a signed word) and one just above the cap.
        for len in [u32::MAX, KEY_BYTES_MAX as u32 + 1, 0x8000_0000] {
            let mut bytes = vec![0, 0, 0, 0];
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&[b'a'; 64]);
            assert!(decode_getspec_req(&bytes).is_err(), "key length {len:#x}");
        }
        let mut bytes = vec![0, 0, 0, 0, 0, 0, 0, 1, b'v', 0, 0, 0];
        bytes.extend_from_slice(&(XDATA_BYTES_MAX as u32 + 1).to_be_bytes());
        assert!(decode_getspec_req(&bytes).is_err());
    }

    #[test]
    fn getspec_reply_carries_the_volfile_length_as_op_ret() {
        let spec = "volume v1-posix\n    type storage/posix\nend-volume\n";
        let mut out = Vec::new();
        encode_getspec_rsp(
            &mut out,
            &GetspecRsp {
                op_ret: spec.len() as i32,
                op_errno: 0,
                spec,
                xdata: &[],
            },
        );
        let rsp = decode_getspec_rsp(&out, 1 << 20).unwrap();
        assert_eq!(rsp.spec, spec);
        assert_eq!(rsp.op_ret as usize, spec.len());
        assert!(decode_getspec_rsp(&out, 8).is_err());
    }

    #[test]
    fn volume_info_and_event_notify_round_trip_and_refuse_truncation() {
        let mut out = Vec::new();
        encode_volume_info_req(
            &mut out,
            &VolumeInfoReq {
                flags: 1,
                dict: b"abcd",
            },
        );
        assert_eq!(
            decode_volume_info_req(&out).unwrap(),
            VolumeInfoReq {
                flags: 1,
                dict: b"abcd"
            }
        );
        assert!(decode_volume_info_req(&out[..out.len() - 1]).is_err());
        let mut out = Vec::new();
        encode_event_notify_req(&mut out, &EventNotifyReq { op: -3, dict: &[] });
        assert_eq!(
            decode_event_notify_req(&out).unwrap(),
            EventNotifyReq { op: -3, dict: &[] }
        );
        assert!(decode_event_notify_req(&out[..3]).is_err());
    }
}
