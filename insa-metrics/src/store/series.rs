//! One series: its key, its compact cells, where it lies in a call site's block when one records into it, and what idle expiry remembers of it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use super::block::{Block, Striped};
use super::exemplar::Exemplars;
use crate::clock::Clock;

/// Cells of a series at most: a histogram's buckets, `+Inf` and sum (two).
pub(crate) const MAX_CELLS: usize = 17;

/// One series of a family: found by its key, recorded into its compact cells
/// (by lookups and handles) and into its call site's block (by the call
/// sites the code declares).
#[derive(Debug)]
pub(crate) struct Series {
    key: Box<str>,
    /// The compact cells: one for a counter or gauge; a histogram's buckets
    /// (the last one `+Inf`), then its sum.
    compact: Compact,
    /// Boxed: most series never lie in a block, and a box keeps them small.
    striped: OnceLock<Box<Striped>>,
    exemplars: OnceLock<Arc<Exemplars>>,
    pub(crate) recency: Recency,
    /// The key holds nothing the exposition escapes (nor an escaped byte):
    /// its values are written as they are.
    plain: bool,
}

/// A sum kept in two cells, its low 64 bits and their wraps, as one number.
pub(crate) fn wide(low: &AtomicU64, wraps: &AtomicU64) -> u128 {
    // A read racing the very add that wraps `low` (once per 2^64 units) can
    // miss that wrap; any other read is exact.
    let wraps = wraps.load(Relaxed);
    (u128::from(wraps) << 64) + u128::from(low.load(Relaxed))
}

/// Adds `n` to a sum kept in two cells: `low` and the count of its wraps.
#[inline(always)]
pub(crate) fn add_to_sum(low: &AtomicU64, wraps: &AtomicU64, n: u64) {
    if low.fetch_add(n, Relaxed).checked_add(n).is_none() {
        wrapped(wraps);
    }
}

#[cold]
#[inline(never)]
fn wrapped(wraps: &AtomicU64) {
    wraps.fetch_add(1, Relaxed);
}

/// The compact cells of a series: inline for one cell.
#[derive(Debug)]
enum Compact {
    One(AtomicU64),
    Many(Box<[AtomicU64]>),
}

impl Series {
    /// A series of `width` cells at 0 (at most [`MAX_CELLS`]).
    pub(crate) fn new(key: &str, width: usize) -> Self {
        debug_assert!((1..=MAX_CELLS).contains(&width));
        let compact = if width == 1 {
            Compact::One(AtomicU64::new(0))
        } else {
            Compact::Many((0..width).map(|_| AtomicU64::new(0)).collect())
        };
        Series {
            plain: !key.bytes().any(|b| matches!(b, 1 | b'\\' | b'"' | b'\n')),
            key: key.into(),
            compact,
            striped: OnceLock::new(),
            exemplars: OnceLock::new(),
            recency: Recency::default(),
        }
    }

    /// The encoded label values.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Whether the key's values need no escaping, by the store or by the
    /// exposition: they are its bytes between the separators.
    pub(crate) fn is_plain(&self) -> bool {
        self.plain
    }

    /// Cell `i` of the compact cells.
    #[inline]
    pub(crate) fn cell(&self, i: usize) -> &AtomicU64 {
        match &self.compact {
            Compact::One(cell) => cell,
            Compact::Many(cells) => &cells[i],
        }
    }

    /// Cells: one, or a histogram's buckets, `+Inf` and sum.
    pub(crate) fn width(&self) -> usize {
        match &self.compact {
            Compact::One(_) => 1,
            Compact::Many(cells) => cells.len(),
        }
    }

    /// Places the series at `offset` in `block` (its cell `ticks.0` kept
    /// in ticks of the clock `ticks.1`); false if it already lies in a block.
    pub(crate) fn place(
        &self,
        block: &Block,
        offset: usize,
        ticks: Option<(usize, Clock)>,
    ) -> bool {
        self.striped
            .set(Box::new(Striped {
                block: Arc::clone(block),
                offset,
                ticks,
            }))
            .is_ok()
    }

    /// Where the series lies in a call site's block, if it does. Such a
    /// series is never expired: the code bounds the call sites.
    pub(crate) fn striped(&self) -> Option<&Striped> {
        self.striped.get().map(|striped| &**striped)
    }

    /// The exemplar slots of this series, made the first time a handle of a
    /// family with exemplars asks.
    pub(crate) fn exemplars(&self, slots: usize) -> Arc<Exemplars> {
        Arc::clone(
            self.exemplars
                .get_or_init(|| Arc::new(Exemplars::new(slots))),
        )
    }

    /// The exemplar slots, if an exemplar was ever offered.
    pub(crate) fn exemplars_if_any(&self) -> Option<&Exemplars> {
        self.exemplars.get().map(|slots| &**slots)
    }

    /// Cell `i` summed over the compact cells and the block's stripes
    /// (wrapping, so a gauge's decrements on one stripe offset increments on
    /// another).
    pub(crate) fn read(&self, i: usize) -> u64 {
        let compact = self.cell(i).load(Relaxed);
        match self.striped.get() {
            Some(striped) => compact.wrapping_add(striped.sum(i)),
            None => compact,
        }
    }

    /// The sum of a histogram whose sum's low word is cell `i` (its wraps
    /// the next): over the compact cells and the block's stripes, exact to
    /// 128 bits, in the series' unit.
    pub(crate) fn read_sum(&self, i: usize) -> u128 {
        let compact = wide(self.cell(i), self.cell(i + 1));
        match self.striped.get() {
            Some(striped) => compact + striped.sum_wide(i),
            None => compact,
        }
    }

    /// Every cell summed, into `out` (its length is the series' width).
    pub(crate) fn read_all<'o>(&self, out: &'o mut [u64; MAX_CELLS]) -> &'o [u64] {
        let width = self.width();
        for (i, slot) in out[..width].iter_mut().enumerate() {
            *slot = self.read(i);
        }
        &out[..width]
    }

    /// Sets a gauge to `value`: the compact cell takes what the stripes do
    /// not already hold. Exact when no handle records at the same time.
    pub(crate) fn set(&self, value: i64) {
        let striped = self.read(0).wrapping_sub(self.cell(0).load(Relaxed));
        self.cell(0)
            .store((value as u64).wrapping_sub(striped), Relaxed);
    }
}

/// What idle expiry knows of a series: when a record by label values last
/// reached it, and, from the scrapes, the count they saw last and when they
/// last saw it change (which also covers records through a handle since
/// dropped). Times are the idle clock's seconds: 16 bytes in all.
#[derive(Debug, Default)]
pub(crate) struct Recency {
    seen: AtomicU64,
    /// 0 until a scrape first saw the series; then 1 (no change seen yet),
    /// or the time of the last scrape that saw the count change.
    changed_at: AtomicU32,
    /// The last record by label values (0: none), with [`ACCOUNTED`] set
    /// once a scrape has taken it into account.
    touched: AtomicU32,
}

/// The bit of [`Recency::touched`] a scrape sets.
const ACCOUNTED: u32 = 1 << 31;

impl Recency {
    /// A record by label values reached the series at `now`.
    #[inline]
    pub(crate) fn touch(&self, now: u32) {
        self.touched.store(now & !ACCOUNTED, Relaxed);
    }

    /// Called by a scrape that reads `count` at `now`: whether the series has
    /// been idle for at least `timeout` seconds, judged from its last record
    /// by label values, or from the last scrape that saw its count change
    /// with no such record since the scrape before (records through a
    /// handle since dropped), whichever is later.
    pub(crate) fn idle_for(&self, count: u64, now: u32, timeout: u32) -> bool {
        // The scrape marks the record it has accounted for, with a plain
        // store (no read-modify-write per series and scrape). A record
        // racing with it may be marked, or its time overwritten by the
        // older one: its count change is then seen, unexplained, by the next
        // scrape, which times the series from then: later, never earlier.
        let touched = self.touched.load(Relaxed);
        let fresh = touched != 0 && touched & ACCOUNTED == 0;
        if fresh {
            self.touched.store(touched | ACCOUNTED, Relaxed);
        }
        let mut changed_at = match self.changed_at.load(Relaxed) {
            0 => 1,
            _ if self.seen.load(Relaxed) != count && !fresh => now,
            changed_at => changed_at,
        };
        self.seen.store(count, Relaxed);
        let touched_at = touched & !ACCOUNTED;
        let last = if touched_at == 0 && changed_at <= 1 {
            // Neither recorded by label values nor seen to change: the wait
            // starts now.
            changed_at = now;
            now
        } else {
            changed_at.max(touched_at)
        };
        self.changed_at.store(changed_at, Relaxed);
        now.saturating_sub(last) >= timeout
    }

    /// Whether the count is still the one the last scrape saw.
    pub(crate) fn unchanged(&self, count: u64) -> bool {
        self.seen.load(Relaxed) == count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::block::{my_stripe, new_block};

    #[test]
    fn block_and_compact_cells_add_up() {
        let series = Series::new("k", 3);
        series.cell(1).fetch_add(2, Relaxed);
        let block = new_block();
        assert!(series.place(&block, 5, None));
        assert!(!series.place(&new_block(), 0, None), "placed twice");
        my_stripe(&block).add(6, 3);
        block[block.len() - 1].add(7, 7);
        // Another series' cell, after this one's.
        block[0].add(8, 100);
        let mut out = [0; MAX_CELLS];
        assert_eq!(series.read_all(&mut out), [0, 5, 7]);
        assert_eq!(series.read(1), 5);
    }

    #[test]
    fn a_sum_past_64_bits_carries_in_the_compact_cells_and_the_stripes() {
        // Cells 0 and 1: a sum's low word and its wraps.
        let series = Series::new("k", 2);
        for _ in 0..3 {
            add_to_sum(series.cell(0), series.cell(1), 1 << 63);
        }
        assert_eq!(series.read_sum(0), 3 << 63);
        let block = new_block();
        assert!(series.place(&block, 4, None));
        for _ in 0..3 {
            my_stripe(&block).add_to_sum(4, u64::MAX);
            block[block.len() - 1].add_to_sum(4, u64::MAX);
        }
        assert_eq!(series.read_sum(0), (3 << 63) + 6 * u128::from(u64::MAX));
    }

    #[test]
    fn a_gauge_set_accounts_for_its_block() {
        let series = Series::new("k", 1);
        let block = new_block();
        series.place(&block, 0, None);
        my_stripe(&block).add(0, 5);
        series.set(-2);
        assert_eq!(series.read(0) as i64, -2);
        my_stripe(&block).add(0, u64::MAX);
        assert_eq!(series.read(0) as i64, -3);
    }

    #[test]
    fn recency_counts_from_the_last_record_or_seen_change() {
        // Recorded at 1000, first scraped at 1500: idle since 1000.
        let recency = Recency::default();
        recency.touch(1_000);
        assert!(!recency.idle_for(3, 1_400, 500));
        assert!(recency.idle_for(3, 1_500, 500));
        // Recorded again at 1600.
        recency.touch(1_600);
        assert!(!recency.idle_for(4, 2_000, 500));
        assert!(recency.unchanged(4));
        assert!(recency.idle_for(4, 2_100, 500));
        // A count that changes with no record by label values (a handle, since
        // dropped): idle from the scrape that saw the change.
        assert!(!recency.idle_for(9, 2_200, 500));
        assert!(!recency.idle_for(9, 2_600, 500));
        assert!(recency.idle_for(9, 2_700, 500));
        // Never recorded by label values: the wait starts at the first scrape.
        let untouched = Recency::default();
        assert!(!untouched.idle_for(0, 5_000, 500));
        assert!(untouched.idle_for(0, 5_500, 500));
    }
}
