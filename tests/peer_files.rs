//! Peer files as glusterd 10.3 leaves them alone: a stored peer whose address is this node's
//! own (the node reaches itself) is neither befriended, nor added as a peer, nor marked
//! rejected, and its file is kept as it was, older format included (glusterfs's
//! tests/basic/peer-parsing.t: 30 peers at 127.0.0.x while glusterd listens on 0.0.0.0).
//!
//! Needs root (a brickd node).

mod common;

use common::node::{node_address, skip, Node};

#[test]
fn peers_at_this_nodes_own_address_are_left_as_they_are() {
    let test = "peers_at_this_nodes_own_address_are_left_as_they_are";
    if skip(test) {
        return;
    }
    let address = node_address();
    let workdir = tempfile::tempdir().unwrap();
    let root = workdir.path().join("w");
    std::fs::create_dir_all(root.join("peers")).unwrap();
    let uuids = [
        "1b29a4da-b209-4d9a-bca8-3045a8979f3a",
        "68771f8f-cd90-4f66-b30e-5ef4a3070eae",
    ];
    let texts: Vec<String> = uuids
        .iter()
        .map(|u| format!("state=1\nuuid={u}\nhostname={address}\n"))
        .collect();
    for (u, text) in uuids.iter().zip(&texts) {
        std::fs::write(root.join("peers").join(u), text).unwrap();
    }
    std::fs::write(root.join("peers").join("not_a_peer_file"), "random stuff\n").unwrap();
    let listen = format!("{address}:24007");
    let node = Node::start_on(Some(root.clone()), None, &["--listen", &listen]);
    // Long enough for the links to come up and the exchange to fail.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = node.ok(&["peer", "status"]);
    assert!(out.starts_with("Number of Peers: 2\n"), "{out}");
    assert_eq!(
        out.matches("State: Probe Sent to Peer (Disconnected)")
            .count(),
        2,
        "{out}"
    );
    for (u, text) in uuids.iter().zip(&texts) {
        let now = std::fs::read_to_string(root.join("peers").join(u)).unwrap();
        assert_eq!(&now, text, "peers/{u} untouched");
    }
    let names: Vec<String> = std::fs::read_dir(root.join("peers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "no peer file for this node itself: {names:?}"
    );
    println!("{test}: 2 peers at the node's own address left as they were");
}
