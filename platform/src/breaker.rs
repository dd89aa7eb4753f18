//! A circuit breaker: closed → open → half open → closed, with its state and transitions recorded.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use insa_metrics::{CircuitState, MetricsCollector, RequestStatus, metrics};

/// When a breaker opens and how it recovers.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker.
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before letting a trial through.
    pub open_timeout: Duration,
    /// Consecutive successful trials that close a half-open breaker.
    pub success_threshold: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_timeout: Duration::from_secs(2),
            success_threshold: 2,
        }
    }
}

/// The breaker refused the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerOpen;

impl std::fmt::Display for BreakerOpen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("circuit breaker open")
    }
}

impl std::error::Error for BreakerOpen {}

#[derive(Debug)]
struct Inner {
    state: CircuitState,
    /// Consecutive failures while closed, consecutive successes while half open.
    streak: u32,
    opened_at: Instant,
    /// The trial call let through while half open, when it started.
    trial_since: Option<Instant>,
    /// Held open by an operator: no trial call until released.
    forced: bool,
}

/// A circuit breaker in front of one agent.
///
/// Closed, it lets every call through and counts consecutive failures; at
/// `failure_threshold` it opens and refuses calls for `open_timeout`; then it
/// goes half open and lets one trial call through at a time: a failure opens
/// it again, `success_threshold` successes close it.
///
/// Every refused call counts as a request of the agent with
/// `status="rejected"` in `insa_agent_requests_total` (the agent never saw
/// it, so it records nothing itself): an outage behind an open breaker
/// stays visible to the error ratio and the availability SLO.
#[derive(Debug)]
pub struct CircuitBreaker {
    agent_type: &'static str,
    config: BreakerConfig,
    inner: Mutex<Inner>,
    metrics: &'static MetricsCollector,
}

impl CircuitBreaker {
    /// A closed breaker for `agent_type`, recording into the global collector.
    #[must_use]
    pub fn new(agent_type: &'static str, config: BreakerConfig) -> Self {
        Self::with_collector(agent_type, config, metrics())
    }

    /// A closed breaker recording into `metrics`.
    #[must_use]
    pub fn with_collector(
        agent_type: &'static str,
        config: BreakerConfig,
        metrics: &'static MetricsCollector,
    ) -> Self {
        metrics.update_circuit_breaker_state(agent_type, CircuitState::Closed);
        // The agent's request series of every status, at 0, before any
        // call: a breaker held open from the start still has them.
        drop(metrics.request_handles(agent_type));
        CircuitBreaker {
            agent_type,
            config,
            inner: Mutex::new(Inner {
                state: CircuitState::Closed,
                streak: 0,
                opened_at: Instant::now(),
                trial_since: None,
                forced: false,
            }),
            metrics,
        }
    }

    /// The agent this breaker protects.
    #[must_use]
    pub fn agent_type(&self) -> &'static str {
        self.agent_type
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> CircuitState {
        self.lock().state
    }

    /// Asks to make a call at `now`: `Ok` lets it through (report its result
    /// with [`on_success`](Self::on_success) / [`on_failure`](Self::on_failure)),
    /// `Err` refuses it.
    pub fn try_acquire(&self, now: Instant) -> Result<(), BreakerOpen> {
        let mut inner = self.lock();
        match inner.state {
            CircuitState::Open => {
                if inner.forced || now.duration_since(inner.opened_at) < self.config.open_timeout {
                    return Err(self.refuse());
                }
                self.transition(&mut inner, CircuitState::HalfOpen, now);
                inner.trial_since = Some(now);
                Ok(())
            }
            CircuitState::HalfOpen => match inner.trial_since {
                // A trial that never reported (its caller was cancelled) is
                // given up after `open_timeout`.
                Some(since) if now.duration_since(since) < self.config.open_timeout => {
                    Err(self.refuse())
                }
                _ => {
                    inner.trial_since = Some(now);
                    Ok(())
                }
            },
            _ => Ok(()),
        }
    }

    /// The call let through succeeded.
    pub fn on_success(&self, now: Instant) {
        let mut inner = self.lock();
        match inner.state {
            CircuitState::HalfOpen => {
                inner.trial_since = None;
                inner.streak += 1;
                if inner.streak >= self.config.success_threshold {
                    self.transition(&mut inner, CircuitState::Closed, now);
                }
            }
            _ => inner.streak = 0,
        }
    }

    /// The call let through failed.
    pub fn on_failure(&self, now: Instant) {
        let mut inner = self.lock();
        match inner.state {
            CircuitState::HalfOpen => {
                inner.trial_since = None;
                self.transition(&mut inner, CircuitState::Open, now);
            }
            CircuitState::Closed => {
                inner.streak += 1;
                if inner.streak >= self.config.failure_threshold {
                    self.transition(&mut inner, CircuitState::Open, now);
                }
            }
            _ => {}
        }
    }

    /// Opens the breaker and holds it open until [`release`](Self::release)
    /// (an operator isolating a misbehaving agent).
    pub fn force_open(&self, now: Instant) {
        let mut inner = self.lock();
        inner.forced = true;
        if inner.state != CircuitState::Open {
            self.transition(&mut inner, CircuitState::Open, now);
        }
    }

    /// Opens the breaker once: it refuses calls for `open_timeout`, then
    /// recovers as usual through half open (an operator tripping it by hand,
    /// or an outage the breaker saw elsewhere).
    pub fn trip(&self, now: Instant) {
        let mut inner = self.lock();
        if inner.state != CircuitState::Open {
            self.transition(&mut inner, CircuitState::Open, now);
        }
    }

    /// Ends [`force_open`](Self::force_open): the breaker recovers as usual.
    pub fn release(&self, now: Instant) {
        let mut inner = self.lock();
        inner.forced = false;
        inner.opened_at = now;
    }

    /// Counts a refused call as a `rejected` request of the agent.
    fn refuse(&self) -> BreakerOpen {
        self.metrics
            .record_request(self.agent_type, RequestStatus::Rejected);
        BreakerOpen
    }

    fn transition(&self, inner: &mut Inner, to: CircuitState, now: Instant) {
        let from = inner.state;
        inner.state = to;
        inner.streak = 0;
        if to == CircuitState::Open {
            inner.opened_at = now;
        }
        self.metrics
            .record_circuit_breaker_transition(self.agent_type, from, to);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{collector, sample};

    const CONFIG: BreakerConfig = BreakerConfig {
        failure_threshold: 3,
        open_timeout: Duration::from_secs(5),
        success_threshold: 2,
    };

    fn transitions(m: &MetricsCollector, from: &str, to: &str) -> f64 {
        let series = format!(
            "insa_circuit_breaker_transitions_total{{agent_type=\"agent\",from_state=\"{from}\",to_state=\"{to}\"}}"
        );
        sample(&m.encode_text(), &series)
    }

    fn state_gauge(m: &MetricsCollector) -> f64 {
        sample(
            &m.encode_text(),
            "insa_circuit_breaker_state{agent_type=\"agent\"}",
        )
    }

    fn requests(m: &MetricsCollector, status: &str) -> f64 {
        let series =
            format!("insa_agent_requests_total{{agent_type=\"agent\",status=\"{status}\"}}");
        sample(&m.encode_text(), &series)
    }

    #[test]
    fn refused_calls_count_as_rejected_requests() {
        let m = collector();
        let breaker = CircuitBreaker::with_collector("agent", CONFIG, m);
        // Every status exists at 0 before the first call.
        let text = m.encode_text();
        for status in ["success", "error", "timeout", "cancelled", "rejected"] {
            let series =
                format!("insa_agent_requests_total{{agent_type=\"agent\",status=\"{status}\"}} 0");
            assert!(text.contains(&series), "{series} missing from:\n{text}");
        }
        let start = Instant::now();
        // Calls let through are the agent's to count, not the breaker's.
        assert_eq!(breaker.try_acquire(start), Ok(()));
        assert_eq!(requests(m, "rejected"), 0.0);
        for _ in 0..3 {
            breaker.on_failure(start);
        }
        assert_eq!(breaker.try_acquire(start), Err(BreakerOpen));
        assert_eq!(breaker.try_acquire(start), Err(BreakerOpen));
        assert_eq!(requests(m, "rejected"), 2.0);
        // Half open: the trial goes through, a second call meanwhile is refused.
        let later = start + CONFIG.open_timeout;
        assert_eq!(breaker.try_acquire(later), Ok(()));
        assert_eq!(breaker.try_acquire(later), Err(BreakerOpen));
        assert_eq!(requests(m, "rejected"), 3.0);
        // Held open by an operator: every call is refused and counted.
        breaker.force_open(later);
        for _ in 0..4 {
            assert_eq!(
                breaker.try_acquire(later + CONFIG.open_timeout * 10),
                Err(BreakerOpen)
            );
        }
        assert_eq!(requests(m, "rejected"), 7.0);
        for status in ["success", "error", "timeout", "cancelled"] {
            assert_eq!(requests(m, status), 0.0, "{status}");
        }
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let m = collector();
        let breaker = CircuitBreaker::with_collector("agent", CONFIG, m);
        let now = Instant::now();
        breaker.on_failure(now);
        breaker.on_failure(now);
        breaker.on_success(now); // the streak starts over
        breaker.on_failure(now);
        breaker.on_failure(now);
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(state_gauge(m), 0.0);
        breaker.on_failure(now);
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.try_acquire(now), Err(BreakerOpen));
        assert_eq!(state_gauge(m), 1.0);
        assert_eq!(transitions(m, "closed", "open"), 1.0);
    }

    #[test]
    fn a_tripped_breaker_recovers_as_usual() {
        let m = collector();
        let breaker = CircuitBreaker::with_collector("agent", CONFIG, m);
        let start = Instant::now();
        breaker.trip(start);
        breaker.trip(start); // already open: no second transition
        assert_eq!(breaker.try_acquire(start), Err(BreakerOpen));
        assert_eq!(transitions(m, "closed", "open"), 1.0);
        let later = start + CONFIG.open_timeout;
        for _ in 0..CONFIG.success_threshold {
            assert_eq!(breaker.try_acquire(later), Ok(()));
            breaker.on_success(later);
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(transitions(m, "open", "half_open"), 1.0);
        assert_eq!(transitions(m, "half_open", "closed"), 1.0);
    }

    #[test]
    fn recovers_through_half_open() {
        let m = collector();
        let breaker = CircuitBreaker::with_collector("agent", CONFIG, m);
        let start = Instant::now();
        for _ in 0..3 {
            breaker.on_failure(start);
        }
        let later = start + CONFIG.open_timeout;
        assert_eq!(breaker.try_acquire(later), Ok(()));
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert_eq!(state_gauge(m), 2.0);
        // One trial at a time.
        assert_eq!(breaker.try_acquire(later), Err(BreakerOpen));
        breaker.on_success(later);
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert_eq!(breaker.try_acquire(later), Ok(()));
        breaker.on_success(later);
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(transitions(m, "open", "half_open"), 1.0);
        assert_eq!(transitions(m, "half_open", "closed"), 1.0);
        assert_eq!(state_gauge(m), 0.0);
    }

    #[test]
    fn a_failed_trial_opens_again() {
        let m = collector();
        let breaker = CircuitBreaker::with_collector("agent", CONFIG, m);
        let start = Instant::now();
        for _ in 0..3 {
            breaker.on_failure(start);
        }
        let later = start + CONFIG.open_timeout;
        assert_eq!(breaker.try_acquire(later), Ok(()));
        breaker.on_failure(later);
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.try_acquire(later), Err(BreakerOpen));
        assert_eq!(transitions(m, "half_open", "open"), 1.0);
        assert_eq!(transitions(m, "closed", "open"), 1.0);
    }

    #[test]
    fn an_abandoned_trial_is_given_up_after_the_open_timeout() {
        let m = collector();
        let breaker = CircuitBreaker::with_collector("agent", CONFIG, m);
        let start = Instant::now();
        for _ in 0..3 {
            breaker.on_failure(start);
        }
        let trial = start + CONFIG.open_timeout;
        assert_eq!(breaker.try_acquire(trial), Ok(()));
        assert_eq!(breaker.try_acquire(trial + CONFIG.open_timeout), Ok(()));
    }

    #[test]
    fn forced_open_holds_until_released() {
        let m = collector();
        let breaker = CircuitBreaker::with_collector("agent", CONFIG, m);
        let start = Instant::now();
        breaker.force_open(start);
        let much_later = start + CONFIG.open_timeout * 10;
        assert_eq!(breaker.try_acquire(much_later), Err(BreakerOpen));
        assert_eq!(state_gauge(m), 1.0);
        breaker.release(much_later);
        assert_eq!(
            breaker.try_acquire(much_later + CONFIG.open_timeout),
            Ok(())
        );
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
    }
}
