//! The catalog: every volume of the node, the read-only snapshot every shard answers from, and
//! the index of this node's brick paths that a create's containment check consults.
//!
//! A change copies the snapshot and swaps the copy in ([`SharedCatalog`]). The maps are
//! persistent ordered maps (`imbl::OrdMap`): the copy shares every node with the snapshot and
//! a change copies only the path to the entries it touches, so a change costs the same with
//! 10 volumes or 10,000 (a `BTreeMap` copy grew with the volume count: at 1,000 volumes its
//! clone and the allocations showed up in a pool create's profile). The containment check is
//! two lookups in a sorted index instead of a list of every brick built per create.

use crate::brick::validate::ExistingBricks;
use crate::model::{Uuid, Volume};
use imbl::OrdMap;
use std::ops::Bound;
use std::sync::Arc;

/// Every volume, by name, and this node's bricks, by real path.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// This node: its bricks go into the index.
    me: Uuid,
    volumes: OrdMap<Arc<str>, Arc<Volume>>,
    /// This node's brick real paths, each with how many volumes name it (one, unless a
    /// workdir written elsewhere says otherwise).
    bricks: OrdMap<Arc<str>, u32>,
    /// The node's global options (`volume set all`, the workdir's `options` file, with
    /// `global-option-version`) in glusterd's in-memory order (see `ops::volume_options`).
    global: Arc<Vec<(String, String)>>,
}

impl Catalog {
    /// An empty catalog of the node `me`.
    pub fn new(me: Uuid) -> Catalog {
        Catalog {
            me,
            ..Catalog::default()
        }
    }

    /// The catalog of `volumes` on the node `me`.
    pub fn with(me: Uuid, volumes: impl IntoIterator<Item = Arc<Volume>>) -> Catalog {
        let mut catalog = Catalog::new(me);
        for volume in volumes {
            catalog.insert(volume);
        }
        catalog
    }

    /// Makes `me` the node whose bricks are indexed (`system uuid reset`, which the node only
    /// takes while it has no volume; any volume held is indexed again).
    pub fn set_me(&mut self, me: Uuid) {
        let volumes: Vec<Arc<Volume>> = self.volumes.values().cloned().collect();
        self.me = me;
        self.bricks.clear();
        for volume in volumes {
            self.insert(volume);
        }
    }

    /// The node's global options, in glusterd's in-memory order.
    pub fn global_options(&self) -> &[(String, String)] {
        &self.global
    }

    /// Replaces the node's global options.
    pub fn set_global_options(&mut self, options: Vec<(String, String)>) {
        self.global = Arc::new(options);
    }

    /// The volume called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Volume>> {
        self.volumes.get(name)
    }

    /// Whether a volume is called `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.volumes.contains_key(name)
    }

    /// How many volumes.
    pub fn len(&self) -> usize {
        self.volumes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty()
    }

    /// The names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.volumes.keys().map(|k| &**k)
    }

    /// The volumes, by name.
    pub fn values(&self) -> impl Iterator<Item = &Arc<Volume>> {
        self.volumes.values()
    }

    /// The first volume named after `name` (by name order).
    pub fn next_after(&self, name: &str) -> Option<&Arc<Volume>> {
        self.volumes
            .range::<_, str>((Bound::Excluded(name), Bound::Unbounded))
            .map(|(_, v)| v)
            .next()
    }

    /// Adds (or replaces) `volume`.
    pub fn insert(&mut self, volume: Arc<Volume>) {
        if let Some(old) = self
            .volumes
            .insert(Arc::from(volume.name.as_str()), volume.clone())
        {
            self.unindex(&old);
        }
        for brick in volume.bricks.iter().filter(|b| b.uuid == self.me) {
            *self
                .bricks
                .entry(Arc::from(brick.real_path.as_str()))
                .or_insert(0) += 1;
        }
    }

    /// Removes the volume called `name`.
    pub fn remove(&mut self, name: &str) -> Option<Arc<Volume>> {
        let old = self.volumes.remove(name)?;
        self.unindex(&old);
        Some(old)
    }

    fn unindex(&mut self, volume: &Volume) {
        for brick in volume.bricks.iter().filter(|b| b.uuid == self.me) {
            let path = brick.real_path.as_str();
            match self.bricks.get_mut(path) {
                Some(n) if *n > 1 => *n -= 1,
                Some(_) => {
                    self.bricks.remove(path);
                }
                None => {}
            }
        }
    }
}

impl ExistingBricks for Catalog {
    fn contains(&self, path: &str) -> bool {
        self.bricks.contains_key(path)
    }

    fn first_from(&self, from: &str) -> Option<&str> {
        self.bricks
            .range::<_, str>((Bound::Included(from), Bound::Unbounded))
            .map(|(k, _)| &**k)
            .next()
    }
}

/// The node's catalog: every shard reads it, the owners of volumes change it.
pub struct SharedCatalog {
    /// The current snapshot: readers load it without a lock (`arc_swap`), a change swaps in
    /// the next one with compare-and-swap.
    current: arc_swap::ArcSwap<Catalog>,
}

impl SharedCatalog {
    /// A catalog holding `catalog`.
    pub fn new(catalog: Catalog) -> SharedCatalog {
        SharedCatalog {
            current: arc_swap::ArcSwap::from_pointee(catalog),
        }
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// Makes the next snapshot: `change` applied to a copy of the current one. Two owners
    /// changing different volumes at once never lose one another's change: when another
    /// change landed while the copy was made, `change` runs again on the newer snapshot.
    pub fn change(&self, change: impl Fn(&mut Catalog)) {
        self.current.rcu(|current| {
            let mut next = Catalog::clone(current);
            change(&mut next);
            next
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Brick;

    fn volume(name: &str, node: Uuid, paths: &[&str]) -> Arc<Volume> {
        let mut v = Volume::new_distribute(name, Uuid::new_v4());
        v.bricks = paths
            .iter()
            .map(|p| Brick {
                uuid: node,
                path: (*p).into(),
                real_path: (*p).into(),
                ..Brick::default()
            })
            .collect();
        v.brick_count = v.bricks.len() as u32;
        Arc::new(v)
    }

    #[test]
    fn the_brick_index_follows_inserts_and_removes() {
        let me = Uuid::new_v4();
        let other = Uuid::new_v4();
        let mut c = Catalog::with(
            me,
            [
                volume("a", me, &["/b/a1", "/b/a2"]),
                volume("r", other, &["/b/r"]),
            ],
        );
        assert!(c.contains("/b/a1") && c.contains("/b/a2"));
        assert!(!c.contains("/b/r"), "another node's brick is not ours");
        assert_eq!(c.first_from("/b/a10"), Some("/b/a2"));
        assert_eq!(c.first_from("/b/b"), None);
        assert_eq!(c.next_after("a").map(|v| v.name.as_str()), Some("r"));
        c.insert(volume("a", me, &["/b/x"]));
        assert!(
            !c.contains("/b/a1") && c.contains("/b/x"),
            "a replaced volume is unindexed"
        );
        c.insert(volume("twin", me, &["/b/x"]));
        c.remove("a");
        assert!(c.contains("/b/x"), "still named by twin");
        c.remove("twin");
        assert!(!c.contains("/b/x"));
        assert_eq!(c.keys().collect::<Vec<_>>(), ["r"]);
        assert!(c.remove("nothing").is_none());
    }

    #[test]
    fn concurrent_catalog_changes_never_lose_one_another() {
        let me = Uuid::new_v4();
        let shared = Arc::new(SharedCatalog::new(Catalog::new(me)));
        let before = shared.load();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    for i in 0..250 {
                        let v = volume(&format!("v{t}-{i}"), me, &[&format!("/b/{t}/{i}")]);
                        shared.change(|c| c.insert(v.clone()));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let after = shared.load();
        assert_eq!((after.len(), after.bricks.len()), (1000, 1000));
        assert!(
            before.is_empty(),
            "a snapshot taken earlier does not change"
        );
        shared.change(|c| {
            c.remove("v0-0");
        });
        assert_eq!(shared.load().len(), 999);
        assert!(!shared.load().contains("/b/0/0"));
    }
}
