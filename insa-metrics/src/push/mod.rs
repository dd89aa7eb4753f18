//! Pushing the registry to a Prometheus Pushgateway (hyper's HTTP/1.1 client), within a deadline.
//!
//! Over `http://` the metrics and any basic-auth credentials travel in
//! cleartext (see [`Pusher::basic_auth`]); with the `tls` feature,
//! `https://` gateways are reached over rustls, trusting the CA given to
//! [`Pusher::tls_ca`].

mod resolve;
mod transport;
mod url;

#[cfg(feature = "tls")]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request};
use prometheus::Registry;

use crate::Format;
use crate::detached;
use crate::encoding::Source;
use crate::error::Cause;
use crate::{Error, MetricsCollector};
use url::{Target, grouping_path};

/// Encodings of pushes still running, abandoned ones included (a push that
/// timed out leaves its encoding behind): beyond 4, a push fails at once
/// instead of adding another thread a stuck collector holds.
static ENCODINGS: detached::Cap = detached::Cap::new(4);

/// The timeout of [`push_metrics`]: connecting, sending and the answer.
pub const DEFAULT_PUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Pushes the global registry to the Pushgateway at `gateway_url`
/// (`http://host:port`, optionally with a path prefix) under `job` and the
/// grouping labels, replacing what that group held (HTTP `PUT`).
///
/// An `http://` push is not encrypted, so use a gateway on the same host or
/// a trusted network (or a local TLS-terminating proxy). `https://` needs the
/// `tls` feature and a CA to trust: see [`Pusher::tls_ca`].
///
/// Blocks for
/// at most [`DEFAULT_PUSH_TIMEOUT`]; works in sync code and inside a tokio
/// runtime alike. Use [`Pusher`] for another registry, a timeout, basic auth
/// or `POST` semantics.
///
/// ```no_run
/// insa_metrics::push_metrics("http://127.0.0.1:9091", "nightly_import", &[("instance", "db-1")])?;
/// # Ok::<(), insa_metrics::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Push`], naming the gateway, when the gateway cannot be resolved
/// or reached, does not answer within the timeout or answers with an error
/// status (the error quotes the start of its answer; at most 4 KiB of it is
/// read); [`Error::Config`] for an invalid URL (a port that is not a number
/// from 1 to 65535 included), job or label name, a grouping label name given
/// twice or a zero timeout, before anything is sent; [`Error::Tls`] for an
/// unusable CA file; [`Error::Encoding`] for a registry holding a family no
/// exposition format can carry (nothing is sent: a `PUT` of nothing would
/// wipe the group).
pub fn push_metrics(gateway_url: &str, job: &str, grouping: &[(&str, &str)]) -> Result<(), Error> {
    let mut pusher = Pusher::new(gateway_url, job);
    for (name, value) in grouping {
        pusher = pusher.grouping(*name, *value);
    }
    pusher.push()
}

/// A configurable push to a Pushgateway.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use insa_metrics::Pusher;
///
/// Pusher::new("http://127.0.0.1:9091", "nightly_import")
///     .grouping("instance", "db-1")
///     .grouping("path", "/var/lib/import") // values with '/' are sent as base64
///     .timeout(Duration::from_secs(3))
///     .push()?;
/// # Ok::<(), insa_metrics::Error>(())
/// ```
///
/// A URL that could send the credentials to the wrong place is refused
/// before anything is sent:
///
/// ```
/// use insa_metrics::{Error, Pusher};
///
/// let error = Pusher::new("http://pushgateway.internal:99999", "nightly_import")
///     .basic_auth("pusher", "s3cret")
///     .push()
///     .unwrap_err();
/// assert!(matches!(error, Error::Config { .. }));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Pusher {
    url: String,
    job: String,
    grouping: Vec<(String, String)>,
    timeout: Duration,
    source: Source,
    basic_auth: Option<(String, String)>,
    replace: bool,
    #[cfg(feature = "tls")]
    tls_ca: Option<PathBuf>,
}

impl Pusher {
    /// A push of the global registry to `gateway_url` under `job`.
    pub fn new(gateway_url: impl Into<String>, job: impl Into<String>) -> Self {
        Pusher {
            url: gateway_url.into(),
            job: job.into(),
            grouping: Vec::new(),
            timeout: DEFAULT_PUSH_TIMEOUT,
            source: Source::Global,
            basic_auth: None,
            replace: true,
            #[cfg(feature = "tls")]
            tls_ca: None,
        }
    }

    /// Adds a grouping label (`instance`, …) to the group's key. Each name
    /// may be given once: a second one is an [`Error::Config`] at the push.
    pub fn grouping(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.grouping.push((name.into(), value.into()));
        self
    }

    /// The time the whole push may take (default [`DEFAULT_PUSH_TIMEOUT`]);
    /// zero, which no push can meet, is an [`Error::Config`] at the push.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Pushes this registry instead of the global collector (gathered, as
    /// [`MetricsServerBuilder::registry`](crate::MetricsServerBuilder::registry)
    /// serves one).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.source = Source::Registry(registry);
        self
    }

    /// Pushes this collector instead of the global one, with the other
    /// collectors of its registry.
    pub fn collector(mut self, collector: Arc<MetricsCollector>) -> Self {
        self.source = Source::Collector(collector);
        self
    }

    /// Authenticates to the gateway with HTTP basic auth.
    ///
    /// **Sent in cleartext to an `http://` gateway**: basic auth is only
    /// base64, so anyone on the path can read the user and password. Use it
    /// over `https://` (feature `tls`, see [`tls_ca`](Self::tls_ca)), or only
    /// to a gateway on the same host or a trusted network.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_auth = Some((user.into(), password.into()));
        self
    }

    /// For an `https://` gateway (feature `tls`): trusts the CA certificates
    /// in this PEM file, and only them (there is no built-in root store), and
    /// checks that the gateway's certificate names the URL's host.
    #[cfg(feature = "tls")]
    pub fn tls_ca(mut self, ca_pem: impl Into<PathBuf>) -> Self {
        self.tls_ca = Some(ca_pem.into());
        self
    }

    /// `true` (the default) replaces every metric of the group (`PUT`);
    /// `false` replaces only the families pushed (`POST`).
    pub fn replace(mut self, replace: bool) -> Self {
        self.replace = replace;
        self
    }

    /// Pushes, blocking the calling thread (on a helper thread with its own
    /// runtime, so this is safe inside a tokio runtime too). Returns within
    /// the timeout: nothing of the push is waited for after it.
    ///
    /// # Errors
    ///
    /// As [`push_metrics`].
    pub fn push(&self) -> Result<(), Error> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_io()
                        .enable_time()
                        .build()?
                        .block_on(self.push_async())
                })
                .join()
                .unwrap_or_else(|_| Err(self.failure("the push thread panicked", None)))
        })
    }

    /// Pushes on the current tokio runtime. Everything, the DNS lookup
    /// included, happens within the timeout, and nothing is left on the
    /// runtime once it returns (a lookup that never answers runs on a
    /// detached thread of its own).
    ///
    /// # Errors
    ///
    /// As [`push_metrics`].
    pub async fn push_async(&self) -> Result<(), Error> {
        self.push_with(resolve::system_lookup).await
    }

    async fn push_with(&self, lookup: resolve::Lookup) -> Result<(), Error> {
        if self.timeout.is_zero() {
            return Err(Error::config("the push timeout must be more than 0"));
        }
        let target = Target::parse(&self.url)?;
        let path = format!(
            "{}{}",
            target.prefix,
            grouping_path(&self.job, &self.grouping)?
        );
        self.check_tls_ca(&target)?;
        let auth = self.authorization()?;
        let send = async {
            let connector = self.connector(&target).await?;
            let request = self.request(&target, &path, auth).await?;
            transport::send(&target, lookup, connector, request)
                .await
                .map_err(|failure| self.failure(failure.reason, failure.cause))
        };
        match tokio::time::timeout(self.timeout, send).await {
            Ok(result) => result,
            Err(_) => Err(self.failure(format!("no answer within {:?}", self.timeout), None)),
        }
    }

    /// The request, with the registry encoded on a thread of its own (a
    /// collector may be slow or hang: the push's timeout still holds). A
    /// registry that cannot be encoded is an error, not an empty `PUT` that
    /// would wipe the group.
    async fn request(
        &self,
        target: &Target,
        path: &str,
        authorization: Option<HeaderValue>,
    ) -> Result<Request<Full<Bytes>>, Error> {
        let Some(slot) = ENCODINGS.take() else {
            return Err(self.failure(
                format!(
                    "{} encodings of earlier pushes are still running (a collector may be stuck)",
                    ENCODINGS.max()
                ),
                None,
            ));
        };
        let source = self.source.clone();
        let body = detached::run("insa-metrics-encode", move || {
            let _slot = slot;
            source.encode(Format::Text)
        })
        .await
        .map_err(|_| self.failure("encoding the metrics failed (a collector panicked)", None))??;
        let method = if self.replace {
            Method::PUT
        } else {
            Method::POST
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, target.authority.as_str())
            .header(CONTENT_TYPE, Format::Text.content_type())
            .header(
                USER_AGENT,
                concat!("insa-metrics/", env!("CARGO_PKG_VERSION")),
            )
            .header(CONNECTION, "close")
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| Error::config_caused(format!("push request to {path:?}"), error))?;
        if let Some(value) = authorization {
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        Ok(request)
    }

    fn authorization(&self) -> Result<Option<HeaderValue>, Error> {
        let Some((user, password)) = &self.basic_auth else {
            return Ok(None);
        };
        let value = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        HeaderValue::from_str(&value).map(Some).map_err(|error| {
            Error::config_caused("basic auth credentials are not valid header text", error)
        })
    }

    /// An `https://` target needs a CA to trust: a configuration error
    /// before anything is sent.
    fn check_tls_ca(&self, target: &Target) -> Result<(), Error> {
        #[cfg(feature = "tls")]
        if target.https && self.tls_ca.is_none() {
            return Err(Error::config(format!(
                "Pushgateway URL {:?}: https:// needs Pusher::tls_ca (the CA to trust)",
                self.url
            )));
        }
        let _ = target;
        Ok(())
    }

    /// The TLS client for an `https://` target; the CA file is read on a
    /// thread of its own, within the push's timeout.
    #[cfg(feature = "tls")]
    async fn connector(&self, target: &Target) -> Result<transport::Connector, Error> {
        let (true, Some(ca_pem)) = (target.https, self.tls_ca.clone()) else {
            return Ok(None);
        };
        let path = ca_pem.clone();
        let pem = detached::run("insa-metrics-read", move || std::fs::read(path))
            .await
            .map_err(|_| Error::tls(format!("{}: cannot be read", ca_pem.display()), None))?
            .map_err(|error| {
                Error::tls(
                    format!("{}: cannot be read", ca_pem.display()),
                    Some(error.into()),
                )
            })?;
        transport::tls_connector(&ca_pem, &pem).map(Some)
    }

    #[cfg(not(feature = "tls"))]
    async fn connector(&self, _target: &Target) -> Result<transport::Connector, Error> {
        Ok(None)
    }

    fn failure(&self, reason: impl Into<String>, cause: Option<Cause>) -> Error {
        Error::Push {
            url: self.url.clone(),
            reason: reason.into(),
            source: cause,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::time::Instant;

    /// A DNS server that never answers: the resolver gives up after a
    /// minute (glibc's default is 5 s × 2 attempts per server and name).
    fn never_answers(_host: &str, _port: u16) -> std::io::Result<Vec<SocketAddr>> {
        std::thread::sleep(Duration::from_secs(60));
        Err(std::io::Error::other("gave up"))
    }

    #[test]
    fn a_zero_timeout_is_a_config_error_before_any_lookup() {
        let pusher = Pusher::new("http://pushgateway.internal:9091", "nightly")
            .registry(Registry::new())
            .timeout(Duration::ZERO);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime
            .block_on(pusher.push_with(|_, _| panic!("looked up")))
            .unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error:?}");
        assert!(error.to_string().contains("timeout"), "{error}");
    }

    #[test]
    fn a_lookup_that_never_answers_ends_with_the_timeout_and_holds_no_runtime() {
        let pusher = Pusher::new("http://pushgateway.internal:9091", "nightly")
            .registry(Registry::new())
            .timeout(Duration::from_millis(500));
        let started = Instant::now();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime
            .block_on(pusher.push_with(never_answers))
            .unwrap_err();
        // The runtime's shutdown does not wait for the lookup either.
        drop(runtime);
        let took = started.elapsed();
        assert!(error.to_string().contains("no answer within"), "{error}");
        assert!(took < Duration::from_secs(5), "took {took:?}");
    }
}
