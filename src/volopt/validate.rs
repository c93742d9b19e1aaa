//! Checking a value the way the xlator that takes it does, with glusterd 10.3's messages.
//! Pure.
//!
//! glusterd checks a `volume set` value by building the volume's graphs with it and asking
//! every xlator in them to check its options: an option of an xlator that is not in the graphs
//! (a replicate option on a distribute volume, io-cache's while io-cache is off) is not checked
//! there, and turning that xlator on later checks it then. [`check_volume`] does the same from
//! the volfiles brickd rendered and the table's types (`table.tsv`: `type`, `min`, `max`,
//! `values`, and the xlator option each key sets).

use super::{cnum, parse_bool, table, OptionDef};

/// What the table says of a key's values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueRule<'t> {
    /// The xlator option the key sets (the messages name it).
    pub option: &'t str,
    /// The table's type: `bool`, `int`, `uint`, `size`, `percent`, `percent-or-size`,
    /// `time`, `enum`, `str`, …
    pub kind: &'t str,
    /// The lowest value taken, if bounded.
    pub min: Option<f64>,
    /// The highest value taken, if bounded.
    pub max: Option<f64>,
    /// The values an `enum` takes, comma-separated as glusterd lists them.
    pub values: &'t str,
}

/// A number of the table (`-` or empty: none).
fn bound(text: &str) -> Option<f64> {
    let t = text.trim();
    (!t.is_empty() && t != "-")
        .then(|| t.parse().ok())
        .flatten()
}

impl OptionDef {
    /// How the key's values are checked, if the table says.
    pub fn value_rule(&self) -> Option<ValueRule<'static>> {
        let (_, _, option) = self.xlator_option_targets().next()?;
        Some(ValueRule {
            option,
            kind: self.kind,
            min: bound(self.min),
            max: bound(self.max),
            values: self.values,
        })
    }
}

/// `%.0f` of a bound.
fn whole(n: f64) -> String {
    format!("{n:.0}")
}

/// The range message for `shown` (the value as glusterd prints it) of `value`.
fn out_of_range(rule: &ValueRule<'_>, shown: &str, value: &str, number: f64) -> Option<String> {
    let option = rule.option;
    match (rule.min, rule.max) {
        (Some(min), Some(max)) if number < min || number > max => Some(format!(
            "'{shown}' in 'option {option} {value}' is out of range [{} - {}]",
            whole(min),
            whole(max)
        )),
        (Some(min), None) if number < min => Some(format!(
            "'{shown}' in 'option {option} {value}' is smaller than minimum value '{}'",
            whole(min)
        )),
        (None, Some(max)) if number > max => Some(format!(
            "'{shown}' in 'option {option} {value}' is greater than maximum value '{}'",
            whole(max)
        )),
        _ => None,
    }
}

/// A time as `gf_string2time` reads one: digits with an optional unit (`s`, `sec`, `m`,
/// `min`, `h`, `hr`, `d`, `days`, `w`, `wk`), in seconds.
fn time(value: &str) -> Option<u64> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let scale: u64 = match unit {
        "" | "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hr" | "hrs" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "wk" | "wks" => 604_800,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// The names of the xlators of one volfile (`volume NAME` lines).
fn xlator_names(graph: &str) -> impl Iterator<Item = &str> {
    graph
        .lines()
        .filter_map(|line| line.strip_prefix("volume "))
        .map(str::trim_end)
}

/// A size's range check: none when the table gives no bound (glusterd's 0 and 0).
fn size_range(rule: &ValueRule<'_>, value: &str, shown: &str, size: f64) -> Result<(), String> {
    let (min, max) = (rule.min.unwrap_or(0.0), rule.max.unwrap_or(0.0));
    if (min == 0.0 && max == 0.0) || (size >= min && size <= max) {
        return Ok(());
    }
    Err(format!(
        "'{shown}' in 'option {} {value}' is out of range [{} - {}]",
        rule.option,
        whole(min),
        whole(max)
    ))
}

/// Checks `value` against `rule`: `Err` with glusterd's message. `graph` is the volfile the
/// option sits in (an `xlator` value must name one of its xlators); `None` takes any name.
pub fn check(rule: &ValueRule<'_>, value: &str, graph: Option<&str>) -> Result<(), String> {
    let option = rule.option;
    match rule.kind {
        "bool" => match parse_bool(value) {
            Some(_) => Ok(()),
            None => Err(format!(
                "option {option} {value}: '{value}' is not a valid boolean value"
            )),
        },
        "int" | "uint" => {
            let bad = || format!("invalid number format \"{value}\" in option \"{option}\"");
            let n = cnum::string2long(value).ok_or_else(bad)?;
            // `-0` reads as 0 but not as an unsigned number: glusterd refuses it.
            if n == 0 && cnum::string2ulonglong(value).is_none() {
                return Err(bad());
            }
            match out_of_range(rule, &n.to_string(), value, n as f64) {
                Some(message) => Err(message),
                None => Ok(()),
            }
        }
        "size" => {
            let Some(bytes) = cnum::bytesize(value) else {
                return Err(format!(
                    "invalid number format \"{value}\" in option \"{option}\""
                ));
            };
            size_range(rule, value, &bytes.to_string(), bytes as f64)
        }
        "percent" => {
            let Some(p) = cnum::string2percent(value) else {
                return Err(format!(
                    "invalid percent format \"{value}\" in \"option {option}\""
                ));
            };
            if !(0.0..=100.0).contains(&p) {
                return Err(format!(
                    "'{p:.6}' in 'option {option} {value}' is out of range [0 - 100]"
                ));
            }
            Ok(())
        }
        "percent-or-size" => {
            let Some((size, is_percent)) = cnum::percent_or_bytesize(value) else {
                return Err(format!(
                    "invalid number format \"{value}\" in \"option {option}\""
                ));
            };
            if is_percent {
                if !(0.0..=100.0).contains(&size) {
                    return Err(format!(
                        "'{size:.6}' in 'option {option} {value}' is out of range [0 - 100]"
                    ));
                }
                return Ok(());
            }
            // A count of bytes has nothing but zeros after a `.`.
            if let Some((_, after)) = value.split_once('.') {
                if after.bytes().any(|b| b != b'0') {
                    return Err(format!("'{size:.6}' in 'option {option} {value}' should not be fractional value. Use valid unsigned integer value."));
                }
            }
            // The table's bounds of these keys are the percentage's; glusterd's xlators give
            // none for the byte count.
            Ok(())
        }
        "time" => {
            let Some(seconds) = time(value) else {
                return Err(format!(
                    "invalid time format \"{value}\" in \"option {option}\""
                ));
            };
            match out_of_range(rule, &seconds.to_string(), value, seconds as f64) {
                Some(message) => Err(message),
                None => Ok(()),
            }
        }
        "enum" if !rule.values.is_empty() && rule.values != "-" => {
            let values: Vec<&str> = rule.values.split(',').map(str::trim).collect();
            // glusterd matches each value as an `fnmatch` pattern, case and all: `trace` is
            // not `TRACE`; a value of blanks only matches nothing.
            let blank = value.bytes().all(|b| b == b' ');
            if !blank && values.contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "option {option} {value}: '{value}' is not valid (possible options are {}.)",
                    values.join(", ")
                ))
            }
        }
        "path" => {
            if value.contains("../") {
                Err(format!("invalid path given '{value}'"))
            } else if !value.starts_with('/') {
                Err(format!(
                    "option {option} {value}: '{value}' is not an absolute path name"
                ))
            } else {
                Ok(())
            }
        }
        "xlator" => match graph {
            Some(graph) if !xlator_names(graph).any(|name| name == value) => Err(format!(
                "option {option} {value}: '{value}' is not a valid volume name"
            )),
            _ => Ok(()),
        },
        "list" if option.starts_with("auth.addr.") => {
            if cnum::valid_address_list(value) {
                Ok(())
            } else {
                Err(format!(
                    "option {option} {value}: '{value}' is not a valid internet-address-list"
                ))
            }
        }
        _ => Ok(()),
    }
}

/// The bounds an xlator gives one of its options where they differ from the table's (which
/// holds one pair per key): disperse's `heal-timeout` starts at 60, replicate's at 5.
fn bounds_for(xl_type: &str, option: &str) -> Option<(Option<f64>, Option<f64>)> {
    match (xl_type, option) {
        ("cluster/disperse", "heal-timeout") => Some((Some(60.0), Some(2_147_483_647.0))),
        _ => None,
    }
}

/// The options of each xlator of a volfile: `(type, option name, value)` for every `option`
/// line.
fn graph_options(graph: &str) -> Vec<(&str, &str, &str)> {
    let mut out = Vec::new();
    let mut xl_type = "";
    for line in graph.lines() {
        let line = line.trim_start();
        if let Some(t) = line.strip_prefix("type ") {
            xl_type = t.trim_end();
        } else if let Some(rest) = line.strip_prefix("option ") {
            let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push((xl_type, name, value.trim_end()));
        } else if line.starts_with("end-volume") {
            xl_type = "";
        }
    }
    out
}

/// Checks every option of a volume (`options`, in memory order) that the volume's graphs
/// carry, as glusterd's graph check does: `graphs` are the volfiles glusterd checks, in its
/// order (each brick's, the client's, the self-heal daemon's), and an option is checked
/// where one of a graph's xlators has it, with the value the graph gives it (the client's
/// `send-gids` is derived from `server.manage-gids`, whatever the key holds). The first
/// refusal.
pub fn check_volume(options: &[(String, String)], graphs: &[&str]) -> Result<(), String> {
    let table = table();
    let checked: Vec<(&OptionDef, ValueRule<'static>)> = options
        .iter()
        .filter_map(|(key, _)| {
            let def = table.get(key)?;
            Some((def, def.value_rule()?))
        })
        .collect();
    if checked.is_empty() {
        return Ok(());
    }
    for graph in graphs {
        let present = graph_options(graph);
        for (def, rule) in &checked {
            for (_, xl_type, option) in def.xlator_option_targets() {
                // The address lists' names carry the brick's path: matched on their shape.
                let found = if option.starts_with("auth.addr.") {
                    let suffix = &option[option.rfind('.').unwrap_or(0)..];
                    present.iter().find(|(t, name, _)| {
                        *t == xl_type && name.starts_with("auth.addr.") && name.ends_with(suffix)
                    })
                } else {
                    present
                        .iter()
                        .find(|(t, name, _)| *t == xl_type && *name == option)
                };
                let Some((_, name, value)) = found else {
                    continue;
                };
                let mut rule = ValueRule {
                    option: name,
                    ..*rule
                };
                if let Some((min, max)) = bounds_for(xl_type, option) {
                    (rule.min, rule.max) = (min, max);
                }
                check(&rule, value, Some(graph))?;
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule<'a>(
        option: &'a str,
        kind: &'a str,
        min: Option<f64>,
        max: Option<f64>,
    ) -> ValueRule<'a> {
        ValueRule {
            option,
            kind,
            min,
            max,
            values: "",
        }
    }

    /// Messages glusterd 10.3 gave (tests/golden/volopt/keys.jsonl).
    #[test]
    fn each_type_gets_glusterds_message() {
        let threads = rule("thread-count", "int", Some(1.0), Some(64.0));
        assert_eq!(
            check(&threads, "abc", None).unwrap_err(),
            "invalid number format \"abc\" in option \"thread-count\""
        );
        assert_eq!(
            check(&threads, "0", None).unwrap_err(),
            "'0' in 'option thread-count 0' is out of range [1 - 64]"
        );
        assert!(check(&threads, "16", None).is_ok());
        let count = rule("background-self-heal-count", "uint", Some(0.0), None);
        assert_eq!(
            check(&count, "-1", None).unwrap_err(),
            "'-1' in 'option background-self-heal-count -1' is smaller than minimum value '0'"
        );
        assert_eq!(
            check(&count, "1.5", None).unwrap_err(),
            "invalid number format \"1.5\" in option \"background-self-heal-count\""
        );
        let ping = rule("ping-timeout", "time", Some(0.0), Some(1013.0));
        assert_eq!(
            check(&ping, "1000000000000", None).unwrap_err(),
            "'1000000000000' in 'option ping-timeout 1000000000000' is out of range [0 - 1013]"
        );
        assert_eq!(
            check(&ping, "99999999999999999999", None).unwrap_err(),
            "invalid time format \"99999999999999999999\" in \"option ping-timeout\""
        );
        assert_eq!(
            check(&ping, "-1", None).unwrap_err(),
            "invalid time format \"-1\" in \"option ping-timeout\""
        );
        assert_eq!(
            check(&ping, "9999999", None).unwrap_err(),
            "'9999999' in 'option ping-timeout 9999999' is out of range [0 - 1013]"
        );
        let soft = rule("default-soft-limit", "percent", None, None);
        assert_eq!(
            check(&soft, "150%", None).unwrap_err(),
            "'150.000000' in 'option default-soft-limit 150%' is out of range [0 - 100]"
        );
        assert_eq!(
            check(&soft, "-1", None).unwrap_err(),
            "invalid percent format \"-1\" in \"option default-soft-limit\""
        );
        let free = rule("min-free-disk", "percent-or-size", None, None);
        assert_eq!(
            check(&free, "1.5", None).unwrap_err(),
            "'1.500000' in 'option min-free-disk 1.5' should not be fractional value. Use valid unsigned integer value."
        );
        assert_eq!(
            check(&free, "abc", None).unwrap_err(),
            "invalid number format \"abc\" in \"option min-free-disk\""
        );
        assert!(check(&free, "1MB", None).is_ok());
        let b = rule("lookup-optimize", "bool", None, None);
        assert_eq!(
            check(&b, "abc", None).unwrap_err(),
            "option lookup-optimize abc: 'abc' is not a valid boolean value"
        );
        let e = ValueRule {
            values: "auto,yes,no,enable,disable,1,0,on,off",
            ..rule("lookup-unhashed", "enum", None, None)
        };
        assert_eq!(
            check(&e, "abc", None).unwrap_err(),
            "option lookup-unhashed abc: 'abc' is not valid (possible options are auto, yes, no, enable, disable, 1, 0, on, off.)"
        );
        let size = rule("cache-size", "size", None, None);
        assert_eq!(
            check(&size, "-1", None).unwrap_err(),
            "invalid number format \"-1\" in option \"cache-size\""
        );
    }

    /// An enum's values match case and all, as glusterd's `fnmatch` does (glusterfs's
    /// tests/bugs/cli/bug-982174.t: `trace` is refused, `TRACE` taken).
    #[test]
    fn enum_values_match_case_and_all() {
        let level = ValueRule {
            values: "DEBUG,WARNING,ERROR,INFO,CRITICAL,NONE,TRACE",
            ..rule("log-level", "enum", None, None)
        };
        assert_eq!(
            check(&level, "trace", None).unwrap_err(),
            "option log-level trace: 'trace' is not valid (possible options are DEBUG, WARNING, ERROR, INFO, CRITICAL, NONE, TRACE.)"
        );
        assert!(check(&level, "TRACE", None).is_ok());
        assert!(check(&level, " ", None).is_err());
    }

    /// Paths, xlator names, address lists and octal modes (tests/golden/volopt/keys.jsonl).
    #[test]
    fn the_other_types_get_glusterds_message() {
        let dir = rule("changelog-dir", "path", None, None);
        assert_eq!(
            check(&dir, "abc", None).unwrap_err(),
            "option changelog-dir abc: 'abc' is not an absolute path name"
        );
        assert_eq!(
            check(&dir, "/a/../b", None).unwrap_err(),
            "invalid path given '/a/../b'"
        );
        assert!(check(&dir, "/var/changelogs", None).is_ok());
        let read = rule("read-subvolume", "xlator", None, None);
        let graph = "volume r3-client-1\n    type protocol/client\nend-volume\n";
        assert_eq!(
            check(&read, "abc", Some(graph)).unwrap_err(),
            "option read-subvolume abc: 'abc' is not a valid volume name"
        );
        assert!(check(&read, "r3-client-1", Some(graph)).is_ok());
        let allow = rule("auth.addr./b/d1.allow", "list", None, None);
        assert_eq!(
            check(&allow, "150%", None).unwrap_err(),
            "option auth.addr./b/d1.allow 150%: '150%' is not a valid internet-address-list"
        );
        assert!(check(&allow, "127.0.0.1,10.*", None).is_ok());
        let mode = rule("force-create-mode", "int", Some(0.0), Some(511.0));
        assert!(
            check(&mode, "0644", None).is_ok(),
            "octal, as strtol with base 0 reads it"
        );
        assert_eq!(
            check(&mode, "0x200", None).unwrap_err(),
            "'512' in 'option force-create-mode 0x200' is out of range [0 - 511]"
        );
        assert_eq!(
            check(&mode, "-0", None).unwrap_err(),
            "invalid number format \"-0\" in option \"force-create-mode\""
        );
    }

    /// A graph's own value is checked, where the option sits, with the name it has there.
    #[test]
    fn the_graphs_values_are_checked_where_they_sit() {
        let options = vec![("client.send-gids".to_string(), "abc".to_string())];
        let client =
            "volume v-client-0\n    type protocol/client\n    option send-gids false\nend-volume\n";
        assert!(
            check_volume(&options, &[client]).is_ok(),
            "derived from manage-gids"
        );
        let options = vec![("auth.allow".to_string(), "-1".to_string())];
        let brick = "volume v-server\n    type protocol/server\n    option auth.addr./b/x.allow -1\nend-volume\n";
        assert_eq!(
            check_volume(&options, &[brick]).unwrap_err(),
            "option auth.addr./b/x.allow -1: '-1' is not a valid internet-address-list"
        );
    }
}
