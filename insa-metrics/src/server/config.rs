//! [`MetricsServerBuilder`]: address, path, limits, registry and security options.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
#[cfg(feature = "tls")]
use std::path::PathBuf;
use std::time::Duration;

use prometheus::Registry;

use super::MetricsServer;
use super::auth::BasicAuth;
use super::service::Shared;
use crate::Error;

/// The environment variable that moves the default bind address off loopback,
/// e.g. `INSA_METRICS_BIND_ADDRESS=0.0.0.0` (an IP address, no port). An
/// address set with [`MetricsServerBuilder::ip`] takes precedence.
pub const BIND_ADDRESS_ENV: &str = "INSA_METRICS_BIND_ADDRESS";

/// The limits that keep one bad client from harming the exporter.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_connections: usize,
    pub(crate) connection_deadline: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 8 * 1024,
            max_connections: 128,
            connection_deadline: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(1),
        }
    }
}

/// Configures and binds a [`MetricsServer`].
///
/// Every option has a safe default: loopback, `/metrics`, a 10 s header read
/// timeout, 8 KiB of headers, 128 connections, a 60 s connection lifetime and a
/// 1 s bound on graceful shutdown.
#[derive(Debug, Clone)]
#[must_use]
pub struct MetricsServerBuilder {
    ip: Option<IpAddr>,
    port: u16,
    path: String,
    limits: Limits,
    registry: Option<Registry>,
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
            registry: None,
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

    /// The path that serves the metrics (default `/metrics`; must start with `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Serves this registry instead of the global one behind
    /// [`metrics()`](crate::metrics).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// How long a client may take to send a request's headers, and how long an
    /// idle keep-alive connection stays open (default 10 s).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// The largest request head (request line and headers) accepted, in
    /// bytes; larger ones get `431 Request Header Fields Too Large` (default
    /// 8 KiB).
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_header_bytes = bytes;
        self
    }

    /// The most connections served at once; beyond it a connection gets
    /// `503 Service Unavailable` (plain HTTP) or is closed (TLS) at once
    /// (default 128, at least 1).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections.max(1);
        self
    }

    /// The longest a connection lives; then it is closed once its current
    /// response is sent (default 60 s). A client that does not read its
    /// response gets the [`shutdown_timeout`](Self::shutdown_timeout) more
    /// (at most 5 s), then the connection is closed anyway.
    pub fn connection_deadline(mut self, deadline: Duration) -> Self {
        self.limits.connection_deadline = deadline;
        self
    }

    /// How long shutdown waits for responses in flight before it closes every
    /// connection (default 1 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.limits.shutdown_timeout = timeout;
        self
    }

    /// Requires HTTP basic auth: `user` with a password matching the bcrypt
    /// `hash` (`$2b$…`, as `htpasswd -nbB` or `bcrypt::hash` make it). Call it
    /// once per user; every hash must have the same bcrypt cost, so that an
    /// unknown user (checked against a dummy hash of that cost) takes as long
    /// as a wrong password.
    ///
    /// At most 4 bcrypt verifications run or wait at once; a request that
    /// would need one more gets `503 Service Unavailable` at once, unchecked.
    /// A remembered (already verified) password needs none.
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
    /// [`Error::Config`] for an invalid path, hash (or hashes of different
    /// bcrypt costs) or [`BIND_ADDRESS_ENV`] value, [`Error::Tls`] for unreadable or invalid certificate, key or CA
    /// files, and
    /// [`Error::Bind`] (naming the address) when the address is in use or not
    /// available.
    pub fn build(self) -> Result<MetricsServer, Error> {
        if !self.path.starts_with('/') {
            return Err(Error::Config(format!(
                "the metrics path must start with '/': {:?}",
                self.path
            )));
        }
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
                Some(super::tls::acceptor(cert, key, client_ca.as_deref())?)
            }
            (None, Some(_)) => {
                return Err(Error::Config(
                    "a TLS client CA needs a server certificate (tls)".into(),
                ));
            }
            (None, None) => None,
        };
        let addr = SocketAddr::new(ip, self.port);
        let listener = TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| Error::Bind { addr, source })?;
        let local_addr = listener.local_addr()?;
        let shared = Shared::new(self.path, self.registry, auth, &self.limits);
        Ok(MetricsServer {
            listener,
            local_addr,
            shared,
            limits: self.limits,
            #[cfg(feature = "tls")]
            tls,
        })
    }
}

fn ip_from_env() -> Result<IpAddr, Error> {
    bind_ip(std::env::var(BIND_ADDRESS_ENV).ok().as_deref())
}

/// The bind address for a value of [`BIND_ADDRESS_ENV`]: loopback when unset
/// or blank.
fn bind_ip(value: Option<&str>) -> Result<IpAddr, Error> {
    match value.map(str::trim) {
        Some(value) if !value.is_empty() => value.parse().map_err(|_| {
            Error::Config(format!(
                "{BIND_ADDRESS_ENV}={value:?} is not an IP address (e.g. 0.0.0.0 or ::1)"
            ))
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
