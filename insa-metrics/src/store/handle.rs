//! Handles: a series resolved once and recorded into without a lookup, on its compact cells (a call site's series record through its block instead).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::buckets::Buckets;
use super::series::{Series, add_to_sum};

/// One series, as a handle records into it.
#[derive(Debug, Clone)]
pub(crate) struct SeriesHandle {
    series: Arc<Series>,
}

impl SeriesHandle {
    /// A handle on `series`.
    pub(crate) fn new(series: Arc<Series>) -> Self {
        SeriesHandle { series }
    }

    /// A handle on a series of its own, outside any family (tests).
    #[cfg(test)]
    pub(crate) fn detached(width: usize) -> Self {
        SeriesHandle::new(Arc::new(Series::new("", width)))
    }

    /// The series.
    pub(crate) fn series(&self) -> &Arc<Series> {
        &self.series
    }

    /// Adds `n` (wrapping) to cell `cell`.
    #[inline]
    pub(crate) fn add(&self, cell: usize, n: u64) {
        self.series.cell(cell).fetch_add(n, Relaxed);
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

    /// Observes `value` (in the recorded unit) into the compact cells.
    #[inline]
    pub(crate) fn observe(&self, value: u64) {
        let bucket = self.buckets.index(value);
        self.observe_in_bucket(bucket, value);
    }

    /// Observes `value`, whose bucket's cell is `bucket`, into the compact
    /// cells.
    #[inline]
    pub(crate) fn observe_in_bucket(&self, bucket: usize, value: u64) {
        self.cells.add(bucket, 1);
        let sum = self.buckets.sum_cell();
        let series = self.cells.series();
        add_to_sum(series.cell(sum), series.cell(sum + 1), value);
    }

    /// The family's buckets.
    pub(crate) fn buckets(&self) -> &Buckets {
        &self.buckets
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
    let sum = buckets.sum_cell();
    add_to_sum(series.cell(sum), series.cell(sum + 1), value);
}
