//! What a collector's builder sets for every family: the cardinality limit,
//! idle expiry and the clock it is measured with, the exemplar interval.

#[cfg(test)]
use std::sync::Arc;
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The default cardinality limit: series per family.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 1000;
/// The default idle timeout: a counter or histogram series with run-time
/// labels that no scrape has seen change for this long is dropped.
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
    Real(Instant),
    #[cfg(test)]
    Manual(Arc<AtomicU64>),
}

impl IdleClock {
    pub(crate) fn real() -> Self {
        IdleClock::Real(Instant::now())
    }

    /// Milliseconds since the clock was made (at least 1).
    pub(crate) fn now_millis(&self) -> u64 {
        let millis = match self {
            IdleClock::Real(start) => {
                u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
            }
            #[cfg(test)]
            IdleClock::Manual(now) => now.load(Ordering::Relaxed),
        };
        millis.max(1)
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
