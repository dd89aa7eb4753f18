//! An LRU cache with a time to live, recording hits, misses, size and evictions.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::{Duration, Instant};

use insa_metrics::{MetricsCollector, metrics};

/// Why an entry left the cache: the `reason` of `insa_cache_evictions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionReason {
    /// The least recently used entry made room for a new one.
    Capacity,
    /// The entry outlived its time to live.
    Expired,
}

impl EvictionReason {
    /// The label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            EvictionReason::Capacity => "capacity",
            EvictionReason::Expired => "expired",
        }
    }
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    expires_at: Instant,
    /// Position in the recency order (higher is more recent).
    tick: u64,
}

/// A bounded cache: at most `capacity` entries, each valid for `ttl`; when
/// full, the least recently used entry is evicted.
///
/// Not synchronised: share it behind a `Mutex` (its operations are short and
/// never await). Time is passed in, so tests drive the clock.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    cache_type: &'static str,
    capacity: usize,
    ttl: Duration,
    entries: HashMap<K, Entry<V>>,
    /// Recency order: tick → key; the first entry is the least recently used.
    order: BTreeMap<u64, K>,
    next_tick: u64,
    metrics: &'static MetricsCollector,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// A cache labelled `cache_type` recording into the global collector.
    #[must_use]
    pub fn new(cache_type: &'static str, capacity: usize, ttl: Duration) -> Self {
        Self::with_collector(cache_type, capacity, ttl, metrics())
    }

    /// A cache recording into `metrics`.
    #[must_use]
    pub fn with_collector(
        cache_type: &'static str,
        capacity: usize,
        ttl: Duration,
        metrics: &'static MetricsCollector,
    ) -> Self {
        metrics.update_cache_size(cache_type, 0);
        TtlCache {
            cache_type,
            capacity: capacity.max(1),
            ttl,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_tick: 0,
            metrics,
        }
    }

    /// Entries currently held (expired ones included until they are seen or purged).
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value for `key` if present and fresh at `now` (a hit, which makes
    /// it the most recently used); a miss otherwise. An expired entry found
    /// here is evicted.
    pub fn get(&mut self, key: &K, now: Instant) -> Option<V> {
        let fresh = match self.entries.get(key) {
            Some(entry) => entry.expires_at > now,
            None => {
                self.metrics.record_cache_miss(self.cache_type);
                return None;
            }
        };
        if !fresh {
            self.remove(key, EvictionReason::Expired);
            self.metrics.record_cache_miss(self.cache_type);
            return None;
        }
        let tick = self.bump();
        let entry = self.entries.get_mut(key)?;
        self.order.remove(&entry.tick);
        entry.tick = tick;
        self.order.insert(tick, key.clone());
        self.metrics.record_cache_hit(self.cache_type);
        Some(entry.value.clone())
    }

    /// Inserts or replaces `key`, valid until `now + ttl`. When the cache is
    /// full, expired entries go first, then the least recently used one.
    pub fn insert(&mut self, key: K, value: V, now: Instant) {
        if let Some(old) = self.entries.remove(&key) {
            self.order.remove(&old.tick);
        } else if self.entries.len() >= self.capacity {
            self.purge_expired(now);
            if self.entries.len() >= self.capacity {
                if let Some((_, lru)) = self.order.first_key_value() {
                    let lru = lru.clone();
                    self.remove(&lru, EvictionReason::Capacity);
                }
            }
        }
        let tick = self.bump();
        self.order.insert(tick, key.clone());
        self.entries.insert(
            key,
            Entry {
                value,
                expires_at: now + self.ttl,
                tick,
            },
        );
        self.publish_size();
    }

    /// Drops `key` without counting an eviction (the caller invalidated it).
    pub fn invalidate(&mut self, key: &K) -> bool {
        match self.entries.remove(key) {
            Some(entry) => {
                self.order.remove(&entry.tick);
                self.publish_size();
                true
            }
            None => false,
        }
    }

    /// Evicts every entry expired at `now`; returns how many.
    pub fn purge_expired(&mut self, now: Instant) -> usize {
        let expired: Vec<K> = self
            .entries
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            self.remove(key, EvictionReason::Expired);
        }
        expired.len()
    }

    fn remove(&mut self, key: &K, reason: EvictionReason) {
        if let Some(entry) = self.entries.remove(key) {
            self.order.remove(&entry.tick);
            self.metrics
                .record_cache_eviction(self.cache_type, reason.as_str());
            self.publish_size();
        }
    }

    fn bump(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }

    fn publish_size(&self) {
        let len = i64::try_from(self.entries.len()).unwrap_or(i64::MAX);
        self.metrics.update_cache_size(self.cache_type, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{collector, sample};

    const TTL: Duration = Duration::from_secs(10);

    #[test]
    fn hits_misses_and_size() {
        let m = collector();
        let mut cache = TtlCache::with_collector("test", 4, TTL, m);
        let now = Instant::now();
        assert_eq!(cache.get(&"a", now), None);
        cache.insert("a", 1, now);
        assert_eq!(cache.get(&"a", now), Some(1));
        assert_eq!(cache.get(&"a", now), Some(1));
        let text = m.encode_text();
        assert_eq!(
            sample(&text, "insa_cache_hits_total{cache_type=\"test\"}"),
            2.0
        );
        assert_eq!(
            sample(&text, "insa_cache_misses_total{cache_type=\"test\"}"),
            1.0
        );
        assert_eq!(
            sample(&text, "insa_cache_size_entries{cache_type=\"test\"}"),
            1.0
        );
    }

    #[test]
    fn evicts_the_least_recently_used_at_capacity() {
        let m = collector();
        let mut cache = TtlCache::with_collector("test", 2, TTL, m);
        let now = Instant::now();
        cache.insert("a", 1, now);
        cache.insert("b", 2, now);
        assert_eq!(cache.get(&"a", now), Some(1)); // b is now the LRU
        cache.insert("c", 3, now);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&"b", now), None);
        assert_eq!(cache.get(&"a", now), Some(1));
        assert_eq!(cache.get(&"c", now), Some(3));
        let text = m.encode_text();
        let capacity = "insa_cache_evictions_total{cache_type=\"test\",reason=\"capacity\"}";
        assert_eq!(sample(&text, capacity), 1.0);
    }

    #[test]
    fn expired_entries_miss_and_count_as_expired() {
        let m = collector();
        let mut cache = TtlCache::with_collector("test", 8, TTL, m);
        let start = Instant::now();
        cache.insert("a", 1, start);
        cache.insert("b", 2, start + Duration::from_secs(5));
        let later = start + TTL + Duration::from_millis(1);
        assert_eq!(cache.get(&"a", later), None);
        assert_eq!(cache.get(&"b", later), Some(2));
        assert_eq!(cache.purge_expired(later + TTL), 1);
        assert!(cache.is_empty());
        let text = m.encode_text();
        let expired = "insa_cache_evictions_total{cache_type=\"test\",reason=\"expired\"}";
        assert_eq!(sample(&text, expired), 2.0);
        assert_eq!(
            sample(&text, "insa_cache_size_entries{cache_type=\"test\"}"),
            0.0
        );
    }

    #[test]
    fn a_full_cache_drops_expired_entries_before_live_ones() {
        let m = collector();
        let mut cache = TtlCache::with_collector("test", 2, TTL, m);
        let start = Instant::now();
        cache.insert("old", 1, start);
        cache.insert("live", 2, start + TTL);
        cache.insert("new", 3, start + TTL + Duration::from_millis(1));
        assert_eq!(cache.get(&"live", start + TTL), Some(2));
        let text = m.encode_text();
        let capacity = "insa_cache_evictions_total{cache_type=\"test\",reason=\"capacity\"}";
        assert_eq!(sample(&text, capacity), 0.0);
    }

    #[test]
    fn replacing_a_key_keeps_one_entry_and_invalidate_is_not_an_eviction() {
        let m = collector();
        let mut cache = TtlCache::with_collector("test", 2, TTL, m);
        let now = Instant::now();
        cache.insert("a", 1, now);
        cache.insert("a", 2, now);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&"a", now), Some(2));
        assert!(cache.invalidate(&"a"));
        assert!(!cache.invalidate(&"a"));
        assert!(!m.encode_text().contains("insa_cache_evictions_total{"));
    }
}
