//! The checks glusterd 10.3 makes of one `volume set VOL KEY VALUE` pair before it looks at the
//! graphs, in its order and with its messages. Pure: the volume comes in as [`VolumeFacts`].
//!
//! 1. [`before_lookup`]: keys that belong to other commands (`features.bitrot`, `features.scrub*`,
//!    `features.quota`, `features.inode-quota`), `config.transport`; `user.*` keys skip every
//!    check after this one.
//! 2. [`key_rules`]: the keys glusterd checks with a rule of its own (replicate-only keys,
//!    quorum count, worm periods, …). They match the key as given or its part after the first
//!    `.`, and the messages name the key as given.
//! 3. The table lookup (`Table::lookup`), then [`after_lookup`] on the full key: settings that
//!    need a stopped or a new volume, and options of the pool rather than of one volume.

use super::{cnum, parse_bool, Scope};

/// What the checks need to know of the volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeFacts<'v> {
    /// Its name.
    pub name: &'v str,
    /// `replica_count`.
    pub replica_count: u32,
    /// A disperse volume.
    pub disperse: bool,
    /// `disperse_count` and `redundancy_count`.
    pub disperse_count: u32,
    /// `redundancy_count`.
    pub redundancy_count: u32,
    /// Distribute subvolumes.
    pub subvol_count: u32,
    /// Status 0: created, never started.
    pub created: bool,
    /// Started.
    pub started: bool,
    /// A rebalance is running.
    pub rebalancing: bool,
}

/// A refusal, as the CLI prints it after `volume set: failed: `.
pub type Refusal = String;

/// glusterd's answer when a check fails without a message of its own.
pub const VALIDATION_FAILED: &str = "Error, Validation Failed";

/// Step 1. `Ok(true)`: a `user.*` key, to be stored as it is with no further check.
pub fn before_lookup(key: &str, value: &str) -> Result<bool, Refusal> {
    match key {
        // glusterd takes any value here and fails its commit on one that is not a boolean
        // ("Commit failed on localhost"); brickd refuses it before anything is changed, and
        // says why (docs/options.md).
        "config.memory-accounting" | "config.gfproxyd" => {
            return match parse_bool(value) {
                Some(_) => Ok(false),
                None => Err(format!(
                    "{value} is not a valid boolean value. {key} expects a valid boolean value."
                )),
            }
        }
        // Only the words `on` and `off`.
        "ganesha.enable" => {
            return match value {
                "on" => Err(
                    "The option nfs-ganesha should be enabled before setting ganesha.enable."
                        .to_string(),
                ),
                "off" => Ok(false),
                _ => Err("Invalid value for volume set command. Use on/off only.".to_string()),
            }
        }
        "config.transport" => {
            let known = ["rdma", "tcp", "tcp,rdma", "rdma,tcp"];
            if !known.iter().any(|t| value.eq_ignore_ascii_case(t)) {
                return Err(format!("transport-type {value} does not exist"));
            }
            return Ok(false);
        }
        _ => {}
    }
    let bitrot = |what: &str| {
        format!(" 'gluster volume set <VOLNAME> {key}' is invalid command. Use 'gluster volume bitrot <VOLNAME> {what}' instead.")
    };
    match key {
        "bitrot" | "features.bitrot" => return Err(bitrot("{enable|disable}")),
        "scrub-freq" | "features.scrub-freq" => {
            return Err(bitrot(
                "scrub-frequency {hourly|daily|weekly|biweekly|monthly}",
            ))
        }
        "scrub" | "features.scrub" => return Err(bitrot("scrub {pause|resume}")),
        "scrub-throttle" | "features.scrub-throttle" => {
            return Err(bitrot("scrub-throttle  {lazy|normal|aggressive}"))
        }
        "quota" | "features.quota" | "inode-quota" | "features.inode-quota" => {
            let Some(on) = parse_bool(value) else {
                return Err(VALIDATION_FAILED.to_string());
            };
            let command = match (key.ends_with("inode-quota"), on) {
                (true, true) => "inode-quota <VOLNAME> enable",
                (false, true) => "quota <VOLNAME> enable",
                (_, false) => "quota <VOLNAME> disable",
            };
            return Err(format!(
                " 'gluster volume set <VOLNAME> {key} {value}' is deprecated. Use 'gluster volume {command}' instead."
            ));
        }
        _ => {}
    }
    Ok(key.starts_with("user."))
}

/// The full keys glusterd checks with a rule of its own.
const RULE_KEYS: &[&str] = &[
    "cluster.subvols-per-directory",
    "cluster.rebal-throttle",
    "cluster.lock-migration",
    "cluster.metadata-self-heal",
    "cluster.data-self-heal",
    "cluster.entry-self-heal",
    "cluster.self-heal-daemon",
    "cluster.quorum-count",
    "performance.cache-max-file-size",
    "performance.cache-min-file-size",
    "client.strict-locks",
    "server.statedump-path",
    "transport.listen-backlog",
    "features.uss",
    "features.snapshot-directory",
    "features.quota-deem-statfs",
    "features.worm",
    "features.worm-file-level",
    "features.worm-files-deletable",
    "features.default-retention-period",
    "features.retention-mode",
    "features.auto-commit-period",
    "locks.mandatory-locking",
    "cluster.disperse-self-heal-daemon",
    "cluster.shd-max-threads",
    "disperse.shd-max-threads",
    "performance.parallel-readdir",
    "performance.rda-cache-limit",
    "disperse.quorum-count",
    "cluster.max-bricks-per-process",
    "glusterd.vol_count_per_thread",
    "features.ctime",
    "ctime.noatime",
    "features.enforce-mandatory-lock",
    "cluster.server-quorum-type",
];

/// `strtol`-style: a whole decimal integer (leading blanks and a sign allowed).
fn int(value: &str) -> Option<i64> {
    value.trim_start().parse().ok()
}

/// Step 2: the rule of `key` (as given), if it has one, on `volume` with its `options`.
/// `cores` is this machine's online CPUs (`cluster.rebal-throttle`).
pub fn key_rules(
    key: &str,
    value: &str,
    volume: &VolumeFacts<'_>,
    option: &dyn Fn(&str) -> Option<String>,
    cores: usize,
) -> Result<(), Refusal> {
    let Some(full) = RULE_KEYS
        .iter()
        .copied()
        .find(|k| *k == key || k.split_once('.').map(|(_, rest)| rest) == Some(key))
    else {
        return Ok(());
    };
    let boolean = || {
        parse_bool(value).map(|_| ()).ok_or_else(|| {
            format!("{value} is not a valid boolean value. {key} expects a valid boolean value.")
        })
    };
    let replicate_only = || {
        if volume.replica_count == 1 {
            Err(format!("Cannot set {key} for a non-replicate volume."))
        } else {
            Ok(())
        }
    };
    match full {
        "cluster.metadata-self-heal"
        | "cluster.data-self-heal"
        | "cluster.entry-self-heal"
        | "cluster.shd-max-threads" => replicate_only(),
        "disperse.shd-max-threads" => {
            if volume.disperse {
                Ok(())
            } else {
                Err(format!("Cannot set {key} for a non-disperse volume."))
            }
        }
        "cluster.self-heal-daemon" => {
            if volume.replica_count > 1 {
                Ok(())
            } else {
                Err(format!("Volume {} is not of replicate type", volume.name))
            }
        }
        "cluster.disperse-self-heal-daemon" => {
            if volume.disperse {
                Ok(())
            } else {
                Err(format!("Volume {} is not of disperse type", volume.name))
            }
        }
        "cluster.quorum-count" => {
            // glusterd reads it into an int: a longer number wraps.
            let Some(count) = cnum::string2int(value).map(i64::from) else {
                return Err(format!(
                    "{value} is not an integer. {key} expects a valid integer value."
                ));
            };
            if count < 1 || count > i64::from(volume.replica_count) {
                return Err(format!(
                    "{count} in {key} {count} is out of range [1 - {}]",
                    volume.replica_count
                ));
            }
            Ok(())
        }
        "disperse.quorum-count" => {
            // An int as well: 1000000000000 is -727379968.
            let Some(count) = cnum::string2int(value).map(i64::from) else {
                return Err(format!(
                    "{value} is not an integer. {key} expects a valid integer value."
                ));
            };
            if !volume.disperse {
                return Err(format!("Cannot set {key} for a non-disperse volume."));
            }
            let data = i64::from(volume.disperse_count) - i64::from(volume.redundancy_count);
            if count < data || count > i64::from(volume.disperse_count) {
                return Err(format!(
                    "{count} for {key} is out of range [{data} - {}]",
                    volume.disperse_count
                ));
            }
            Ok(())
        }
        "cluster.subvols-per-directory" => {
            // atoi: leading digits, 0 when there are none.
            let digits: String = value
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            // atoi's int: a longer number wraps, as it does in glusterd.
            let subvols = i64::from(digits.parse::<i64>().unwrap_or(0) as i32);
            if subvols > i64::from(volume.subvol_count) {
                return Err(format!(
                    "subvols-per-directory({subvols}) is greater than the number of subvolumes({}).",
                    volume.subvol_count
                ));
            }
            Ok(())
        }
        "cluster.rebal-throttle" => {
            if ["lazy", "normal", "aggressive"]
                .iter()
                .any(|t| value.eq_ignore_ascii_case(t))
            {
                return Ok(());
            }
            match int(value) {
                Some(n) if n > 0 && n <= cores as i64 => Ok(()),
                Some(_) => Err(format!(
                    "{key} should be within range of 0 and maximum number of cores available (cores available - {cores})"
                )),
                None => Err(format!(
                    "{key} should be {{lazy|normal|aggressive}} or a number up to number of cores available (cores available - {cores})"
                )),
            }
        }
        "cluster.lock-migration" => {
            if volume.replica_count > 1 || volume.disperse_count > 0 {
                return Err("Lock migration is a experimental feature. Currently works with pure distribute volume only".to_string());
            }
            parse_bool(value)
                .map(|_| ())
                .ok_or_else(|| "Invalid value for volume set command. Use on/off only.".to_string())
        }
        "performance.cache-max-file-size" | "performance.cache-min-file-size" => {
            let min_key = "performance.cache-min-file-size";
            let max_key = "performance.cache-max-file-size";
            let (min, max) = if full == min_key {
                match option(max_key) {
                    Some(max) => (value.to_string(), max),
                    None => return Ok(()),
                }
            } else {
                match option(min_key) {
                    Some(min) => (min, value.to_string()),
                    None => return Ok(()),
                }
            };
            if cnum::bytesize(&min).unwrap_or(0) > cnum::bytesize(&max).unwrap_or(0) {
                return Err(format!(
                    "cache-min-file-size ({min}) is greater than cache-max-file-size ({max})"
                ));
            }
            Ok(())
        }
        "client.strict-locks"
        | "features.worm"
        | "features.worm-file-level"
        | "features.worm-files-deletable"
        | "features.ctime"
        | "ctime.noatime"
        | "features.enforce-mandatory-lock" => boolean(),
        // glusterd checks the quorum keys against its own options, whatever the graphs.
        "cluster.server-quorum-type" => {
            if value.eq_ignore_ascii_case("none") || value.eq_ignore_ascii_case("server") {
                Ok(())
            } else {
                Err(format!("option server-quorum-type {value}: '{value}' is not valid (possible options are none, server.)"))
            }
        }
        "features.uss" => parse_bool(value).map(|_| ()).ok_or_else(|| {
            format!("{value} is not a valid boolean value. {key} expects a valid boolean value.")
        }),
        "performance.parallel-readdir" => {
            boolean()?;
            if volume.rebalancing {
                return Err(format!(
                    "{key} option should be set after rebalance is complete"
                ));
            }
            Ok(())
        }
        "features.snapshot-directory" => {
            let length = value.len();
            if length > 255 {
                return Err(format!("value of {key} exceedes 255 characters"));
            }
            if length < 2 {
                return Err(format!(
                    "value of {key} too short, expects at least two characters"
                ));
            }
            if !value.starts_with('.') {
                return Err(format!("{key} expects value starting with '.' "));
            }
            if !value[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(format!("{key} expects value to contain only '0-9a-z-_'"));
            }
            Ok(())
        }
        "transport.listen-backlog" => match cnum::string2int(value) {
            None => Err(format!(
                "{value} is not a compatible value. {key} expects an integer value."
            )),
            Some(n) if n < 0 => Err(format!(
                "{value} is not a compatible value. {key} expects a positiveinteger value."
            )),
            Some(_) => Ok(()),
        },
        // Quota unset reads as off.
        "features.quota-deem-statfs" => match option("features.quota").as_deref().map(parse_bool)
        {
            Some(Some(true)) => Ok(()),
            None | Some(Some(false)) => Err(format!("Cannot set {key}. Enable quota first.")),
            Some(None) => Err(VALIDATION_FAILED.to_string()),
        },
        "features.default-retention-period" | "features.auto-commit-period" => {
            if value.trim_start().parse::<u64>().is_ok() {
                Ok(())
            } else {
                Err(format!(
                    "{value} is not a valid uint64_t value. {key} expects a valid uint64_t value."
                ))
            }
        }
        "features.retention-mode" => {
            if value == "relax" || value == "enterprise" {
                Ok(())
            } else {
                Err(format!("The value of retention mode should be either relax or enterprise. But the value of {key} is {value}"))
            }
        }
        "locks.mandatory-locking" => {
            if ["off", "file", "forced", "optimal"].contains(&value) {
                Ok(())
            } else {
                Err(format!("Invalid option value '{value}': Available options are 'off', 'file', 'forced' or 'optimal'"))
            }
        }
        "server.statedump-path" => {
            if std::path::Path::new(value).is_dir() {
                Ok(())
            } else {
                Err(format!("Failed: {value} is not a directory"))
            }
        }
        // Sizes above 1 GB need every client at 3.11 or later; brickd's clients are. A value
        // that is no size fails without a message of its own.
        "performance.rda-cache-limit" => match cnum::bytesize(value) {
            Some(_) => Ok(()),
            None => Err(VALIDATION_FAILED.to_string()),
        },
        "cluster.max-bricks-per-process" | "glusterd.vol_count_per_thread" => Err(
            "Brick-multiplexing is not enabled. Please enable brick multiplexing before trying to set this option."
                .to_string(),
        ),
        _ => Ok(()),
    }
}

/// Step 3, on the full key of an option of `scope`, for a volume (`volume` is `None` for
/// `volume set all`).
pub fn after_lookup(
    key: &str,
    scope: Scope,
    volume: Option<&VolumeFacts<'_>>,
    trash_on: bool,
    value: &str,
) -> Result<(), Refusal> {
    if let Some(v) = volume {
        if (key == "storage.linux-aio" || key == "storage.linux-io_uring") && v.started {
            return Err(format!("Changing '{key}' is not supported when the volume is in started state. Please stop the volume first."));
        }
        if key == "cluster.granular-entry-heal" && !v.created {
            return Err(format!(" 'gluster volume set <VOLNAME> {key} {{enable, disable}}' is not supported. Use 'gluster volume heal <VOLNAME> granular-entry-heal {{enable, disable}}' instead."));
        }
    }
    if key == "cluster.op-version" {
        return match volume {
            Some(_) => Err(format!("Option \"{key}\" is not valid for a single volume")),
            None => Ok(()),
        };
    }
    if key == "cluster.max-op-version" {
        return Err("Not a valid option to set".to_string());
    }
    match (volume, scope.is_global()) {
        (None, false) => return Err("Not a valid option for all volumes".to_string()),
        (Some(_), true) => return Err("Not a valid option for single volume".to_string()),
        _ => {}
    }
    if key == "features.trash-dir" {
        if let Some(v) = volume {
            if !trash_on {
                return Err(format!(
                    "Trash translator is not enabled. Use volume set {} trash on",
                    v.name
                ));
            }
        }
        if value.contains('/') {
            return Err("Path is not allowed as option".to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distribute() -> VolumeFacts<'static> {
        VolumeFacts {
            name: "gi",
            replica_count: 1,
            disperse: false,
            disperse_count: 0,
            redundancy_count: 0,
            subvol_count: 1,
            created: true,
            started: false,
            rebalancing: false,
        }
    }

    /// glusterd 10.3's answers, seen with the real CLI on a one-brick distribute volume.
    #[test]
    fn other_commands_keys_get_glusterds_messages() {
        assert_eq!(
            before_lookup("features.quota", "on").unwrap_err(),
            " 'gluster volume set <VOLNAME> features.quota on' is deprecated. Use 'gluster volume quota <VOLNAME> enable' instead."
        );
        assert_eq!(
            before_lookup("features.inode-quota", "on").unwrap_err(),
            " 'gluster volume set <VOLNAME> features.inode-quota on' is deprecated. Use 'gluster volume inode-quota <VOLNAME> enable' instead."
        );
        assert_eq!(
            before_lookup("features.bitrot", "on").unwrap_err(),
            " 'gluster volume set <VOLNAME> features.bitrot' is invalid command. Use 'gluster volume bitrot <VOLNAME> {enable|disable}' instead."
        );
        assert_eq!(
            before_lookup("features.scrub-freq", "daily").unwrap_err(),
            " 'gluster volume set <VOLNAME> features.scrub-freq' is invalid command. Use 'gluster volume bitrot <VOLNAME> scrub-frequency {hourly|daily|weekly|biweekly|monthly}' instead."
        );
        assert_eq!(
            before_lookup("features.scrub", "pause").unwrap_err(),
            " 'gluster volume set <VOLNAME> features.scrub' is invalid command. Use 'gluster volume bitrot <VOLNAME> scrub {pause|resume}' instead."
        );
        assert_eq!(
            before_lookup("config.transport", "foo").unwrap_err(),
            "transport-type foo does not exist"
        );
        assert_eq!(before_lookup("user.smb", "enable"), Ok(true));
        assert_eq!(before_lookup("performance.io-cache", "x"), Ok(false));
    }

    #[test]
    fn key_rules_match_glusterds() {
        let v = distribute();
        let none = |_: &str| None;
        let rule = |key: &str, value: &str| key_rules(key, value, &v, &none, 2);
        assert_eq!(
            rule("cluster.shd-max-threads", "8").unwrap_err(),
            "Cannot set cluster.shd-max-threads for a non-replicate volume."
        );
        assert_eq!(
            rule("shd-max-threads", "8").unwrap_err(),
            "Cannot set shd-max-threads for a non-replicate volume."
        );
        assert_eq!(
            rule("features.quota-deem-statfs", "on").unwrap_err(),
            "Cannot set features.quota-deem-statfs. Enable quota first."
        );
        let quota_off = |k: &str| (k == "features.quota").then(|| "off".to_string());
        assert_eq!(
            key_rules("features.quota-deem-statfs", "on", &v, &quota_off, 2).unwrap_err(),
            "Cannot set features.quota-deem-statfs. Enable quota first."
        );
        assert_eq!(
            rule("cluster.self-heal-daemon", "off").unwrap_err(),
            "Volume gi is not of replicate type"
        );
        assert_eq!(
            rule("cluster.quorum-count", "x").unwrap_err(),
            "x is not an integer. cluster.quorum-count expects a valid integer value."
        );
        assert_eq!(
            rule("cluster.subvols-per-directory", "3").unwrap_err(),
            "subvols-per-directory(3) is greater than the number of subvolumes(1)."
        );
        assert!(rule("cluster.rebal-throttle", "lazy").is_ok());
        assert!(rule("cluster.rebal-throttle", "2").is_ok());
        assert!(rule("cluster.rebal-throttle", "3").is_err());
        assert!(rule("performance.io-cache", "whatever").is_ok());
    }

    #[test]
    fn after_lookup_rules() {
        let mut v = distribute();
        assert!(after_lookup(
            "cluster.granular-entry-heal",
            Scope::Volume,
            Some(&v),
            false,
            "on"
        )
        .is_ok());
        v.created = false;
        v.started = true;
        assert!(after_lookup(
            "cluster.granular-entry-heal",
            Scope::Volume,
            Some(&v),
            false,
            "on"
        )
        .is_err());
        assert!(after_lookup("storage.linux-aio", Scope::Volume, Some(&v), false, "on").is_err());
        assert_eq!(
            after_lookup(
                "cluster.brick-multiplex",
                Scope::Global,
                Some(&v),
                false,
                "on"
            )
            .unwrap_err(),
            "Not a valid option for single volume"
        );
        assert_eq!(
            after_lookup("features.trash-dir", Scope::Volume, Some(&v), false, "x").unwrap_err(),
            "Trash translator is not enabled. Use volume set gi trash on"
        );
        assert_eq!(
            after_lookup("features.trash-dir", Scope::Volume, Some(&v), true, "a/b").unwrap_err(),
            "Path is not allowed as option"
        );
    }
}
