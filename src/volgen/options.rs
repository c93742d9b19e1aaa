//! Volume options (`volume set` keys) and what they do to the graphs.
//!
//! glusterd turns a volume's options into xlator options in passes over its table of known
//! keys. In each pass it takes the keys in table order and uses the volume's value, or the
//! key's default when the volume has none, so keys with a default show up in every volfile
//! (`option lock-migration off`, `option threads 16`, …). Since an xlator's newest option is
//! printed first (see `graph`), the table order decides the option order in the volfile, and
//! the tables here keep glusterd's relative order.
//!
//! Three kinds of keys matter to the volfiles brickd renders:
//!
//! - [`PLAIN`]: the value becomes an option of every xlator of one type (`network.ping-timeout`
//!   → `ping-timeout` of each `protocol/client`). Applied last, after the graph is built. A few
//!   are for the self-heal daemon only (`cluster.self-heal-daemon` → `self-heal-daemon` of its
//!   replicate xlators); other graphs skip them.
//! - [`SPECIAL`]: log level, thread count and address authentication, which name their
//!   xlator option differently per graph (`diagnostics.brick-log-level` → `log-level` of the
//!   brick's io-stats only; `auth.allow` → `auth.addr.<brick path>.allow` of the server).
//!   Applied before the plain keys.
//! - [`PERF_XLATORS`]: switches that add a performance xlator to the client graph.
//!
//! Which graph sees which pass differs (see `common.rs` and the graph builders): the brick,
//! client, gfproxy and rebalance graphs get the special pass of their role and then the plain
//! pass over the whole graph; the self-heal daemon's graph gets the plain pass (with its own
//! keys) over its clients and sets only, and the special pass over its io-stats only.
//!
//! brickd supports a subset of glusterd's keys: those with defaults (they are in every volfile)
//! and the common tuning keys. A volume with another key that would change these volfiles is
//! refused ([`first_unsupported`]) rather than rendered differently from glusterd; keys that
//! only concern other daemons (NFS, bitrot scrubber, glusterd itself) or nothing (`user.*`)
//! are accepted and ignored, as glusterd ignores them here.

use std::collections::HashMap;
use std::fmt;

/// A key whose value (or default) becomes the option `option` of every xlator of type
/// `xl_type`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plain {
    pub(super) key: &'static str,
    pub(super) xl_type: &'static str,
    pub(super) option: &'static str,
    pub(super) default: Option<&'static str>,
    /// Only the self-heal daemon's graph takes this key (glusterd marks such keys with a `!`
    /// that only its self-heal pass strips); other graphs skip it.
    pub(super) self_heal_only: bool,
}

const fn plain(
    key: &'static str,
    xl_type: &'static str,
    option: &'static str,
    default: Option<&'static str>,
) -> Plain {
    Plain {
        key,
        xl_type,
        option,
        default,
        self_heal_only: false,
    }
}

/// A key only the self-heal daemon's graph applies (no default).
const fn self_heal_only(key: &'static str, xl_type: &'static str, option: &'static str) -> Plain {
    Plain {
        key,
        xl_type,
        option,
        default: None,
        self_heal_only: true,
    }
}

/// The plain keys whose rendering the option table does not say all of (a default written
/// when unset, a self-heal-only key, a key set on two xlator types), in glusterd's order.
/// [`plain_keys`] puts them with the table's other keys.
const KNOWN_PLAIN: &[Plain] = &[
    plain(
        "features.snapshot-directory",
        SNAPVIEW_CLIENT,
        "snapshot-directory",
        Some(".snaps"),
    ),
    plain(
        "features.show-snapshot-directory",
        SNAPVIEW_CLIENT,
        "show-snapshot-directory",
        Some("off"),
    ),
    plain("cluster.lookup-optimize", DHT, "lookup-optimize", None),
    plain("cluster.min-free-disk", DHT, "min-free-disk", None),
    plain("cluster.min-free-inodes", DHT, "min-free-inodes", None),
    plain("cluster.readdir-optimize", DHT, "readdir-optimize", None),
    plain("cluster.lock-migration", DHT, "lock-migration", Some("off")),
    plain(
        "cluster.force-migration",
        DHT,
        "force-migration",
        Some("off"),
    ),
    plain(
        "cluster.background-self-heal-count",
        AFR,
        "background-self-heal-count",
        None,
    ),
    plain(
        "cluster.metadata-self-heal",
        AFR,
        "metadata-self-heal",
        None,
    ),
    plain("cluster.data-self-heal", AFR, "data-self-heal", None),
    plain("cluster.entry-self-heal", AFR, "entry-self-heal", None),
    self_heal_only(SELF_HEAL_DAEMON_KEY, AFR, "self-heal-daemon"),
    self_heal_only(HEAL_TIMEOUT_KEY, AFR, "heal-timeout"),
    plain(
        "cluster.data-self-heal-algorithm",
        AFR,
        "data-self-heal-algorithm",
        None,
    ),
    plain("cluster.eager-lock", AFR, "eager-lock", None),
    plain("disperse.eager-lock", EC, "eager-lock", None),
    plain("cluster.quorum-type", AFR, "quorum-type", None),
    plain("cluster.quorum-count", AFR, "quorum-count", None),
    plain("cluster.choose-local", AFR, "choose-local", None),
    plain(
        "cluster.favorite-child-policy",
        AFR,
        "favorite-child-policy",
        None,
    ),
    plain(
        "diagnostics.latency-measurement",
        IO_STATS,
        "latency-measurement",
        Some("off"),
    ),
    plain(
        "diagnostics.count-fop-hits",
        IO_STATS,
        "count-fop-hits",
        Some("off"),
    ),
    plain("performance.cache-size", IO_CACHE, "cache-size", None),
    plain(
        "performance.io-thread-count",
        IO_THREADS,
        "thread-count",
        None,
    ),
    plain("performance.cache-size", QUICK_READ, "cache-size", None),
    plain(
        "performance.write-behind-window-size",
        WRITE_BEHIND,
        "cache-size",
        None,
    ),
    plain(
        "performance.strict-o-direct",
        WRITE_BEHIND,
        "strict-O_DIRECT",
        None,
    ),
    plain(
        "performance.md-cache-timeout",
        MD_CACHE,
        "md-cache-timeout",
        None,
    ),
    plain("network.frame-timeout", CLIENT, "frame-timeout", None),
    plain("network.ping-timeout", CLIENT, "ping-timeout", None),
    plain(
        "client.ssl",
        CLIENT,
        "transport.socket.ssl-enabled",
        Some("off"),
    ),
    plain("network.remote-dio", CLIENT, "filter-O_DIRECT", None),
    plain("client.event-threads", CLIENT, "event-threads", None),
    plain(
        "client.tcp-user-timeout",
        CLIENT,
        "transport.tcp-user-timeout",
        Some("0"),
    ),
    plain(
        "client.keepalive-time",
        CLIENT,
        "transport.socket.keepalive-time",
        Some("20"),
    ),
    plain(
        "client.keepalive-interval",
        CLIENT,
        "transport.socket.keepalive-interval",
        Some("2"),
    ),
    plain(
        "client.keepalive-count",
        CLIENT,
        "transport.socket.keepalive-count",
        Some("9"),
    ),
    plain("client.strict-locks", CLIENT, "strict-locks", Some("off")),
    plain("network.inode-lru-limit", SERVER, "inode-lru-limit", None),
    plain(
        "transport.keepalive",
        SERVER,
        "transport.socket.keepalive",
        Some("1"),
    ),
    plain(
        "server.allow-insecure",
        SERVER,
        "rpc-auth-allow-insecure",
        None,
    ),
    plain(
        "server.ssl",
        SERVER,
        "transport.socket.ssl-enabled",
        Some("off"),
    ),
    plain("server.manage-gids", SERVER, "manage-gids", None),
    plain("client.send-gids", CLIENT, "send-gids", None),
    plain("server.event-threads", SERVER, "event-threads", None),
    plain(
        "server.keepalive-time",
        SERVER,
        "transport.socket.keepalive-time",
        Some("20"),
    ),
    plain(
        "server.keepalive-interval",
        SERVER,
        "transport.socket.keepalive-interval",
        Some("2"),
    ),
    plain(
        "server.keepalive-count",
        SERVER,
        "transport.socket.keepalive-count",
        Some("9"),
    ),
    plain(
        "transport.listen-backlog",
        SERVER,
        "transport.listen-backlog",
        Some("1024"),
    ),
    plain(
        "performance.cache-invalidation",
        MD_CACHE,
        "cache-invalidation",
        None,
    ),
    plain(
        "features.quota-deem-statfs",
        QUOTA,
        "deem-statfs",
        Some("off"),
    ),
    plain("geo-replication.indexing", MARKER, "xtime", Some("off")),
    plain(
        "geo-replication.ignore-pid-check",
        MARKER,
        "gsync-force-xtime",
        Some("off"),
    ),
    plain("features.quota", MARKER, "quota", Some("off")),
    plain("features.inode-quota", MARKER, "inode-quota", Some("off")),
    plain("features.read-only", READ_ONLY, "read-only", None),
    plain("features.worm", WORM, "worm", Some("off")),
    plain(
        "features.worm-file-level",
        WORM,
        "worm-file-level",
        Some("off"),
    ),
    plain(
        "features.worm-files-deletable",
        WORM,
        "worm-files-deletable",
        Some("on"),
    ),
    plain("storage.owner-uid", POSIX, "brick-uid", None),
    plain("storage.owner-gid", POSIX, "brick-gid", None),
    plain(
        "storage.health-check-interval",
        POSIX,
        "health-check-interval",
        None,
    ),
    plain("storage.reserve", POSIX, "reserve", None),
    plain(
        "storage.fips-mode-rchecksum",
        POSIX,
        "fips-mode-rchecksum",
        None,
    ),
    plain("features.ctime", POSIX, "ctime", None),
    plain("changelog.changelog", CHANGELOG, "changelog", None),
    plain(
        "changelog.changelog-barrier-timeout",
        CHANGELOG,
        "changelog-barrier-timeout",
        Some("120"),
    ),
    plain("features.barrier", BARRIER, "barrier", Some("disable")),
    plain(
        "features.barrier-timeout",
        BARRIER,
        "barrier-timeout",
        Some("120"),
    ),
    plain("features.trash", TRASH, "trash", None),
    plain(
        "features.trash-max-filesize",
        TRASH,
        "trash-max-filesize",
        None,
    ),
    plain(DISPERSE_SELF_HEAL_DAEMON_KEY, EC, "self-heal-daemon", None),
    plain("features.shard-block-size", SHARD, "shard-block-size", None),
    plain(
        "features.cache-invalidation",
        UPCALL,
        "cache-invalidation",
        Some("off"),
    ),
    plain(
        "features.cache-invalidation-timeout",
        UPCALL,
        "cache-invalidation-timeout",
        None,
    ),
    plain("features.leases", LEASES, "leases", Some("off")),
    self_heal_only(HEAL_TIMEOUT_KEY, EC, "heal-timeout"),
    plain("cluster.shd-max-threads", AFR, "shd-max-threads", None),
    plain("cluster.locking-scheme", AFR, "locking-scheme", None),
    plain(
        "cluster.granular-entry-heal",
        AFR,
        "granular-entry-heal",
        None,
    ),
    plain(
        "cluster.use-compound-fops",
        AFR,
        "use-compound-fops",
        Some("off"),
    ),
    plain(
        "performance.parallel-readdir",
        READDIR_AHEAD,
        "parallel-readdir",
        Some("off"),
    ),
    plain(
        "performance.rda-request-size",
        READDIR_AHEAD,
        "rda-request-size",
        Some("131072"),
    ),
    plain(
        "performance.rda-cache-limit",
        READDIR_AHEAD,
        "rda-cache-limit",
        Some("10MB"),
    ),
    plain(
        "performance.nl-cache-limit",
        NL_CACHE,
        "nl-cache-limit",
        Some("10MB"),
    ),
    plain("features.selinux", SELINUX, "selinux", Some("on")),
    // The switches of xlators that a set adds: the probe saw the xlator come, not its option.
    plain(
        "features.tag-namespaces",
        "features/namespace",
        "tag-namespaces",
        None,
    ),
    plain("features.cloudsync", CLOUDSYNC, "cloudsync", None),
    plain(
        "features.cloudsync-remote-read",
        CLOUDSYNC,
        "cloudsync-remote-read",
        Some("off"),
    ),
    plain("ctime.noatime", UTIME, "noatime", Some("on")),
    plain(
        "features.enforce-mandatory-lock",
        LOCKS,
        "enforce-mandatory-lock",
        Some("off"),
    ),
    plain(
        "config.global-threading",
        IO_STATS,
        "global-threading",
        Some("off"),
    ),
    plain(
        "cluster.use-anonymous-inode",
        AFR,
        "use-anonymous-inode",
        Some("yes"),
    ),
];

/// Every plain key, in the option table's order (glusterd's): [`KNOWN_PLAIN`]'s entries at
/// their key's place, then each other key the table maps to an option of one xlator type
/// (`volopt::OptionDef::xlator_option_targets`), with no default (glusterd writes a default
/// only for keys of its table with a value, and those are the known ones: every default
/// volfile brickd renders matches glusterd's). Keys handled elsewhere (special, performance
/// switches, structural keys) are left out.
pub(super) fn plain_keys() -> &'static [Plain] {
    static PLAIN: std::sync::OnceLock<Vec<Plain>> = std::sync::OnceLock::new();
    PLAIN.get_or_init(|| {
        let table = crate::volopt::table();
        let mut out: Vec<Plain> = Vec::new();
        // How many rows of each key were placed: glusterd's table names a few keys twice
        // (`cluster.heal-timeout` for replicate and for disperse), and `volume get VOL all`
        // lists each at its place; the n-th known row of a key goes to its n-th place.
        let mut placed: std::collections::HashMap<&str, usize> = Default::default();
        let listed = table.volume_listing();
        let unlisted = table
            .options()
            .iter()
            .filter(|d| table.volume_listing().all(|l| l.key != d.key));
        for def in listed.chain(unlisted) {
            let n = placed.entry(def.key).or_insert(0);
            *n += 1;
            let mut known = KNOWN_PLAIN.iter().filter(|p| p.key == def.key);
            if known.clone().next().is_some() {
                out.extend(known.nth(*n - 1).copied());
                continue;
            }
            if *n > 1 || handled_elsewhere(def.key) {
                continue;
            }
            let mut targets: Vec<(&str, &str, bool)> = Vec::new();
            for (graph, xl_type, option) in def.xlator_option_targets() {
                match targets.iter_mut().find(|t| t.0 == xl_type && t.1 == option) {
                    Some(t) => t.2 &= graph == "shd",
                    None => targets.push((xl_type, option, graph == "shd")),
                }
            }
            for (xl_type, option, shd_only) in targets {
                out.push(Plain {
                    key: def.key,
                    xl_type,
                    option,
                    default: None,
                    self_heal_only: shd_only,
                });
            }
        }
        // Known rows the table does not place keep working, after the rest.
        for (i, p) in KNOWN_PLAIN.iter().enumerate() {
            let nth = KNOWN_PLAIN[..i].iter().filter(|q| q.key == p.key).count();
            if placed.get(p.key).copied().unwrap_or(0) <= nth {
                out.push(*p);
            }
        }
        out
    })
}

/// Keys whose rendering is not a plain option: the special pass, the performance switches,
/// keys read while building the graphs, xlators brickd does not generate, keys ignored.
fn handled_elsewhere(key: &str) -> bool {
    SPECIAL.iter().any(|s| s.key == key)
        || PERF_XLATORS.iter().any(|p| p.key == key)
        || UNSUPPORTED_WHEN_ON.contains(&key)
        || BUILD_KEYS.contains(&key)
        || IGNORED_KEYS.contains(&key)
        || BOOLEAN_KEYS.contains(&key)
}

/// Which graph a [`SPECIAL`] key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The brick graph.
    Brick,
    /// Client graphs.
    Client,
}

/// What a [`SPECIAL`] key sets.
#[derive(Debug, Clone, Copy)]
pub(super) enum SpecialTarget {
    /// An option of the io-stats xlator of the role's graph.
    IoStats(Role, &'static str),
    /// `auth.addr.<auth-path>.<verb>` of the brick's server xlator.
    ServerAuth(&'static str),
}

/// A key glusterd handles with a dedicated rule.
#[derive(Debug, Clone, Copy)]
pub(super) struct Special {
    pub(super) key: &'static str,
    pub(super) target: SpecialTarget,
    pub(super) default: Option<&'static str>,
}

const fn io_stats(
    key: &'static str,
    role: Role,
    option: &'static str,
    default: Option<&'static str>,
) -> Special {
    Special {
        key,
        target: SpecialTarget::IoStats(role, option),
        default,
    }
}

/// The special keys, in glusterd's order.
pub(super) const SPECIAL: &[Special] = &[
    io_stats(
        "diagnostics.brick-log-level",
        Role::Brick,
        "log-level",
        Some("INFO"),
    ),
    io_stats(
        "diagnostics.client-log-level",
        Role::Client,
        "log-level",
        Some("INFO"),
    ),
    io_stats(
        "diagnostics.brick-sys-log-level",
        Role::Brick,
        "sys-log-level",
        None,
    ),
    io_stats(
        "diagnostics.client-sys-log-level",
        Role::Client,
        "sys-log-level",
        None,
    ),
    io_stats("diagnostics.brick-logger", Role::Brick, "logger", None),
    io_stats("diagnostics.client-logger", Role::Client, "logger", None),
    io_stats(
        "diagnostics.brick-log-format",
        Role::Brick,
        "log-format",
        None,
    ),
    io_stats(
        "diagnostics.client-log-format",
        Role::Client,
        "log-format",
        None,
    ),
    io_stats(
        "diagnostics.brick-log-buf-size",
        Role::Brick,
        "log-buf-size",
        None,
    ),
    io_stats(
        "diagnostics.client-log-buf-size",
        Role::Client,
        "log-buf-size",
        None,
    ),
    io_stats(
        "diagnostics.brick-log-flush-timeout",
        Role::Brick,
        "log-flush-timeout",
        None,
    ),
    io_stats(
        "diagnostics.client-log-flush-timeout",
        Role::Client,
        "log-flush-timeout",
        None,
    ),
    Special {
        key: "auth.allow",
        target: SpecialTarget::ServerAuth("allow"),
        default: Some("*"),
    },
    Special {
        key: "auth.reject",
        target: SpecialTarget::ServerAuth("reject"),
        default: None,
    },
    io_stats("config.client-threads", Role::Client, "threads", Some("16")),
    io_stats("config.brick-threads", Role::Brick, "threads", Some("16")),
];

/// A switch that stacks a performance xlator on the client graph when on.
#[derive(Debug, Clone, Copy)]
pub(super) struct PerfXlator {
    pub(super) key: &'static str,
    pub(super) xl_type: &'static str,
    pub(super) default_on: bool,
}

const fn perf(key: &'static str, xl_type: &'static str, default_on: bool) -> PerfXlator {
    PerfXlator {
        key,
        xl_type,
        default_on,
    }
}

/// `cluster.self-heal-daemon`: whether replicate volumes' self-heal daemon heals (`enable`
/// unless set).
pub(super) const SELF_HEAL_DAEMON_KEY: &str = "cluster.self-heal-daemon";
/// `cluster.disperse-self-heal-daemon`, the same for disperse volumes. Unlike the replicate
/// key, glusterd applies it to every graph with a disperse xlator when set.
pub(super) const DISPERSE_SELF_HEAL_DAEMON_KEY: &str = "cluster.disperse-self-heal-daemon";
/// `cluster.heal-timeout`, the self-heal daemon's crawl interval.
const HEAL_TIMEOUT_KEY: &str = "cluster.heal-timeout";

/// `performance.write-behind`, the one performance switch that glusterd handles differently
/// for gfproxy graphs.
pub(super) const WRITE_BEHIND_KEY: &str = "performance.write-behind";

/// `performance.open-behind`, which needs a client op-version of 2.
pub(super) const OPEN_BEHIND_KEY: &str = "performance.open-behind";
/// The client op-version `open-behind` needs.
pub(super) const OPEN_BEHIND_CLIENT_OP_VERSION: u32 = 2;

/// The performance switches, in the order their xlators stack (bottom first).
pub(super) const PERF_XLATORS: &[PerfXlator] = &[
    perf(WRITE_BEHIND_KEY, WRITE_BEHIND, true),
    perf("performance.read-ahead", "performance/read-ahead", false),
    perf("performance.readdir-ahead", READDIR_AHEAD, false),
    perf("performance.io-cache", IO_CACHE, false),
    perf(OPEN_BEHIND_KEY, "performance/open-behind", true),
    perf("performance.quick-read", QUICK_READ, true),
    perf("performance.nl-cache", NL_CACHE, false),
    perf("performance.stat-prefetch", MD_CACHE, true),
    perf("performance.client-io-threads", IO_THREADS, true),
];

/// Keys that add an xlator brickd does not generate when they are on: the snapshot view needs
/// the snapshot daemon, which brickd does not run.
const UNSUPPORTED_WHEN_ON: &[&str] = &[];

/// The steps of the brick graph a debug key or a user xlator can name, from the top down
/// (glusterd's names for them; `arbiter`, `cdc`, `namespace` and `sdfs` count whether or not
/// the volume has that xlator).
pub(super) const BRICK_STEPS: &[&str] = &[
    "io-stats",
    "sdfs",
    "namespace",
    "cdc",
    "quota",
    "index",
    "barrier",
    "marker",
    "selinux",
    "io-threads",
    "upcall",
    "leases",
    "read-only",
    "worm",
    "locks",
    "access-control",
    "bitrot-stub",
    "changelog",
    "trash",
    "arbiter",
    "posix",
];

/// The keys of user xlators: `user.xlator.<name>` (the step to stack `user/<name>` on) and
/// `user.xlator.<name>.<…>.<option>` (an option for it).
pub(super) const USER_XLATOR_PREFIX: &str = "user.xlator.";

/// The debug keys, in glusterd's order, and the xlator each stacks.
pub(super) const DEBUG_XLATORS: &[(&str, &str)] = &[
    ("debug.trace", "debug/trace"),
    ("debug.error-gen", "debug/error-gen"),
    ("debug.delay-gen", "debug/delay-gen"),
];

/// Keys handled while building the graphs (beyond the tables).
const BUILD_KEYS: &[&str] = &[
    "transport.address-family",
    USS_KEY,
    "auth.ssl-allow",
    "features.bitrot",
    "features.acl",
    "features.ctime",
    "features.shard",
    "features.cloudsync",
    "features.sdfs",
    "features.tag-namespaces",
    "network.compression",
    "cluster.nufa",
    "cluster.switch",
    "debug.trace",
    "debug.error-gen",
    "debug.delay-gen",
];

/// Keys whose value glusterd must read as a boolean to build the graphs (it fails otherwise).
const BOOLEAN_KEYS: &[&str] = &[
    USS_KEY,
    "features.shard",
    "features.cloudsync",
    "features.tag-namespaces",
    "network.compression",
    "features.bitrot",
    "features.quota",
    "features.trash",
];

/// Keys that do not change any volfile brickd renders: other daemons' settings, glusterd's own,
/// and keys that only act on xlators these graphs never contain.
const IGNORED_KEYS: &[&str] = &[
    "nfs.disable",
    "features.scrub",
    "features.scrub-throttle",
    "features.scrub-freq",
    "features.expiry-time",
    "features.signer-threads",
    "config.transport",
    "config.memory-accounting",
    "config.gfproxyd",
    "ganesha.enable",
    "cluster.server-quorum-type",
    "cluster.server-quorum-ratio",
    "cluster.enable-shared-storage",
    "cluster.brick-multiplex",
    "cluster.brick-graceful-cleanup",
    "cluster.max-bricks-per-process",
    "cluster.daemon-log-level",
    "cluster.localtime-logging",
    "cluster.op-version",
    "cluster.max-op-version",
    "glusterd.vol_count_per_thread",
    "client.ta-brick-port",
    "performance.nfs.write-behind",
    "performance.nfs.read-ahead",
    "performance.nfs.io-cache",
    "performance.nfs.quick-read",
    "performance.nfs.stat-prefetch",
    "performance.nfs.io-threads",
];

/// Key prefixes that never change brick or client volfiles: gNFS settings. (User keys,
/// `user.*`, change none either, except `user.xlator.*`, which stacks user xlators on the
/// brick graph.)
const IGNORED_PREFIXES: &[&str] = &["nfs."];

pub(super) use crate::volopt::parse_bool;

/// A key brickd cannot render as glusterd would, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) key: String,
    pub(super) value: String,
    pub(super) problem: OptionProblem,
}

/// Why brickd refuses to render a volume option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionProblem {
    /// brickd does not know what the key does to the volfiles.
    Unknown,
    /// The key turns on an xlator brickd does not generate.
    Unsupported,
    /// The key needs a boolean and its value is not one.
    NotBoolean,
    /// A user xlator's position names no step of the brick graph.
    NoSuchStep,
}

impl fmt::Display for OptionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptionProblem::Unknown => "brickd does not know what this key does to the volfiles",
            OptionProblem::Unsupported => "it adds an xlator brickd does not generate",
            OptionProblem::NotBoolean => "the value is not a boolean",
            OptionProblem::NoSuchStep => {
                "the value names no step of the brick graph (posix, locks, io-stats, …)"
            }
        })
    }
}

/// The first option (in the volume's order) that brickd cannot render, if any.
pub(super) fn first_unsupported(options: &[(String, String)]) -> Option<Refusal> {
    options.iter().find_map(|(key, value)| {
        refusal_reason(key, value).map(|problem| Refusal {
            key: key.clone(),
            value: value.clone(),
            problem,
        })
    })
}

fn refusal_reason(key: &str, value: &str) -> Option<OptionProblem> {
    if let Some(name) = key.strip_prefix(USER_XLATOR_PREFIX) {
        // `user.xlator.<name> <step>` stacks `user/<name>` on a step of the brick graph;
        // glusterd fails its commit when the step is not one (brickd refuses at the stage).
        // `user.xlator.<name>.<option>` is an option for it, fine on its own.
        if !name.contains('.') && !BRICK_STEPS.contains(&value) {
            return Some(OptionProblem::NoSuchStep);
        }
        return None;
    }
    if UNSUPPORTED_WHEN_ON.contains(&key) {
        return switch_refusal(key, value);
    }
    let boolean = BOOLEAN_KEYS.contains(&key) || PERF_XLATORS.iter().any(|p| p.key == key);
    if boolean && parse_bool(value).is_none() {
        return Some(OptionProblem::NotBoolean);
    }
    if is_known(key) {
        None
    } else {
        Some(OptionProblem::Unknown)
    }
}

/// A switch for an unsupported xlator: fine when off. The `debug.*` switches name the xlator
/// to trace (or `off`) rather than take a boolean.
fn switch_refusal(key: &str, value: &str) -> Option<OptionProblem> {
    match parse_bool(value) {
        Some(false) => None,
        Some(true) => Some(OptionProblem::Unsupported),
        None if key.starts_with("debug.") => Some(OptionProblem::Unsupported),
        None => Some(OptionProblem::NotBoolean),
    }
}

fn is_known(key: &str) -> bool {
    key.starts_with("user.")
        || plain_keys().iter().any(|p| p.key == key)
        || SPECIAL.iter().any(|s| s.key == key)
        || PERF_XLATORS.iter().any(|p| p.key == key)
        || BUILD_KEYS.contains(&key)
        || IGNORED_KEYS.contains(&key)
        || IGNORED_PREFIXES.iter().any(|p| key.starts_with(p))
        || changes_no_volfile(key)
}

/// A key the option table knows and whose set changed none of glusterd's volfiles
/// (`xlator_options` `-`: it matters to an xlator brickd does not generate, to another
/// daemon, or to glusterd alone).
fn changes_no_volfile(key: &str) -> bool {
    crate::volopt::table()
        .get(key)
        .is_some_and(|d| matches!(d.xlator_options, "-" | ""))
}

/// The options glusterd builds a graph with (its "set dict"): the volume's options, plus the
/// keys the client graph adds on the fly.
#[derive(Debug, Clone, Default)]
pub(super) struct SetDict {
    values: HashMap<String, String>,
}

impl SetDict {
    /// The volume's options; a key written twice keeps its last value, as glusterd's dict does
    /// when it reads the `info` file.
    pub(super) fn from_options(options: &[(String, String)]) -> SetDict {
        SetDict {
            values: options.iter().cloned().collect(),
        }
    }

    /// The value set for a key.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Sets a key (overriding the volume's value).
    pub(super) fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_owned(), value.to_owned());
    }

    /// The value of a boolean key: `Ok(None)` if not set, an error naming the key if set to
    /// something that is not a boolean.
    pub(super) fn get_bool(&self, key: &str) -> Result<Option<bool>, (String, String)> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => parse_bool(value)
                .map(Some)
                .ok_or_else(|| (key.to_owned(), value.to_owned())),
        }
    }

    /// The value for a key, falling back on its default in the tables (glusterd's
    /// `glusterd_volinfo_get`).
    pub(super) fn get_or_default(&self, key: &str) -> Option<&str> {
        self.get(key).or_else(|| default_of(key))
    }
}

/// The default of a key in the tables, if it has one.
fn default_of(key: &str) -> Option<&'static str> {
    plain_keys()
        .iter()
        .filter(|p| p.key == key)
        .find_map(|p| p.default)
        .or_else(|| {
            SPECIAL
                .iter()
                .find(|s| s.key == key)
                .and_then(|s| s.default)
        })
}

/// Xlator types, as the volfiles spell them.
pub(super) const POSIX: &str = "storage/posix";
pub(super) const TRASH: &str = "features/trash";
pub(super) const CHANGELOG: &str = "features/changelog";
pub(super) const LOCKS: &str = "features/locks";
pub(super) const WORM: &str = "features/worm";
pub(super) const READ_ONLY: &str = "features/read-only";
pub(super) const LEASES: &str = "features/leases";
pub(super) const UPCALL: &str = "features/upcall";
pub(super) const SELINUX: &str = "features/selinux";
pub(super) const MARKER: &str = "features/marker";
pub(super) const BARRIER: &str = "features/barrier";
pub(super) const QUOTA: &str = "features/quota";
pub(super) const SHARD: &str = "features/shard";
pub(super) const UTIME: &str = "features/utime";
pub(super) const QUIESCE: &str = "features/quiesce";
pub(super) const CDC: &str = "features/cdc";
pub(super) const CLOUDSYNC: &str = "features/cloudsync";
pub(super) const IO_STATS: &str = "debug/io-stats";
pub(super) const SNAPVIEW_CLIENT: &str = "features/snapview-client";
pub(super) const SNAPVIEW_SERVER: &str = "features/snapview-server";

/// `features.uss`: user-serviceable snapshots, a snapview-client on every client graph (its
/// second child the snapshot daemon) and the snapshot daemon itself.
pub(super) const USS_KEY: &str = "features.uss";
pub(super) const SERVER: &str = "protocol/server";
pub(super) const CLIENT: &str = "protocol/client";
pub(super) const DHT: &str = "cluster/distribute";
pub(super) const AFR: &str = "cluster/replicate";
pub(super) const EC: &str = "cluster/disperse";
pub(super) const WRITE_BEHIND: &str = "performance/write-behind";
pub(super) const READDIR_AHEAD: &str = "performance/readdir-ahead";
pub(super) const IO_CACHE: &str = "performance/io-cache";
pub(super) const QUICK_READ: &str = "performance/quick-read";
pub(super) const NL_CACHE: &str = "performance/nl-cache";
pub(super) const MD_CACHE: &str = "performance/md-cache";
pub(super) const IO_THREADS: &str = "performance/io-threads";

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn booleans_read_like_glusterd() {
        assert_eq!(parse_bool("ON"), Some(true));
        assert_eq!(parse_bool("enable"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("Disable"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn the_fixture_options_are_all_supported() {
        let options = opts(&[
            ("user.brickd.note", "a=b=c"),
            ("diagnostics.brick-log-level", "WARNING"),
            ("features.read-only", "on"),
            ("auth.allow", "192.0.2.*"),
            ("performance.cache-size", "64MB"),
            ("storage.fips-mode-rchecksum", "on"),
            ("transport.address-family", "inet"),
            ("nfs.disable", "on"),
            ("cluster.granular-entry-heal", "on"),
            ("performance.client-io-threads", "off"),
        ]);
        assert_eq!(first_unsupported(&options), None);
    }

    #[test]
    fn unknown_keys_and_unsupported_xlators_are_refused() {
        let unknown = first_unsupported(&opts(&[("cluster.made-up-key", "x")]));
        assert_eq!(unknown.map(|r| r.problem), Some(OptionProblem::Unknown));
        assert_eq!(first_unsupported(&opts(&[("features.uss", "on")])), None);
        let uss = first_unsupported(&opts(&[("features.uss", "maybe")]));
        assert_eq!(uss.map(|r| r.problem), Some(OptionProblem::NotBoolean));
        assert_eq!(first_unsupported(&opts(&[("debug.trace", "posix")])), None);
        let cdc = first_unsupported(&opts(&[("network.compression", "maybe")]));
        assert_eq!(cdc.map(|r| r.problem), Some(OptionProblem::NotBoolean));
        assert_eq!(
            first_unsupported(&opts(&[("user.xlator.foo", "posix")])),
            None
        );
        assert_eq!(
            first_unsupported(&opts(&[("user.xlator.foo.a", "1")])),
            None
        );
        let xl = first_unsupported(&opts(&[("user.xlator.foo", "nosuch")]));
        assert_eq!(xl.map(|r| r.problem), Some(OptionProblem::NoSuchStep));
        // An option of a user xlator takes any value, a step's name or not.
        assert_eq!(
            first_unsupported(&opts(&[("user.xlator.foo.step", "x")])),
            None
        );
        let perf = first_unsupported(&opts(&[("performance.quick-read", "sometimes")]));
        assert_eq!(perf.map(|r| r.problem), Some(OptionProblem::NotBoolean));
    }

    #[test]
    fn defaults_come_from_the_tables() {
        let dict = SetDict::from_options(&opts(&[("features.quota", "on")]));
        assert_eq!(dict.get_or_default("features.quota"), Some("on"));
        assert_eq!(dict.get_or_default("features.inode-quota"), Some("off"));
        assert_eq!(dict.get_or_default("auth.allow"), Some("*"));
        assert_eq!(dict.get_or_default("features.trash"), None);
    }
}
