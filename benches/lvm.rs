//! Claiming 10 bricks that share one volume group: tag changes through the LVM helper against
//! one `vgchange` process per brick, the way glusterd's `glusterd_is_brick_lvm_*` style shell
//! outs would do it.
//!
//! - `claim_10/helper`: one `LvmClient::change_tags` adding 10 tags (one `lvm2_run`, one
//!   metadata commit, no process start).
//! - `claim_10/exec`: ten `vgchange --addtag <tag> <vg>` executions (ten processes, ten
//!   commits).
//! - `add_delete/helper`: one `change_tags` adding one tag and deleting another.
//! - `add_delete/exec`: `vgchange --addtag` then `vgchange --deltag`.
//!
//! Only the changes are timed; the tags are removed again, untimed, between iterations. At the
//! end the medians are printed side by side with their ratio. Needs root and the lvm2 tools
//! (a VG on a loop device); prints why and does nothing otherwise.

#[path = "../tests/lvm_fixture/mod.rs"]
mod lvm_fixture;

use brickd::lvm::{LvmClient, LvmConfig};
use criterion::Criterion;
use futures_lite::future::block_on;
use lvm_fixture::{run, unavailable, ScratchVg};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Bricks claimed per iteration of `claim_10`.
const BRICKS: usize = 10;
/// Rounds of the side-by-side summary.
const SUMMARY_ROUNDS: usize = 7;

struct Bench {
    vg: ScratchVg,
    lvm: LvmClient,
    tags: Vec<String>,
    /// Whether the VG has `brickd.bench.a` (else `brickd.bench.b`).
    has_a: Cell<bool>,
}

impl Bench {
    fn claim_helper(&self) -> Duration {
        let started = Instant::now();
        block_on(self.lvm.change_tags(&self.vg.name, &self.tags, &[])).expect("claim");
        let took = started.elapsed();
        self.release();
        took
    }

    fn claim_exec(&self) -> Duration {
        let started = Instant::now();
        for tag in &self.tags {
            run("vgchange", &["-q", "--addtag", tag, &self.vg.name]);
        }
        let took = started.elapsed();
        self.release();
        took
    }

    fn release(&self) {
        block_on(self.lvm.change_tags(&self.vg.name, &[], &self.tags)).expect("release");
    }

    /// Replaces tag `a` by `b` or back, so every call changes the VG.
    fn swap_helper(&self) -> Duration {
        let (add, delete) = self.swap_tags();
        let started = Instant::now();
        block_on(
            self.lvm
                .change_tags(&self.vg.name, &[add.into()], &[delete.into()]),
        )
        .expect("swap");
        started.elapsed()
    }

    fn swap_exec(&self) -> Duration {
        let (add, delete) = self.swap_tags();
        let started = Instant::now();
        run("vgchange", &["-q", "--addtag", add, &self.vg.name]);
        run("vgchange", &["-q", "--deltag", delete, &self.vg.name]);
        started.elapsed()
    }

    fn swap_tags(&self) -> (&'static str, &'static str) {
        let has_a = self.has_a.get();
        self.has_a.set(!has_a);
        if has_a {
            ("brickd.bench.b", "brickd.bench.a")
        } else {
            ("brickd.bench.a", "brickd.bench.b")
        }
    }
}

fn timed(iters: u64, mut one: impl FnMut() -> Duration) -> Duration {
    (0..iters).map(|_| one()).sum()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    if let Some(reason) = unavailable() {
        eprintln!("lvm bench skipped: {reason}");
        return;
    }
    let vg = ScratchVg::create();
    let lvm = LvmClient::start(LvmConfig {
        helper_exe: env!("CARGO_BIN_EXE_brickd").into(),
        timeout: Duration::from_secs(30),
    })
    .expect("start the LVM helper");
    let tags = (0..BRICKS)
        .map(|brick| {
            brickd::lvm::volume_tag(&format!("6e8a3f4c-1b2d-4e5f-8a9b-0c1d2e3f4a{brick:02x}"))
        })
        .collect();
    let bench = Bench {
        vg,
        lvm,
        tags,
        has_a: Cell::new(true),
    };
    bench.vg.add_tags_with_cli(&["brickd.bench.a"]);

    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    {
        let mut group = criterion.benchmark_group("claim_10");
        group.bench_function("helper", |b| {
            b.iter_custom(|n| timed(n, || bench.claim_helper()))
        });
        group.bench_function("exec", |b| {
            b.iter_custom(|n| timed(n, || bench.claim_exec()))
        });
        group.finish();
    }
    {
        let mut group = criterion.benchmark_group("add_delete");
        group.bench_function("helper", |b| {
            b.iter_custom(|n| timed(n, || bench.swap_helper()))
        });
        group.bench_function("exec", |b| {
            b.iter_custom(|n| timed(n, || bench.swap_exec()))
        });
        group.finish();
    }
    criterion.final_summary();

    let claim_helper = median((0..SUMMARY_ROUNDS).map(|_| bench.claim_helper()).collect());
    let claim_exec = median((0..SUMMARY_ROUNDS).map(|_| bench.claim_exec()).collect());
    let swap_helper = median((0..SUMMARY_ROUNDS).map(|_| bench.swap_helper()).collect());
    let swap_exec = median((0..SUMMARY_ROUNDS).map(|_| bench.swap_exec()).collect());
    println!("\nmedian of {SUMMARY_ROUNDS} rounds       helper        exec   exec/helper");
    for (name, helper, exec) in [
        ("claim 10 bricks", claim_helper, claim_exec),
        ("add+delete pair", swap_helper, swap_exec),
    ] {
        println!(
            "{name:<26} {:>8.1} ms {:>8.1} ms {:>10.1}x",
            helper.as_secs_f64() * 1e3,
            exec.as_secs_f64() * 1e3,
            exec.as_secs_f64() / helper.as_secs_f64()
        );
    }
}
