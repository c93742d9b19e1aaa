//! ONC RPC v2 messages (RFC 5531): call headers in, reply headers out.
//!
//! `decode_call` reads a whole record and returns the call header, the credential and verifier
//! bodies as slices, and the procedure arguments as a slice. `encode_reply` writes a reply
//! header for any accept or reject status. Nothing here allocates.
//!
//! Where glusterd departs from the RFC we follow the RFC; docs/rpc-deviations.md lists each case.

use super::xdr::{XdrError, XdrReader, XdrWriter};
use thiserror::Error;

/// The only RPC protocol version (RFC 5531 `rpcvers`).
pub const RPC_VERSION: u32 = 2;
/// `msg_type` CALL.
pub const MSG_CALL: u32 = 0;
/// `msg_type` REPLY.
pub const MSG_REPLY: u32 = 1;
/// `reply_stat` MSG_ACCEPTED.
pub const MSG_ACCEPTED: u32 = 0;
/// `reply_stat` MSG_DENIED.
pub const MSG_DENIED: u32 = 1;
/// RFC 5531 cap on an opaque_auth body (MAX_AUTH_BYTES).
pub const AUTH_BODY_BYTES_MAX: usize = 400;

/// `opaque_auth`: a flavor and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaqueAuth<'a> {
    /// Auth flavor number.
    pub flavor: u32,
    /// Raw body, at most 400 bytes.
    pub body: &'a [u8],
}

impl OpaqueAuth<'static> {
    /// AUTH_NULL with an empty body.
    pub const NULL: OpaqueAuth<'static> = OpaqueAuth {
        flavor: 0,
        body: &[],
    };
}

/// A decoded call header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallHeader<'a> {
    /// Transaction id, echoed in the reply.
    pub xid: u32,
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number.
    pub proc_num: u32,
    /// Credential.
    pub cred: OpaqueAuth<'a>,
    /// Verifier (glusterd echoes it in the reply; so do we).
    pub verf: OpaqueAuth<'a>,
}

/// Why a record is not a call brickd can answer normally. Each variant says how to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CallError {
    /// Too short to hold even an xid: nothing can be answered; the server closes the
    /// connection (its stream cannot be trusted).
    #[error("record of {len} bytes is too short to carry an RPC xid")]
    NoXid {
        /// Record length.
        len: usize,
    },
    /// A REPLY (or another msg_type) sent to a server: drop it.
    #[error("message type {msg_type} is not CALL (xid {xid:#x})")]
    NotACall {
        /// The xid.
        xid: u32,
        /// msg_type found.
        msg_type: u32,
    },
    /// rpcvers is not 2: answer MSG_DENIED / RPC_MISMATCH(2, 2).
    #[error("RPC version {rpcvers} is not 2 (xid {xid:#x})")]
    RpcMismatch {
        /// The xid.
        xid: u32,
        /// rpcvers found.
        rpcvers: u32,
    },
    /// Credential or verifier malformed or longer than 400 bytes: answer MSG_DENIED /
    /// AUTH_ERROR / AUTH_BADCRED (or AUTH_BADVERF).
    #[error("malformed {which} in call xid {xid:#x}: {cause}")]
    BadAuth {
        /// The xid.
        xid: u32,
        /// The auth_stat to answer with.
        stat: AuthStat,
        /// "credential" or "verifier".
        which: &'static str,
        /// What was wrong.
        cause: XdrError,
    },
    /// The header ended early after the xid: answer GARBAGE_ARGS.
    #[error("truncated call header (xid {xid:#x}): {cause}")]
    Truncated {
        /// The xid.
        xid: u32,
        /// What was wrong.
        cause: XdrError,
    },
}

/// `auth_stat` values (RFC 5531).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum AuthStat {
    /// AUTH_OK.
    Ok = 0,
    /// AUTH_BADCRED.
    BadCred = 1,
    /// AUTH_REJECTEDCRED.
    RejectedCred = 2,
    /// AUTH_BADVERF.
    BadVerf = 3,
    /// AUTH_REJECTEDVERF.
    RejectedVerf = 4,
    /// AUTH_TOOWEAK.
    TooWeak = 5,
}

impl AuthStat {
    /// Maps a wire value back to the enum.
    pub fn from_u32(value: u32) -> Option<AuthStat> {
        Some(match value {
            0 => AuthStat::Ok,
            1 => AuthStat::BadCred,
            2 => AuthStat::RejectedCred,
            3 => AuthStat::BadVerf,
            4 => AuthStat::RejectedVerf,
            5 => AuthStat::TooWeak,
            _ => return None,
        })
    }
}

/// Everything a reply can say after its verifier, accepted or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyStatus {
    /// MSG_ACCEPTED / SUCCESS: the procedure's results follow.
    Success,
    /// MSG_ACCEPTED / PROG_UNAVAIL.
    ProgUnavail,
    /// MSG_ACCEPTED / PROG_MISMATCH with the versions this server has.
    ProgMismatch {
        /// Lowest version served.
        low: u32,
        /// Highest version served.
        high: u32,
    },
    /// MSG_ACCEPTED / PROC_UNAVAIL.
    ProcUnavail,
    /// MSG_ACCEPTED / GARBAGE_ARGS.
    GarbageArgs,
    /// MSG_ACCEPTED / SYSTEM_ERR.
    SystemErr,
    /// MSG_DENIED / RPC_MISMATCH with the RPC versions served.
    RpcMismatch {
        /// Lowest RPC version.
        low: u32,
        /// Highest RPC version.
        high: u32,
    },
    /// MSG_DENIED / AUTH_ERROR.
    AuthError(AuthStat),
}

impl ReplyStatus {
    /// The accept_stat number, for accepted replies.
    pub fn accept_stat(self) -> Option<u32> {
        Some(match self {
            ReplyStatus::Success => 0,
            ReplyStatus::ProgUnavail => 1,
            ReplyStatus::ProgMismatch { .. } => 2,
            ReplyStatus::ProcUnavail => 3,
            ReplyStatus::GarbageArgs => 4,
            ReplyStatus::SystemErr => 5,
            ReplyStatus::RpcMismatch { .. } | ReplyStatus::AuthError(_) => return None,
        })
    }

    /// A short name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ReplyStatus::Success => "SUCCESS",
            ReplyStatus::ProgUnavail => "PROG_UNAVAIL",
            ReplyStatus::ProgMismatch { .. } => "PROG_MISMATCH",
            ReplyStatus::ProcUnavail => "PROC_UNAVAIL",
            ReplyStatus::GarbageArgs => "GARBAGE_ARGS",
            ReplyStatus::SystemErr => "SYSTEM_ERR",
            ReplyStatus::RpcMismatch { .. } => "RPC_MISMATCH",
            ReplyStatus::AuthError(_) => "AUTH_ERROR",
        }
    }
}

fn read_auth<'a>(r: &mut XdrReader<'a>) -> Result<OpaqueAuth<'a>, XdrError> {
    let flavor = r.u32()?;
    let body = r.opaque(super::rpc::AUTH_BODY_BYTES_MAX)?;
    Ok(OpaqueAuth { flavor, body })
}

/// Decodes a call header from a whole record; returns it with the argument bytes.
pub fn decode_call(record: &[u8]) -> Result<(CallHeader<'_>, &[u8]), CallError> {
    let mut r = XdrReader::new(record);
    let xid = r
        .u32()
        .map_err(|_| CallError::NoXid { len: record.len() })?;
    let truncated = |cause| CallError::Truncated { xid, cause };
    let msg_type = r.u32().map_err(truncated)?;
    if msg_type != MSG_CALL {
        return Err(CallError::NotACall { xid, msg_type });
    }
    let rpcvers = r.u32().map_err(truncated)?;
    if rpcvers != RPC_VERSION {
        return Err(CallError::RpcMismatch { xid, rpcvers });
    }
    let prog = r.u32().map_err(truncated)?;
    let vers = r.u32().map_err(truncated)?;
    let proc_num = r.u32().map_err(truncated)?;
    let cred = read_auth(&mut r).map_err(|cause| CallError::BadAuth {
        xid,
        stat: AuthStat::BadCred,
        which: "credential",
        cause,
    })?;
    let verf = read_auth(&mut r).map_err(|cause| CallError::BadAuth {
        xid,
        stat: AuthStat::BadVerf,
        which: "verifier",
        cause,
    })?;
    Ok((
        CallHeader {
            xid,
            prog,
            vers,
            proc_num,
            cred,
            verf,
        },
        r.rest(),
    ))
}

/// Writes a call header (used by the load generator, tests and, later, the peer client).
pub fn encode_call(out: &mut Vec<u8>, call: &CallHeader<'_>) {
    let mut w = XdrWriter::new(out);
    w.u32(call.xid);
    w.u32(MSG_CALL);
    w.u32(RPC_VERSION);
    w.u32(call.prog);
    w.u32(call.vers);
    w.u32(call.proc_num);
    w.u32(call.cred.flavor);
    w.opaque(call.cred.body);
    w.u32(call.verf.flavor);
    w.opaque(call.verf.body);
}

/// Writes a reply header. For [`ReplyStatus::Success`] the caller appends the results.
/// Denied replies carry no verifier, as RFC 5531 lays them out.
pub fn encode_reply(out: &mut Vec<u8>, xid: u32, verf: OpaqueAuth<'_>, status: ReplyStatus) {
    let mut w = XdrWriter::new(out);
    w.u32(xid);
    w.u32(MSG_REPLY);
    match status {
        ReplyStatus::RpcMismatch { low, high } => {
            w.u32(MSG_DENIED);
            w.u32(0);
            w.u32(low);
            w.u32(high);
        }
        ReplyStatus::AuthError(stat) => {
            w.u32(MSG_DENIED);
            w.u32(1);
            w.u32(stat as u32);
        }
        accepted => {
            w.u32(MSG_ACCEPTED);
            w.u32(verf.flavor);
            w.opaque(verf.body);
            w.u32(accepted.accept_stat().unwrap_or(5));
            if let ReplyStatus::ProgMismatch { low, high } = accepted {
                w.u32(low);
                w.u32(high);
            }
        }
    }
}

/// A decoded reply header (client side: load generator, tests, later the peer client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader<'a> {
    /// xid of the call this answers.
    pub xid: u32,
    /// Verifier (empty for denied replies).
    pub verf: OpaqueAuth<'a>,
    /// Status.
    pub status: ReplyStatus,
}

/// Why bytes are not a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReplyError {
    /// The XDR ended early or a length was too large.
    #[error("malformed reply: {0}")]
    Xdr(#[from] XdrError),
    /// msg_type was not REPLY.
    #[error("message type {0} is not REPLY")]
    NotAReply(u32),
    /// An unknown reply_stat, accept_stat, reject_stat or auth_stat.
    #[error("unknown {what} {value}")]
    UnknownStatus {
        /// Which field.
        what: &'static str,
        /// Its value.
        value: u32,
    },
}

/// Decodes a reply header; returns it with the result bytes that follow.
pub fn decode_reply(record: &[u8]) -> Result<(ReplyHeader<'_>, &[u8]), ReplyError> {
    let mut r = XdrReader::new(record);
    let xid = r.u32()?;
    let msg_type = r.u32()?;
    if msg_type != MSG_REPLY {
        return Err(ReplyError::NotAReply(msg_type));
    }
    let reply_stat = r.u32()?;
    let (verf, status) = match reply_stat {
        MSG_ACCEPTED => {
            let verf = read_auth(&mut r)?;
            let status = match r.u32()? {
                0 => ReplyStatus::Success,
                1 => ReplyStatus::ProgUnavail,
                2 => ReplyStatus::ProgMismatch {
                    low: r.u32()?,
                    high: r.u32()?,
                },
                3 => ReplyStatus::ProcUnavail,
                4 => ReplyStatus::GarbageArgs,
                5 => ReplyStatus::SystemErr,
                value => {
                    return Err(ReplyError::UnknownStatus {
                        what: "accept_stat",
                        value,
                    })
                }
            };
            (verf, status)
        }
        MSG_DENIED => {
            let status = match r.u32()? {
                0 => ReplyStatus::RpcMismatch {
                    low: r.u32()?,
                    high: r.u32()?,
                },
                1 => {
                    let value = r.u32()?;
                    ReplyStatus::AuthError(AuthStat::from_u32(value).ok_or(
                        ReplyError::UnknownStatus {
                            what: "auth_stat",
                            value,
                        },
                    )?)
                }
                value => {
                    return Err(ReplyError::UnknownStatus {
                        what: "reject_stat",
                        value,
                    })
                }
            };
            (OpaqueAuth::NULL, status)
        }
        value => {
            return Err(ReplyError::UnknownStatus {
                what: "reply_stat",
                value,
            })
        }
    };
    Ok((ReplyHeader { xid, verf, status }, r.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LIST_FRIENDS call of `gluster --remote-host=127.0.0.1 pool list` (reference §6.5),
    /// without its record mark.
    const POOL_LIST_CALL: [u8; 72] = [
        0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x12, 0xe5, 0xbf, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0x05,
        0xf3, 0x97, 0, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0,
    ];

    #[test]
    fn decodes_the_cli_pool_list_call() {
        let (call, args) = decode_call(&POOL_LIST_CALL).unwrap();
        assert_eq!(call.xid, 2);
        assert_eq!((call.prog, call.vers, call.proc_num), (1_238_463, 2, 3));
        assert_eq!(call.cred.flavor, 390_039);
        assert_eq!(call.cred.body.len(), 24);
        assert_eq!(call.verf, OpaqueAuth::NULL);
        assert_eq!(args, &[0, 0, 0, 2, 0, 0, 0, 0]);
    }

    #[test]
    fn encode_call_reproduces_the_cli_bytes() {
        let (call, args) = decode_call(&POOL_LIST_CALL).unwrap();
        let mut out = Vec::new();
        encode_call(&mut out, &call);
        out.extend_from_slice(args);
        assert_eq!(out, POOL_LIST_CALL);
    }

    #[test]
    fn success_reply_matches_glusterd_header_bytes() {
        let mut out = Vec::new();
        encode_reply(&mut out, 2, OpaqueAuth::NULL, ReplyStatus::Success);
        assert_eq!(
            out,
            [0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn reply_echoes_an_arbitrary_verifier() {
        let verf = OpaqueAuth {
            flavor: 7,
            body: b"ABCDEFGH",
        };
        let mut out = Vec::new();
        encode_reply(&mut out, 9, verf, ReplyStatus::Success);
        assert_eq!(
            &out[12..28],
            &[0, 0, 0, 7, 0, 0, 0, 8, b'A', b'B', b'C', b'D', b'E', b'F', b'G', b'H']
        );
        let (hdr, rest) = decode_reply(&out).unwrap();
        assert_eq!(hdr.verf, verf);
        assert!(rest.is_empty());
    }

    #[test]
    fn every_status_round_trips() {
        let all = [
            ReplyStatus::Success,
            ReplyStatus::ProgUnavail,
            ReplyStatus::ProgMismatch { low: 2, high: 3 },
            ReplyStatus::ProcUnavail,
            ReplyStatus::GarbageArgs,
            ReplyStatus::SystemErr,
            ReplyStatus::RpcMismatch { low: 2, high: 2 },
            ReplyStatus::AuthError(AuthStat::Ok),
            ReplyStatus::AuthError(AuthStat::BadCred),
            ReplyStatus::AuthError(AuthStat::RejectedCred),
            ReplyStatus::AuthError(AuthStat::BadVerf),
            ReplyStatus::AuthError(AuthStat::RejectedVerf),
            ReplyStatus::AuthError(AuthStat::TooWeak),
        ];
        for status in all {
            let mut out = Vec::new();
            encode_reply(&mut out, 77, OpaqueAuth::NULL, status);
            let (hdr, rest) = decode_reply(&out).unwrap();
            assert_eq!((hdr.xid, hdr.status), (77, status));
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn prog_mismatch_carries_the_range_after_the_status() {
        let mut out = Vec::new();
        encode_reply(
            &mut out,
            1,
            OpaqueAuth::NULL,
            ReplyStatus::ProgMismatch { low: 2, high: 3 },
        );
        assert_eq!(&out[20..], &[0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]);
    }

    #[test]
    fn rpc_version_three_is_a_mismatch_with_the_real_xid() {
        let mut rec = POOL_LIST_CALL;
        rec[11] = 3;
        assert_eq!(
            decode_call(&rec).unwrap_err(),
            CallError::RpcMismatch { xid: 2, rpcvers: 3 }
        );
    }

    #[test]
    fn reply_sent_to_a_server_is_not_a_call() {
        let mut rec = POOL_LIST_CALL;
        rec[7] = 1;
        assert!(matches!(
            decode_call(&rec),
            Err(CallError::NotACall {
                xid: 2,
                msg_type: 1
            })
        ));
    }

    #[test]
    fn credential_over_400_bytes_is_bad_cred() {
        let mut rec = POOL_LIST_CALL[..28].to_vec();
        rec.extend_from_slice(&404u32.to_be_bytes());
        rec.extend_from_slice(&[0; 404]);
        rec.extend_from_slice(&[0; 8]);
        assert!(matches!(
            decode_call(&rec),
            Err(CallError::BadAuth {
                xid: 2,
                stat: AuthStat::BadCred,
                ..
            })
        ));
    }

    #[test]
    fn every_truncation_of_a_call_is_an_error_not_a_panic() {
        for len in 0..64 {
            let err = decode_call(&POOL_LIST_CALL[..len]).unwrap_err();
            if len < 4 {
                assert_eq!(err, CallError::NoXid { len });
            } else {
                assert!(
                    matches!(
                        err,
                        CallError::Truncated { xid: 2, .. } | CallError::BadAuth { xid: 2, .. }
                    ),
                    "{len}: {err:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn call_round_trips(xid: u32, prog: u32, vers: u32, proc_num: u32, flavor: u32,
                            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
                            args in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..32)) {
            let call = CallHeader { xid, prog, vers, proc_num, cred: OpaqueAuth { flavor, body: &body }, verf: OpaqueAuth::NULL };
            let mut out = Vec::new();
            encode_call(&mut out, &call);
            out.extend_from_slice(&args);
            let (got, rest) = decode_call(&out).unwrap();
            proptest::prop_assert_eq!(got, call);
            proptest::prop_assert_eq!(rest, &args[..]);
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128)) {
            let _ = decode_call(&bytes);
            let _ = decode_reply(&bytes);
        }
    }
}
