//! TLS with rustls (ring provider) from PEM files: the acceptor, and the client CA of mutual TLS.

mod reload;

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::Error;
use crate::error::Cause;
use reload::{ReloadingCertificate, Watcher};

/// The server side of TLS: the acceptor, and the thread that reloads the
/// certificate when its files change (stopped when this is dropped).
pub(crate) struct ServerTls {
    acceptor: TlsAcceptor,
    _watcher: Watcher,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

impl ServerTls {
    /// TLS for the certificate chain and key in these PEM files; with
    /// `client_ca`, clients must present a certificate that CA signed.
    pub(crate) fn new(
        cert_pem: &Path,
        key_pem: &Path,
        client_ca: Option<&Path>,
    ) -> Result<ServerTls, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certificate = Arc::new(ReloadingCertificate::new(
            cert_pem,
            key_pem,
            Arc::clone(&provider),
        )?);
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| Error::tls("the TLS protocol versions", Some(error.into())))?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca_pem) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(ca_pem)? {
                    roots
                        .add(cert)
                        .map_err(|error| file_error(ca_pem, "a bad CA", error))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|error| file_error(ca_pem, "an unusable client CA", error))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let watcher = Watcher::start(&certificate)?;
        let mut config = builder.with_cert_resolver(certificate);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            _watcher: watcher,
        })
    }

    /// The TLS handshake on an accepted connection.
    pub(crate) async fn accept(&self, stream: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        self.acceptor.accept(stream).await
    }
}

/// The certificates in a PEM file; at least one.
pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = std::fs::read(path).map_err(|error| file_error(path, "cannot be read", error))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(path, "is not valid PEM", error))?;
    if certs.is_empty() {
        return Err(Error::tls(
            format!("{}: no PEM certificate found", path.display()),
            None,
        ));
    }
    Ok(certs)
}

/// An error about one file, naming it, with its cause.
pub(crate) fn file_error(path: &Path, what: &str, cause: impl Into<Cause>) -> Error {
    Error::tls(format!("{}: {what}", path.display()), Some(cause.into()))
}
