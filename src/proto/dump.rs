//! GF-DUMP program 123451501 v1: DUMP (list the programs a listener serves) and PING.
//!
//! `gf_dump_req { u_quad gfs_id }`, `gf_dump_rsp { u_quad gfs_id; int op_ret; int op_errno;
//! gf_prog_detail *prog }`, `gf_prog_detail { string progname<>; u_quad prognum; u_quad progver;
//! gf_prog_detail *next }`. The server always answers gfs_id 0 (reference §3.1). PING answers
//! `gf_common_rsp { int op_ret; int op_errno; opaque xdata<> }`, all zero.

use super::xdr::{XdrError, XdrReader, XdrWriter};

/// Program number of GF-DUMP.
pub const PROGRAM: u32 = 123_451_501;
/// Its only version.
pub const VERSION: u32 = 1;
/// Procedure NULL.
pub const PROC_NULL: u32 = 0;
/// Procedure DUMP.
pub const PROC_DUMP: u32 = 1;
/// Procedure PING.
pub const PROC_PING: u32 = 2;

/// Cap on the entries of a decoded DUMP reply (a server lists a dozen at most).
pub const PROGRAMS_MAX: usize = 256;
/// Cap on a decoded program name.
pub const PROGRAM_NAME_BYTES_MAX: usize = 1024;

/// Decodes `gf_dump_req` and returns its gfs_id.
pub fn decode_request(args: &[u8]) -> Result<u64, XdrError> {
    let mut r = XdrReader::new(args);
    let gfs_id = r.u64()?;
    r.finish()?;
    Ok(gfs_id)
}

/// Encodes `gf_dump_req`.
pub fn encode_request(out: &mut Vec<u8>, gfs_id: u64) {
    XdrWriter::new(out).u64(gfs_id);
}

/// One entry of a DUMP reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramEntry<'a> {
    /// Program name as glusterd prints it.
    pub name: &'a str,
    /// Program number.
    pub number: u64,
    /// Program version.
    pub version: u64,
}

/// Encodes a successful `gf_dump_rsp` listing `programs` in order.
pub fn encode_reply<'a>(out: &mut Vec<u8>, programs: impl IntoIterator<Item = ProgramEntry<'a>>) {
    let mut w = XdrWriter::new(out);
    w.u64(0);
    w.i32(0);
    w.i32(0);
    for p in programs {
        w.bool(true);
        w.string(p.name);
        w.u64(p.number);
        w.u64(p.version);
    }
    w.bool(false);
}

/// A decoded `gf_dump_rsp` (client side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpReply<'a> {
    /// gfs_id (glusterd always sends 0).
    pub gfs_id: u64,
    /// op_ret.
    pub op_ret: i32,
    /// op_errno.
    pub op_errno: i32,
    /// The programs, in the server's order.
    pub programs: Vec<ProgramEntry<'a>>,
}

/// Decodes `gf_dump_rsp`.
pub fn decode_reply(results: &[u8]) -> Result<DumpReply<'_>, XdrError> {
    let mut r = XdrReader::new(results);
    let gfs_id = r.u64()?;
    let op_ret = r.i32()?;
    let op_errno = r.i32()?;
    let mut programs = Vec::new();
    while r.bool()? {
        if programs.len() == PROGRAMS_MAX {
            return Err(XdrError::TooLong {
                offset: r.offset(),
                len: PROGRAMS_MAX as u64 + 1,
                max: PROGRAMS_MAX,
            });
        }
        let name = r.string(PROGRAM_NAME_BYTES_MAX)?;
        let number = r.u64()?;
        let version = r.u64()?;
        programs.push(ProgramEntry {
            name,
            number,
            version,
        });
    }
    r.finish()?;
    Ok(DumpReply {
        gfs_id,
        op_ret,
        op_errno,
        programs,
    })
}

/// Encodes the all-zero `gf_common_rsp` PING answers with.
pub fn encode_ping_reply(out: &mut Vec<u8>) {
    let mut w = XdrWriter::new(out);
    w.i32(0);
    w.i32(0);
    w.opaque(&[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_reply_is_twelve_zero_bytes() {
        let mut out = Vec::new();
        encode_ping_reply(&mut out);
        assert_eq!(out, [0; 12]);
    }

    #[test]
    fn dump_reply_layout() {
        let mut out = Vec::new();
        encode_reply(
            &mut out,
            [ProgramEntry {
                name: "GF-DUMP",
                number: 123_451_501,
                version: 1,
            }],
        );
        let mut want = vec![0u8; 16];
        want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 7]);
        want.extend_from_slice(b"GF-DUMP\0");
        want.extend_from_slice(&123_451_501u64.to_be_bytes());
        want.extend_from_slice(&1u64.to_be_bytes());
        want.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(out, want);
        let got = decode_reply(&out).unwrap();
        assert_eq!(got.programs.len(), 1);
        assert_eq!(got.programs[0].name, "GF-DUMP");
    }

    #[test]
    fn request_must_be_exactly_one_hyper() {
        let mut out = Vec::new();
        encode_request(&mut out, 0xcafe);
        assert_eq!(decode_request(&out).unwrap(), 0xcafe);
        assert!(decode_request(&out[..7]).is_err());
        out.push(0);
        assert!(decode_request(&out).is_err());
    }

    #[test]
    fn truncated_reply_is_an_error() {
        let mut out = Vec::new();
        encode_reply(
            &mut out,
            [ProgramEntry {
                name: "x",
                number: 1,
                version: 1,
            }],
        );
        for len in 0..out.len() {
            assert!(decode_reply(&out[..len]).is_err(), "{len}");
        }
    }
}
