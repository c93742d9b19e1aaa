//! Numbers and addresses read the way glusterd's C helpers read them (`strtol`, `strtod` and
//! the checks built on them), so that a value glusterd takes is taken here and one it refuses
//! is refused, with the number it would print. Pure, no allocation on the number paths.
//!
//! Only behaviour is modelled: C's `isspace` skipping, an optional sign, base 0 (a leading
//! `0x` is hexadecimal, a leading `0` octal: `0644` is 420), saturation and `ERANGE` on
//! overflow, and the "whole string must be read" rule of glusterd's wrappers.

/// C's `isspace` in the C locale.
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What a `strto*` call read from the start of a string.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Read<T> {
    value: T,
    /// Bytes consumed (0: no number, as when C's `endptr == str`).
    end: usize,
    /// The number did not fit (`ERANGE`).
    overflow: bool,
}

/// The magnitude part of `strtol`/`strtoull`: sign, base prefix and digits, as `u128` so that
/// the callers can saturate. `None` when no digit was read.
fn scan_integer(s: &[u8], base: u32) -> Option<(bool, u128, usize, bool)> {
    let mut i = 0;
    while i < s.len() && c_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let mut base = base;
    let hex_prefix = s.get(i) == Some(&b'0')
        && s.get(i + 1).map(|b| b | 0x20) == Some(b'x')
        && s.get(i + 2).is_some_and(|b| b.is_ascii_hexdigit());
    if (base == 0 || base == 16) && hex_prefix {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if s.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut magnitude: u128 = 0;
    let mut overflow = false;
    while let Some(digit) = s.get(i).and_then(|b| (*b as char).to_digit(base)) {
        magnitude = match magnitude
            .checked_mul(base as u128)
            .and_then(|m| m.checked_add(digit as u128))
        {
            Some(m) if m <= u64::MAX as u128 + 1 => m,
            _ => {
                overflow = true;
                u64::MAX as u128 + 1
            }
        };
        i += 1;
    }
    (i > start).then_some((negative, magnitude, i, overflow))
}

/// `strtol` (64-bit `long`) with `base` 0, 8, 10 or 16.
fn strtol(s: &str, base: u32) -> Read<i64> {
    let Some((negative, magnitude, end, overflow)) = scan_integer(s.as_bytes(), base) else {
        return Read {
            value: 0,
            end: 0,
            overflow: false,
        };
    };
    let limit = if negative {
        i64::MAX as u128 + 1
    } else {
        i64::MAX as u128
    };
    if overflow || magnitude > limit {
        let value = if negative { i64::MIN } else { i64::MAX };
        return Read {
            value,
            end,
            overflow: true,
        };
    }
    let value = if negative {
        (magnitude as i128).wrapping_neg() as i64
    } else {
        magnitude as i64
    };
    Read {
        value,
        end,
        overflow: false,
    }
}

/// `strtoull`: a `-` negates in unsigned arithmetic, as C does.
fn strtoull(s: &str, base: u32) -> Read<u64> {
    let Some((negative, magnitude, end, overflow)) = scan_integer(s.as_bytes(), base) else {
        return Read {
            value: 0,
            end: 0,
            overflow: false,
        };
    };
    if overflow || magnitude > u64::MAX as u128 {
        return Read {
            value: u64::MAX,
            end,
            overflow: true,
        };
    }
    let value = magnitude as u64;
    Read {
        value: if negative {
            value.wrapping_neg()
        } else {
            value
        },
        end,
        overflow: false,
    }
}

/// `strtod` for decimal numbers (`[space][sign]digits[.digits][e[sign]digits]`); `inf`,
/// `nan` and hexadecimal floats read as no number.
fn strtod(s: &str) -> Read<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && c_space(b[i]) {
        i += 1;
    }
    let begin = i;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        let frac_start = i + 1;
        let mut j = frac_start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        digits += j - frac_start;
        if digits > 0 {
            i = j;
        }
    }
    if digits == 0 {
        return Read {
            value: 0.0,
            end: 0,
            overflow: false,
        };
    }
    if i < b.len() && (b[i] | 0x20) == b'e' {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    let text = &s[begin..i];
    let text = text.strip_suffix('.').unwrap_or(text);
    let value: f64 = text.parse().unwrap_or(0.0);
    Read {
        value,
        end: i,
        overflow: value.is_infinite(),
    }
}

/// Only spaces before a `-`: glusterd's unsigned readers refuse it.
fn leads_with_minus(s: &str) -> bool {
    s.bytes().find(|b| !c_space(*b)) == Some(b'-')
}

/// `gf_string2long` / `gf_string2longlong` with base 0: the whole string, no overflow.
pub fn string2long(s: &str) -> Option<i64> {
    let r = strtol(s, 0);
    (r.end > 0 && r.end == s.len() && !r.overflow).then_some(r.value)
}

/// `gf_string2int`: [`string2long`] kept in an `int`, wrapping as the C assignment does
/// (`1000000000000` is -727379968).
pub fn string2int(s: &str) -> Option<i32> {
    string2long(s).map(|n| n as i32)
}

/// `gf_string2ulonglong` with base 0: no `-`, the whole string, no overflow.
pub fn string2ulonglong(s: &str) -> Option<u64> {
    if leads_with_minus(s) {
        return None;
    }
    let r = strtoull(s, 0);
    (r.end > 0 && r.end == s.len() && !r.overflow).then_some(r.value)
}

/// `gf_string2percent`: a number not led by `-`, with an optional `%` at its very end.
pub fn string2percent(s: &str) -> Option<f64> {
    if leads_with_minus(s) {
        return None;
    }
    let r = strtod(s);
    let tail = &s[r.end..];
    (r.end > 0 && !r.overflow && (tail.is_empty() || tail == "%")).then_some(r.value)
}

/// `gf_string2bytesize_range` with `umax`: a decimal count (a fraction if the string has a
/// `.` anywhere) and an optional unit `B`, `KB`, `MB`, `GB`, `TB`, `PB` in any case, up to
/// `umax` (its low 63 bits). Integer counts wrap on the unit as the C arithmetic does.
pub fn bytesize_range(s: &str, umax: u64) -> Option<u64> {
    if leads_with_minus(s) {
        return None;
    }
    let max = (umax & 0x7fff_ffff_ffff_ffff) as i64;
    let fraction = s.contains('.');
    let (float, int, end, overflow) = if fraction {
        let r = strtod(s);
        (r.value, 0i64, r.end, r.overflow)
    } else {
        let r = strtol(s, 10);
        (0.0, r.value, r.end, r.overflow)
    };
    if end == 0 || overflow {
        return None;
    }
    let tail = &s[end..];
    let unit: i64 = if tail.is_empty() {
        0
    } else {
        match tail.to_ascii_uppercase().as_str() {
            "B" => 0,
            "KB" => 1 << 10,
            "MB" => 1 << 20,
            "GB" => 1 << 30,
            "TB" => 1 << 40,
            "PB" => 1 << 50,
            _ => return None,
        }
    };
    if fraction {
        let value = if unit > 0 { float * unit as f64 } else { float };
        if (max as f64 - value) < 0.0 {
            return None;
        }
        Some(value as u64)
    } else {
        let value = if unit > 0 {
            int.wrapping_mul(unit)
        } else {
            int
        };
        if max.wrapping_sub(value) < 0 {
            return None;
        }
        Some(value as u64)
    }
}

/// `gf_string2bytesize_uint64`.
pub fn bytesize(s: &str) -> Option<u64> {
    bytesize_range(s, u64::MAX)
}

/// `gf_string2percent_or_bytesize`: a number with an optional unit (`KB` … `PB`, no `B`) or
/// `%`, as a `double`, and whether it was a percentage.
pub fn percent_or_bytesize(s: &str) -> Option<(f64, bool)> {
    if leads_with_minus(s) {
        return None;
    }
    let r = strtod(s);
    if r.end == 0 || r.overflow {
        return None;
    }
    let tail = &s[r.end..];
    let (scale, percent) = match tail.to_ascii_uppercase().as_str() {
        "" => (1.0, false),
        "KB" => (1024.0, false),
        "MB" => (1_048_576.0, false),
        "GB" => (1_073_741_824.0, false),
        "TB" => (1_099_511_627_776.0, false),
        "PB" => (1_125_899_906_842_624.0, false),
        "%" => (1.0, true),
        _ => return None,
    };
    let value = r.value * scale;
    (u64::MAX as f64 - value >= 0.0).then_some((value, percent))
}

/// `strtol` of a piece of an address, truncated to the C `int` it is kept in, and whether the
/// whole piece was read.
fn piece(s: &str, base: u32) -> (i32, bool) {
    let r = strtol(s, base);
    (r.value as i32, r.end == s.len())
}

/// C's `strtok`: the non-empty pieces between any of `delims`.
fn tokens<'a>(s: &'a str, delims: &'a [char]) -> impl Iterator<Item = &'a str> {
    s.split(delims).filter(|t| !t.is_empty())
}

/// A host name (letters, digits and inner `-`, dot-separated; at most 255 bytes; the last
/// byte a letter, digit or `*`).
fn valid_host_name(a: &str) -> bool {
    let b = a.as_bytes();
    if b.is_empty() || b.len() > 255 {
        return false;
    }
    let last = b[b.len() - 1];
    if !last.is_ascii_alphanumeric() && last != b'*' {
        return false;
    }
    if a.contains("..") {
        return false;
    }
    tokens(a, &['.']).all(|t| {
        let t = t.as_bytes();
        t[0].is_ascii_alphanumeric()
            && t[t.len() - 1].is_ascii_alphanumeric()
            && t[1..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    })
}

/// An IPv4 address; with `wildcard`, a `*` piece stands for the rest.
fn valid_ipv4(a: &str, wildcard: bool) -> bool {
    let b = a.as_bytes();
    if b.is_empty() || a.contains("..") {
        return false;
    }
    let last = b[b.len() - 1];
    if !last.is_ascii_digit() && last != b'*' {
        return false;
    }
    let mut octets = 0;
    let mut is_wildcard = false;
    for t in tokens(a, &['.']) {
        octets += 1;
        if wildcard && t == "*" {
            is_wildcard = true;
            continue;
        }
        let (value, whole) = piece(t, 10);
        if !(0..=255).contains(&value) || !whole {
            return false;
        }
    }
    !(octets > 4 || (octets < 4 && !is_wildcard))
}

/// An IPv4 address with a `/bits` mask of 1 to 32.
fn valid_cidr(a: &str, wildcard: bool) -> bool {
    let Some((address, mask)) = a.split_once('/') else {
        return false;
    };
    // atoi: leading digits, 0 when none.
    let digits: String = mask
        .trim_start_matches(|c: char| c.is_ascii() && c_space(c as u8))
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let bits: u64 = digits.parse().unwrap_or(0);
    (1..=32).contains(&bits) && valid_ipv4(address, wildcard)
}

/// An IPv6 address (one `::` at most, a `%zone` ignored); with `wildcard`, a `*` piece.
fn valid_ipv6(a: &str, wildcard: bool) -> bool {
    let a = a.split('%').next().unwrap_or("");
    if a.is_empty() || a.ends_with(':') {
        return false;
    }
    let compressed = a.matches("::").count();
    if compressed > 1 || a.contains(":::") {
        return false;
    }
    let mut pieces = 0;
    let mut is_wildcard = false;
    for t in tokens(a, &[':']) {
        pieces += 1;
        if wildcard && t == "*" {
            is_wildcard = true;
            continue;
        }
        let (value, whole) = piece(t, 16);
        if !(0..=0xffff).contains(&value) || !whole {
            return false;
        }
    }
    !(pieces > 8 || (pieces < 8 && !is_wildcard && compressed == 0))
}

/// An address as glusterd's `valid_internet_address` takes one (`cidr`: `a.b.c.d/n` too).
pub fn valid_internet_address(a: &str, wildcard: bool, cidr: bool) -> bool {
    !a.is_empty()
        && ((cidr && valid_cidr(a, wildcard))
            || valid_ipv4(a, wildcard)
            || valid_ipv6(a, wildcard)
            || valid_host_name(a))
}

/// An `auth.allow`/`auth.reject` value: addresses separated by `,`, or entries
/// `/dir(addr|addr…)` separated by `,`.
pub fn valid_address_list(value: &str) -> bool {
    let valid = |a: &str| valid_internet_address(a, true, true);
    if !value.starts_with('/') && !value.contains('(') {
        return tokens(value, &[',']).all(valid);
    }
    tokens(value, &[',']).all(|entry| {
        let Some((dir, after)) = strtok(entry, 0, '(') else {
            return false;
        };
        if !dir.starts_with('/') {
            return false;
        }
        let Some((addresses, _)) = strtok(entry, after, ')') else {
            return false;
        };
        let mut any = false;
        for a in tokens(addresses, &['|']) {
            any = true;
            if !valid(a) {
                return false;
            }
        }
        any
    })
}

/// One step of C's `strtok_r` on `s` from byte `pos`: the next non-empty piece before
/// `delim` and where the next step starts.
fn strtok(s: &str, pos: usize, delim: char) -> Option<(&str, usize)> {
    let rest = s.get(pos..)?;
    let skipped = rest.len() - rest.trim_start_matches(delim).len();
    let start = pos + skipped;
    if start >= s.len() {
        return None;
    }
    match s[start..].find(delim) {
        Some(i) => Some((&s[start..start + i], start + i + delim.len_utf8())),
        None => Some((&s[start..], s.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_read_as_strtol_with_base_0() {
        assert_eq!(string2long("0644"), Some(420));
        assert_eq!(string2long("0x10"), Some(16));
        assert_eq!(string2long(" -12"), Some(-12));
        assert_eq!(string2long("+7"), Some(7));
        assert_eq!(string2long("08"), None, "8 is no octal digit");
        assert_eq!(string2long("1.5"), None);
        assert_eq!(string2long(""), None);
        assert_eq!(string2long("-"), None);
        assert_eq!(string2long("0x"), None, "0 read, then x is left");
        assert_eq!(string2long("99999999999999999999"), None, "ERANGE");
        assert_eq!(string2long("9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2long("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2long("9223372036854775808"), None);
        assert_eq!(string2int("1000000000000"), Some(-727379968));
        assert_eq!(string2ulonglong("-0"), None);
        assert_eq!(string2ulonglong("0"), Some(0));
        assert_eq!(string2ulonglong("18446744073709551615"), Some(u64::MAX));
        assert_eq!(string2ulonglong("18446744073709551616"), None);
    }

    #[test]
    fn sizes_read_as_glusterd_reads_them() {
        assert_eq!(bytesize("20MB"), Some(20 << 20));
        assert_eq!(bytesize("64MB"), Some(64 << 20));
        assert_eq!(bytesize("1.5k"), None);
        assert_eq!(bytesize("x"), None);
        assert_eq!(bytesize("20mb"), Some(20 << 20));
        assert_eq!(bytesize("1.5KB"), Some(1536));
        assert_eq!(bytesize("10B"), Some(10));
        assert_eq!(bytesize("10M"), None, "only the two-letter units");
        assert_eq!(bytesize("-1"), None);
        assert_eq!(bytesize("150%"), None);
        assert_eq!(bytesize("abc"), None);
        assert_eq!(bytesize("1000000000000"), Some(1_000_000_000_000));
        assert_eq!(bytesize("99999999999999999999"), None);
        assert_eq!(bytesize("9223372036854775807"), Some(i64::MAX as u64));
        assert_eq!(bytesize(""), None);
    }

    #[test]
    fn percents() {
        assert_eq!(string2percent("150%"), Some(150.0));
        assert_eq!(string2percent("1.5"), Some(1.5));
        assert_eq!(string2percent("-1"), None);
        assert_eq!(string2percent("10%%"), None);
        assert_eq!(string2percent("abc"), None);
        assert_eq!(string2percent("1e400"), None);
    }

    #[test]
    fn address_lists_as_glusterd_checks_them() {
        for ok in [
            "127.0.0.1",
            "10.9.9.9",
            "*",
            "192.168.*",
            "10.0.0.0/8",
            "abc",
            "1.5",
            "host-1.example.com",
            "::1",
            "fe80::1%eth0",
            "127.0.0.1,10.0.0.2",
            "/dir(127.0.0.1|10.0.0.2),/other(abc)",
        ] {
            assert!(valid_address_list(ok), "{ok} is taken");
        }
        // Anything made of dot-separated letters and digits is a host name to glusterd.
        assert!(valid_address_list("1.2.3.4.5") && valid_address_list("300.1.1.1"));
        for bad in [
            "-1",
            "150%",
            "a_b",
            "host-",
            "-host",
            "/dir",
            "dir(1.1.1.1)x",
            "/d()",
        ] {
            assert!(!valid_address_list(bad), "{bad} is refused");
        }
    }

    #[test]
    fn nothing_panics_on_odd_bytes() {
        for s in [
            "", " ", "-", "+", "0x", "..", "::", "%", "(", ")", "/(|)", "é", "0xé", "1é",
        ] {
            let _ = (
                string2long(s),
                string2int(s),
                string2ulonglong(s),
                string2percent(s),
            );
            let _ = (
                bytesize(s),
                valid_address_list(s),
                valid_internet_address(s, true, true),
            );
        }
    }
}
