//! Bad configuration is an `Err` at `build()`, never a hang or a surprise at
//! run time; errors keep their cause.

mod support;

use std::error::Error as _;
use std::io;
use std::time::Duration;

use insa_metrics::{Error, MetricsServer, MetricsServerBuilder};

fn config_error(builder: MetricsServerBuilder) -> Error {
    let error = builder.port(0).build().unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    error
}

/// Builds on a thread of its own, failing after 30 s instead of hanging.
fn build_bounded(builder: MetricsServerBuilder) -> Result<MetricsServer, Error> {
    let (done, built) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(builder.port(0).build());
    });
    built
        .recv_timeout(Duration::from_secs(30))
        .expect("build() did not return within 30 s")
}

#[test]
fn paths_that_no_request_path_can_be_are_errors() {
    for path in [
        "metrics",
        "/metrics?format=text",
        "/metrics#top",
        "/a b",
        "/100%",
    ] {
        let error = config_error(MetricsServer::builder().path(path));
        assert!(error.to_string().contains(path), "{error}");
    }
}

#[tokio::test]
async fn a_non_ascii_path_answers_its_percent_encoded_form() -> anyhow::Result<()> {
    let (registry, collector) = support::own_collector();
    collector.record_cache_hit("orchestrator");
    let server = MetricsServer::builder()
        .port(0)
        .path("/métriques")
        .registry(registry)
        .build()?
        .start()?;
    let addr = server.local_addr();
    // What curl, Prometheus and browsers send for /métriques.
    let response = support::get(addr, "/m%C3%A9triques").await?;
    assert_eq!(response.status, 200);
    assert!(response.text().contains("insa_cache_hits_total"));
    assert_eq!(support::get(addr, "/metriques").await?.status, 404);
    server.stop();
    Ok(())
}

#[test]
fn basic_auth_users_need_a_name() {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let error = config_error(MetricsServer::builder().basic_auth_user("", hash));
    assert!(error.to_string().contains("empty"), "{error}");
}

#[test]
fn rejects_basic_auth_users_with_different_bcrypt_costs() {
    // An unknown user is checked against a dummy hash of the one cost: with
    // mixed costs, the time of a 401 would tell which users exist.
    let error = config_error(
        MetricsServer::builder()
            .basic_auth_user("prometheus", bcrypt::hash("a", 4).unwrap())
            .basic_auth_user("grafana", bcrypt::hash("b", 5).unwrap()),
    );
    assert!(error.to_string().contains("same bcrypt cost"), "{error}");
    let server = MetricsServer::builder()
        .port(0)
        .basic_auth_user("prometheus", bcrypt::hash("a", 4).unwrap())
        .basic_auth_user("grafana", bcrypt::hash("b", 4).unwrap())
        .build();
    assert!(server.is_ok(), "{server:?}");
}

#[test]
fn a_basic_auth_user_given_twice_is_an_error() {
    // The last hash would silently win, and the first password fail.
    let error = config_error(
        MetricsServer::builder()
            .basic_auth_user("prometheus", bcrypt::hash("a", 4).unwrap())
            .basic_auth_user("prometheus", bcrypt::hash("b", 4).unwrap()),
    );
    assert!(error.to_string().contains("\"prometheus\""), "{error}");
}

#[test]
fn a_bcrypt_cost_outside_4_to_14_is_an_error_at_once() {
    // Hashes of "s3cret" as htpasswd writes them; only their cost differs
    // (16 takes seconds per verification, 31 days).
    let salt_and_hash = "xrEloq3Q1Q1vKTWC6FMYiePGtIfW5EXaEpkoBwgGlT4tc/zCrfO7y";
    for cost in [15, 16, 31] {
        let hash = format!("$2b${cost}${salt_and_hash}");
        let started = std::time::Instant::now();
        let error = build_bounded(MetricsServer::builder().basic_auth_user("prometheus", hash))
            .unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error:?}");
        assert!(
            error.to_string().contains(&format!("cost {cost}")),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "cost {cost}");
    }
}

#[test]
fn zero_limits_are_errors() {
    config_error(MetricsServer::builder().max_connections(0));
    config_error(MetricsServer::builder().max_connections_per_peer(0));
    config_error(MetricsServer::builder().max_requests_per_connection(0));
    config_error(MetricsServer::builder().header_read_timeout(Duration::ZERO));
    config_error(MetricsServer::builder().keep_alive_timeout(Duration::ZERO));
    config_error(MetricsServer::builder().connection_deadline(Duration::ZERO));
    config_error(MetricsServer::builder().scrape_wait(Duration::ZERO));
    config_error(MetricsServer::builder().shutdown_timeout(Duration::ZERO));
    config_error(MetricsServer::builder().max_header_bytes(10));
}

#[test]
fn max_connections_beyond_the_descriptor_limit_is_clamped() {
    let soft_limit: usize = std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3)?.parse().ok())
        .expect("the soft RLIMIT_NOFILE in /proc/self/limits");
    let asked = usize::MAX / 2;
    let server = MetricsServer::builder()
        .port(0)
        .max_connections(asked)
        .build()
        .unwrap();
    assert!(
        server.max_connections() < soft_limit,
        "{} connections with {soft_limit} descriptors",
        server.max_connections()
    );
    // A value within the limit is kept.
    let server = MetricsServer::builder()
        .port(0)
        .max_connections(64)
        .build()
        .unwrap();
    assert_eq!(server.max_connections(), 64);
}

#[test]
fn errors_keep_their_cause() {
    let missing = MetricsServer::builder()
        .port(0)
        .tls("/nonexistent/cert.pem", "/nonexistent/key.pem")
        .build()
        .unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/cert.pem"),
        "{missing}"
    );
    let cause = missing
        .source()
        .and_then(|cause| cause.downcast_ref::<io::Error>())
        .unwrap_or_else(|| panic!("no io::Error cause: {missing:?}"));
    assert_eq!(cause.kind(), io::ErrorKind::NotFound);

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let busy = MetricsServer::builder().addr(addr).build().unwrap_err();
    let cause = busy
        .source()
        .and_then(|cause| cause.downcast_ref::<io::Error>())
        .unwrap_or_else(|| panic!("no io::Error cause: {busy:?}"));
    assert_eq!(cause.kind(), io::ErrorKind::AddrInUse);
}
