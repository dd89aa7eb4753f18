//! The crate's error type.

use std::io;
use std::net::SocketAddr;

/// What can go wrong in `insa-metrics`.
///
/// # Examples
///
/// ```
/// use insa_metrics::{Error, MetricsCollector};
///
/// let refused = MetricsCollector::builder().cardinality_limit(0).build().unwrap_err();
/// assert!(matches!(refused, Error::CollectorConfig(_)));
/// assert_eq!(
///     refused.to_string(),
///     "invalid metrics collector configuration: the cardinality limit must be at least 1"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A family could not be registered (a name already taken on the registry).
    #[error("metric registration failed: {0}")]
    Registration(#[from] prometheus::Error),
    /// The registry already holds a family of this name.
    #[error("the registry already has a collector for the metric family {family}")]
    AlreadyRegistered {
        /// The family that clashed.
        family: &'static str,
    },
    /// The global collector was already built when it was configured.
    #[error("the global metrics collector is already initialised")]
    AlreadyInitialized,
    /// The metrics server could not bind its address.
    #[error("cannot bind the metrics server to {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: io::Error,
    },
    /// The global metrics server is already running.
    #[error("the metrics server is already running on {0}")]
    AlreadyRunning(SocketAddr),
    /// The server configuration is invalid.
    #[error("invalid metrics server configuration: {0}")]
    Config(String),
    /// The TLS certificate or key could not be loaded.
    #[error("TLS configuration error: {0}")]
    Tls(String),
    /// A push to a Pushgateway failed; the message names the gateway.
    #[error("push to the Pushgateway at {url} failed: {reason}")]
    Push {
        /// The gateway URL the push went to.
        url: String,
        /// What went wrong (connection refused, timeout, HTTP status and body).
        reason: String,
    },
    /// The collector's configuration is invalid.
    #[error("invalid metrics collector configuration: {0}")]
    CollectorConfig(&'static str),
    /// The registry could not be encoded: a collector gave a family the
    /// exposition formats cannot carry.
    #[error("cannot encode the metrics: {0}")]
    Encoding(String),
    /// An I/O error outside binding.
    #[error(transparent)]
    Io(#[from] io::Error),
}
