//! Client graphs: what a FUSE mount (`<volume>.tcp-fuse.vol`) or a trusted internal client
//! (`trusted-<volume>.tcp-fuse.vol`) loads, and the two gfproxy variants built the same way.
//!
//! From the bottom: one `protocol/client` per brick (named by the brick's id,
//! `<volume>-client-N`), then one `<volume>-replicate-N` or `<volume>-disperse-N` per replica or
//! disperse set (none for plain distribute), `<volume>-dht` over the sets, `utime`, the
//! performance xlators switched on, and io-stats named after the volume.
//!
//! The gfproxy daemon (`gfproxyd`) runs this graph on behalf of its clients: its half is the
//! trusted client graph without write-behind, with io-stats named `gfproxyd-<volume>` (the
//! daemon puts a server on top, see `gfproxy.rs`). A gfproxy client instead has one
//! `protocol/client` to that daemon, then `utime`, `quiesce`, write-behind as its only
//! performance xlator, and io-stats. The bricks' clients, sets and DHT are also what the
//! rebalance and self-heal graphs start from (`rebalance.rs`, `shd.rs`).

use super::common::{apply_plain, apply_special, bool_option, check_volume};
use super::graph::Graph;
use super::options::{
    self, Role, SetDict, OPEN_BEHIND_CLIENT_OP_VERSION, OPEN_BEHIND_KEY, WRITE_BEHIND_KEY,
};
use super::VolgenError;
use crate::model::{Transport, Volume, VolumeType};

/// Which client graph to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    /// A mount's: the plain volfile (FUSE mounts from anywhere) or, with `trusted`, the one
    /// with the volume's internal login on each client (glusterd's own nodes).
    Mount {
        /// Whether this is the trusted volfile.
        trusted: bool,
    },
    /// The client half of the gfproxy daemon: trusted, without write-behind, io-stats named
    /// `gfproxyd-<volume>`.
    GfproxyDaemon,
    /// A client of the gfproxy daemon: one trusted `protocol/client` to the daemon, `quiesce`,
    /// and write-behind as the only performance xlator.
    GfproxyClient,
}

impl Flavor {
    /// Whether the clients carry the volume's internal login.
    fn trusted(self) -> bool {
        match self {
            Flavor::Mount { trusted } => trusted,
            Flavor::GfproxyDaemon | Flavor::GfproxyClient => true,
        }
    }

    /// Whether the performance switch `key` may add its xlator: the gfproxy daemon leaves
    /// write-behind to its clients, which take nothing else.
    fn allows_performance(self, key: &str) -> bool {
        let write_behind = key == WRITE_BEHIND_KEY;
        match self {
            Flavor::Mount { .. } => true,
            Flavor::GfproxyDaemon => !write_behind,
            Flavor::GfproxyClient => write_behind,
        }
    }
}

/// Builds the client graph; `trusted` adds the volume's internal login to each client.
pub(super) fn build(volume: &Volume, trusted: bool) -> Result<Graph, VolgenError> {
    build_flavor(volume, Flavor::Mount { trusted })
}

/// Builds a client graph of the given flavor, options applied.
pub(super) fn build_flavor(volume: &Volume, flavor: Flavor) -> Result<Graph, VolgenError> {
    check_volume(volume)?;
    let leaf_count = set_size(volume)?;
    let mut dict = SetDict::from_options(&volume.options);
    let mut graph = Graph::new();
    if flavor == Flavor::GfproxyClient {
        add_gfproxy_client(&mut graph, volume, &dict);
    } else {
        let clients = add_clients(
            &mut graph,
            volume,
            &dict,
            flavor.trusted(),
            client_transport(volume),
        );
        let sets = add_sets(&mut graph, volume, &clients, leaf_count);
        add_dht(&mut graph, volume, &dict, sets, leaf_count)?;
    }
    add_features(&mut graph, volume, &dict)?;
    if flavor == Flavor::GfproxyClient {
        graph.add_named_after_type(options::QUIESCE, &volume.name);
    }
    derive_send_gids(&mut dict);
    if let Flavor::Mount { .. } = flavor {
        share_rda_sizes(volume, &mut dict, leaf_count)?;
    }
    add_performance(&mut graph, volume, &dict, flavor)?;
    if bool_option(volume, &dict, options::USS_KEY, false)? {
        add_snapview_client(&mut graph, volume, &dict, flavor.trusted());
    }
    for xl_type in super::brick::debug_xlators(&dict, "client") {
        graph.add_named_after_type(xl_type, &volume.name);
    }
    let io_stats_name = match flavor {
        Flavor::GfproxyDaemon => gfproxyd_subvolume(volume),
        Flavor::Mount { .. } | Flavor::GfproxyClient => volume.name.clone(),
    };
    graph.add_on_top(options::IO_STATS, &io_stats_name);
    apply_special(&mut graph, &dict, Role::Client);
    apply_plain(&mut graph, &dict);
    Ok(graph)
}

/// The name of the gfproxy daemon's io-stats, which its clients ask for as their
/// `remote-subvolume`: `gfproxyd-<volume>`.
pub(super) fn gfproxyd_subvolume(volume: &Volume) -> String {
    format!("gfproxyd-{}", volume.name)
}

/// The transport the client volfile names (`tcp-fuse`): a volume on both TCP and RDMA gets one
/// file per transport, and this is the TCP one.
pub(super) fn client_transport(volume: &Volume) -> &'static str {
    match volume.transport {
        Transport::Tcp | Transport::TcpRdma => "tcp",
        Transport::Rdma => "rdma",
    }
}

/// Bricks per replica or disperse set (1 for distribute), after glusterd's consistency checks:
/// the `count=` of `info` matches the bricks, and they divide into whole sets.
pub(super) fn set_size(volume: &Volume) -> Result<usize, VolgenError> {
    let inconsistent = |problem: String| VolgenError::Inconsistent {
        volume: volume.name.clone(),
        problem,
    };
    let bricks = volume.bricks.len();
    let leaf_count = volume.dist_count() as usize;
    if bricks == 0 {
        return Err(inconsistent("the volume has no bricks".into()));
    }
    if bricks != volume.brick_count as usize {
        return Err(inconsistent(format!(
            "count={} but {bricks} bricks",
            volume.brick_count
        )));
    }
    if leaf_count == 0 || !bricks.is_multiple_of(leaf_count) {
        return Err(inconsistent(format!(
            "{bricks} bricks do not make sets of {leaf_count}"
        )));
    }
    Ok(leaf_count)
}

/// One `protocol/client` per brick, in brick order, over `transport`; returns their names.
/// `trusted` adds the volume's internal login. A thin-arbiter volume also gets a client to its
/// thin-arbiter brick after each set's bricks (`<volume>-ta-N`, N the index it takes among
/// them), so the names come in sets of [`set_members`].
pub(super) fn add_clients(
    graph: &mut Graph,
    volume: &Volume,
    dict: &SetDict,
    trusted: bool,
    transport: &str,
) -> Vec<String> {
    let leaf_count = (volume.dist_count() as usize).max(1);
    let thin_arbiter = thin_arbiter(volume);
    let mut names = Vec::with_capacity(volume.bricks.len() + volume.bricks.len() / leaf_count);
    let mut add = |name: String, to: &crate::model::Brick| {
        let remote = Remote {
            host: Some(&to.hostname),
            subvolume: &to.path,
            transport,
        };
        add_client(graph, volume, dict, &name, &remote, trusted);
        names.push(name);
    };
    for (index, brick) in volume.bricks.iter().enumerate() {
        add(client_name(volume, index, &brick.brick_id), brick);
        if let Some(ta) = thin_arbiter.filter(|_| (index + 1) % leaf_count == 0) {
            add(volume.thin_arbiter_id(index / leaf_count), ta);
        }
    }
    names
}

/// The volume's thin-arbiter brick, when it has one (`thin_arbiter_count=1`).
pub(super) fn thin_arbiter(volume: &Volume) -> Option<&crate::model::Brick> {
    volume
        .thin_arbiter_brick
        .as_ref()
        .filter(|_| volume.thin_arbiter_count == 1)
}

/// The clients under each replicate or disperse xlator: the set's bricks, and its
/// thin-arbiter client if the volume has one.
pub(super) fn set_members(volume: &Volume, leaf_count: usize) -> usize {
    leaf_count.max(1) + usize::from(thin_arbiter(volume).is_some())
}

/// What a `protocol/client` connects to.
struct Remote<'a> {
    /// `remote-host`; none for a gfproxy client, which finds its daemon on the local node.
    host: Option<&'a str>,
    /// `remote-subvolume`: the brick path, or the gfproxy daemon's io-stats.
    subvolume: &'a str,
    /// `transport-type`.
    transport: &'a str,
}

/// One `protocol/client` with the options glusterd sets while building it.
fn add_client(
    graph: &mut Graph,
    volume: &Volume,
    dict: &SetDict,
    name: &str,
    remote: &Remote<'_>,
    trusted: bool,
) {
    let ssl = dict.get("client.ssl").and_then(options::parse_bool) == Some(true);
    let client = graph.add_unlinked(options::CLIENT, name);
    client.set("ping-timeout", "42");
    if let Some(host) = remote.host {
        client.set("remote-host", host);
    }
    client.set("remote-subvolume", remote.subvolume);
    client.set("transport-type", remote.transport);
    if let Some(family) = dict.get("transport.address-family") {
        client.set("transport.address-family", family);
    }
    if trusted {
        if let Some(username) = &volume.username {
            client.set("username", username);
        }
        if let Some(password) = &volume.password {
            client.set("password", password);
        }
    }
    if ssl {
        client.set("transport.socket.ssl-enabled", "true");
    }
}

/// The gfproxy client's only `protocol/client`, `<volume>-gfproxy-client`: no `remote-host`,
/// the daemon's io-stats as `remote-subvolume`, and always TCP.
fn add_gfproxy_client(graph: &mut Graph, volume: &Volume, dict: &SetDict) {
    let name = format!("{}-gfproxy-client", volume.name);
    let subvolume = gfproxyd_subvolume(volume);
    let remote = Remote {
        host: None,
        subvolume: &subvolume,
        transport: "tcp",
    };
    add_client(graph, volume, dict, &name, &remote, true);
}

/// User-serviceable snapshots (`features.uss on`): `<volume>-snapview-client` over what the
/// graph has so far (its first child, the volume) and `<volume>-snapd-client`, a
/// `protocol/client` with no `remote-host` (the node that gave the volfile) to the snapshot
/// daemon's `snapd-<volume>` (its second child, the snapshots).
fn add_snapview_client(graph: &mut Graph, volume: &Volume, dict: &SetDict, trusted: bool) {
    let top = graph.top_name().unwrap_or_default();
    let name = format!("{}-snapd-client", volume.name);
    let subvolume = snapd_subvolume(volume);
    let remote = Remote {
        host: None,
        subvolume: &subvolume,
        transport: client_transport(volume),
    };
    add_client(graph, volume, dict, &name, &remote, trusted);
    graph.add_with_children(
        options::SNAPVIEW_CLIENT,
        &format!("{}-snapview-client", volume.name),
        vec![top, name],
    );
}

/// The snapshot daemon's io-stats, its `--brick-name` and what its clients ask for:
/// `snapd-<volume>`.
pub(super) fn snapd_subvolume(volume: &Volume) -> String {
    format!("snapd-{}", volume.name)
}

/// A client xlator is named by its brick's `brick-id` (`<volume>-client-<index>`, which
/// glusterd writes in the bricks file); the index form stands in for a missing id.
fn client_name(volume: &Volume, index: usize, brick_id: &str) -> String {
    if brick_id.is_empty() {
        format!("{}-client-{index}", volume.name)
    } else {
        brick_id.to_owned()
    }
}

/// The replicate or disperse sets over consecutive clients; returns the names DHT spreads
/// over (the clients themselves for distribute).
pub(super) fn add_sets(
    graph: &mut Graph,
    volume: &Volume,
    clients: &[String],
    leaf_count: usize,
) -> Vec<String> {
    if leaf_count == 1 {
        return clients.to_vec();
    }
    add_set_xlators(graph, volume, clients, leaf_count)
}

/// One replicate or disperse xlator per `leaf_count` consecutive clients, whatever the count
/// (the self-heal daemon's graph has them even for sets of one); returns their names.
pub(super) fn add_set_xlators(
    graph: &mut Graph,
    volume: &Volume,
    clients: &[String],
    leaf_count: usize,
) -> Vec<String> {
    let mut sets = Vec::new();
    for (number, members) in clients.chunks(set_members(volume, leaf_count)).enumerate() {
        let name = match volume.volume_type {
            VolumeType::Disperse => add_disperse_set(graph, volume, number, members),
            _ => add_replicate_set(graph, volume, number, members),
        };
        sets.push(name);
    }
    sets
}

/// `<volume>-replicate-N`. `afr-pending-xattr` lists the set's client names, which are the
/// suffixes of the `trusted.afr.<client>` xattrs AFR keeps pending counts in; a thin-arbiter
/// client's is followed by `.<volume-id>` (the thin-arbiter brick may serve several volumes),
/// and the set names its thin-arbiter brick as `thin-arbiter HOST:PATH`.
fn add_replicate_set(
    graph: &mut Graph,
    volume: &Volume,
    number: usize,
    members: &[String],
) -> String {
    let name = format!("{}-replicate-{number}", volume.name);
    let ta = thin_arbiter(volume);
    let afr = graph.add_with_children(options::AFR, &name, members.to_vec());
    let mut pending = members.join(",");
    if ta.is_some() {
        pending = format!("{pending}.{}", volume.volume_id);
    }
    afr.set("afr-pending-xattr", &pending);
    afr.set("volume-id", &volume.volume_id.to_string());
    if volume.arbiter_count > 0 {
        afr.set("arbiter-count", &volume.arbiter_count.to_string());
    }
    if let Some(ta) = ta {
        afr.set("thin-arbiter", &format!("{}:{}", ta.hostname, ta.path));
    }
    name
}

/// `<volume>-disperse-N` with the volume's redundancy.
fn add_disperse_set(
    graph: &mut Graph,
    volume: &Volume,
    number: usize,
    members: &[String],
) -> String {
    let name = format!("{}-disperse-{number}", volume.name);
    let ec = graph.add_with_children(options::EC, &name, members.to_vec());
    ec.set("redundancy", &volume.redundancy_count.to_string());
    name
}

/// `<volume>-dht` over the sets; sets holding a brick being removed are listed in
/// `decommissioned-bricks`. With `performance.parallel-readdir` on, a `readdir-ahead` sits
/// over each set (`<volume>-readdir-ahead-N`). `cluster.nufa` or `cluster.switch` (any value
/// but off, as glusterd reads them) make it that kind of distribute; both is refused.
pub(super) fn add_dht(
    graph: &mut Graph,
    volume: &Volume,
    dict: &SetDict,
    sets: Vec<String>,
    leaf_count: usize,
) -> Result<(), VolgenError> {
    let decommissioned: Vec<&str> = sets
        .iter()
        .zip(volume.bricks.chunks(leaf_count))
        .filter(|(_, bricks)| bricks.iter().any(|b| b.decommissioned != 0))
        .map(|(set, _)| set.as_str())
        .collect();
    let joined = decommissioned.join(",");
    let switched_on = |key: &str| {
        dict.get(key)
            .is_some_and(|v| options::parse_bool(v) != Some(false))
    };
    let (nufa, switch) = (switched_on("cluster.nufa"), switched_on("cluster.switch"));
    if nufa && switch {
        return Err(VolgenError::Inconsistent {
            volume: volume.name.clone(),
            problem: "nufa and switch cannot be set together".into(),
        });
    }
    let dht_type = match (nufa, switch) {
        (_, true) => "cluster/switch",
        (true, _) => "cluster/nufa",
        _ => options::DHT,
    };
    let children = if parallel_readdir(dict) {
        let mut ahead = Vec::with_capacity(sets.len());
        for (number, set) in sets.into_iter().enumerate() {
            let name = format!("{}-readdir-ahead-{number}", volume.name);
            graph
                .add_with_children(options::READDIR_AHEAD, &name, vec![set])
                .set("performance.readdir-ahead", "on");
            ahead.push(name);
        }
        ahead
    } else {
        sets
    };
    let name = format!("{}-dht", volume.name);
    let dht = graph.add_with_children(dht_type, &name, children);
    if !joined.is_empty() {
        dht.set("decommissioned-bricks", &joined);
    }
    Ok(())
}

/// `performance.parallel-readdir` on.
fn parallel_readdir(dict: &SetDict) -> bool {
    dict.get("performance.parallel-readdir")
        .and_then(options::parse_bool)
        .unwrap_or(false)
}

/// With both `performance.parallel-readdir` and `performance.readdir-ahead` on and more than
/// one set, glusterd shares `rda-cache-limit` between the sets' `readdir-ahead`s on a mount's
/// graphs: the limit divided by the number of sets, and a request size no larger than that
/// share (4 KiB at least), both written as byte counts (`5242880B`).
fn share_rda_sizes(
    volume: &Volume,
    dict: &mut SetDict,
    leaf_count: usize,
) -> Result<(), VolgenError> {
    let sets = volume.bricks.len() / leaf_count.max(1);
    let readdir_ahead = dict
        .get("performance.readdir-ahead")
        .and_then(options::parse_bool)
        .unwrap_or(false);
    if sets <= 1 || !parallel_readdir(dict) || !readdir_ahead {
        return Ok(());
    }
    let size = |key: &str, default: &str| {
        crate::volopt::cnum::bytesize(dict.get(key).unwrap_or(default)).ok_or_else(|| {
            VolgenError::Inconsistent {
                volume: volume.name.clone(),
                problem: format!("invalid number format in option {key}"),
            }
        })
    };
    let cache = size("performance.rda-cache-limit", "10MB")?;
    let mut request = size("performance.rda-request-size", "131072")?;
    if cache == 0 || request == 0 {
        return Err(VolgenError::Inconsistent {
            volume: volume.name.clone(),
            problem: "Value cannot be 0".into(),
        });
    }
    let mut share = cache / sets as u64;
    if share < request {
        if share < 4096 {
            share = 4096;
            request = 4096;
        } else {
            request = share;
        }
        dict.set("performance.rda-request-size", &format!("{request}B"));
    }
    dict.set("performance.rda-cache-limit", &format!("{share}B"));
    Ok(())
}

/// `cloudsync` and `shard` when their keys are on, `utime` unless `features.ctime` is off, and
/// `cdc` (client side) when `network.compression` is on.
fn add_features(graph: &mut Graph, volume: &Volume, dict: &SetDict) -> Result<(), VolgenError> {
    if bool_option(volume, dict, "features.cloudsync", false)? {
        graph.add_named_after_type(options::CLOUDSYNC, &volume.name);
    }
    if bool_option(volume, dict, "features.shard", false)? {
        graph.add_named_after_type(options::SHARD, &volume.name);
    }
    // A `features.ctime` that is not a boolean leaves utime in, as in glusterd.
    let ctime = dict.get("features.ctime").and_then(options::parse_bool);
    if ctime != Some(false) {
        graph.add_named_after_type(options::UTIME, &volume.name);
    }
    if bool_option(volume, dict, "network.compression", false)? {
        graph
            .add_named_after_type(options::CDC, &volume.name)
            .set("mode", "client");
    }
    Ok(())
}

/// glusterd derives the clients' `send-gids` from `server.manage-gids`: when the bricks
/// resolve groups themselves, clients do not send them. Unset counts as off.
fn derive_send_gids(dict: &mut SetDict) {
    let manage_gids = match dict.get("server.manage-gids") {
        None => Some(false),
        Some(value) => options::parse_bool(value),
    };
    if let Some(manage) = manage_gids {
        dict.set("client.send-gids", if manage { "false" } else { "true" });
    }
}

/// The performance xlators whose switches are on and the flavor takes, in their fixed order.
/// `open-behind` also needs clients of op-version 2 or later.
fn add_performance(
    graph: &mut Graph,
    volume: &Volume,
    dict: &SetDict,
    flavor: Flavor,
) -> Result<(), VolgenError> {
    for perf in options::PERF_XLATORS {
        if !flavor.allows_performance(perf.key) {
            continue;
        }
        if !bool_option(volume, dict, perf.key, perf.default_on)? {
            continue;
        }
        if perf.key == OPEN_BEHIND_KEY && volume.client_op_version < OPEN_BEHIND_CLIENT_OP_VERSION {
            continue;
        }
        // With parallel-readdir the readdir-ahead xlators sit under DHT instead.
        if perf.xl_type == options::READDIR_AHEAD && parallel_readdir(dict) {
            continue;
        }
        graph.add_named_after_type(perf.xl_type, &volume.name);
    }
    Ok(())
}
