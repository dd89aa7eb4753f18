//! Bad clients: slow headers, huge headers, too many connections.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use insa_metrics::{MetricsCollector, MetricsServer, MetricsServerBuilder, ServerHandle};
use support::{get, rss_kib};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn start(builder: MetricsServerBuilder) -> ServerHandle {
    let registry = prometheus::Registry::new();
    let collector = MetricsCollector::builder()
        .registry(registry.clone())
        .process_metrics(false)
        .build()
        .unwrap();
    collector.record_cache_hit("orchestrator");
    builder
        .port(0)
        .registry(registry)
        .build()
        .unwrap()
        .start()
        .unwrap()
}

/// Reads until the server closes the connection; the bytes it sent.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_clients_are_cut_off_while_others_are_served() {
    const CLIENTS: usize = 200;
    let header_timeout = Duration::from_secs(2);
    let server = start(
        MetricsServer::builder()
            .header_read_timeout(header_timeout)
            .max_connections(CLIENTS + 16),
    );
    let addr = server.local_addr();

    let mut slow = Vec::new();
    for _ in 0..CLIENTS {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        slow.push(tokio::spawn(async move {
            let connected = Instant::now();
            let request = b"GET /metrics HTTP/1.1\r\nhost: x\r\nx-slow: ";
            let mut sent = 0usize;
            let mut buf = [0u8; 1024];
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return connected.elapsed(),
                        Ok(_) => {} // an error response; the close follows
                    },
                    _ = tick.tick() => {
                        let byte = request.get(sent).copied().unwrap_or(b'a');
                        if stream.write_all(&[byte]).await.is_err() {
                            return connected.elapsed();
                        }
                        sent += 1;
                    }
                }
            }
        }));
    }

    let normal = tokio::spawn(async move {
        let mut served = 0;
        let until = Instant::now() + header_timeout + Duration::from_secs(1);
        while Instant::now() < until {
            let response = get(addr, "/metrics").await.expect("a normal scrape");
            assert_eq!(response.status, 200);
            served += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        served
    });

    let bound = header_timeout + Duration::from_secs(1);
    for client in slow {
        let lasted = tokio::time::timeout(bound + Duration::from_secs(2), client)
            .await
            .expect("a slow client was never cut off")
            .unwrap();
        assert!(lasted <= bound, "a slow client lasted {lasted:?}");
    }
    assert!(normal.await.unwrap() >= 10);
    server.stop();
}

async fn send_huge_header(addr: SocketAddr, size: usize) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = b"GET /metrics HTTP/1.1\r\nhost: x\r\nx-big: ".to_vec();
    request.resize(request.len() + size, b'a');
    request.extend_from_slice(b"\r\n\r\n");
    // The server may close before it has read everything: a failed write is
    // an answer too.
    let _ = stream.write_all(&request).await;
    tokio::time::timeout(Duration::from_secs(5), read_to_close(&mut stream))
        .await
        .expect("the server neither answered nor closed")
}

fn assert_rejected(answer: &[u8]) {
    let text = String::from_utf8_lossy(answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 431"),
        "a huge header got: {text}"
    );
}

#[tokio::test]
async fn huge_headers_get_431_or_a_close_without_memory_growth() {
    let server = start(MetricsServer::builder());
    let addr = server.local_addr();
    assert_rejected(&send_huge_header(addr, 16 * 1024).await);
    assert_rejected(&send_huge_header(addr, 1024 * 1024).await);

    let before = rss_kib().unwrap_or(0);
    for _ in 0..32 {
        assert_rejected(&send_huge_header(addr, 1024 * 1024).await);
    }
    let after = rss_kib().unwrap_or(0);
    // 32 MiB of headers went in; the server keeps none of it (the client's own
    // 1 MiB buffers are freed each time too).
    assert!(
        after.saturating_sub(before) < 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(get(addr, "/metrics").await.unwrap().status, 200);
    server.stop();
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_at_once_and_service_recovers() {
    const CAP: usize = 4;
    let server = start(MetricsServer::builder().max_connections(CAP));
    let addr = server.local_addr();

    let mut held = Vec::new();
    for _ in 0..CAP {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // Let the server accept them all.
    tokio::time::sleep(Duration::from_millis(200)).await;

    for _ in 0..10 {
        let started = Instant::now();
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(1), read_to_close(&mut extra))
            .await
            .expect("an extra connection was kept waiting");
        let text = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || text.starts_with("HTTP/1.1 503"),
            "beyond the cap: {text}"
        );
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    drop(held);
    let recovered = Instant::now();
    loop {
        match get(addr, "/metrics").await {
            Ok(response) if response.status == 200 => break,
            other => {
                assert!(
                    recovered.elapsed() < Duration::from_secs(2),
                    "no recovery: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    server.stop();
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let server = start(MetricsServer::builder());
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"HEAD /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    }
    server.stop();
}

#[tokio::test]
async fn a_connection_lives_no_longer_than_its_deadline() {
    let deadline = Duration::from_secs(1);
    let server = start(MetricsServer::builder().connection_deadline(deadline));
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let opened = Instant::now();
    let mut answers = 0;
    // A keep-alive client that never stops asking.
    let closed = loop {
        if stream
            .write_all(b"HEAD /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .is_err()
        {
            break opened.elapsed();
        }
        let mut buf = [0u8; 1024];
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break opened.elapsed(),
            Ok(_) => answers += 1,
        }
        assert!(
            opened.elapsed() < deadline * 3,
            "the connection outlived its deadline"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(answers >= 3, "{answers} answers");
    assert!(
        closed >= deadline && closed < deadline * 2,
        "closed after {closed:?}"
    );
    server.stop();
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut_off_at_the_header_timeout() {
    let tls = support::fixtures().join("tls");
    let timeout = Duration::from_secs(1);
    let server = start(
        MetricsServer::builder()
            .header_read_timeout(timeout)
            .tls(tls.join("server.pem"), tls.join("server.key")),
    );
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let opened = Instant::now();
    // Half a TLS record header, then nothing.
    stream.write_all(&[0x16, 0x03]).await.unwrap();
    let answer = tokio::time::timeout(timeout * 3, read_to_close(&mut stream))
        .await
        .expect("a stalled handshake was never cut off");
    assert!(answer.is_empty());
    let lasted = opened.elapsed();
    assert!(lasted >= timeout && lasted < timeout * 2, "{lasted:?}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_passwords_does_not_hold_up_a_known_client() {
    use base64::Engine as _;
    let basic = |password: &str| {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("prometheus:{password}"));
        format!("Basic {token}")
    };
    let hash = bcrypt::hash("s3cret", 8).unwrap();
    let server = start(MetricsServer::builder().basic_auth_user("prometheus", hash));
    let addr = server.local_addr();
    let good = basic("s3cret");
    let scrape = async || {
        support::request(
            addr,
            hyper::Method::GET,
            "/metrics",
            &[("authorization", &good)],
        )
        .await
        .unwrap()
        .status
    };
    assert_eq!(scrape().await, 200);

    let flood_started = Instant::now();
    let flood: Vec<_> = (0..16)
        .map(|i| {
            let wrong = basic(&format!("guess-{i}"));
            tokio::spawn(async move {
                let response = support::request(
                    addr,
                    hyper::Method::GET,
                    "/metrics",
                    &[("authorization", &wrong)],
                )
                .await
                .unwrap();
                assert_eq!(response.status, 401);
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = Instant::now();
    assert_eq!(scrape().await, 200);
    let known = started.elapsed();
    for request in flood {
        request.await.unwrap();
    }
    let flood_took = flood_started.elapsed();
    assert!(
        known * 4 < flood_took,
        "a remembered client waited {known:?} behind a flood of {flood_took:?}"
    );
    server.stop();
}
