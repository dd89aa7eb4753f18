//! TLS with rustls (ring provider) from PEM certificate and key files, which
//! are read again when they change (a renewed certificate needs no restart).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
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

/// A TLS acceptor for the certificate chain and key in these PEM files;
/// with `client_ca`, clients must present a certificate that CA signed.
pub(crate) fn acceptor(
    cert_pem: &Path,
    key_pem: &Path,
    client_ca: Option<&Path>,
) -> Result<Tls, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let resolver = ReloadingCert::new(cert_pem, key_pem, Arc::clone(&provider))?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::Tls(error.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca_pem) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca_pem)? {
                roots.add(cert).map_err(|error| tls_error(ca_pem, &error))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| tls_error(ca_pem, &error))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls(TlsAcceptor::from(Arc::new(config))))
}

/// How often, at most, a handshake looks at the files' modification times.
const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The certificate and key from their files, read again (at the next
/// handshake, at most once per [`RELOAD_CHECK_INTERVAL`]) when either file's
/// modification time or size changes. A pair that does not load (a file
/// half-written, a key that does not match the certificate) is not used: the
/// previous pair stays in service, and the files are tried again later.
#[derive(Debug)]
struct ReloadingCert {
    cert_pem: PathBuf,
    key_pem: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    stamp: Stamp,
    checked: Instant,
}

/// The modification time and size of the certificate and key files.
type Stamp = [Option<(SystemTime, u64)>; 2];

impl ReloadingCert {
    fn new(cert_pem: &Path, key_pem: &Path, provider: Arc<CryptoProvider>) -> Result<Self, Error> {
        let stamp = stamp(cert_pem, key_pem);
        let key = load(cert_pem, key_pem, &provider)?;
        Ok(ReloadingCert {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            provider,
            current: Mutex::new(Loaded {
                key,
                stamp,
                checked: Instant::now(),
            }),
        })
    }

    fn current(&self) -> Arc<CertifiedKey> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.checked.elapsed() >= RELOAD_CHECK_INTERVAL {
            current.checked = Instant::now();
            // Taken before reading, so a change during the read is seen at
            // the next check.
            let stamp = stamp(&self.cert_pem, &self.key_pem);
            if stamp != current.stamp {
                if let Ok(key) = load(&self.cert_pem, &self.key_pem, &self.provider) {
                    current.key = key;
                    current.stamp = stamp;
                }
            }
        }
        Arc::clone(&current.key)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn stamp(cert_pem: &Path, key_pem: &Path) -> Stamp {
    [cert_pem, key_pem].map(|path| {
        let metadata = std::fs::metadata(path).ok()?;
        Some((metadata.modified().ok()?, metadata.len()))
    })
}

/// The certificate chain and key in these PEM files, checked to match.
fn load(
    cert_pem: &Path,
    key_pem: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<CertifiedKey>, Error> {
    let certs = certificates(cert_pem)?;
    let key = rustls_pemfile::private_key(&mut reader(key_pem)?)
        .map_err(|error| tls_error(key_pem, &error))?
        .ok_or_else(|| Error::Tls(format!("{}: no PEM private key found", key_pem.display())))?;
    let pair_error = |error: &dyn std::fmt::Display| {
        Error::Tls(format!(
            "{} / {}: {error}",
            cert_pem.display(),
            key_pem.display()
        ))
    };
    // The checks rustls makes of a single certificate (the key parses and
    // matches the end-entity certificate).
    ServerConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::Tls(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs.clone(), key.clone_key())
        .map_err(|error| pair_error(&error))?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|error| pair_error(&error))?;
    Ok(Arc::new(CertifiedKey::new(certs, signing_key)))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = rustls_pemfile::certs(&mut reader(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| tls_error(path, &error))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "{}: no PEM certificate found",
            path.display()
        )));
    }
    Ok(certs)
}

fn reader(path: &Path) -> Result<BufReader<File>, Error> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|error| tls_error(path, &error))
}

fn tls_error(path: &Path, error: &dyn std::fmt::Display) -> Error {
    Error::Tls(format!("{}: {error}", path.display()))
}
