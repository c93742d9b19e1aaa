//! The option table: every key glusterd 10.3 takes in `volume set`, what `volume get` shows
//! for it, the op-version it needs and how its value is checked. Pure: no I/O.
//!
//! The table is data, `table.tsv` beside this file, derived from what the real glusterd
//! answers (`scripts/optable/probe.py` runs it; `docs/options-table.md` says how). It is parsed
//! once, on first use, and a unit test parses every row, so a malformed row fails the build's
//! tests, never a running node. Columns are found by their header name; a column this module
//! does not read is ignored.
//!
//! Rows are in the order `volume get VOL all` lists them, which is glusterd's table order.
#![forbid(unsafe_code)]

pub mod global;

use std::collections::HashMap;
use std::sync::OnceLock;

/// The table, as text.
const TABLE_TSV: &str = include_str!("table.tsv");

/// Whether a key is set per volume or for the whole pool (`volume set all KEY VALUE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `volume set VOL KEY VALUE`.
    Volume,
    /// `volume set all KEY VALUE`: the node's `options` file. `volume get VOL all` lists it
    /// too, with its default.
    Global,
    /// As [`Scope::Global`], but `volume get VOL all` does not list it
    /// (`cluster.op-version`, `cluster.max-op-version`, `cluster.localtime-logging`).
    GlobalOnly,
}

impl Scope {
    /// Whether `volume set all` takes the key.
    pub fn is_global(self) -> bool {
        self != Scope::Volume
    }
}

/// One option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDef {
    /// The full key (`performance.cache-size`).
    pub key: &'static str,
    /// What `volume get VOL` shows for a volume that does not set the key (`32MB (DEFAULT)`,
    /// `off`: glusterd marks a default that comes from the xlator, not from its own table).
    pub shown_unset: &'static str,
    /// For a global key: what `volume get all` shows when the pool does not set it, and its
    /// place in that list (which has its own order).
    pub shown_unset_all: Option<(&'static str, usize)>,
    /// The value volgen uses when the volume does not set the key (glusterd's own table
    /// default), if any.
    pub default: Option<&'static str>,
    /// The op-version the key needs; the volume's `op-version=` is the highest of its keys'.
    pub op_version: u32,
    /// Whether the key counts towards the volume's `client-op-version=`.
    pub client_op: bool,
    /// Per volume or for the pool.
    pub scope: Scope,
}

/// The parsed table.
#[derive(Debug)]
pub struct Table {
    /// Every row. glusterd's table names a few keys twice (`performance.cache-size` for
    /// io-cache and for quick-read): `volume get VOL all` lists both.
    options: Vec<OptionDef>,
    /// The first row of each key.
    by_key: HashMap<&'static str, usize>,
    /// The global keys in `volume get all all` order.
    global: Vec<usize>,
}

/// Why the table text could not be parsed (a test catches it before any node runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    /// 1-based line of `table.tsv`.
    pub line: usize,
    /// What is wrong there.
    pub problem: String,
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "table.tsv line {}: {}", self.line, self.problem)
    }
}

/// A field that means "none".
fn none_if_dash(field: &'static str) -> Option<&'static str> {
    (!field.is_empty() && field != "-").then_some(field)
}

impl Table {
    /// Parses `text` (a header line, then one row per key).
    pub fn parse(text: &'static str) -> Result<Table, TableError> {
        let mut lines = text.lines().enumerate();
        let (_, header) = lines.next().ok_or(TableError {
            line: 1,
            problem: "empty: no header".into(),
        })?;
        let columns: Vec<&str> = header.split('\t').collect();
        let column = |name: &str| columns.iter().position(|c| *c == name);
        let key_at = column("key").ok_or(TableError {
            line: 1,
            problem: "no `key` column".into(),
        })?;
        let shown_at = column("shown").or(column("default"));
        let default_at = column("default");
        let op_version_at = column("op_version");
        let client_op_at = column("client_op");
        let scope_at = column("scope");
        let shown_all_at = column("shown_all");
        let all_index_at = column("all_index");
        let mut options = Vec::new();
        let mut by_key = HashMap::new();
        for (index, line) in lines {
            let number = index + 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&'static str> = line.split('\t').collect();
            let field = |at: Option<usize>| at.and_then(|i| fields.get(i).copied()).unwrap_or("");
            let bad = |problem: String| TableError {
                line: number,
                problem,
            };
            let key = field(Some(key_at));
            if key.is_empty() || !key.contains('.') {
                return Err(bad(format!("`{key}` is not an option key")));
            }
            let op_version = match none_if_dash(field(op_version_at)) {
                None => 1,
                Some(text) => text
                    .parse()
                    .map_err(|_| bad(format!("op_version `{text}` of {key}")))?,
            };
            let scope = match field(scope_at) {
                "global-only" => Scope::GlobalOnly,
                "global" => Scope::Global,
                "volume" | "" | "-" => Scope::Volume,
                other => return Err(bad(format!("scope `{other}` of {key}"))),
            };
            let shown_unset_all = match (
                none_if_dash(field(shown_all_at)),
                none_if_dash(field(all_index_at)),
            ) {
                (Some(shown), Some(index)) => Some((
                    shown,
                    index
                        .parse()
                        .map_err(|_| bad(format!("all_index `{index}` of {key}")))?,
                )),
                (None, None) => None,
                _ => return Err(bad(format!("{key} has one of shown_all and all_index"))),
            };
            if scope.is_global() != shown_unset_all.is_some() {
                return Err(bad(format!(
                    "{key}: a global key needs shown_all and all_index, others none"
                )));
            }
            let def = OptionDef {
                key,
                shown_unset: field(shown_at),
                shown_unset_all,
                default: none_if_dash(field(default_at)).map(strip_default_mark),
                op_version,
                client_op: field(client_op_at) == "1",
                scope,
            };
            if let Some(&first) = by_key.get(key) {
                let first: &OptionDef = &options[first];
                if first.scope != def.scope || first.op_version != def.op_version {
                    return Err(bad(format!(
                        "{key} is listed twice, with another scope or op-version"
                    )));
                }
            } else {
                by_key.insert(key, options.len());
            }
            options.push(def);
        }
        let mut global: Vec<usize> = by_key
            .values()
            .copied()
            .filter(|&i| options[i].scope.is_global())
            .collect();
        global.sort_by_key(|&i| options[i].shown_unset_all.map(|(_, at)| at));
        Ok(Table {
            options,
            by_key,
            global,
        })
    }

    /// The global keys, in `volume get all all` order.
    pub fn global_options(&self) -> impl Iterator<Item = &OptionDef> {
        self.global.iter().map(|&i| &self.options[i])
    }

    /// Every option, in table order.
    pub fn options(&self) -> &[OptionDef] {
        &self.options
    }

    /// The option with exactly this key.
    pub fn get(&self, key: &str) -> Option<&OptionDef> {
        self.by_key.get(key).map(|&i| &self.options[i])
    }

    /// Finds the option a `volume set` key names: the full key, or (for a key without a
    /// `.`) the one option whose key ends in `.<key>`.
    pub fn lookup(&self, key: &str) -> Lookup<'_> {
        if let Some(def) = self.get(key) {
            return Lookup::Found(def);
        }
        if key.contains('.') {
            return Lookup::Unknown;
        }
        let mut found = (self.by_key.values())
            .map(|&i| &self.options[i])
            .filter(|o| o.key.rsplit_once('.').is_some_and(|(_, last)| last == key));
        match (found.next(), found.next()) {
            (Some(def), None) => Lookup::Found(def),
            (Some(_), Some(_)) => Lookup::Ambiguous,
            _ => Lookup::Unknown,
        }
    }
}

/// What a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'t> {
    /// This option.
    Found(&'t OptionDef),
    /// More than one option (a short key).
    Ambiguous,
    /// No option.
    Unknown,
}

/// `32MB (DEFAULT)` → `32MB`.
fn strip_default_mark(value: &'static str) -> &'static str {
    value.strip_suffix(" (DEFAULT)").unwrap_or(value)
}

/// The table (parsed on first use). A table that does not parse is a build defect that the
/// unit tests catch; should one ship anyway, the node runs with no options known rather
/// than stopping.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        Table::parse(TABLE_TSV).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the option table does not parse; no option is known");
            Table {
                options: Vec::new(),
                by_key: HashMap::new(),
                global: Vec::new(),
            }
        })
    })
}

/// The "Did you mean …?" hint glusterd gives for an unknown key: the table's words nearest
/// to the key's, by edit distance (insert, delete and replace cost one each), ties going to
/// the word first in byte order.
///
/// A key with a `.` is taken in two steps: its first part is matched against the first parts
/// of the table's keys (one word), then the rest against the second parts of the keys under
/// that first part (two words); the hint is `first.word`, or `first.word1 or ...word2` when
/// two words are equally near. A key without a `.` is matched against the second parts of
/// every key: `word`, or `word1 or word2`. (A second part ends at the next `.`.) `None` when
/// nothing matches at all.
pub fn hint(table: &Table, key: &str) -> Option<String> {
    let keys = || table.options.iter().map(|o| o.key);
    let second_part = |key: &'static str| -> Option<&'static str> {
        let rest = key.split_once('.')?.1;
        Some(rest.split('.').next().unwrap_or(rest))
    };
    match key.split_once('.') {
        None => {
            let words: Vec<&str> = keys().filter_map(second_part).collect();
            nearest(&words, key).map(|(first, second)| match second {
                Some(second) => format!("{first} or {second}"),
                None => first.to_string(),
            })
        }
        Some((domain, rest)) => {
            let domains: Vec<&str> = keys().filter_map(|k| k.split('.').next()).collect();
            let (domain, _) = nearest(&domains, domain)?;
            let words: Vec<&str> = keys()
                .filter(|k| k.split('.').next() == Some(domain))
                .filter_map(second_part)
                .collect();
            let (first, second) = nearest(&words, rest)?;
            Some(match second {
                Some(second) => format!("{domain}.{first} or ...{second}"),
                None => format!("{domain}.{first}"),
            })
        }
    }
}

/// The word of `words` nearest to `word`, and a second one as near, if any (see [`hint`]).
/// An empty `word` matches nothing (glusterd's measure is undefined there).
fn nearest<'w>(words: &[&'w str], word: &str) -> Option<(&'w str, Option<&'w str>)> {
    if word.is_empty() {
        return None;
    }
    let mut sorted: Vec<&str> = words.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut best: Option<(usize, &str, Option<&str>)> = None;
    for candidate in sorted {
        let d = edit_distance(candidate.as_bytes(), word.as_bytes());
        best = match best {
            None => Some((d, candidate, None)),
            Some((b, _, _)) if d < b => Some((d, candidate, None)),
            Some((b, first, None)) if d == b => Some((b, first, Some(candidate))),
            keep => keep,
        };
    }
    best.map(|(_, first, second)| (first, second))
}

/// Levenshtein distance with unit costs.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// glusterd's reading of a boolean (`gf_string2boolean`): `1 on yes true enable` and
/// `0 off no false disable`, in any case; anything else is not a boolean.
pub fn parse_bool(value: &str) -> Option<bool> {
    const TRUE: [&str; 5] = ["1", "on", "yes", "true", "enable"];
    const FALSE: [&str; 5] = ["0", "off", "no", "false", "disable"];
    if TRUE.iter().any(|t| value.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| value.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// A user-defined key (`user.*`): any value, never validated, not in the table.
pub fn is_user_key(key: &str) -> bool {
    key.starts_with("user.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses() {
        let table = Table::parse(TABLE_TSV).unwrap();
        assert!(table.options().len() > 300, "{}", table.options().len());
        assert!(table.get("performance.cache-size").is_some());
        assert!(table.get("cluster.op-version").is_some());
    }

    #[test]
    fn short_keys_complete_when_one_option_ends_with_them() {
        let table = Table::parse("key\tshown\na.x\t1\nb.y\t2\nc.y\t3\n").unwrap();
        assert_eq!(table.lookup("x"), Lookup::Found(&table.options()[0]));
        assert_eq!(table.lookup("y"), Lookup::Ambiguous);
        assert_eq!(table.lookup("z"), Lookup::Unknown);
        assert_eq!(table.lookup("d.x"), Lookup::Unknown);
    }

    #[test]
    fn hints_are_the_nearest_words_first_in_byte_order() {
        assert_eq!(edit_distance(b"foo", b"nfs"), 3);
        assert_eq!(edit_distance(b"", b"ab"), 2);
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        let table = Table::parse(
            "key\nperformance.cache-size\nperformance.io-cache\ndht.force-readdirp\ncluster.nufa\ncluster.tier\n",
        )
        .unwrap();
        assert_eq!(
            hint(&table, "foo.bar").as_deref(),
            Some("dht.force-readdirp")
        );
        assert_eq!(
            hint(&table, "performance.cache-siz").as_deref(),
            Some("performance.cache-size")
        );
        assert_eq!(
            hint(&table, "cluster.xxxx").as_deref(),
            Some("cluster.nufa or ...tier")
        );
        assert_eq!(hint(&table, "io-cach").as_deref(), Some("io-cache"));
        assert_eq!(hint(&table, "x."), None);
    }

    #[test]
    fn bad_rows_name_their_line() {
        let e = Table::parse("key\top_version\na.x\tten\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = Table::parse(
            "key\tscope\tshown_all\tall_index\na.x\tvolume\t-\t-\na.x\tglobal\t1\t1\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
        let e = Table::parse("key\tscope\na.x\tglobal\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = Table::parse("key\nnodot\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(Table::parse("").is_err());
        assert!(Table::parse("nokey\n").is_err());
    }
}
