//! Shared helpers of the server tests: free ports, child-process guards,
//! HTTP(S) clients from either loopback peer; Prometheus and the Pushgateway
//! in `daemons`, a hostile peer's clients in `attack`.

// Each test binary uses a subset of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::fs;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper::rt::{Read, Write};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub mod attack;
pub mod daemons;

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The absolute path of `binary`, or a panic that names the Debian package
/// to install.
pub fn require_binary(binary: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(binary))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{binary}` is not installed: this test needs the Debian package `{package}` \
             (apt-get install {package}); scripts/test.sh installs it"
        )
    })
}

/// The committed test fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "insa-{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A child process killed and reaped on drop, whatever the test outcome.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Spawns `command` with stdout and stderr going to `log`.
    pub fn spawn(mut command: Command, log: PathBuf) -> ChildGuard {
        let out = fs::File::create(&log).expect("create the child's log");
        let err = out.try_clone().expect("clone the log handle");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {command:?}: {error}"));
        ChildGuard { child, log }
    }

    /// The last lines the child wrote.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Fails if the child has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the child exited with {status}:\n{}", self.log_tail());
        }
        Ok(())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP response, read to the end.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Sends one request on a new plain connection.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<Response> {
    bounded(async {
        let stream = TcpStream::connect(addr).await?;
        exchange(TokioIo::new(stream), addr, method, path, headers).await
    })
    .await
}

/// The other loopback host of the tests: a peer distinct from `127.0.0.1`
/// for the server's per-peer limits (the whole of 127.0.0.0/8 is loopback).
pub const OTHER_HOST: std::net::IpAddr =
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

/// The usual loopback host of the tests (the scrapers).
pub const LOCALHOST: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A connection to `addr` from the loopback address `source`.
pub async fn connect_from(
    source: std::net::IpAddr,
    addr: SocketAddr,
) -> std::io::Result<TcpStream> {
    let socket = match source {
        std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

/// As [`request`], on a new connection from the loopback address `source`.
pub async fn request_from(
    source: std::net::IpAddr,
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<Response> {
    bounded(async {
        let stream = connect_from(source, addr).await?;
        exchange(TokioIo::new(stream), addr, method, path, headers).await
    })
    .await
}

/// A collector on a registry of its own (no process metrics), and that
/// registry, for a server or a push that must not see other tests' series.
pub fn own_collector() -> (prometheus::Registry, insa_metrics::MetricsCollector) {
    let registry = prometheus::Registry::new();
    let collector = insa_metrics::MetricsCollector::builder()
        .registry(registry.clone())
        .build()
        .expect("a new registry accepts the catalogue");
    (registry, collector)
}

/// A collector whose family no exposition format can carry (untyped).
#[derive(Debug)]
pub struct Untyped(pub prometheus::core::Desc);

impl prometheus::core::Collector for Untyped {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        vec![&self.0]
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let mut family = prometheus::proto::MetricFamily::default();
        family.set_name("insa_test_untyped".into());
        family.set_field_type(prometheus::proto::MetricType::UNTYPED);
        family.set_metric(vec![prometheus::proto::Metric::default()]);
        vec![family]
    }
}

/// Starts `builder`'s server on a free port, over a collector of its own
/// with one cache hit recorded (so a scrape has a sample to check).
pub fn start_server(builder: insa_metrics::MetricsServerBuilder) -> insa_metrics::ServerHandle {
    let (registry, collector) = own_collector();
    collector.record_cache_hit("orchestrator");
    builder
        .port(0)
        .registry(registry)
        .build()
        .unwrap()
        .start()
        .unwrap()
}

/// Everything the peer sends until it closes (or resets) the connection.
pub async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// A huge header was answered with 431 or a plain close.
pub fn assert_rejected(answer: &[u8]) {
    let text = String::from_utf8_lossy(answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 431"),
        "a huge header got: {text}"
    );
}

/// How long one test request may take before it is an error: a server that
/// never answers fails the test that asked, instead of hanging the suite.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

async fn bounded<T>(request: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .map_err(|_| anyhow::anyhow!("no response within {REQUEST_TIMEOUT:?}"))?
}

/// `GET path` on a new plain connection.
pub async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<Response> {
    request(addr, Method::GET, path, &[]).await
}

/// Sends one request over HTTPS, trusting only the CA in `ca_pem`.
pub async fn request_tls(
    addr: SocketAddr,
    ca_pem: &Path,
    server_name: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<Response> {
    request_mtls(addr, ca_pem, server_name, None, method, path, headers).await
}

/// As [`request_tls`], presenting the client certificate and key in these
/// PEM files when given.
pub async fn request_mtls(
    addr: SocketAddr,
    ca_pem: &Path,
    server_name: &str,
    client: Option<(&Path, &Path)>,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<Response> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = fs::read(ca_pem)?;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let certs = rustls_pemfile::certs(&mut fs::read(cert_pem)?.as_slice())
                .collect::<Result<Vec<_>, _>>()?;
            let key = rustls_pemfile::private_key(&mut fs::read(key_pem)?.as_slice())?
                .context("no private key")?;
            builder.with_client_auth_cert(certs, key)?
        }
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())?;
    bounded(async {
        let stream = TcpStream::connect(addr).await?;
        let stream = connector.connect(name, stream).await?;
        exchange(TokioIo::new(stream), addr, method, path, headers).await
    })
    .await
}

async fn exchange<I>(
    io: I,
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<Response>
where
    I: Read + Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    let connection = tokio::spawn(connection);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = sender
        .send_request(builder.body(Full::new(Bytes::new()))?)
        .await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    drop(sender);
    connection.abort();
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Percent-encodes a query parameter.
pub fn url_encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The resident memory of this process, in KiB (Linux).
pub fn rss_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A collector whose `collect` waits until the test opens its gate (at
/// most 60 s, so a failing test leaves no thread behind for long): a stuck
/// collector. `insa_test_gated_total`, registered on a registry of its own.
#[derive(Debug, Clone)]
pub struct Gated {
    pub counter: prometheus::IntCounter,
    /// `collect` calls under way or done.
    pub entered: Arc<AtomicUsize>,
    gate: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl Gated {
    /// The collector and the registry it is on.
    pub fn registered() -> (Gated, prometheus::Registry) {
        let gated = Gated {
            counter: prometheus::IntCounter::new("insa_test_gated_total", "Gated.").unwrap(),
            entered: Arc::default(),
            gate: Arc::default(),
        };
        let registry = prometheus::Registry::new();
        registry.register(Box::new(gated.clone())).unwrap();
        (gated, registry)
    }

    /// Lets every `collect`, waiting or to come, return.
    pub fn open(&self) {
        let (open, opened) = &*self.gate;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }
}

impl prometheus::core::Collector for Gated {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.counter.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let (open, opened) = &*self.gate;
        let open = open.lock().unwrap();
        let _open = opened
            .wait_timeout_while(open, Duration::from_secs(60), |open| !*open)
            .unwrap();
        self.counter.collect()
    }
}
