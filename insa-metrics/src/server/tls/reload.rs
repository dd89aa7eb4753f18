//! The certificate in service, and the thread that reloads it when its files change, off the handshake path.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{certificates, file_error};
use crate::Error;

/// How often the watcher looks at the files' modification times and sizes.
const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The certificate and key in service. A handshake only clones the `Arc`
/// under a read lock, never touches a file, and never waits for a reload:
/// the reload reads the files first, then swaps the pointer.
#[derive(Debug)]
pub(super) struct ReloadingCertificate {
    cert_pem: PathBuf,
    key_pem: PathBuf,
    provider: Arc<CryptoProvider>,
    in_service: RwLock<Arc<CertifiedKey>>,
    /// The files' stamps when the pair in service at start was read.
    loaded: FileStamps,
}

/// The modification time and size of the certificate and key files.
type FileStamps = [Option<(SystemTime, u64)>; 2];

impl ReloadingCertificate {
    pub(super) fn new(
        cert_pem: &Path,
        key_pem: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, Error> {
        let loaded = stamps(cert_pem, key_pem);
        let key = load(cert_pem, key_pem, &provider)?;
        Ok(ReloadingCertificate {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            provider,
            in_service: RwLock::new(key),
            loaded,
        })
    }

    /// Loads the files again if they changed since `served`; a pair that
    /// does not load or match is not used, and is tried again next time.
    fn reload_if_changed(&self, served: &mut FileStamps) {
        // Taken before reading, so a change during the read is seen at the
        // next check.
        let stamps = stamps(&self.cert_pem, &self.key_pem);
        if stamps == *served {
            return;
        }
        if let Ok(key) = load(&self.cert_pem, &self.key_pem, &self.provider) {
            *self
                .in_service
                .write()
                .unwrap_or_else(PoisonError::into_inner) = key;
            *served = stamps;
        }
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let key = self
            .in_service
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Some(Arc::clone(&key))
    }
}

/// The thread that checks the files every [`RELOAD_CHECK_INTERVAL`]; it
/// ends when this is dropped (at once, unless it is reading the files).
#[derive(Debug)]
pub(super) struct Watcher {
    _stop: mpsc::Sender<()>,
}

impl Watcher {
    pub(super) fn start(certificate: &Arc<ReloadingCertificate>) -> Result<Watcher, Error> {
        let (stop, stopped) = mpsc::channel::<()>();
        let mut served = certificate.loaded;
        let certificate: Weak<ReloadingCertificate> = Arc::downgrade(certificate);
        std::thread::Builder::new()
            .name("insa-metrics-tls-reload".to_owned())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(RELOAD_CHECK_INTERVAL)
                {
                    let Some(certificate) = certificate.upgrade() else {
                        return;
                    };
                    certificate.reload_if_changed(&mut served);
                }
            })
            .map_err(|error| {
                Error::tls(
                    "cannot start the certificate reload thread",
                    Some(error.into()),
                )
            })?;
        Ok(Watcher { _stop: stop })
    }
}

fn stamps(cert_pem: &Path, key_pem: &Path) -> FileStamps {
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
    let pem =
        std::fs::read(key_pem).map_err(|error| file_error(key_pem, "cannot be read", error))?;
    let key = rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|error| file_error(key_pem, "is not valid PEM", error))?
        .ok_or_else(|| {
            Error::tls(
                format!("{}: no PEM private key found", key_pem.display()),
                None,
            )
        })?;
    let pair_error = |error: rustls::Error| {
        let pair = format!("{} / {}", cert_pem.display(), key_pem.display());
        Error::tls(
            format!("{pair}: the key does not fit the certificate"),
            Some(error.into()),
        )
    };
    // The checks rustls makes of a single certificate (the key parses and
    // matches the end-entity certificate).
    ServerConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .map_err(pair_error)?
        .with_no_client_auth()
        .with_single_cert(certs.clone(), key.clone_key())
        .map_err(pair_error)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(pair_error)?;
    Ok(Arc::new(CertifiedKey::new(certs, signing_key)))
}
