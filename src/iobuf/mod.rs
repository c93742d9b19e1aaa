//! Per-shard buffer arenas in glusterfs's iobuf size classes (128 B … 1 MiB).
//!
//! This module owns the buffers a shard reads records into and encodes replies into: one
//! [`Arena`] per shard, one bounded free list per size class, and the counters the statedump
//! prints ([`ArenaStats`]). A request takes an [`IoBuf`] of the smallest class that holds it
//! with [`Arena::get`]; dropping the `IoBuf` puts it back on its class's free list, so a shard
//! in steady state serves every buffer from memory it already owns and allocates nothing.
//!
//! What it must not do:
//!
//! - **No sharing between shards.** An arena is single-threaded: it uses `Cell`/`RefCell`,
//!   lives in an [`Rc`], and an `IoBuf` holds a [`Weak`] to it, so neither is `Send`. A buffer
//!   that has to travel to another shard is copied into that shard's arena, never moved.
//! - **No locks, no I/O, no logging** on the get/put path.
//! - **No refusing.** The arena never says no: requests above 1 MiB are plain allocations
//!   counted as "large", and a buffer returned to a full free list is simply freed. Limits on
//!   what a peer may make us allocate (the record size, see `shared/DESIGN.md`) are enforced by
//!   the callers *before* they ask for a buffer.
//!
//! The design, the size-class bounds and the benchmark figures against glibc malloc are in
//! `docs/iobuf.md`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::rc::{Rc, Weak};

/// The buffer size classes, in bytes: glusterfs's `gf_iobuf_init_config` page sizes.
///
/// A request is served from the smallest class at least as large as the request; anything
/// above the last class (1 MiB) is a "large" allocation outside the arena.
pub const SIZE_CLASSES: [usize; 8] = [128, 512, 2048, 8192, 32768, 131072, 262144, 1048576];

/// Number of size classes.
const CLASS_COUNT: usize = SIZE_CLASSES.len();

/// Default free-list bound per class: glusterfs's `num_pages` per page size, so a brickd shard
/// keeps at most as much idle memory as one glusterfs iobuf pool (about 12.4 MiB).
const DEFAULT_POOLED_PER_CLASS_MAX: [usize; CLASS_COUNT] = [1024, 512, 512, 128, 64, 32, 8, 2];

/// How an [`Arena`] bounds the memory it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaConfig {
    /// For each entry of [`SIZE_CLASSES`], the most idle buffers its free list keeps; a buffer
    /// returned to a full list is freed. The free lists are reserved at this length up front
    /// (one `Vec` header, 24 bytes, per slot) so returning a buffer never allocates. Zero
    /// disables pooling for that class.
    pub pooled_per_class_max: [usize; CLASS_COUNT],
}

impl Default for ArenaConfig {
    /// glusterfs's own bounds: 1024 × 128 B, 512 × 512 B, 512 × 2 KiB, 128 × 8 KiB,
    /// 64 × 32 KiB, 32 × 128 KiB, 8 × 256 KiB, 2 × 1 MiB (at most 12.4 MiB idle per shard).
    fn default() -> Self {
        ArenaConfig {
            pooled_per_class_max: DEFAULT_POOLED_PER_CLASS_MAX,
        }
    }
}

/// `CLASS_BY_CEIL_LOG2[k]` is the index of the smallest class holding `1 << k` bytes. Every class
/// is a power of two, so the smallest class holding `bytes` is the smallest class holding
/// `bytes` rounded up to a power of two: a table lookup instead of a search.
const CLASS_BY_CEIL_LOG2: [u8; CLASS_LOG2_MAX + 1] = class_by_ceil_log2();

/// log2 of the largest class.
const CLASS_LOG2_MAX: usize = SIZE_CLASSES[CLASS_COUNT - 1].trailing_zeros() as usize;

const fn class_by_ceil_log2() -> [u8; CLASS_LOG2_MAX + 1] {
    let mut table = [0u8; CLASS_LOG2_MAX + 1];
    let mut log2 = 0;
    while log2 <= CLASS_LOG2_MAX {
        let mut class = 0;
        while SIZE_CLASSES[class] < 1 << log2 {
            class += 1;
        }
        table[log2] = class as u8;
        log2 += 1;
    }
    table
}

const _: () = {
    let mut class = 0;
    while class < CLASS_COUNT {
        assert!(
            SIZE_CLASSES[class].is_power_of_two(),
            "size classes are powers of two"
        );
        assert!(
            class == 0 || SIZE_CLASSES[class - 1] < SIZE_CLASSES[class],
            "sorted"
        );
        class += 1;
    }
};

/// The index in [`SIZE_CLASSES`] of the smallest class holding `bytes`, or `CLASS_COUNT` when
/// `bytes` is above every class (a large allocation).
#[inline]
fn class_index(bytes: usize) -> usize {
    // ceil(log2(bytes)), with 0 and 1 both giving 0.
    let ceil_log2 = (usize::BITS - bytes.saturating_sub(1).leading_zeros()) as usize;
    match CLASS_BY_CEIL_LOG2.get(ceil_log2) {
        Some(&class) => usize::from(class),
        None => CLASS_COUNT,
    }
}

/// One size class: its free list and its counters.
#[derive(Debug)]
struct ClassPool {
    /// Idle buffers, all of exactly this class's capacity; their contents are stale until `take`
    /// clears them. Capacity is reserved at `pooled_max` and the length never exceeds it, so
    /// pushing never allocates. Borrowed only inside `take`/`put`/`stats`, which call nothing
    /// that could reach the arena again, so a borrow can never overlap another.
    free: RefCell<Vec<Vec<u8>>>,
    pooled_max: usize,
    hits: Cell<u64>,
    misses: Cell<u64>,
    in_use: Cell<usize>,
    high_water: Cell<usize>,
}

impl ClassPool {
    fn new(pooled_max: usize) -> Self {
        ClassPool {
            free: RefCell::new(Vec::with_capacity(pooled_max)),
            pooled_max,
            hits: Cell::new(0),
            misses: Cell::new(0),
            in_use: Cell::new(0),
            high_water: Cell::new(0),
        }
    }

    /// Takes an idle buffer of class `class`, or allocates one.
    #[inline]
    fn take(&self, class: usize) -> Vec<u8> {
        let pooled = self.free.borrow_mut().pop();
        let vec = match pooled {
            Some(mut vec) => {
                self.hits.set(self.hits.get() + 1);
                // Cleared here rather than on the way in: the length is then known to be zero
                // without reading it back from the slot `put` has just written.
                vec.clear();
                vec
            }
            None => self.allocate(class),
        };
        let in_use = self.in_use.get() + 1;
        self.in_use.set(in_use);
        if in_use > self.high_water.get() {
            self.high_water.set(in_use);
        }
        vec
    }

    #[cold]
    #[inline(never)]
    fn allocate(&self, class: usize) -> Vec<u8> {
        self.misses.set(self.misses.get() + 1);
        Vec::with_capacity(SIZE_CLASSES[class])
    }

    /// Takes back a buffer of class `class`: pools it if it still has exactly the class's
    /// capacity and the free list has room; otherwise leaves it in `vec` for the caller to
    /// free.
    #[inline]
    fn put(&self, class: usize, vec: &mut Vec<u8>) {
        self.in_use.set(self.in_use.get() - 1);
        if vec.capacity() != SIZE_CLASSES[class] {
            // Grown (or shrunk, or replaced) past its class: it has left the class and is
            // freed, so the free list only ever holds buffers of the class's exact size.
            return;
        }
        let mut free = self.free.borrow_mut();
        if free.len() < self.pooled_max {
            free.push(std::mem::take(vec));
        }
    }

    fn stats(&self, class: usize) -> ClassStats {
        ClassStats {
            class_bytes: SIZE_CLASSES[class],
            hits: self.hits.get(),
            misses: self.misses.get(),
            in_use: self.in_use.get(),
            high_water: self.high_water.get(),
            pooled: self.free.borrow().len(),
            pooled_max: self.pooled_max,
        }
    }
}

/// One shard's buffer arena: a bounded free list per entry of [`SIZE_CLASSES`].
///
/// Single-threaded by design (see the module documentation): create one per shard with
/// [`Arena::new`] and hand out buffers with [`Arena::get`].
///
/// ```
/// use brickd::iobuf::{Arena, ArenaConfig};
///
/// let arena = Arena::new(ArenaConfig::default());
/// let mut reply = arena.get(300);
/// assert_eq!(reply.class_bytes(), Some(512));
/// reply.extend_from_slice(b"encoded reply");
/// drop(reply); // back on the 512-byte free list
/// assert_eq!(arena.stats().classes[1].pooled, 1);
/// ```
#[derive(Debug)]
pub struct Arena {
    classes: [ClassPool; CLASS_COUNT],
    large_allocations: Cell<u64>,
    large_in_use: Cell<usize>,
}

impl Arena {
    /// Creates an empty arena bounded by `config`. Buffers are allocated on first use, not up
    /// front; only the free lists' slots are reserved.
    pub fn new(config: ArenaConfig) -> Rc<Arena> {
        Rc::new(Arena {
            classes: config.pooled_per_class_max.map(ClassPool::new),
            large_allocations: Cell::new(0),
            large_in_use: Cell::new(0),
        })
    }

    /// A buffer that can hold `bytes` without growing: empty (`len() == 0`), with the capacity
    /// of the smallest class at least `bytes` (so `get(0)` is a 128-byte buffer).
    ///
    /// Served from the class's free list when it has a buffer (a hit, no allocation), else
    /// allocated (a miss). Above 1 MiB it is a plain `Vec::with_capacity(bytes)` from the global
    /// allocator, counted as a large allocation and never pooled. The caller bounds `bytes`.
    #[inline]
    pub fn get(self: &Rc<Self>, bytes: usize) -> IoBuf {
        let class = class_index(bytes);
        let vec = match self.classes.get(class) {
            Some(pool) => pool.take(class),
            None => self.allocate_large(bytes),
        };
        IoBuf {
            vec,
            class,
            arena: Rc::downgrade(self),
        }
    }

    #[cold]
    #[inline(never)]
    fn allocate_large(&self, bytes: usize) -> Vec<u8> {
        self.large_allocations.set(self.large_allocations.get() + 1);
        self.large_in_use.set(self.large_in_use.get() + 1);
        Vec::with_capacity(bytes)
    }

    /// Takes back a buffer of class index `class` (`CLASS_COUNT` for large); whatever is left
    /// in `vec` afterwards is freed by the caller.
    #[inline]
    fn put(&self, class: usize, vec: &mut Vec<u8>) {
        match self.classes.get(class) {
            Some(pool) => pool.put(class, vec),
            None => self.large_in_use.set(self.large_in_use.get() - 1),
        }
    }

    /// A snapshot of the counters, for the statedump (see its `Display`).
    pub fn stats(&self) -> ArenaStats {
        ArenaStats {
            classes: std::array::from_fn(|class| self.classes[class].stats(class)),
            large_allocations: self.large_allocations.get(),
            large_in_use: self.large_in_use.get(),
        }
    }
}

/// Counters of one size class, as of [`Arena::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassStats {
    /// The class's buffer size, an entry of [`SIZE_CLASSES`].
    pub class_bytes: usize,
    /// Buffers served from the free list (no allocation).
    pub hits: u64,
    /// Buffers that had to be allocated because the free list was empty.
    pub misses: u64,
    /// Buffers handed out and not yet dropped.
    pub in_use: usize,
    /// The largest `in_use` seen since the arena was created.
    pub high_water: usize,
    /// Idle buffers on the free list now.
    pub pooled: usize,
    /// The free list's bound, from [`ArenaConfig::pooled_per_class_max`].
    pub pooled_max: usize,
}

/// A snapshot of an arena's counters. Its `Display` is the arena's statedump block: one
/// `key=value` line per counter, such as `iobuf.class.2048.hits=17`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaStats {
    /// One entry per [`SIZE_CLASSES`] entry, in the same order.
    pub classes: [ClassStats; CLASS_COUNT],
    /// Buffers above the largest class allocated since the arena was created.
    pub large_allocations: u64,
    /// Large buffers handed out and not yet dropped.
    pub large_in_use: usize,
}

impl fmt::Display for ArenaStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for class in &self.classes {
            let bytes = class.class_bytes;
            writeln!(f, "iobuf.class.{bytes}.hits={}", class.hits)?;
            writeln!(f, "iobuf.class.{bytes}.misses={}", class.misses)?;
            writeln!(f, "iobuf.class.{bytes}.in_use={}", class.in_use)?;
            writeln!(f, "iobuf.class.{bytes}.high_water={}", class.high_water)?;
            writeln!(f, "iobuf.class.{bytes}.pooled={}", class.pooled)?;
            writeln!(f, "iobuf.class.{bytes}.pooled_max={}", class.pooled_max)?;
        }
        writeln!(f, "iobuf.large.allocations={}", self.large_allocations)?;
        writeln!(f, "iobuf.large.in_use={}", self.large_in_use)
    }
}

/// A buffer from an [`Arena`]: a `Vec<u8>` that goes back to its arena's free list on drop.
///
/// It dereferences to the `Vec<u8>`, so encoders write straight into it
/// (`XdrWriter::new(&mut *buf)`). Writing past the class capacity is allowed — the `Vec`
/// simply grows — but a buffer whose capacity is no longer its class's size has left its class:
/// on drop it is freed instead of pooled, and `in_use` is decremented as for any other drop, so
/// the counters stay exact. Replacing the `Vec` through `DerefMut` is treated the same way.
///
/// On drop the buffer goes back to its class's free list (it is cleared when next taken) if the
/// arena still exists and the list is not full; otherwise it is freed. It holds only a [`Weak`]
/// reference, so outstanding buffers never keep a dropped arena's pooled memory alive.
pub struct IoBuf {
    vec: Vec<u8>,
    /// Index in [`SIZE_CLASSES`], or `CLASS_COUNT` for a large allocation.
    class: usize,
    arena: Weak<Arena>,
}

impl IoBuf {
    /// The size class this buffer was taken from, or `None` for a large allocation (above
    /// 1 MiB). This is the class at `get` time, even if the buffer has grown since.
    #[inline]
    pub fn class_bytes(&self) -> Option<usize> {
        SIZE_CLASSES.get(self.class).copied()
    }
}

impl Deref for IoBuf {
    type Target = Vec<u8>;

    #[inline]
    fn deref(&self) -> &Vec<u8> {
        &self.vec
    }
}

impl DerefMut for IoBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.vec
    }
}

impl Drop for IoBuf {
    #[inline]
    fn drop(&mut self) {
        if let Some(arena) = self.arena.upgrade() {
            arena.put(self.class, &mut self.vec);
        }
        // Whatever `put` did not take (a large or grown buffer, a full free list, a dropped
        // arena) is freed with `self.vec`.
    }
}

impl fmt::Debug for IoBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoBuf")
            .field("class_bytes", &self.class_bytes())
            .field("len", &self.vec.len())
            .field("capacity", &self.vec.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::xdr::XdrWriter;

    const MIB: usize = 1024 * 1024;

    fn arena() -> Rc<Arena> {
        Arena::new(ArenaConfig::default())
    }

    fn class_stats(arena: &Arena, class_bytes: usize) -> ClassStats {
        let stats = arena.stats();
        *stats
            .classes
            .iter()
            .find(|class| class.class_bytes == class_bytes)
            .expect("a size class")
    }

    #[test]
    fn get_picks_smallest_class_holding_the_request() {
        let arena = arena();
        let cases = [
            (0, Some(128)),
            (1, Some(128)),
            (128, Some(128)),
            (129, Some(512)),
            (512, Some(512)),
            (513, Some(2048)),
            (8192, Some(8192)),
            (8193, Some(32768)),
            (131072, Some(131072)),
            (131073, Some(262144)),
            (262145, Some(MIB)),
            (MIB, Some(MIB)),
            (MIB + 1, None),
        ];
        for (bytes, expected) in cases {
            let buf = arena.get(bytes);
            assert_eq!(buf.class_bytes(), expected, "get({bytes})");
            assert_eq!(buf.len(), 0, "get({bytes}) is empty");
            assert_eq!(
                buf.capacity(),
                expected.unwrap_or(bytes),
                "get({bytes}) capacity"
            );
        }
    }

    #[test]
    fn class_lookup_table_agrees_with_a_search() {
        let search = |bytes: usize| {
            SIZE_CLASSES
                .iter()
                .position(|&class| bytes <= class)
                .unwrap_or(SIZE_CLASSES.len())
        };
        let boundaries = SIZE_CLASSES
            .iter()
            .flat_map(|&class| [class - 1, class, class + 1]);
        for bytes in (0..=4096)
            .chain(boundaries)
            .chain([usize::MAX / 2, usize::MAX])
        {
            assert_eq!(class_index(bytes), search(bytes), "class_index({bytes})");
        }
    }

    #[test]
    fn every_class_hands_out_exactly_its_size() {
        let arena = arena();
        for class_bytes in SIZE_CLASSES {
            let buf = arena.get(class_bytes);
            assert_eq!(buf.class_bytes(), Some(class_bytes));
            assert_eq!(buf.capacity(), class_bytes);
        }
    }

    #[test]
    fn dropped_buffer_goes_back_to_its_free_list_and_is_reused_empty() {
        let arena = arena();
        let mut buf = arena.get(1000);
        buf.extend_from_slice(b"some reply bytes");
        let first_ptr = buf.as_ptr();
        drop(buf);
        assert_eq!(class_stats(&arena, 2048).pooled, 1);

        let again = arena.get(2048);
        assert_eq!(again.as_ptr(), first_ptr, "the pooled buffer is reused");
        assert_eq!(again.len(), 0, "a reused buffer comes back cleared");
        assert_eq!(again.capacity(), 2048);
        assert_eq!(class_stats(&arena, 2048).pooled, 0);
    }

    #[test]
    fn counters_track_hits_misses_in_use_and_high_water() {
        let arena = arena();
        let a = arena.get(100);
        let b = arena.get(100);
        let c = arena.get(100);
        let stats = class_stats(&arena, 128);
        assert_eq!((stats.hits, stats.misses), (0, 3));
        assert_eq!((stats.in_use, stats.high_water, stats.pooled), (3, 3, 0));

        drop(a);
        drop(b);
        let stats = class_stats(&arena, 128);
        assert_eq!((stats.in_use, stats.high_water, stats.pooled), (1, 3, 2));

        let d = arena.get(128);
        let stats = class_stats(&arena, 128);
        assert_eq!((stats.hits, stats.misses), (1, 3));
        assert_eq!((stats.in_use, stats.high_water, stats.pooled), (2, 3, 1));

        drop(c);
        drop(d);
        let stats = class_stats(&arena, 128);
        assert_eq!((stats.in_use, stats.high_water, stats.pooled), (0, 3, 3));
        // Other classes are untouched.
        assert_eq!(
            class_stats(&arena, 512),
            ClassStats {
                class_bytes: 512,
                pooled_max: 512,
                ..ClassStats::default()
            }
        );
    }

    #[test]
    fn free_list_keeps_at_most_its_bound_and_frees_the_rest() {
        let mut config = ArenaConfig::default();
        config.pooled_per_class_max[2] = 2;
        let arena = Arena::new(config);
        let bufs: Vec<IoBuf> = (0..5).map(|_| arena.get(2048)).collect();
        drop(bufs);
        let stats = class_stats(&arena, 2048);
        assert_eq!((stats.pooled, stats.pooled_max, stats.in_use), (2, 2, 0));

        let bufs: Vec<IoBuf> = (0..3).map(|_| arena.get(2048)).collect();
        let stats = class_stats(&arena, 2048);
        assert_eq!((stats.hits, stats.misses), (2, 6));
        drop(bufs);
    }

    #[test]
    fn zero_bound_disables_pooling_for_a_class() {
        let mut config = ArenaConfig::default();
        config.pooled_per_class_max[0] = 0;
        let arena = Arena::new(config);
        drop(arena.get(1));
        drop(arena.get(1));
        let stats = class_stats(&arena, 128);
        assert_eq!((stats.hits, stats.misses, stats.pooled), (0, 2, 0));
    }

    #[test]
    fn buffer_dropped_after_its_arena_is_simply_freed() {
        let arena = arena();
        let mut small = arena.get(10);
        let large = arena.get(2 * MIB);
        drop(arena);
        small.extend_from_slice(b"still usable");
        assert_eq!(&small[..], b"still usable");
        drop(small);
        drop(large);
    }

    #[test]
    fn buffer_grown_past_its_class_leaves_the_class_on_drop() {
        let arena = arena();
        let mut buf = arena.get(128);
        buf.extend_from_slice(&[7u8; 129]);
        assert!(buf.capacity() > 128);
        assert_eq!(buf.class_bytes(), Some(128), "class is the one taken from");
        drop(buf);
        let stats = class_stats(&arena, 128);
        assert_eq!((stats.in_use, stats.pooled), (0, 0), "freed, not pooled");

        // A buffer whose Vec was swapped out through DerefMut is treated the same way.
        let mut buf = arena.get(512);
        *buf = Vec::new();
        drop(buf);
        let stats = class_stats(&arena, 512);
        assert_eq!((stats.in_use, stats.pooled), (0, 0));

        // Neither left a wrong-sized buffer behind for the next taker.
        assert_eq!(arena.get(128).capacity(), 128);
        assert_eq!(arena.get(512).capacity(), 512);
    }

    #[test]
    fn large_requests_are_counted_and_never_pooled() {
        let arena = arena();
        let a = arena.get(MIB + 1);
        let b = arena.get(8 * MIB);
        assert_eq!(a.capacity(), MIB + 1);
        assert_eq!(b.capacity(), 8 * MIB);
        let stats = arena.stats();
        assert_eq!((stats.large_allocations, stats.large_in_use), (2, 2));
        drop(a);
        drop(b);
        let stats = arena.stats();
        assert_eq!((stats.large_allocations, stats.large_in_use), (2, 0));
        assert!(stats.classes.iter().all(|class| class.pooled == 0));
    }

    #[test]
    fn xdr_writer_encodes_into_an_iobuf() {
        let arena = arena();
        let mut buf = arena.get(64);
        XdrWriter::new(&mut buf).u32(0x0102_0304);
        assert_eq!(&buf[..], &[1, 2, 3, 4]);
    }

    #[test]
    fn default_config_is_glusterfs_bounds() {
        assert_eq!(
            ArenaConfig::default().pooled_per_class_max,
            [1024, 512, 512, 128, 64, 32, 8, 2]
        );
    }

    #[test]
    fn stats_display_is_one_key_value_line_per_counter() {
        let arena = arena();
        let buf = arena.get(2000);
        drop(arena.get(2000));
        let large = arena.get(MIB + 1);
        let dump = arena.stats().to_string();

        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), SIZE_CLASSES.len() * 6 + 2);
        assert!(lines.iter().all(|line| line.split_once('=').is_some()));
        for expected in [
            "iobuf.class.128.hits=0",
            "iobuf.class.2048.hits=0",
            "iobuf.class.2048.misses=2",
            "iobuf.class.2048.in_use=1",
            "iobuf.class.2048.high_water=2",
            "iobuf.class.2048.pooled=1",
            "iobuf.class.2048.pooled_max=512",
            "iobuf.class.1048576.pooled_max=2",
            "iobuf.large.allocations=1",
            "iobuf.large.in_use=1",
        ] {
            assert!(
                lines.contains(&expected),
                "{expected} missing from:\n{dump}"
            );
        }
        assert!(dump.ends_with('\n'));
        drop((buf, large));
    }
}
