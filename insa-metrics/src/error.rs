//! The crate's error type, which keeps the cause of each failure as its `source()`.

use std::io;
use std::net::SocketAddr;

/// A cause carried by an [`Error`]: an `io::Error`, a rustls error, …
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong in `insa-metrics`.
///
/// The message names what failed and where (the address, the file, the
/// gateway); the underlying error, when there is one, is the
/// [`source()`](std::error::Error::source), so `{:#}` in `anyhow` or any
/// error reporter prints the whole chain.
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
///
/// A failure keeps its cause:
///
/// ```
/// # #[cfg(feature = "server")]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::error::Error as _;
/// use insa_metrics::{Error, MetricsServer};
///
/// let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let error = MetricsServer::builder().addr(taken.local_addr()?).build().unwrap_err();
/// assert!(matches!(error, Error::Bind { .. }));
/// let cause = error.source().and_then(|cause| cause.downcast_ref::<std::io::Error>());
/// assert_eq!(cause.map(|cause| cause.kind()), Some(std::io::ErrorKind::AddrInUse));
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "server"))]
/// # fn main() {}
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
    #[error("cannot bind the metrics server to {addr}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: io::Error,
    },
    /// The global metrics server is already running.
    #[error("the metrics server is already running on {0}")]
    AlreadyRunning(SocketAddr),
    /// The server or push configuration is invalid; the message says what to
    /// change.
    #[error("invalid configuration: {message}")]
    Config {
        /// What is wrong, naming the option or value.
        message: String,
        /// The parser's error, when one rejected the value.
        #[source]
        source: Option<Cause>,
    },
    /// A TLS certificate, key or CA file could not be used.
    #[error("TLS configuration error: {message}")]
    Tls {
        /// The file(s) and what is wrong with them.
        message: String,
        /// The I/O, PEM or rustls error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// A push to a Pushgateway failed.
    #[error("push to the Pushgateway at {url} failed: {reason}")]
    Push {
        /// The gateway URL the push went to.
        url: String,
        /// The step that failed (connecting, the TLS handshake, an HTTP
        /// status and the start of the gateway's answer, a timeout).
        reason: String,
        /// The I/O, TLS or HTTP error of that step, when there is one.
        #[source]
        source: Option<Cause>,
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

#[cfg_attr(not(any(feature = "server", feature = "push")), allow(dead_code))]
impl Error {
    /// An invalid configuration, with no underlying error.
    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::Config {
            message: message.into(),
            source: None,
        }
    }

    /// An invalid configuration that `cause` rejected.
    pub(crate) fn config_caused(message: impl Into<String>, cause: impl Into<Cause>) -> Error {
        Error::Config {
            message: message.into(),
            source: Some(cause.into()),
        }
    }

    /// A TLS file that cannot be used, with its cause when there is one.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(message: impl Into<String>, cause: Option<Cause>) -> Error {
        Error::Tls {
            message: message.into(),
            source: cause,
        }
    }
}
