//! A retry policy with exponential backoff that records each retry by its number.

use std::future::Future;
use std::time::Duration;

use insa_metrics::{MetricsCollector, metrics};

/// How often and how patiently a failed call is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: no retry).
    pub max_retries: u32,
    /// The wait before the first retry; it doubles for each further one.
    pub base_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry).
    #[must_use]
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Runs `op` (given the attempt number, 0 for the first call) until it
    /// succeeds, fails with an error `retryable` rejects, or the retries are
    /// spent. Each retry counts in `insa_retry_attempts_total{agent_type,
    /// retry_number}`; a success after retrying in `insa_retry_success_total`.
    pub async fn run<T, E, F, Fut>(
        &self,
        agent_type: &str,
        op: F,
        retryable: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_with(metrics(), agent_type, op, retryable).await
    }

    /// [`run`](Self::run), recording into `metrics`.
    pub async fn run_with<T, E, F, Fut>(
        &self,
        metrics: &MetricsCollector,
        agent_type: &str,
        mut op: F,
        retryable: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 0;
        loop {
            match op(attempt).await {
                Ok(value) => {
                    if attempt > 0 {
                        metrics.record_retry_success(agent_type);
                    }
                    return Ok(value);
                }
                Err(error) if attempt < self.max_retries && retryable(&error) => {
                    attempt += 1;
                    tokio::time::sleep(self.delay(attempt)).await;
                    metrics.record_retry_attempt(agent_type, attempt);
                }
                Err(error) => return Err(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{collector, sample};

    const FAST: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
    };

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let delays: Vec<u128> = (1..=5).map(|n| FAST.delay(n).as_millis()).collect();
        assert_eq!(delays, [1, 2, 4, 4, 4]);
    }

    #[tokio::test]
    async fn retries_until_success_and_counts_each_retry_number() {
        let m = collector();
        let result: Result<u32, &str> = FAST
            .run_with(
                m,
                "agent",
                |attempt| async move {
                    if attempt < 2 {
                        Err("busy")
                    } else {
                        Ok(attempt)
                    }
                },
                |_| true,
            )
            .await;
        assert_eq!(result, Ok(2));
        let text = m.encode_text();
        let attempt = |n: u32| {
            format!("insa_retry_attempts_total{{agent_type=\"agent\",retry_number=\"{n}\"}}")
        };
        assert_eq!(sample(&text, &attempt(1)), 1.0);
        assert_eq!(sample(&text, &attempt(2)), 1.0);
        assert_eq!(sample(&text, &attempt(3)), 0.0);
        assert_eq!(
            sample(&text, "insa_retry_success_total{agent_type=\"agent\"}"),
            1.0
        );
    }

    #[tokio::test]
    async fn gives_up_after_max_retries_and_on_permanent_errors() {
        let m = collector();
        let spent: Result<(), &str> = FAST
            .run_with(m, "agent", |_| async { Err("busy") }, |_| true)
            .await;
        assert_eq!(spent, Err("busy"));
        let permanent: Result<(), &str> = FAST
            .run_with(m, "other", |_| async { Err("invalid") }, |_| false)
            .await;
        assert_eq!(permanent, Err("invalid"));
        let text = m.encode_text();
        assert!(text.contains("retry_number=\"3\""));
        assert!(!text.contains("retry_number=\"4\""));
        assert!(!text.contains("insa_retry_attempts_total{agent_type=\"other\""));
        assert!(!text.contains("insa_retry_success_total{"));
    }
}
