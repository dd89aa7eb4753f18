//! The families by kind: what a counter, a gauge, a histogram and the info metric can be asked to record.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::buckets::Buckets;
use super::family::{Admission, Family};
use super::handle::{self, HistogramHandle, SeriesHandle};

/// A counter family.
#[derive(Debug)]
pub(crate) struct CounterFamily(Family);

/// A gauge family.
#[derive(Debug)]
pub(crate) struct GaugeFamily(Family);

/// A histogram family, and its buckets.
#[derive(Debug)]
pub(crate) struct HistogramFamily(Family, Arc<Buckets>);

/// The info family: one series, a gauge fixed at 1.
#[derive(Debug)]
pub(crate) struct InfoFamily(Family);

macro_rules! deref_to_family {
    ($($ty:ident),+) => {$(
        impl Deref for $ty {
            type Target = Family;

            fn deref(&self) -> &Family {
                &self.0
            }
        }
    )+};
}

deref_to_family!(CounterFamily, GaugeFamily, HistogramFamily, InfoFamily);

impl CounterFamily {
    pub(crate) fn new(family: Family) -> Self {
        CounterFamily(family)
    }
}

impl GaugeFamily {
    pub(crate) fn new(family: Family) -> Self {
        GaugeFamily(family)
    }
}

impl InfoFamily {
    pub(crate) fn new(family: Family) -> Self {
        InfoFamily(family)
    }
}

impl CounterFamily {
    /// Adds `n` to the series of `values`.
    pub(crate) fn inc_by(&self, values: &[&str], n: u64) {
        self.with(values, Admission::Capped, |series| {
            series.cell(0).fetch_add(n, Relaxed);
        });
    }

    /// Adds one to the series of `values`.
    pub(crate) fn inc(&self, values: &[&str]) {
        self.inc_by(values, 1);
    }
}

impl GaugeFamily {
    /// Sets the series of `values` to `value`.
    pub(crate) fn set(&self, values: &[&str], value: i64) {
        self.with(values, Admission::Capped, |series| series.set(value));
    }
}

impl HistogramFamily {
    pub(crate) fn new(family: Family) -> Self {
        let buckets = match family.buckets() {
            Some(buckets) => Arc::clone(buckets),
            None => Arc::new(Buckets::of(family.spec())),
        };
        HistogramFamily(family, buckets)
    }

    /// Observes `value` (in the recorded unit) into the series of `values`.
    pub(crate) fn observe(&self, values: &[&str], value: u64) {
        self.with(values, Admission::Capped, |series| {
            handle::observe(series, &self.1, value);
        });
    }

    /// A handle on the series of `values`.
    pub(crate) fn histogram_handle(
        &self,
        values: &[&str],
        admission: Admission,
    ) -> HistogramHandle {
        let cells: SeriesHandle = self.handle(values, admission);
        HistogramHandle::new(cells, Arc::clone(&self.1))
    }
}

impl InfoFamily {
    /// Makes `values` the one series, at 1.
    pub(crate) fn replace(&self, values: &[&str]) {
        self.keep_only(values, |series| series.set(1));
    }
}
