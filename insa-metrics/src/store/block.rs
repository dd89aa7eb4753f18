//! Blocks: the striped cells of one call site's series side by side, so a call finds its stripe once and records at fixed offsets in it.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use super::series::{Series, wide};
use crate::clock::Clock;

/// Cells of one stripe of a block: room for a request site's series (its
/// in-flight gauge, five status counters and a histogram of up to 23
/// buckets). Two 64-byte lines; with the 128-byte alignment, two stripes
/// never share a line (the adjacent-line prefetcher of x86 pulls lines in
/// pairs).
pub(crate) const BLOCK_CELLS: usize = 32;

/// One stripe of a block: the cells one group of threads records into.
#[repr(align(128))]
#[derive(Debug)]
pub(crate) struct BlockStripe([AtomicU64; BLOCK_CELLS]);

impl BlockStripe {
    fn new() -> Self {
        BlockStripe(std::array::from_fn(|_| AtomicU64::new(0)))
    }

    /// Adds `n` (wrapping) to cell `cell`. The modulo costs one `and` where a
    /// bounds check would cost a compare and a branch: the offsets of a
    /// block's series are checked once, when it is made.
    #[inline(always)]
    pub(crate) fn add(&self, cell: usize, n: u64) {
        self.0[cell % BLOCK_CELLS].fetch_add(n, Relaxed);
    }

    /// Adds `n` to the sum whose low word is cell `cell` (its wraps the
    /// next), as [`add_to_sum`] does. Not written through it: here the
    /// wraps cell's address is only worked out on a wrap, which
    /// `scripts/bench_instructions.sh` measured 3 to 6 instructions cheaper
    /// per call (an out-of-line `#[cold]` increment cost more still).
    #[inline(always)]
    pub(crate) fn add_to_sum(&self, cell: usize, n: u64) {
        if self.0[cell % BLOCK_CELLS]
            .fetch_add(n, Relaxed)
            .checked_add(n)
            .is_none()
        {
            self.add(cell + 1, 1);
        }
    }

    /// Cell `cell`'s value.
    pub(crate) fn load(&self, cell: usize) -> u64 {
        self.0[cell % BLOCK_CELLS].load(Relaxed)
    }
}

/// The stripes of a block, a power of two of them: a thread records into
/// stripe `thread_stripe() % len`, and a scrape sums them all.
pub(crate) type Block = Arc<[BlockStripe]>;

/// A new block, its cells at 0.
pub(crate) fn new_block() -> Block {
    (0..stripe_count()).map(|_| BlockStripe::new()).collect()
}

/// The stripe of `block` this thread records into.
#[inline(always)]
pub(crate) fn my_stripe(block: &[BlockStripe]) -> &BlockStripe {
    // `len` is a power of two: the mask is the modulo.
    &block[thread_stripe() & (block.len() - 1)]
}

/// How many stripes a block has: twice the cores, rounded up to a power of
/// two (at most 64), so that threads on different cores rarely share one.
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

/// A series a call site's block holds, and the cell of it (a duration
/// histogram's sum) that the block keeps in clock ticks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member<'a> {
    pub(crate) series: &'a Series,
    pub(crate) ticks_cell: Option<usize>,
}

impl<'a> Member<'a> {
    /// A series whose cells the block keeps as they are.
    pub(crate) fn plain(series: &'a Series) -> Self {
        Member {
            series,
            ticks_cell: None,
        }
    }

    /// A duration histogram: its sum cell, `sum_cell`, in ticks.
    pub(crate) fn timed(series: &'a Series, sum_cell: usize) -> Self {
        Member {
            series,
            ticks_cell: Some(sum_cell),
        }
    }
}

/// Where a series lies in a block: its cells start at `offset` in every
/// stripe. A duration histogram's sum is kept there in clock ticks (the call
/// then skips the scaling to nanoseconds), converted when read.
#[derive(Debug)]
pub(crate) struct Striped {
    pub(crate) block: Block,
    pub(crate) offset: usize,
    pub(crate) ticks: Option<(usize, Clock)>,
}

impl Striped {
    /// Cell `i` of the series summed over the stripes (wrapping, so a gauge's
    /// decrements on one stripe offset increments on another), in the
    /// series' unit.
    pub(crate) fn sum(&self, i: usize) -> u64 {
        let total = self.block.iter().fold(0u64, |total, stripe| {
            total.wrapping_add(stripe.load(self.offset + i))
        });
        match &self.ticks {
            Some((cell, clock)) if *cell == i => clock.nanos_of(total),
            _ => total,
        }
    }

    /// The sum whose low word is cell `i` (its wraps the next) over the
    /// stripes, exact to 128 bits, in the series' unit.
    pub(crate) fn sum_wide(&self, i: usize) -> u128 {
        let cell = self.offset + i;
        let total: u128 = self
            .block
            .iter()
            .map(|stripe| {
                wide(
                    &stripe.0[cell % BLOCK_CELLS],
                    &stripe.0[(cell + 1) % BLOCK_CELLS],
                )
            })
            .sum();
        match &self.ticks {
            Some((ticks_cell, clock)) if *ticks_cell == i => clock.nanos_of_wide(total),
            _ => total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_take_stripes_in_turn() {
        let here = thread_stripe();
        let there = std::thread::spawn(thread_stripe).join().unwrap();
        assert_ne!(here, there);
        assert_eq!(thread_stripe(), here);
    }

    #[test]
    fn a_series_sums_its_cells_over_the_stripes() {
        let block = new_block();
        assert!(block.len().is_power_of_two());
        let striped = Striped {
            block: Arc::clone(&block),
            offset: 3,
            ticks: None,
        };
        my_stripe(&block).add(4, 2);
        block[block.len() - 1].add(4, 5);
        block[0].add(3, u64::MAX);
        assert_eq!(striped.sum(1), 7);
        assert_eq!(striped.sum(0) as i64, -1);
    }
}
