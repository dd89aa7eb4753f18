//! The closure and future forms of the attribute macros, for a block of code: the outcome is read from the `Result` the block returns.

use std::future::Future;

use crate::collector::MetricsCollector;
use crate::labels::LabelValue;
use crate::outcome::ClassifyError;

impl MetricsCollector {
    /// Runs `f` as one request of `agent_type`, as `#[track_request_metrics]`
    /// does for a fn: `Ok` is `success`, `Err` is `error` or `timeout`, a
    /// panic is `error` and keeps unwinding; the in-flight gauge is exact.
    ///
    /// ```
    /// # let collector = insa_metrics::MetricsCollector::builder().process_metrics(false).build()?;
    /// let size: Result<u32, std::io::Error> = collector.track_request("sizing_agent", || {
    ///     let words = "size this deal".split_whitespace().count();
    ///     Ok(u32::try_from(words).map_err(std::io::Error::other)? * 8)
    /// });
    /// assert_eq!(size?, 24);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn track_request<T, E: ClassifyError>(
        &self,
        agent_type: impl LabelValue,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.start_request(agent_type).finish(f())
    }

    /// Awaits `future` as one request of `agent_type`; dropped before it
    /// completes, it counts as `cancelled`. The request starts at the first poll.
    pub async fn track_request_async<T, E: ClassifyError>(
        &self,
        agent_type: impl LabelValue,
        future: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let mut guard = self.start_request(agent_type);
        let result = guard.polled(future).await;
        guard.finish(result)
    }

    /// Runs `f` as one database operation, as `#[track_database_operation]`
    /// does: an `Err` or a panic also counts `insa_database_errors_total`.
    pub fn track_database_operation<T, E: ClassifyError>(
        &self,
        operation: impl LabelValue,
        table: impl LabelValue,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.start_database_operation(operation, table).finish(f())
    }

    /// Awaits `future` as one database operation.
    pub async fn track_database_operation_async<T, E: ClassifyError>(
        &self,
        operation: impl LabelValue,
        table: impl LabelValue,
        future: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let mut guard = self.start_database_operation(operation, table);
        let result = guard.polled(future).await;
        guard.finish(result)
    }

    /// Runs `f` as the processing of one message, as
    /// `#[track_message_processing]` does: the duration is observed however
    /// it ends.
    pub fn track_message<R>(&self, agent_type: impl LabelValue, f: impl FnOnce() -> R) -> R {
        let _processing = self.start_message(agent_type);
        f()
    }

    /// Awaits `future` as the processing of one message.
    pub async fn track_message_async<R>(
        &self,
        agent_type: impl LabelValue,
        future: impl Future<Output = R>,
    ) -> R {
        let _processing = self.start_message(agent_type);
        future.await
    }
}
