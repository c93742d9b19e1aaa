//! Validating 10,000 brick paths (each six directories below a base directory): brickd's
//! validation through the brick engine against the same checks made with plain sequential
//! syscalls, the way glusterd's stage makes them.
//!
//! - `validate/engine`: `brick::validate::validate` on all 10,000 bricks at once (each
//!   directory of the walks probed once, in one bulk request; the engine runs a probe that big
//!   as syscalls on one thread per core, since the ring would hand every statx and getxattr to
//!   a kernel worker).
//! - `validate/engine-syscalls`: the same, with every engine opcode forced onto the
//!   plain-syscall fallback (the single requests of validation then never touch the ring).
//! - `validate/sequential`: per brick, as glusterd does: `lstat` the brick, its parent and `/`,
//!   then the path-in-use walk (`lgetxattr` of `trusted.gfid` and the volume-id with a 16-byte
//!   buffer at every level up to `/`), and the brick-root walk (`stat` of each level).
//! - `validate/sequential-dedup`: the sequential syscalls, but each directory read once.
//!
//! Needs root (trusted.* xattrs); prints why and does nothing otherwise. The tree is built once
//! under a temp dir on the file system of `BRICKD_BENCH_DIR` (default /var/tmp).

use brickd::brick::engine::{Engine, EngineConfig, Op};
use brickd::brick::host::HostMap;
use brickd::brick::validate::{self, Env, Request};
use brickd::model::Uuid;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::HashSet;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Bricks per iteration.
const BRICKS: usize = 10_000;
/// Fan-out of each of the four middle directory levels (10^4 = 10,000 leaves).
const FANOUT: usize = 10;

fn build_tree(base: &Path) -> Vec<String> {
    let mut bricks = Vec::with_capacity(BRICKS);
    for i in 0..BRICKS {
        let (a, b, c, d) = (i % FANOUT, (i / 10) % FANOUT, (i / 100) % FANOUT, i / 1000);
        let p = base.join(format!("l1/a{a}/b{b}/c{c}/d{d}/brick{i}"));
        std::fs::create_dir_all(&p).expect("create bench tree");
        bricks.push(format!("localhost:{}", p.display()));
    }
    bricks
}

fn lstat_dev(path: &CString, follow: bool) -> Option<u64> {
    // SAFETY: a valid C string and a zeroed stat buffer the call fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        if follow {
            libc::stat(path.as_ptr(), &mut st)
        } else {
            libc::lstat(path.as_ptr(), &mut st)
        }
    };
    (rc == 0).then_some(st.st_dev)
}

fn has_xattr(path: &CString, name: &CString) -> bool {
    let mut buf = [0u8; 16];
    // SAFETY: valid C strings and a 16-byte buffer.
    let rc = unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), 16) };
    rc >= 0
}

/// glusterd's stage checks for one brick, sequentially, with no caching. Returns whether the
/// brick is in use (so the work cannot be optimised away).
fn sequential_one(path: &str, names: &[CString; 2], seen: Option<&mut HashSet<String>>) -> bool {
    let levels: Vec<&str> = brickd::brick::spec::walk_up(path).collect();
    let c = |p: &str| CString::new(p).unwrap();
    let mut in_use = false;
    match seen {
        None => {
            let brick = c(path);
            let _ = lstat_dev(&brick, false);
            let _ = lstat_dev(&c(levels.get(1).copied().unwrap_or("/")), false);
            let _ = lstat_dev(&c("/"), false);
            for level in &levels {
                let lp = c(level);
                if names.iter().any(|n| has_xattr(&lp, n)) {
                    in_use = true;
                    break;
                }
            }
            for level in &levels {
                let _ = lstat_dev(&c(level), true);
            }
        }
        Some(seen) => {
            for level in &levels {
                if !seen.insert(level.to_string()) {
                    break;
                }
                let lp = c(level);
                let _ = lstat_dev(&lp, false);
                in_use |= names.iter().any(|n| has_xattr(&lp, n));
            }
        }
    }
    in_use
}

fn bench(c: &mut Criterion) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("brick bench skipped: trusted.* xattrs need root");
        return;
    }
    let base_dir: PathBuf = std::env::var_os("BRICKD_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    let dir = tempfile::Builder::new()
        .prefix("brickd-bench-")
        .tempdir_in(&base_dir)
        .expect("bench dir");
    let bricks = build_tree(dir.path());
    let paths: Vec<String> = bricks
        .iter()
        .map(|b| b.split_once(':').unwrap().1.to_string())
        .collect();
    let names = [
        CString::new(validate::GFID_XATTR).unwrap(),
        CString::new(validate::VOLUME_ID_XATTR).unwrap(),
    ];
    let req = Request {
        volname: "bench".into(),
        volume_id: Uuid::from_bytes([1; 16]),
        bricks: bricks.clone(),
        group: None,
        force: true,
        check_order: false,
    };
    let hosts = HostMap::from_system(&[]);
    let engine = Engine::start(EngineConfig::default()).expect("engine");
    let fallback = Engine::start(EngineConfig {
        force_fallback: Op::ALL.to_vec(),
        ..EngineConfig::default()
    })
    .expect("engine");
    let workdir = Path::new("/var/lib/brickd-bench-none");

    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BRICKS as u64));
    for (name, e) in [("engine", &engine), ("engine-syscalls", &fallback)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let report = futures_lite::future::block_on(validate::validate(
                    Env {
                        engine: e,
                        lvm: None,
                        hosts: &hosts,
                        peers: &[],
                        connected: &[],
                        workdir,
                        existing: &std::collections::BTreeSet::new(),
                    },
                    &req,
                ));
                assert_eq!(report.bricks.len(), BRICKS);
                report
            })
        });
    }
    group.bench_function("sequential", |b| {
        b.iter(|| {
            paths
                .iter()
                .filter(|p| sequential_one(p, &names, None))
                .count()
        })
    });
    group.bench_function("sequential-dedup", |b| {
        b.iter(|| {
            let mut seen = HashSet::new();
            paths
                .iter()
                .filter(|p| sequential_one(p, &names, Some(&mut seen)))
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
