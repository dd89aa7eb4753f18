//! The clock every guard and call site times with: the CPU's invariant time-stamp counter where there is one, the OS monotonic clock otherwise.
//!
//! Reading `std::time::Instant` is a `clock_gettime` call: under a hypervisor
//! two of them cost more than all the atomics of a recorded request. The
//! time-stamp counter is read in a few nanoseconds and scaled to nanoseconds
//! with a multiply and a shift, calibrated once per process against the OS
//! monotonic clock at the first collector's build (about 1 ms; `quanta` stops
//! calibrating at 200 ms on a machine too loaded to converge sooner).
//! `quanta` falls back to the OS clock where the counter is not invariant or
//! the CPU has none.

use std::time::Duration;

/// The clock a collector and all its handles time with.
#[derive(Debug, Clone)]
pub(crate) struct Clock(quanta::Clock);

/// One reading of the clock of a collector's handles: raw ticks, meaningful
/// only to a clock of the same process.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Tick(u64);

impl Tick {
    /// The reading `ticks` earlier (tests).
    #[cfg(test)]
    pub(crate) fn before(self, ticks: u64) -> Tick {
        Tick(self.0.saturating_sub(ticks))
    }

    /// The raw reading.
    #[inline]
    pub(crate) fn raw(self) -> u64 {
        self.0
    }
}

impl Clock {
    /// The fastest reliable clock of this machine; the first one in a process
    /// calibrates the counter.
    pub(crate) fn new() -> Self {
        Clock(quanta::Clock::new())
    }

    /// The current reading.
    #[inline]
    pub(crate) fn now(&self) -> Tick {
        Tick(self.0.raw())
    }

    /// Nanoseconds from `start` to now; 0 when the counter reads earlier than
    /// `start` (a thread moved to a core whose counter lags).
    #[inline]
    pub(crate) fn nanos_since(&self, start: Tick) -> u64 {
        self.0.delta_as_nanos(start.0, self.0.raw())
    }

    /// Nanoseconds between two raw readings; 0 when `end` reads earlier.
    #[inline]
    pub(crate) fn nanos_between(&self, start: u64, end: u64) -> u64 {
        self.0.delta_as_nanos(start, end)
    }

    /// Nanoseconds that `ticks` raw ticks last.
    #[inline]
    pub(crate) fn nanos_of(&self, ticks: u64) -> u64 {
        self.0.delta_as_nanos(0, ticks)
    }

    /// Nanoseconds that `ticks` raw ticks last, for a sum of ticks that may
    /// pass 64 bits: exactly [`nanos_of`](Self::nanos_of) below, and in
    /// spans of 2^40 ticks above (the scale is linear).
    pub(crate) fn nanos_of_wide(&self, ticks: u128) -> u128 {
        const SPAN: u128 = 1 << 40;
        match u64::try_from(ticks) {
            Ok(ticks) => u128::from(self.nanos_of(ticks)),
            #[allow(clippy::cast_possible_truncation)] // below SPAN
            Err(_) => {
                (ticks / SPAN) * u128::from(self.nanos_of(SPAN as u64))
                    + u128::from(self.nanos_of((ticks % SPAN) as u64))
            }
        }
    }

    /// The most ticks that measure at most `nanos` ([`nanos_of`](Self::nanos_of)
    /// is monotonic): `ticks <= ticks_within(b)` exactly when
    /// `nanos_of(ticks) <= b`, so a bucket bound in ticks sorts observations
    /// as the bound in nanoseconds would.
    pub(crate) fn ticks_within(&self, nanos: u64) -> u64 {
        let mut ticks = self.ticks_for(Duration::from_nanos(nanos));
        while ticks > 0 && self.nanos_of(ticks) > nanos {
            ticks -= 1;
        }
        while ticks < u64::MAX && self.nanos_of(ticks + 1) <= nanos {
            ticks += 1;
        }
        ticks
    }

    /// How many raw ticks `duration` lasts (at least 1, at most `u64::MAX`
    /// for a duration longer than the counter can count).
    pub(crate) fn ticks_for(&self, duration: Duration) -> u64 {
        // The scale is linear: read it off a long span of ticks.
        const SPAN: u64 = 1 << 40;
        let nanos_per_span = self.0.delta_as_nanos(0, SPAN).max(1);
        // Saturates: a duration too long to count in ticks is "never".
        let ticks = u128::from(SPAN)
            .checked_mul(duration.as_nanos())
            .map_or(u128::MAX, |scaled| scaled / u128::from(nanos_per_span));
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    /// Time from `start` to now.
    #[inline]
    pub(crate) fn since(&self, start: Tick) -> Duration {
        Duration::from_nanos(self.nanos_since(start))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_sum_of_ticks_past_64_bits_converts_linearly() {
        let clock = Clock::new();
        let half = clock.nanos_of_wide(1 << 63);
        assert_eq!(half, u128::from(clock.nanos_of(1 << 63)));
        let whole = clock.nanos_of_wide(1 << 64);
        let rounding = 2 * (1 << 24); // ≤ 1 ns per span of 2^40 ticks, twice
        assert!(whole.abs_diff(2 * half) <= rounding, "{whole} vs {half}");
        assert!(clock.nanos_of_wide((1 << 64) + (1 << 40)) > whole);
    }

    #[test]
    fn a_sleep_measures_as_long_as_on_the_os_clock() {
        let clock = Clock::new();
        let outer = Instant::now();
        let start = clock.now();
        std::thread::sleep(Duration::from_millis(50));
        let measured = clock.since(start);
        let outer = outer.elapsed();
        // The OS clock's reads bracket ours; 1 % covers the calibration.
        assert!(
            measured >= Duration::from_millis(50).mul_f64(0.99),
            "{measured:?}"
        );
        assert!(
            measured <= outer.mul_f64(1.01),
            "{measured:?} against {outer:?}"
        );
    }

    #[test]
    fn a_duration_in_ticks_measures_as_long() {
        let clock = Clock::new();
        let ticks = clock.ticks_for(Duration::from_millis(250));
        let nanos = clock.nanos_between(1_000, 1_000 + ticks);
        assert!((249_000_000..=251_000_000).contains(&nanos), "{nanos}");
    }

    #[test]
    fn a_duration_too_long_to_count_saturates() {
        let clock = Clock::new();
        for duration in [
            Duration::MAX,
            Duration::from_secs(u64::MAX),
            Duration::from_secs(u64::MAX / 1_000),
        ] {
            assert_eq!(clock.ticks_for(duration), u64::MAX, "{duration:?}");
        }
        assert!(clock.ticks_for(Duration::from_secs(3600)) < u64::MAX);
    }

    #[test]
    fn a_bound_in_ticks_sorts_as_the_bound_in_nanoseconds() {
        let clock = Clock::new();
        for nanos in [1, 999, 100_000, 5_000_000, 100_000_000, 120_000_000_000] {
            let within = clock.ticks_within(nanos);
            assert!(clock.nanos_of(within) <= nanos, "{nanos}");
            assert!(clock.nanos_of(within + 1) > nanos, "{nanos}");
        }
    }

    #[test]
    fn readings_never_go_backwards_on_one_thread() {
        let clock = Clock::new();
        let start = clock.now();
        let mut last = Duration::ZERO;
        for _ in 0..10_000 {
            let now = clock.since(start);
            assert!(now >= last, "{now:?} after {last:?}");
            last = now;
        }
    }
}
