//! One push on the wire: connect to the resolved addresses, TLS when asked, the HTTP exchange, and at most a few KiB of the answer.

use std::io;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::resolve::{Lookup, resolve};
use super::url::Target;
use crate::error::Cause;

/// How much of a gateway's error answer is read (and quoted in the error);
/// the rest is never read, however large it is.
pub(super) const MAX_ANSWER_BYTES: usize = 4 * 1024;

/// A step of the push that failed, and why.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) reason: String,
    pub(super) cause: Option<Cause>,
}

impl Failure {
    fn new(reason: impl Into<String>, cause: impl Into<Cause>) -> Failure {
        Failure {
            reason: reason.into(),
            cause: Some(cause.into()),
        }
    }
}

/// The TLS client of an `https://` push (never any without the `tls` feature).
#[cfg(feature = "tls")]
pub(super) type Connector = Option<tokio_rustls::TlsConnector>;
#[cfg(not(feature = "tls"))]
pub(super) type Connector = Option<std::convert::Infallible>;

/// Sends `request` to `target` and checks the answer's status.
pub(super) async fn send(
    target: &Target,
    lookup: Lookup,
    connector: Connector,
    request: Request<Full<Bytes>>,
) -> Result<(), Failure> {
    let addrs = resolve(&target.host, target.port, lookup)
        .await
        .map_err(|error| Failure::new(format!("cannot resolve {}", target.host), error))?;
    let stream = connect(&addrs)
        .await
        .map_err(|error| Failure::new("cannot connect", error))?;
    match connector {
        None => exchange(TokioIo::new(stream), request).await,
        #[cfg(feature = "tls")]
        Some(connector) => {
            let name =
                rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|error| {
                    Failure::new(format!("TLS server name {:?}", target.host), error)
                })?;
            let stream = connector
                .connect(name, stream)
                .await
                .map_err(|error| Failure::new("TLS handshake", error))?;
            exchange(TokioIo::new(stream), request).await
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match never {},
    }
}

/// A connection to the first of `addrs` that accepts one.
async fn connect(addrs: &[std::net::SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// One request and its answer on a connected stream.
async fn exchange<I>(io: I, request: Request<Full<Bytes>>) -> Result<(), Failure>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|error| Failure::new("HTTP handshake", error))?;
    let exchange = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| Failure::new("sending", error))?;
        let status = response.status();
        if status.is_success() {
            // The body is not read: a success says all there is to say.
            return Ok(());
        }
        let start = answer_start(response.into_body()).await;
        Err(status_failure(status, &start))
    };
    let mut exchange = std::pin::pin!(exchange);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = &mut exchange => result,
        // The connection ended first: the exchange has all it will get.
        _ = &mut connection => exchange.await,
    }
}

/// The first [`MAX_ANSWER_BYTES`] of an answer's body (less if it ends or
/// fails before).
async fn answer_start(body: Incoming) -> Vec<u8> {
    let mut body = std::pin::pin!(body);
    let mut start = Vec::new();
    while start.len() < MAX_ANSWER_BYTES {
        let Some(Ok(frame)) = body.frame().await else {
            break;
        };
        if let Ok(data) = frame.into_data() {
            let room = MAX_ANSWER_BYTES - start.len();
            start.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    start
}

fn status_failure(status: StatusCode, start: &[u8]) -> Failure {
    let text = String::from_utf8_lossy(start);
    let text: String = text.trim().chars().take(512).collect();
    Failure {
        reason: format!("HTTP {status}: {text}"),
        cause: None,
    }
}

/// The TLS client for a push, trusting only the CAs of `ca_pem` (its bytes).
#[cfg(feature = "tls")]
pub(super) fn tls_connector(
    ca_pem: &std::path::Path,
    pem: &[u8],
) -> Result<tokio_rustls::TlsConnector, crate::Error> {
    use crate::Error;
    let tls_error = |what: &str, cause: Option<Cause>| {
        Error::tls(format!("{}: {what}", ca_pem.display()), cause)
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        let cert = cert.map_err(|error| tls_error("is not valid PEM", Some(error.into())))?;
        roots
            .add(cert)
            .map_err(|error| tls_error("a bad CA certificate", Some(error.into())))?;
    }
    if roots.is_empty() {
        return Err(tls_error("no PEM certificate found", None));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::tls("the TLS protocol versions", Some(error.into())))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}
