//! Pushing to a real Pushgateway (Debian package `prometheus-pushgateway`),
//! and to gateways that are down or silent.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use insa_metrics::{Error, Pusher, metrics, push_metrics};
use support::daemons::Pushgateway;

fn has_sample(samples: &[String], labels: &[&str], value: &str) -> bool {
    samples.iter().any(|line| {
        line.ends_with(&format!(" {value}")) && labels.iter().all(|label| line.contains(label))
    })
}

#[tokio::test]
async fn a_real_pushgateway_receives_the_push_and_serves_it_back() {
    let gateway = Pushgateway::start().await.unwrap();

    // The global registry, with the free function.
    metrics().record_cache_hit("push_test");
    metrics().record_cache_hit("push_test");
    push_metrics(&gateway.url(), "insa_batch", &[("instance", "ci-1")]).unwrap();
    let samples = gateway.samples("insa_cache_hits_total").await.unwrap();
    assert!(
        has_sample(
            &samples,
            &[
                r#"cache_type="push_test""#,
                r#"instance="ci-1""#,
                r#"job="insa_batch""#
            ],
            "2"
        ),
        "{samples:#?}"
    );

    // Another registry, values that need escaping, from async code.
    let (registry, collector) = support::own_collector();
    collector.record_cache_miss("crm");
    let pusher = Pusher::new(gateway.url(), "insa import/nightly")
        .grouping("path", "/var/lib/import")
        .grouping("host", "db 1:5432")
        .registry(registry);
    pusher.push_async().await.unwrap();
    let samples = gateway.samples("insa_cache_misses_total").await.unwrap();
    assert!(
        has_sample(
            &samples,
            &[
                r#"job="insa import/nightly""#,
                r#"path="/var/lib/import""#,
                r#"host="db 1:5432""#,
                r#"cache_type="crm""#
            ],
            "1"
        ),
        "{samples:#?}"
    );

    // A caller's collector, given as such.
    let (_, collector) = support::own_collector();
    collector.record_cache_miss("sizing");
    Pusher::new(gateway.url(), "insa_collector_batch")
        .collector(std::sync::Arc::new(collector))
        .push_async()
        .await
        .unwrap();
    let samples = gateway.samples("insa_cache_misses_total").await.unwrap();
    assert!(
        has_sample(
            &samples,
            &[r#"job="insa_collector_batch""#, r#"cache_type="sizing""#],
            "1"
        ),
        "{samples:#?}"
    );

    // PUT replaces the group: an empty registry leaves nothing of it.
    Pusher::new(gateway.url(), "insa import/nightly")
        .grouping("path", "/var/lib/import")
        .grouping("host", "db 1:5432")
        .registry(prometheus::Registry::new())
        .push()
        .unwrap();
    let samples = gateway.samples("insa_cache_misses_total").await.unwrap();
    assert!(
        !samples.iter().any(|line| line.contains("nightly")),
        "{samples:#?}"
    );
}

#[tokio::test]
async fn a_push_over_https_reaches_a_tls_gateway() {
    let gateway = Pushgateway::start_tls().await.unwrap();
    assert!(gateway.url().starts_with("https://"));
    let ca = gateway.tls_ca().unwrap().to_owned();
    let (registry, collector) = support::own_collector();
    collector.record_cache_hit("tls_push");
    let pusher = Pusher::new(gateway.url(), "insa_tls_batch").registry(registry);

    // Without a CA to trust, an https:// push is a configuration error.
    let error = pusher.clone().push_async().await.unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    // A CA that did not sign the gateway's certificate: no push.
    let wrong_ca = support::fixtures().join("tls/ca2.pem");
    let error = pusher
        .clone()
        .tls_ca(wrong_ca)
        .push_async()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Push { .. }), "{error:?}");
    assert!(error.to_string().contains("TLS"), "{error}");

    pusher.tls_ca(ca).push_async().await.unwrap();
    let samples = gateway.samples("insa_cache_hits_total").await.unwrap();
    assert!(
        has_sample(
            &samples,
            &[r#"cache_type="tls_push""#, r#"job="insa_tls_batch""#],
            "1"
        ),
        "{samples:#?}"
    );
}

#[test]
fn pushing_to_a_closed_port_is_an_error_within_the_timeout() {
    // A port bound but not listening: connections are refused, and no other
    // test can take it meanwhile (as it could a "free" port).
    let closed = closed_port();
    let url = format!("http://{}", closed.local_addr().unwrap());
    let timeout = Duration::from_secs(10);
    let started = Instant::now();
    let error = Pusher::new(&url, "insa_batch")
        .timeout(timeout)
        .push()
        .unwrap_err();
    assert!(started.elapsed() < timeout);
    assert!(matches!(error, Error::Push { .. }), "{error:?}");
    assert!(error.to_string().contains(&url), "{error}");
    // Refused at once, not timed out; the cause is the io::Error.
    assert!(error.to_string().contains("cannot connect"), "{error}");
    let cause = std::error::Error::source(&error)
        .and_then(|cause| cause.downcast_ref::<std::io::Error>())
        .unwrap_or_else(|| panic!("no io::Error cause: {error:?}"));
    assert_eq!(cause.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// A bound, non-listening loopback socket.
fn closed_port() -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    socket
}

#[test]
fn a_gateway_that_never_answers_times_out() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let started = Instant::now();
    let error = Pusher::new(&url, "insa_batch")
        .timeout(Duration::from_millis(500))
        .push()
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(error.to_string().contains("no answer within"), "{error}");
    drop(silent);
}

#[test]
fn invalid_push_targets_are_config_errors() {
    for (url, job) in [
        // https:// without a CA to trust (Pusher::tls_ca).
        ("https://127.0.0.1:1", "job"),
        ("127.0.0.1:1", "job"),
        ("http://127.0.0.1:1", ""),
    ] {
        let error = push_metrics(url, job, &[]).unwrap_err();
        assert!(
            matches!(error, Error::Config { .. }),
            "{url} {job:?}: {error:?}"
        );
    }
    let error = push_metrics("http://127.0.0.1:1", "job", &[("bad-label", "x")]).unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    // The same grouping label twice: the group's key would be the last one's.
    let error = push_metrics("http://127.0.0.1:1", "job", &[("i", "1"), ("i", "2")]).unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    // No push can succeed in no time.
    let error = Pusher::new("http://127.0.0.1:1", "job")
        .timeout(Duration::ZERO)
        .push()
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
}

#[test]
fn a_port_that_is_not_1_to_65535_is_a_config_error_not_a_push_to_port_80() {
    for url in [
        "http://127.0.0.1:99999",
        "http://127.0.0.1:65536",
        "http://127.0.0.1:0x50",
        "http://127.0.0.1:",
        "http://127.0.0.1:/gateway",
        "http://127.0.0.1:0",
        "http://[::1]:99999",
        "http://127.0.0.1:+80",
        "http://[::1]:",
        "http://[::1]:0x50",
        "http://[::1]:+80/gateway",
    ] {
        let error = Pusher::new(url, "insa_batch")
            .basic_auth("pusher", "s3cret")
            .push()
            .unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{url}: {error:?}");
        assert!(error.to_string().contains("port"), "{url}: {error}");
    }
}

/// A gateway that answers `status` with a 512 MiB body, written as fast as
/// the client takes it; returns how many body bytes it managed to write
/// before the client closed the connection.
fn gateway_with_a_huge_answer(status: &'static str) -> (String, std::thread::JoinHandle<usize>) {
    use std::io::{Read as _, Write as _};
    const HUGE: usize = 512 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let gateway = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        // The request's head; its small body is left unread.
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return 0,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let head = format!("HTTP/1.1 {status}\r\ncontent-length: {HUGE}\r\n\r\n");
        if stream.write_all(head.as_bytes()).is_err() {
            return 0;
        }
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < HUGE {
            match stream.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    (url, gateway)
}

#[test]
fn at_most_a_few_kib_of_a_gateways_answer_is_read() {
    // Far less than the answer; the kernel buffers a few MiB on each side.
    const READ_AT_MOST: usize = 64 << 20;
    for status in ["500 Internal Server Error", "200 OK"] {
        let (url, gateway) = gateway_with_a_huge_answer(status);
        let started = Instant::now();
        let pushed = Pusher::new(&url, "insa_batch")
            .registry(prometheus::Registry::new())
            .timeout(Duration::from_secs(60))
            .push();
        let took = started.elapsed();
        let sent = gateway.join().unwrap();
        eprintln!("{status}: the gateway wrote {} KiB in {took:?}", sent >> 10);
        assert!(
            sent < READ_AT_MOST,
            "{status}: {} MiB of the answer were read",
            sent >> 20
        );
        match status {
            "200 OK" => pushed.unwrap(),
            _ => {
                let error = pushed.unwrap_err();
                assert!(error.to_string().contains("HTTP 500"), "{error}");
                assert!(error.to_string().len() < 1024, "{error}");
            }
        }
    }
}

#[test]
fn a_registry_that_cannot_be_encoded_is_an_error_and_nothing_is_sent() {
    let registry = prometheus::Registry::new();
    let desc = prometheus::core::Desc::new(
        "insa_test_untyped".into(),
        "Untyped.".into(),
        Vec::new(),
        Default::default(),
    )
    .unwrap();
    registry.register(Box::new(support::Untyped(desc))).unwrap();
    let gateway = TcpListener::bind("127.0.0.1:0").unwrap();
    gateway.set_nonblocking(true).unwrap();
    let url = format!("http://{}", gateway.local_addr().unwrap());
    let error = Pusher::new(&url, "insa_batch")
        .registry(registry)
        .push()
        .unwrap_err();
    assert!(matches!(error, Error::Encoding(_)), "{error:?}");
    // An empty PUT would have wiped the group: no connection was made.
    assert_eq!(
        gateway.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}
