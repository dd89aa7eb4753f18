//! Pushing the registry to a Prometheus Pushgateway (hyper's HTTP/1.1 client).
//!
//! Over `http://` the metrics and any basic-auth credentials travel in
//! cleartext (see [`Pusher::basic_auth`]); with the `tls` feature,
//! `https://` gateways are reached over rustls, trusting the CA given to
//! [`Pusher::tls_ca`].

#[cfg(feature = "tls")]
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use prometheus::Registry;
use tokio::net::TcpStream;

use crate::Error;
use crate::encoding::{TEXT_CONTENT_TYPE, encode_text};

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
/// [`Error::Push`], naming the gateway, when the gateway cannot be reached,
/// does not answer within the timeout or answers with an error status;
/// [`Error::Config`] for an invalid URL, job or label name.
pub fn push_metrics(gateway_url: &str, job: &str, grouping: &[(&str, &str)]) -> Result<(), Error> {
    let mut pusher = Pusher::new(gateway_url, job);
    for (name, value) in grouping {
        pusher = pusher.grouping(*name, *value);
    }
    pusher.push()
}

/// A configurable push to a Pushgateway.
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
#[derive(Debug, Clone)]
#[must_use]
pub struct Pusher {
    url: String,
    job: String,
    grouping: Vec<(String, String)>,
    timeout: Duration,
    registry: Option<Registry>,
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
            registry: None,
            basic_auth: None,
            replace: true,
            #[cfg(feature = "tls")]
            tls_ca: None,
        }
    }

    /// Adds a grouping label (`instance`, …) to the group's key.
    pub fn grouping(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.grouping.push((name.into(), value.into()));
        self
    }

    /// The time the whole push may take (default [`DEFAULT_PUSH_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Pushes this registry instead of the global one.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
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
    /// runtime, so this is safe inside a tokio runtime too).
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
                .unwrap_or_else(|_| Err(self.error("the push thread panicked")))
        })
    }

    /// Pushes on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`push_metrics`].
    pub async fn push_async(&self) -> Result<(), Error> {
        let target = Target::parse(&self.url)?;
        let connector = self.connector(&target)?;
        let path = format!(
            "{}{}",
            target.prefix,
            grouping_path(&self.job, &self.grouping)?
        );
        let body = match &self.registry {
            Some(registry) => encode_text(registry),
            None => crate::get_metrics_text(),
        };
        let method = if self.replace {
            Method::PUT
        } else {
            Method::POST
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path.as_str())
            .header(HOST, target.authority.as_str())
            .header(CONTENT_TYPE, TEXT_CONTENT_TYPE)
            .header(
                USER_AGENT,
                concat!("insa-metrics/", env!("CARGO_PKG_VERSION")),
            )
            .header(CONNECTION, "close")
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| Error::Config(format!("push request to {path:?}: {error}")))?;
        if let Some((user, password)) = &self.basic_auth {
            let value = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
            let value = HeaderValue::from_str(&value).map_err(|_| {
                Error::Config("basic auth credentials are not valid header text".into())
            })?;
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        match tokio::time::timeout(self.timeout, send(&target, connector, request)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(self.error(reason)),
            Err(_) => Err(self.error(format!("no answer within {:?}", self.timeout))),
        }
    }

    /// The TLS client for an `https://` target.
    #[cfg(feature = "tls")]
    fn connector(&self, target: &Target) -> Result<Connector, Error> {
        if !target.https {
            return Ok(None);
        }
        let Some(ca_pem) = &self.tls_ca else {
            return Err(Error::Config(format!(
                "Pushgateway URL {:?}: https:// needs Pusher::tls_ca (the CA to trust)",
                self.url
            )));
        };
        let tls_error =
            |error: &dyn std::fmt::Display| Error::Tls(format!("{}: {error}", ca_pem.display()));
        let pem = std::fs::read(ca_pem).map_err(|error| tls_error(&error))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|error| tls_error(&error))?;
            roots.add(cert).map_err(|error| tls_error(&error))?;
        }
        if roots.is_empty() {
            return Err(tls_error(&"no PEM certificate found"));
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| Error::Tls(error.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
            config,
        ))))
    }

    #[cfg(not(feature = "tls"))]
    fn connector(&self, _target: &Target) -> Result<Connector, Error> {
        Ok(None)
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Push {
            url: self.url.clone(),
            reason: reason.into(),
        }
    }
}

/// The TLS client of an `https://` push (never any without the `tls` feature).
#[cfg(feature = "tls")]
type Connector = Option<tokio_rustls::TlsConnector>;
#[cfg(not(feature = "tls"))]
type Connector = Option<std::convert::Infallible>;

/// Where to connect, and the path prefix of the gateway.
struct Target {
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    https: bool,
    host: String,
    port: u16,
    authority: String,
    prefix: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|error| Error::Config(format!("Pushgateway URL {url:?}: {error}")))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            #[cfg(feature = "tls")]
            Some("https") => true,
            _ => {
                return Err(Error::Config(format!(
                    "Pushgateway URL {url:?}: only http:// is supported{}",
                    if cfg!(feature = "tls") {
                        " (and https://)"
                    } else {
                        " (https:// needs the `tls` feature)"
                    }
                )));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| Error::Config(format!("Pushgateway URL {url:?} has no host")))?;
        if authority.as_str().contains('@') {
            return Err(Error::Config(format!(
                "Pushgateway URL {url:?}: put credentials in Pusher::basic_auth, not the URL"
            )));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(Target {
            https,
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            authority: authority.as_str().to_owned(),
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

async fn send(
    target: &Target,
    connector: Connector,
    request: Request<Full<Bytes>>,
) -> Result<(), String> {
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|error| format!("cannot connect: {error}"))?;
    match connector {
        None => exchange(TokioIo::new(stream), request).await,
        #[cfg(feature = "tls")]
        Some(connector) => {
            let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                .map_err(|error| format!("TLS server name {:?}: {error}", target.host))?;
            let stream = connector
                .connect(name, stream)
                .await
                .map_err(|error| format!("TLS handshake: {error}"))?;
            exchange(TokioIo::new(stream), request).await
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match never {},
    }
}

/// One request and its answer on a connected stream.
async fn exchange<I>(io: I, request: Request<Full<Bytes>>) -> Result<(), String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|error| format!("HTTP handshake: {error}"))?;
    let exchange = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("sending: {error}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| format!("reading the answer: {error}"))?
            .to_bytes();
        if status.is_success() {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&body);
            let text: String = text.trim().chars().take(512).collect();
            Err(format!("HTTP {status}: {text}"))
        }
    };
    let (result, _) = tokio::join!(exchange, connection);
    result
}

/// `/metrics/job/<job>/<name>/<value>…`, with base64 for values that hold a
/// `/` or are empty, as the Pushgateway's URL scheme requires.
fn grouping_path(job: &str, grouping: &[(String, String)]) -> Result<String, Error> {
    if job.is_empty() {
        return Err(Error::Config("the push job name is empty".into()));
    }
    let mut path = String::from("/metrics");
    push_segment(&mut path, "job", job);
    for (name, value) in grouping {
        if !is_label_name(name) || name == "job" {
            return Err(Error::Config(format!(
                "invalid grouping label name {name:?}"
            )));
        }
        push_segment(&mut path, name, value);
    }
    Ok(path)
}

fn push_segment(path: &mut String, name: &str, value: &str) {
    path.push('/');
    path.push_str(name);
    if value.is_empty() || value.contains('/') {
        path.push_str("@base64/");
        path.push_str(&URL_SAFE.encode(value));
        if value.is_empty() {
            // An empty value is one '=' in the Pushgateway's scheme.
            path.push('=');
        }
    } else {
        path.push('/');
        percent_encode(path, value);
    }
}

fn percent_encode(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn builds_grouping_paths() {
        assert_eq!(grouping_path("import", &[]).unwrap(), "/metrics/job/import");
        assert_eq!(
            grouping_path("import job", &labels(&[("instance", "db-1:5432")])).unwrap(),
            "/metrics/job/import%20job/instance/db-1%3A5432"
        );
        assert_eq!(
            grouping_path("a/b", &labels(&[("path", "/var/tmp"), ("empty", "")])).unwrap(),
            "/metrics/job@base64/YS9i/path@base64/L3Zhci90bXA=/empty@base64/="
        );
        assert!(grouping_path("", &[]).is_err());
        assert!(grouping_path("j", &labels(&[("bad-name", "x")])).is_err());
        assert!(grouping_path("j", &labels(&[("__name__", "x")])).is_err());
    }

    #[test]
    fn parses_gateway_urls() {
        let target = Target::parse("http://127.0.0.1:9091/").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("127.0.0.1", 9091));
        assert_eq!(target.prefix, "");
        let target = Target::parse("http://[::1]/gateway").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("::1", 80));
        assert_eq!(target.prefix, "/gateway");
        assert_eq!(
            Target::parse("https://example.com").is_ok(),
            cfg!(feature = "tls")
        );
        assert!(Target::parse("ftp://example.com").is_err());
        assert!(Target::parse("not a url").is_err());
        assert!(Target::parse("http://user:pass@127.0.0.1:9091").is_err());
    }
}
