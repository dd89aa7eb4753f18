//! Bad clients: slow headers, huge headers, too many connections.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use insa_metrics::MetricsServer;
use support::{Gated, assert_rejected, get, read_to_close, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_clients_are_cut_off_while_others_are_served() {
    const CLIENTS: usize = 200;
    let header_timeout = Duration::from_secs(2);
    let server = start_server(
        MetricsServer::builder()
            .header_read_timeout(header_timeout)
            .max_connections(CLIENTS + 16)
            .max_connections_per_peer(CLIENTS + 16),
    );
    let addr = server.local_addr();

    // Each slow client trickles one header byte a second and reports when
    // the server closed its connection.
    let mut slow = Vec::new();
    for _ in 0..CLIENTS {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        slow.push(tokio::spawn(async move {
            let request = b"GET /metrics HTTP/1.1\r\nhost: x\r\nx-slow: ";
            let mut sent = 0usize;
            let mut buf = [0u8; 1024];
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return Instant::now(),
                        Ok(_) => {} // an error response; the close follows
                    },
                    _ = tick.tick() => {
                        let byte = request.get(sent).copied().unwrap_or(b'a');
                        if stream.write_all(&[byte]).await.is_err() {
                            return Instant::now();
                        }
                        sent += 1;
                    }
                }
            }
        }));
    }

    // The server accepts from one loop in arrival order and polls each
    // connection (which starts its header timer) before it serves a later
    // one: once this first normal scrape is answered, every slow client's
    // timer runs. The bound is measured from here, so the time 200 connects
    // take on a loaded machine cannot eat into it.
    let first = get(addr, "/metrics").await.expect("a normal scrape");
    assert_eq!(first.status, 200);
    let timers_started = Instant::now();

    // A normal client keeps scraping while the slow ones are connected; every
    // scrape must succeed.
    let all_closed = Arc::new(AtomicBool::new(false));
    let normal = tokio::spawn({
        let all_closed = Arc::clone(&all_closed);
        async move {
            let mut served = 1;
            while !all_closed.load(Ordering::SeqCst) {
                let response = get(addr, "/metrics").await.expect("a normal scrape");
                assert_eq!(response.status, 200, "a normal scrape among slow clients");
                served += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            served
        }
    });

    let bound = header_timeout + Duration::from_secs(1);
    let mut latest = Duration::ZERO;
    for client in slow {
        // Generous: a client never cut off fails here, a late one below.
        let closed = tokio::time::timeout(Duration::from_secs(60), client)
            .await
            .expect("a slow client was never cut off")
            .unwrap();
        latest = latest.max(closed.saturating_duration_since(timers_started));
    }
    all_closed.store(true, Ordering::SeqCst);
    assert!(
        latest <= bound,
        "a slow client lasted {latest:?} after the server had it"
    );
    let served = normal.await.unwrap();
    assert!(
        served >= 3,
        "only {served} normal scrapes while slow clients were connected"
    );
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
    tokio::time::timeout(Duration::from_secs(30), read_to_close(&mut stream))
        .await
        .expect("the server neither answered nor closed")
}

#[tokio::test]
async fn huge_headers_get_431_or_a_close() {
    // Memory: see tests/server_memory.rs, a test binary of its own.
    let server = start_server(MetricsServer::builder());
    let addr = server.local_addr();
    assert_rejected(&send_huge_header(addr, 16 * 1024).await);
    assert_rejected(&send_huge_header(addr, 1024 * 1024).await);
    assert_eq!(get(addr, "/metrics").await.unwrap().status, 200);
    server.stop();
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_at_once_and_service_recovers() {
    const CAP: usize = 4;
    // Idle held connections stay for the whole test.
    let server = start_server(
        MetricsServer::builder()
            .max_connections(CAP)
            .keep_alive_timeout(Duration::from_secs(120)),
    );
    let addr = server.local_addr();

    let mut held = Vec::new();
    for _ in 0..CAP {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // The server accepts in order: once the last held connection is
    // answered, it holds all of them.
    let last = held.last_mut().unwrap();
    last.write_all(b"HEAD /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = last.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));

    // "At once": far less than the 10 s header timeout a queued connection
    // would wait, with room for a loaded machine.
    let at_once = Duration::from_secs(3);
    for _ in 0..10 {
        let started = Instant::now();
        let mut extra = TcpStream::connect(addr).await.unwrap();
        extra
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = tokio::time::timeout(at_once, read_to_close(&mut extra))
            .await
            .expect("an extra connection was kept waiting");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 503"), "beyond the cap: {text}");
        assert!(started.elapsed() < at_once);
    }

    drop(held);
    let recovered = Instant::now();
    loop {
        match get(addr, "/metrics").await {
            Ok(response) if response.status == 200 => break,
            other => {
                assert!(
                    recovered.elapsed() < Duration::from_secs(30),
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
    let server = start_server(MetricsServer::builder());
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
    let server = start_server(MetricsServer::builder().connection_deadline(deadline));
    // Before the connect: the server's clock for it starts later.
    let opened = Instant::now();
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
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
            opened.elapsed() < deadline + Duration::from_secs(10),
            "the connection outlived its deadline"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(answers >= 2, "{answers} answers");
    assert!(
        closed >= deadline && closed < deadline + Duration::from_secs(2),
        "closed after {closed:?}"
    );
    server.stop();
}

/// A client that asks for a large body and never reads it cannot hold its
/// connection (and its slot) past the deadline plus the shutdown grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off_at_the_deadline() {
    // More text than the kernel buffers on both sides hold (the client's
    // receive buffer is made small; the server's send buffer grows at most
    // to tcp_wmem's maximum), so the server's write blocks.
    let registry = prometheus::Registry::new();
    let family = prometheus::IntCounterVec::new(
        prometheus::Opts::new("insa_test_big", "A large family."),
        &["value"],
    )
    .unwrap();
    registry.register(Box::new(family.clone())).unwrap();
    const VALUE_BYTES: usize = 2000;
    let send_buffer_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|text| text.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    let series = ((2 * send_buffer_max + (1 << 20)) / VALUE_BYTES).max(4000);
    for i in 0..series {
        let value = format!("{i:0>VALUE_BYTES$}");
        family.with_label_values(&[value.as_str()]).inc();
    }
    let deadline = Duration::from_secs(1);
    let grace = Duration::from_secs(1);
    let server = MetricsServer::builder()
        .port(0)
        .registry(registry)
        .max_connections(1)
        .connection_deadline(deadline)
        .shutdown_timeout(grace)
        .build()
        .unwrap()
        .start()
        .unwrap();
    let addr = server.local_addr();

    let opened = Instant::now();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut reader = socket.connect(addr).await.unwrap();
    reader
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();

    // It holds the only slot (accepted first), so others get 503 until the
    // server lets go of it.
    let released = loop {
        match support::request(addr, hyper::Method::HEAD, "/metrics", &[]).await {
            Ok(response) if response.status == 200 => break opened.elapsed(),
            Ok(response) => assert_eq!(response.status, 503),
            Err(_) => {} // refused before the request was read
        }
        assert!(
            opened.elapsed() < deadline + grace + Duration::from_secs(30),
            "a client that never reads kept its connection"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(released >= deadline, "released after {released:?}");
    assert!(
        released < deadline + grace + Duration::from_secs(3),
        "released after {released:?}"
    );
    // The server gave up mid-body: the client gets a truncated response.
    let received = tokio::time::timeout(Duration::from_secs(30), read_to_close(&mut reader))
        .await
        .expect("the connection was not closed");
    assert!(
        received.len() < series * VALUE_BYTES,
        "{} bytes: the whole body was buffered",
        received.len()
    );
    server.stop();
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut_off_at_the_header_timeout() {
    let tls = support::fixtures().join("tls");
    let timeout = Duration::from_secs(1);
    let server = start_server(
        MetricsServer::builder()
            .header_read_timeout(timeout)
            .tls(tls.join("server.pem"), tls.join("server.key")),
    );
    // Before the connect: the server's clock for it starts later.
    let opened = Instant::now();
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    // Half a TLS record header, then nothing.
    stream.write_all(&[0x16, 0x03]).await.unwrap();
    let answer = tokio::time::timeout(
        timeout + Duration::from_secs(30),
        read_to_close(&mut stream),
    )
    .await
    .expect("a stalled handshake was never cut off");
    assert!(answer.is_empty());
    let lasted = opened.elapsed();
    assert!(
        lasted >= timeout && lasted < timeout + Duration::from_secs(2),
        "{lasted:?}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_encoding_does_not_stall_the_server() {
    let (gated, registry) = Gated::registered();
    gated.counter.inc();
    let server = MetricsServer::builder()
        .port(0)
        .registry(registry)
        .build()
        .unwrap()
        .start()
        .unwrap();
    let addr = server.local_addr();

    // A scrape whose encoding is stuck in `collect`.
    let stuck = tokio::spawn(async move { get(addr, "/metrics").await.unwrap() });
    let started = Instant::now();
    while gated.entered.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "never scraped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The server thread still answers what needs no encoding: a 405 and a
    // 404. Were the encoding on the server's thread, neither would come
    // before the gate opens, and it opens only after them.
    let post = tokio::time::timeout(
        Duration::from_secs(30),
        support::request(addr, hyper::Method::POST, "/metrics", &[]),
    )
    .await
    .expect("the server stalled behind an encoding")
    .unwrap();
    assert_eq!(post.status, 405);
    let other = tokio::time::timeout(Duration::from_secs(30), get(addr, "/other"))
        .await
        .expect("the server stalled behind an encoding")
        .unwrap();
    assert_eq!(other.status, 404);

    gated.open();
    let response = stuck.await.unwrap();
    assert_eq!(response.status, 200);
    assert!(response.text().contains("insa_test_gated_total 1"));
    server.stop();
}

/// Collectors stuck in `collect` hold every encoder: the next scrape gets a
/// 503 with `Retry-After` once `scrape_wait` has passed, not a wait to the
/// connection deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_collectors_on_every_encoder_make_the_next_scrape_a_503() {
    let (gated, registry) = Gated::registered();
    let server = MetricsServer::builder()
        .port(0)
        .registry(registry)
        .scrape_wait(Duration::from_millis(300))
        .build()
        .unwrap()
        .start()
        .unwrap();
    let addr = server.local_addr();
    let encoders = std::thread::available_parallelism().map_or(1, usize::from);
    let stuck: Vec<_> = (0..encoders)
        .map(|_| tokio::spawn(async move { get(addr, "/metrics").await.unwrap() }))
        .collect();
    let started = Instant::now();
    while gated.entered.load(Ordering::SeqCst) < encoders {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never all stuck"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let asked = Instant::now();
    let refused = tokio::time::timeout(Duration::from_secs(30), get(addr, "/metrics"))
        .await
        .expect("answered within the scrape wait")
        .unwrap();
    assert_eq!(refused.status, 503);
    assert!(refused.header("retry-after").is_some());
    assert!(
        refused.text().contains("every encoder is busy"),
        "{}",
        refused.text()
    );
    assert!(asked.elapsed() >= Duration::from_millis(300));

    gated.open();
    for scrape in stuck {
        assert_eq!(scrape.await.unwrap().status, 200);
    }
    assert_eq!(get(addr, "/metrics").await.unwrap().status, 200);
    server.stop();
}
