//! The gfproxy graphs: the daemon's `<volume>.gfproxyd.vol` and its clients'
//! `trusted-<volume>.tcp-gfproxy-fuse.vol`.
//!
//! glusterd writes both for every volume, whether or not `config.gfproxyd` starts the daemon.
//! The daemon's graph is the trusted client graph without write-behind and with io-stats named
//! `gfproxyd-<volume>`, under a `protocol/server` named `<volume>-server` that serves that
//! io-stats to the gfproxy clients with the volume's internal login. The client graph is built
//! by `client.rs` ([`Flavor::GfproxyClient`]).

use super::client::{self, gfproxyd_subvolume, Flavor};
use super::common::apply_plain;
use super::graph::Graph;
use super::options::{self, SetDict};
use super::VolgenError;
use crate::model::Volume;

/// What glusterd prints for a missing string: the password key of a volume with a password
/// but no username names this user.
const MISSING_USERNAME: &str = "(null)";

/// Builds the gfproxy daemon's graph.
///
/// glusterd builds the client half with its usual option passes, adds the server, and then
/// runs the plain pass once more over the whole graph with the volume's own options. That
/// second pass sets the server's options; on the client half it re-sets the same values in
/// place, except `client.send-gids`, which the first pass derives from `server.manage-gids`
/// and the second takes as the volume has it, if it has it.
pub(super) fn build_daemon(volume: &Volume) -> Result<Graph, VolgenError> {
    let mut graph = client::build_flavor(volume, Flavor::GfproxyDaemon)?;
    add_server(&mut graph, volume);
    apply_plain(&mut graph, &SetDict::from_options(&volume.options));
    Ok(graph)
}

/// Builds the gfproxy clients' graph.
pub(super) fn build_client(volume: &Volume) -> Result<Graph, VolgenError> {
    client::build_flavor(volume, Flavor::GfproxyClient)
}

/// `<volume>-server` over the daemon's io-stats: the volume's transport (both names of a
/// `tcp,rdma` volume), the internal login for the `gfproxyd-<volume>` subvolume, and that
/// subvolume as `auth-path`. Unlike a brick's server it takes no address family and no
/// `auth.allow`/`auth.reject`.
fn add_server(graph: &mut Graph, volume: &Volume) {
    let subvolume = gfproxyd_subvolume(volume);
    let server = graph.add_named_after_type(options::SERVER, &volume.name);
    server.set("transport-type", volume.transport.name());
    if let Some(username) = &volume.username {
        server.set(&format!("auth.login.{subvolume}.allow"), username);
    }
    if let Some(password) = &volume.password {
        let username = volume.username.as_deref().unwrap_or(MISSING_USERNAME);
        server.set(&format!("auth.login.{username}.password"), password);
    }
    server.set("auth-path", &subvolume);
}
