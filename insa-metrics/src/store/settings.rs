//! What a collector's builder sets for every family: the cardinality limit, idle expiry and the clock it is measured with, the exemplar interval.

#[cfg(test)]
use std::sync::Arc;
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The default cardinality limit: series per family.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 1000;
/// The default idle timeout: a counter or histogram series with run-time
/// labels not recorded into for this long is dropped at the next scrape.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// The default exemplar interval: each bucket (and each request counter
/// series) takes at most one exemplar per interval.
pub const DEFAULT_EXEMPLAR_INTERVAL: Duration = Duration::from_secs(1);

/// The settings every family of one collector shares.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) limit: usize,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) idle_clock: IdleClock,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            limit: DEFAULT_CARDINALITY_LIMIT,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            idle_clock: IdleClock::real(),
        }
    }
}

/// The clock idle expiry reads at each scrape: real time, or a hand-moved
/// one in tests.
#[derive(Debug, Clone)]
pub(crate) enum IdleClock {
    /// The time-stamp counter (a few nanoseconds a read, where `Instant` is
    /// a `clock_gettime` call: records by label values read it), from a
    /// start reading.
    Real(quanta::Clock, u64),
    #[cfg(test)]
    Manual(Arc<AtomicU64>),
}

impl IdleClock {
    pub(crate) fn real() -> Self {
        let clock = quanta::Clock::new();
        let start = clock.raw();
        IdleClock::Real(clock, start)
    }

    /// Seconds since the clock was made, at least 1 (and below 2^31: idle
    /// expiry keeps them in 31 bits, 68 years).
    #[inline]
    pub(crate) fn now_secs(&self) -> u32 {
        let secs = match self {
            IdleClock::Real(clock, start) => {
                clock.delta_as_nanos(*start, clock.raw()) / 1_000_000_000
            }
            #[cfg(test)]
            IdleClock::Manual(now) => now.load(Ordering::Relaxed) / 1000,
        };
        u32::try_from(secs)
            .unwrap_or(u32::MAX)
            .clamp(1, (1 << 31) - 1)
    }

    /// A clock that only moves when [`advance`](Self::advance)d.
    #[cfg(test)]
    pub(crate) fn manual() -> Self {
        IdleClock::Manual(Arc::new(AtomicU64::new(1)))
    }

    #[cfg(test)]
    pub(crate) fn advance(&self, by: Duration) {
        if let IdleClock::Manual(now) = self {
            now.fetch_add(
                u64::try_from(by.as_millis()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }
}
