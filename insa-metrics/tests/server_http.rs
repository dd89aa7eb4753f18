//! The global server over HTTP: round trip, HEAD, 404, 405, gzip, start/stop
//! semantics, a busy port, and a failed scrape as a 500.

mod support;

use std::io::Read as _;
use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard, PoisonError};

use hyper::Method;
use insa_metrics::{
    Error, MetricsCollector, MetricsServer, RequestStatus, get_metrics_text, metrics,
    start_metrics_server, stop_metrics_server,
};
use support::{get, request};

/// The global server is one per process: its tests take turns.
static GLOBAL: Mutex<()> = Mutex::new(());

fn global() -> MutexGuard<'static, ()> {
    let guard = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    // Without the process metrics, two encodings of an idle registry are
    // byte-identical.
    let _ = MetricsCollector::builder().process_metrics(false).install();
    guard
}

#[test]
fn round_trip_matches_get_metrics_text() -> anyhow::Result<()> {
    let _turn = global();
    tokio::runtime::Runtime::new()?.block_on(round_trip())
}

async fn round_trip() -> anyhow::Result<()> {
    insa_metrics::initialize_metrics("1.0.0", "test");
    metrics().record_cache_hit("orchestrator");
    metrics().record_request("sizing_agent", RequestStatus::Success);
    let addr = start_metrics_server(0)?;
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_ne!(addr.port(), 0);

    let response = get(addr, "/metrics").await?;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = get_metrics_text();
    assert_eq!(response.text(), text);
    assert!(text.contains(r#"insa_cache_hits_total{cache_type="orchestrator"} 1"#));

    // HEAD: the status and headers of a GET, its Content-Length included,
    // without the body.
    let head = request(addr, Method::HEAD, "/metrics", &[]).await?;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    for name in ["content-type", "vary", "content-encoding", "content-length"] {
        assert_eq!(head.header(name), response.header(name), "{name}");
    }
    assert_eq!(
        response.header("content-length"),
        Some(text.len().to_string().as_str())
    );
    let gzip_head = request(
        addr,
        Method::HEAD,
        "/metrics",
        &[("accept-encoding", "gzip")],
    )
    .await?;
    assert_eq!(gzip_head.status, 200);
    assert!(gzip_head.body.is_empty());
    assert_eq!(gzip_head.header("content-encoding"), Some("gzip"));
    assert_eq!(gzip_head.header("vary"), Some("Accept, Accept-Encoding"));

    let gzipped = request(
        addr,
        Method::GET,
        "/metrics",
        &[("accept-encoding", "gzip")],
    )
    .await?;
    assert_eq!(gzipped.status, 200);
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert!(gzipped.body.len() < text.len());
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&gzipped.body[..]).read_to_string(&mut decoded)?;
    assert_eq!(decoded, text);

    assert_eq!(get(addr, "/").await?.status, 404);
    assert_eq!(get(addr, "/metricsx").await?.status, 404);
    let post = request(addr, Method::POST, "/metrics", &[]).await?;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(
        request(addr, Method::DELETE, "/metrics", &[]).await?.status,
        405
    );

    match start_metrics_server(0) {
        Err(Error::AlreadyRunning(running)) => assert_eq!(running, addr),
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }

    stop_metrics_server();
    stop_metrics_server();
    // The port is free as soon as stop returns.
    drop(TcpListener::bind(addr)?);
    assert!(get(addr, "/metrics").await.is_err());
    Ok(())
}

/// What Prometheus 2.42 sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[test]
fn the_accept_header_chooses_openmetrics_or_text() -> anyhow::Result<()> {
    let _turn = global();
    tokio::runtime::Runtime::new()?.block_on(negotiation())
}

async fn negotiation() -> anyhow::Result<()> {
    metrics().record_cache_hit("negotiated");
    let addr = start_metrics_server(0)?;
    let openmetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    let text = "text/plain; version=0.0.4; charset=utf-8";
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("accept", PROMETHEUS_ACCEPT)], openmetrics),
        (&[("accept", "application/openmetrics-text")], openmetrics),
        (
            &[(
                "accept",
                "application/openmetrics-text;q=0.4, text/plain;q=0.5",
            )],
            text,
        ),
        (&[("accept", "*/*")], text),
        (&[("accept", "text/*;q=0.9, application/json")], text),
        (&[], text),
        // Two Accept headers are one list.
        (
            &[
                ("accept", "text/plain;q=0.2"),
                ("accept", "application/openmetrics-text;q=0.3"),
            ],
            openmetrics,
        ),
    ];
    for (headers, expected) in cases {
        let got = request(addr, Method::GET, "/metrics", headers).await?;
        assert_eq!(got.status, 200, "{headers:?}");
        assert_eq!(got.header("content-type"), Some(expected), "{headers:?}");
        assert_eq!(got.header("vary"), Some("Accept, Accept-Encoding"));
        let body = got.text();
        if expected == openmetrics {
            assert!(body.ends_with("# EOF\n"), "{headers:?}");
            assert!(body.contains("# TYPE insa_cache_hits counter\n"));
            assert!(body.contains(r#"insa_cache_hits_total{cache_type="negotiated"} 1"#));
        } else {
            assert!(!body.contains("# EOF"), "{headers:?}");
            assert!(body.contains("# TYPE insa_cache_hits_total counter\n"));
        }
        let head = request(addr, Method::HEAD, "/metrics", headers).await?;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert_eq!(
            head.header("content-type"),
            Some(expected),
            "HEAD {headers:?}"
        );
    }
    let gzipped = request(
        addr,
        Method::GET,
        "/metrics",
        &[("accept", PROMETHEUS_ACCEPT), ("accept-encoding", "gzip")],
    )
    .await?;
    assert_eq!(gzipped.header("content-type"), Some(openmetrics));
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&gzipped.body[..]).read_to_string(&mut decoded)?;
    assert!(decoded.ends_with("# EOF\n"));
    stop_metrics_server();
    Ok(())
}

#[test]
fn busy_port_is_an_error_naming_the_address() {
    let _turn = global();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let error = start_metrics_server(addr.port()).unwrap_err();
    assert!(
        matches!(&error, Error::Bind { addr: asked, .. } if *asked == addr),
        "{error:?}"
    );
    assert!(error.to_string().contains(&addr.to_string()), "{error}");
    // Nothing is left running: a start on a free port works.
    let started = start_metrics_server(0).unwrap();
    stop_metrics_server();
    assert_ne!(started, addr);

    let builder_error = MetricsServer::builder().addr(addr).build().unwrap_err();
    assert!(builder_error.to_string().contains(&addr.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_the_callers_runtime_with_a_custom_path_and_registry() -> anyhow::Result<()> {
    let registry = prometheus::Registry::new();
    let collector = MetricsCollector::builder()
        .registry(registry.clone())
        .process_metrics(false)
        .build()?;
    collector.record_cache_miss("crm");
    let server = MetricsServer::builder()
        .port(0)
        .path("/internal/metrics")
        .registry(registry)
        .build()?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    let response = get(addr, "/internal/metrics").await?;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), collector.encode_text());
    assert_eq!(get(addr, "/metrics").await?.status, 404);
    let _ = stop.send(());
    task.await??;
    drop(TcpListener::bind(addr)?);
    Ok(())
}

/// A collector that panics when collected.
#[derive(Debug)]
struct Panicking(prometheus::core::Desc);

impl prometheus::core::Collector for Panicking {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        vec![&self.0]
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        panic!("a collector that panics (expected by the test)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_collector_is_a_500_not_an_empty_200() -> anyhow::Result<()> {
    let (registry, _collector) = support::own_collector();
    let desc = prometheus::core::Desc::new(
        "insa_test_panics".into(),
        "Panics.".into(),
        Vec::new(),
        Default::default(),
    )?;
    registry.register(Box::new(Panicking(desc)))?;
    let server = MetricsServer::builder()
        .port(0)
        .registry(registry)
        .build()?
        .start()?;
    let addr = server.local_addr();
    for accept_encoding in ["identity", "gzip"] {
        let response = request(
            addr,
            Method::GET,
            "/metrics",
            &[("accept-encoding", accept_encoding)],
        )
        .await?;
        assert_eq!(
            response.status,
            500,
            "{accept_encoding}: {}",
            response.text()
        );
        assert_eq!(response.header("content-encoding"), None);
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(response.text().contains("panicked"), "{}", response.text());
        // A HEAD (a load balancer's health check) is told the same.
        let head = request(
            addr,
            Method::HEAD,
            "/metrics",
            &[("accept-encoding", accept_encoding)],
        )
        .await?;
        assert_eq!(head.status, 500, "HEAD, {accept_encoding}");
        assert!(head.body.is_empty());
    }
    // The server lives on: the next request is served.
    assert_eq!(get(addr, "/other").await?.status, 404);
    server.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_cannot_be_encoded_is_a_500() -> anyhow::Result<()> {
    for with_collector in [false, true] {
        let registry = if with_collector {
            support::own_collector().0
        } else {
            prometheus::Registry::new()
        };
        let desc = prometheus::core::Desc::new(
            "insa_test_untyped".into(),
            "Untyped.".into(),
            Vec::new(),
            Default::default(),
        )?;
        registry.register(Box::new(support::Untyped(desc)))?;
        let server = MetricsServer::builder()
            .port(0)
            .registry(registry)
            .build()?
            .start()?;
        let response = get(server.local_addr(), "/metrics").await?;
        assert_eq!(response.status, 500, "{}", response.text());
        assert!(response.text().contains("untyped"), "{}", response.text());
        server.stop();
    }
    Ok(())
}

/// A caller's collector given with `collector()` is served by its own
/// encoder: exemplars and `# UNIT` in OpenMetrics. Its registry given with
/// `registry()` is gathered: the same samples, without them.
#[test]
fn a_callers_collector_is_served_with_its_exemplars() -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(callers_collector())
}

async fn callers_collector() -> anyhow::Result<()> {
    use std::sync::Arc;
    let collector = Arc::new(
        MetricsCollector::builder()
            .registry(insa_metrics::prometheus::Registry::new())
            .process_metrics(false)
            .exemplar_interval(std::time::Duration::from_nanos(1))
            .build()?,
    );
    let trace = insa_metrics::TraceContext::new([0x11; 16], [0x22; 8]).expect("a valid context");
    {
        let _scope = trace.enter();
        collector.start_request("sizing_agent").succeed();
    }
    let served = MetricsServer::builder()
        .port(0)
        .collector(Arc::clone(&collector))
        .build()?
        .start()?;
    let gathered = MetricsServer::builder()
        .port(0)
        .registry(collector.registry().clone())
        .build()?
        .start()?;
    let accept = [("accept", PROMETHEUS_ACCEPT)];
    let ours = request(served.local_addr(), Method::GET, "/metrics", &accept).await?;
    let text = ours.text();
    assert_eq!(text, collector.encode_openmetrics());
    assert!(
        text.contains(&format!("trace_id=\"{}\"", "11".repeat(16))),
        "{text}"
    );
    assert!(text.contains("# UNIT insa_agent_request_duration_seconds seconds\n"));
    let other = request(gathered.local_addr(), Method::GET, "/metrics", &accept).await?;
    let other = other.text();
    assert!(
        other
            .contains(r#"insa_agent_requests_total{agent_type="sizing_agent",status="success"} 1"#)
    );
    assert!(!other.contains("trace_id"), "{other}");
    served.stop();
    gathered.stop();
    Ok(())
}
