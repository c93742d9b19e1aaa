//! The trusted storage pool as this node sees it at run time: every peer with its friend
//! state (stored in `peers/<uuid>`) and whether its connection is up (not stored). One
//! node-wide snapshot, swapped whole on every change (RCU, like the volume catalog): every
//! shard reads it without a lock, and only the change shard writes it.
//!
//! No I/O: `ops` writes the store files and runs the connections.

use crate::model::{Peer, Uuid, PEER_STATE_BEFRIENDED};
use std::sync::Arc;

/// One peer of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolPeer {
    /// What `peers/<uuid>` keeps. A peer probed by name whose UUID is not known yet has the
    /// nil UUID until its probe answer names it.
    pub peer: Peer,
    /// Whether the connection to it is up and past the handshake.
    pub connected: bool,
}

/// Every peer, in the order they joined (the order `peer status` lists them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pool {
    /// The peers.
    pub peers: Vec<PoolPeer>,
}

impl Pool {
    /// The pool of `peers` (as loaded from the store), none connected.
    pub fn from_stored(peers: Vec<Peer>) -> Pool {
        Pool {
            peers: peers
                .into_iter()
                .map(|peer| PoolPeer {
                    peer,
                    connected: false,
                })
                .collect(),
        }
    }

    /// The peer with UUID `uuid`.
    pub fn get(&self, uuid: Uuid) -> Option<&PoolPeer> {
        self.peers.iter().find(|p| p.peer.uuid == uuid)
    }

    /// The peer with UUID `uuid`, to change it.
    pub fn get_mut(&mut self, uuid: Uuid) -> Option<&mut PoolPeer> {
        self.peers.iter_mut().find(|p| p.peer.uuid == uuid)
    }

    /// The peer known by `name` (any of its host names, compared without case).
    pub fn by_name(&self, name: &str) -> Option<&PoolPeer> {
        self.peers.iter().find(|p| {
            p.peer
                .hostnames
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
        })
    }

    /// The stored side of every peer, for the store and for brick locality.
    pub fn stored(&self) -> Vec<Peer> {
        self.peers.iter().map(|p| p.peer.clone()).collect()
    }

    /// Whether `uuid` is a befriended peer ("Peer in Cluster").
    pub fn is_friend(&self, uuid: Uuid) -> bool {
        self.get(uuid)
            .is_some_and(|p| p.peer.state == PEER_STATE_BEFRIENDED)
    }

    /// Befriended peers whose connection is up: the remote participants of a transaction.
    pub fn connected_friends(&self) -> impl Iterator<Item = &PoolPeer> {
        self.peers
            .iter()
            .filter(|p| p.connected && p.peer.state == PEER_STATE_BEFRIENDED)
    }
}

/// The node-wide slot that holds the current [`Pool`].
#[derive(Debug)]
pub struct SharedPool {
    current: arc_swap::ArcSwap<Pool>,
}

impl SharedPool {
    /// A slot holding `pool`.
    pub fn new(pool: Pool) -> SharedPool {
        SharedPool {
            current: arc_swap::ArcSwap::from_pointee(pool),
        }
    }

    /// The current pool.
    pub fn load(&self) -> Arc<Pool> {
        self.current.load_full()
    }

    /// Changes the pool (called on the change shard only, so no change is lost) and returns
    /// what `change` returned.
    pub fn change<R>(&self, change: impl FnOnce(&mut Pool) -> R) -> R {
        let mut next = Pool::clone(&self.current.load());
        let out = change(&mut next);
        self.current.store(Arc::new(next));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(byte: u8, name: &str, state: u32) -> Peer {
        Peer {
            uuid: Uuid::from_bytes([byte; 16]),
            state,
            hostnames: vec![name.to_string()],
            extra: Default::default(),
        }
    }

    #[test]
    fn friends_are_befriended_peers_and_participants_are_also_connected() {
        let shared = SharedPool::new(Pool::from_stored(vec![
            peer(1, "a", PEER_STATE_BEFRIENDED),
            peer(2, "B", 6),
        ]));
        let pool = shared.load();
        assert!(pool.is_friend(Uuid::from_bytes([1; 16])));
        assert!(!pool.is_friend(Uuid::from_bytes([2; 16])));
        assert_eq!(pool.connected_friends().count(), 0);
        assert_eq!(
            pool.by_name("b").map(|p| p.peer.uuid),
            Some(Uuid::from_bytes([2; 16]))
        );
        shared.change(|p| p.get_mut(Uuid::from_bytes([1; 16])).unwrap().connected = true);
        assert_eq!(shared.load().connected_friends().count(), 1);
        assert_eq!(
            pool.connected_friends().count(),
            0,
            "an old snapshot stays as it was"
        );
    }
}
