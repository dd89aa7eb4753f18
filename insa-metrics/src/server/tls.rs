//! TLS with rustls (ring provider) from PEM certificate and key files.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::CertificateDer;
use tokio_rustls::TlsAcceptor;

use crate::Error;

/// The server side of TLS for one certificate.
#[derive(Clone)]
pub(crate) struct Tls(pub(crate) TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

/// A TLS acceptor for the certificate chain and key in these PEM files.
pub(crate) fn acceptor(cert_pem: &Path, key_pem: &Path) -> Result<Tls, Error> {
    let certs = rustls_pemfile::certs(&mut reader(cert_pem)?)
        .collect::<Result<Vec<CertificateDer<'static>>, _>>()
        .map_err(|error| tls_error(cert_pem, &error))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "{}: no PEM certificate found",
            cert_pem.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut reader(key_pem)?)
        .map_err(|error| tls_error(key_pem, &error))?
        .ok_or_else(|| Error::Tls(format!("{}: no PEM private key found", key_pem.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::Tls(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| {
            Error::Tls(format!(
                "{} / {}: {error}",
                cert_pem.display(),
                key_pem.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls(TlsAcceptor::from(Arc::new(config))))
}

fn reader(path: &Path) -> Result<BufReader<File>, Error> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|error| tls_error(path, &error))
}

fn tls_error(path: &Path, error: &dyn std::fmt::Display) -> Error {
    Error::Tls(format!("{}: {error}", path.display()))
}
