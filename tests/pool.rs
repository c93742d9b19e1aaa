//! Trusted storage pools (issue 18): brickd nodes probe each other into a pool, a third node
//! learns of the others through friend updates, volumes are imported by a node that joins,
//! detach, and pools where a real glusterd 10.3 sits beside brickd nodes, either side probing.
//! Every node listens on port 24007 of a loopback address of its own, as glusterfs's own
//! cluster tests run several glusterds on one machine.

mod common;

use common::node::{node_address, wait_until, Glusterd, Node};
use common::pool::*;
use std::path::Path;

#[test]
fn three_brickd_nodes_form_a_pool_and_detach_one() {
    if common::node::skip("three_brickd_nodes_form_a_pool_and_detach_one") {
        return;
    }
    let (a, b, c) = (
        Node::pool_member(),
        Node::pool_member(),
        Node::pool_member(),
    );
    fn cli(n: &Node) -> impl Fn(&[&str]) -> (i32, String, String) + '_ {
        move |args: &[&str]| n.cli(args)
    }

    assert_eq!(
        a.ok(&["peer", "probe", &b.host]).trim(),
        "peer probe: success"
    );
    wait_in_cluster(cli(&a), &[&b.host], "a");
    wait_in_cluster(cli(&b), &[&a.host], "b");
    // The probed node knows the prober by the address its connection came from.
    let files = peer_files(&b.brickd.workdir);
    let a_uuid = uuid_of(&a.brickd.workdir);
    assert_eq!(
        files.get(&a_uuid).map(String::as_str),
        Some(format!("uuid={a_uuid}\nstate=3\nhostname1={}\n", a.host).as_str()),
        "b's peers/: {files:?}"
    );

    // The third node joins through a, and learns of b from a's friend update.
    assert_eq!(
        a.ok(&["peer", "probe", &c.host]).trim(),
        "peer probe: success"
    );
    wait_in_cluster(cli(&a), &[&b.host, &c.host], "a");
    wait_in_cluster(cli(&b), &[&a.host, &c.host], "b");
    wait_in_cluster(cli(&c), &[&a.host, &b.host], "c");

    // glusterd's answers for a host already in the pool, this node, and one not there.
    assert_eq!(
        a.ok(&["peer", "probe", &b.host]).trim(),
        format!(
            "peer probe: Host {} port 24007 already in peer list",
            b.host
        )
    );
    assert_eq!(
        a.ok(&["peer", "probe", &a.host]).trim(),
        "peer probe: Probe on localhost not needed"
    );
    let nobody = node_address();
    let (code, out, err) = a.cli(&["peer", "probe", &nobody]);
    assert_eq!(code, 1);
    assert_eq!(
        format!("{out}{err}").trim(),
        "peer probe: failed: Probe returned with Transport endpoint is not connected"
    );
    // `pool list` adds this node as localhost.
    let pool = a.ok(&["pool", "list"]);
    assert_eq!(pool.lines().count(), 4, "{pool}");
    assert!(pool.lines().last().unwrap().contains("localhost"), "{pool}");

    // Detach c: every node forgets it, and c forgets the pool.
    assert_eq!(
        a.ok(&["peer", "detach", &c.host]).trim(),
        "peer detach: success"
    );
    wait_in_cluster(cli(&a), &[&b.host], "a");
    wait_in_cluster(cli(&b), &[&a.host], "b");
    wait_in_cluster(cli(&c), &[], "c");
    assert!(peer_files(&c.brickd.workdir).is_empty());
    assert_eq!(peer_files(&a.brickd.workdir).len(), 1);
    let (code, out, err) = a.cli(&["peer", "detach", &c.host]);
    assert_eq!(code, 1);
    assert_eq!(
        format!("{out}{err}").trim(),
        format!("peer detach: failed: {} is not part of cluster", c.host)
    );
}

#[test]
fn a_restarted_node_reconnects_and_shows_connected_again() {
    if common::node::skip("a_restarted_node_reconnects_and_shows_connected_again") {
        return;
    }
    let a = Node::pool_member();
    let b = Node::pool_member();
    a.ok(&["peer", "probe", &b.host]);
    wait_in_cluster(|args: &[&str]| a.cli(args), &[&b.host], "a");
    // b goes away: a shows it disconnected, still in the cluster.
    let (b_workdir, b_host) = (b.brickd.workdir.clone(), b.host.clone());
    let keep = tempfile::tempdir().unwrap();
    common::copy_dir(&b_workdir, &keep.path().join("w"));
    drop(b);
    wait_disconnected(|args: &[&str]| a.cli(args), &b_host, "a");
    // b back on the same address and workdir: connected again, both ways.
    let listen = format!("{b_host}:24007");
    let b = Node::start_on(Some(keep.path().join("w")), None, &["--listen", &listen]);
    wait_in_cluster(|args: &[&str]| a.cli(args), &[&b_host], "a");
    wait_in_cluster(|args: &[&str]| b.cli(args), &[&a.host], "b");
}

#[test]
fn a_joining_node_imports_the_pools_volumes_with_the_same_store() {
    if common::node::skip("a_joining_node_imports_the_pools_volumes_with_the_same_store") {
        return;
    }
    let disk = common::fs::Xfs::new();
    let a = Node::pool_member();
    let b = Node::pool_member();
    let brick = format!("{}:{}/v1", a.host, disk.mount.display());
    a.ok(&["volume", "create", "v1", &brick]);
    // b has no volume and no peer, so it may join; a's volume reaches it.
    a.ok(&["peer", "probe", &b.host]);
    wait_in_cluster(|args: &[&str]| b.cli(args), &[&a.host], "b");
    wait_until(|| b.cli(&["volume", "info", "v1"]).0 == 0, "b to import v1");
    // The same volume, on both. Its options are listed in the other order on the importer,
    // as a glusterd that imports a volume lists them (checked with two real glusterds).
    let (on_a, on_b) = (
        a.ok(&["volume", "info", "v1"]),
        b.ok(&["volume", "info", "v1"]),
    );
    let split = |text: &str| {
        let (head, options) = text.split_once("Options Reconfigured:\n").unwrap();
        (
            head.to_string(),
            options.lines().map(str::to_string).collect::<Vec<_>>(),
        )
    };
    let ((head_a, options_a), (head_b, mut options_b)) = (split(&on_a), split(&on_b));
    assert_eq!(head_a, head_b);
    options_b.reverse();
    assert_eq!(options_a, options_b);
    common::wait_for_store(&b.brickd.workdir, "v1");
    // The same store, the options as an importer writes them (the same checksum).
    let read =
        |w: &Path, file: &str| std::fs::read_to_string(w.join("vols/v1").join(file)).unwrap();
    assert_eq!(
        with_options_reversed(&read(&a.brickd.workdir, "info")),
        read(&b.brickd.workdir, "info")
    );
    assert_eq!(
        read(&a.brickd.workdir, "cksum"),
        read(&b.brickd.workdir, "cksum")
    );
    // A node with volumes of its own does not join another pool (glusterd's rule).
    let c = Node::pool_member();
    let disk_c = common::fs::Xfs::new();
    let brick = format!("{}:{}/v2", c.host, disk_c.mount.display());
    c.ok(&["volume", "create", "v2", &brick]);
    let (code, out, err) = a.cli(&["peer", "probe", &c.host]);
    assert_eq!(code, 1);
    assert_eq!(
        format!("{out}{err}").trim(),
        format!(
            "peer probe: failed: {} is either already part of another cluster or having volumes configured",
            c.host
        )
    );
}

#[test]
fn brickd_and_a_real_glusterd_probe_each_other_into_one_pool() {
    if common::node::skip("brickd_and_a_real_glusterd_probe_each_other_into_one_pool") {
        return;
    }
    // glusterd probes brickd.
    let g_dir = tempfile::tempdir().unwrap();
    let g_host = node_address();
    let g = Glusterd::start(g_dir.path(), &g_host);
    let b = Node::pool_member();
    let out = g.cli(&["peer", "probe", &b.host]);
    assert_eq!((out.0, out.1.trim()), (0, "peer probe: success"), "{out:?}");
    wait_in_cluster(|args: &[&str]| g.cli(args), &[&b.host], "glusterd");
    wait_in_cluster(|args: &[&str]| b.cli(args), &[&g_host], "brickd");
    // Each lists the other exactly as the other would list it, text and XML.
    let normal =
        |text: String, other: &str, uuid: &str| text.replace(other, "HOST").replace(uuid, "UUID");
    let (g_uuid, b_uuid) = (uuid_of(g_dir.path()), uuid_of(&b.brickd.workdir));
    for args in [
        &["peer", "status"][..],
        &["peer", "status", "--xml"][..],
        &["pool", "list"][..],
        &["pool", "list", "--xml"][..],
    ] {
        let on_g = normal(g.cli(args).1, &b.host, &b_uuid);
        let on_b = normal(b.cli(args).1, &g_host, &g_uuid);
        // `pool list` names this node too.
        let (on_g, on_b) = (on_g.replace(&g_uuid, "SELF"), on_b.replace(&b_uuid, "SELF"));
        assert_eq!(on_b, on_g, "gluster {args:?}");
    }
    assert_eq!(
        peer_files(&b.brickd.workdir)
            .get(&g_uuid)
            .map(String::as_str),
        Some(format!("uuid={g_uuid}\nstate=3\nhostname1={g_host}\n").as_str())
    );

    // brickd probes a second glusterd: it joins, and learns of the first from the update.
    let g2_dir = tempfile::tempdir().unwrap();
    let g2_host = node_address();
    let g2 = Glusterd::start(g2_dir.path(), &g2_host);
    assert_eq!(
        b.ok(&["peer", "probe", &g2_host]).trim(),
        "peer probe: success"
    );
    wait_in_cluster(|args: &[&str]| b.cli(args), &[&g_host, &g2_host], "brickd");
    wait_in_cluster(
        |args: &[&str]| g2.cli(args),
        &[&b.host, &g_host],
        "glusterd 2",
    );
    wait_in_cluster(
        |args: &[&str]| g.cli(args),
        &[&b.host, &g2_host],
        "glusterd 1",
    );

    // glusterd detaches brickd.
    let out = g.cli(&["peer", "detach", &b.host]);
    assert_eq!(
        (out.0, out.1.trim()),
        (0, "peer detach: success"),
        "{out:?}"
    );
    wait_in_cluster(|args: &[&str]| b.cli(args), &[], "brickd");
    wait_in_cluster(|args: &[&str]| g2.cli(args), &[&g_host], "glusterd 2");
}

#[test]
fn a_replica_3_volume_across_three_brickd_nodes_is_created_started_mounted_and_deleted() {
    let test =
        "a_replica_3_volume_across_three_brickd_nodes_is_created_started_mounted_and_deleted";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    let (a, b, c) = (
        Node::pool_member(),
        Node::pool_member(),
        Node::pool_member(),
    );
    a.ok(&["peer", "probe", &b.host]);
    a.ok(&["peer", "probe", &c.host]);
    for (n, others) in [(&a, [&b, &c]), (&b, [&a, &c]), (&c, [&a, &b])] {
        let hosts = [others[0].host.as_str(), others[1].host.as_str()];
        wait_in_cluster(|args: &[&str]| n.cli(args), &hosts, &n.host);
    }
    let nodes = [&a, &b, &c];
    let paths: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}/r3-{}", disk.root(), n.host))
        .collect();
    let bricks: Vec<String> = nodes
        .iter()
        .zip(&paths)
        .map(|(n, p)| format!("{}:{p}", n.host))
        .collect();
    let mut args = vec!["volume", "create", "r3", "replica", "3"];
    args.extend(bricks.iter().map(String::as_str));
    assert_eq!(
        a.ok(&args).trim(),
        "volume create: r3: success: please start the volume to access data"
    );
    // Every node holds the same store, and claimed its own brick only.
    let store = volume_store(&a.brickd.workdir, "r3");
    for n in [&b, &c] {
        common::wait_for_store(&n.brickd.workdir, "r3");
        assert_eq!(volume_store(&n.brickd.workdir, "r3"), store, "{}", n.host);
    }
    for p in &paths {
        assert!(volume_id_xattr(Path::new(p)).is_some(), "{p} claimed");
    }
    // A brick path already in use fails the create from another node, naming it, and leaves
    // nothing anywhere.
    let again = format!("{}:{}", b.host, paths[1]);
    let fresh = format!("{}:{}/r3-other", a.host, disk.root());
    let (code, out, err) = c.cli(&["volume", "create", "r3b", &fresh, &again]);
    assert_eq!(code, 1);
    let said = format!("{out}{err}");
    assert!(
        said.contains(&format!("Staging failed on {}", b.host)) && said.contains(&paths[1]),
        "{said}"
    );
    for n in nodes {
        assert_ne!(n.cli(&["volume", "info", "r3b"]).0, 0, "{}", n.host);
    }
    assert!(!Path::new(&format!("{}/r3-other", disk.root())).exists());

    let _stop = common::node::StopAll(&b, vec!["r3".into()]);
    b.ok(&["volume", "start", "r3"]);
    // Every node lists every brick, online, with the port and pid its owner gave it.
    let rows = a.status("r3");
    assert_eq!(rows.len(), 3, "{rows:?}");
    for n in nodes {
        assert_eq!(n.status("r3"), rows, "{}", n.host);
    }
    for (row, path) in rows.iter().zip(&paths) {
        assert_eq!((&row.0, row.2.as_str()), (path, "Y"), "{rows:?}");
    }
    // The self-heal daemons: this node's as localhost, the others' by their address.
    let text = b.ok(&["volume", "status", "r3"]);
    let daemons: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("Self-heal Daemon on "))
        .collect();
    assert_eq!(daemons.len(), 3, "{text}");
    assert!(
        daemons[0].starts_with("Self-heal Daemon on localhost"),
        "{text}"
    );
    {
        let mount = common::node::Mount::new(&c, "r3");
        let data = common::node::data(7, 100_000);
        std::fs::write(mount.path("f"), &data).unwrap();
        assert_eq!(std::fs::read(mount.path("f")).unwrap(), data);
        for p in &paths {
            assert_eq!(std::fs::read(Path::new(p).join("f")).unwrap(), data, "{p}");
        }
    }
    c.ok(&["volume", "stop", "r3"]);
    a.ok(&["volume", "delete", "r3"]);
    for n in nodes {
        assert_ne!(n.cli(&["volume", "info", "r3"]).0, 0, "{}", n.host);
        assert!(!n.brickd.workdir.join("vols/r3").exists(), "{}", n.host);
    }
    for p in &paths {
        assert!(volume_id_xattr(Path::new(p)).is_none(), "{p} released");
    }
}

#[test]
fn a_replica_3_volume_across_glusterd_and_brickd_is_created_from_either_side() {
    let test = "a_replica_3_volume_across_glusterd_and_brickd_is_created_from_either_side";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    let g_dir = tempfile::tempdir().unwrap();
    let g_host = node_address();
    let g = Glusterd::start(g_dir.path(), &g_host);
    // glusterd takes b in; b takes b2 in: a pool of three, each kind probing.
    let (b, b2) = (Node::pool_member(), Node::pool_member());
    g.cli(&["peer", "probe", &b.host]);
    wait_in_cluster(|args: &[&str]| g.cli(args), &[&b.host], "glusterd");
    b.ok(&["peer", "probe", &b2.host]);
    wait_in_cluster(
        |args: &[&str]| g.cli(args),
        &[&b.host, &b2.host],
        "glusterd",
    );
    wait_in_cluster(|args: &[&str]| b.cli(args), &[&g_host, &b2.host], "brickd");
    wait_in_cluster(
        |args: &[&str]| b2.cli(args),
        &[&g_host, &b.host],
        "brickd 2",
    );

    for (name, from_glusterd) in [("mg", true), ("mb", false)] {
        let gp = format!("{}/{name}-g", disk.root());
        let bp = format!("{}/{name}-b", disk.root());
        let b2p = format!("{}/{name}-b2", disk.root());
        let args = [
            "volume",
            "create",
            name,
            "replica",
            "3",
            &format!("{g_host}:{gp}"),
            &format!("{}:{bp}", b.host),
            &format!("{}:{b2p}", b2.host),
            "force",
        ];
        let (code, out, err) = if from_glusterd {
            g.cli(&args)
        } else {
            b.cli(&args)
        };
        assert_eq!(code, 0, "create {name}: {out}{err}");
        common::wait_for_store(&b.brickd.workdir, name);
        common::wait_for_store(&b2.brickd.workdir, name);
        let store_g = volume_store(g_dir.path(), name);
        let store_b = volume_store(&b.brickd.workdir, name);
        assert_eq!(store_b, store_g, "{name}: the same store on both kinds");
        assert_eq!(volume_store(&b2.brickd.workdir, name), store_g, "{name}");
        assert!(volume_id_xattr(Path::new(&b2p)).is_some());
        assert!(volume_id_xattr(Path::new(&bp)).is_some());
        assert!(volume_id_xattr(Path::new(&gp)).is_some());
        let head = |out: String| {
            out.split("Options Reconfigured")
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            head(g.cli(&["volume", "info", name]).1),
            head(b.cli(&["volume", "info", name]).1),
            "{name}"
        );
        // Started from the other side: each node starts its own brick.
        let (code, out, err) = if from_glusterd {
            b.cli(&["volume", "start", name])
        } else {
            g.cli(&["volume", "start", name])
        };
        assert_eq!(code, 0, "start {name}: {out}{err}");
        // Both list both bricks online, the same way (each node's status asks the other).
        let rows = b.status(name);
        assert_eq!(rows.len(), 3, "{name}: {rows:?}");
        assert!(rows.iter().all(|r| r.2 == "Y"), "{name}: {rows:?}");
        let on_g = g.cli(&["volume", "status", name]);
        assert_eq!(on_g.0, 0, "{on_g:?}");
        assert_eq!(common::node::status_rows(&on_g.1), rows, "{name}");
        // A client mounted through a brickd node reaches all three bricks.
        {
            let mount = common::node::Mount::new(&b2, name);
            let data = common::node::data(3, 50_000);
            std::fs::write(mount.path("f"), &data).unwrap();
            for p in [&gp, &bp, &b2p] {
                wait_until(
                    || std::fs::read(Path::new(p).join("f")).ok().as_ref() == Some(&data),
                    &format!("f on {p}"),
                );
            }
        }
        let (code, out, err) = g.cli(&["volume", "stop", name]);
        assert_eq!(code, 0, "stop {name}: {out}{err}");
        let (code, out, err) = b.cli(&["volume", "delete", name]);
        assert_eq!(code, 0, "delete {name}: {out}{err}");
        assert_ne!(g.cli(&["volume", "info", name]).0, 0);
        // brickd releases its brick; glusterd leaves its own claimed (glusterd's delete never
        // removes the volume-id, the "already part of a volume" its users meet later).
        assert!(volume_id_xattr(Path::new(&bp)).is_none());
        assert!(volume_id_xattr(Path::new(&b2p)).is_none());
        assert!(volume_id_xattr(Path::new(&gp)).is_some());
    }

    // A brick path in use on the brickd node fails a create from glusterd with brickd's
    // message, and leaves nothing on either node.
    let used = format!("{}/used", disk.root());
    b.ok(&[
        "volume",
        "create",
        "holder",
        &format!("{}:{used}", b.host),
        "force",
    ]);
    wait_until(
        || g.cli(&["volume", "info", "holder"]).0 == 0,
        "glusterd to see holder",
    );
    let gp = format!("{}/x-g", disk.root());
    let (code, out, err) = g.cli(&[
        "volume",
        "create",
        "x",
        "replica",
        "2",
        &format!("{g_host}:{gp}"),
        &format!("{}:{used}", b.host),
        "force",
    ]);
    assert_eq!(code, 1);
    let said = format!("{out}{err}");
    assert!(
        said.contains(&format!("Staging failed on {}", b.host)),
        "{said}"
    );
    assert!(said.contains(&used), "{said}");
    assert_ne!(g.cli(&["volume", "info", "x"]).0, 0);
    assert_ne!(b.cli(&["volume", "info", "x"]).0, 0);
    // Nothing on brickd's side: its brick still belongs to `holder` alone. (glusterd's own
    // stage claims its brick before it asks its peers, and a failed create leaves that claim
    // behind: glusterd's behaviour on its own node, which brickd cannot change.)
    let holder = b
        .store_value("holder", "info", "volume-id")
        .replace('-', "");
    assert_eq!(
        volume_id_xattr(Path::new(&used))
            .map(|v| v.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        Some(holder)
    );
}

#[test]
fn a_node_that_was_down_imports_the_volumes_created_meanwhile() {
    let test = "a_node_that_was_down_imports_the_volumes_created_meanwhile";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    let (a, b) = (Node::pool_member(), Node::pool_member());
    a.ok(&["peer", "probe", &b.host]);
    wait_in_cluster(|args: &[&str]| b.cli(args), &[&a.host], "b");
    let (b_host, b_workdir) = (b.host.clone(), b.brickd.workdir.clone());
    let keep = tempfile::tempdir().unwrap();
    common::copy_dir(&b_workdir, &keep.path().join("w"));
    drop(b);
    wait_disconnected(|args: &[&str]| a.cli(args), &b_host, "a");
    // Created and started while b is away (its bricks on a only: b is not connected).
    let brick = format!("{}:{}/late", a.host, disk.root());
    a.ok(&["volume", "create", "late", &brick]);
    // And a global option set meanwhile (b has none: a's version is newer).
    a.ok(&["volume", "set", "all", "cluster.server-quorum-ratio", "60"]);
    // b comes back on the same address and workdir and catches up through the friend exchange.
    let listen = format!("{b_host}:24007");
    let b = Node::start_on(Some(keep.path().join("w")), None, &["--listen", &listen]);
    wait_until(
        || b.cli(&["volume", "info", "late"]).0 == 0,
        "b to import late",
    );
    common::wait_for_store(&b.brickd.workdir, "late");
    let read =
        |w: &Path, file: &str| std::fs::read_to_string(w.join("vols/late").join(file)).unwrap();
    assert_eq!(
        with_options_reversed(&read(&a.brickd.workdir, "info")),
        read(&b.brickd.workdir, "info")
    );
    assert_eq!(
        read(&a.brickd.workdir, "cksum"),
        read(&b.brickd.workdir, "cksum")
    );
    wait_in_cluster(|args: &[&str]| b.cli(args), &[&a.host], "b");
    let (_, out, _) = b.cli(&["volume", "get", "all", "cluster.server-quorum-ratio"]);
    assert!(
        out.contains("cluster.server-quorum-ratio              60 "),
        "{out}"
    );
    // b's file: a's list as it came, each to the head (glusterd's import).
    wait_until(
        || {
            std::fs::read_to_string(b.brickd.workdir.join("options"))
                .ok()
                .as_deref()
                == Some("global-option-version=1\ncluster.server-quorum-ratio=60\n")
        },
        "b's options file",
    );
}

/// A peer is who shook hands on the connection: a friend call whose body names another node,
/// or that comes on a connection with no handshake, is refused.
#[test]
fn friend_calls_are_taken_only_from_the_node_that_shook_hands_on_the_connection() {
    use brickd::proto::dict::Dict;
    use brickd::proto::peer::*;
    let b = common::Brickd::start(&[]);
    let me = "11111111-2222-4333-8444-555555555555";
    let other = "66666666-7777-4888-9999-000000000000";
    let hello = |client: &mut common::Client<std::net::TcpStream>, id: &str| {
        let mut dict = Dict::new();
        dict.set_str("peer-id", id);
        let mut bytes = Vec::new();
        dict.encode(&mut bytes);
        let mut args = Vec::new();
        encode_hndsk_req(&mut args, &bytes);
        let reply = client.call(HNDSK_PROGRAM, HNDSK_VERSION, PROC_VERSIONS, &args);
        assert_eq!(decode_hndsk_rsp(&reply.body).unwrap().op_ret, 0);
    };
    let probe = |client: &mut common::Client<std::net::TcpStream>, id: &str| {
        let mut args = Vec::new();
        encode_probe_req(
            &mut args,
            &ProbeReq {
                uuid: *brickd::model::Uuid::parse(id).unwrap().as_bytes(),
                hostname: "127.0.0.1",
                port: 24007,
            },
        );
        let reply = client.call(PROGRAM, VERSION, PROC_PROBE_QUERY, &args);
        let rsp = decode_probe_rsp(&reply.body).unwrap();
        (rsp.op_ret, rsp.op_errno)
    };
    // No handshake on the connection.
    let mut anonymous = b.tcp_client();
    assert_eq!(probe(&mut anonymous, me), (-1, 6));
    // A handshake as one node, a body naming another.
    let mut impostor = b.tcp_client();
    hello(&mut impostor, other);
    assert_eq!(probe(&mut impostor, me), (-1, 6));
    // The node that shook hands is answered.
    let mut peer = b.tcp_client();
    hello(&mut peer, me);
    assert_eq!(probe(&mut peer, me), (0, 0));
}

#[test]
fn a_volume_that_differs_at_the_same_version_rejects_the_peer_until_reconciled() {
    let test = "a_volume_that_differs_at_the_same_version_rejects_the_peer_until_reconciled";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    let (a, b) = two_members_with_volume(&disk, "v");
    let b_host = b.host.clone();
    let (b, _dirs) = restart_with_drift(b, &a.host, "v", &[]);
    // Each side rejects the other, as glusterd does, connected all the same.
    for (n, other) in [(&a, &b_host), (&b, &a.host)] {
        wait_until(
            || shows_rejected(n, other),
            &format!("{} to reject {other}", n.host),
        );
    }
    // brickd says which keys differ (glusterd's log only says the checksums do).
    let dump = common::node::statedump(&a);
    let section = dump
        .split("[pool.rejections]")
        .nth(1)
        .expect("a [pool.rejections] section");
    assert!(
        section.contains("option:performance.readdir-ahead") && section.contains("v version 1"),
        "{section}"
    );
    // Not a friend: no transaction reaches it.
    let create_w = [
        "volume",
        "create",
        "w",
        &format!("{}:{}/w", b.host, disk.root()),
    ];
    let (code, out, err) = a.cli(&create_w);
    assert_eq!(code, 1, "{out}{err}");
    // Asked of a peer that is not one, brickd says so and changes nothing.
    let (code, _, err) = brickd_peer(&b, &["reconcile", "127.250.250.250"]);
    assert_eq!(
        (code, err.trim()),
        (1, "brickd peer: 127.250.250.250 is not a peer of this node")
    );
    // The operator takes a's copy on b: b's v becomes a's, and both are friends again (with
    // glusterd: stop it, empty its working directory but glusterd.info, start, probe again).
    wait_rejection_noted(&b);
    let (code, out, err) = brickd_peer(&b, &["reconcile", &a.host]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim(),
        format!(
            "took {0}'s copies of: v\n{0} accepted this node's volumes",
            a.host
        )
    );
    wait_in_cluster(|args: &[&str]| a.cli(args), &[&b_host], "a");
    wait_in_cluster(|args: &[&str]| b.cli(args), &[&a.host], "b");
    wait_until(
        || {
            info_lines_and_cksum(&b.brickd.workdir, "v")
                == info_lines_and_cksum(&a.brickd.workdir, "v")
        },
        "b's v to be a's",
    );
    let (lines, _) = info_lines_and_cksum(&b.brickd.workdir, "v");
    assert!(!lines
        .iter()
        .any(|l| l.starts_with("performance.readdir-ahead")));
    let dump = common::node::statedump(&a);
    assert!(dump.contains("[pool.rejections]\ncount=0\n"), "{dump}");
    // Nothing is rejected any more: nothing to reconcile.
    let (code, _, err) = brickd_peer(&b, &["reconcile", &a.host]);
    assert_eq!(code, 1);
    assert!(
        err.contains("was not rejected by this node: nothing to reconcile"),
        "{err}"
    );
    // And transactions reach b again.
    a.ok(&create_w);
    wait_until(|| b.cli(&["volume", "info", "w"]).0 == 0, "b to hold w");
}

#[test]
fn a_peer_that_is_down_is_detached_only_with_force() {
    if common::node::skip("a_peer_that_is_down_is_detached_only_with_force") {
        return;
    }
    let (a, b) = (Node::pool_member(), Node::pool_member());
    a.ok(&["peer", "probe", &b.host]);
    wait_in_cluster(|args: &[&str]| a.cli(args), &[&b.host], "a");
    let b_host = b.host.clone();
    drop(b);
    wait_disconnected(|args: &[&str]| a.cli(args), &b_host, "a");
    let (code, out, err) = a.cli(&["peer", "detach", &b_host]);
    assert_eq!(code, 1);
    assert_eq!(
        format!("{out}{err}").trim(),
        "peer detach: failed: One of the peers is probably down. Check with 'peer status'"
    );
    assert_eq!(
        a.ok(&["peer", "detach", &b_host, "force"]).trim(),
        "peer detach: success"
    );
    wait_in_cluster(|args: &[&str]| a.cli(args), &[], "a");
    assert!(peer_files(&a.brickd.workdir).is_empty());
}

#[test]
fn a_peer_that_stops_answering_pings_is_dropped_long_before_call_bail() {
    let test = "a_peer_that_stops_answering_pings_is_dropped_long_before_call_bail";
    if common::node::skip(test) {
        return;
    }
    let disk = common::fs::Xfs::new();
    // a pings (1 s) while calls are in flight; its frame timeout stays glusterd's 600 s.
    let a = Node::pool_member_with(None, &["--peer-ping-timeout-s", "1"], &[]);
    let b = Node::pool_member();
    a.ok(&["peer", "probe", &b.host]);
    wait_in_cluster(|args: &[&str]| b.cli(args), &[&a.host], "b");
    b.brickd.signal(libc::SIGSTOP);
    let started = std::time::Instant::now();
    let bricks = [
        format!("{}:{}/p-a", a.host, disk.root()),
        format!("{}:{}/p-b", b.host, disk.root()),
    ];
    let (code, out, err) = a.cli(&[
        "volume", "create", "p", "replica", "2", &bricks[0], &bricks[1], "force",
    ]);
    let took = started.elapsed();
    b.brickd.signal(libc::SIGCONT);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").contains(&format!("Locking failed on {}", b.host)),
        "{out}{err}"
    );
    assert!(
        took < std::time::Duration::from_secs(30),
        "dropped after {took:?}"
    );
    assert_eq!(leases(&a), 0);
    // b frees the lock with the connection a dropped, and a connects again.
    wait_until(|| leases(&b) == 0, "b's lock to go");
    wait_in_cluster(|args: &[&str]| a.cli(args), &[&b.host], "a");
}

/// A node's CLI: the arguments in, the exit code, stdout and stderr out.
type Cli<'a> = dyn Fn(&[&str]) -> (i32, String, String) + 'a;

/// A brickd node and a real glusterd in one pool (brickd probed glusterd; both list the other
/// in cluster), and an XFS file system for their bricks. Dropped in field order.
struct MixedPool {
    b: Node,
    g: Glusterd,
    g_dir: tempfile::TempDir,
    g_host: String,
    disk: common::fs::Xfs,
}

impl MixedPool {
    fn start() -> MixedPool {
        let disk = common::fs::Xfs::new();
        let g_dir = tempfile::tempdir().unwrap();
        let g_host = node_address();
        let g = Glusterd::start(g_dir.path(), &g_host);
        let b = Node::pool_member();
        b.ok(&["peer", "probe", &g_host]);
        wait_in_cluster(|args: &[&str]| g.cli(args), &[&b.host], "glusterd");
        wait_in_cluster(|args: &[&str]| b.cli(args), &[&g_host], "brickd");
        MixedPool {
            b,
            g,
            g_dir,
            g_host,
            disk,
        }
    }
}

#[test]
fn options_set_from_either_side_of_a_mixed_pool_reach_every_node() {
    let test = "options_set_from_either_side_of_a_mixed_pool_reach_every_node";
    if common::node::skip(test) {
        return;
    }
    let MixedPool {
        b,
        g,
        g_dir,
        g_host,
        disk,
    } = MixedPool::start();
    let (gp, bp) = (
        format!("{}/o-g", disk.root()),
        format!("{}/o-b", disk.root()),
    );
    b.ok(&[
        "volume",
        "create",
        "o",
        "replica",
        "2",
        &format!("{g_host}:{gp}"),
        &format!("{}:{bp}", b.host),
        "force",
    ]);
    let get = |cli: &Cli<'_>, key: &str| {
        let (code, out, err) = cli(&["volume", "get", "o", key]);
        assert_eq!(code, 0, "{out}{err}");
        out.lines()
            .nth(2)
            .unwrap_or("")
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string()
    };
    let on_g = |args: &[&str]| g.cli(args);
    let on_b = |args: &[&str]| b.cli(args);
    let mut steps = 0;
    // Set from glusterd, seen on brickd; set from brickd, seen on glusterd.
    let (code, out, err) = g.cli(&["volume", "set", "o", "performance.cache-size", "64MB"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(get(&on_b, "performance.cache-size"), "64MB");
    steps += 1;
    let (code, out, err) = b.cli(&["volume", "set", "o", "network.ping-timeout", "20"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(get(&on_g, "network.ping-timeout"), "20");
    steps += 1;
    // Both stores agree (the same checksum, the same version).
    let cksum = |w: &Path| std::fs::read_to_string(w.join("vols/o/cksum")).unwrap_or_default();
    wait_until(
        || cksum(&b.brickd.workdir) == cksum(g_dir.path()),
        "the same cksum on both nodes",
    );
    assert_eq!(
        b.store_value("o", "info", "version"),
        std::fs::read_to_string(g_dir.path().join("vols/o/info"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("version="))
            .unwrap()
    );
    // A reset from brickd reaches glusterd.
    let (code, out, err) = b.cli(&["volume", "reset", "o", "network.ping-timeout"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(get(&on_g, "network.ping-timeout"), "42");
    steps += 1;
    // An unknown key fails on the originator and changes nothing anywhere.
    let before = cksum(g_dir.path());
    let (code, _, _) = b.cli(&["volume", "set", "o", "foo.bar", "1"]);
    assert_eq!(code, 1);
    assert_eq!(cksum(g_dir.path()), before);
    steps += 1;
    // The pool's global options, from brickd to glusterd.
    let (code, out, err) = b.cli(&["volume", "set", "all", "cluster.server-quorum-ratio", "60"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = g.cli(&["volume", "get", "all", "cluster.server-quorum-ratio"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("cluster.server-quorum-ratio              60 "),
        "{out}"
    );
    steps += 1;
    println!("{test}: {steps} changes seen on both kinds");
}

#[test]
fn a_brickd_node_rejected_by_a_real_glusterd_is_reconciled_with_its_copy() {
    let test = "a_brickd_node_rejected_by_a_real_glusterd_is_reconciled_with_its_copy";
    if common::node::skip(test) {
        return;
    }
    let pool = MixedPool::start();
    let (g, g_host) = (&pool.g, pool.g_host.as_str());
    let (code, out, err) = g.cli(&[
        "volume",
        "create",
        "v",
        &format!("{g_host}:{}/v", pool.disk.root()),
        "force",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let b_host = pool.b.host.clone();
    wait_until(
        || pool.b.cli(&["volume", "info", "v"]).0 == 0,
        "brickd to hold v",
    );
    common::wait_for_store(&pool.b.brickd.workdir, "v");
    let (b, _dirs) = restart_with_drift(pool.b, g_host, "v", &[]);
    // Each rejects the other; glusterd's peer status reads the same as brickd's.
    let on_g = |args: &[&str]| g.cli(args);
    wait_until(
        || peers_of(on_g).get(&b_host).map(String::as_str) == Some(REJECTED),
        "glusterd to reject brickd",
    );
    wait_until(|| shows_rejected(&b, g_host), "brickd to reject glusterd");
    wait_rejection_noted(&b);
    let (code, out, err) = brickd_peer(&b, &["reconcile", g_host]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim(),
        format!("took {g_host}'s copies of: v\n{g_host} accepted this node's volumes")
    );
    wait_in_cluster(|args: &[&str]| g.cli(args), &[&b_host], "glusterd");
    wait_in_cluster(|args: &[&str]| b.cli(args), &[g_host], "brickd");
    wait_until(
        || {
            info_lines_and_cksum(&b.brickd.workdir, "v")
                == info_lines_and_cksum(pool.g_dir.path(), "v")
        },
        "brickd's v to be glusterd's",
    );
}
