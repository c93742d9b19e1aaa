//! Peers' locks (GD_MGMT_V3 LOCK/UNLOCK over TCP) with the real gluster CLI: a lock a peer
//! holds makes the CLI's transaction on that volume fail with glusterd's message, and it is
//! freed by UNLOCK and when the peer's connection goes away.

mod common;

use brickd::proto::dict::Dict;
use brickd::proto::mgmt::{decode_v3_lock_rsp, encode_v3_lock_req, V3LockReq};
use common::{copy_dir, gluster, Brickd, HANG_DEADLINE};
use std::path::Path;
use std::time::{Duration, Instant};

/// node-b, the peer in the fixture workdir (tests/fixtures/workdirs/glusterd-10.3/peers).
const NODE_B: &str = "9bc79563-9ed1-48d7-801d-1fb249cfea5b";
const BUSY: &str =
    "Another transaction is in progress for ghost. Please try again after some time.";

fn brickd_with_a_peer(dir: &tempfile::TempDir) -> Brickd {
    let workdir = dir.path().join("workdir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workdirs/glusterd-10.3"),
        &workdir,
    );
    Brickd::start_on(Some(workdir), &[], |_| {})
}

fn uuid(text: &str) -> [u8; 16] {
    *brickd::model::Uuid::parse(text).unwrap().as_bytes()
}

/// Sends a v3 LOCK (proc 1) or UNLOCK (proc 6) for `volname` as `node`; (op_ret, op_errno).
fn v3(
    client: &mut common::Client<std::net::TcpStream>,
    proc_num: u32,
    node: [u8; 16],
    txn: u8,
    volname: &str,
) -> (i32, i32) {
    let mut dict = Dict::new();
    dict.set_str("volname", volname);
    v3_dict(client, proc_num, node, txn, &dict)
}

/// Sends a v3 LOCK or UNLOCK with `dict` as `node`; (op_ret, op_errno).
fn v3_dict(
    client: &mut common::Client<std::net::TcpStream>,
    proc_num: u32,
    node: [u8; 16],
    txn: u8,
    dict: &Dict,
) -> (i32, i32) {
    let mut dict_bytes = Vec::new();
    dict.encode(&mut dict_bytes);
    let mut args = Vec::new();
    encode_v3_lock_req(
        &mut args,
        &V3LockReq {
            uuid: node,
            txn_id: [txn; 16],
            op: 4,
            dict: &dict_bytes,
        },
    );
    let xid = client.next_xid();
    client.send(&common::call_record(xid, 1_238_433, 3, proc_num, &args));
    let reply = client.read_reply().expect("a reply");
    assert_eq!(reply.xid, xid);
    let rsp = decode_v3_lock_rsp(&reply.body).expect("a v3 lock reply");
    (rsp.op_ret, rsp.op_errno)
}

/// What `gluster volume delete ghost` prints after "failed: ".
fn delete_ghost(b: &Brickd) -> String {
    delete_of(b, "ghost")
}

/// What `gluster volume delete NAME` prints after "failed: " (NAME does not exist).
fn delete_of(b: &Brickd, name: &str) -> String {
    let (code, out, err, _) = gluster(&b.socket, &["volume", "delete", name]);
    assert_eq!(code, 1);
    let text = format!("{out}{err}");
    text.trim()
        .strip_prefix(&format!("volume delete: {name}: failed: "))
        .unwrap_or(&text)
        .to_string()
}

/// A peer's connection: MGMT_HNDSK VERSIONS naming `node`, as a glusterd peer opens it.
fn peer_connection(b: &Brickd, node: &str) -> common::Client<std::net::TcpStream> {
    let mut client = b.tcp_client();
    let mut hello = Dict::new();
    hello.set_str("peer-id", node);
    let mut bytes = Vec::new();
    hello.encode(&mut bytes);
    let mut args = Vec::new();
    brickd::proto::peer::encode_hndsk_req(&mut args, &bytes);
    let xid = client.next_xid();
    client.send(&common::call_record(xid, 1_239_873, 1, 1, &args));
    let reply = client.read_reply().expect("a VERSIONS reply");
    let rsp = brickd::proto::peer::decode_hndsk_rsp(&reply.body).expect("a handshake reply");
    assert_eq!(rsp.op_ret, 0);
    client
}

/// A LOCK naming several volumes takes all of them or none.
#[test]
fn a_lock_of_several_volumes_takes_all_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let b = brickd_with_a_peer(&dir);
    let mut peer = peer_connection(&b, NODE_B);
    let mut both = Dict::new();
    both.set_str("volcount", "2");
    both.set_str("volname1", "spare");
    both.set_str("volname2", "ghost");
    assert_eq!(v3_dict(&mut peer, 1, uuid(NODE_B), 1, &both), (0, 0));
    assert_eq!(delete_ghost(&b), BUSY);
    assert_eq!(delete_of(&b, "spare"), BUSY.replace("ghost", "spare"));
    assert_eq!(v3_dict(&mut peer, 6, uuid(NODE_B), 1, &both), (0, 0));
    assert_eq!(delete_of(&b, "spare"), "Volume spare does not exist");

    // ghost held by one transaction: another's LOCK of spare and ghost fails and leaves spare
    // free.
    assert_eq!(v3(&mut peer, 1, uuid(NODE_B), 2, "ghost"), (0, 0));
    assert_eq!(v3_dict(&mut peer, 1, uuid(NODE_B), 3, &both), (-1, 30802));
    assert_eq!(delete_of(&b, "spare"), "Volume spare does not exist");
    assert_eq!(delete_ghost(&b), BUSY);
}

#[test]
fn a_peers_lock_blocks_the_volume_until_unlock_or_disconnect() {
    let dir = tempfile::tempdir().unwrap();
    let b = brickd_with_a_peer(&dir);
    assert_eq!(delete_ghost(&b), "Volume ghost does not exist");

    let mut peer = peer_connection(&b, NODE_B);
    assert_eq!(v3(&mut peer, 1, uuid(NODE_B), 1, "ghost"), (0, 0));
    assert_eq!(delete_ghost(&b), BUSY);
    // Another transaction of the peer, or another node, cannot take it.
    assert_eq!(v3(&mut peer, 1, uuid(NODE_B), 2, "ghost"), (-1, 30802));
    // A node that is not a peer is refused outright, and so is a body naming a peer other
    // than the one that shook hands on the connection, or a connection with no handshake.
    let stranger = uuid("11111111-2222-4333-8444-555555555555");
    assert_eq!(v3(&mut peer, 1, stranger, 3, "other").0, -1);
    let mut anonymous = b.tcp_client();
    assert_eq!(v3(&mut anonymous, 1, uuid(NODE_B), 3, "other").0, -1);
    let mut impostor = peer_connection(&b, "11111111-2222-4333-8444-555555555555");
    assert_eq!(v3(&mut impostor, 1, uuid(NODE_B), 3, "other").0, -1);
    assert_eq!(v3(&mut peer, 6, uuid(NODE_B), 1, "ghost"), (0, 0));
    assert_eq!(delete_ghost(&b), "Volume ghost does not exist");

    // Locked again, then the peer goes away without unlocking.
    assert_eq!(v3(&mut peer, 1, uuid(NODE_B), 4, "ghost"), (0, 0));
    assert_eq!(delete_ghost(&b), BUSY);
    drop(peer);
    // The deadline only catches a lock that never goes; it is below the peer's lease (no
    // timeout in the LOCK: the default), so only the disconnect can have freed it.
    assert!(HANG_DEADLINE < brickd::cluster::locks::LEASE_DEFAULT);
    let deadline = Instant::now() + HANG_DEADLINE;
    loop {
        let said = delete_ghost(&b);
        if said == "Volume ghost does not exist" {
            break;
        }
        assert_eq!(said, BUSY);
        assert!(
            Instant::now() < deadline,
            "the lock outlived its peer's connection"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn brickd_locks(b: &Brickd, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_brickd"))
        .arg("locks")
        .arg("--socket")
        .arg(&b.socket)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_operator_lists_the_leases_and_force_releases_one() {
    let dir = tempfile::tempdir().unwrap();
    let b = brickd_with_a_peer(&dir);
    let (code, out, _) = brickd_locks(&b, &["list"]);
    assert_eq!(code, 0);
    assert!(!out.contains(".name="), "no lease yet: {out}");
    let mut peer = peer_connection(&b, NODE_B);
    assert_eq!(v3(&mut peer, 1, uuid(NODE_B), 5, "ghost"), (0, 0));
    let (code, out, _) = brickd_locks(&b, &["list"]);
    assert_eq!(code, 0);
    assert!(out.contains(".name=ghost_vol"), "{out}");
    assert!(out.contains(&format!(".owner={NODE_B}")), "{out}");
    assert!(out.contains(".holder=connection "), "{out}");
    assert_eq!(delete_ghost(&b), BUSY);
    let (code, out, _) = brickd_locks(&b, &["release", "ghost_vol"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("released ghost_vol (owner {NODE_B}")),
        "{out}"
    );
    assert_eq!(delete_ghost(&b), "Volume ghost does not exist");
    let (code, _, err) = brickd_locks(&b, &["release", "ghost_vol"]);
    assert_eq!(code, 1);
    assert!(err.contains("no lock named ghost_vol is held"), "{err}");
    drop(peer);
}
