//! `volume get` (GET_VOL_OPT, CLI proc 41), `volume set` (SET_VOLUME, 12) and `volume reset`
//! (RESET_VOLUME, 20), with glusterd's messages, on the option table (`volopt`).
//!
//! A get is a read: it answers from the shard's catalog at once (`volume get all …` reads the
//! node's global options on the change shard). A set or reset is a change of one volume's
//! stored state and runs as glusterd's syncop transaction (GD_OP_SET_VOLUME 11,
//! GD_OP_RESET_VOLUME 12: mgmt v3 LOCK, v2 STAGE_OP and COMMIT_OP on every peer, UNLOCK):
//! stage checks the keys and renders the new volfiles (read-only), commit goes through
//! `ops::commit` (journal record `set` or `reset`, the catalog published with FETCHSPEC to
//! every client, `info`, `cksum` and the volfiles written after the reply).
//!
//! The order of the options follows glusterd's list (`Volume::set_option`): a new key goes to
//! the head, a key set again keeps its place.

use super::commit::{self, VolumeChange};
use super::local_node::run_volume_txn;
use super::shard::{ShardState, CHANGE_SHARD};
use super::volume_create::CliAnswer;
use crate::cluster::txn::{LocalFuture, Operation, TxnError, TxnInfo};
use crate::model::{Uuid, Volume};
use crate::proto::dict::Dict;
use crate::volopt::{self, global, rules, Lookup, OptionDef};
use std::rc::Rc;

/// `GD_OP_SET_VOLUME`.
pub const OP_SET_VOLUME: u32 = 11;
/// `GD_OP_RESET_VOLUME`.
pub const OP_RESET_VOLUME: u32 = 12;

/// Keys a reset takes out only with `force` (glusterd's `VOLOPT_FLAG_FORCE`): without it,
/// `volume reset VOL` keeps them and says so, and `volume reset VOL KEY` is refused.
const RESET_NEEDS_FORCE: &[&str] = &[
    "geo-replication.indexing",
    "geo-replication.ignore-pid-check",
    "features.bitrot",
    "features.scrub",
];

/// Keys no reset takes out, `force` or not (glusterd's `VOLOPT_FLAG_NEVER_RESET`: quota is
/// turned off with `volume quota VOL disable`).
const NEVER_RESET: &[&str] = &["features.quota", "features.inode-quota"];

/// What `volume reset VOL [all] [force]` answers, with its success, when it kept keys that
/// need `force`.
const KEPT_PROTECTED: &str =
    "All unprotected fields were reset. To reset the protected fields, use 'force'.";

/// `volume` after `volume reset VOL KEY [force]` (`key` the option's full name) or, with no
/// key, `volume reset VOL [all] [force]`, as glusterd 10.3 makes it, with the notice its
/// success carries; unchanged, version and all, for a key the volume does not have.
///
/// The keys that go are taken out of the list; then glusterd's defaults are set again, each
/// in place if the volume still has it, else at the head of the list: `nfs.disable on`,
/// `features.quota-deem-statfs on` (when quota is on), `transport.address-family inet` (tcp
/// volumes) — these three only when the reset is of that key or of all — and, whatever the
/// reset, `storage.fips-mode-rchecksum on` and, on a replicate volume never started,
/// `cluster.granular-entry-heal on`. So a reset of one key also turns those two back on, and
/// a reset of all lists `granular-entry-heal`, `fips-mode-rchecksum`,
/// `transport.address-family`, `nfs.disable` first, then what it kept.
fn reset_volume(
    volume: &Volume,
    key: Option<&str>,
    force: bool,
) -> Result<(Volume, Option<&'static str>), TxnError> {
    use crate::model::{Transport, VolumeStatus, VolumeType};
    let mut next = Volume::clone(volume);
    let (mut protected, mut unprotected) = (false, false);
    let mut keeps = |k: &str| {
        if NEVER_RESET.contains(&k) {
            protected |= !force;
            return true;
        }
        if !force {
            if RESET_NEEDS_FORCE.contains(&k) {
                protected = true;
                return true;
            }
            unprotected = true;
        }
        false
    };
    let mut going: Vec<String> = Vec::new();
    match key {
        None => {
            for (k, _) in &volume.options {
                if !keeps(k) {
                    going.push(k.clone());
                }
            }
        }
        Some(k) => {
            if volume.option(k).is_none() {
                return Ok((next, None));
            }
            if !keeps(k) {
                going.push(k.to_string());
            }
        }
    }
    for k in &going {
        next.reset_option(k);
        // Resetting bitrot takes its scrubber's state with it.
        if k.starts_with("features.bitrot") {
            next.reset_option("features.scrub");
        }
    }
    let of_it = |option: &str| key.is_none_or(|k| k == option);
    if of_it("nfs.disable") {
        next.set_option("nfs.disable", "on");
    }
    if of_it("features.quota-deem-statfs")
        && next.option("features.quota").and_then(volopt::parse_bool) == Some(true)
    {
        next.set_option("features.quota-deem-statfs", "on");
    }
    if of_it("transport.address-family") && volume.transport == Transport::Tcp {
        next.set_option("transport.address-family", "inet");
    }
    next.set_option("storage.fips-mode-rchecksum", "on");
    if volume.status == VolumeStatus::Created && volume.volume_type == VolumeType::Replicate {
        next.set_option("cluster.granular-entry-heal", "on");
    }
    let notice = match (protected, unprotected) {
        (false, _) => None,
        (true, true) => Some(KEPT_PROTECTED),
        (true, false) => {
            return Err(TxnError::new(format!(
                "'{}' is protected. To reset use 'force'.",
                key.unwrap_or("all")
            )))
        }
    };
    (next.op_version, next.client_op_version) = recomputed_op_versions(&next);
    next.version += 1;
    Ok((next, notice))
}

/// What glusterd 10.3 answers along with a global option asked for through a volume (the
/// CLI prints it before the table; the spacing is glusterd's).
const GLOBAL_THROUGH_VOLUME_WARNING: &str = "Warning: support to get                                         global option value using volume get                                         <volname>` will be deprecated from                                         next release. Consider using `volume                                         get all` instead for global options";

// --- volume get ----------------------------------------------------------------------------

/// The value `volume get VOL` shows for `def` on `volume` (a global key: the node's value).
fn shown(volume: &Volume, global: &[(String, String)], def: &OptionDef) -> String {
    let set = if def.scope.is_global() {
        global
            .iter()
            .find(|(k, _)| k == def.key)
            .map(|(_, v)| v.as_str())
    } else {
        volume.option(def.key)
    };
    match set {
        Some(value) => value.to_string(),
        None => def.shown_unset.to_string(),
    }
}

/// Answers GET_VOL_OPT for a volume (not `all`): from the catalog, on any shard.
pub fn get(catalog: &super::catalog::Catalog, op_version: u32, request: Dict) -> CliAnswer {
    let Ok(volname) = request.get_str("volname").map(str::to_owned) else {
        return CliAnswer::failed(0, "Failed to get volume name");
    };
    let Ok(key) = request.get_str("key").map(str::to_owned) else {
        return CliAnswer::failed(0, "Failed to get key");
    };
    if key.contains('\0') {
        return CliAnswer::failed(0, "Failed to get key");
    }
    let Some(volume) = catalog.get(&volname).cloned() else {
        return CliAnswer::failed(0, format!("Volume {volname} does not exist"));
    };
    let table = volopt::table();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut warning = false;
    if key == "all" {
        for def in table.volume_listing() {
            pairs.push((
                def.key.to_string(),
                shown(&volume, catalog.global_options(), def),
            ));
        }
    } else if volopt::is_user_key(&key) {
        match volume.option(&key) {
            Some(value) => pairs.push((key.clone(), value.to_string())),
            None => return CliAnswer::failed(0, format!("Option {key} does not exist")),
        }
    } else {
        match table.lookup(&key) {
            Lookup::Found(def) if def.scope.is_global() => {
                // A global key through a volume: its value, and glusterd's warning that this
                // way of asking will go.
                let value = match def.key {
                    "cluster.op-version" => op_version.to_string(),
                    "cluster.max-op-version" => crate::model::OP_VERSION_MAX.to_string(),
                    _ => match catalog.global_options().iter().find(|(k, _)| k == def.key) {
                        Some((_, v)) => v.clone(),
                        None if def.scope == volopt::Scope::GlobalOnly => (def.shown_unset_all)
                            .map(|s| s.trim_end_matches(" (DEFAULT)").to_string())
                            .unwrap_or_default(),
                        None => def.shown_unset.to_string(),
                    },
                };
                warning = true;
                pairs.push((def.key.to_string(), value));
            }
            Lookup::Found(def) => match def.key {
                // Read from the volume itself, set or not, as glusterd does.
                "config.transport" => {
                    pairs.push((def.key.to_string(), volume.transport.name().to_string()))
                }
                "config.memory-accounting" => {
                    let on = volume.option(def.key).and_then(volopt::parse_bool) == Some(true);
                    let shown = if on { "Enabled" } else { "Disabled" };
                    pairs.push((def.key.to_string(), shown.to_string()));
                }
                // A key `volume get VOL all` does not list has no default glusterd can show:
                // unset, its answer names the key with no value, and the CLI says "volume get
                // option failed" (exit 2; nothing with --xml).
                _ if volume.option(def.key).is_none()
                    && !table.volume_listing().any(|l| l.key == def.key) =>
                {
                    let mut dict = request;
                    dict.push("key1", format!("{}\0", def.key).into_bytes());
                    dict.set_u64("count", 1);
                    return CliAnswer::ok(dict);
                }
                _ => pairs.push((
                    def.key.to_string(),
                    shown(&volume, catalog.global_options(), def),
                )),
            },
            Lookup::Ambiguous | Lookup::Unknown => {
                // glusterd answers with the hint alone.
                let message = match volopt::hint(table, &key) {
                    Some(hint) => format!("Did you mean {hint}?"),
                    None => format!("Option {key} does not exist"),
                };
                return CliAnswer::failed(0, message);
            }
        }
    }
    let mut dict = request;
    if warning {
        dict.set_str("warning", GLOBAL_THROUGH_VOLUME_WARNING);
    }
    answer_pairs(&mut dict, &pairs);
    CliAnswer::ok(dict)
}

/// Answers `volume get all KEY|all` from the node's global options (on the change shard).
pub fn get_global(global: &[(String, String)], op_version: u32, request: Dict) -> CliAnswer {
    let key = request.get_str("key").unwrap_or("all").to_string();
    let table = volopt::table();
    let value_of = |def: &OptionDef| {
        match def.key {
            "cluster.op-version" => return op_version.to_string(),
            "cluster.max-op-version" => return crate::model::OP_VERSION_MAX.to_string(),
            _ => {}
        }
        global
            .iter()
            .find(|(k, _)| k == def.key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| def.shown_unset_all.unwrap_or("").to_string())
    };
    let mut pairs = Vec::new();
    if key == "all" {
        for def in table.global_options() {
            pairs.push((def.key.to_string(), value_of(def)));
        }
    } else {
        match table.lookup(&key) {
            Lookup::Found(def) if def.scope.is_global() => {
                pairs.push((def.key.to_string(), value_of(def)))
            }
            _ => return CliAnswer::failed(0, "Not a valid option for all volumes"),
        }
    }
    let mut dict = request;
    answer_pairs(&mut dict, &pairs);
    CliAnswer::ok(dict)
}

/// Adds `count`, then `keyN`/`valueN` for each pair, last first (so that, with the dict's
/// head insertion, the wire carries glusterd's order: `count`, then the pairs from the last).
fn answer_pairs(dict: &mut Dict, pairs: &[(String, String)]) {
    // Every key is new: `push` (a setter would look for each one first, quadratic in the
    // ~340 options of `volume get VOL all`).
    let text = |v: &str| {
        let mut bytes = Vec::with_capacity(v.len() + 1);
        bytes.extend_from_slice(v.as_bytes());
        bytes.push(0);
        bytes
    };
    for (i, (key, value)) in pairs.iter().enumerate() {
        dict.push(&format!("key{}", i + 1), text(key));
        dict.push(&format!("value{}", i + 1), text(value));
    }
    dict.set_u64("count", pairs.len() as u64);
}

// --- volume set and reset ------------------------------------------------------------------

/// What a set or reset changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `volume set`: these keys (as the CLI gave them) to these values.
    Set(Vec<(String, String)>),
    /// `volume reset VOL KEY|all [force]`.
    Reset {
        /// The key, or `all`.
        key: String,
        /// `force`: take out the keys that need it too.
        force: bool,
    },
}

/// Answers a SET_VOLUME request.
pub async fn handle_set(state: Rc<ShardState>, request: Dict) -> CliAnswer {
    handle(state, request, OP_SET_VOLUME).await
}

/// Answers a RESET_VOLUME request.
pub async fn handle_reset(state: Rc<ShardState>, request: Dict) -> CliAnswer {
    handle(state, request, OP_RESET_VOLUME).await
}

async fn handle(state: Rc<ShardState>, request: Dict, op_number: u32) -> CliAnswer {
    let Ok(volname) = request.get_str("volname").map(str::to_owned) else {
        return CliAnswer::failed(0, "Failed to get volume name");
    };
    if volname == "all" {
        return handle_global(state, request, op_number).await;
    }
    let change = match change_of(&request, op_number) {
        Ok(change) => change,
        Err(e) => return CliAnswer::failed(e.errno, e.message),
    };
    let timeout = request.get_str("timeout").ok().and_then(|v| v.parse().ok());
    let run = state
        .run_on(CHANGE_SHARD, move |change_state| async move {
            let mut op = OptionsOp {
                state: change_state.clone(),
                volname: volname.clone(),
                change,
                dict: request,
                next: None,
                notice: None,
            };
            let mut answer =
                run_volume_txn(change_state, op_number, &volname, timeout, &mut op).await;
            if let (0, Some(notice)) = (answer.op_ret, op.notice) {
                answer.op_errstr = notice.to_string();
            }
            answer
        })
        .await;
    run.unwrap_or_else(|e| CliAnswer::failed(0, e.to_string()))
}

/// Answers `volume set all …` or `volume reset all …`: the node's global options, as a
/// transaction of the pool on the lock of the name `all` (glusterd's).
async fn handle_global(state: Rc<ShardState>, request: Dict, op_number: u32) -> CliAnswer {
    let change = match change_of(&request, op_number) {
        Ok(change) => change,
        Err(e) => return CliAnswer::failed(e.errno, e.message),
    };
    let timeout = request.get_str("timeout").ok().and_then(|v| v.parse().ok());
    let run = state
        .run_on(CHANGE_SHARD, move |change_state| async move {
            let mut op = GlobalOp {
                state: change_state.clone(),
                change,
                dict: request,
                next: None,
            };
            let all = super::commit::GLOBAL_RECORD_NAME;
            run_volume_txn(change_state, op_number, all, timeout, &mut op).await
        })
        .await;
    run.unwrap_or_else(|e| CliAnswer::failed(0, e.to_string()))
}

/// The change a request asks for: `key1`/`value1`, `key2`/`value2`, … until a key is missing
/// (a set), or `key` (a reset).
fn change_of(dict: &Dict, op_number: u32) -> Result<Change, TxnError> {
    if op_number == OP_RESET_VOLUME {
        let key = dict
            .get_str("key")
            .ok()
            .filter(|k| !k.contains('\0'))
            .ok_or_else(|| TxnError::new("Unable to get option key"))?;
        return Ok(Change::Reset {
            key: key.to_string(),
            force: dict.get_i32("force").is_ok_and(|f| f == 1),
        });
    }
    let mut pairs = Vec::new();
    for i in 1.. {
        let Ok(key) = dict.get_str(&format!("key{i}")) else {
            break;
        };
        let value = dict.get_str(&format!("value{i}")).map_err(|_| {
            TxnError::new(format!("invalid key,value pair in 'volume set' for {key}"))
        })?;
        // A store line is `key=value\n`: nothing may end it early or split it.
        if key.contains(['\0', '\n', '=']) || value.contains(['\0', '\n']) {
            return Err(TxnError::new(format!(
                "invalid key,value pair in 'volume set': {key:?} {value:?}"
            )));
        }
        pairs.push((key.to_string(), value.to_string()));
        if pairs.len() > volopt::table().options().len() + 64 {
            return Err(TxnError::new("too many options in one volume set"));
        }
    }
    if pairs.is_empty() {
        return Err(TxnError::new("No options received "));
    }
    Ok(Change::Set(pairs))
}

/// A peer's set or reset, as this node takes part in it.
pub fn participant_op(
    state: Rc<ShardState>,
    dict: Dict,
    op_number: u32,
) -> Result<Box<dyn Operation>, TxnError> {
    let volname = dict
        .get_str("volname")
        .map(str::to_owned)
        .map_err(|_| TxnError::new("Failed to get volume name"))?;
    let change = change_of(&dict, op_number)?;
    if volname == super::commit::GLOBAL_RECORD_NAME {
        return Ok(Box::new(GlobalOp {
            state,
            change,
            dict,
            next: None,
        }));
    }
    Ok(Box::new(OptionsOp {
        state,
        volname,
        change,
        dict,
        next: None,
        notice: None,
    }))
}

/// `volume` after `change` (a set or a reset), checked as glusterd's stage checks it: the
/// keys, their rules, the volfiles built with them (read-only; the commit writes them) and
/// every option of an xlator in those graphs. Pure but for the table; the stage of a set or
/// reset and the option tests use it.
pub fn changed_volume(
    volume: &Volume,
    change: &Change,
    workdir: &std::path::Path,
    me: Uuid,
    bind: Option<std::net::IpAddr>,
) -> Result<Volume, TxnError> {
    changed_volume_rendered(volume, change, workdir, me, bind).map(|staged| staged.volume)
}

/// What the stage of a set or reset made.
struct Staged {
    /// The volume after the change: the volume as it was, version and all, for a reset of a
    /// key it does not have (then nothing is committed).
    volume: Volume,
    /// Its volfiles, by file name, which the commit writes.
    volfiles: Vec<(String, String)>,
    /// What the success answer says besides (glusterd's `op_errstr` of a success).
    notice: Option<&'static str>,
}

/// [`changed_volume`] with the volfiles it rendered and its notice.
fn changed_volume_rendered(
    volume: &Volume,
    change: &Change,
    workdir: &std::path::Path,
    me: Uuid,
    bind: Option<std::net::IpAddr>,
) -> Result<Staged, TxnError> {
    let mut next = Volume::clone(volume);
    match change {
        Change::Set(pairs) => {
            for (key, value) in pairs {
                let key = checked_set_key(&next, key, value)?;
                next.set_option(&key, value);
            }
            (next.op_version, next.client_op_version) = recomputed_op_versions(&next);
        }
        Change::Reset { key, force } => {
            let key = match key.as_str() {
                "all" => None,
                key => match volopt::table().lookup(key) {
                    Lookup::Found(def) => Some(def.key),
                    _ => {
                        return Err(TxnError::new(with_hint(
                            format!("Option {key} does not exist"),
                            key,
                        )));
                    }
                },
            };
            let (next, notice) = reset_volume(volume, key, *force)?;
            if next.version == volume.version {
                // A key the volume does not have: nothing changes, nothing is written.
                return Ok(Staged {
                    volume: next,
                    volfiles: Vec::new(),
                    notice,
                });
            }
            let (volume, volfiles) = render_and_check(volume, next, workdir, me, bind)?;
            return Ok(Staged {
                volume,
                volfiles,
                notice,
            });
        }
    }
    next.version += 1;
    let (volume, volfiles) = render_and_check(volume, next, workdir, me, bind)?;
    Ok(Staged {
        volume,
        volfiles,
        notice: None,
    })
}

/// `next` (`volume` after a set or reset) checked as glusterd's stage checks it: its volfiles
/// built, and every option of an xlator in those graphs. The volume and its volfiles.
fn render_and_check(
    volume: &Volume,
    next: Volume,
    workdir: &std::path::Path,
    me: Uuid,
    bind: Option<std::net::IpAddr>,
) -> Result<(Volume, Vec<(String, String)>), TxnError> {
    // The volfiles must render (read-only here; the commit writes them). Where glusterd
    // could not build them either (options that contradict each other, a switch that is
    // not a boolean) it says only "Error, Validation Failed", and so does brickd (the
    // reason goes to the log); what only brickd cannot render says so.
    let rendered = super::volume_create::render_volfiles(&next, workdir, me, bind);
    let volfiles = match rendered {
        Ok(volfiles) => volfiles,
        Err(e) => {
            use crate::volgen::{OptionProblem, VolgenError};
            return Err(match e {
                // glusterd's posix reads `features.trash` from the stored volume, not from
                // the set being checked: the trash xlator's own check answers first.
                VolgenError::Option {
                    ref key,
                    ref value,
                    problem: OptionProblem::NotBoolean,
                    ..
                } if key == "features.trash" => TxnError::new(format!(
                    "option trash {value}: '{value}' is not a valid boolean value"
                )),
                VolgenError::Inconsistent { .. }
                | VolgenError::Option {
                    problem: OptionProblem::NotBoolean,
                    ..
                } => {
                    tracing::info!(volume = %volume.name, reason = %e, "volume set refused: the volfiles do not build");
                    TxnError::new(rules::VALIDATION_FAILED)
                }
                other => TxnError::new(format!("volfile of {}: {other}", volume.name)),
            });
        }
    };
    // The options these graphs carry are checked, as glusterd's graph check does, on the
    // graphs it checks and in its order: each brick's, the client's, the self-heal daemon's.
    let client = crate::volgen::client_volfile_name(&next, false);
    let shd = crate::volgen::shd_volfile_name(&next);
    let graphs: Vec<&str> = (volfiles.iter().take(next.bricks.len()))
        .chain(volfiles.iter().filter(|(name, _)| *name == client))
        .chain(volfiles.iter().filter(|(name, _)| *name == shd))
        .map(|(_, text)| text.as_str())
        .collect();
    volopt::validate::check_volume(&next.options, &graphs).map_err(TxnError::new)?;
    Ok((next, volfiles))
}

struct OptionsOp {
    state: Rc<ShardState>,
    volname: String,
    change: Change,
    dict: Dict,
    /// The volume as the stage made it, with its volfiles (the commit stores them).
    next: Option<Staged>,
    /// What the stage said a success answers besides.
    notice: Option<&'static str>,
}

/// A set or reset of the node's global options.
struct GlobalOp {
    state: Rc<ShardState>,
    change: Change,
    dict: Dict,
    /// The list and the `options` file after the change, as the stage made them.
    next: Option<global::After>,
}

impl GlobalOp {
    fn stage_here(&mut self) -> Result<Dict, TxnError> {
        let catalog = self.state.catalog();
        let mut after = global::After {
            list: catalog.global_options().to_vec(),
            file: Vec::new(),
        };
        match &self.change {
            Change::Set(pairs) => {
                for (key, value) in pairs {
                    rules::before_lookup(key, value).map_err(TxnError::new)?;
                    let def = match volopt::table().lookup(key) {
                        Lookup::Found(def) => def,
                        _ => {
                            return Err(TxnError::new(with_hint(
                                format!("option : {key} does not exist"),
                                key,
                            )))
                        }
                    };
                    rules::after_lookup(def.key, def.scope, None, false, value)
                        .map_err(TxnError::new)?;
                    global::check(
                        def,
                        value,
                        self.state.node.node.op_version,
                        crate::model::OP_VERSION_MAX,
                        &after.list,
                    )
                    .map_err(TxnError::new)?;
                    after = global::after_set(&after.list, def.key, value);
                }
            }
            Change::Reset { key, .. } if key == "all" => {
                after = global::after_reset(&after.list, None);
            }
            Change::Reset { key, .. } => {
                let def = global::resolve(key).map_err(TxnError::new)?;
                after = global::after_reset(&after.list, Some(def.key));
            }
        }
        self.next = Some(after);
        Ok(Dict::new())
    }

    async fn commit_here(&mut self, txn: &TxnInfo) -> Result<Dict, TxnError> {
        if self.next.is_none() {
            self.stage_here()?;
        }
        let Some(after) = self.next.take() else {
            return Err(TxnError::new("nothing staged"));
        };
        commit::commit_global(&self.state, txn, after.list, after.file).await?;
        Ok(self.dict.clone())
    }
}

impl Operation for GlobalOp {
    fn stage<'a>(&'a mut self, _txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(async move { self.stage_here() })
    }

    fn merge_stage(&mut self, _answers: Vec<(Uuid, Dict)>) {}

    fn brick_op<'a>(&'a mut self, _txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
        Box::pin(async { Ok(()) })
    }

    fn commit<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(self.commit_here(txn))
    }

    fn peer_dict(&self) -> Dict {
        self.dict.clone()
    }
}

/// `message`, then glusterd's "Did you mean …?" line for `key` if there is a hint.
fn with_hint(message: String, key: &str) -> String {
    match volopt::hint(volopt::table(), key) {
        Some(hint) => format!("{message}\nDid you mean {hint}?"),
        None => message,
    }
}

/// What the key rules need to know of `volume`.
fn facts(volume: &Volume) -> rules::VolumeFacts<'_> {
    use crate::model::{VolumeStatus, VolumeType};
    rules::VolumeFacts {
        name: &volume.name,
        replica_count: volume.replica_count,
        disperse: volume.volume_type == VolumeType::Disperse,
        disperse_count: volume.disperse_count,
        redundancy_count: volume.redundancy_count,
        subvol_count: volume.subvol_count(),
        created: volume.status == VolumeStatus::Created,
        started: volume.status == VolumeStatus::Started,
        rebalancing: false,
    }
}

/// This machine's online CPUs (`cluster.rebal-throttle`'s limit), looked up once: the lookup
/// reads three cgroup files, a tenth of a stopped volume's set otherwise.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// The full key a `volume set VOL KEY VALUE` pair stores, after glusterd's checks in its
/// order (`volopt::rules`), on `next`, the volume as the pairs before this one left it.
fn checked_set_key(next: &Volume, key: &str, value: &str) -> Result<String, TxnError> {
    if rules::before_lookup(key, value).map_err(TxnError::new)? {
        return Ok(key.to_string());
    }
    let facts = facts(next);
    rules::key_rules(
        key,
        value,
        &facts,
        &|k: &str| next.option(k).map(str::to_owned),
        cores(),
    )
    .map_err(TxnError::new)?;
    let def = match volopt::table().lookup(key) {
        Lookup::Found(def) => def,
        Lookup::Ambiguous | Lookup::Unknown => {
            return Err(TxnError::new(with_hint(
                format!("option : {key} does not exist"),
                key,
            )))
        }
    };
    let trash_on = next
        .option("features.trash")
        .and_then(volopt::parse_bool)
        .unwrap_or(false);
    rules::after_lookup(def.key, def.scope, Some(&facts), trash_on, value)
        .map_err(TxnError::new)?;
    Ok(def.key.to_string())
}

/// A volume's op-versions as glusterd works them out again after every set and reset, from
/// the options it keeps (`volopt::op_versions_of`).
fn recomputed_op_versions(volume: &Volume) -> (u32, u32) {
    let disperse = volume.volume_type == crate::model::VolumeType::Disperse;
    volopt::op_versions_of(&volume.options, disperse)
}

impl OptionsOp {
    /// The volume after the change, checked: every key known, its volfiles renderable.
    fn stage_here(&mut self) -> Result<Dict, TxnError> {
        let Some(volume) = self.state.catalog().get(&self.volname).cloned() else {
            return Err(TxnError::new(format!(
                "Volume {} does not exist",
                self.volname
            )));
        };
        let node = &self.state.node;
        let next = changed_volume_rendered(
            &volume,
            &self.change,
            &node.workdir,
            node.node.uuid(),
            node.processes.bind_address,
        )?;
        self.notice = next.notice;
        self.next = Some(next);
        Ok(Dict::new())
    }

    async fn commit_here(&mut self, txn: &TxnInfo) -> Result<Dict, TxnError> {
        if self.next.is_none() {
            self.stage_here()?;
        }
        let Some(Staged {
            volume: next,
            volfiles,
            ..
        }) = self.next.take()
        else {
            return Err(TxnError::new("nothing staged"));
        };
        let unchanged = (self.state.catalog().get(&self.volname))
            .is_some_and(|now| now.version == next.version);
        if unchanged {
            // A reset of a key the volume does not have: glusterd writes nothing either.
            return Ok(self.dict.clone());
        }
        let op = match self.change {
            Change::Set(_) => "set",
            Change::Reset { .. } => "reset",
        };
        let change = VolumeChange {
            op,
            volume: next,
            volfiles: true,
        };
        let every = every_volume_pairs(&self.change);
        if every.is_empty() {
            commit::commit_with(&self.state, txn, change, Vec::new(), Some(volfiles)).await?;
            self.daemons_follow();
            return Ok(self.dict.clone());
        }
        // Keys glusterd sets on every volume: the other volumes are locked here while they
        // are read and rewritten, so that no transaction on one of them commits what it
        // staged before this change.
        let others: Vec<String> = (self.state.catalog().keys())
            .filter(|name| *name != self.volname)
            .map(str::to_owned)
            .collect();
        let locked = lock_volumes(&self.state, txn, &others)?;
        let catalog = self.state.catalog();
        let others: Vec<Volume> = (others.iter())
            .filter_map(|name| catalog.get(name))
            .map(|volume| with_pairs(volume, &every))
            .collect();
        let committed = commit::commit_with(&self.state, txn, change, others, Some(volfiles)).await;
        unlock_volumes(&self.state, txn, &locked);
        committed?;
        self.daemons_follow();
        Ok(self.dict.clone())
    }

    /// The volume's daemons after its change: the snapshot daemon started or stopped as
    /// `features.uss` now says, if the volume is started.
    fn daemons_follow(&self) {
        if let Some(volume) = self.state.catalog().get(&self.volname) {
            super::bricks::reconcile_snapd(&self.state, volume);
        }
    }
}

/// The keys of a set that glusterd sets on every volume (`OptionDef::every_volume`), full
/// keys with their values.
fn every_volume_pairs(change: &Change) -> Vec<(&'static str, String)> {
    let Change::Set(pairs) = change else {
        return Vec::new();
    };
    (pairs.iter())
        .filter_map(|(key, value)| match volopt::table().lookup(key) {
            Lookup::Found(def) if def.every_volume => Some((def.key, value.clone())),
            _ => None,
        })
        .collect()
}

/// Another volume after a set of `pairs` on every volume: the keys set, op-versions raised,
/// and its version moved on (glusterd stores every volume again).
fn with_pairs(volume: &Volume, pairs: &[(&'static str, String)]) -> Volume {
    let mut next = Volume::clone(volume);
    for (key, value) in pairs {
        next.set_option(key, value);
    }
    (next.op_version, next.client_op_version) = recomputed_op_versions(&next);
    next.version += 1;
    next
}

/// Takes the locks of `volumes` on this node for `txn` (none of them may be held by another
/// transaction): the names taken, or glusterd's "Another transaction is in progress" for the
/// first busy one, with none kept.
fn lock_volumes(
    state: &ShardState,
    txn: &TxnInfo,
    volumes: &[String],
) -> Result<Vec<String>, TxnError> {
    let now = std::time::Instant::now();
    let me = state.node.node.uuid();
    let mut taken: Vec<String> = Vec::with_capacity(volumes.len());
    let mut table = state.locks.borrow_mut();
    for volume in volumes {
        let name = crate::cluster::locks::volume_lock(volume);
        let holder = crate::cluster::locks::Holder::Local;
        if let Err(e) = table.acquire(&name, me, txn.id, holder, txn.lease, now) {
            for name in &taken {
                table.release(name, txn.id, now);
            }
            return Err(TxnError {
                errno: e.errno(),
                message: e.message(),
                refused: true,
            });
        }
        taken.push(name);
    }
    Ok(taken)
}

/// Releases what [`lock_volumes`] took.
fn unlock_volumes(state: &ShardState, txn: &TxnInfo, names: &[String]) {
    let now = std::time::Instant::now();
    let mut table = state.locks.borrow_mut();
    for name in names {
        table.release(name, txn.id, now);
    }
}

impl Operation for OptionsOp {
    fn stage<'a>(&'a mut self, _txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(async move { self.stage_here() })
    }

    fn merge_stage(&mut self, _answers: Vec<(Uuid, Dict)>) {}

    fn brick_op<'a>(&'a mut self, _txn: &'a TxnInfo) -> LocalFuture<'a, Result<(), TxnError>> {
        Box::pin(async { Ok(()) })
    }

    fn commit<'a>(&'a mut self, txn: &'a TxnInfo) -> LocalFuture<'a, Result<Dict, TxnError>> {
        Box::pin(self.commit_here(txn))
    }

    fn peer_dict(&self) -> Dict {
        super::local_node::with_volume_id(&self.state, &self.volname, &self.dict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replica 2 volume never started, with `options` (in memory order).
    fn replica(options: &[(&str, &str)]) -> Volume {
        let mut v = Volume::new_distribute("r", Uuid::NIL);
        v.volume_type = crate::model::VolumeType::Replicate;
        v.replica_count = 2;
        v.options = (options.iter())
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        v
    }

    fn keys(v: &Volume) -> Vec<(&str, &str)> {
        (v.options.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn a_reset_puts_back_glusterds_defaults_and_keeps_protected_keys() {
        let v = replica(&[
            ("geo-replication.indexing", "on"),
            ("performance.cache-size", "64MB"),
            ("cluster.granular-entry-heal", "off"),
            ("storage.fips-mode-rchecksum", "off"),
            ("transport.address-family", "inet6"),
            ("nfs.disable", "on"),
        ]);
        // A key the volume does not have: nothing at all changes.
        let (same, notice) = reset_volume(&v, Some("performance.io-cache"), false).unwrap();
        assert_eq!((same, notice), (v.clone(), None));
        // One key: fips and granular-entry-heal back on where they are.
        let (one, _) = reset_volume(&v, Some("performance.cache-size"), false).unwrap();
        assert_eq!(one.version, v.version + 1);
        assert_eq!(
            keys(&one),
            [
                ("geo-replication.indexing", "on"),
                ("cluster.granular-entry-heal", "on"),
                ("storage.fips-mode-rchecksum", "on"),
                ("transport.address-family", "inet6"),
                ("nfs.disable", "on"),
            ]
        );
        // All: the defaults first, the protected key kept after them, with the notice.
        let (all, notice) = reset_volume(&v, None, false).unwrap();
        assert_eq!(notice, Some(KEPT_PROTECTED));
        assert_eq!(
            keys(&all),
            [
                ("cluster.granular-entry-heal", "on"),
                ("storage.fips-mode-rchecksum", "on"),
                ("transport.address-family", "inet"),
                ("nfs.disable", "on"),
                ("geo-replication.indexing", "on"),
            ]
        );
        // With force it goes too.
        let (forced, notice) = reset_volume(&v, None, true).unwrap();
        assert_eq!(notice, None);
        assert!(forced.option("geo-replication.indexing").is_none());
        // The protected key alone, without force: refused.
        let refused = reset_volume(&v, Some("geo-replication.indexing"), false).unwrap_err();
        assert_eq!(
            refused.message,
            "'geo-replication.indexing' is protected. To reset use 'force'."
        );
        // A started volume gets no granular-entry-heal back.
        let mut started = v.clone();
        started.status = crate::model::VolumeStatus::Started;
        let (after, _) = reset_volume(&started, None, true).unwrap();
        assert!(after.option("cluster.granular-entry-heal").is_none());
    }

    fn set_request(pairs: &[(&str, &str)]) -> Dict {
        let mut dict = Dict::new();
        for (i, (k, v)) in pairs.iter().enumerate() {
            dict.set_str(&format!("key{}", i + 1), k);
            dict.set_str(&format!("value{}", i + 1), v);
        }
        dict
    }

    #[test]
    fn a_set_request_is_read_until_its_first_missing_key() {
        let dict = set_request(&[("a.b", "1"), ("c.d", "2")]);
        assert_eq!(
            change_of(&dict, OP_SET_VOLUME).unwrap(),
            Change::Set(vec![("a.b".into(), "1".into()), ("c.d".into(), "2".into())])
        );
        assert_eq!(
            change_of(&Dict::new(), OP_SET_VOLUME).unwrap_err().message,
            "No options received "
        );
        let mut no_value = Dict::new();
        no_value.set_str("key1", "a.b");
        assert!(change_of(&no_value, OP_SET_VOLUME).is_err());
    }

    #[test]
    fn pairs_that_would_break_a_store_line_are_refused() {
        for (k, v) in [("a\nb", "1"), ("a=b", "1"), ("a.b", "x\ny")] {
            assert!(
                change_of(&set_request(&[(k, v)]), OP_SET_VOLUME).is_err(),
                "{k:?} {v:?}"
            );
        }
        let mut reset = Dict::new();
        reset.set_str("key", "all");
        assert_eq!(
            change_of(&reset, OP_RESET_VOLUME).unwrap(),
            Change::Reset {
                key: "all".into(),
                force: false
            }
        );
        reset.set_i32("force", 1);
        assert_eq!(
            change_of(&reset, OP_RESET_VOLUME).unwrap(),
            Change::Reset {
                key: "all".into(),
                force: true
            }
        );
        assert!(change_of(&Dict::new(), OP_RESET_VOLUME).is_err());
    }
}
