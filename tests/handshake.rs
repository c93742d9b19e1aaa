//! GETSPEC and portmap over real sockets, on a copy of the workdir a real glusterd 10.3 wrote
//! (tests/fixtures/workdirs/glusterd-10.3): every volfile id form a brick, a client and a daemon
//! ask for, glusterd's answer for an unknown one, the unix socket's GETSPEC, and the portmap
//! registry a brick signs in to. brickd listens on a port of its own here, so every volfile it
//! hands out names that port (`remote-port`) beside each `remote-host`.

mod common;

use brickd::proto::dict::Dict;
use brickd::proto::hndsk::{self, GetspecReq};
use brickd::proto::pmap::{self, PortByBrickRsp, SignReq};
use brickd::proto::rpc::ReplyStatus;
use common::{copy_dir, Brickd};
use std::path::Path;

fn node() -> (Brickd, tempfile::TempDir) {
    let keep = tempfile::tempdir().unwrap();
    let workdir = keep.path().join("workdir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workdirs/glusterd-10.3"),
        &workdir,
    );
    (Brickd::start_on(Some(workdir), &[], |_| {}), keep)
}

fn getspec_args(key: &str, flags: u32) -> Vec<u8> {
    let mut dict = Dict::new();
    dict.set_str("max-op-version", "100000");
    dict.set_str("min-op-version", "1");
    let mut xdata = Vec::new();
    dict.encode(&mut xdata);
    let mut args = Vec::new();
    hndsk::encode_getspec_req(
        &mut args,
        &GetspecReq {
            flags,
            key,
            xdata: &xdata,
        },
    );
    args
}

/// (op_ret, op_errno, spec) of a GETSPEC of `key` over TCP.
fn getspec(b: &Brickd, key: &str) -> (i32, i32, String) {
    let reply = b.tcp_client().call(
        hndsk::PROGRAM,
        hndsk::VERSION,
        hndsk::PROC_GETSPEC,
        &getspec_args(key, 1),
    );
    assert_eq!(reply.status, ReplyStatus::Success);
    let rsp = hndsk::decode_getspec_rsp(&reply.body, 1 << 20).unwrap();
    (rsp.op_ret, rsp.op_errno, rsp.spec.to_string())
}

#[test]
fn getspec_serves_every_volfile_id_form_from_memory_and_refuses_unknown_ones() {
    let (b, keep) = node();
    let store = keep.path().join("workdir/vols/started");
    let port_line = format!("    option remote-port {}\n", b.tcp.port());
    let mut served = 0;
    for (key, file) in [
        (
            "started.node-a.srv-d4-started",
            "started.node-a.srv-d4-started.vol",
        ),
        (
            "started.node-a.srv-d5-started",
            "started.node-a.srv-d5-started.vol",
        ),
        // A client on this node gets the trusted volfile, as glusterd gives it.
        ("/started", "trusted-started.tcp-fuse.vol"),
        ("started", "trusted-started.tcp-fuse.vol"),
        ("gfproxyd/started", "started.gfproxyd.vol"),
        ("rebalance/started", "started-rebalance.vol"),
    ] {
        let (op_ret, op_errno, spec) = getspec(&b, key);
        // The store file is what glusterd wrote; brickd renders it anew, from the catalog.
        let want = std::fs::read_to_string(store.join(file)).unwrap();
        // The fixture's glusterd ran on /srv/a/lib (the marker's timestamp file names it).
        let workdir = keep.path().join("workdir").display().to_string();
        // brickd is bound to 127.0.0.1 here: its brick volfiles say so, as a bound glusterd's.
        let spec_here = spec
            .replace(&port_line, "")
            .replace("    option transport.socket.bind-address 127.0.0.1\n", "")
            .replace(&workdir, "/srv/a/lib");
        assert_eq!(spec_here, want, "{key}");
        assert_eq!((op_ret as usize, op_errno), (spec.len(), 0), "{key}");
        assert_eq!(
            spec.contains(&port_line),
            want.contains("remote-host"),
            "{key}"
        );
        served += 1;
    }
    assert_eq!(served, 6);
    for key in [
        "/nosuch",
        "nosuch",
        "started.node-a.srv-nope",
        "shd/nosuch",
        "nfs/started",
        "",
    ] {
        assert_eq!(
            getspec(&b, key),
            (-1, libc::ENOENT, String::new()),
            "{key:?}"
        );
    }
    // The unix socket serves GETSPEC too (the CLI's `system:: getspec`).
    let reply = b.unix_client().call(
        hndsk::PROGRAM,
        hndsk::VERSION,
        hndsk::PROC_GETSPEC,
        &getspec_args("started", 0),
    );
    let rsp = hndsk::decode_getspec_rsp(&reply.body, 1 << 20).unwrap();
    assert!(rsp.spec.starts_with("volume started-client-0\n"));
    // Malformed arguments: GARBAGE_ARGS, and the connection serves on.
    let mut client = b.tcp_client();
    let reply = client.call(
        hndsk::PROGRAM,
        hndsk::VERSION,
        hndsk::PROC_GETSPEC,
        &[0, 0, 0],
    );
    assert_eq!(reply.status, ReplyStatus::GarbageArgs);
    let reply = client.call(
        hndsk::PROGRAM,
        hndsk::VERSION,
        hndsk::PROC_GETSPEC,
        &getspec_args("started", 1),
    );
    assert_eq!(reply.status, ReplyStatus::Success);
}

fn port_by_brick(b: &Brickd, brick: &str) -> PortByBrickRsp {
    let mut args = Vec::new();
    pmap::encode_port_by_brick_req(&mut args, brick);
    let reply = b
        .tcp_client()
        .call(pmap::PROGRAM, pmap::VERSION, pmap::PROC_PORTBYBRICK, &args);
    pmap::decode_port_by_brick_rsp(&reply.body).unwrap()
}

#[test]
fn portmap_knows_a_brick_from_its_signin_to_its_signout() {
    let (b, _keep) = node();
    // A brick of the stopped volume: the started volume's bricks are started by brickd itself
    // at start-up, and the supervisor's record of their (failing) processes would race with
    // this test's own sign-in.
    let brick = "/srv/d5/stopped";
    assert_eq!(
        port_by_brick(&b, brick),
        PortByBrickRsp {
            op_ret: -1,
            op_errno: 0,
            status: 0,
            port: 0
        }
    );
    // A brick signs in on its own connection (which stays open), as glusterfsd does.
    let mut brick_conn = b.tcp_client();
    let mut args = Vec::new();
    pmap::encode_sign_req(
        &mut args,
        &SignReq {
            brick,
            port: 50712,
            third: 4242,
        },
    );
    let reply = brick_conn.call(pmap::PROGRAM, pmap::VERSION, pmap::PROC_SIGNIN, &args);
    assert_eq!(reply.body, [0u8; 8]);
    // Any connection, on any shard, sees it.
    for _ in 0..4 {
        assert_eq!(
            port_by_brick(&b, brick),
            PortByBrickRsp {
                op_ret: 0,
                op_errno: 0,
                status: 0,
                port: 50712
            }
        );
    }
    let reply = b.tcp_client().call(
        pmap::PROGRAM,
        pmap::VERSION,
        pmap::PROC_BRICKBYPORT,
        &50712i32.to_be_bytes(),
    );
    let mut want = Vec::new();
    pmap::encode_brick_by_port_rsp(&mut want, 0, brick);
    assert_eq!(reply.body, want);
    let reply = brick_conn.call(pmap::PROGRAM, pmap::VERSION, pmap::PROC_SIGNOUT, &args);
    assert_eq!(reply.body, [0u8; 8]);
    assert_eq!(port_by_brick(&b, brick).op_ret, -1);
    // Truncated: GARBAGE_ARGS.
    let reply = brick_conn.call(pmap::PROGRAM, pmap::VERSION, pmap::PROC_SIGNIN, &args[..6]);
    assert_eq!(reply.status, ReplyStatus::GarbageArgs);
}
