//! A family: its series found by their exact label values in one sorted index, capped in number, with idle series dropped at a scrape.

// Entries are ordered by their series' key, which never changes; the cells
// that do change play no part in the order.
#![allow(clippy::mutable_key_type)]

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::buckets::Buckets;
use super::handle::SeriesHandle;
use super::key::{Invalid, KeyBuf, MAX_LABELS, sanitise};
use super::series::Series;
use super::settings::Settings;
use crate::catalogue::{FamilyKind, FamilySpec};

/// The value of every label of a family's overflow series.
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

/// Whether a new label set counts against the cardinality limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Run-time values: beyond the limit, they share the overflow series.
    Capped,
    /// Values written in the program (a macro call site): admitted even when
    /// the family is full, since the code bounds their number, so a call site
    /// is never stuck on the overflow series. Their series record through the
    /// call site's block (`Store::block`).
    Reserved,
}

/// The self-metric series one family counts its own troubles in.
#[derive(Debug)]
pub(crate) struct Accounting {
    pub(crate) overflowed: SeriesHandle,
    pub(crate) empty: SeriesHandle,
    pub(crate) too_long: SeriesHandle,
    pub(crate) not_snake_case: SeriesHandle,
    pub(crate) expired: SeriesHandle,
}

#[cfg(test)]
impl Accounting {
    /// Accounting into series of their own, outside any family.
    pub(crate) fn detached() -> Self {
        Accounting {
            overflowed: SeriesHandle::detached(1),
            empty: SeriesHandle::detached(1),
            too_long: SeriesHandle::detached(1),
            not_snake_case: SeriesHandle::detached(1),
            expired: SeriesHandle::detached(1),
        }
    }
}

/// A series in the index, ordered and found by its key.
#[derive(Debug, Clone)]
struct Entry(Arc<Series>);

/// Lookups compare the key's bytes: no UTF-8 check of a key being looked up
/// (byte order is `str`'s order).
impl Borrow<[u8]> for Entry {
    fn borrow(&self) -> &[u8] {
        self.0.key().as_bytes()
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.0.key() == other.0.key()
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.key().cmp(other.0.key())
    }
}

/// One metric family of the store.
///
/// Series are kept in one `BTreeSet` ordered by key, which is the order the
/// exposition lists them in, so a scrape walks it without sorting. Lookups
/// encode the values into a stack buffer and compare keys: two label sets are
/// never one series. When the family holds `limit` series, further label sets
/// share one overflow series whose every label is [`OVERFLOW_LABEL_VALUE`],
/// each such record counted in `insa_metrics_label_overflow_total{family}`.
#[derive(Debug)]
pub(crate) struct Family {
    spec: &'static FamilySpec,
    buckets: Option<Arc<Buckets>>,
    /// For each label in name order, the index of its value in the spec's order.
    order: [usize; MAX_LABELS],
    /// What the exposition writes before each value, in name order:
    /// `{name="`, then `,name="`.
    label_prefixes: Box<[Box<str>]>,
    index: RwLock<BTreeSet<Entry>>,
    overflow: OnceLock<Arc<Series>>,
    settings: Settings,
    accounting: Option<Accounting>,
    /// Whether idle series are dropped: counters and histograms with labels,
    /// out of the self-metrics, with an idle timeout set.
    expires: bool,
}

impl Family {
    /// A family of `spec`; `accounting` is `None` for the self-metrics.
    pub(crate) fn new(
        spec: &'static FamilySpec,
        settings: Settings,
        accounting: Option<Accounting>,
    ) -> Self {
        // At most MAX_LABELS labels: the catalogue's table is checked at
        // compile time (`store::LAYOUT_FITS`).
        let labels = &spec.labels()[..spec.labels().len().min(MAX_LABELS)];
        let mut order = [0, 1, 2];
        order[..labels.len()].sort_by_key(|&i| labels[i]);
        let buckets = (spec.kind() == FamilyKind::Histogram).then(|| Arc::new(Buckets::of(spec)));
        let label_prefixes = order[..labels.len()]
            .iter()
            .enumerate()
            .map(|(n, &i)| format!("{}{}=\"", if n == 0 { '{' } else { ',' }, labels[i]).into())
            .collect();
        let expires = settings.idle_timeout.is_some()
            && matches!(spec.kind(), FamilyKind::Counter | FamilyKind::Histogram)
            && !labels.is_empty()
            && accounting.is_some();
        let family = Family {
            spec,
            buckets,
            order,
            label_prefixes,
            index: RwLock::new(BTreeSet::new()),
            overflow: OnceLock::new(),
            settings,
            accounting,
            expires,
        };
        if labels.is_empty() {
            // The one series of a family without labels exists from the start.
            family.with(&[], Admission::Reserved, |_| ());
        }
        family
    }

    pub(crate) fn spec(&self) -> &'static FamilySpec {
        self.spec
    }

    pub(crate) fn buckets(&self) -> Option<&Arc<Buckets>> {
        self.buckets.as_ref()
    }

    /// Cells per series: one, or a histogram's buckets, `+Inf` and sum.
    pub(crate) fn width(&self) -> usize {
        self.buckets.as_ref().map_or(1, |b| b.width())
    }

    /// `{name="`, then `,name="` for each label, in the order keys hold
    /// their values.
    pub(crate) fn label_prefixes(&self) -> &[Box<str>] {
        &self.label_prefixes
    }

    /// Label names in the order keys hold their values.
    pub(crate) fn sorted_labels(&self) -> impl Iterator<Item = &'static str> + '_ {
        let labels = self.spec.labels();
        self.order[..labels.len()].iter().map(move |&i| labels[i])
    }

    /// Runs `f` on the series of `values` (in the spec's label order), made
    /// if need be, while no scrape can drop it.
    pub(crate) fn with<R>(
        &self,
        values: &[&str],
        admission: Admission,
        f: impl FnOnce(&Arc<Series>) -> R,
    ) -> R {
        if is_overflow_key(values) {
            // The overflow series' own label set, recorded by name: counted
            // as an overflow, so it neither takes a place under the cap nor
            // mixes uncounted records into the overflow series.
            return self.overflowed(f);
        }
        let key = self.key(values);
        {
            let index = self.read();
            if let Some(Entry(series)) = index.get(key.as_bytes()) {
                self.touch(series);
                return f(series);
            }
            if admission == Admission::Capped && self.is_full(&index) {
                drop(index);
                return self.overflowed(f);
            }
        }
        let mut index = self.write();
        if let Some(Entry(series)) = index.get(key.as_bytes()) {
            self.touch(series);
            return f(series);
        }
        if admission == Admission::Capped && self.is_full(&index) {
            drop(index);
            return self.overflowed(f);
        }
        let series = Arc::new(Series::new(key.as_str(), self.width()));
        self.touch(&series);
        let result = f(&series);
        index.insert(Entry(series));
        result
    }

    /// Notes a record by label values for idle expiry: one read of the idle
    /// clock (the time-stamp counter) and one store, in families whose series
    /// expire. Call sites and handles do not come here.
    #[inline]
    fn touch(&self, series: &Series) {
        if self.expires {
            series.recency.touch(self.settings.idle_clock.now_secs());
        }
    }

    /// A handle on the series of `values`.
    pub(crate) fn handle(&self, values: &[&str], admission: Admission) -> SeriesHandle {
        SeriesHandle::new(self.with(values, admission, Arc::clone))
    }

    /// Makes the series of `values` the family's only one: it is made and
    /// given its value by `init` first, and the others removed after, so a
    /// scrape in between sees the old and the new series, never none (an info
    /// metric's replacement).
    pub(crate) fn keep_only(&self, values: &[&str], init: impl FnOnce(&Series)) {
        let kept = self.with(values, Admission::Reserved, |series| {
            init(series);
            series.key().to_owned()
        });
        self.write().retain(|Entry(series)| series.key() == kept);
    }

    /// Label sets held, the overflow series aside.
    pub(crate) fn len(&self) -> usize {
        let index = self.read();
        index.len() - usize::from(self.overflow.get().is_some())
    }

    /// Visits every series in exposition order; `f` returns the count it read
    /// (a counter's value, a histogram's observations), which idle expiry
    /// compares with the last scrape's. Series idle past the timeout, that no
    /// handle holds and no call site's block holds cells of, are dropped
    /// after the visit and counted.
    pub(crate) fn visit<E>(&self, mut f: impl FnMut(&Series) -> Result<u64, E>) -> Result<(), E> {
        let expiry = self.expiry();
        let mut idle = Vec::new();
        {
            let index = self.read();
            for Entry(series) in index.iter() {
                let count = f(series)?;
                if let Some((now, timeout)) = expiry {
                    if series.recency.idle_for(count, now, timeout)
                        && Arc::strong_count(series) == 1
                        && series.striped().is_none()
                    {
                        idle.push(Entry(Arc::clone(series)));
                    }
                }
            }
        }
        if !idle.is_empty() {
            self.expire(idle);
        }
        Ok(())
    }

    /// `(now, timeout)` in seconds when this family's series expire.
    fn expiry(&self) -> Option<(u32, u32)> {
        let timeout = self.settings.idle_timeout?;
        self.expires.then(|| {
            // In whole seconds, and one more: a record late in one second and
            // a scrape early in the next are a second apart on this clock, so
            // a series is never dropped before its timeout has passed.
            let seconds = timeout.as_millis().div_ceil(1000).saturating_add(1);
            let timeout = u32::try_from(seconds).unwrap_or(u32::MAX);
            (self.settings.idle_clock.now_secs(), timeout)
        })
    }

    /// Drops the idle series found by a visit. Records into a series hold the
    /// read lock, so under the write lock none is under way: a count still
    /// unchanged is final, and nothing recorded is lost.
    fn expire(&self, idle: Vec<Entry>) {
        let mut index = self.write();
        let mut dropped = 0;
        for Entry(series) in idle {
            let unchanged = series.recency.unchanged(self.count(&series));
            // The index and `idle` hold it: nothing else does.
            if unchanged && Arc::strong_count(&series) == 2 {
                index.remove(series.key().as_bytes());
                dropped += 1;
            }
        }
        drop(index);
        if let Some(accounting) = &self.accounting {
            accounting.expired.add(0, dropped);
        }
    }

    /// A series' count: a counter's value, or a histogram's observations.
    pub(crate) fn count(&self, series: &Series) -> u64 {
        match &self.buckets {
            Some(buckets) => (0..buckets.observation_cells())
                .map(|i| series.read(i))
                .sum(),
            None => series.read(0),
        }
    }

    /// The key of `values`: each sanitised (and counted when replaced), in
    /// label-name order.
    #[inline]
    fn key(&self, values: &[&str]) -> KeyBuf {
        debug_assert_eq!(
            values.len(),
            self.spec.labels().len(),
            "{}",
            self.spec.name()
        );
        let n = values.len().min(self.spec.labels().len());
        let mut sanitised = [""; MAX_LABELS];
        for (slot, &i) in sanitised.iter_mut().zip(&self.order[..n]) {
            *slot = match sanitise(values[i]) {
                Ok(value) => value,
                Err((value, why)) => {
                    self.count_invalid(why);
                    value
                }
            };
        }
        KeyBuf::of(sanitised[..n].iter().copied())
    }

    fn count_invalid(&self, why: Invalid) {
        if let Some(accounting) = &self.accounting {
            match why {
                Invalid::Empty => accounting.empty.add(0, 1),
                Invalid::TooLong => accounting.too_long.add(0, 1),
            }
        }
    }

    /// Counts a label value declared in code that is not snake_case.
    pub(crate) fn count_not_snake_case(&self) {
        if let Some(accounting) = &self.accounting {
            accounting.not_snake_case.add(0, 1);
        }
    }

    fn is_full(&self, index: &BTreeSet<Entry>) -> bool {
        index.len() - usize::from(self.overflow.get().is_some()) >= self.settings.limit
    }

    fn overflowed<R>(&self, f: impl FnOnce(&Arc<Series>) -> R) -> R {
        if let Some(accounting) = &self.accounting {
            accounting.overflowed.add(0, 1);
        }
        let overflow = self.overflow.get_or_init(|| {
            let values = [OVERFLOW_LABEL_VALUE; MAX_LABELS];
            let key = KeyBuf::of(values[..self.spec.labels().len()].iter().copied());
            let mut index = self.write();
            let series = match index.get(key.as_bytes()) {
                Some(Entry(series)) => Arc::clone(series),
                None => Arc::new(Series::new(key.as_str(), self.width())),
            };
            index.insert(Entry(Arc::clone(&series)));
            series
        });
        f(overflow)
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeSet<Entry>> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeSet<Entry>> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `values` are the overflow series' label set: every one
/// [`OVERFLOW_LABEL_VALUE`] (a family without labels has no overflow).
fn is_overflow_key(values: &[&str]) -> bool {
    !values.is_empty() && values.iter().all(|value| *value == OVERFLOW_LABEL_VALUE)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;

    use super::*;
    use crate::catalogue::{CACHE_HITS_TOTAL, MESSAGE_BUS_MESSAGES_TOTAL};
    use crate::store::key;
    use crate::store::settings::IdleClock;

    fn family(spec: &'static FamilySpec, settings: Settings) -> Family {
        Family::new(spec, settings, None)
    }

    fn keys(family: &Family) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        family
            .visit::<()>(|series| {
                out.push(key::values(series.key()));
                Ok(0)
            })
            .unwrap();
        out
    }

    #[test]
    fn series_are_listed_in_label_name_order() {
        let bus = family(&MESSAGE_BUS_MESSAGES_TOTAL, Settings::default());
        // from_agent, to_agent, message_type: listed as from, type, to.
        bus.with(&["b", "x", "task"], Admission::Capped, |_| ());
        bus.with(&["a", "z", "result"], Admission::Capped, |_| ());
        bus.with(&["a", "y", "task"], Admission::Capped, |_| ());
        assert_eq!(
            bus.sorted_labels().collect::<Vec<_>>(),
            ["from_agent", "message_type", "to_agent"]
        );
        assert_eq!(
            keys(&bus),
            [["a", "result", "z"], ["a", "task", "y"], ["b", "task", "x"]]
        );
    }

    #[test]
    fn the_cap_folds_new_label_sets_into_the_overflow_series() {
        let settings = Settings {
            limit: 2,
            ..Settings::default()
        };
        let hits = family(&CACHE_HITS_TOTAL, settings);
        for value in ["a", "b", "c", "d"] {
            hits.with(&[value], Admission::Capped, |s| {
                s.cell(0).fetch_add(1, Relaxed)
            });
        }
        hits.with(&["e"], Admission::Reserved, |s| {
            s.cell(0).fetch_add(1, Relaxed)
        });
        assert_eq!(hits.len(), 3);
        assert_eq!(
            keys(&hits),
            [["__overflow__"], ["a"], ["b"], ["e"]].map(|k| k.map(String::from))
        );
    }

    /// `insa_cache_hits_total` capped at 2 series, which expire after 60 s
    /// of the returned clock.
    fn expiring_hits() -> (Family, IdleClock) {
        let clock = IdleClock::manual();
        let settings = Settings {
            limit: 2,
            idle_timeout: Some(std::time::Duration::from_secs(60)),
            idle_clock: clock.clone(),
        };
        let hits = Family::new(&CACHE_HITS_TOTAL, settings, Some(Accounting::detached()));
        (hits, clock)
    }

    /// A burst, a wait, then the first scrape since: the series recorded
    /// only during the burst are dropped by that scrape.
    #[test]
    fn a_burst_expires_at_the_first_scrape_after_the_timeout() {
        let (hits, clock) = expiring_hits();
        for junk in ["a", "b", "c"] {
            hits.with(&[junk], Admission::Capped, |s| {
                s.cell(0).fetch_add(1, Relaxed)
            });
        }
        clock.advance(std::time::Duration::from_secs(30));
        hits.with(&["b"], Admission::Capped, |s| {
            s.cell(0).fetch_add(1, Relaxed)
        });
        clock.advance(std::time::Duration::from_secs(29));
        hits.visit::<()>(|s| Ok(hits.count(s))).unwrap();
        assert_eq!(hits.len(), 2, "59 s: nothing is dropped early");
        clock.advance(std::time::Duration::from_secs(3));
        hits.visit::<()>(|s| Ok(hits.count(s))).unwrap();
        // "a" idle 62 s: dropped; "b" recorded 32 s ago: kept; "c" went to
        // the overflow series, which stays.
        assert_eq!(
            keys(&hits),
            [["__overflow__"], ["b"]].map(|k| k.map(String::from))
        );
        hits.with(&["new"], Admission::Capped, |s| {
            s.cell(0).fetch_add(1, Relaxed)
        });
        assert_eq!(
            keys(&hits),
            [["__overflow__"], ["b"], ["new"]].map(|k| k.map(String::from))
        );
    }

    #[test]
    fn idle_series_expire_and_the_cap_recovers() {
        let (hits, clock) = expiring_hits();
        let held = hits.handle(&["held"], Admission::Capped);
        hits.with(&["junk"], Admission::Capped, |s| {
            s.cell(0).fetch_add(1, Relaxed)
        });
        hits.with(&["more"], Admission::Capped, |s| {
            s.cell(0).fetch_add(1, Relaxed)
        });
        let count = |f: &Family| f.visit::<()>(|s| Ok(f.count(s))).unwrap();
        count(&hits);
        clock.advance(std::time::Duration::from_secs(62));
        count(&hits);
        // "junk" is gone; "held" stays, a handle holds it; the overflow too.
        assert_eq!(hits.len(), 1);
        hits.with(&["new"], Admission::Capped, |s| {
            s.cell(0).fetch_add(1, Relaxed)
        });
        assert_eq!(
            keys(&hits),
            [["__overflow__"], ["held"], ["new"]].map(|k| k.map(String::from))
        );
        drop(held);
    }
}
