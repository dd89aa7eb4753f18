//! A histogram family's buckets in the unit it records (nanoseconds for durations), and their `le` label values as the exposition writes them.

use crate::catalogue::{FamilySpec, Unit};
use crate::exposition::float::write_float;

/// The bucket layout of one histogram family.
///
/// A series of the family has one cell per bucket, counting the observations
/// of that bucket alone (the exposition accumulates them), then one for
/// `+Inf`, then the sum of the observations in the recorded unit, in two
/// cells: its low 64 bits (one `fetch_add`), then how many times they wrapped
/// (a sum of nanoseconds wraps 64 bits after 584 years of summed time, which
/// a thousand concurrent sessions reach in 213 days). Its count is the sum of
/// the bucket cells, so count and buckets always agree.
#[derive(Debug)]
pub(crate) struct Buckets {
    /// Upper bounds in the recorded unit.
    bounds: Box<[u64]>,
    /// Recorded units per base unit: 1e9 for seconds, 1 for bytes.
    per_unit: f64,
    /// The `le` values: the bounds in the base unit, then `+Inf`.
    le: Box<[Box<str>]>,
}

impl Buckets {
    pub(crate) fn of(spec: &FamilySpec) -> Self {
        let per_unit = match spec.unit() {
            Some(Unit::Seconds) => 1e9,
            _ => 1.0,
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        // bounds are positive and small
        let bounds = spec
            .buckets()
            .iter()
            .map(|bound| (bound * per_unit).round() as u64)
            .collect();
        let le = spec
            .buckets()
            .iter()
            .map(|&bound| {
                let mut text = String::new();
                let _ = write_float(&mut text, bound);
                text.into_boxed_str()
            })
            .chain(std::iter::once("+Inf".into()))
            .collect();
        Buckets {
            bounds,
            per_unit,
            le,
        }
    }

    /// The cell an observation of `value` counts in: the first bucket whose
    /// bound is at least `value`, or `+Inf`.
    #[inline]
    pub(crate) fn index(&self, value: u64) -> usize {
        self.bounds
            .iter()
            .position(|&bound| value <= bound)
            .unwrap_or(self.bounds.len())
    }

    /// The upper bounds in the recorded unit.
    pub(crate) fn bounds(&self) -> &[u64] {
        &self.bounds
    }

    /// Cells per series: the buckets, `+Inf` and the sum's two.
    pub(crate) fn width(&self) -> usize {
        self.bounds.len() + 3
    }

    /// The cells that count observations: the buckets and `+Inf`.
    pub(crate) fn observation_cells(&self) -> usize {
        self.bounds.len() + 1
    }

    /// The cell of the sum's low 64 bits; the next one counts their wraps.
    pub(crate) fn sum_cell(&self) -> usize {
        self.bounds.len() + 1
    }

    /// The `le` label value of cell `i` (`+Inf` for the last).
    pub(crate) fn le(&self, i: usize) -> &str {
        &self.le[i]
    }

    /// A value in the recorded unit, in the base unit.
    pub(crate) fn to_base(&self, recorded: impl Into<u128>) -> f64 {
        #[allow(clippy::cast_precision_loss)] // exact below 2^53 (104 days of ns)
        let recorded = recorded.into() as f64;
        recorded / self.per_unit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{AGENT_REQUEST_SIZE_BYTES, MESSAGE_BUS_PROCESSING_DURATION_SECONDS};

    #[test]
    fn durations_are_bucketed_in_nanoseconds_with_inclusive_bounds() {
        let buckets = Buckets::of(&MESSAGE_BUS_PROCESSING_DURATION_SECONDS);
        assert_eq!(buckets.index(0), 0);
        assert_eq!(buckets.index(500_000), 0);
        assert_eq!(buckets.index(500_001), 1);
        assert_eq!(buckets.index(10_000_000_000), 13);
        assert_eq!(buckets.index(10_000_000_001), 14);
        assert_eq!(buckets.le(0), "0.0005");
        assert_eq!(buckets.le(10), "1");
        assert_eq!(buckets.le(14), "+Inf");
        assert_eq!(buckets.width(), 17);
        assert!((buckets.to_base(1_500_000_000u64) - 1.5).abs() < 1e-12);
    }

    #[test]
    fn sizes_are_bucketed_in_bytes() {
        let buckets = Buckets::of(&AGENT_REQUEST_SIZE_BYTES);
        assert_eq!(buckets.index(64), 0);
        assert_eq!(buckets.index(65), 1);
        assert_eq!(buckets.le(9), "16777216");
        assert_eq!(buckets.to_base(3u64), 3.0);
    }
}
