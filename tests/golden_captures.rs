//! Golden byte tests: what the real gluster CLI and glusterd 10.3 put on the wire, decoded and
//! re-encoded with `brickd::proto`.
//!
//! The files under `tests/golden/` were captured by `scripts/capture-golden.sh` from a private
//! glusterd (Debian's glusterfs-server 10.3) over TCP and over its unix socket;
//! `tests/golden/README.md` lists every file. Each `NAME.call.bin` / `NAME.reply.bin` is one RPC
//! record body without its record mark. The `.pcap` files are the raw TCP captures, so the
//! record marks glusterd and the CLI wrote are tested too.
//!
//! These tests hold brickd to glusterd's bytes where brickd must produce the same ones (DUMP,
//! PING, status replies) and pin down glusterd's behaviour where brickd deliberately differs
//! (rpcvers 3, an over-long credential), so a change on either side shows up here.

use brickd::proto::auth::{self, Credential, AUTH_GLUSTERFS_V2};
use brickd::proto::dump::{self, ProgramEntry};
use brickd::proto::programs;
use brickd::proto::record::{RecordDecoder, LAST_FRAGMENT, RECORD_BYTES_MAX_DEFAULT};
use brickd::proto::rpc::{
    decode_call, decode_reply, encode_call, encode_reply, AuthStat, CallError, OpaqueAuth,
    ReplyStatus,
};
use brickd::proto::xdr::XdrReader;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Both transports the probes and the CLI were captured on.
const TRANSPORTS: [&str; 2] = ["tcp", "unix"];

/// Every probe `capture-golden.sh` sends, on both transports (`<transport>-<probe>.*.bin`).
const PROBES: [&str; 14] = [
    "dump",
    "ping",
    "prog-unavail",
    "prog-mismatch",
    "proc-unavail",
    "proc-null",
    "cli-fsm-log",
    "rpcvers3",
    "garbage-args",
    "verf-echo",
    "cred-unknown-flavor",
    "cred-v2-lk96",
    "cred-v2-lk95",
    "cred-404",
];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden(name: &str) -> Vec<u8> {
    let path = golden_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn call_of(name: &str) -> Vec<u8> {
    golden(&format!("{name}.call.bin"))
}

fn reply_of(name: &str) -> Vec<u8> {
    golden(&format!("{name}.reply.bin"))
}

/// A reply header encoded by brickd, followed by `results`.
fn brickd_reply(xid: u32, verf: OpaqueAuth<'_>, status: ReplyStatus, results: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_reply(&mut out, xid, verf, status);
    out.extend_from_slice(results);
    out
}

fn entry(name: &'static str, number: u64, version: u64) -> ProgramEntry<'static> {
    ProgramEntry {
        name,
        number,
        version,
    }
}

/// The programs glusterd 10.3 listed in its DUMP reply on TCP, in its order.
fn dump_programs_tcp() -> Vec<ProgramEntry<'static>> {
    vec![
        entry("GF-DUMP", 123_451_501, 1),
        entry("GlusterD svc peer", 1_238_437, 2),
        entry("GlusterD svc cli read-only", 1_238_463, 2),
        entry("GlusterD svc mgmt", 1_238_433, 2),
        entry("GlusterD svc mgmt v3", 1_238_433, 3),
        entry("Gluster Portmap", 34_123_456, 1),
        entry("Gluster Handshake", 14_398_633, 2),
        entry("Gluster MGMT Handshake", 1_239_873, 1),
    ]
}

/// The programs glusterd 10.3 listed in its DUMP reply on the unix socket, in its order.
fn dump_programs_unix() -> Vec<ProgramEntry<'static>> {
    vec![
        entry("GF-DUMP", 123_451_501, 1),
        entry("GlusterD svc cli", 1_238_463, 2),
        entry("Gluster Handshake (CLI Getspec)", 14_398_633, 2),
    ]
}

// ---------------------------------------------------------------------------------------------
// The CLI's calls
// ---------------------------------------------------------------------------------------------

/// `gluster pool list` over TCP as annotated in reference §6.5, without the record mark.
const REFERENCE_POOL_LIST_CALL: [u8; 72] = [
    0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x12, 0xe5, 0xbf, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0x05, 0xf3,
    0x97, 0, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0,
];

#[test]
fn cli_list_friends_calls_carry_xid_2_and_the_cli_v2_credential() {
    for transport in TRANSPORTS {
        for (command, flags) in [("peer-status", 1u32), ("pool-list", 2u32)] {
            let name = format!("{transport}-cli-{command}");
            let bytes = call_of(&name);
            let (call, args) = decode_call(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(call.xid, 2, "{name}");
            assert_eq!(
                (call.prog, call.vers, call.proc_num),
                (programs::CLI, 2, 3),
                "{name}: GLUSTER_CLI_PROGRAM v2 LIST_FRIENDS"
            );
            assert_eq!(call.cred.flavor, AUTH_GLUSTERFS_V2, "{name}");
            assert_eq!(call.cred.body.len(), 24, "{name}");
            assert_eq!(call.cred.body, auth::CLI_CREDENTIAL_V2, "{name}");
            assert_eq!(
                auth::decode_credential(call.cred.flavor, call.cred.body).unwrap(),
                Credential::GlusterV2 {
                    pid: 0,
                    uid: 0,
                    gid: 0,
                    groups: Default::default(),
                    lk_owner: &[0, 0, 0, 0],
                },
                "{name}"
            );
            assert_eq!(call.verf, OpaqueAuth::NULL, "{name}");

            // gf1_cli_peer_list_req { int flags; opaque dict<> } with an empty dict.
            let mut r = XdrReader::new(args);
            assert_eq!(r.u32().unwrap(), flags, "{name}: flags");
            assert_eq!(r.opaque(1024).unwrap(), b"", "{name}: dict");
            r.finish().unwrap();
        }
    }
}

#[test]
fn cli_calls_are_the_same_bytes_on_tcp_and_on_the_unix_socket() {
    for command in ["peer-status", "pool-list"] {
        assert_eq!(
            call_of(&format!("tcp-cli-{command}")),
            call_of(&format!("unix-cli-{command}")),
            "{command}"
        );
    }
}

#[test]
fn cli_pool_list_call_matches_the_reference_annotation() {
    assert_eq!(call_of("tcp-cli-pool-list"), REFERENCE_POOL_LIST_CALL);
}

#[test]
fn encode_call_reproduces_every_captured_call_that_decodes() {
    let mut names: Vec<String> = Vec::new();
    for transport in TRANSPORTS {
        for command in ["peer-status", "pool-list"] {
            names.push(format!("{transport}-cli-{command}"));
        }
        for probe in PROBES {
            if !matches!(probe, "rpcvers3" | "cred-404") {
                names.push(format!("{transport}-{probe}"));
            }
        }
    }
    for name in names {
        let bytes = call_of(&name);
        let (call, args) = decode_call(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut out = Vec::new();
        encode_call(&mut out, &call);
        out.extend_from_slice(args);
        assert_eq!(out, bytes, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// LIST_FRIENDS replies
// ---------------------------------------------------------------------------------------------

/// Reads a glusterfs dict the simple way (count, then keylen, vallen, key NUL, value) so the
/// test does not depend on brickd's own dict code.
fn dict_pairs(blob: &[u8]) -> Vec<(String, Vec<u8>)> {
    let word = |at: usize| u32::from_be_bytes(blob[at..at + 4].try_into().unwrap()) as usize;
    let count = word(0);
    let mut at = 4;
    let mut pairs = Vec::new();
    for _ in 0..count {
        let (key_len, value_len) = (word(at), word(at + 4));
        at += 8;
        let key = &blob[at..at + key_len];
        assert_eq!(blob[at + key_len], 0, "key is NUL-terminated on the wire");
        at += key_len + 1;
        pairs.push((
            String::from_utf8(key.to_vec()).unwrap(),
            blob[at..at + value_len].to_vec(),
        ));
        at += value_len;
    }
    assert_eq!(at, blob.len(), "nothing after the last pair");
    pairs
}

/// Checks the SUCCESS header and returns the `friends` dict of a `gf1_cli_peer_list_rsp`.
fn list_friends_reply(name: &str) -> Vec<u8> {
    let bytes = reply_of(name);
    let (header, results) = decode_reply(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(header.xid, 2, "{name}");
    assert_eq!(header.verf, OpaqueAuth::NULL, "{name}");
    assert_eq!(header.status, ReplyStatus::Success, "{name}");
    assert_eq!(
        brickd_reply(2, OpaqueAuth::NULL, ReplyStatus::Success, results),
        bytes,
        "{name}: brickd's SUCCESS header is glusterd's"
    );
    let mut r = XdrReader::new(results);
    assert_eq!(r.i32().unwrap(), 0, "{name}: op_ret");
    assert_eq!(r.i32().unwrap(), 0, "{name}: op_errno");
    let friends = r.opaque(64 << 10).unwrap().to_vec();
    r.finish().unwrap();
    friends
}

#[test]
fn peer_status_with_no_peers_answers_count_zero() {
    for transport in TRANSPORTS {
        let friends = list_friends_reply(&format!("{transport}-cli-peer-status"));
        assert_eq!(
            friends,
            [0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 2, b'c', b'o', b'u', b'n', b't', 0, b'0', 0],
            "{transport}"
        );
    }
}

#[test]
fn pool_list_answers_the_local_node_in_glusterd_wire_order() {
    for transport in TRANSPORTS {
        let name = format!("{transport}-cli-pool-list");
        let friends = list_friends_reply(&name);
        assert_eq!(friends.len(), 141, "{name}: as in reference §6.5");
        let pairs = dict_pairs(&friends);
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "count",
                "friend1.connected",
                "friend1.hostname",
                "friend1.uuid"
            ],
            "{name}"
        );
        assert_eq!(pairs[0].1, b"1\0");
        assert_eq!(pairs[1].1, b"1\0");
        assert_eq!(pairs[2].1, b"localhost\0");
        let uuid = &pairs[3].1;
        assert_eq!(uuid.len(), 37, "{name}: 36 characters and a NUL");
        assert_eq!(uuid[36], 0);
        for (i, c) in uuid[..36].iter().enumerate() {
            if [8, 13, 18, 23].contains(&i) {
                assert_eq!(*c, b'-', "{name}");
            } else {
                assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{name}");
            }
        }
        // The 141-byte opaque is padded with three zero bytes to 144.
        let bytes = reply_of(&name);
        assert_eq!(bytes.len(), 24 + 12 + 144);
        assert_eq!(&bytes[bytes.len() - 3..], [0, 0, 0]);
    }
}

// ---------------------------------------------------------------------------------------------
// DUMP and PING
// ---------------------------------------------------------------------------------------------

#[test]
fn dump_call_decodes_to_gfs_id_cafe() {
    for transport in TRANSPORTS {
        let bytes = call_of(&format!("{transport}-dump"));
        let (call, args) = decode_call(&bytes).unwrap();
        assert_eq!(
            (call.xid, call.prog, call.vers, call.proc_num),
            (2, dump::PROGRAM, dump::VERSION, dump::PROC_DUMP)
        );
        assert_eq!(dump::decode_request(args).unwrap(), 0xcafe);
    }
}

#[test]
fn dump_reply_lists_glusterd_programs_in_registration_order() {
    for (transport, expected) in [("tcp", dump_programs_tcp()), ("unix", dump_programs_unix())] {
        let bytes = reply_of(&format!("{transport}-dump"));
        let (header, results) = decode_reply(&bytes).unwrap();
        assert_eq!(
            (header.xid, header.verf, header.status),
            (2, OpaqueAuth::NULL, ReplyStatus::Success),
            "{transport}"
        );
        let reply = dump::decode_reply(results).unwrap();
        assert_eq!(
            (reply.gfs_id, reply.op_ret, reply.op_errno),
            (0, 0, 0),
            "{transport}: glusterd answers gfs_id 0, not the 0xcafe it was sent"
        );
        assert_eq!(reply.programs, expected, "{transport}");
    }
}

#[test]
fn dump_encode_reply_gives_glusterd_bytes_exactly() {
    for (transport, expected) in [("tcp", dump_programs_tcp()), ("unix", dump_programs_unix())] {
        let bytes = reply_of(&format!("{transport}-dump"));
        let mut body = Vec::new();
        dump::encode_reply(&mut body, expected.iter().copied());
        assert_eq!(&bytes[24..], body, "{transport}: gf_dump_rsp body");
        assert_eq!(
            brickd_reply(2, OpaqueAuth::NULL, ReplyStatus::Success, &body),
            bytes,
            "{transport}: whole reply"
        );
    }
}

#[test]
fn brickd_program_names_and_numbers_match_glusterd_dump() {
    let tcp = dump_programs_tcp();
    let unix = dump_programs_unix();
    let want = [
        (tcp[0], programs::names::DUMP, programs::DUMP, dump::VERSION),
        (tcp[1], programs::names::PEER, programs::PEER, 2),
        (tcp[2], programs::names::CLI_READ_ONLY, programs::CLI, 2),
        (tcp[3], programs::names::MGMT, programs::MGMT, 2),
        (tcp[4], programs::names::MGMT_V3, programs::MGMT, 3),
        (tcp[5], programs::names::PORTMAP, programs::PORTMAP, 1),
        (tcp[6], programs::names::HANDSHAKE, programs::HANDSHAKE, 2),
        (
            tcp[7],
            programs::names::MGMT_HANDSHAKE,
            programs::MGMT_HANDSHAKE,
            1,
        ),
        (unix[1], programs::names::CLI, programs::CLI, 2),
        (
            unix[2],
            programs::names::HANDSHAKE_CLI_GETSPEC,
            programs::HANDSHAKE,
            2,
        ),
    ];
    for (glusterd, name, number, version) in want {
        assert_eq!(
            glusterd,
            entry(name, number.into(), version.into()),
            "{name}"
        );
    }
}

#[test]
fn ping_reply_is_twelve_zero_bytes() {
    for transport in TRANSPORTS {
        let bytes = call_of(&format!("{transport}-ping"));
        let (call, args) = decode_call(&bytes).unwrap();
        assert_eq!(
            (call.prog, call.vers, call.proc_num),
            (dump::PROGRAM, dump::VERSION, dump::PROC_PING)
        );
        assert!(args.is_empty());

        let bytes = reply_of(&format!("{transport}-ping"));
        let (header, results) = decode_reply(&bytes).unwrap();
        assert_eq!(
            (header.xid, header.verf, header.status),
            (2, OpaqueAuth::NULL, ReplyStatus::Success)
        );
        assert_eq!(results, [0; 12]);
        let mut body = Vec::new();
        dump::encode_ping_reply(&mut body);
        assert_eq!(
            brickd_reply(2, OpaqueAuth::NULL, ReplyStatus::Success, &body),
            bytes
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Error replies
// ---------------------------------------------------------------------------------------------

/// What glusterd answered to each probe that did not succeed, on both transports.
fn error_replies() -> Vec<(&'static str, u32, ReplyStatus)> {
    vec![
        ("prog-unavail", 2, ReplyStatus::ProgUnavail),
        // glusterd does not report its real version range: low 0, high 0.
        (
            "prog-mismatch",
            2,
            ReplyStatus::ProgMismatch { low: 0, high: 0 },
        ),
        ("proc-unavail", 2, ReplyStatus::ProcUnavail),
        ("proc-null", 2, ReplyStatus::ProcUnavail),
        ("garbage-args", 2, ReplyStatus::GarbageArgs),
        // libtirpc refuses the header before rpcsvc sees it: GARBAGE_ARGS with xid 0.
        ("rpcvers3", 0, ReplyStatus::GarbageArgs),
        ("cred-404", 0, ReplyStatus::GarbageArgs),
        // The v2 size rule is enforced with MSG_DENIED / AUTH_ERROR but auth_stat 0 (AUTH_OK).
        ("cred-v2-lk96", 2, ReplyStatus::AuthError(AuthStat::Ok)),
    ]
}

#[test]
fn error_replies_decode_to_the_status_glusterd_sent_with_no_body() {
    for transport in TRANSPORTS {
        for (probe, xid, status) in error_replies() {
            let name = format!("{transport}-{probe}");
            let bytes = reply_of(&name);
            let (header, results) = decode_reply(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((header.xid, header.status), (xid, status), "{name}");
            assert_eq!(header.verf, OpaqueAuth::NULL, "{name}");
            assert!(results.is_empty(), "{name}: error replies carry no body");
        }
    }
}

#[test]
fn encode_reply_gives_glusterd_error_reply_bytes() {
    for transport in TRANSPORTS {
        for (probe, xid, status) in error_replies() {
            let name = format!("{transport}-{probe}");
            assert_eq!(
                brickd_reply(xid, OpaqueAuth::NULL, status, &[]),
                reply_of(&name),
                "{name}"
            );
        }
    }
}

#[test]
fn error_replies_are_the_same_on_both_listeners() {
    for (probe, _, _) in error_replies() {
        assert_eq!(
            reply_of(&format!("tcp-{probe}")),
            reply_of(&format!("unix-{probe}")),
            "{probe}"
        );
    }
}

#[test]
fn fsm_log_is_proc_unavail_on_tcp_but_served_on_the_unix_socket() {
    let bytes = call_of("tcp-cli-fsm-log");
    let (call, _) = decode_call(&bytes).unwrap();
    assert_eq!(
        (call.prog, call.vers, call.proc_num),
        (programs::CLI, 2, 21)
    );

    let tcp = reply_of("tcp-cli-fsm-log");
    assert_eq!(
        decode_reply(&tcp).unwrap().0.status,
        ReplyStatus::ProcUnavail
    );

    let unix = reply_of("unix-cli-fsm-log");
    let (header, results) = decode_reply(&unix).unwrap();
    assert_eq!((header.xid, header.status), (2, ReplyStatus::Success));
    // gf1_cli_fsm_log_rsp { op_ret 0; op_errno 0; op_errstr ""; fsm_log = an empty dict }.
    let mut r = XdrReader::new(results);
    assert_eq!(r.i32().unwrap(), 0);
    assert_eq!(r.i32().unwrap(), 0);
    assert_eq!(r.string(1024).unwrap(), "");
    assert_eq!(r.opaque(1024).unwrap(), [0, 0, 0, 0]);
    r.finish().unwrap();
}

#[test]
fn rpcvers_3_is_refused_by_brickd_with_the_real_xid() {
    for transport in TRANSPORTS {
        let bytes = call_of(&format!("{transport}-rpcvers3"));
        assert_eq!(
            decode_call(&bytes).unwrap_err(),
            CallError::RpcMismatch { xid: 2, rpcvers: 3 },
            "{transport}: glusterd answered GARBAGE_ARGS with xid 0 instead"
        );
    }
}

#[test]
fn credential_over_400_bytes_is_refused_before_its_flavor_is_read() {
    for transport in TRANSPORTS {
        let bytes = call_of(&format!("{transport}-cred-404"));
        assert_eq!(u32::from_be_bytes(bytes[28..32].try_into().unwrap()), 404);
        assert!(
            matches!(
                decode_call(&bytes),
                Err(CallError::BadAuth {
                    xid: 2,
                    stat: AuthStat::BadCred,
                    which: "credential",
                    ..
                })
            ),
            "{transport}"
        );
    }
}

#[test]
fn v2_lk_owner_limit_matches_what_glusterd_accepted_and_refused() {
    for transport in TRANSPORTS {
        let bytes = call_of(&format!("{transport}-cred-v2-lk95"));
        let (ok, _) = decode_call(&bytes).unwrap();
        let Credential::GlusterV2 {
            lk_owner, groups, ..
        } = auth::decode_credential(ok.cred.flavor, ok.cred.body).unwrap()
        else {
            panic!("not v2")
        };
        assert_eq!((lk_owner.len(), groups.len()), (95, 0));
        assert_eq!(
            decode_reply(&reply_of(&format!("{transport}-cred-v2-lk95")))
                .unwrap()
                .0
                .status,
            ReplyStatus::Success
        );

        let bytes = call_of(&format!("{transport}-cred-v2-lk96"));
        let (refused, _) = decode_call(&bytes).unwrap();
        assert_eq!(
            auth::decode_credential(refused.cred.flavor, refused.cred.body).unwrap_err(),
            auth::AuthError::GroupsPlusLkOwner {
                version: 2,
                groups: 0,
                lk_owner_bytes: 96,
                max: 95
            }
        );
    }
}

#[test]
fn unknown_credential_flavor_is_served_like_auth_null() {
    for transport in TRANSPORTS {
        let bytes = call_of(&format!("{transport}-cred-unknown-flavor"));
        let (call, _) = decode_call(&bytes).unwrap();
        assert_eq!(call.cred.flavor, 12345);
        assert_eq!(
            auth::decode_credential(call.cred.flavor, call.cred.body).unwrap(),
            Credential::Other { flavor: 12345 }
        );
        let bytes = reply_of(&format!("{transport}-cred-unknown-flavor"));
        assert_eq!(
            brickd_reply(2, OpaqueAuth::NULL, ReplyStatus::Success, &[0; 12]),
            bytes
        );
    }
}

#[test]
fn reply_verifier_echoes_the_call_verifier() {
    for transport in TRANSPORTS {
        let bytes = call_of(&format!("{transport}-verf-echo"));
        let (call, _) = decode_call(&bytes).unwrap();
        let sent = OpaqueAuth {
            flavor: 7,
            body: b"ABCDEFGH",
        };
        assert_eq!(call.verf, sent);
        let bytes = reply_of(&format!("{transport}-verf-echo"));
        let (header, results) = decode_reply(&bytes).unwrap();
        assert_eq!(
            (header.xid, header.verf, header.status),
            (2, sent, ReplyStatus::Success)
        );
        assert_eq!(results, [0; 12]);
        assert_eq!(
            brickd_reply(2, call.verf, ReplyStatus::Success, results),
            bytes
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Record marking, from the raw TCP captures
// ---------------------------------------------------------------------------------------------

/// One TCP connection of a capture: the bytes each side sent, in order.
#[derive(Default)]
struct Connection {
    to_server: Vec<u8>,
    to_client: Vec<u8>,
}

/// Reads a classic little-endian pcap of Ethernet frames (tcpdump on `lo`) and joins the TCP
/// payloads per connection, keyed by the client port, in the order connections were opened.
fn tcp_connections(pcap: &str, server_port: u16) -> Vec<Connection> {
    let file = golden(pcap);
    assert_eq!(
        &file[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian µs pcap"
    );
    assert_eq!(
        u32::from_le_bytes(file[20..24].try_into().unwrap()),
        1,
        "Ethernet"
    );
    let be16 = |b: &[u8], at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    let mut order: Vec<u16> = Vec::new();
    let mut connections: BTreeMap<u16, Connection> = BTreeMap::new();
    let mut at = 24;
    while at < file.len() {
        let captured = u32::from_le_bytes(file[at + 8..at + 12].try_into().unwrap()) as usize;
        let original = u32::from_le_bytes(file[at + 12..at + 16].try_into().unwrap()) as usize;
        assert_eq!(captured, original, "{pcap}: packet cut by the snap length");
        let frame = &file[at + 16..at + 16 + captured];
        at += 16 + captured;
        assert_eq!(be16(frame, 12), 0x0800, "{pcap}: IPv4");
        let ip = &frame[14..];
        assert_eq!(ip[9], 6, "{pcap}: TCP");
        let ip_header = (ip[0] & 0x0f) as usize * 4;
        let ip_total = be16(ip, 2) as usize;
        let tcp = &ip[ip_header..ip_total];
        let (src, dst) = (be16(tcp, 0), be16(tcp, 2));
        let payload = &tcp[(tcp[12] >> 4) as usize * 4..];
        let client = if src == server_port { dst } else { src };
        if !connections.contains_key(&client) {
            order.push(client);
        }
        let connection = connections.entry(client).or_default();
        if src == server_port {
            connection.to_client.extend_from_slice(payload);
        } else {
            connection.to_server.extend_from_slice(payload);
        }
    }
    order
        .into_iter()
        .map(|port| connections.remove(&port).unwrap())
        .collect()
}

/// Every record of `stream`, fed to brickd's decoder `chunk_bytes` at a time.
fn records(stream: &[u8], chunk_bytes: usize) -> Vec<Vec<u8>> {
    let mut decoder = RecordDecoder::new(RECORD_BYTES_MAX_DEFAULT);
    let mut out = Vec::new();
    for piece in stream.chunks(chunk_bytes) {
        let mut pos = 0;
        while pos < piece.len() {
            let (consumed, record) = decoder.decode(&piece[pos..]).unwrap();
            if let Some(record) = record {
                out.push(record.to_vec());
            }
            pos += consumed;
        }
    }
    assert!(decoder.is_idle(), "stream ends on a record boundary");
    out
}

/// Each side wrote one record as one last fragment: the mark is 0x80000000 | length.
fn assert_single_fragment(stream: &[u8], body: &[u8], what: &str) {
    let mark = u32::from_be_bytes(stream[..4].try_into().unwrap());
    assert_eq!(mark, LAST_FRAGMENT | body.len() as u32, "{what}");
    assert_eq!(&stream[4..], body, "{what}");
}

#[test]
fn record_decoder_splits_the_cli_tcp_streams_into_the_captured_messages() {
    for command in ["peer-status", "pool-list"] {
        let name = format!("tcp-cli-{command}");
        let connections = tcp_connections(&format!("{name}.pcap"), 24007);
        assert_eq!(connections.len(), 1, "{name}: the CLI opens one connection");
        let connection = &connections[0];
        let (call, reply) = (call_of(&name), reply_of(&name));
        assert_single_fragment(&connection.to_server, &call, &name);
        assert_single_fragment(&connection.to_client, &reply, &name);
        for chunk_bytes in [1, 3, 7, 64, 4096] {
            assert_eq!(
                records(&connection.to_server, chunk_bytes),
                std::slice::from_ref(&call)
            );
            assert_eq!(
                records(&connection.to_client, chunk_bytes),
                std::slice::from_ref(&reply)
            );
        }
        // Read whole, a single-fragment record is handed out without a copy.
        for stream in [&connection.to_server, &connection.to_client] {
            let mut decoder = RecordDecoder::new(RECORD_BYTES_MAX_DEFAULT);
            let (consumed, record) = decoder.decode(stream).unwrap();
            assert_eq!(consumed, stream.len(), "{name}");
            assert_eq!(record.unwrap().as_ptr(), stream[4..].as_ptr(), "{name}");
        }
    }
}

#[test]
fn record_decoder_splits_every_probe_connection_into_its_call_and_reply() {
    let connections = tcp_connections("tcp-probe.pcap", 24300);
    assert_eq!(connections.len(), PROBES.len(), "one connection per probe");
    for (probe, connection) in PROBES.iter().zip(&connections) {
        let name = format!("tcp-{probe}");
        let (call, reply) = (call_of(&name), reply_of(&name));
        assert_single_fragment(&connection.to_server, &call, &name);
        assert_single_fragment(&connection.to_client, &reply, &name);
        for chunk_bytes in [1, 5, 4096] {
            assert_eq!(
                records(&connection.to_server, chunk_bytes),
                std::slice::from_ref(&call),
                "{name}"
            );
            assert_eq!(
                records(&connection.to_client, chunk_bytes),
                std::slice::from_ref(&reply),
                "{name}"
            );
        }
    }
}
