//! Errors of the agent workers and of routed requests, classified for the metrics.

use std::fmt;

use insa_metrics::ClassifyError;

use crate::database::DbError;

/// Why an agent worker failed a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerError {
    /// The task ran past the worker's deadline.
    Timeout,
    /// The task was malformed; retrying will not help.
    InvalidInput(&'static str),
    /// The sizing model failed on this input.
    Model,
    /// The database failed.
    Database(DbError),
    /// The worker is gone (shut down) and took no task.
    Unavailable,
}

impl WorkerError {
    /// Whether trying again may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            WorkerError::Timeout | WorkerError::Model | WorkerError::Unavailable => true,
            WorkerError::Database(db) => db.is_transient(),
            WorkerError::InvalidInput(_) => false,
        }
    }
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Timeout => f.write_str("task deadline exceeded"),
            WorkerError::InvalidInput(what) => write!(f, "invalid input: {what}"),
            WorkerError::Model => f.write_str("sizing model failed"),
            WorkerError::Database(db) => write!(f, "database: {db}"),
            WorkerError::Unavailable => f.write_str("worker unavailable"),
        }
    }
}

impl std::error::Error for WorkerError {}

impl From<DbError> for WorkerError {
    fn from(error: DbError) -> Self {
        WorkerError::Database(error)
    }
}

/// A worker timeout counts as `status="timeout"` in `insa_agent_requests_total`.
impl ClassifyError for WorkerError {
    fn is_timeout(&self) -> bool {
        matches!(self, WorkerError::Timeout)
    }

    fn error_type(&self) -> &'static str {
        match self {
            WorkerError::Timeout => "timeout",
            WorkerError::InvalidInput(_) => "invalid_input",
            WorkerError::Model => "model",
            WorkerError::Database(db) => db.error_type(),
            WorkerError::Unavailable => "unavailable",
        }
    }
}

/// Why the orchestrator could not answer a user request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// The agent's worker failed.
    Worker(WorkerError),
    /// The agent's circuit breaker is open.
    CircuitOpen,
    /// The agent did not answer within the orchestrator's deadline.
    Deadline,
    /// No agent took the message.
    Undeliverable,
}

impl RouteError {
    /// Whether the orchestrator retries after this error.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            RouteError::Worker(worker) => worker.is_transient(),
            RouteError::Deadline | RouteError::Undeliverable => true,
            RouteError::CircuitOpen => false,
        }
    }

    /// Whether this error says the agent is failing (and counts against its breaker).
    #[must_use]
    pub fn is_agent_failure(&self) -> bool {
        !matches!(
            self,
            RouteError::CircuitOpen | RouteError::Worker(WorkerError::InvalidInput(_))
        )
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Worker(worker) => worker.fmt(f),
            RouteError::CircuitOpen => f.write_str("circuit breaker open"),
            RouteError::Deadline => f.write_str("agent deadline exceeded"),
            RouteError::Undeliverable => f.write_str("agent unreachable"),
        }
    }
}

impl std::error::Error for RouteError {}

impl ClassifyError for RouteError {
    fn is_timeout(&self) -> bool {
        matches!(
            self,
            RouteError::Deadline | RouteError::Worker(WorkerError::Timeout)
        )
    }

    fn error_type(&self) -> &'static str {
        match self {
            RouteError::Worker(worker) => worker.error_type(),
            RouteError::CircuitOpen => "circuit_open",
            RouteError::Deadline => "deadline",
            RouteError::Undeliverable => "undeliverable",
        }
    }
}
