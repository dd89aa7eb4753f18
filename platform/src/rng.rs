//! A small xorshift64* generator for the simulated workload (no dependency needed).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A xorshift64* pseudo-random generator: fast, tiny and good enough to draw
/// latencies, payload sizes and failures of the simulated platform.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from `seed` (a zero seed is replaced, xorshift needs a set bit).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Rng {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// A generator seeded from the clock and a process-wide counter, so two
    /// generators created at once still differ.
    #[must_use]
    pub fn from_entropy() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let n = COUNTER.fetch_add(0x9E37_79B9, Ordering::Relaxed);
        Rng::new(nanos ^ n.rotate_left(32))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A float uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // 53 bits fit an f64 mantissa
        let bits = (self.next_u64() >> 11) as f64;
        bits / (1u64 << 53) as f64
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An integer uniform in `[low, high)`; `low` when the range is empty.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low)
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let len = items.len() as u64;
        #[allow(clippy::cast_possible_truncation)] // index below the slice length
        &items[self.range(0, len) as usize]
    }

    /// A log-normal value with this median and spread (sigma of the log):
    /// the shape of real latencies and payload sizes, a long right tail.
    pub fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        // Box-Muller: one standard normal from two uniforms.
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        median * (sigma * normal).exp()
    }

    /// A log-normal duration with this median, capped at `max`.
    pub fn latency(&mut self, median: Duration, sigma: f64, max: Duration) -> Duration {
        let secs = self.log_normal(median.as_secs_f64(), sigma);
        Duration::from_secs_f64(secs.min(max.as_secs_f64()))
    }
}

/// A generator shared by the tasks of one component.
#[derive(Debug)]
pub struct SharedRng(Mutex<Rng>);

impl SharedRng {
    /// A shared generator seeded from the clock.
    #[must_use]
    pub fn new() -> Self {
        SharedRng(Mutex::new(Rng::from_entropy()))
    }

    /// Runs `f` with the generator (held for the duration of `f` only).
    pub fn with<T>(&self, f: impl FnOnce(&mut Rng) -> T) -> T {
        let mut rng = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut rng)
    }
}

impl Default for SharedRng {
    fn default() -> Self {
        SharedRng::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_in_range_and_spread() {
        let mut rng = Rng::new(42);
        let draws: Vec<f64> = (0..10_000).map(|_| rng.unit()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn log_normal_median_is_close() {
        let mut rng = Rng::new(7);
        let mut draws: Vec<f64> = (0..10_001).map(|_| rng.log_normal(2.0, 0.5)).collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[5_000];
        assert!((median - 2.0).abs() < 0.1, "median {median}");
    }
}
