//! BRICKD-ADMIN, brickd's own operator program on the unix socket (not in DUMP, not in
//! glusterd): list the lock leases and force-release one; make a rejected peer a friend again
//! by taking its copies of the volumes that differ. Program number in the SunRPC
//! user-defined range, so it can never collide with a gluster program.

use super::xdr::{XdrError, XdrReader, XdrWriter};

/// Program number (0x20626b64, in the user-defined range 0x20000000–0x3fffffff).
pub const PROGRAM: u32 = 0x2062_6b64;
/// Version.
pub const VERSION: u32 = 1;
/// `LIST_LOCKS`: no arguments; the reply is the leases as text.
pub const PROC_LIST_LOCKS: u32 = 1;
/// `RELEASE_LOCK`: `string name`; the reply is `int op_ret; string message`.
pub const PROC_RELEASE_LOCK: u32 = 2;
/// `RECONCILE_PEER`: `string peer` (its host name or UUID); the reply is `int op_ret; string
/// message`.
pub const PROC_RECONCILE_PEER: u32 = 3;

/// Longest name argument: a lock (`<volname>_vol`; volume names are at most 256 bytes) or a
/// peer (a host name is at most 1 KiB in glusterd's peer info).
pub const NAME_BYTES_MAX: usize = 1024;
/// Longest reply text.
pub const TEXT_BYTES_MAX: usize = 4 << 20;

/// Encodes a RELEASE_LOCK or RECONCILE_PEER request: one name.
pub fn encode_name_req(out: &mut Vec<u8>, name: &str) {
    XdrWriter::new(out).string(name);
}

/// Decodes a RELEASE_LOCK or RECONCILE_PEER request.
pub fn decode_name_req(input: &[u8]) -> Result<&str, XdrError> {
    let mut r = XdrReader::new(input);
    let name = r.string(NAME_BYTES_MAX)?;
    r.finish()?;
    Ok(name)
}

/// Encodes a reply: `int op_ret; string text`.
pub fn encode_rsp(out: &mut Vec<u8>, op_ret: i32, text: &str) {
    let mut w = XdrWriter::new(out);
    w.i32(op_ret);
    w.string(text);
}

/// Decodes a reply.
pub fn decode_rsp(input: &[u8]) -> Result<(i32, &str), XdrError> {
    let mut r = XdrReader::new(input);
    let op_ret = r.i32()?;
    let text = r.string(TEXT_BYTES_MAX)?;
    r.finish()?;
    Ok((op_ret, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip_and_bad_input_is_an_error() {
        let mut out = Vec::new();
        encode_name_req(&mut out, "v1_vol");
        assert_eq!(decode_name_req(&out).unwrap(), "v1_vol");
        assert!(decode_name_req(&out[..out.len() - 1]).is_err());
        let mut long = Vec::new();
        encode_name_req(&mut long, &"x".repeat(NAME_BYTES_MAX + 1));
        assert!(matches!(
            decode_name_req(&long),
            Err(XdrError::TooLong { .. })
        ));
        let mut rsp = Vec::new();
        encode_rsp(&mut rsp, -1, "no lock named v1_vol");
        assert_eq!(decode_rsp(&rsp).unwrap(), (-1, "no lock named v1_vol"));
        rsp.push(0);
        assert!(decode_rsp(&rsp).is_err());
    }
}
