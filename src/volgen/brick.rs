//! The brick graph: what `glusterfsd` loads to serve one brick.
//!
//! The stack, from the disk up: `posix`, `arbiter` (arbiter bricks only), `trash`, `changelog`,
//! `bitrot-stub`, `access-control`, `locks`, `worm`, `read-only`, `leases`, `upcall`,
//! `io-threads`, `selinux`, `marker`, `barrier`, `index`, `quota`, `cdc`
//! (`network.compression`), `namespace` (`features.tag-namespaces`), `sdfs` (`features.sdfs`),
//! the io-stats xlator named after the brick path, and `server`. Each xlator but io-stats is
//! named `<volume>-<type>`.
//!
//! After each step the debug xlators go in, as glusterd puts them: when `debug.trace`,
//! `debug.error-gen` or `debug.delay-gen` names that step (`posix`, `locks`, `io-stats`, …),
//! every one of the three that is not off is stacked there.

use super::common::{apply_plain, apply_special, bool_option, check_volume, SHARED_STORAGE_VOLUME};
use super::graph::Graph;
use super::options::{self, Role, SetDict};
use super::VolgenError;
use crate::model::{Brick, Uuid, Volume, VolumeType};

/// What every builder step needs.
struct Ctx<'a> {
    volume: &'a Volume,
    brick: &'a Brick,
    dict: SetDict,
    /// The workdir as text (`<workdir>/vols/<volume>/marker.tstamp`).
    workdir: &'a str,
    /// `shared-brick-count` of posix.
    shared_brick_count: usize,
}

/// Builds the graph of brick `index` as seen from the node `local_node`.
pub(super) fn build(
    volume: &Volume,
    index: usize,
    workdir: &str,
    local_node: &Uuid,
) -> Result<Graph, VolgenError> {
    check_volume(volume)?;
    let brick = volume
        .bricks
        .get(index)
        .ok_or_else(|| VolgenError::NoSuchBrick {
            volume: volume.name.clone(),
            index,
            count: volume.bricks.len(),
        })?;
    let ctx = Ctx {
        volume,
        brick,
        dict: SetDict::from_options(&volume.options),
        workdir,
        shared_brick_count: shared_brick_count(volume, brick, local_node),
    };
    let mut graph = Graph::new();
    add_storage(&mut graph, &ctx, index)?;
    add_features(&mut graph, &ctx)?;
    add_accounting(&mut graph, &ctx);
    add_optional(&mut graph, &ctx)?;
    add_io_stats(&mut graph, &ctx);
    add_debug(&mut graph, &ctx, "io-stats");
    add_server(&mut graph, &ctx);
    apply_special(&mut graph, &ctx.dict, Role::Brick);
    apply_plain(&mut graph, &ctx.dict);
    Ok(graph)
}

/// glusterd's `shared-brick-count`: for a brick of `local_node`, how many of that node's bricks
/// of the volume (this one included) sit on the same file system (same `brick-fsid`); 0 for a
/// brick of another node, whose count glusterd never computes. A brick process uses it to
/// divide the file system's free space between the bricks sharing it.
fn shared_brick_count(volume: &Volume, brick: &Brick, local_node: &Uuid) -> usize {
    if brick.uuid != *local_node {
        return 0;
    }
    volume
        .bricks
        .iter()
        .filter(|b| b.uuid == *local_node && b.brick_fsid == brick.brick_fsid)
        .count()
}

/// `posix`, `arbiter` and `trash`.
fn add_storage(graph: &mut Graph, ctx: &Ctx<'_>, index: usize) -> Result<(), VolgenError> {
    let name = &ctx.volume.name;
    let path = &ctx.brick.path;
    let link_count_parent = needs_link_count_parent(ctx)?;
    let posix = graph.add_named_after_type(options::POSIX, name);
    posix.set("directory", path);
    posix.set("volume-id", &ctx.volume.volume_id.to_string());
    if link_count_parent {
        posix.set("update-link-count-parent", "on");
    }
    posix.set("fips-mode-rchecksum", "on");
    posix.set("shared-brick-count", &ctx.shared_brick_count.to_string());
    add_debug(graph, ctx, "posix");

    // The arbiter xlator sits on the last brick of each replica set of an arbiter volume.
    if ctx.volume.is_arbiter_brick(index) {
        graph.add_named_after_type("features/arbiter", name);
    }
    add_debug(graph, ctx, "arbiter");

    let trash = graph.add_named_after_type(options::TRASH, name);
    trash.set("trash-dir", ".trashcan");
    trash.set("brick-path", path);
    trash.set("trash-internal-op", "off");
    add_debug(graph, ctx, "trash");
    Ok(())
}

/// posix keeps parent link counts (`update-link-count-parent`) when quota or trash is on.
fn needs_link_count_parent(ctx: &Ctx<'_>) -> Result<bool, VolgenError> {
    let quota = bool_option(ctx.volume, &ctx.dict, "features.quota", false)?;
    let trash = bool_option(ctx.volume, &ctx.dict, "features.trash", false)?;
    Ok(quota || trash)
}

/// `features.bitrot` as the volume has it, `disable` by default.
fn bitrot_value<'a>(ctx: &'a Ctx<'_>) -> &'a str {
    ctx.dict.get("features.bitrot").unwrap_or("disable")
}

/// From `changelog` to `selinux`.
fn add_features(graph: &mut Graph, ctx: &Ctx<'_>) -> Result<(), VolgenError> {
    let name = &ctx.volume.name;
    let path = &ctx.brick.path;
    let bitrot_on = bool_option(ctx.volume, &ctx.dict, "features.bitrot", false)?;
    // glusterd's brick graph reads these two as booleans (to see whether a set turns them
    // off) and fails the graph on anything else.
    bool_option(ctx.volume, &ctx.dict, "changelog.changelog", false)?;
    bool_option(ctx.volume, &ctx.dict, "geo-replication.indexing", false)?;

    let changelog = graph.add_named_after_type(options::CHANGELOG, name);
    changelog.set("changelog-brick", path);
    changelog.set("changelog-dir", &format!("{path}/.glusterfs/changelogs"));
    changelog.set(
        "changelog-notification",
        if bitrot_on { "on" } else { "off" },
    );
    add_debug(graph, ctx, "changelog");

    let stub = graph.add_named_after_type("features/bitrot-stub", name);
    stub.set("export", path);
    stub.set("bitrot", bitrot_value(ctx));
    add_debug(graph, ctx, "bitrot-stub");

    if acl_on(ctx) {
        graph.add_named_after_type("features/access-control", name);
    }
    add_debug(graph, ctx, "access-control");
    graph.add_named_after_type(options::LOCKS, name);
    add_debug(graph, ctx, "locks");
    check_read_only_and_worm(ctx)?;
    graph.add_named_after_type(options::WORM, name);
    add_debug(graph, ctx, "worm");
    graph
        .add_named_after_type(options::READ_ONLY, name)
        .set("read-only", "off");
    add_debug(graph, ctx, "read-only");
    for (xl_type, step) in [
        (options::LEASES, "leases"),
        (options::UPCALL, "upcall"),
        (options::IO_THREADS, "io-threads"),
        (options::SELINUX, "selinux"),
    ] {
        graph.add_named_after_type(xl_type, name);
        add_debug(graph, ctx, step);
    }
    Ok(())
}

/// `access-control` is loaded unless `features.acl` is explicitly off (a value that is not a
/// boolean leaves it on, as in glusterd).
fn acl_on(ctx: &Ctx<'_>) -> bool {
    ctx.dict
        .get("features.acl")
        .and_then(options::parse_bool)
        .unwrap_or(true)
}

/// glusterd refuses a brick graph with both `features.read-only` and a WORM mode on.
fn check_read_only_and_worm(ctx: &Ctx<'_>) -> Result<(), VolgenError> {
    let on = |key: &str| {
        ctx.dict
            .get(key)
            .map(|v| options::parse_bool(v) != Some(false))
    };
    let read_only = on("features.read-only").unwrap_or(false);
    let worm =
        on("features.worm").unwrap_or(false) || on("features.worm-file-level").unwrap_or(false);
    if read_only && worm {
        return Err(VolgenError::Inconsistent {
            volume: ctx.volume.name.clone(),
            problem: "features.read-only and WORM cannot be on together".into(),
        });
    }
    Ok(())
}

/// `marker`, `barrier`, `index` and `quota`.
fn add_accounting(graph: &mut Graph, ctx: &Ctx<'_>) {
    let volume = ctx.volume;
    let name = &volume.name;
    let marker = graph.add_named_after_type(options::MARKER, name);
    marker.set("volume-uuid", &volume.volume_id.to_string());
    marker.set(
        "timestamp-file",
        &format!("{}/vols/{name}/marker.tstamp", ctx.workdir),
    );
    marker.set("quota-version", &volume.quota_version.to_string());
    add_debug(graph, ctx, "marker");

    graph.add_named_after_type(options::BARRIER, name);
    add_debug(graph, ctx, "barrier");
    add_index(graph, ctx);
    add_debug(graph, ctx, "index");

    let quota = graph.add_named_after_type(options::QUOTA, name);
    // The quota xlator's "volume-uuid" is the volume name, not its id.
    quota.set("volume-uuid", name);
    if let Some(value) = ctx.dict.get_or_default("features.quota") {
        quota.set("server-quota", value);
    }
    add_debug(graph, ctx, "quota");
}

/// `cdc` (`network.compression`, as the server side), `namespace`
/// (`features.tag-namespaces`) and `sdfs` (`features.sdfs`, taken for any value but off, as
/// glusterd reads it).
fn add_optional(graph: &mut Graph, ctx: &Ctx<'_>) -> Result<(), VolgenError> {
    let name = &ctx.volume.name;
    if bool_option(ctx.volume, &ctx.dict, "network.compression", false)? {
        graph
            .add_named_after_type(options::CDC, name)
            .set("mode", "server");
    }
    add_debug(graph, ctx, "cdc");
    if bool_option(ctx.volume, &ctx.dict, "features.tag-namespaces", false)? {
        graph.add_named_after_type("features/namespace", name);
    }
    add_debug(graph, ctx, "namespace");
    let sdfs = ctx.dict.get("features.sdfs");
    if sdfs.is_some_and(|v| options::parse_bool(v) != Some(false)) {
        graph
            .add_named_after_type("features/sdfs", name)
            .set("pass-through", "false");
    }
    add_debug(graph, ctx, "sdfs");
    Ok(())
}

/// The debug xlators glusterd stacks after the step `step` of a graph (`client` for the top
/// of a client graph): when one of the three debug keys names the step, each of the three
/// that is set and not off goes in, in that order (so two keys naming the same step stack
/// all of them twice, as glusterd does).
pub(super) fn debug_xlators(dict: &SetDict, step: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (key, _) in options::DEBUG_XLATORS {
        if dict.get(key) != Some(step) {
            continue;
        }
        for (other, xl_type) in options::DEBUG_XLATORS {
            match dict.get(other) {
                Some(value) if value != "off" && options::parse_bool(value) != Some(false) => {
                    out.push(*xl_type);
                }
                _ => {}
            }
        }
    }
    out
}

/// The debug xlators, then the user xlators, glusterd stacks after the step `step`.
fn add_debug(graph: &mut Graph, ctx: &Ctx<'_>, step: &str) {
    for xl_type in debug_xlators(&ctx.dict, step) {
        graph.add_named_after_type(xl_type, &ctx.volume.name);
    }
    add_user_xlators(graph, ctx, step);
}

/// glusterd's user xlators: each `user.xlator.<name>` whose value is `step`, in the volume's
/// option order (its dict's), stacks `user/<name>` named `<volume>-<name>`, with an option
/// for every `user.xlator.<name>.<…>` key, named after the key's last part, set in the same
/// order (so the last set prints first, and a name given twice keeps its first place and its
/// last value).
fn add_user_xlators(graph: &mut Graph, ctx: &Ctx<'_>, step: &str) {
    let options = &ctx.volume.options;
    let mut seen = std::collections::HashSet::new();
    for (key, _) in options {
        let Some(name) = key.strip_prefix(options::USER_XLATOR_PREFIX) else {
            continue;
        };
        if name.contains('.') || !seen.insert(name) || ctx.dict.get(key) != Some(step) {
            continue;
        }
        let xl = graph.add_on_top(
            &format!("user/{name}"),
            &format!("{}-{name}", ctx.volume.name),
        );
        let of_it = format!("{key}.");
        let mut set = std::collections::HashSet::new();
        for (option_key, _) in options {
            if !option_key.starts_with(&of_it) || !set.insert(option_key.as_str()) {
                continue;
            }
            let option = option_key.rsplit('.').next().unwrap_or_default();
            if let Some(value) = ctx.dict.get(option_key) {
                xl.set(option, value);
            }
        }
    }
}

/// `index` watches the xattrs self-heal looks for: `trusted.ec.dirty` on disperse volumes,
/// AFR's dirty flag and the `trusted.afr.<volume>-` pending prefix (one xattr per client
/// xlator `<volume>-client-N`) on replicate and distribute volumes.
fn add_index(graph: &mut Graph, ctx: &Ctx<'_>) {
    let name = &ctx.volume.name;
    let index = graph.add_named_after_type("features/index", name);
    index.set(
        "index-base",
        &format!("{}/.glusterfs/indices", ctx.brick.path),
    );
    match ctx.volume.volume_type {
        VolumeType::Disperse => index.set("xattrop64-watchlist", "trusted.ec.dirty"),
        VolumeType::Replicate | VolumeType::Distribute => {
            index.set("xattrop-dirty-watchlist", "trusted.afr.dirty");
            index.set("xattrop-pending-watchlist", &format!("trusted.afr.{name}-"));
        }
        VolumeType::Stripe | VolumeType::StripeReplicate | VolumeType::Tier => {}
    }
}

/// The brick's io-stats: named after the brick path, which is also how a client's
/// `remote-subvolume` finds it.
fn add_io_stats(graph: &mut Graph, ctx: &Ctx<'_>) {
    let path = &ctx.brick.path;
    let io_stats = graph.add_on_top(options::IO_STATS, path);
    io_stats.set("unique-id", path);
    io_stats.set("volume-id", &ctx.volume.volume_id.to_string());
}

/// `server`: transport, the internal login (`username`/`password` of the volume) and the
/// brick path clients authenticate against.
fn add_server(graph: &mut Graph, ctx: &Ctx<'_>) {
    let volume = ctx.volume;
    let path = &ctx.brick.path;
    let server = graph.add_named_after_type(options::SERVER, &volume.name);
    server.set("transport-type", volume.transport.name());
    if let Some(family) = ctx.dict.get("transport.address-family") {
        server.set("transport.address-family", family);
    }
    if let Some(username) = &volume.username {
        server.set(&format!("auth.login.{path}.allow"), username);
        if let Some(password) = &volume.password {
            server.set(&format!("auth.login.{username}.password"), password);
        }
    }
    server.set("auth-path", path);
    // The shared-storage volume's bricks only accept clients that authenticate.
    if volume.name == SHARED_STORAGE_VOLUME {
        server.set("strict-auth-accept", "true");
    }
    if let Some(users) = ctx.dict.get("auth.ssl-allow") {
        server.set(&format!("auth.login.{path}.ssl-allow"), users);
    }
}
