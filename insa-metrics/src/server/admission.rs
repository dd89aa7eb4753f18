//! Which connections are served, refused with a 503, or closed at once: the global and per-peer caps.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use super::limits::{Limits, MAX_REFUSALS, MAX_REFUSALS_PER_PEER};

/// Who a connection comes from, for the per-peer caps: an IPv4 address
/// (IPv4-mapped IPv6 addresses included), or the /64 prefix of an IPv6 one,
/// since a single host commonly holds a whole /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Peer(IpAddr);

impl Peer {
    pub(crate) fn of(addr: SocketAddr) -> Peer {
        match addr.ip() {
            IpAddr::V4(ip) => Peer(IpAddr::V4(ip)),
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(ip) => Peer(IpAddr::V4(ip)),
                None => {
                    let [a, b, c, d, ..] = ip.segments();
                    Peer(IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0)))
                }
            },
        }
    }
}

/// What to do with a new connection.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Serve it; the slot is given back when the slot is dropped.
    Serve(Slot),
    /// Turn it away with a 503 (the connection or per-peer cap is reached).
    Refuse(Slot),
    /// Close it unanswered: too many refusals are in flight already.
    Close,
}

/// The connection and refusal counts of one server.
#[derive(Debug)]
pub(crate) struct Admission {
    max_connections: usize,
    max_per_peer: usize,
    counts: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    total: PeerCounts,
    /// Only peers with a connection or a refusal in flight: as many entries
    /// as sockets at most.
    peers: HashMap<Peer, PeerCounts>,
}

#[derive(Debug, Default, Clone, Copy)]
struct PeerCounts {
    served: usize,
    refused: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Served,
    Refused,
}

impl PeerCounts {
    fn count(&mut self, kind: Kind) -> &mut usize {
        match kind {
            Kind::Served => &mut self.served,
            Kind::Refused => &mut self.refused,
        }
    }
}

impl Admission {
    pub(crate) fn new(limits: &Limits) -> Admission {
        Admission {
            max_connections: limits.max_connections,
            max_per_peer: limits.max_connections_per_peer,
            counts: Arc::default(),
        }
    }

    /// Takes a slot for a connection from `peer`, as a served connection if
    /// both caps allow, else as a refusal if the refusal caps allow.
    pub(crate) fn admit(&self, peer: Peer) -> Decision {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let current = counts.peers.get(&peer).copied().unwrap_or_default();
        let kind = if counts.total.served < self.max_connections
            && current.served < self.max_per_peer
        {
            Kind::Served
        } else if counts.total.refused < MAX_REFUSALS && current.refused < MAX_REFUSALS_PER_PEER {
            Kind::Refused
        } else {
            return Decision::Close;
        };
        *counts.total.count(kind) += 1;
        *counts.peers.entry(peer).or_default().count(kind) += 1;
        let slot = Slot {
            counts: Arc::clone(&self.counts),
            peer,
            kind,
        };
        match kind {
            Kind::Served => Decision::Serve(slot),
            Kind::Refused => Decision::Refuse(slot),
        }
    }
}

/// A connection's place in the counts, given back on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    counts: Arc<Mutex<Counts>>,
    peer: Peer,
    kind: Kind,
}

impl Slot {
    /// The peer the connection comes from.
    pub(crate) fn peer(&self) -> Peer {
        self.peer
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.total.count(self.kind) -= 1;
        if let Some(peer) = counts.peers.get_mut(&self.peer) {
            *peer.count(self.kind) -= 1;
            if peer.served == 0 && peer.refused == 0 {
                counts.peers.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str) -> Peer {
        Peer::of(SocketAddr::new(addr.parse().unwrap(), 1234))
    }

    #[test]
    fn peers_are_hosts_and_ipv6_prefixes() {
        assert_eq!(peer("127.0.0.2"), peer("127.0.0.2"));
        assert_ne!(peer("127.0.0.1"), peer("127.0.0.2"));
        assert_eq!(peer("::ffff:10.0.0.1"), peer("10.0.0.1"));
        assert_eq!(peer("2001:db8:1:2:aaaa::1"), peer("2001:db8:1:2:bbbb::2"));
        assert_ne!(peer("2001:db8:1:2::1"), peer("2001:db8:1:3::1"));
    }

    #[test]
    fn one_peer_cannot_take_every_slot() {
        let admission = Admission::new(&Limits {
            max_connections: 10,
            max_connections_per_peer: 3,
            ..Limits::default()
        });
        let (a, b) = (peer("10.0.0.1"), peer("10.0.0.2"));
        let served: Vec<Decision> = (0..3).map(|_| admission.admit(a)).collect();
        assert!(served.iter().all(|d| matches!(d, Decision::Serve(_))));
        let refused: Vec<Decision> = (0..MAX_REFUSALS_PER_PEER)
            .map(|_| admission.admit(a))
            .collect();
        assert!(refused.iter().all(|d| matches!(d, Decision::Refuse(_))));
        assert!(matches!(admission.admit(a), Decision::Close));
        assert!(matches!(admission.admit(b), Decision::Serve(_)));
        // Slots come back when the slots are dropped, and the map empties.
        drop(served);
        drop(refused);
        assert!(matches!(admission.admit(a), Decision::Serve(_)));
        let counts = admission.counts.lock().unwrap();
        assert_eq!(counts.peers.len(), 0, "{counts:?}");
        assert_eq!((counts.total.served, counts.total.refused), (0, 0));
    }

    #[test]
    fn the_total_cap_holds_across_peers() {
        let admission = Admission::new(&Limits {
            max_connections: 2,
            max_connections_per_peer: 2,
            ..Limits::default()
        });
        let _held = [
            admission.admit(peer("10.0.0.1")),
            admission.admit(peer("10.0.0.2")),
        ];
        assert!(matches!(
            admission.admit(peer("10.0.0.3")),
            Decision::Refuse(_)
        ));
    }
}
