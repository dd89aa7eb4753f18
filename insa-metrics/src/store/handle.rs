//! Handles: a series resolved once and recorded into without a lookup — on
//! this thread's stripe when the series is hot, on its compact cells otherwise.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::buckets::Buckets;
use super::series::{Series, Stripes, thread_stripe};

/// One series, as a handle records into it.
#[derive(Debug, Clone)]
pub(crate) struct SeriesHandle {
    series: Arc<Series>,
    stripes: Option<Stripes>,
}

impl SeriesHandle {
    /// A handle on `series`; a hot one records into the series' stripes.
    pub(crate) fn new(series: Arc<Series>, hot: bool) -> Self {
        let stripes = hot.then(|| series.stripes());
        SeriesHandle { series, stripes }
    }

    /// A handle on a series of its own, outside any family (tests).
    #[cfg(test)]
    pub(crate) fn detached(width: usize) -> Self {
        SeriesHandle::new(Arc::new(Series::new("", width)), false)
    }

    /// The series.
    pub(crate) fn series(&self) -> &Arc<Series> {
        &self.series
    }

    /// Adds `n` (wrapping) to cell `cell`, on the stripe of `stripe` (a
    /// [`thread_stripe`], read once per record by the caller).
    #[inline]
    pub(crate) fn add_in(&self, stripe: usize, cell: usize, n: u64) {
        match &self.stripes {
            Some(stripes) => stripes[stripe & (stripes.len() - 1)].cell(cell),
            None => self.series.cell(cell),
        }
        .fetch_add(n, Relaxed);
    }

    /// Adds `n` to cell `cell` from this thread.
    #[inline]
    pub(crate) fn add(&self, cell: usize, n: u64) {
        let stripe = if self.stripes.is_some() {
            thread_stripe()
        } else {
            0
        };
        self.add_in(stripe, cell, n);
    }
}

/// A histogram series and its family's buckets.
#[derive(Debug, Clone)]
pub(crate) struct HistogramHandle {
    cells: SeriesHandle,
    buckets: Arc<Buckets>,
}

impl HistogramHandle {
    pub(crate) fn new(cells: SeriesHandle, buckets: Arc<Buckets>) -> Self {
        HistogramHandle { cells, buckets }
    }

    /// Observes `value` (in the recorded unit); returns its bucket's cell.
    /// Always inlined: called once per record, on the hot path (left to
    /// itself the compiler made it a call, ~10 instructions of 200 per call).
    #[inline(always)]
    pub(crate) fn observe_in(&self, stripe: usize, value: u64) -> usize {
        let bucket = self.buckets.index(value);
        self.cells.add_in(stripe, bucket, 1);
        self.cells.add_in(stripe, self.buckets.sum_cell(), value);
        bucket
    }

    pub(crate) fn series(&self) -> &Arc<Series> {
        self.cells.series()
    }

    /// Buckets and `+Inf`: the exemplar slots of a series.
    pub(crate) fn slots(&self) -> usize {
        self.buckets.observation_cells()
    }
}

/// Observes `value` into a series' compact cells (a lookup's record).
pub(crate) fn observe(series: &Series, buckets: &Buckets, value: u64) {
    series.cell(buckets.index(value)).fetch_add(1, Relaxed);
    series.cell(buckets.sum_cell()).fetch_add(value, Relaxed);
}
