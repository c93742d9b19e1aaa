//! The snapshot daemon's graph (`<volume>-snapd.vol`, volfile id `snapd/<volume>`), for a
//! started volume with `features.uss on`.
//!
//! From the bottom: `snapview-server` (which serves the volume's snapshots under the
//! snapshot directory), `io-threads`, io-stats named `snapd-<volume>` (the name its clients
//! ask for) and `server`, with the volume's internal login, over which the brick graph's
//! special pass runs (so `auth.allow` reaches it as `auth.addr.snapd-<volume>`), and no plain
//! pass.

use super::client::snapd_subvolume;
use super::common::{apply_special, check_volume};
use super::graph::Graph;
use super::options::{self, Role, SetDict};
use super::VolgenError;
use crate::model::Volume;

/// Builds the snapshot daemon's graph.
pub(super) fn build(volume: &Volume) -> Result<Graph, VolgenError> {
    check_volume(volume)?;
    let dict = SetDict::from_options(&volume.options);
    let name = &volume.name;
    let subvolume = snapd_subvolume(volume);
    let mut graph = Graph::new();
    graph
        .add_named_after_type(options::SNAPVIEW_SERVER, name)
        .set("volname", name);
    graph.add_named_after_type(options::IO_THREADS, name);
    graph.add_on_top(options::IO_STATS, &subvolume);
    let server = graph.add_named_after_type(options::SERVER, name);
    server.set("transport-type", "tcp");
    if dict.get("server.ssl").and_then(options::parse_bool) == Some(true) {
        server.set("transport.socket.ssl-enabled", "true");
    }
    if let Some(username) = &volume.username {
        server.set(&format!("auth.login.{subvolume}.allow"), username);
        if let Some(password) = &volume.password {
            server.set(&format!("auth.login.{username}.password"), password);
        }
    }
    server.set("auth-path", &subvolume);
    // Only the special pass (log level, threads, address authentication): glusterd runs no
    // plain pass over this graph, so no default of a plain key shows in it.
    apply_special(&mut graph, &dict, Role::Brick);
    Ok(graph)
}
