//! [`MetricsServerBuilder`]: address, path, limits, registry and security options, checked at `build()`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
#[cfg(feature = "tls")]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use socket2::{Domain, Protocol, Socket, Type};

use super::MetricsServer;
use super::auth::BasicAuth;
use super::connection::ConnectionPolicy;
use super::limits::{LISTEN_BACKLOG, Limits};
use super::path::MetricsPath;
use super::service::Endpoint;
use crate::encoding::Source;
use crate::{Error, MetricsCollector};

/// The environment variable that moves the default bind address off loopback,
/// e.g. `INSA_METRICS_BIND_ADDRESS=0.0.0.0` (an IP address, no port). An
/// address set with [`MetricsServerBuilder::ip`] takes precedence.
pub const BIND_ADDRESS_ENV: &str = "INSA_METRICS_BIND_ADDRESS";

/// Configures and binds a [`MetricsServer`].
///
/// Every option has a safe default: loopback, `/metrics`, and the limits of
/// the [README's table](crate#limits). Every value is checked at
/// [`build`](Self::build): a bad one is an [`Error::Config`] there, never a
/// surprise at run time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use insa_metrics::MetricsServer;
///
/// let server = MetricsServer::builder()
///     .port(0)
///     .max_connections_per_peer(4)
///     .keep_alive_timeout(Duration::from_secs(2))
///     .build()?;
/// assert_eq!(server.max_connections(), 128);
///
/// // A query in the path can never match a request's path.
/// let error = MetricsServer::builder().path("/metrics?x=1").build().unwrap_err();
/// assert!(matches!(error, insa_metrics::Error::Config { .. }));
/// # Ok::<(), insa_metrics::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct MetricsServerBuilder {
    ip: Option<IpAddr>,
    port: u16,
    path: String,
    limits: Limits,
    source: Source,
    users: Vec<(String, String)>,
    #[cfg(feature = "tls")]
    tls: Option<(PathBuf, PathBuf)>,
    #[cfg(feature = "tls")]
    tls_client_ca: Option<PathBuf>,
}

impl Default for MetricsServerBuilder {
    fn default() -> Self {
        MetricsServerBuilder {
            ip: None,
            port: 9091,
            path: "/metrics".to_owned(),
            limits: Limits::default(),
            source: Source::Global,
            users: Vec::new(),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_client_ca: None,
        }
    }
}

impl MetricsServerBuilder {
    /// The interface to listen on (default `127.0.0.1`, or
    /// [`BIND_ADDRESS_ENV`] when set).
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// The port (default 9091; 0 picks a free port, see
    /// [`MetricsServer::local_addr`]).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The interface and port at once.
    pub fn addr(self, addr: SocketAddr) -> Self {
        self.ip(addr.ip()).port(addr.port())
    }

    /// The path that serves the metrics (default `/metrics`). It starts with
    /// `/` and holds no query or fragment; it is matched by its
    /// percent-decoded bytes, so `/métriques` answers the
    /// `/m%C3%A9triques` that clients send.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Serves this registry instead of the global collector behind
    /// [`metrics()`](crate::metrics). It is gathered: a collector of this
    /// crate on it is served through the `prometheus` model, without
    /// exemplars or `# UNIT`; give the collector itself with
    /// [`collector`](Self::collector) for those.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.source = Source::Registry(registry);
        self
    }

    /// Serves this collector instead of the global one: its own encoder
    /// (exemplars and `# UNIT` in OpenMetrics), with the other collectors of
    /// its registry.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use insa_metrics::{MetricsCollector, MetricsServer};
    ///
    /// let collector = Arc::new(MetricsCollector::builder().process_metrics(false).build()?);
    /// let server = MetricsServer::builder().port(0).collector(Arc::clone(&collector)).build()?;
    /// let handle = server.start()?;
    /// collector.record_cache_hit("orchestrator");
    /// handle.stop();
    /// # Ok::<(), insa_metrics::Error>(())
    /// ```
    pub fn collector(mut self, collector: Arc<MetricsCollector>) -> Self {
        self.source = Source::Collector(collector);
        self
    }

    /// How long a client may take to send a request's headers (and the TLS
    /// handshake), from the connection's start or the end of the previous
    /// response. See [the limits](crate#limits) for every default.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// How long a connection may stay idle (no request in progress, no byte
    /// moved) before it is closed; well under the connection deadline, so an
    /// idle keep-alive client does not hold a slot.
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.limits.keep_alive_timeout = timeout;
        self
    }

    /// The largest request head (request line and headers) accepted, in
    /// bytes (1 KiB to 256 KiB); larger ones get `431 Request Header Fields
    /// Too Large`.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_header_bytes = bytes;
        self
    }

    /// The most connections served at once; beyond it a connection gets
    /// `503 Service Unavailable` (plain HTTP) or a close (TLS). Clamped to
    /// what the process's file-descriptor limit allows (said on stderr; see
    /// [`MetricsServer::max_connections`]).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections;
        self
    }

    /// The most connections served at once from one peer (an IPv4 address,
    /// or an IPv6 /64), so that one client cannot take every slot; beyond it
    /// that peer's connections get a 503 while others are served.
    pub fn max_connections_per_peer(mut self, connections: usize) -> Self {
        self.limits.max_connections_per_peer = connections;
        self
    }

    /// The most requests one connection carries; the last answer says
    /// `Connection: close`.
    pub fn max_requests_per_connection(mut self, requests: usize) -> Self {
        self.limits.max_requests_per_connection = requests;
        self
    }

    /// The longest a connection lives; then it is closed once its current
    /// response is sent. A client that does not read its response gets the
    /// [`shutdown_timeout`](Self::shutdown_timeout) more (at most 5 s), then
    /// the connection is closed anyway.
    pub fn connection_deadline(mut self, deadline: Duration) -> Self {
        self.limits.connection_deadline = deadline;
        self
    }

    /// How long shutdown waits for responses in flight before it closes every
    /// connection, whatever they wait for (a stuck collector included).
    /// Zero is refused by [`build`](Self::build).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.limits.shutdown_timeout = timeout;
        self
    }

    /// How long a scrape waits for an encoder (one per core; a collector
    /// stuck in `collect()` keeps its own) before it is answered `503
    /// Service Unavailable` with `Retry-After`.
    pub fn scrape_wait(mut self, wait: Duration) -> Self {
        self.limits.scrape_wait = wait;
        self
    }

    /// Requires HTTP basic auth: `user` with a password matching the bcrypt
    /// `hash` (`$2b$…`, as `htpasswd -nbB` or `bcrypt::hash` make it). Call it
    /// once per user (a name given twice is an error); every hash must have the same bcrypt cost, so that an
    /// unknown user (checked against a dummy hash of that cost) takes as long
    /// as a wrong password.
    ///
    /// The user name must not be empty nor hold `:`, and the cost must be
    /// within 4 to 14 (each step doubles the time of a verification). One
    /// bcrypt verification runs at a time, a few wait, and one peer may hold
    /// only a couple of those places: a request that would need one more
    /// gets `503 Service Unavailable` at once, unchecked. A remembered
    /// (already verified) password needs none. See
    /// [the README](crate#basic-auth-and-tls).
    pub fn basic_auth_user(
        mut self,
        user: impl Into<String>,
        bcrypt_hash: impl Into<String>,
    ) -> Self {
        self.users.push((user.into(), bcrypt_hash.into()));
        self
    }

    /// Serves HTTPS with the PEM certificate chain and private key in these
    /// files (feature `tls`). The files are read again when they change (at
    /// most once a second, at a handshake), so a renewed certificate needs no
    /// restart; a new pair that does not load or match is ignored, and the
    /// previous one stays in service.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, cert_pem: impl Into<PathBuf>, key_pem: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// With [`tls`](Self::tls): requires every client to present a
    /// certificate signed by a CA in this PEM file (mutual TLS, as
    /// exporter-toolkit's `client_auth_type: RequireAndVerifyClientCert`).
    #[cfg(feature = "tls")]
    pub fn tls_client_ca(mut self, ca_pem: impl Into<PathBuf>) -> Self {
        self.tls_client_ca = Some(ca_pem.into());
        self
    }

    /// Checks the configuration, loads the TLS files and binds the address.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid path (not starting with `/`, or with
    /// `?`, `#`, whitespace or a bad `%` escape), limit (a zero timeout or
    /// count), user name (empty, holding `:`, or given twice), hash, bcrypt cost (outside 4..=14, or different
    /// costs) or [`BIND_ADDRESS_ENV`] value; [`Error::Tls`] for unreadable or
    /// invalid certificate, key or CA files; [`Error::Bind`] (naming the
    /// address) when the address is in use or not available.
    pub fn build(self) -> Result<MetricsServer, Error> {
        let path = MetricsPath::parse(&self.path)?;
        let limits = self.limits.checked()?;
        let ip = match self.ip {
            Some(ip) => ip,
            None => ip_from_env()?,
        };
        let auth = if self.users.is_empty() {
            None
        } else {
            Some(BasicAuth::new(self.users)?)
        };
        #[cfg(feature = "tls")]
        let tls = match (&self.tls, &self.tls_client_ca) {
            (Some((cert, key)), client_ca) => {
                Some(super::tls::ServerTls::new(cert, key, client_ca.as_deref())?)
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "a TLS client CA needs a server certificate (tls)",
                ));
            }
            (None, None) => None,
        };
        let (listener, local_addr) = bind(SocketAddr::new(ip, self.port))?;
        let endpoint = Arc::new(Endpoint::new(path, self.source, auth, limits.scrape_wait));
        let policy = ConnectionPolicy::new(
            endpoint,
            limits,
            #[cfg(feature = "tls")]
            tls,
        );
        Ok(MetricsServer {
            listener,
            local_addr,
            policy,
        })
    }
}

/// A non-blocking listener on `addr` with a backlog of
/// [`LISTEN_BACKLOG`], and the address it got.
fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), Error> {
    let bind_error = |source| Error::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(bind_error)?;
    // As std's listeners: the port can be bound again at once after a stop.
    #[cfg(unix)]
    socket.set_reuse_address(true).map_err(bind_error)?;
    socket.bind(&addr.into()).map_err(bind_error)?;
    socket.listen(LISTEN_BACKLOG).map_err(bind_error)?;
    socket.set_nonblocking(true).map_err(bind_error)?;
    let listener = TcpListener::from(socket);
    let local_addr = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local_addr))
}

fn ip_from_env() -> Result<IpAddr, Error> {
    bind_ip(std::env::var(BIND_ADDRESS_ENV).ok().as_deref())
}

/// The bind address for a value of [`BIND_ADDRESS_ENV`]: loopback when unset
/// or blank.
fn bind_ip(value: Option<&str>) -> Result<IpAddr, Error> {
    match value.map(str::trim) {
        Some(value) if !value.is_empty() => value.parse().map_err(|error| {
            Error::config_caused(
                format!("{BIND_ADDRESS_ENV}={value:?} is not an IP address (e.g. 0.0.0.0 or ::1)"),
                error,
            )
        }),
        _ => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_address_from_the_environment() {
        assert_eq!(bind_ip(None).unwrap(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(bind_ip(Some(" ")).unwrap(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(
            bind_ip(Some("0.0.0.0")).unwrap(),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
        assert_eq!(
            bind_ip(Some(" ::1 ")).unwrap(),
            "::1".parse::<IpAddr>().unwrap()
        );
        let error = bind_ip(Some("0.0.0.0:9091")).unwrap_err();
        assert!(error.to_string().contains(BIND_ADDRESS_ENV), "{error}");
    }
}
