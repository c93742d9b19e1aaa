//! The rebalance graph: what the rebalance process (`<volume>-rebalance.vol`) loads.
//!
//! glusterd writes it only for a volume whose DHT spreads over more than one subvolume (more
//! bricks than one replica or disperse set holds). It is the bottom of the client graph, as a
//! trusted client: the bricks' clients, the sets and `<volume>-dht`, with io-stats named after
//! the volume on top and none of the feature or performance xlators. glusterd does not derive
//! `client.send-gids` for it.

use super::client::{add_clients, add_dht, add_sets, set_size};
use super::common::{apply_plain, apply_special, check_volume};
use super::graph::Graph;
use super::options::{self, Role, SetDict};
use super::VolgenError;
use crate::model::{Transport, Volume};

/// Builds the rebalance graph, or `None` for a volume glusterd writes none for.
pub(super) fn build(volume: &Volume) -> Result<Option<Graph>, VolgenError> {
    check_volume(volume)?;
    let leaf_count = set_size(volume)?;
    if volume.bricks.len() <= leaf_count {
        return Ok(None);
    }
    let dict = SetDict::from_options(&volume.options);
    let mut graph = Graph::new();
    let clients = add_clients(&mut graph, volume, &dict, true, transport(volume));
    let sets = add_sets(&mut graph, volume, &clients, leaf_count);
    add_dht(&mut graph, volume, &dict, sets, leaf_count)?;
    graph.add_on_top(options::IO_STATS, &volume.name);
    apply_special(&mut graph, &dict, Role::Client);
    apply_plain(&mut graph, &dict);
    Ok(Some(graph))
}

/// The clients' transport. glusterd writes the rebalance volfile each time it writes a set of
/// client volfiles, with the transport of the last client volfile of the set: a `tcp,rdma`
/// volume's rebalance clients therefore use `rdma`, where its FUSE clients use `tcp`.
fn transport(volume: &Volume) -> &'static str {
    match volume.transport {
        Transport::Tcp => "tcp",
        Transport::Rdma | Transport::TcpRdma => "rdma",
    }
}
