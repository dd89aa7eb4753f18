//! The bounded queue of bcrypt verifications: one runs at a time, few wait, and each peer has a budget of places.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

use super::admission::Peer;
use crate::detached;

/// How many bcrypt verifications may be running or waiting at once; beyond
/// it a request that needs one is answered "busy" at once.
pub(crate) const MAX_PENDING_VERIFICATIONS: usize = 8;

/// How many of those places one peer may hold: a flood of wrong passwords
/// from one peer delays a client of another peer by this many
/// verifications at most, and never turns it away.
pub(crate) const MAX_PENDING_VERIFICATIONS_PER_PEER: usize = 2;

/// The places in the queue, and the one bcrypt slot.
#[derive(Debug)]
pub(crate) struct VerificationQueue {
    /// One bcrypt verification at a time: a flood of wrong passwords costs
    /// the host one core at most.
    slot: Arc<Semaphore>,
    places: Mutex<Places>,
}

#[derive(Debug, Default)]
struct Places {
    total: usize,
    /// Peers with a place, and how many they hold.
    per_peer: HashMap<Peer, usize>,
}

impl Default for VerificationQueue {
    fn default() -> Self {
        VerificationQueue {
            slot: Arc::new(Semaphore::new(1)),
            places: Mutex::default(),
        }
    }
}

impl VerificationQueue {
    /// A place for a verification for `peer`, or `None` when the queue or
    /// the peer's budget is full.
    pub(crate) fn enter(&self, peer: Peer) -> Option<QueuePlace<'_>> {
        let mut places = self.places.lock().unwrap_or_else(PoisonError::into_inner);
        let held = places.per_peer.get(&peer).copied().unwrap_or(0);
        if places.total >= MAX_PENDING_VERIFICATIONS || held >= MAX_PENDING_VERIFICATIONS_PER_PEER {
            return None;
        }
        places.total += 1;
        *places.per_peer.entry(peer).or_default() += 1;
        Some(QueuePlace { queue: self, peer })
    }

    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.places
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    #[cfg(test)]
    pub(crate) async fn hold_slot(&self) -> tokio::sync::OwnedSemaphorePermit {
        Arc::clone(&self.slot).acquire_owned().await.unwrap()
    }
}

/// A place in the queue, given back on drop (also when the request is
/// cancelled while it waits).
#[derive(Debug)]
pub(crate) struct QueuePlace<'a> {
    queue: &'a VerificationQueue,
    peer: Peer,
}

impl QueuePlace<'_> {
    /// Waits for the bcrypt slot (first come, first served), then checks
    /// `password` against `hash` on a thread of its own. The slot is held
    /// until bcrypt returns, even if the request is cancelled meanwhile.
    pub(crate) async fn verify(self, password: String, hash: String) -> bool {
        let Ok(slot) = Arc::clone(&self.queue.slot).acquire_owned().await else {
            return false;
        };
        detached::run("insa-metrics-bcrypt", move || {
            let matched = bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false);
            drop(slot);
            matched
        })
        .await
        .unwrap_or(false)
    }
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        let mut places = self
            .queue
            .places
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        places.total -= 1;
        if let Some(held) = places.per_peer.get_mut(&self.peer) {
            *held -= 1;
            if *held == 0 {
                places.per_peer.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn peer(ip: &str) -> Peer {
        Peer::of(SocketAddr::new(ip.parse().unwrap(), 1))
    }

    #[test]
    fn one_peer_holds_at_most_its_budget() {
        let queue = VerificationQueue::default();
        let flooder = peer("10.0.0.1");
        let held: Vec<_> = (0..MAX_PENDING_VERIFICATIONS_PER_PEER)
            .map(|_| queue.enter(flooder).expect("within the budget"))
            .collect();
        assert!(queue.enter(flooder).is_none());
        let others: Vec<_> = (2..=MAX_PENDING_VERIFICATIONS - held.len() + 1)
            .filter_map(|i| queue.enter(peer(&format!("10.0.1.{i}"))))
            .collect();
        assert_eq!(held.len() + others.len(), MAX_PENDING_VERIFICATIONS);
        assert!(queue.enter(peer("10.0.2.1")).is_none(), "the queue is full");
        drop(held);
        drop(others);
        assert_eq!(queue.pending(), 0);
        assert!(queue.places.lock().unwrap().per_peer.is_empty());
    }
}
