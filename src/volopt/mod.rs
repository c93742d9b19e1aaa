//! The option table: every key glusterd 10.3 takes in `volume set`, what `volume get` shows
//! for it, the op-version it needs and how its value is checked. Pure: no I/O.
//!
//! The table is data beside this file, derived from what the real glusterd answers:
//!
//! - `table.tsv`, one row per key (`scripts/optable/probe.py`; `docs/options-table.md` says
//!   how): its scope, op-version, default, type and what it does to the volfiles. Columns
//!   are found by their header name; a column this module does not read is ignored.
//! - `listing.tsv` (`scripts/optable/listing.py`): what `volume get VOL all` and `volume get
//!   all all` print for a volume and a pool that set nothing, row for row in glusterd's order,
//!   duplicates included (glusterd's table names `performance.cache-size` twice).
//!
//! Both are parsed once, on first use; a unit test parses them, so a malformed row fails the
//! tests, never a running node.
#![forbid(unsafe_code)]

pub mod cnum;
pub mod global;
pub mod rules;
pub mod validate;

use std::collections::HashMap;
use std::sync::OnceLock;

/// The table, as text.
const TABLE_TSV: &str = include_str!("table.tsv");
/// What `volume get` lists, as text.
const LISTING_TSV: &str = include_str!("listing.tsv");
/// What a set of each key did to a volume's op-versions, as text.
/// A volume's `op-version=` and `client-op-version=` as glusterd works them out after every set
/// and reset, from the options it holds (`options`) and whether it is a disperse volume: from
/// 1, each option raises them to its key's op-version (the table's `op_version`; the client's
/// only for a client option), except a boolean (or debug-xlator) key whose value is off or no
/// boolean at all; `performance.open-behind` counts as on (2) unless it is off, and a disperse
/// volume has at least 30600.
pub fn op_versions_of(options: &[(String, String)], disperse: bool) -> (u32, u32) {
    let table = table();
    let (mut op, mut client) = (1u32, 1u32);
    for (key, value) in options {
        let Some(def) = table.get(key) else { continue };
        let switch = def.kind == "bool" || key.starts_with("debug.");
        if switch && parse_bool(value) != Some(true) {
            continue;
        }
        op = op.max(def.op_version);
        if def.client_op {
            client = client.max(def.op_version);
        }
    }
    let open_behind = options
        .iter()
        .find(|(k, _)| k == "performance.open-behind")
        .map(|(_, v)| parse_bool(v) != Some(false))
        .unwrap_or(true);
    if open_behind {
        (op, client) = (op.max(2), client.max(2));
    }
    if disperse {
        (op, client) = (op.max(30600), client.max(30600));
    }
    (op, client)
}

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
    /// For a global key: what `volume get all` shows when the pool does not set it.
    pub shown_unset_all: Option<&'static str>,
    /// The key's default value, if it has one.
    pub default: Option<&'static str>,
    /// The op-version the key needs; the volume's `op-version=` is the highest of its keys'.
    pub op_version: u32,
    /// Whether the key counts towards the volume's `client-op-version=`.
    pub client_op: bool,
    /// Per volume or for the pool.
    pub scope: Scope,
    /// The table's type of the key's values (`bool`, `int`, `size`, `enum`, …; empty if the
    /// table does not say), with its bounds and the values an `enum` takes (`-` or empty
    /// for none); see `validate`.
    pub kind: &'static str,
    /// The lowest value (text), if the table gives one.
    pub min: &'static str,
    /// The highest value (text), if the table gives one.
    pub max: &'static str,
    /// An `enum`'s values, comma-separated.
    pub values: &'static str,
    /// What a set of the key changed in glusterd's volfiles, as `table.tsv` records it:
    /// `graph:xlator-type:option` entries separated by `;` (`fuse:cluster/distribute:
    /// lookup-optimize`), `+type`/`-type` for an xlator added or taken out; `-` for nothing.
    pub xlator_options: &'static str,
    /// A set on one volume sets it on every volume of the node (the table's `scope` names
    /// `all-volumes`: glusterd's pool-wide NFS server keys, `client.strict-locks`,
    /// `server.outstanding-rpc-limit`); a reset stays on its volume.
    pub every_volume: bool,
}

/// The parsed table.
#[derive(Debug, Default)]
pub struct Table {
    /// One per key: the table's rows in order, then keys only the listing names.
    options: Vec<OptionDef>,
    by_key: HashMap<&'static str, usize>,
    /// `volume get VOL all`'s rows, in order (a key may come twice).
    volume_listing: Vec<usize>,
    /// `volume get all all`'s rows, in order.
    global_listing: Vec<usize>,
}

/// Why the table text could not be parsed (a test catches it before any node runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    /// Which file.
    pub file: &'static str,
    /// 1-based line.
    pub line: usize,
    /// What is wrong there.
    pub problem: String,
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} line {}: {}", self.file, self.line, self.problem)
    }
}

/// A field that means "none".
fn none_if_dash(field: &'static str) -> Option<&'static str> {
    (!field.is_empty() && field != "-").then_some(field)
}

/// The rows of a tab-separated file with a header: each row's fields by column name.
struct Rows {
    file: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<(usize, Vec<&'static str>)>,
}

impl Rows {
    fn parse(file: &'static str, text: &'static str) -> Result<Rows, TableError> {
        let mut lines = text.lines().enumerate();
        let (_, header) = lines.next().ok_or(TableError {
            file,
            line: 1,
            problem: "empty: no header".into(),
        })?;
        let rows = lines
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
            .map(|(i, l)| (i + 1, l.split('\t').collect()))
            .collect();
        Ok(Rows {
            file,
            columns: header.split('\t').collect(),
            rows,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| *c == name)
    }

    fn require(&self, name: &str) -> Result<usize, TableError> {
        self.column(name).ok_or_else(|| TableError {
            file: self.file,
            line: 1,
            problem: format!("no `{name}` column"),
        })
    }
}

impl Table {
    /// Parses the per-key table and the listing.
    pub fn parse(table: &'static str, listing: &'static str) -> Result<Table, TableError> {
        let mut t = Table::default();
        let rows = Rows::parse("table.tsv", table)?;
        let key_at = rows.require("key")?;
        let (default_at, op_version_at, client_op_at, xlator_options_at) = (
            rows.column("default"),
            rows.column("op_version"),
            rows.column("client_op"),
            rows.column("xlator_options"),
        );
        let (kind_at, min_at, max_at, values_at) = (
            rows.column("type"),
            rows.column("min"),
            rows.column("max"),
            rows.column("values"),
        );
        let scope_at = rows.column("scope");
        for (line, fields) in &rows.rows {
            let field = |at: Option<usize>| at.and_then(|i| fields.get(i).copied()).unwrap_or("");
            let bad = |problem: String| TableError {
                file: "table.tsv",
                line: *line,
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
            let default = none_if_dash(field(default_at))
                .map(|d| d.strip_suffix(" (DEFAULT)").unwrap_or(d))
                .filter(|d| *d != "(null)");
            if t.by_key.contains_key(key) {
                continue;
            }
            t.by_key.insert(key, t.options.len());
            t.options.push(OptionDef {
                key,
                shown_unset: default.unwrap_or("(null)"),
                shown_unset_all: None,
                default,
                op_version,
                client_op: matches!(field(client_op_at), "1" | "yes"),
                scope: Scope::Volume,
                kind: field(kind_at),
                min: field(min_at),
                max: field(max_at),
                values: field(values_at),
                xlator_options: field(xlator_options_at),
                every_volume: field(scope_at).split(';').any(|s| s == "all-volumes"),
            });
        }
        let rows = Rows::parse("listing.tsv", listing)?;
        let (context_at, key_at, shown_at) = (
            rows.require("context")?,
            rows.require("key")?,
            rows.require("shown")?,
        );
        let mut listed_for_volumes = std::collections::HashSet::new();
        for (line, fields) in &rows.rows {
            let field = |at: usize| fields.get(at).copied().unwrap_or("");
            let (context, key, shown) = (field(context_at), field(key_at), field(shown_at));
            if key.is_empty() || !key.contains('.') {
                return Err(TableError {
                    file: "listing.tsv",
                    line: *line,
                    problem: format!("`{key}` is not an option key"),
                });
            }
            let at = match t.by_key.get(key) {
                Some(&at) => at,
                None => {
                    t.by_key.insert(key, t.options.len());
                    t.options.push(OptionDef {
                        key,
                        shown_unset: shown,
                        shown_unset_all: None,
                        default: Some(shown.strip_suffix(" (DEFAULT)").unwrap_or(shown))
                            .filter(|d| *d != "(null)"),
                        op_version: 1,
                        client_op: false,
                        scope: Scope::Volume,
                        kind: "",
                        min: "",
                        max: "",
                        values: "",
                        xlator_options: "",
                        every_volume: false,
                    });
                    t.options.len() - 1
                }
            };
            match context {
                "volume" => {
                    if listed_for_volumes.insert(key) {
                        t.options[at].shown_unset = shown;
                    }
                    t.volume_listing.push(at);
                }
                "all" => {
                    t.options[at].shown_unset_all = Some(shown);
                    t.global_listing.push(at);
                }
                other => {
                    return Err(TableError {
                        file: "listing.tsv",
                        line: *line,
                        problem: format!("context `{other}`"),
                    })
                }
            }
        }
        for &at in &t.global_listing {
            let def = &mut t.options[at];
            def.scope = if listed_for_volumes.contains(def.key) {
                Scope::Global
            } else {
                Scope::GlobalOnly
            };
        }
        Ok(t)
    }

    /// The global keys, in `volume get all all` order.
    pub fn global_options(&self) -> impl Iterator<Item = &OptionDef> {
        self.global_listing.iter().map(|&i| &self.options[i])
    }

    /// The rows of `volume get VOL all`, in order.
    pub fn volume_listing(&self) -> impl Iterator<Item = &OptionDef> {
        self.volume_listing.iter().map(|&i| &self.options[i])
    }

    /// Every option, once, in table order.
    pub fn options(&self) -> &[OptionDef] {
        &self.options
    }

    /// The option with exactly this key.
    pub fn get(&self, key: &str) -> Option<&OptionDef> {
        self.by_key.get(key).map(|&i| &self.options[i])
    }

    /// Finds the option a `volume set` key names: the full key, or (for a key without a
    /// `.`) the one option whose key is `<first part>.<key>` (glusterd compares the key with
    /// what follows the first `.` of each option's; two such options are no match).
    pub fn lookup(&self, key: &str) -> Lookup<'_> {
        if let Some(def) = self.get(key) {
            return Lookup::Found(def);
        }
        if key.contains('.') {
            return Lookup::Unknown;
        }
        let mut found = (self.options.iter())
            .filter(|o| o.key.split_once('.').is_some_and(|(_, rest)| rest == key));
        match (found.next(), found.next()) {
            (Some(def), None) => Lookup::Found(def),
            (Some(_), Some(_)) => Lookup::Ambiguous,
            _ => Lookup::Unknown,
        }
    }
}

impl OptionDef {
    /// The xlator options a set of the key changes, as (graph, xlator type, option), from
    /// [`OptionDef::xlator_options`] (entries that add or take out an xlator, or name a file,
    /// left out).
    pub fn xlator_option_targets(
        &self,
    ) -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
        const GRAPHS: &[&str] = &[
            "brick",
            "fuse",
            "trusted",
            "gfproxyd",
            "gfproxy-client",
            "shd",
            "fuse-rdma",
            "trusted-rdma",
        ];
        self.xlator_options.split(';').filter_map(|entry| {
            let mut parts = entry.splitn(3, ':');
            let (graph, xl_type, option) = (parts.next()?, parts.next()?, parts.next()?);
            (GRAPHS.contains(&graph)
                && xl_type.contains('/')
                && !xl_type.starts_with(['+', '-'])
                && !option.contains(':'))
            .then_some((graph, xl_type, option))
        })
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

/// The table (parsed on first use). A table that does not parse is a build defect that the
/// unit tests catch; should one ship anyway, the node runs with no options known rather
/// than stopping.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        Table::parse(TABLE_TSV, LISTING_TSV).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the option table does not parse; no option is known");
            Table::default()
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
        let table = Table::parse(TABLE_TSV, LISTING_TSV).unwrap();
        assert!(table.options().len() > 300, "{}", table.options().len());
        assert_eq!(table.volume_listing().count(), 342);
        assert_eq!(
            table
                .volume_listing()
                .filter(|o| o.key == "performance.cache-size")
                .count(),
            2
        );
        assert_eq!(table.global_options().count(), 10);
        let op = table.get("cluster.op-version").unwrap();
        assert_eq!(op.scope, Scope::GlobalOnly);
        assert_eq!(
            table.get("cluster.brick-multiplex").unwrap().scope,
            Scope::Global
        );
        assert_eq!(
            table
                .get("performance.io-thread-count")
                .unwrap()
                .shown_unset,
            "16 (DEFAULT)"
        );
    }

    #[test]
    fn short_keys_complete_when_one_option_ends_with_them() {
        let table = Table::parse("key\na.x\nb.y\nc.y\nd.e.z\n", "context\tkey\tshown\n").unwrap();
        assert_eq!(table.lookup("x"), Lookup::Found(&table.options()[0]));
        assert_eq!(table.lookup("y"), Lookup::Ambiguous);
        assert_eq!(table.lookup("d.x"), Lookup::Unknown);
        // What follows the first dot, not the last part.
        assert_eq!(table.lookup("z"), Lookup::Unknown);
    }

    #[test]
    fn hints_are_the_nearest_words_first_in_byte_order() {
        assert_eq!(edit_distance(b"foo", b"nfs"), 3);
        assert_eq!(edit_distance(b"", b"ab"), 2);
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        let table = Table::parse(
            "key\nperformance.cache-size\nperformance.io-cache\ndht.force-readdirp\ncluster.nufa\ncluster.tier\n",
            "context\tkey\tshown\n",
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

    /// glusterd 10.3's hints for keys it does not know (seen with the real CLI).
    #[test]
    fn the_shipped_table_gives_glusterds_hints() {
        let table = table();
        assert_eq!(
            hint(table, "foo.bar").as_deref(),
            Some("dht.force-readdirp")
        );
        assert_eq!(hint(table, "user.foo").as_deref(), Some("cluster.nufa"));
        assert_eq!(hint(table, "user.x").as_deref(), Some("cluster.nufa"));
    }

    #[test]
    fn op_versions_come_from_the_options_held() {
        let opts = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        // A new replica volume: fips-mode-rchecksum (40000), granular-entry-heal (a client
        // option, 30800).
        let new_replica = opts(&[
            ("cluster.granular-entry-heal", "on"),
            ("storage.fips-mode-rchecksum", "on"),
            ("transport.address-family", "inet"),
            ("nfs.disable", "on"),
            ("performance.client-io-threads", "off"),
        ]);
        assert_eq!(op_versions_of(&new_replica, false), (40000, 30800));
        // A switch set off counts for nothing: transport.address-family's 30704 is left.
        let fips_off = opts(&[
            ("storage.fips-mode-rchecksum", "off"),
            ("transport.address-family", "inet"),
            ("nfs.disable", "on"),
        ]);
        assert_eq!(op_versions_of(&fips_off, false), (30704, 2));
        assert_eq!(op_versions_of(&fips_off, true), (30704, 30600));
        assert_eq!(
            op_versions_of(&opts(&[("client.strict-locks", "on")]), false).0,
            80000
        );
        assert_eq!(
            op_versions_of(&opts(&[("client.strict-locks", "off")]), false).0,
            2
        );
        assert_eq!(
            op_versions_of(&opts(&[("performance.open-behind", "off")]), false),
            (1, 1)
        );
        assert_eq!(op_versions_of(&opts(&[("user.x", "1")]), false), (2, 2));
    }

    #[test]
    fn bad_rows_name_their_line() {
        let empty = "context\tkey\tshown\n";
        let e = Table::parse("key\top_version\na.x\tten\n", empty).unwrap_err();
        assert_eq!((e.file, e.line), ("table.tsv", 2));
        let e = Table::parse("key\nnodot\n", empty).unwrap_err();
        assert_eq!(e.line, 2);
        let e = Table::parse("key\n", "context\tkey\tshown\nvolume\tx\t1\n").unwrap_err();
        assert_eq!((e.file, e.line), ("listing.tsv", 2));
        let e = Table::parse("key\n", "context\tkey\tshown\nelse\ta.x\t1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(Table::parse("", empty).is_err());
        assert!(Table::parse("nokey\n", empty).is_err());
        assert!(Table::parse("key\n", "key\n").is_err());
    }
}
