//! One series: its key, its compact cells, the per-thread stripes a hot
//! series records into, and what idle expiry remembers of it.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use super::exemplar::Exemplars;

/// Cells of one stripe: one cache-line pair, so two stripes never share a
/// line (the adjacent-line prefetcher of x86 pulls lines in pairs).
pub(crate) const STRIPE_CELLS: usize = 16;

/// One stripe of a hot series: the cells one group of threads records into.
#[repr(align(128))]
#[derive(Debug)]
pub(crate) struct Stripe([AtomicU64; STRIPE_CELLS]);

impl Stripe {
    fn new() -> Self {
        Stripe(std::array::from_fn(|_| AtomicU64::new(0)))
    }

    #[inline]
    pub(crate) fn cell(&self, i: usize) -> &AtomicU64 {
        &self.0[i]
    }
}

/// The stripes of a hot series, a power of two of them: a thread records
/// into stripe `thread_stripe() % len`, and a scrape sums them all.
pub(crate) type Stripes = Arc<[Stripe]>;

/// How many stripes a hot series has: twice the cores, rounded up to a power
/// of two (at most 64), so that threads on different cores rarely share one.
fn stripe_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (2 * cores).next_power_of_two().clamp(2, 64)
    })
}

thread_local! {
    /// This thread's stripe number, `usize::MAX` until it first records.
    static THREAD_STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's stripe number: threads are numbered as they first record.
#[inline]
pub(crate) fn thread_stripe() -> usize {
    THREAD_STRIPE.with(|stripe| {
        let n = stripe.get();
        if n == usize::MAX {
            number_thread(stripe)
        } else {
            n
        }
    })
}

#[cold]
fn number_thread(stripe: &Cell<usize>) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Relaxed) & (usize::MAX >> 1);
    stripe.set(n);
    n
}

/// The cells of one stripe of `stripes` this thread records into.
#[cfg(test)]
pub(crate) fn my_stripe(stripes: &[Stripe]) -> &Stripe {
    // `len` is a power of two: the mask is the modulo.
    &stripes[thread_stripe() & (stripes.len() - 1)]
}

/// One series of a family: found by its key, recorded into its compact cells
/// (by lookups) and its stripes (by the handles of hot call sites).
#[derive(Debug)]
pub(crate) struct Series {
    key: Box<str>,
    /// The compact cells: one for a counter or gauge; a histogram's buckets
    /// (the last one `+Inf`), then its sum.
    compact: Compact,
    stripes: OnceLock<Stripes>,
    exemplars: OnceLock<Arc<Exemplars>>,
    pub(crate) recency: Recency,
    /// The key holds nothing the exposition escapes (nor an escaped byte):
    /// its values are written as they are.
    plain: bool,
}

/// The compact cells of a series: inline for one cell.
#[derive(Debug)]
enum Compact {
    One(AtomicU64),
    Many(Box<[AtomicU64]>),
}

impl Series {
    /// A series of `width` cells at 0 (at most [`STRIPE_CELLS`]).
    pub(crate) fn new(key: &str, width: usize) -> Self {
        debug_assert!((1..=STRIPE_CELLS).contains(&width));
        let compact = if width == 1 {
            Compact::One(AtomicU64::new(0))
        } else {
            Compact::Many((0..width).map(|_| AtomicU64::new(0)).collect())
        };
        Series {
            plain: !key.bytes().any(|b| matches!(b, 1 | b'\\' | b'"' | b'\n')),
            key: key.into(),
            compact,
            stripes: OnceLock::new(),
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

    fn width(&self) -> usize {
        match &self.compact {
            Compact::One(_) => 1,
            Compact::Many(cells) => cells.len(),
        }
    }

    /// The stripes of this series, made the first time a handle asks: from
    /// then on it is hot, and its handles record without sharing a line.
    pub(crate) fn stripes(&self) -> Stripes {
        Arc::clone(
            self.stripes
                .get_or_init(|| (0..stripe_count()).map(|_| Stripe::new()).collect()),
        )
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

    /// Cell `i` summed over the compact cells and the stripes (wrapping, so a
    /// gauge's decrements on one stripe offset increments on another).
    pub(crate) fn read(&self, i: usize) -> u64 {
        let mut total = self.cell(i).load(Relaxed);
        if let Some(stripes) = self.stripes.get() {
            for stripe in stripes.iter() {
                total = total.wrapping_add(stripe.cell(i).load(Relaxed));
            }
        }
        total
    }

    /// Every cell summed, into `out` (its length is the series' width).
    pub(crate) fn read_all<'o>(&self, out: &'o mut [u64; STRIPE_CELLS]) -> &'o [u64] {
        let width = self.width();
        for (i, slot) in out[..width].iter_mut().enumerate() {
            *slot = self.cell(i).load(Relaxed);
        }
        if let Some(stripes) = self.stripes.get() {
            for stripe in stripes.iter() {
                for (i, slot) in out[..width].iter_mut().enumerate() {
                    *slot = slot.wrapping_add(stripe.cell(i).load(Relaxed));
                }
            }
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

/// What idle expiry remembers of a series between scrapes: the count it saw
/// last, and since when (in the idle clock's milliseconds, 0 until a scrape
/// first saw it) that count has not changed.
#[derive(Debug, Default)]
pub(crate) struct Recency {
    seen: AtomicU64,
    idle_since: AtomicU64,
}

impl Recency {
    /// Called by a scrape that reads `count` at `now`: whether the series has
    /// been idle for at least `timeout` milliseconds.
    pub(crate) fn idle_for(&self, count: u64, now: u64, timeout: u64) -> bool {
        let since = self.idle_since.load(Relaxed);
        if since == 0 || self.seen.load(Relaxed) != count {
            self.seen.store(count, Relaxed);
            self.idle_since.store(now.max(1), Relaxed);
            return false;
        }
        now.saturating_sub(since) >= timeout
    }

    /// Whether the count is still the one the last scrape saw.
    pub(crate) fn unchanged(&self, count: u64) -> bool {
        self.seen.load(Relaxed) == count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_and_compact_cells_add_up() {
        let series = Series::new("k", 3);
        series.cell(1).fetch_add(2, Relaxed);
        let stripes = series.stripes();
        assert!(stripes.len().is_power_of_two());
        my_stripe(&stripes).cell(1).fetch_add(3, Relaxed);
        stripes[stripes.len() - 1].cell(2).fetch_add(7, Relaxed);
        let mut out = [0; STRIPE_CELLS];
        assert_eq!(series.read_all(&mut out), [0, 5, 7]);
        assert_eq!(series.read(1), 5);
    }

    #[test]
    fn a_gauge_set_accounts_for_its_stripes() {
        let series = Series::new("k", 1);
        let stripes = series.stripes();
        my_stripe(&stripes).cell(0).fetch_add(5, Relaxed);
        series.set(-2);
        assert_eq!(series.read(0) as i64, -2);
        my_stripe(&stripes).cell(0).fetch_sub(1, Relaxed);
        assert_eq!(series.read(0) as i64, -3);
    }

    #[test]
    fn threads_take_stripes_in_turn() {
        let here = thread_stripe();
        let there = std::thread::spawn(thread_stripe).join().unwrap();
        assert_ne!(here, there);
        assert_eq!(thread_stripe(), here);
    }

    #[test]
    fn recency_waits_for_a_count_that_stops_changing() {
        let recency = Recency::default();
        assert!(!recency.idle_for(0, 1_000, 500));
        assert!(!recency.idle_for(0, 1_400, 500));
        assert!(recency.idle_for(0, 1_500, 500));
        assert!(!recency.idle_for(1, 1_600, 500));
        assert!(recency.unchanged(1));
        assert!(!recency.idle_for(1, 2_000, 500));
        assert!(recency.idle_for(1, 2_100, 500));
    }
}
