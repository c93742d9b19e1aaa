//! The self-heal daemon's graph (`<volume>-shd.vol`), for replicate and disperse volumes.
//!
//! From the bottom: the bricks' clients (trusted), one replicate or disperse xlator per set,
//! each marked `iam-self-heal-daemon`, and io-stats named after the volume over all the sets
//! (no DHT, no feature or performance xlators).
//!
//! glusterd builds the clients and sets as a graph of their own, applies the plain keys to it
//! (with the daemon's keys `cluster.self-heal-daemon` and `cluster.heal-timeout`), and only
//! then hangs it under the io-stats it made first; so io-stats gets the special keys (log
//! level, threads) but none of the plain ones (`latency-measurement`, …). The options are the
//! volume's, over a default `self-heal-daemon enable` and under the daemon's fixed settings:
//! background heals off and data, metadata and entry self-heal on.

use super::client::{add_clients, add_set_xlators, client_transport, set_size};
use super::common::{apply_self_heal_plain, apply_special, check_volume};
use super::graph::Graph;
use super::options::{self, Role, SetDict, DISPERSE_SELF_HEAL_DAEMON_KEY, SELF_HEAL_DAEMON_KEY};
use super::VolgenError;
use crate::model::{Volume, VolumeType};

/// What the daemon always sets, over the volume's options.
const DAEMON_SETTINGS: [(&str, &str); 4] = [
    ("cluster.background-self-heal-count", "0"),
    ("cluster.data-self-heal", "on"),
    ("cluster.metadata-self-heal", "on"),
    ("cluster.entry-self-heal", "on"),
];

/// Builds the self-heal daemon's graph, or `None` for a volume with no self-heal (neither
/// replicate nor disperse).
pub(super) fn build(volume: &Volume) -> Result<Option<Graph>, VolgenError> {
    check_volume(volume)?;
    let enable_key = match volume.volume_type {
        VolumeType::Replicate => SELF_HEAL_DAEMON_KEY,
        VolumeType::Disperse => DISPERSE_SELF_HEAL_DAEMON_KEY,
        _ => return Ok(None),
    };
    let leaf_count = set_size(volume)?;
    let dict = daemon_dict(volume, enable_key);
    let mut graph = Graph::new();
    let clients = add_clients(&mut graph, volume, &dict, true, client_transport(volume));
    let sets = add_set_xlators(&mut graph, volume, &clients, leaf_count);
    apply_self_heal_plain(&mut graph, &dict);
    for xl_type in [options::AFR, options::EC] {
        graph.set_on_type(xl_type, "iam-self-heal-daemon", "yes");
    }
    graph.add_with_children(options::IO_STATS, &volume.name, sets);
    apply_special(&mut graph, &dict, Role::Client);
    Ok(Some(graph))
}

/// The daemon's options: `<enable_key> enable` unless the volume sets it, the volume's
/// options, then [`DAEMON_SETTINGS`] over them.
fn daemon_dict(volume: &Volume, enable_key: &str) -> SetDict {
    let mut options = Vec::with_capacity(volume.options.len() + 1 + DAEMON_SETTINGS.len());
    options.push((enable_key.to_owned(), "enable".to_owned()));
    options.extend(volume.options.iter().cloned());
    options.extend(
        DAEMON_SETTINGS
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
    );
    SetDict::from_options(&options)
}
