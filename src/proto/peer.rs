//! GD_FRIEND (1238437 v2), the peer program glusterd nodes use to form a pool, and GD_MGMT_HNDSK
//! (1239873 v1), the op-version exchange that opens every peer connection (reference §3.5-3.7,
//! §4). Structs of `glusterd1-xdr.x` and `glusterfs3-xdr.x`; the dicts inside stay opaque bytes
//! for `proto::dict`.
//!
//! A uuid takes sixteen 4-byte words on the wire (see `proto::mgmt`). No I/O here.

use super::mgmt::{read_uuid, write_uuid};
use super::xdr::{XdrError, XdrReader, XdrWriter};

/// GD_FRIEND program number.
pub const PROGRAM: u32 = super::programs::PEER;
/// GD_FRIEND version.
pub const VERSION: u32 = 2;
/// `GLUSTERD_PROBE_QUERY`.
pub const PROC_PROBE_QUERY: u32 = 1;
/// `GLUSTERD_FRIEND_ADD`.
pub const PROC_FRIEND_ADD: u32 = 2;
/// `GLUSTERD_FRIEND_REMOVE`.
pub const PROC_FRIEND_REMOVE: u32 = 3;
/// `GLUSTERD_FRIEND_UPDATE`.
pub const PROC_FRIEND_UPDATE: u32 = 4;

/// GD_MGMT_HNDSK program number.
pub const HNDSK_PROGRAM: u32 = super::programs::MGMT_HANDSHAKE;
/// GD_MGMT_HNDSK version.
pub const HNDSK_VERSION: u32 = 1;
/// `GD_MGMT_HNDSK_VERSIONS`.
pub const PROC_VERSIONS: u32 = 1;
/// `GD_MGMT_HNDSK_VERSIONS_ACK`.
pub const PROC_VERSIONS_ACK: u32 = 2;

/// Cap on a host name in a peer struct (glusterd's hostnames are at most 1024 bytes).
pub const HOSTNAME_BYTES_MAX: usize = 1024;
/// Cap on an error string in a peer reply.
pub const ERRSTR_BYTES_MAX: usize = 64 << 10;
/// Cap on the volume export dict of a FRIEND_ADD (a thousand volumes export ~4 MiB).
pub const VOLS_BYTES_MAX: usize = 8 << 20;
/// Cap on the friend list dict of a FRIEND_UPDATE, and on a handshake dict.
pub const FRIENDS_BYTES_MAX: usize = 1 << 20;

/// The name of a GD_FRIEND procedure.
pub fn procedure_name(proc_num: u32) -> Option<&'static str> {
    match proc_num {
        0 => Some("NULL"),
        PROC_PROBE_QUERY => Some("PROBE_QUERY"),
        PROC_FRIEND_ADD => Some("FRIEND_ADD"),
        PROC_FRIEND_REMOVE => Some("FRIEND_REMOVE"),
        PROC_FRIEND_UPDATE => Some("FRIEND_UPDATE"),
        _ => None,
    }
}

/// `gd1_mgmt_probe_req` (PROBE_QUERY): the sender, the name it knows the receiver by, and its
/// port. (FRIEND_REMOVE carries a [`FriendReq`] with no volumes on the wire, whatever
/// glusterd's XDR file says of `gd1_mgmt_unfriend_req`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeReq<'a> {
    /// The sender's node UUID.
    pub uuid: [u8; 16],
    /// The receiver's name as the sender knows it.
    pub hostname: &'a str,
    /// The sender's management port (24007).
    pub port: i32,
}

/// Decodes a PROBE_QUERY or FRIEND_REMOVE request.
pub fn decode_probe_req(input: &[u8]) -> Result<ProbeReq<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let uuid = read_uuid(&mut r)?;
    let hostname = r.string(HOSTNAME_BYTES_MAX)?;
    let port = r.i32()?;
    r.finish()?;
    Ok(ProbeReq {
        uuid,
        hostname,
        port,
    })
}

/// Encodes a PROBE_QUERY or FRIEND_REMOVE request.
pub fn encode_probe_req(out: &mut Vec<u8>, req: &ProbeReq<'_>) {
    let mut w = XdrWriter::new(out);
    write_uuid(&mut w, &req.uuid);
    w.string(req.hostname);
    w.i32(req.port);
}

/// `gd1_mgmt_probe_rsp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeRsp<'a> {
    /// The responder's node UUID.
    pub uuid: [u8; 16],
    /// The responder's name, as the request gave it.
    pub hostname: &'a str,
    /// The responder's port (glusterd sends 0).
    pub port: i32,
    /// 0 or -1.
    pub op_ret: i32,
    /// A `gf_probe_resp` value on failure.
    pub op_errno: i32,
    /// Why, on failure.
    pub op_errstr: &'a str,
}

/// Decodes a PROBE_QUERY reply.
pub fn decode_probe_rsp(input: &[u8]) -> Result<ProbeRsp<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let uuid = read_uuid(&mut r)?;
    let hostname = r.string(HOSTNAME_BYTES_MAX)?;
    let port = r.i32()?;
    let op_ret = r.i32()?;
    let op_errno = r.i32()?;
    let op_errstr = r.string(ERRSTR_BYTES_MAX)?;
    r.finish()?;
    Ok(ProbeRsp {
        uuid,
        hostname,
        port,
        op_ret,
        op_errno,
        op_errstr,
    })
}

/// Encodes a PROBE_QUERY reply.
pub fn encode_probe_rsp(out: &mut Vec<u8>, rsp: &ProbeRsp<'_>) {
    let mut w = XdrWriter::new(out);
    write_uuid(&mut w, &rsp.uuid);
    w.string(rsp.hostname);
    w.i32(rsp.port);
    w.i32(rsp.op_ret);
    w.i32(rsp.op_errno);
    w.string(rsp.op_errstr);
}

/// `gd1_mgmt_friend_req`: FRIEND_ADD, with the sender's volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FriendReq<'a> {
    /// The sender's node UUID.
    pub uuid: [u8; 16],
    /// The receiver's name as the sender knows it.
    pub hostname: &'a str,
    /// The sender's port (24007, or 0 for a peer learnt from an update).
    pub port: i32,
    /// The serialized volume export dict (`cluster::export`).
    pub vols: &'a [u8],
}

/// Decodes a FRIEND_ADD request.
pub fn decode_friend_req(input: &[u8]) -> Result<FriendReq<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let uuid = read_uuid(&mut r)?;
    let hostname = r.string(HOSTNAME_BYTES_MAX)?;
    let port = r.i32()?;
    let vols = r.opaque(VOLS_BYTES_MAX)?;
    r.finish()?;
    Ok(FriendReq {
        uuid,
        hostname,
        port,
        vols,
    })
}

/// Encodes a FRIEND_ADD request.
pub fn encode_friend_req(out: &mut Vec<u8>, req: &FriendReq<'_>) {
    let mut w = XdrWriter::new(out);
    write_uuid(&mut w, &req.uuid);
    w.string(req.hostname);
    w.i32(req.port);
    w.opaque(req.vols);
}

/// `gd1_mgmt_friend_rsp` and `gd1_mgmt_unfriend_rsp` (same fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FriendRsp<'a> {
    /// The responder's node UUID.
    pub uuid: [u8; 16],
    /// The responder's name, as the request gave it.
    pub hostname: &'a str,
    /// 0 or -1.
    pub op_ret: i32,
    /// A `gf_probe_resp` (or deprobe) value on failure.
    pub op_errno: i32,
    /// The responder's port (glusterd sends 0).
    pub port: i32,
}

/// Decodes a FRIEND_ADD or FRIEND_REMOVE reply.
pub fn decode_friend_rsp(input: &[u8]) -> Result<FriendRsp<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let uuid = read_uuid(&mut r)?;
    let hostname = r.string(HOSTNAME_BYTES_MAX)?;
    let op_ret = r.i32()?;
    let op_errno = r.i32()?;
    let port = r.i32()?;
    r.finish()?;
    Ok(FriendRsp {
        uuid,
        hostname,
        op_ret,
        op_errno,
        port,
    })
}

/// Encodes a FRIEND_ADD or FRIEND_REMOVE reply.
pub fn encode_friend_rsp(out: &mut Vec<u8>, rsp: &FriendRsp<'_>) {
    let mut w = XdrWriter::new(out);
    write_uuid(&mut w, &rsp.uuid);
    w.string(rsp.hostname);
    w.i32(rsp.op_ret);
    w.i32(rsp.op_errno);
    w.i32(rsp.port);
}

/// `gd1_mgmt_friend_update`: the sender's friends (op 1 add) or one gone (op 2 delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FriendUpdate<'a> {
    /// The sender's node UUID.
    pub uuid: [u8; 16],
    /// The serialized friends dict.
    pub friends: &'a [u8],
    /// glusterd sends 0.
    pub port: i32,
}

/// Decodes a FRIEND_UPDATE request.
pub fn decode_friend_update(input: &[u8]) -> Result<FriendUpdate<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let uuid = read_uuid(&mut r)?;
    let friends = r.opaque(FRIENDS_BYTES_MAX)?;
    let port = r.i32()?;
    r.finish()?;
    Ok(FriendUpdate {
        uuid,
        friends,
        port,
    })
}

/// Encodes a FRIEND_UPDATE request.
pub fn encode_friend_update(out: &mut Vec<u8>, req: &FriendUpdate<'_>) {
    let mut w = XdrWriter::new(out);
    write_uuid(&mut w, &req.uuid);
    w.opaque(req.friends);
    w.i32(req.port);
}

/// `gd1_mgmt_friend_update_rsp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FriendUpdateRsp {
    /// The responder's node UUID.
    pub uuid: [u8; 16],
    /// glusterd sends 0.
    pub op: i32,
    /// 0 or -1.
    pub op_ret: i32,
    /// errno on failure.
    pub op_errno: i32,
}

/// Decodes a FRIEND_UPDATE reply.
pub fn decode_friend_update_rsp(input: &[u8]) -> Result<FriendUpdateRsp, XdrError> {
    let mut r = XdrReader::new(input);
    let uuid = read_uuid(&mut r)?;
    let op = r.i32()?;
    let op_ret = r.i32()?;
    let op_errno = r.i32()?;
    r.finish()?;
    Ok(FriendUpdateRsp {
        uuid,
        op,
        op_ret,
        op_errno,
    })
}

/// Encodes a FRIEND_UPDATE reply.
pub fn encode_friend_update_rsp(out: &mut Vec<u8>, rsp: &FriendUpdateRsp) {
    let mut w = XdrWriter::new(out);
    write_uuid(&mut w, &rsp.uuid);
    w.i32(rsp.op);
    w.i32(rsp.op_ret);
    w.i32(rsp.op_errno);
}

/// Decodes a `gf_mgmt_hndsk_req` (VERSIONS, VERSIONS_ACK): the serialized dict.
pub fn decode_hndsk_req(input: &[u8]) -> Result<&[u8], XdrError> {
    let mut r = XdrReader::new(input);
    let dict = r.opaque(FRIENDS_BYTES_MAX)?;
    r.finish()?;
    Ok(dict)
}

/// Encodes a `gf_mgmt_hndsk_req`.
pub fn encode_hndsk_req(out: &mut Vec<u8>, dict: &[u8]) {
    XdrWriter::new(out).opaque(dict);
}

/// A `gf_mgmt_hndsk_rsp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HndskRsp<'a> {
    /// 0 or -1.
    pub op_ret: i32,
    /// glusterd 10.3 sends 22 (EINVAL) even on success.
    pub op_errno: i32,
    /// The serialized dict.
    pub dict: &'a [u8],
}

/// Decodes a `gf_mgmt_hndsk_rsp`.
pub fn decode_hndsk_rsp(input: &[u8]) -> Result<HndskRsp<'_>, XdrError> {
    let mut r = XdrReader::new(input);
    let op_ret = r.i32()?;
    let op_errno = r.i32()?;
    let dict = r.opaque(FRIENDS_BYTES_MAX)?;
    r.finish()?;
    Ok(HndskRsp {
        op_ret,
        op_errno,
        dict,
    })
}

/// Encodes a `gf_mgmt_hndsk_rsp`.
pub fn encode_hndsk_rsp(out: &mut Vec<u8>, rsp: &HndskRsp<'_>) {
    let mut w = XdrWriter::new(out);
    w.i32(rsp.op_ret);
    w.i32(rsp.op_errno);
    w.opaque(rsp.dict);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_struct_round_trips() {
        let mut out = Vec::new();
        let probe = ProbeReq {
            uuid: [1; 16],
            hostname: "127.1.1.2",
            port: 24007,
        };
        encode_probe_req(&mut out, &probe);
        assert_eq!(out.len(), 64 + 4 + 12 + 4);
        assert_eq!(decode_probe_req(&out).unwrap(), probe);

        let rsp = ProbeRsp {
            uuid: [2; 16],
            hostname: "h",
            port: 0,
            op_ret: -1,
            op_errno: 3,
            op_errstr: "another cluster",
        };
        out.clear();
        encode_probe_rsp(&mut out, &rsp);
        assert_eq!(decode_probe_rsp(&out).unwrap(), rsp);

        let add = FriendReq {
            uuid: [3; 16],
            hostname: "h",
            port: 24007,
            vols: &[0, 0, 0, 0],
        };
        out.clear();
        encode_friend_req(&mut out, &add);
        assert_eq!(decode_friend_req(&out).unwrap(), add);

        let frsp = FriendRsp {
            uuid: [4; 16],
            hostname: "h",
            op_ret: 0,
            op_errno: 0,
            port: 0,
        };
        out.clear();
        encode_friend_rsp(&mut out, &frsp);
        assert_eq!(decode_friend_rsp(&out).unwrap(), frsp);

        let upd = FriendUpdate {
            uuid: [5; 16],
            friends: b"abc",
            port: 0,
        };
        out.clear();
        encode_friend_update(&mut out, &upd);
        assert_eq!(decode_friend_update(&out).unwrap(), upd);

        let ursp = FriendUpdateRsp {
            uuid: [6; 16],
            op: 0,
            op_ret: 0,
            op_errno: 0,
        };
        out.clear();
        encode_friend_update_rsp(&mut out, &ursp);
        assert_eq!(decode_friend_update_rsp(&out).unwrap(), ursp);

        out.clear();
        encode_hndsk_req(&mut out, b"dict");
        assert_eq!(decode_hndsk_req(&out).unwrap(), b"dict");
        let h = HndskRsp {
            op_ret: 0,
            op_errno: 22,
            dict: b"d",
        };
        out.clear();
        encode_hndsk_rsp(&mut out, &h);
        assert_eq!(decode_hndsk_rsp(&out).unwrap(), h);
    }

    #[test]
    fn truncated_oversized_negative_and_trailing_input_are_errors() {
        let mut out = Vec::new();
        encode_friend_req(
            &mut out,
            &FriendReq {
                uuid: [1; 16],
                hostname: "host",
                port: 24007,
                vols: b"12345",
            },
        );
        for cut in 0..out.len() {
            assert!(decode_friend_req(&out[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = out.clone();
        trailing.extend_from_slice(&[0; 4]);
        assert!(decode_friend_req(&trailing).is_err());
        // A host name longer than the cap, and a length that is negative as an i32.
        let mut long = vec![0u8; 64];
        long.extend_from_slice(&((HOSTNAME_BYTES_MAX as u32) + 1).to_be_bytes());
        long.extend_from_slice(&vec![b'a'; HOSTNAME_BYTES_MAX + 4]);
        assert!(matches!(
            decode_probe_req(&long),
            Err(XdrError::TooLong { .. })
        ));
        let mut negative = vec![0u8; 64];
        negative.extend_from_slice(&(-4i32).to_be_bytes());
        assert!(decode_probe_req(&negative).is_err());
        // A negative port is carried as is; the handler decides.
        let mut out = Vec::new();
        encode_probe_req(
            &mut out,
            &ProbeReq {
                uuid: [0; 16],
                hostname: "",
                port: -1,
            },
        );
        assert_eq!(decode_probe_req(&out).unwrap().port, -1);
        assert!(decode_hndsk_rsp(&[0, 0, 0, 0]).is_err());
        assert!(decode_friend_update_rsp(&[0; 75]).is_err());
    }
}
