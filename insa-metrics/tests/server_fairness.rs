//! One hostile peer cannot lock the scrapers of other peers out: per-peer
//! connection limits, a 503 that is delivered, a bounded keep-alive and a
//! request cap. The hostile peer is `127.0.0.2` ([`support::OTHER_HOST`]),
//! the scraper `127.0.0.1`.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use insa_metrics::MetricsServer;
use support::attack::{Attack, hostile_connection};
use support::{OTHER_HOST, connect_from, get, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Slowloris: a request head that never ends, one byte a second; when the
/// server closes the connection, another one at once.
async fn slowloris(addr: SocketAddr, connected: Arc<AtomicUsize>) {
    let mut first = true;
    loop {
        let mut stream = hostile_connection(addr, &connected, &mut first).await;
        if stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nx-slow: ")
            .await
            .is_err()
        {
            continue;
        }
        let mut buf = [0u8; 1024];
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {} // an error response: the close follows
                },
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    if stream.write_all(b"a").await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

/// A keep-alive client that asks every `every` and otherwise holds its
/// connection; reconnects when it is closed or refused.
async fn keep_alive_hog(addr: SocketAddr, every: Duration, connected: Arc<AtomicUsize>) {
    let mut first = true;
    loop {
        let stream = hostile_connection(addr, &connected, &mut first).await;
        let Ok((mut sender, connection)) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
        else {
            continue;
        };
        let connection = tokio::spawn(connection);
        loop {
            let request = Request::get("/metrics")
                .header("host", "x")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let Ok(response) = sender.send_request(request).await else {
                break;
            };
            let refused = response.status() != 200;
            if response.into_body().collect().await.is_err() || refused {
                break;
            }
            if every.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(every).await;
            }
        }
        connection.abort();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a scraper saw: the latency of each scrape answered 200 (`None` for
/// a failure, another status or no answer within 5 s).
struct Scrapes(Vec<Option<Duration>>);

impl Scrapes {
    async fn run(addr: SocketAddr, count: usize) -> Scrapes {
        let mut seen = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            let answer = tokio::time::timeout(Duration::from_secs(5), get(addr, "/metrics")).await;
            seen.push(match answer {
                Ok(Ok(response)) if response.status == 200 => Some(started.elapsed()),
                _ => None,
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Scrapes(seen)
    }

    fn answered_within(&self, bound: Duration) -> usize {
        self.0
            .iter()
            .flatten()
            .filter(|took| **took <= bound)
            .count()
    }

    /// Prints the figures and asserts the README's goal: >= 95 % answered
    /// 200 within 1 s (the worst seen here is about a quarter of that).
    fn assert_goal(&self, scenario: &str) {
        let total = self.0.len();
        let within_1s = self.answered_within(Duration::from_secs(1));
        let mut latencies: Vec<Duration> = self.0.iter().flatten().copied().collect();
        latencies.sort();
        let p50 = latencies
            .get(latencies.len() / 2)
            .copied()
            .unwrap_or_default();
        let max = latencies.last().copied().unwrap_or_default();
        eprintln!(
            "{scenario}: {within_1s}/{total} scrapes answered 200 within 1 s; \
             median {p50:?}, max {max:?}"
        );
        assert!(
            within_1s * 100 >= total * 95,
            "{scenario}: only {within_1s}/{total} scrapes answered 200 within 1 s"
        );
    }
}

const ATTACKERS: usize = 200;
const SCRAPES: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_slowloris_from_one_peer_does_not_lock_out_another() {
    let server = start_server(MetricsServer::builder());
    let addr = server.local_addr();
    let attack = Attack::launch(ATTACKERS, |connected| slowloris(addr, connected));
    attack.wait_connected().await;
    Scrapes::run(addr, SCRAPES)
        .await
        .assert_goal("200 reconnecting slowloris from 127.0.0.2");
    drop(attack);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_hogs_from_one_peer_do_not_lock_out_another() {
    let server = start_server(MetricsServer::builder());
    let addr = server.local_addr();
    let every = Duration::from_secs(8);
    let attack = Attack::launch(ATTACKERS, |connected| {
        keep_alive_hog(addr, every, connected)
    });
    attack.wait_connected().await;
    Scrapes::run(addr, SCRAPES)
        .await
        .assert_goal("200 keep-alive connections (a GET every 8 s) from 127.0.0.2");
    drop(attack);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_flood_from_one_peer_does_not_lock_out_another() {
    let server = start_server(MetricsServer::builder());
    let addr = server.local_addr();
    let attack = Attack::launch(256, |connected| {
        keep_alive_hog(addr, Duration::ZERO, connected)
    });
    attack.wait_connected().await;
    Scrapes::run(addr, SCRAPES)
        .await
        .assert_goal("256 connections asking back to back from 127.0.0.2");
    drop(attack);
    server.stop();
}

/// Everything the server sends until it closes, and whether it closed
/// cleanly (FIN) rather than with a reset.
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, std::io::Result<()>) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return (received, Ok(())),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(error) => return (received, Err(error)),
        }
    }
}

/// Sends a whole request on `stream` and expects a delivered 503 and a
/// clean close.
async fn assert_refused_with_503(mut stream: TcpStream) {
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) =
        tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut stream))
            .await
            .expect("a refused connection was kept open");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 503 "),
        "refused with: {text:?} ({closed:?})"
    );
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    closed.expect("the 503 was followed by a reset, not a clean close");
}

/// Holds `count` connections from `source`, each proved accepted by a
/// HEAD answered 200 on it.
async fn hold(addr: SocketAddr, source: std::net::IpAddr, count: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..count {
        let mut stream = connect_from(source, addr).await.unwrap();
        stream
            .write_all(b"HEAD /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200 OK"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        held.push(stream);
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_per_peer_limit_a_503_is_delivered_and_others_are_served() {
    const PER_PEER: usize = 3;
    let server = start_server(MetricsServer::builder().max_connections_per_peer(PER_PEER));
    let addr = server.local_addr();
    let held = hold(addr, OTHER_HOST, PER_PEER).await;
    for _ in 0..20 {
        assert_refused_with_503(connect_from(OTHER_HOST, addr).await.unwrap()).await;
    }
    // Another peer is served meanwhile.
    assert_eq!(get(addr, "/metrics").await.unwrap().status, 200);
    drop(held);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_a_503_is_delivered() {
    const CAP: usize = 4;
    let server = start_server(MetricsServer::builder().max_connections(CAP));
    let addr = server.local_addr();
    let held = hold(addr, OTHER_HOST, 2).await;
    let held_too = hold(addr, support::LOCALHOST, 2).await;
    for _ in 0..20 {
        assert_refused_with_503(TcpStream::connect(addr).await.unwrap()).await;
    }
    drop((held, held_too));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_well_before_its_deadline() {
    let idle = Duration::from_secs(1);
    let server = start_server(
        MetricsServer::builder()
            .keep_alive_timeout(idle)
            .connection_deadline(Duration::from_secs(60)),
    );
    let mut held = hold(server.local_addr(), support::LOCALHOST, 1).await;
    let answered = Instant::now();
    let (rest, _) = tokio::time::timeout(Duration::from_secs(30), read_until_closed(&mut held[0]))
        .await
        .expect("an idle keep-alive connection was kept open");
    let lasted = answered.elapsed();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(
        lasted >= idle - Duration::from_millis(100) && lasted < idle + Duration::from_secs(5),
        "closed after {lasted:?}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_serves_at_most_the_request_cap() {
    const CAP: usize = 5;
    let server = start_server(MetricsServer::builder().max_requests_per_connection(CAP));
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut answered = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..2 * CAP {
        if stream
            .write_all(b"HEAD /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .is_err()
        {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                let text = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                assert!(text.starts_with("http/1.1 200"), "{text}");
                answered += 1;
                if answered == CAP {
                    assert!(
                        text.contains("connection: close"),
                        "the last answer: {text}"
                    );
                }
            }
            Ok(_) => break,
            Err(_) => panic!("no answer and no close"),
        }
    }
    assert_eq!(answered, CAP);
    server.stop();
}
