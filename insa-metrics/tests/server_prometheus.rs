//! A real Prometheus (Debian package `prometheus`) scrapes the server: plain,
//! with basic auth and with TLS.

mod support;

use std::time::{Duration, Instant};

use hyper::Method;
use insa_metrics::{MetricsCollector, MetricsServer, MetricsServerBuilder, ServerHandle};
use support::daemons::Prometheus;
use support::{fixtures, get, request, request_mtls, request_tls};

/// Generous: a loaded CI machine may take long to start Prometheus and to
/// let it scrape; the tests poll and return as soon as the state is there.
const UP_WITHIN: Duration = Duration::from_secs(60);
const QUERY: &str = r#"insa_cache_hits_total{job="insa",cache_type="orchestrator"}"#;

/// A server on its own registry holding `insa_cache_hits_total{cache_type="orchestrator"} 3`.
fn serve(builder: MetricsServerBuilder) -> anyhow::Result<(ServerHandle, MetricsCollector)> {
    let registry = prometheus::Registry::new();
    let collector = MetricsCollector::builder()
        .registry(registry.clone())
        .build()?;
    for _ in 0..3 {
        collector.record_cache_hit("orchestrator");
    }
    let handle = builder.port(0).registry(registry).build()?.start()?;
    Ok((handle, collector))
}

fn job(name: &str, port: u16, extra: &str) -> String {
    format!(
        "  - job_name: {name}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n{extra}"
    )
}

#[tokio::test]
async fn prometheus_scrapes_plain_http() -> anyhow::Result<()> {
    let (server, _collector) = serve(MetricsServer::builder())?;
    let port = server.local_addr().port();
    let mut prometheus = Prometheus::start(&job("insa", port, ""), &[]).await?;
    prometheus.wait_target_up("insa", UP_WITHIN).await?;
    assert_eq!(prometheus.wait_value(QUERY, UP_WITHIN).await?, 3.0);
    assert_eq!(
        prometheus
            .wait_value(r#"up{job="insa"}"#, UP_WITHIN)
            .await?,
        1.0
    );
    drop(prometheus);
    server.stop();
    Ok(())
}

#[tokio::test]
async fn prometheus_scrapes_with_basic_auth() -> anyhow::Result<()> {
    // Cost 8 (a few ms even in an optimized build): well above loopback noise.
    let hash = bcrypt::hash("s3cret", 8)?;
    let (server, _collector) = serve(MetricsServer::builder().basic_auth_user("prometheus", hash))?;
    let addr = server.local_addr();

    let anonymous = get(addr, "/metrics").await?;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some(r#"Basic realm="insa-metrics", charset="UTF-8""#)
    );
    let basic = |user: &str, password: &str| {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}")
    };
    let good = basic("prometheus", "s3cret");
    let ok = request(addr, Method::GET, "/metrics", &[("authorization", &good)]).await?;
    assert_eq!(ok.status, 200);
    assert!(
        ok.text()
            .contains(r#"insa_cache_hits_total{cache_type="orchestrator"} 3"#)
    );
    // Unknown paths stay hidden behind auth too.
    assert_eq!(get(addr, "/other").await?.status, 401);

    // An unknown user costs a bcrypt verification like a wrong password does.
    // The two kinds of request alternate, so that load from other tests hits
    // both alike; medians of many samples, and a tolerant ratio.
    let wrong_password = basic("prometheus", "guess");
    let unknown_user = basic("nobody", "guess");
    let timed = async |header: &str| {
        let started = Instant::now();
        let response = request(addr, Method::GET, "/metrics", &[("authorization", header)])
            .await
            .expect("request");
        assert_eq!(response.status, 401);
        started.elapsed()
    };
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        wrong.push(timed(&wrong_password).await);
        unknown.push(timed(&unknown_user).await);
    }
    let median = |mut samples: Vec<Duration>| {
        samples.sort_unstable();
        samples[samples.len() / 2]
    };
    let (wrong, unknown) = (median(wrong), median(unknown));
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown user {unknown:?} vs wrong password {wrong:?} (medians)"
    );

    let jobs = format!(
        "{}{}",
        job(
            "insa",
            addr.port(),
            "    basic_auth:\n      username: prometheus\n      password: s3cret\n"
        ),
        job("anonymous", addr.port(), "")
    );
    let mut prometheus = Prometheus::start(&jobs, &[]).await?;
    prometheus.wait_target_up("insa", UP_WITHIN).await?;
    assert_eq!(prometheus.wait_value(QUERY, UP_WITHIN).await?, 3.0);
    // Prometheus scrapes the anonymous job too, and fails.
    let error = prometheus.wait_target_error("anonymous", UP_WITHIN).await?;
    assert!(error.contains("401"), "{error}");
    drop(prometheus);
    server.stop();
    Ok(())
}

#[tokio::test]
async fn prometheus_scrapes_over_tls() -> anyhow::Result<()> {
    let tls = fixtures().join("tls");
    let (server, _collector) =
        serve(MetricsServer::builder().tls(tls.join("server.pem"), tls.join("server.key")))?;
    let addr = server.local_addr();
    let ca = tls.join("ca.pem");

    let response = request_tls(addr, &ca, "localhost", Method::GET, "/metrics", &[]).await?;
    assert_eq!(response.status, 200);
    assert!(
        response
            .text()
            .contains(r#"insa_cache_hits_total{cache_type="orchestrator"} 3"#)
    );
    let by_ip = request_tls(addr, &ca, "127.0.0.1", Method::GET, "/metrics", &[]).await?;
    assert_eq!(by_ip.status, 200);
    // Plain HTTP on the TLS port gets no metrics.
    assert!(get(addr, "/metrics").await.is_err());

    let tls_config = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {}\n      server_name: localhost\n",
        ca.display()
    );
    let mut prometheus = Prometheus::start(&job("insa", addr.port(), &tls_config), &[]).await?;
    prometheus.wait_target_up("insa", UP_WITHIN).await?;
    assert_eq!(prometheus.wait_value(QUERY, UP_WITHIN).await?, 3.0);
    drop(prometheus);
    server.stop();
    Ok(())
}

#[tokio::test]
async fn prometheus_scrapes_with_mutual_tls() -> anyhow::Result<()> {
    let tls = fixtures().join("tls");
    let ca = tls.join("ca.pem");
    let (server, _collector) = serve(
        MetricsServer::builder()
            .tls(tls.join("server.pem"), tls.join("server.key"))
            .tls_client_ca(&ca),
    )?;
    let addr = server.local_addr();

    // No client certificate: no metrics.
    let anonymous = request_tls(addr, &ca, "localhost", Method::GET, "/metrics", &[]).await;
    assert!(anonymous.is_err(), "{anonymous:?}");
    // The server's own certificate is not a client certificate.
    let wrong = (tls.join("server.pem"), tls.join("server.key"));
    let wrong = request_mtls(
        addr,
        &ca,
        "localhost",
        Some((wrong.0.as_path(), wrong.1.as_path())),
        Method::GET,
        "/metrics",
        &[],
    )
    .await;
    assert!(wrong.is_err(), "{wrong:?}");
    let (cert, key) = (tls.join("client.pem"), tls.join("client.key"));
    let response = request_mtls(
        addr,
        &ca,
        "localhost",
        Some((cert.as_path(), key.as_path())),
        Method::GET,
        "/metrics",
        &[],
    )
    .await?;
    assert_eq!(response.status, 200);

    let tls_config = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {}\n      cert_file: {}\n      key_file: {}\n",
        ca.display(),
        cert.display(),
        key.display()
    );
    let mut prometheus = Prometheus::start(&job("insa", addr.port(), &tls_config), &[]).await?;
    prometheus.wait_target_up("insa", UP_WITHIN).await?;
    assert_eq!(prometheus.wait_value(QUERY, UP_WITHIN).await?, 3.0);
    drop(prometheus);
    server.stop();
    Ok(())
}

#[test]
fn tls_files_that_do_not_exist_are_an_error() {
    let error = MetricsServer::builder()
        .port(0)
        .tls("/nonexistent/cert.pem", "/nonexistent/key.pem")
        .build()
        .unwrap_err();
    assert!(
        matches!(error, insa_metrics::Error::Tls { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("/nonexistent/cert.pem"),
        "{error}"
    );
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart() -> anyhow::Result<()> {
    let tls = fixtures().join("tls");
    let (ca, ca2) = (tls.join("ca.pem"), tls.join("ca2.pem"));
    let dir = support::TempDir::new("tls-reload");
    let (cert, key) = (
        dir.path().join("metrics.crt"),
        dir.path().join("metrics.key"),
    );
    std::fs::copy(tls.join("server.pem"), &cert)?;
    std::fs::copy(tls.join("server.key"), &key)?;
    let (server, _collector) = serve(MetricsServer::builder().tls(&cert, &key))?;
    let addr = server.local_addr();
    let trusted_by = async |ca: &std::path::Path| {
        request_tls(addr, ca, "localhost", Method::GET, "/metrics", &[])
            .await
            .is_ok_and(|response| response.status == 200)
    };
    assert!(trusted_by(&ca).await);
    assert!(!trusted_by(&ca2).await);

    // Half-way through a renewal: the new certificate, the old key. More than
    // the check interval later, a handshake looks at the files, and the pair
    // that does not match is not used.
    std::fs::write(&cert, std::fs::read(tls.join("server2.pem"))?)?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(trusted_by(&ca).await, "a mismatched pair was used");

    // The renewal completes: the new pair is served from the next check on.
    std::fs::write(&key, std::fs::read(tls.join("server2.key"))?)?;
    let started = Instant::now();
    while !trusted_by(&ca2).await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the renewed certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !trusted_by(&ca).await,
        "the old certificate is still served"
    );
    server.stop();
    Ok(())
}
