//! Checking a value the way the xlator that takes it does, with glusterd 10.3's messages.
//! Pure.
//!
//! glusterd checks a `volume set` value by building the volume's graphs with it and asking
//! every xlator in them to check its options: an option of an xlator that is not in the graphs
//! (a replicate option on a distribute volume, io-cache's while io-cache is off) is not checked
//! there, and turning that xlator on later checks it then. [`check_volume`] does the same from
//! the volfiles brickd rendered and the table's types (`table.tsv`: `type`, `min`, `max`,
//! `values`, and the xlator option each key sets).

use super::{parse_bool, rules::bytesize, table, OptionDef};

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
        // Address lists (`auth.allow`, `auth.reject`) are checked by a rule the table's types
        // do not describe: left to the brick.
        if option.starts_with("auth.") {
            return None;
        }
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

/// A decimal integer as `gf_string2int64` reads one.
fn int(value: &str) -> Option<i64> {
    let v = value.strip_prefix('+').unwrap_or(value);
    if v.is_empty()
        || !v
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    v.parse().ok()
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

/// A percentage as `gf_string2percent` reads one: a non-negative number, `%` optional.
fn percent(value: &str) -> Option<f64> {
    let number = value.strip_suffix('%').unwrap_or(value);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    number.parse().ok()
}

/// Checks `value` against `rule`: `Err` with glusterd's message.
pub fn check(rule: &ValueRule<'_>, value: &str) -> Result<(), String> {
    let option = rule.option;
    match rule.kind {
        "bool" => match parse_bool(value) {
            Some(_) => Ok(()),
            None => Err(format!(
                "option {option} {value}: '{value}' is not a valid boolean value"
            )),
        },
        "int" | "uint" => {
            let Some(n) = int(value) else {
                return Err(format!(
                    "invalid number format \"{value}\" in option \"{option}\""
                ));
            };
            match out_of_range(rule, &n.to_string(), value, n as f64) {
                Some(message) => Err(message),
                None => Ok(()),
            }
        }
        "size" => {
            let Some(bytes) = bytesize(value).filter(|_| !value.starts_with('-')) else {
                return Err(format!(
                    "invalid number format \"{value}\" in option \"{option}\""
                ));
            };
            match out_of_range(rule, &bytes.to_string(), value, bytes as f64) {
                Some(message) => Err(message),
                None => Ok(()),
            }
        }
        "percent" => {
            let Some(p) = percent(value) else {
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
            if value.ends_with('%') {
                let Some(p) = percent(value) else {
                    return Err(format!(
                        "invalid number format \"{value}\" in \"option {option}\""
                    ));
                };
                if !(0.0..=100.0).contains(&p) {
                    return Err(format!(
                        "'{p:.6}' in 'option {option} {value}' is out of range [0 - 100]"
                    ));
                }
                return Ok(());
            }
            let plain = value.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            if plain && value.contains('.') {
                if let Ok(f) = value.parse::<f64>() {
                    if f.fract() != 0.0 {
                        return Err(format!("'{f:.6}' in 'option {option} {value}' should not be fractional value. Use valid unsigned integer value."));
                    }
                }
            }
            match bytesize(value).filter(|_| !value.starts_with('-')) {
                Some(_) => Ok(()),
                None => Err(format!(
                    "invalid number format \"{value}\" in \"option {option}\""
                )),
            }
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
            if values.iter().any(|v| v.eq_ignore_ascii_case(value)) {
                Ok(())
            } else {
                Err(format!(
                    "option {option} {value}: '{value}' is not valid (possible options are {}.)",
                    values.join(", ")
                ))
            }
        }
        _ => Ok(()),
    }
}

/// Checks every option of a volume (`options`, in memory order) whose xlator is in the
/// volume's rendered `volfiles`, as glusterd's graph check does: the first refusal.
pub fn check_volume(options: &[(String, String)], volfiles: &str) -> Result<(), String> {
    let table = table();
    for (key, value) in options {
        let Some(def) = table.get(key) else { continue };
        let Some(rule) = def.value_rule() else {
            continue;
        };
        let present = def
            .xlator_option_targets()
            .any(|(_, xl_type, _)| volfiles.contains(&format!("    type {xl_type}\n")));
        if present {
            check(&rule, value)?;
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
            check(&threads, "abc").unwrap_err(),
            "invalid number format \"abc\" in option \"thread-count\""
        );
        assert_eq!(
            check(&threads, "0").unwrap_err(),
            "'0' in 'option thread-count 0' is out of range [1 - 64]"
        );
        assert!(check(&threads, "16").is_ok());
        let count = rule("background-self-heal-count", "uint", Some(0.0), None);
        assert_eq!(
            check(&count, "-1").unwrap_err(),
            "'-1' in 'option background-self-heal-count -1' is smaller than minimum value '0'"
        );
        assert_eq!(
            check(&count, "1.5").unwrap_err(),
            "invalid number format \"1.5\" in option \"background-self-heal-count\""
        );
        let ping = rule("ping-timeout", "time", Some(0.0), Some(1013.0));
        assert_eq!(
            check(&ping, "1000000000000").unwrap_err(),
            "'1000000000000' in 'option ping-timeout 1000000000000' is out of range [0 - 1013]"
        );
        assert_eq!(
            check(&ping, "99999999999999999999").unwrap_err(),
            "invalid time format \"99999999999999999999\" in \"option ping-timeout\""
        );
        assert_eq!(
            check(&ping, "-1").unwrap_err(),
            "invalid time format \"-1\" in \"option ping-timeout\""
        );
        assert_eq!(
            check(&ping, "9999999").unwrap_err(),
            "'9999999' in 'option ping-timeout 9999999' is out of range [0 - 1013]"
        );
        let soft = rule("default-soft-limit", "percent", None, None);
        assert_eq!(
            check(&soft, "150%").unwrap_err(),
            "'150.000000' in 'option default-soft-limit 150%' is out of range [0 - 100]"
        );
        assert_eq!(
            check(&soft, "-1").unwrap_err(),
            "invalid percent format \"-1\" in \"option default-soft-limit\""
        );
        let free = rule("min-free-disk", "percent-or-size", None, None);
        assert_eq!(
            check(&free, "1.5").unwrap_err(),
            "'1.500000' in 'option min-free-disk 1.5' should not be fractional value. Use valid unsigned integer value."
        );
        assert_eq!(
            check(&free, "abc").unwrap_err(),
            "invalid number format \"abc\" in \"option min-free-disk\""
        );
        assert!(check(&free, "1MB").is_ok());
        let b = rule("lookup-optimize", "bool", None, None);
        assert_eq!(
            check(&b, "abc").unwrap_err(),
            "option lookup-optimize abc: 'abc' is not a valid boolean value"
        );
        let e = ValueRule {
            values: "auto,yes,no,enable,disable,1,0,on,off",
            ..rule("lookup-unhashed", "enum", None, None)
        };
        assert_eq!(
            check(&e, "abc").unwrap_err(),
            "option lookup-unhashed abc: 'abc' is not valid (possible options are auto, yes, no, enable, disable, 1, 0, on, off.)"
        );
        let size = rule("cache-size", "size", None, None);
        assert_eq!(
            check(&size, "-1").unwrap_err(),
            "invalid number format \"-1\" in option \"cache-size\""
        );
    }
}
