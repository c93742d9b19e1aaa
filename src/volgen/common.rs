//! What all graphs share: the checks a volume must pass and the option passes.

use super::graph::Graph;
use super::options::{self, Role, SetDict, SpecialTarget, IO_STATS, SERVER, SPECIAL};
use super::VolgenError;
use crate::model::{Volume, VolumeType};

/// The volume name glusterd gives the shared-storage volume (`cluster.enable-shared-storage`),
/// which it treats specially: its bricks only accept clients that authenticate, and it gets no
/// volfiles for untrusted or gfproxy clients.
pub(super) const SHARED_STORAGE_VOLUME: &str = "gluster_shared_storage";

/// Refuses volumes brickd cannot render: retired types, a thin arbiter on anything but a
/// replica 2 volume, and volumes with options it does not model.
pub(super) fn check_volume(volume: &Volume) -> Result<(), VolgenError> {
    let unsupported = |what: &'static str| VolgenError::UnsupportedVolume {
        volume: volume.name.clone(),
        what,
    };
    match volume.volume_type {
        VolumeType::Stripe | VolumeType::StripeReplicate => return Err(unsupported("stripe")),
        VolumeType::Tier => return Err(unsupported("tier")),
        VolumeType::Distribute | VolumeType::Replicate | VolumeType::Disperse => {}
    }
    // A thin arbiter goes with a replica 2 volume and one brick (what glusterd's CLI allows).
    if (volume.thin_arbiter_count > 0 || volume.thin_arbiter_brick.is_some())
        && (volume.thin_arbiter_count != 1
            || volume.thin_arbiter_brick.is_none()
            || volume.volume_type != VolumeType::Replicate
            || volume.replica_count != 2)
    {
        return Err(unsupported(
            "thin-arbiter other than on replica 2 with one brick",
        ));
    }
    match options::first_unsupported(&volume.options) {
        Some(refusal) => Err(VolgenError::Option {
            volume: volume.name.clone(),
            key: refusal.key,
            value: refusal.value,
            problem: refusal.problem,
        }),
        None => Ok(()),
    }
}

/// A boolean option of the volume, `default` when unset.
pub(super) fn bool_option(
    volume: &Volume,
    dict: &SetDict,
    key: &str,
    default: bool,
) -> Result<bool, VolgenError> {
    match dict.get_bool(key) {
        Ok(value) => Ok(value.unwrap_or(default)),
        Err((key, value)) => Err(VolgenError::Option {
            volume: volume.name.clone(),
            key,
            value,
            problem: options::OptionProblem::NotBoolean,
        }),
    }
}

/// The special pass: log level, threads and (on bricks) address authentication, each key's
/// value or default set on the graph of `role`.
pub(super) fn apply_special(graph: &mut Graph, dict: &SetDict, role: Role) {
    for special in SPECIAL {
        let Some(value) = dict.get(special.key).or(special.default) else {
            continue;
        };
        match special.target {
            SpecialTarget::IoStats(target_role, option) if target_role == role => {
                graph.set_on_type(IO_STATS, option, value);
            }
            SpecialTarget::ServerAuth(verb) if role == Role::Brick => {
                set_server_auth(graph, verb, value);
            }
            SpecialTarget::IoStats(..) | SpecialTarget::ServerAuth(_) => {}
        }
    }
}

/// `auth.addr.<auth-path>.<verb>` on the server xlator, whose `auth-path` is the brick path.
fn set_server_auth(graph: &mut Graph, verb: &str, value: &str) {
    let Some(server) = graph.last_of_type_mut(SERVER) else {
        return;
    };
    let Some(auth_path) = server.get("auth-path").map(str::to_owned) else {
        return;
    };
    server.set(&format!("auth.addr.{auth_path}.{verb}"), value);
}

/// The plain pass: every plain key's value or default set on the xlators of its type (the
/// self-heal daemon's own keys excepted).
pub(super) fn apply_plain(graph: &mut Graph, dict: &SetDict) {
    plain_pass(graph, dict, false);
}

/// The self-heal daemon's plain pass: the plain keys and the daemon's own keys, in table order.
pub(super) fn apply_self_heal_plain(graph: &mut Graph, dict: &SetDict) {
    plain_pass(graph, dict, true);
}

fn plain_pass(graph: &mut Graph, dict: &SetDict, self_heal: bool) {
    for plain in options::plain_keys() {
        if plain.self_heal_only && !self_heal {
            continue;
        }
        if let Some(value) = dict.get(plain.key).or(plain.default) {
            graph.set_on_type(plain.xl_type, plain.option, value);
        }
    }
}
