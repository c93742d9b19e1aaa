//! GLUSTER_CLI_PROGRAM 1238463 v2: procedure numbers and the XDR structs of `cli1-xdr.x`.
//!
//! The dicts these structs carry stay opaque bytes here; `proto::dict` decodes them. Every
//! decoder checks lengths against [`CLI_BYTES_MAX`] (or a smaller field cap) before taking
//! anything, borrows from its input and returns an error for anything malformed.

use super::xdr::{XdrError, XdrReader, XdrWriter};

/// Program number.
pub const PROGRAM: u32 = super::programs::CLI;
/// Program version.
pub const VERSION: u32 = 2;

/// Cap on one dict or string inside a CLI struct (a volume info reply for one volume is a few
/// KiB; 4 MiB matches the dict value cap).
pub const CLI_BYTES_MAX: usize = 4 << 20;
/// Cap on a name field such as FSM_LOG's peer name.
pub const NAME_BYTES_MAX: usize = 4096;

/// `enum gluster_cli_procnum`: (number, name, served on the unix socket, served on TCP).
/// "served" means glusterd 10.3 has an actor in that listener's table (reference §3.2).
pub const PROCEDURES: [(u32, &str, bool, bool); 50] = [
    (0, "NULL", false, false),
    (1, "PROBE", true, false),
    (2, "DEPROBE", true, false),
    (3, "LIST_FRIENDS", true, true),
    (4, "CREATE_VOLUME", true, false),
    (5, "GET_VOLUME", true, true),
    (6, "GET_NEXT_VOLUME", false, false),
    (7, "DELETE_VOLUME", true, false),
    (8, "START_VOLUME", true, false),
    (9, "STOP_VOLUME", true, false),
    (10, "RENAME_VOLUME", false, false),
    (11, "DEFRAG_VOLUME", true, false),
    (12, "SET_VOLUME", true, false),
    (13, "ADD_BRICK", true, false),
    (14, "REMOVE_BRICK", true, false),
    (15, "REPLACE_BRICK", true, false),
    (16, "LOG_ROTATE", true, false),
    (17, "GETSPEC", false, false),
    (18, "PMAP_PORTBYBRICK", false, false),
    (19, "SYNC_VOLUME", true, false),
    (20, "RESET_VOLUME", true, false),
    (21, "FSM_LOG", true, false),
    (22, "GSYNC_SET", true, false),
    (23, "PROFILE_VOLUME", true, false),
    (24, "QUOTA", true, false),
    (25, "TOP_VOLUME", false, false),
    (26, "GETWD", true, true),
    (27, "STATUS_VOLUME", true, true),
    (28, "STATUS_ALL", false, false),
    (29, "MOUNT", true, true),
    (30, "UMOUNT", true, true),
    (31, "HEAL_VOLUME", true, false),
    (32, "STATEDUMP_VOLUME", true, false),
    (33, "LIST_VOLUME", true, true),
    (34, "CLRLOCKS_VOLUME", true, false),
    (35, "UUID_RESET", true, false),
    (36, "UUID_GET", true, true),
    (37, "COPY_FILE", true, false),
    (38, "SYS_EXEC", true, false),
    (39, "SNAP", true, false),
    (40, "BARRIER_VOLUME", true, false),
    (41, "GET_VOL_OPT", true, false),
    (42, "GANESHA", true, false),
    (43, "BITROT", true, false),
    (44, "ATTACH_TIER", true, false),
    (45, "TIER", true, false),
    (46, "GET_STATE", true, false),
    (47, "RESET_BRICK", true, false),
    (48, "REMOVE_TIER_BRICK", true, false),
    (49, "ADD_TIER_BRICK", true, false),
];

/// LIST_FRIENDS.
pub const PROC_LIST_FRIENDS: u32 = 3;
/// `GLUSTER_CLI_PROBE`: `peer probe HOST`.
pub const PROC_PROBE: u32 = 1;
/// `GLUSTER_CLI_DEPROBE`: `peer detach HOST [force]`.
pub const PROC_DEPROBE: u32 = 2;
/// GET_VOLUME (flags 2: one volume by name; 3: the GET_NEXT iteration).
pub const PROC_GET_VOLUME: u32 = 5;
/// `GLUSTER_CLI_CREATE_VOLUME`.
pub const PROC_CREATE_VOLUME: u32 = 4;
/// `GLUSTER_CLI_DELETE_VOLUME`.
pub const PROC_DELETE_VOLUME: u32 = 7;
/// `GLUSTER_CLI_START_VOLUME`.
pub const PROC_START_VOLUME: u32 = 8;
/// `GLUSTER_CLI_STOP_VOLUME`.
pub const PROC_STOP_VOLUME: u32 = 9;
/// GETWD.
pub const PROC_GETWD: u32 = 26;
/// STATUS_VOLUME.
pub const PROC_STATUS_VOLUME: u32 = 27;
/// LIST_VOLUME.
pub const PROC_LIST_VOLUME: u32 = 33;
/// UUID_RESET (`system uuid reset`).
pub const PROC_UUID_RESET: u32 = 35;
/// UUID_GET.
pub const PROC_UUID_GET: u32 = 36;
/// FSM_LOG.
pub const PROC_FSM_LOG: u32 = 21;
/// `GLUSTER_CLI_SET_VOLUME`.
pub const PROC_SET_VOLUME: u32 = 12;
/// `GLUSTER_CLI_RESET_VOLUME`.
pub const PROC_RESET_VOLUME: u32 = 20;
/// `GLUSTER_CLI_GET_VOL_OPT`.
pub const PROC_GET_VOL_OPT: u32 = 41;
/// MOUNT.
pub const PROC_MOUNT: u32 = 29;
/// UMOUNT.
pub const PROC_UMOUNT: u32 = 30;

/// Name of a CLI procedure, if the number is in the table.
pub fn procedure_name(proc_num: u32) -> Option<&'static str> {
    PROCEDURES.get(proc_num as usize).map(|p| p.1)
}

/// `gf_cli_req { opaque dict<> }`: returns the dict bytes (possibly empty).
pub fn decode_cli_req(args: &[u8]) -> Result<&[u8], XdrError> {
    let mut r = XdrReader::new(args);
    let dict = r.opaque(CLI_BYTES_MAX)?;
    r.finish()?;
    Ok(dict)
}

/// Encodes `gf_cli_req`.
pub fn encode_cli_req(out: &mut Vec<u8>, dict: &[u8]) {
    XdrWriter::new(out).opaque(dict);
}

/// `gf_cli_rsp { int op_ret; int op_errno; string op_errstr<>; opaque dict<> }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CliRsp<'a> {
    /// 0 on success, -1 on failure.
    pub op_ret: i32,
    /// glusterd errno (e.g. 30806 EG_NOVOL).
    pub op_errno: i32,
    /// Message the CLI prints on failure.
    pub op_errstr: &'a str,
    /// Serialized dict, or empty.
    pub dict: &'a [u8],
}

/// Encodes `gf_cli_rsp`.
pub fn encode_cli_rsp(out: &mut Vec<u8>, rsp: &CliRsp<'_>) {
    let mut w = XdrWriter::new(out);
    w.i32(rsp.op_ret);
    w.i32(rsp.op_errno);
    w.string(rsp.op_errstr);
    w.opaque(rsp.dict);
}

/// Decodes `gf_cli_rsp`.
pub fn decode_cli_rsp(results: &[u8]) -> Result<CliRsp<'_>, XdrError> {
    let mut r = XdrReader::new(results);
    let op_ret = r.i32()?;
    let op_errno = r.i32()?;
    let op_errstr = r.string(CLI_BYTES_MAX)?;
    let dict = r.opaque(CLI_BYTES_MAX)?;
    r.finish()?;
    Ok(CliRsp {
        op_ret,
        op_errno,
        op_errstr,
        dict,
    })
}

/// `gf1_cli_peer_list_req { int flags; opaque dict<> }`.
pub fn decode_peer_list_req(args: &[u8]) -> Result<(i32, &[u8]), XdrError> {
    let mut r = XdrReader::new(args);
    let flags = r.i32()?;
    let dict = r.opaque(CLI_BYTES_MAX)?;
    r.finish()?;
    Ok((flags, dict))
}

/// Encodes `gf1_cli_peer_list_req`.
pub fn encode_peer_list_req(out: &mut Vec<u8>, flags: i32, dict: &[u8]) {
    let mut w = XdrWriter::new(out);
    w.i32(flags);
    w.opaque(dict);
}

/// Encodes `gf1_cli_peer_list_rsp { int op_ret; int op_errno; opaque friends<> }`.
pub fn encode_peer_list_rsp(out: &mut Vec<u8>, op_ret: i32, op_errno: i32, friends: &[u8]) {
    let mut w = XdrWriter::new(out);
    w.i32(op_ret);
    w.i32(op_errno);
    w.opaque(friends);
}

/// Decodes `gf1_cli_peer_list_rsp` into (op_ret, op_errno, friends dict bytes).
pub fn decode_peer_list_rsp(results: &[u8]) -> Result<(i32, i32, &[u8]), XdrError> {
    let mut r = XdrReader::new(results);
    let op_ret = r.i32()?;
    let op_errno = r.i32()?;
    let friends = r.opaque(CLI_BYTES_MAX)?;
    r.finish()?;
    Ok((op_ret, op_errno, friends))
}

/// `gf1_cli_getwd_req { int unused }`.
pub fn decode_getwd_req(args: &[u8]) -> Result<i32, XdrError> {
    let mut r = XdrReader::new(args);
    let unused = r.i32()?;
    r.finish()?;
    Ok(unused)
}

/// Encodes `gf1_cli_getwd_rsp { int op_ret; int op_errno; string wd<> }`.
pub fn encode_getwd_rsp(out: &mut Vec<u8>, op_ret: i32, op_errno: i32, wd: &str) {
    let mut w = XdrWriter::new(out);
    w.i32(op_ret);
    w.i32(op_errno);
    w.string(wd);
}

/// `gf1_cli_fsm_log_req { string name<> }`.
pub fn decode_fsm_log_req(args: &[u8]) -> Result<&str, XdrError> {
    let mut r = XdrReader::new(args);
    let name = r.string(NAME_BYTES_MAX)?;
    r.finish()?;
    Ok(name)
}

/// Encodes `gf1_cli_fsm_log_rsp { int op_ret; int op_errno; string op_errstr<>; opaque
/// fsm_log<> }`.
pub fn encode_fsm_log_rsp(
    out: &mut Vec<u8>,
    op_ret: i32,
    op_errno: i32,
    op_errstr: &str,
    log: &[u8],
) {
    let mut w = XdrWriter::new(out);
    w.i32(op_ret);
    w.i32(op_errno);
    w.string(op_errstr);
    w.opaque(log);
}

/// `gf1_cli_mount_req { string label<>; opaque dict<> }`.
pub fn decode_mount_req(args: &[u8]) -> Result<(&str, &[u8]), XdrError> {
    let mut r = XdrReader::new(args);
    let label = r.string(NAME_BYTES_MAX)?;
    let dict = r.opaque(CLI_BYTES_MAX)?;
    r.finish()?;
    Ok((label, dict))
}

/// Encodes `gf1_cli_mount_rsp { int op_ret; int op_errno; string path<> }`.
pub fn encode_mount_rsp(out: &mut Vec<u8>, op_ret: i32, op_errno: i32, path: &str) {
    let mut w = XdrWriter::new(out);
    w.i32(op_ret);
    w.i32(op_errno);
    w.string(path);
}

/// `gf1_cli_umount_req { int lazy; string path<> }`.
pub fn decode_umount_req(args: &[u8]) -> Result<(i32, &str), XdrError> {
    let mut r = XdrReader::new(args);
    let lazy = r.i32()?;
    let path = r.string(NAME_BYTES_MAX)?;
    r.finish()?;
    Ok((lazy, path))
}

/// Encodes `gf1_cli_umount_rsp { int op_ret; int op_errno }`.
pub fn encode_umount_rsp(out: &mut Vec<u8>, op_ret: i32, op_errno: i32) {
    let mut w = XdrWriter::new(out);
    w.i32(op_ret);
    w.i32(op_errno);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedure_table_is_indexed_by_number() {
        for (i, p) in PROCEDURES.iter().enumerate() {
            assert_eq!(p.0 as usize, i);
        }
        assert_eq!(procedure_name(36), Some("UUID_GET"));
        assert_eq!(procedure_name(50), None);
        let tcp: Vec<&str> = PROCEDURES.iter().filter(|p| p.3).map(|p| p.1).collect();
        assert_eq!(
            tcp,
            [
                "LIST_FRIENDS",
                "GET_VOLUME",
                "GETWD",
                "STATUS_VOLUME",
                "MOUNT",
                "UMOUNT",
                "LIST_VOLUME",
                "UUID_GET"
            ]
        );
    }

    #[test]
    fn cli_rsp_round_trips() {
        let rsp = CliRsp {
            op_ret: -1,
            op_errno: 30806,
            op_errstr: "Volume does not exist",
            dict: &[0, 0, 0, 0],
        };
        let mut out = Vec::new();
        encode_cli_rsp(&mut out, &rsp);
        assert_eq!(out.len() % 4, 0);
        assert_eq!(decode_cli_rsp(&out).unwrap(), rsp);
        for len in 0..out.len() {
            assert!(decode_cli_rsp(&out[..len]).is_err());
        }
    }

    #[test]
    fn peer_list_req_matches_the_cli_bytes() {
        let mut out = Vec::new();
        encode_peer_list_req(&mut out, 2, &[]);
        assert_eq!(out, [0, 0, 0, 2, 0, 0, 0, 0]);
        assert_eq!(decode_peer_list_req(&out).unwrap(), (2, &[][..]));
        assert!(decode_peer_list_req(&out[..6]).is_err());
    }

    #[test]
    fn oversized_and_negative_lengths_are_refused() {
        let mut args = Vec::new();
        XdrWriter::new(&mut args).u32(u32::MAX);
        assert!(matches!(
            decode_cli_req(&args),
            Err(XdrError::TooLong { .. })
        ));
        let mut args = vec![0, 0, 0, 1];
        args.extend_from_slice(&(-5i32).to_be_bytes());
        assert!(decode_peer_list_req(&args).is_err());
    }

    #[test]
    fn small_structs_round_trip() {
        let mut out = Vec::new();
        encode_getwd_rsp(&mut out, 0, 0, "/var/lib/glusterd");
        let mut r = XdrReader::new(&out);
        assert_eq!((r.i32().unwrap(), r.i32().unwrap()), (0, 0));
        assert_eq!(r.string(64).unwrap(), "/var/lib/glusterd");
        assert_eq!(decode_getwd_req(&[0, 0, 0, 1]).unwrap(), 1);
        let mut req = Vec::new();
        XdrWriter::new(&mut req).string("peer1");
        assert_eq!(decode_fsm_log_req(&req).unwrap(), "peer1");
        let mut req = Vec::new();
        let mut w = XdrWriter::new(&mut req);
        w.i32(1);
        w.string("/mnt/x");
        assert_eq!(decode_umount_req(&req).unwrap(), (1, "/mnt/x"));
    }
}
