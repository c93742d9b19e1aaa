//! The node's global options (`volume set all KEY VALUE`, `volume reset all [KEY]`): how each
//! value is checked, with glusterd 10.3's messages, and how the list and the `options` file
//! change. Pure.
//!
//! glusterd keeps the global options in one list (`global-option-version` among them) and
//! changes it through a copy, which is what it writes: the copy is the list walked from its
//! head with each pair put at the head of the copy (so reversed), then the change is made on
//! the copy (a new key at its head, a key it has in place; `global-option-version` goes up by
//! one), and the copy is written to `options` from its head. The copy's pairs are then set
//! into the list, each to the head if new, in place if not. Seen on glusterd 10.3 across
//! sets of new and existing keys, resets and restarts: [`after_set`] and [`after_reset`]
//! reproduce the file and the `volume info` order of every step.

use super::{table, Lookup, OptionDef};

/// The key of the global options' version.
pub const VERSION_KEY: &str = "global-option-version";

/// Why a value is refused, as glusterd says it (the CLI prints it after `volume set: failed: `).
pub type Refusal = String;

use super::parse_bool;

/// A percentage as glusterd reads one (`gf_string2percent`): a number, optionally with `%`.
fn parse_percent(value: &str) -> Option<f64> {
    let number = value.strip_suffix('%').unwrap_or(value).trim();
    if number.is_empty() {
        return None;
    }
    number.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A decimal integer as `strtol` with full-string checking reads one.
fn parse_int(value: &str) -> Option<i64> {
    let v = value.trim_start();
    if v.is_empty() {
        return None;
    }
    v.parse::<i64>().ok()
}

/// What a set of global key `def` to `value` needs checked, on a node whose cluster
/// op-version is `op_version`, with global options `current`: `Ok` or glusterd's message.
/// brickd refuses, with its own message, the values that would need what it does not do
/// (multiplexed bricks, the shared storage volume, raising the op-version).
pub fn check(
    def: &OptionDef,
    value: &str,
    op_version: u32,
    max_op_version: u32,
    current: &[(String, String)],
) -> Result<(), Refusal> {
    let key = def.key;
    let boolean = |v: &str| {
        parse_bool(v).ok_or_else(|| {
            format!("{v} is not a valid boolean value. {key} expects a valid boolean value.")
        })
    };
    let multiplexed = current
        .iter()
        .find(|(k, _)| k == "cluster.brick-multiplex")
        .and_then(|(_, v)| parse_bool(v))
        .unwrap_or(false);
    let needs_multiplex = || {
        if multiplexed {
            Ok(())
        } else {
            Err("Brick-multiplexing is not enabled. Please enable brick multiplexing before trying to set this option.".to_string())
        }
    };
    match key {
        "cluster.op-version" => {
            let Some(wanted) = parse_int(value) else {
                return Err(format!(
                    "invalid number format \"{value}\" in option \"{key}\""
                ));
            };
            if wanted > i64::from(max_op_version) {
                return Err(format!(
                    "Required op_version ({wanted}) is not supported. Max supported op version is {max_op_version}"
                ));
            }
            if wanted <= i64::from(op_version) {
                return Err(format!(
                    "Required op-version ({wanted}) should not be equal or lower than current cluster op-version ({op_version})."
                ));
            }
            Err(format!(
                "brickd does not raise the cluster op-version yet (it is {op_version})"
            ))
        }
        "cluster.max-op-version" => Err("Not a valid option to set".to_string()),
        "cluster.brick-multiplex" => {
            if boolean(value)? {
                Err("brickd does not run multiplexed bricks: cluster.brick-multiplex stays off".to_string())
            } else {
                Ok(())
            }
        }
        "cluster.localtime-logging" | "cluster.brick-graceful-cleanup" => boolean(value).map(|_| ()),
        "cluster.max-bricks-per-process" => {
            needs_multiplex()?;
            match value.parse::<u64>() {
                Ok(_) => Ok(()),
                Err(_) => Err(format!(
                    "{value} is not a valid count. {key} expects an unsigned integer."
                )),
            }
        }
        "glusterd.vol_count_per_thread" => {
            needs_multiplex()?;
            match parse_int(value) {
                Some(n) if (5..=200).contains(&n) => Ok(()),
                _ => Err("Please set this option to a value between 5 and 200 tooptimize processing large numbers of volumes in parallel.".to_string()),
            }
        }
        "cluster.server-quorum-ratio" => {
            let option = "server-quorum-ratio";
            let Some(percent) = parse_percent(value) else {
                return Err(format!(
                    "invalid percent format \"{value}\" in \"option {option}\""
                ));
            };
            if !(0.0..=100.0).contains(&percent) {
                return Err(format!(
                    "'{percent:.6}' in 'option {option} {value}' is out of range [0 - 100]"
                ));
            }
            Ok(())
        }
        "cluster.daemon-log-level" => match value {
            "INFO" | "WARNING" | "ERROR" | "DEBUG" | "TRACE" => Ok(()),
            _ => Err(format!(
                "Invalid option({value}). Valid options are 'INFO' or 'WARNING' or 'ERROR' or 'DEBUG' or  'TRACE'"
            )),
        },
        "cluster.enable-shared-storage" => match value {
            "enable" => Err("brickd does not create the shared storage volume (cluster.enable-shared-storage) yet".to_string()),
            "disable" => Ok(()),
            _ => Err(format!(
                "Invalid option({value}). Valid options are 'enable' and 'disable'"
            )),
        },
        _ => Ok(()),
    }
}

/// The global key `key` names (a full key, or the last part of one), or glusterd's message.
pub fn resolve(key: &str) -> Result<&'static OptionDef, Refusal> {
    match table().lookup(key) {
        Lookup::Found(def) if def.scope.is_global() => Ok(def),
        _ => Err("Not a valid option for all volumes".to_string()),
    }
}

/// Sets `key` in `list` as glusterd's dicts do: in place if there, else at the head.
fn set(list: &mut Vec<(String, String)>, key: &str, value: &str) {
    match list.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => *v = value.to_string(),
        None => list.insert(0, (key.to_string(), value.to_string())),
    }
}

/// The global options after a change: the list as glusterd holds it, and the `options`
/// file's pairs as it writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// In memory order.
    pub list: Vec<(String, String)>,
    /// In file order.
    pub file: Vec<(String, String)>,
}

/// The next `global-option-version` after `list`'s.
fn next_version(list: &[(String, String)]) -> String {
    let now: u64 = (list.iter())
        .find(|(k, _)| k == VERSION_KEY)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    (now + 1).to_string()
}

/// After `volume set all KEY VALUE` on `list` (memory order): the new list and the `options`
/// file's pairs, in order.
pub fn after_set(list: &[(String, String)], key: &str, value: &str) -> After {
    let mut copy: Vec<(String, String)> = list.iter().rev().cloned().collect();
    set(&mut copy, key, value);
    set(&mut copy, VERSION_KEY, &next_version(list));
    let mut next = list.to_vec();
    for (k, v) in &copy {
        set(&mut next, k, v);
    }
    After {
        list: next,
        file: copy,
    }
}

/// After `volume reset all KEY` (`None`: every key) on `list`: the new list and the file.
pub fn after_reset(list: &[(String, String)], key: Option<&str>) -> After {
    let version = next_version(list);
    match key {
        None => {
            let only = vec![(VERSION_KEY.to_string(), version)];
            After {
                list: only.clone(),
                file: only,
            }
        }
        Some(key) => {
            let mut copy: Vec<(String, String)> = list.iter().rev().cloned().collect();
            copy.retain(|(k, _)| k != key);
            set(&mut copy, VERSION_KEY, &version);
            let mut next = list.to_vec();
            next.retain(|(k, _)| k != key);
            set(&mut next, VERSION_KEY, &version);
            After {
                list: next,
                file: copy,
            }
        }
    }
}

/// After a peer's FRIEND_ADD with global options `theirs` (in the order they came): `None`
/// if their `global-option-version` is not above ours, else theirs in place of ours, held as
/// glusterd holds what it reads (each to the head: the reverse of the order they came) and
/// written so. Seen with two glusterds: a node that was down while the other set two global
/// options came back with the other's options in its file in the reverse of the wire order.
pub fn after_import(ours: &[(String, String)], theirs: &[(String, String)]) -> Option<After> {
    let version = |list: &[(String, String)]| -> u64 {
        (list.iter())
            .find(|(k, _)| k == VERSION_KEY)
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0)
    };
    if version(theirs) <= version(ours) {
        return None;
    }
    let list: Vec<(String, String)> = theirs.iter().rev().cloned().collect();
    Some(After {
        file: list.clone(),
        list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn keys(list: &[(String, String)]) -> Vec<&str> {
        list.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The sequence run on glusterd 10.3 (files and `volume info` orders as it showed them).
    #[test]
    fn sets_and_resets_order_the_list_and_the_file_as_glusterd_does() {
        const RATIO: &str = "cluster.server-quorum-ratio";
        const LEVEL: &str = "cluster.daemon-log-level";
        const LOCALTIME: &str = "cluster.localtime-logging";
        // The first set ever: the file has the version first.
        let After { list, file } = after_set(&[], "cluster.brick-multiplex", "off");
        assert_eq!(keys(&file), [VERSION_KEY, "cluster.brick-multiplex"]);
        assert_eq!(file[0].1, "1");
        let After { list, file } = after_reset(&list, None);
        assert_eq!(file, pairs(&[(VERSION_KEY, "2")]));
        let After { list, .. } = after_set(&list, RATIO, "60");
        let After { list, .. } = after_set(&list, LEVEL, "DEBUG");
        let After { list, file } = after_set(&list, LOCALTIME, "enable");
        assert_eq!(keys(&file), [LOCALTIME, VERSION_KEY, RATIO, LEVEL]);
        assert_eq!(keys(&list)[..3], [LOCALTIME, LEVEL, RATIO]);
        let After { list, file } = after_set(&list, RATIO, "70");
        assert_eq!(
            file,
            pairs(&[
                (VERSION_KEY, "6"),
                (RATIO, "70"),
                (LEVEL, "DEBUG"),
                (LOCALTIME, "enable")
            ])
        );
        assert_eq!(keys(&list)[..3], [LOCALTIME, LEVEL, RATIO]);
        let After { list, file } = after_reset(&list, Some(RATIO));
        assert_eq!(keys(&file), [VERSION_KEY, LEVEL, LOCALTIME]);
        assert_eq!(keys(&list), [LOCALTIME, LEVEL, VERSION_KEY]);
    }

    #[test]
    fn a_peer_with_a_newer_version_brings_its_options_in() {
        let ours = pairs(&[(VERSION_KEY, "23")]);
        // glusterd's export after two sets on a node that had version 23.
        let theirs = pairs(&[
            ("cluster.daemon-log-level", "WARNING"),
            ("cluster.localtime-logging", "enable"),
            (VERSION_KEY, "25"),
        ]);
        let after = after_import(&ours, &theirs).unwrap();
        assert_eq!(
            after.file,
            pairs(&[
                (VERSION_KEY, "25"),
                ("cluster.localtime-logging", "enable"),
                ("cluster.daemon-log-level", "WARNING"),
            ])
        );
        assert_eq!(after.file, after.list);
        assert_eq!(after_import(&theirs, &ours), None);
        assert_eq!(after_import(&theirs, &theirs), None);
        assert_eq!(after_import(&ours, &[]), None);
    }

    #[test]
    fn values_get_glusterds_messages() {
        let def = |key: &str| resolve(key).unwrap();
        let check = |key: &str, value: &str| check(def(key), value, 100_000, 100_000, &[]);
        assert_eq!(
            check("cluster.op-version", "90000").unwrap_err(),
            "Required op-version (90000) should not be equal or lower than current cluster op-version (100000)."
        );
        assert_eq!(
            check("cluster.op-version", "110000").unwrap_err(),
            "Required op_version (110000) is not supported. Max supported op version is 100000"
        );
        assert_eq!(
            check("cluster.op-version", "abc").unwrap_err(),
            "invalid number format \"abc\" in option \"cluster.op-version\""
        );
        assert_eq!(
            check("cluster.max-op-version", "5").unwrap_err(),
            "Not a valid option to set"
        );
        assert_eq!(
            check("cluster.localtime-logging", "maybe").unwrap_err(),
            "maybe is not a valid boolean value. cluster.localtime-logging expects a valid boolean value."
        );
        assert!(check("cluster.localtime-logging", "enable").is_ok());
        assert!(check("cluster.brick-multiplex", "off").is_ok());
        assert_eq!(
            check("cluster.server-quorum-ratio", "150").unwrap_err(),
            "'150.000000' in 'option server-quorum-ratio 150' is out of range [0 - 100]"
        );
        assert_eq!(
            check("cluster.server-quorum-ratio", "abc").unwrap_err(),
            "invalid percent format \"abc\" in \"option server-quorum-ratio\""
        );
        assert!(check("cluster.server-quorum-ratio", "60").is_ok());
        assert_eq!(
            check("cluster.daemon-log-level", "bogus").unwrap_err(),
            "Invalid option(bogus). Valid options are 'INFO' or 'WARNING' or 'ERROR' or 'DEBUG' or  'TRACE'"
        );
        assert_eq!(
            check("cluster.enable-shared-storage", "maybe").unwrap_err(),
            "Invalid option(maybe). Valid options are 'enable' and 'disable'"
        );
        assert_eq!(
            check("cluster.max-bricks-per-process", "abc").unwrap_err(),
            "Brick-multiplexing is not enabled. Please enable brick multiplexing before trying to set this option."
        );
        assert_eq!(
            resolve("performance.io-cache").unwrap_err(),
            "Not a valid option for all volumes"
        );
        assert_eq!(
            resolve("server-quorum-ratio").unwrap().key,
            "cluster.server-quorum-ratio"
        );
    }
}
