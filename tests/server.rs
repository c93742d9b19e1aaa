//! The RPC server over real TCP and unix sockets: dispatch rules, DUMP, pipelining, record
//! reassembly, caps, back-pressure, slow and many clients, signals.

mod common;

use brickd::proto::auth::{encode_gluster_v2, AUTH_GLUSTERFS_V2};
use brickd::proto::dump;
use brickd::proto::programs;
use brickd::proto::rpc::{AuthStat, OpaqueAuth, ReplyStatus};
use brickd::proto::xdr::{XdrReader, XdrWriter};
use brickd::server::test_program;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn dump_names<S: Read + Write>(c: &mut Client<S>) -> Vec<(String, u64, u64)> {
    let mut args = Vec::new();
    dump::encode_request(&mut args, 0xcafe);
    let reply = c.call(dump::PROGRAM, dump::VERSION, dump::PROC_DUMP, &args);
    assert_eq!(reply.status, ReplyStatus::Success);
    let d = dump::decode_reply(&reply.body).unwrap();
    assert_eq!((d.gfs_id, d.op_ret, d.op_errno), (0, 0, 0));
    d.programs
        .iter()
        .map(|p| (p.name.to_string(), p.number, p.version))
        .collect()
}

fn delay_args(ms: u32, tag: u32) -> Vec<u8> {
    let mut args = Vec::new();
    let mut w = XdrWriter::new(&mut args);
    w.u32(ms);
    w.u32(tag);
    args
}

fn tag_of(body: &[u8]) -> u32 {
    XdrReader::new(body).u32().unwrap()
}

#[test]
fn dump_over_tcp_lists_glusterds_tcp_programs_in_order() {
    let b = Brickd::start(&[]);
    let got = dump_names(&mut b.tcp_client());
    let want: Vec<(String, u64, u64)> = [
        ("GF-DUMP", 123_451_501, 1),
        ("GlusterD svc peer", 1_238_437, 2),
        ("GlusterD svc cli read-only", 1_238_463, 2),
        ("GlusterD svc mgmt", 1_238_433, 2),
        ("GlusterD svc mgmt v3", 1_238_433, 3),
        ("Gluster Portmap", 34_123_456, 1),
        ("Gluster Handshake", 14_398_633, 2),
        ("Gluster MGMT Handshake", 1_239_873, 1),
        ("brickd test", test_program::PROGRAM as u64, 1),
    ]
    .iter()
    .map(|(n, p, v)| (n.to_string(), *p, *v))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn dump_over_unix_lists_the_cli_programs() {
    let b = Brickd::start(&[]);
    let got = dump_names(&mut b.unix_client());
    let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "GF-DUMP",
            "GlusterD svc cli",
            "Gluster Handshake (CLI Getspec)",
            "brickd test"
        ]
    );
}

#[test]
fn ping_answers_twelve_zero_bytes_on_both_listeners() {
    let b = Brickd::start(&[]);
    let r = b.tcp_client().call(dump::PROGRAM, 1, dump::PROC_PING, &[]);
    assert_eq!((r.status, r.body), (ReplyStatus::Success, vec![0; 12]));
    let r = b.unix_client().call(dump::PROGRAM, 1, dump::PROC_PING, &[]);
    assert_eq!((r.status, r.body), (ReplyStatus::Success, vec![0; 12]));
}

#[test]
fn every_registered_programs_null_procedure_answers() {
    let b = Brickd::start(&[]);
    let mut tcp = b.tcp_client();
    for (_, prog, vers) in dump_names(&mut b.tcp_client()) {
        let r = tcp.call(prog as u32, vers as u32, 0, &[]);
        assert_eq!(
            r.status,
            ReplyStatus::Success,
            "NULL of {prog} v{vers} on TCP"
        );
        assert!(r.body.is_empty());
    }
    let mut unix = b.unix_client();
    for (_, prog, vers) in dump_names(&mut b.unix_client()) {
        let r = unix.call(prog as u32, vers as u32, 0, &[]);
        assert_eq!(
            r.status,
            ReplyStatus::Success,
            "NULL of {prog} v{vers} on unix"
        );
    }
}

#[test]
fn unknown_program_version_and_procedure_get_the_rfc_answers() {
    let b = Brickd::start(&[]);
    let mut c = b.tcp_client();
    assert_eq!(c.call(999_999, 1, 0, &[]).status, ReplyStatus::ProgUnavail);
    assert_eq!(
        c.call(programs::MGMT, 1, 0, &[]).status,
        ReplyStatus::ProgMismatch { low: 2, high: 3 }
    );
    assert_eq!(
        c.call(programs::CLI, 1, 3, &[]).status,
        ReplyStatus::ProgMismatch { low: 2, high: 2 }
    );
    assert_eq!(
        c.call(dump::PROGRAM, 1, 3, &[]).status,
        ReplyStatus::ProcUnavail
    );
    // CREATE_VOLUME is not in the read-only CLI table glusterd offers on TCP.
    assert_eq!(
        c.call(programs::CLI, 2, 4, &[]).status,
        ReplyStatus::ProcUnavail
    );
    // The unix listener does not carry the peer program at all.
    assert_eq!(
        b.unix_client().call(programs::PEER, 2, 0, &[]).status,
        ReplyStatus::ProgUnavail
    );
}

#[test]
fn rpc_version_three_gets_rpc_mismatch_with_the_real_xid() {
    let b = Brickd::start(&[]);
    let mut c = b.tcp_client();
    let mut rec = call_record(41, dump::PROGRAM, 1, dump::PROC_PING, &[]);
    rec[4 + 11] = 3;
    c.send(&rec);
    let r = c.read_reply().unwrap();
    assert_eq!(r.xid, 41);
    assert_eq!(r.status, ReplyStatus::RpcMismatch { low: 2, high: 2 });
    // The connection stays usable.
    assert_eq!(
        c.call(dump::PROGRAM, 1, 2, &[]).status,
        ReplyStatus::Success
    );
}

#[test]
fn bad_arguments_are_garbage_args_and_failures_system_err() {
    let b = Brickd::start(&[]);
    let mut c = b.tcp_client();
    assert_eq!(
        c.call(dump::PROGRAM, 1, dump::PROC_DUMP, &[0, 0, 1]).status,
        ReplyStatus::GarbageArgs
    );
    assert_eq!(
        c.call(test_program::PROGRAM, 1, test_program::PROC_FAIL, &[])
            .status,
        ReplyStatus::SystemErr
    );
    // A call header cut short after the xid.
    c.send(&with_mark(&[0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]));
    let r = c.read_reply().unwrap();
    assert_eq!((r.xid, r.status), (9, ReplyStatus::GarbageArgs));
}

#[test]
fn credentials_follow_glusterds_size_rules_and_unknown_flavors_pass() {
    let b = Brickd::start(&[]);
    let mut c = b.tcp_client();
    let ping = |cred: OpaqueAuth<'_>, xid| {
        call_record_with(xid, dump::PROGRAM, 1, 2, cred, OpaqueAuth::NULL, &[])
    };
    let mut ok = Vec::new();
    encode_gluster_v2(&mut ok, 1, 0, 0, &[], Some(&[7; 95]));
    c.send(&ping(
        OpaqueAuth {
            flavor: AUTH_GLUSTERFS_V2,
            body: &ok,
        },
        100,
    ));
    assert_eq!(c.read_reply().unwrap().status, ReplyStatus::Success);
    let mut too_big = Vec::new();
    encode_gluster_v2(&mut too_big, 1, 0, 0, &[], Some(&[7; 96]));
    c.send(&ping(
        OpaqueAuth {
            flavor: AUTH_GLUSTERFS_V2,
            body: &too_big,
        },
        101,
    ));
    let r = c.read_reply().unwrap();
    assert_eq!(
        (r.xid, r.status),
        (101, ReplyStatus::AuthError(AuthStat::BadCred))
    );
    c.send(&ping(
        OpaqueAuth {
            flavor: 12345,
            body: b"anything",
        },
        102,
    ));
    assert_eq!(c.read_reply().unwrap().status, ReplyStatus::Success);
    // A 404-byte credential breaks RFC 5531's 400-byte cap.
    let mut rec = Vec::new();
    {
        let mut w = XdrWriter::new(&mut rec);
        for word in [103u32, 0, 2, dump::PROGRAM, 1, 2, AUTH_GLUSTERFS_V2] {
            w.u32(word);
        }
        w.opaque(&[0; 404]);
        w.u32(0);
        w.u32(0);
    }
    c.send(&with_mark(&rec));
    let r = c.read_reply().unwrap();
    assert_eq!(
        (r.xid, r.status),
        (103, ReplyStatus::AuthError(AuthStat::BadCred))
    );
}

#[test]
fn reply_verifier_echoes_the_calls_verifier() {
    let b = Brickd::start(&[]);
    let mut c = b.tcp_client();
    let rec = call_record_with(
        5,
        dump::PROGRAM,
        1,
        2,
        OpaqueAuth::NULL,
        OpaqueAuth {
            flavor: 7,
            body: b"ABCDEFGH",
        },
        &[],
    );
    c.send(&rec);
    let r = c.read_reply().unwrap();
    assert_eq!(
        (r.verf_flavor, r.verf_body.as_slice()),
        (7, &b"ABCDEFGH"[..])
    );
}

#[test]
fn pipelined_calls_in_one_write_all_get_replies_by_xid() {
    let b = Brickd::start(&[]);
    let mut c = b.tcp_client();
    let mut batch = Vec::new();
    for xid in 1000..1500 {
        batch.extend(call_record(xid, dump::PROGRAM, 1, dump::PROC_PING, &[]));
    }
    c.send(&batch);
    let mut seen: Vec<u32> = (0..500).map(|_| c.read_reply().unwrap().xid).collect();
    seen.sort();
    assert_eq!(seen, (1000..1500).collect::<Vec<_>>());
}

#[test]
fn a_record_split_across_fragments_and_reads_is_reassembled() {
    let b = Brickd::start(&[]);
    let mut c = b.tcp_client();
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut args = Vec::new();
    XdrWriter::new(&mut args).opaque(&payload);
    let whole = call_record(77, test_program::PROGRAM, 1, test_program::PROC_ECHO, &args);
    let body = &whole[4..];
    // Three fragments of uneven sizes, each sent in pieces with pauses between them.
    let cuts = [0, 10, 1500, body.len()];
    let mut wire = Vec::new();
    for i in 0..3 {
        let piece = &body[cuts[i]..cuts[i + 1]];
        let mut mark = piece.len() as u32;
        if i == 2 {
            mark |= 0x8000_0000;
        }
        wire.extend(mark.to_be_bytes());
        wire.extend_from_slice(piece);
    }
    for chunk in wire.chunks(777) {
        c.send(chunk);
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = c.read_reply().unwrap();
    assert_eq!((r.xid, r.status), (77, ReplyStatus::Success));
    assert_eq!(
        XdrReader::new(&r.body).opaque(1 << 20).unwrap(),
        &payload[..]
    );
}

#[test]
fn a_record_over_the_cap_closes_only_that_connection() {
    let b = Brickd::start(&["--record-bytes-max", "4096"]);
    let mut bystander = b.tcp_client();
    assert_eq!(
        bystander.call(dump::PROGRAM, 1, 2, &[]).status,
        ReplyStatus::Success
    );
    let mut c = b.tcp_client();
    c.send(&(0x8000_0000u32 | 5000).to_be_bytes());
    assert!(
        c.read_record().is_none(),
        "the oversized connection is closed"
    );
    // Exactly at the cap is fine.
    let mut args = Vec::new();
    XdrWriter::new(&mut args).opaque(&vec![1u8; 4096 - 64 - 4]);
    let rec = call_record(3, test_program::PROGRAM, 1, test_program::PROC_ECHO, &args);
    assert_eq!(rec.len() - 4, 4096);
    let mut at_cap = b.tcp_client();
    at_cap.send(&rec);
    assert_eq!(at_cap.read_reply().unwrap().status, ReplyStatus::Success);
    assert_eq!(
        bystander.call(dump::PROGRAM, 1, 2, &[]).status,
        ReplyStatus::Success
    );
}

#[test]
fn garbage_does_not_disturb_other_connections() {
    let b = Brickd::start(&["--record-bytes-max", "65536"]);
    let mut bystander = b.unix_client();
    let mut seed = 0x1234_5678u32;
    for _ in 0..20 {
        let mut g = TcpStream::connect(b.tcp).unwrap();
        let junk: Vec<u8> = (0..512)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        let _ = g.write_all(&junk);
        // A reply from the server to garbage would be a record the harness must parse.
        drop(g);
    }
    // A reply sent to the server is dropped; the connection goes on.
    let mut c = b.tcp_client();
    c.send(&with_mark(&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]));
    assert_eq!(
        c.call(dump::PROGRAM, 1, 2, &[]).status,
        ReplyStatus::Success
    );
    assert_eq!(
        bystander.call(dump::PROGRAM, 1, 2, &[]).status,
        ReplyStatus::Success
    );
}

#[test]
fn a_record_too_short_for_an_xid_closes_only_that_connection() {
    let b = Brickd::start(&[]);
    let mut bystander = b.unix_client();
    let mut tcp_bystander = b.tcp_client();
    // Sends a ping and then `bytes`; the ping is answered, then the server closes the stream
    // (told apart from a read that timed out: a hang fails the test).
    fn answered_then_closed<S: Read + Write>(mut c: Client<S>, bytes: &[u8]) -> bool {
        c.send(bytes);
        assert_eq!(c.read_reply().expect("the call before it").xid, 7);
        let mut byte = [0u8; 1];
        matches!(c.stream.read(&mut byte), Ok(0))
    }
    let timeout = Some(Duration::from_secs(20));
    // Zero bytes (the header 0x80000000 alone), then one to three bytes; over TCP and unix.
    for len in 0..4usize {
        let mut bytes = call_record(7, dump::PROGRAM, 1, dump::PROC_PING, &[]);
        bytes.extend_from_slice(&with_mark(&vec![0u8; len]));
        let tcp = b.tcp_client();
        tcp.stream.set_read_timeout(timeout).unwrap();
        assert!(answered_then_closed(tcp, &bytes), "{len} bytes, TCP");
        let unix = b.unix_client();
        unix.stream.set_read_timeout(timeout).unwrap();
        assert!(answered_then_closed(unix, &bytes), "{len} bytes, unix");
    }
    assert_eq!(
        tcp_bystander.call(dump::PROGRAM, 1, 2, &[]).status,
        ReplyStatus::Success
    );
    assert_eq!(
        bystander.call(dump::PROGRAM, 1, 2, &[]).status,
        ReplyStatus::Success
    );
}

#[test]
fn replies_complete_out_of_order_matched_by_xid() {
    let b = Brickd::start(&[]);
    let mut c = b.tcp_client();
    // The first call takes 5 s, the others at most 10 ms: only a server stalled for seconds
    // could answer it before them.
    let mut batch = call_record(
        10,
        test_program::PROGRAM,
        1,
        test_program::PROC_DELAY,
        &delay_args(5_000, 10),
    );
    batch.extend(call_record(
        11,
        test_program::PROGRAM,
        1,
        test_program::PROC_DELAY,
        &delay_args(10, 11),
    ));
    batch.extend(call_record(12, dump::PROGRAM, 1, dump::PROC_PING, &[]));
    c.send(&batch);
    let order: Vec<(u32, Option<u32>)> = (0..3)
        .map(|_| {
            let r = c.read_reply().unwrap();
            let tag = (r.xid != 12).then(|| tag_of(&r.body));
            (r.xid, tag)
        })
        .collect();
    // The PING is answered at once and the 10 ms DELAY once its timer fires: in that order
    // unless the machine stalls for 10 ms, which is no fault of the server's, so either order.
    let mut first_two = order[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, [(11, Some(11)), (12, None)], "{order:?}");
    assert_eq!(order[2], (10, Some(10)), "{order:?}");
}

#[test]
fn at_the_inflight_cap_the_connection_waits_and_drops_nothing() {
    let b = Brickd::start(&["--inflight-max", "4"]);
    let mut c = b.tcp_client();
    let mut batch = Vec::new();
    for tag in 0..10 {
        batch.extend(call_record(
            100 + tag,
            test_program::PROGRAM,
            1,
            test_program::PROC_DELAY,
            &delay_args(200, tag),
        ));
    }
    let started = Instant::now();
    c.send(&batch);
    let mut tags: Vec<u32> = (0..10)
        .map(|_| tag_of(&c.read_reply().unwrap().body))
        .collect();
    let elapsed = started.elapsed();
    tags.sort();
    assert_eq!(tags, (0..10).collect::<Vec<_>>());
    // Ten 200 ms calls, four at a time, need three rounds: the fifth call cannot start before
    // one of the first four finished.
    assert!(elapsed >= Duration::from_millis(590), "{elapsed:?}");
}

#[test]
fn a_client_sending_a_record_byte_by_byte_does_not_stall_others() {
    let b = Brickd::start(&[]);
    let mut slow = b.tcp_client();
    let rec = call_record(55, dump::PROGRAM, 1, dump::PROC_PING, &[]);
    let mut fast = b.tcp_client();
    // Every byte but the last arrives alone; after each, the other client's calls are
    // answered while the slow record is still incomplete (a server that waited for the rest
    // of it would never answer them, and the read deadline fails the test).
    for (at, byte) in rec[..rec.len() - 1].iter().enumerate() {
        slow.send(&[*byte]);
        for _ in 0..5 {
            assert_eq!(
                fast.call(dump::PROGRAM, 1, 2, &[]).status,
                ReplyStatus::Success,
                "after {} of the slow record's {} bytes",
                at + 1,
                rec.len()
            );
        }
    }
    // The slow call is still pending: nothing has come back on its connection.
    slow.stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let pending = slow.stream.read(&mut byte);
    assert!(
        matches!(&pending, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "an incomplete record was answered or closed: {pending:?}"
    );
    slow.stream.set_nonblocking(false).unwrap();
    slow.send(&rec[rec.len() - 1..]);
    assert_eq!(slow.read_reply().unwrap().xid, 55);
}

fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain rlimit calls on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max.min(65_536);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

#[test]
fn a_thousand_concurrent_connections_are_all_served() {
    raise_nofile();
    let b = Brickd::start(&[]);
    let mut conns: Vec<Client<TcpStream>> = (0..1000).map(|_| b.tcp_client()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.send(&call_record(
            i as u32,
            dump::PROGRAM,
            1,
            dump::PROC_PING,
            &[],
        ));
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let r = c.read_reply().expect("reply");
        assert_eq!((r.xid, r.status), (i as u32, ReplyStatus::Success));
    }
}

/// What brickd logs when the shutdown deadline, not the end of its calls, ends the process.
const SHUTDOWN_DEADLINE_WARNING: &str = "calls still in flight at the shutdown deadline";

/// A brickd whose log (stderr) goes to `log`.
fn start_logging_to(log: &std::path::Path) -> Brickd {
    let file = std::fs::File::create(log).unwrap();
    Brickd::start_with(&[], |cmd| {
        cmd.stderr(file);
    })
}

#[test]
fn sigterm_finishes_calls_in_flight_then_exits_zero() {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("brickd.log");
    let mut b = start_logging_to(&log);
    let mut clients: Vec<_> = (0..4).map(|_| b.tcp_client()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&call_record(
            i as u32,
            test_program::PROGRAM,
            1,
            test_program::PROC_DELAY,
            &delay_args(800, i as u32),
        ));
    }
    // A PING sent after each DELAY is answered first (replies leave in completion order), so
    // once every PING reply is back, the server has read every DELAY call: all are in flight.
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&call_record(
            100 + i as u32,
            dump::PROGRAM,
            1,
            dump::PROC_PING,
            &[],
        ));
        assert_eq!(c.read_reply().unwrap().xid, 100 + i as u32);
    }
    b.signal(libc::SIGTERM);
    for (i, c) in clients.iter_mut().enumerate() {
        let r = c.read_reply().expect("the call in flight is answered");
        assert_eq!((r.xid, tag_of(&r.body)), (i as u32, i as u32));
        assert!(c.read_record().is_none(), "then the connection is closed");
    }
    let status = b.wait_exit(HANG_DEADLINE).expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        !log.contains(SHUTDOWN_DEADLINE_WARNING),
        "exited at the shutdown deadline rather than once its calls were answered:\n{log}"
    );
    assert!(refuses_connections(b.tcp));
    assert!(!b.socket.exists(), "the unix socket file is removed");
}

#[test]
fn sigint_on_an_idle_server_exits_zero_without_waiting_for_idle_connections() {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("brickd.log");
    let mut b = start_logging_to(&log);
    let _idle = b.tcp_client();
    b.signal(libc::SIGINT);
    let status = b.wait_exit(HANG_DEADLINE).expect("exits after SIGINT");
    assert!(status.success(), "{status:?}");
    // An idle connection has no call to finish: the server must not wait for it until the
    // shutdown deadline forces the exit.
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        !log.contains(SHUTDOWN_DEADLINE_WARNING),
        "waited for an idle connection until the shutdown deadline:\n{log}"
    );
}

#[test]
fn sigusr1_writes_a_statedump_with_iobuf_connections_and_latencies() {
    let b = Brickd::start(&["--shards", "2"]);
    let mut c = b.tcp_client();
    for _ in 0..100 {
        c.call(dump::PROGRAM, 1, dump::PROC_PING, &[]);
    }
    let mut u = b.unix_client();
    u.call(dump::PROGRAM, 1, dump::PROC_PING, &[]);
    b.signal(libc::SIGUSR1);
    let run = b.workdir.join("run");
    let deadline = Instant::now() + HANG_DEADLINE;
    let text = loop {
        let found = std::fs::read_dir(&run)
            .ok()
            .and_then(|mut d| d.find_map(|e| e.ok()).map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("brickd.")
            });
        if let Some(path) = found {
            break std::fs::read_to_string(path).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no statedump in {}",
            run.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(text.contains("shards=2\nshards_reporting=2\n"), "{text}");
    assert!(text.contains("[shard.0.connections]"));
    assert!(text.contains("[shard.1.connections]"));
    assert!(text.contains("unix_accepted=1"));
    assert!(text.contains(".rpc.GF-DUMP.1.PING]"));
    assert!(text.contains("p50_us=") && text.contains("p99_us=") && text.contains("p999_us="));
    assert!(text.contains("iobuf."), "{text}");
    let calls: u64 = text
        .lines()
        .filter(|l| l.starts_with("calls="))
        .map(|l| l[6..].parse::<u64>().unwrap())
        .sum();
    assert_eq!(calls, 101);
}

#[test]
fn starts_under_the_default_8_mib_memlock_limit() {
    let b = Brickd::start_with(&["--shards", "2"], |cmd| {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: 8 << 20,
                    rlim_max: 8 << 20,
                };
                if libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    assert_eq!(
        b.tcp_client().call(dump::PROGRAM, 1, 2, &[]).status,
        ReplyStatus::Success
    );
}

#[test]
fn a_live_socket_is_not_stolen_and_a_stale_one_is_replaced() {
    let b = Brickd::start(&[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_brickd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--workdir"])
        .arg(&b.workdir)
        .arg("--socket")
        .arg(&b.socket)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another daemon is listening"));
    assert_eq!(
        b.unix_client().call(dump::PROGRAM, 1, 2, &[]).status,
        ReplyStatus::Success
    );
}

#[test]
fn every_shard_answers_over_the_shard_mesh() {
    for shards in ["1", "2", "4"] {
        let b = Brickd::start(&["--shards", shards]);
        let mut c = b.unix_client();
        let r = c.call(test_program::PROGRAM, 1, test_program::PROC_SHARDS, &[]);
        assert_eq!(r.status, ReplyStatus::Success);
        let mut rd = XdrReader::new(&r.body);
        let n = rd.u32().unwrap();
        let got: Vec<u32> = (0..n).map(|_| rd.u32().unwrap()).collect();
        let want: Vec<u32> = (0..shards.parse().unwrap()).collect();
        assert_eq!(got, want, "{shards} shards");
    }
}

/// The CPUs a thread of `pid` named `comm` may run on (`Cpus_allowed_list` of its status).
/// Threads that exit during the scan are skipped.
fn cpus_of_thread(pid: u32, comm: &str) -> Option<Vec<usize>> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let dir = task.path();
        let Ok(name) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if name.trim_end() != comm {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
            continue;
        };
        if let Some(list) = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        {
            return Some(cpu_list(list.trim()));
        }
    }
    None
}

/// Thread `comm`'s CPUs once they are `want`, or what was last seen (`None`: no such thread)
/// after [`HANG_DEADLINE`]. A thread sets its own placement once it runs, so a first look can
/// still show the one it inherited.
fn settled_cpus(pid: u32, comm: &str, want: &[usize]) -> Option<Vec<usize>> {
    let deadline = Instant::now() + HANG_DEADLINE;
    let mut seen = None;
    loop {
        if let Some(cpus) = cpus_of_thread(pid, comm) {
            if cpus == want {
                return Some(cpus);
            }
            seen = Some(cpus);
        }
        if Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Has `b` create a volume (on a directory of `bricks`, forced: it may be on the root file
/// system), whose commit starts the journal's wait for a quiet moment before retirement: a
/// thread (`brickd-retwait`) that lives about a second.
fn create_for_a_retirement(b: &Brickd, bricks: &std::path::Path, name: &str) {
    let host = String::from_utf8_lossy(
        &std::process::Command::new("hostname")
            .output()
            .expect("hostname")
            .stdout,
    )
    .trim()
    .to_string();
    let spec = format!("{host}:{}", bricks.join(name).display());
    let (code, out, err, _) = gluster(&b.socket, &["volume", "create", name, &spec, "force"]);
    assert_eq!(code, 0, "{out}{err}");
}

/// A `Cpus_allowed_list` value ("0-3,6") as CPU numbers.
fn cpu_list(text: &str) -> Vec<usize> {
    text.split(',')
        .flat_map(|part| match part.split_once('-') {
            Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<usize>>(),
            None => vec![part.parse().unwrap()],
        })
        .collect()
}

#[test]
fn background_file_work_stays_off_the_change_shards_core() {
    let ours = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Cpus_allowed_list:")
                .map(|v| v.trim().to_string())
        })
        .unwrap();
    // Shard 0 (the change shard) is pinned to CPU 0; another CPU must be there for the rest.
    let mine = cpu_list(&ours);
    if mine.len() < 2 || !mine.contains(&0) {
        common::skip::missing(
            "background_file_work_stays_off_the_change_shards_core",
            &format!("needs CPU 0 and another (this process may use {ours})"),
        );
        return;
    }
    let bricks = tempfile::tempdir().unwrap();
    let others: Vec<usize> = mine.iter().copied().filter(|&c| c != 0).collect();
    let b = Brickd::start(&[]);
    let pid = b.child.id();
    let shard = settled_cpus(pid, "brickd-shard-0-", &[0]);
    assert_eq!(shard.as_deref(), Some(&[0][..]), "shard 0 pinned to CPU 0");
    let store = settled_cpus(pid, "brick-store", &others);
    assert_eq!(store.as_ref(), Some(&others), "brick-store");
    // The lanes a change waits on go anywhere.
    let quick = settled_cpus(pid, "brick-quick", &mine);
    assert_eq!(quick.as_ref(), Some(&mine), "brick-quick");
    // A thread the pinned change shard starts (the wait before a journal file's retirement,
    // which also makes the retirement's thread) leaves its core.
    create_for_a_retirement(&b, bricks.path(), "v1");
    let retire = settled_cpus(pid, "brickd-retwait", &others);
    assert_eq!(retire.as_ref(), Some(&others), "brickd-retwait");
    drop(b);

    // --background-anywhere: the store lane, and a thread the pinned change shard starts, may
    // run on any of the process's CPUs (not only the shard's, which the latter inherits).
    let b = Brickd::start(&["--background-anywhere"]);
    let pid = b.child.id();
    let store = settled_cpus(pid, "brick-store", &mine);
    assert_eq!(store.as_ref(), Some(&mine), "brick-store");
    create_for_a_retirement(&b, bricks.path(), "v2");
    let retire = settled_cpus(pid, "brickd-retwait", &mine);
    assert_eq!(retire.as_ref(), Some(&mine), "brickd-retwait");
}

/// The shards share their port through SO_REUSEPORT, which the kernel grants any process of
/// the same user: a second brickd on the same address must refuse to start rather than take
/// half of the first one's connections.
#[test]
fn a_second_brickd_on_the_same_address_refuses_to_start() {
    let first = Brickd::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_brickd"))
        .arg("serve")
        .arg("--workdir")
        .arg(dir.path().join("w"))
        .arg("--socket")
        .arg(dir.path().join("s"))
        .arg("--listen")
        .arg(first.tcp.to_string())
        .arg("--run-dir")
        .arg(dir.path().join("run"))
        .arg("--log-dir")
        .arg(dir.path().join("log"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("cannot listen on {}", first.tcp))
            && said.contains("is listening there already"),
        "{said}"
    );
    // The first one still answers everything.
    let mut client = first.tcp_client();
    let reply = client.call(123_451_501, 1, 2, &[]);
    assert_eq!(reply.status, brickd::proto::rpc::ReplyStatus::Success);
}
