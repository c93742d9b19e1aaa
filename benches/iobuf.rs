//! The iobuf arena against the system allocator (this binary uses Rust's default global
//! allocator, i.e. glibc malloc), for every size class.
//!
//! - `single/{arena,malloc}/<bytes>`: take one buffer, write one byte, drop it.
//! - `batch64/{arena,malloc}/<bytes>`: take 64 buffers (writing one byte into each), then drop
//!   them all, as a shard does when it reads a burst of records before replying.
//! - `touch/{arena,malloc}/<bytes>`: like `single`, but write one byte per 4 KiB page, as a
//!   reply or a read that fills the buffer does; fresh mmap'd memory pays a page fault per page.
//!
//! The arena runs in steady state (its free lists already hold the buffers), which is the
//! case it is built for. Results and their reading are in `docs/iobuf.md`.

use std::hint::black_box;

use brickd::iobuf::{Arena, ArenaConfig, SIZE_CLASSES};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Buffers taken before any is dropped in the batch benchmarks.
const BATCH_LEN: usize = 64;

/// Page size assumed by the `touch` benchmarks.
const PAGE_BYTES: usize = 4096;

/// An arena whose free lists hold a whole batch in every class, so the batch benchmark measures
/// the steady state rather than the bounds (the default keeps only 2 × 1 MiB).
fn batch_arena() -> std::rc::Rc<Arena> {
    Arena::new(ArenaConfig {
        pooled_per_class_max: [BATCH_LEN; SIZE_CLASSES.len()],
    })
}

fn single(c: &mut Criterion) {
    let mut group = c.benchmark_group("single");
    group.throughput(Throughput::Elements(1));
    let arena = Arena::new(ArenaConfig::default());
    for bytes in SIZE_CLASSES {
        drop(arena.get(bytes)); // warm the free list
        group.bench_with_input(BenchmarkId::new("arena", bytes), &bytes, |b, &bytes| {
            b.iter(|| {
                let mut buf = arena.get(black_box(bytes));
                buf.push(1);
                black_box(&mut *buf);
            })
        });
        group.bench_with_input(BenchmarkId::new("malloc", bytes), &bytes, |b, &bytes| {
            b.iter(|| {
                let mut buf = Vec::<u8>::with_capacity(black_box(bytes));
                buf.push(1);
                black_box(&mut buf);
            })
        });
    }
    group.finish();
}

fn batch64(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch64");
    group.throughput(Throughput::Elements(BATCH_LEN as u64));
    let arena = batch_arena();
    let mut arena_bufs = Vec::with_capacity(BATCH_LEN);
    let mut malloc_bufs: Vec<Vec<u8>> = Vec::with_capacity(BATCH_LEN);
    for bytes in SIZE_CLASSES {
        arena_bufs.extend((0..BATCH_LEN).map(|_| arena.get(bytes)));
        arena_bufs.clear(); // warm the free list with a whole batch
        group.bench_with_input(BenchmarkId::new("arena", bytes), &bytes, |b, &bytes| {
            b.iter(|| {
                for _ in 0..BATCH_LEN {
                    let mut buf = arena.get(black_box(bytes));
                    buf.push(1);
                    arena_bufs.push(buf);
                }
                black_box(&mut arena_bufs);
                arena_bufs.clear();
            })
        });
        group.bench_with_input(BenchmarkId::new("malloc", bytes), &bytes, |b, &bytes| {
            b.iter(|| {
                for _ in 0..BATCH_LEN {
                    let mut buf = Vec::<u8>::with_capacity(black_box(bytes));
                    buf.push(1);
                    malloc_bufs.push(buf);
                }
                black_box(&mut malloc_bufs);
                malloc_bufs.clear();
            })
        });
    }
    group.finish();
}

/// Writes one byte in every page of `buf`'s capacity.
fn touch_pages(buf: &mut Vec<u8>) {
    let capacity = buf.capacity();
    buf.resize(1, 0);
    let spare = buf.spare_capacity_mut();
    for page_start in (PAGE_BYTES..capacity).step_by(PAGE_BYTES) {
        spare[page_start - 1].write(1);
    }
    black_box(buf);
}

fn touch(c: &mut Criterion) {
    let mut group = c.benchmark_group("touch");
    group.throughput(Throughput::Elements(1));
    let arena = Arena::new(ArenaConfig::default());
    for bytes in SIZE_CLASSES {
        drop(arena.get(bytes));
        group.bench_with_input(BenchmarkId::new("arena", bytes), &bytes, |b, &bytes| {
            b.iter(|| touch_pages(&mut arena.get(black_box(bytes))))
        });
        group.bench_with_input(BenchmarkId::new("malloc", bytes), &bytes, |b, &bytes| {
            b.iter(|| touch_pages(&mut Vec::with_capacity(black_box(bytes))))
        });
    }
    group.finish();
}

criterion_group!(benches, single, batch64, touch);
criterion_main!(benches);
