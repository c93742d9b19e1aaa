//! Which node a brick's host names: this node, a peer, or nobody brickd knows.
//!
//! glusterd decides locality by resolving the host and comparing addresses with the local
//! interfaces, and the brick order check compares DNS answers (an unresolvable host passes it
//! silently). brickd decides by node identity: a host is this node if it is one of this node's
//! names or interface addresses (or resolves to one), a peer if it is one of the names a peer is
//! known by (or resolves to one of their addresses), and otherwise unknown — which is reported,
//! never passed.
//!
//! Name resolution (`getaddrinfo`) can block for seconds, so it runs on short-lived threads,
//! at most [`RESOLVER_THREADS_MAX`] at a time, answering through a oneshot.

use crate::model::{Peer, Uuid};
use std::collections::HashSet;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The most name lookups running at once.
pub const RESOLVER_THREADS_MAX: usize = 8;

/// The node a host belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostOwner {
    /// This node.
    Local,
    /// The peer with this UUID.
    Peer(Uuid),
    /// Nobody brickd knows; the text says why (e.g. the lookup error).
    Unknown(String),
}

/// This node's names and addresses and its peers' names, for deciding [`HostOwner`].
#[derive(Clone, Debug, Default)]
pub struct HostMap {
    local_names: HashSet<String>,
    local_addrs: HashSet<IpAddr>,
    peers: Vec<(Uuid, Vec<String>)>,
    lookups: Arc<AtomicUsize>,
}

impl HostMap {
    /// This machine's host name, `localhost`, and every interface address; `peers` as the store
    /// has them.
    pub fn from_system(peers: &[Peer]) -> HostMap {
        let mut names: Vec<String> = vec!["localhost".into()];
        if let Some(name) = hostname() {
            if let Some((short, _)) = name.split_once('.') {
                names.push(short.to_string());
            }
            names.push(name);
        }
        let mut addrs = interface_addresses();
        addrs.push(IpAddr::from([127, 0, 0, 1]));
        addrs.push(IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
        HostMap::new(names, addrs, peers)
    }

    /// Counts `address` as this node's too (the address brickd is bound to: glusterd bound to
    /// a loopback alias takes bricks on that address as its own).
    pub fn with_local_address(mut self, address: IpAddr) -> HostMap {
        self.local_addrs.insert(address);
        self
    }

    /// A map from explicit lists (tests, and hosts with unusual set-ups).
    pub fn new(local_names: Vec<String>, local_addrs: Vec<IpAddr>, peers: &[Peer]) -> HostMap {
        HostMap {
            local_names: local_names
                .into_iter()
                .map(|n| n.to_ascii_lowercase())
                .collect(),
            local_addrs: local_addrs.into_iter().collect(),
            peers: peers
                .iter()
                .map(|p| {
                    (
                        p.uuid,
                        p.hostnames.iter().map(|h| h.to_ascii_lowercase()).collect(),
                    )
                })
                .collect(),
            lookups: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Decides without a lookup when the host is a literal address or a known name.
    pub fn classify_known(&self, host: &str) -> Option<HostOwner> {
        let lower = host.to_ascii_lowercase();
        if self.local_names.contains(&lower) {
            return Some(HostOwner::Local);
        }
        if let Some((uuid, _)) = self.peers.iter().find(|(_, names)| names.contains(&lower)) {
            return Some(HostOwner::Peer(*uuid));
        }
        if let Ok(addr) = host.parse::<IpAddr>() {
            return Some(self.owner_of_addresses(&[addr]).unwrap_or_else(|| {
                HostOwner::Unknown(format!("{host} is no address of this node or of a peer"))
            }));
        }
        None
    }

    /// Decides, resolving the name when it is not known.
    pub async fn classify(&self, host: &str) -> HostOwner {
        if let Some(owner) = self.classify_known(host) {
            return owner;
        }
        match self.resolve(host).await {
            Ok(addrs) => self.owner_of_addresses(&addrs).unwrap_or_else(|| {
                HostOwner::Unknown(format!(
                    "{host} resolves to {}, no address of this node or of a peer",
                    addrs
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }),
            Err(e) => HostOwner::Unknown(format!("{host} cannot be resolved: {e}")),
        }
    }

    fn owner_of_addresses(&self, addrs: &[IpAddr]) -> Option<HostOwner> {
        if addrs.iter().any(|a| self.local_addrs.contains(a)) {
            return Some(HostOwner::Local);
        }
        for (uuid, names) in &self.peers {
            let peer_addrs: Vec<IpAddr> = names.iter().filter_map(|n| n.parse().ok()).collect();
            if addrs.iter().any(|a| peer_addrs.contains(a)) {
                return Some(HostOwner::Peer(*uuid));
            }
        }
        None
    }

    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        if self.lookups.fetch_add(1, Ordering::AcqRel) >= RESOLVER_THREADS_MAX {
            self.lookups.fetch_sub(1, Ordering::AcqRel);
            return Err(format!(
                "more than {RESOLVER_THREADS_MAX} name lookups already running"
            ));
        }
        let (tx, rx) = futures_channel::oneshot::channel();
        let host = host.to_string();
        let counter = Arc::clone(&self.lookups);
        let spawned = std::thread::Builder::new()
            .name("brickd-resolve".into())
            .spawn(move || {
                let result = (host.as_str(), 0u16)
                    .to_socket_addrs()
                    .map(|it| it.map(|sa| sa.ip()).collect::<Vec<_>>())
                    .map_err(|e| e.to_string());
                counter.fetch_sub(1, Ordering::AcqRel);
                let _ = tx.send(result);
            });
        if let Err(e) = spawned {
            self.lookups.fetch_sub(1, Ordering::AcqRel);
            return Err(format!("cannot start a lookup thread: {e}"));
        }
        rx.await
            .unwrap_or_else(|_| Err("the lookup thread died".into()))
    }
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and we stop at the first NUL or the end.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    std::str::from_utf8(&buf[..end]).ok().map(str::to_string)
}

/// Every address of every interface (getifaddrs).
pub fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free with freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says its real type.
            let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
            if family == libc::AF_INET {
                // SAFETY: family AF_INET means a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::from(
                    u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                ));
            } else if family == libc::AF_INET6 {
                // SAFETY: family AF_INET6 means a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: head came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Extra;

    fn peer(uuid: u8, names: &[&str]) -> Peer {
        Peer {
            uuid: Uuid::from_bytes([uuid; 16]),
            state: 3,
            hostnames: names.iter().map(|s| s.to_string()).collect(),
            extra: Extra::default(),
        }
    }

    #[test]
    fn known_names_and_addresses_decide_without_lookup() {
        let map = HostMap::new(
            vec!["node-a".into()],
            vec!["192.0.2.1".parse().unwrap()],
            &[peer(7, &["node-b", "192.0.2.2"])],
        );
        assert_eq!(map.classify_known("NODE-A"), Some(HostOwner::Local));
        assert_eq!(map.classify_known("192.0.2.1"), Some(HostOwner::Local));
        let b = HostOwner::Peer(Uuid::from_bytes([7; 16]));
        assert_eq!(map.classify_known("node-b"), Some(b.clone()));
        assert_eq!(map.classify_known("192.0.2.2"), Some(b));
        assert!(matches!(
            map.classify_known("192.0.2.9"),
            Some(HostOwner::Unknown(_))
        ));
        assert_eq!(map.classify_known("elsewhere.example"), None);
    }

    #[test]
    fn unresolvable_names_are_unknown_not_passed() {
        let map = HostMap::new(vec![], vec![], &[]);
        let owner = futures_lite::future::block_on(map.classify("no-such-host.invalid"));
        assert!(
            matches!(owner, HostOwner::Unknown(ref why) if why.contains("no-such-host.invalid"))
        );
    }

    #[test]
    fn system_map_knows_loopback() {
        let map = HostMap::from_system(&[]);
        assert_eq!(map.classify_known("127.0.0.1"), Some(HostOwner::Local));
        assert_eq!(map.classify_known("localhost"), Some(HostOwner::Local));
        assert!(!interface_addresses().is_empty());
    }
}
