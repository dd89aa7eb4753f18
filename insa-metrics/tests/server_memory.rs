//! Huge request headers do not grow the server's memory. A test binary of its
//! own: it reads the whole process's resident memory, which other tests
//! running in the same process would disturb.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use insa_metrics::MetricsServer;
use support::{assert_rejected, get, rss_kib};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const SENDERS: usize = 100;
const HEADER_BYTES: usize = 1024 * 1024;

/// Sends one request whose header is `HEADER_BYTES` long, from a small
/// shared buffer (so that the clients themselves hold no megabytes), and
/// returns what the server answered before it closed the connection.
async fn send_huge_header(addr: SocketAddr) -> Vec<u8> {
    static CHUNK: [u8; 16 * 1024] = [b'a'; 16 * 1024];
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut sent = stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nx-big: ")
        .await
        .is_ok();
    let mut written = 0;
    // The server may close before it has read everything: a failed write
    // is an answer too.
    while sent && written < HEADER_BYTES {
        sent = stream.write_all(&CHUNK).await.is_ok();
        written += CHUNK.len();
    }
    if sent {
        let _ = stream.write_all(b"\r\n\r\n").await;
    }
    tokio::time::timeout(Duration::from_secs(60), support::read_to_close(&mut stream))
        .await
        .expect("the server neither answered nor closed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_huge_headers_get_431_or_a_close_without_memory_growth() {
    let (registry, collector) = support::own_collector();
    collector.record_cache_hit("orchestrator");
    let server = MetricsServer::builder()
        .port(0)
        .registry(registry)
        .max_connections(SENDERS + 8)
        .max_connections_per_peer(SENDERS + 8)
        .build()
        .unwrap()
        .start()
        .unwrap();
    let addr = server.local_addr();

    // Warm up: the runtimes' threads, buffers and allocator arenas exist
    // before the baseline is taken.
    let warm_up: Vec<_> = (0..4)
        .map(|_| tokio::spawn(send_huge_header(addr)))
        .collect();
    for sender in warm_up {
        assert_rejected(&sender.await.unwrap());
    }
    assert_eq!(get(addr, "/metrics").await.unwrap().status, 200);
    let before = rss_kib().expect("VmRSS in /proc/self/status");

    // The peak while the senders run, sampled every 5 ms.
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        async move {
            while !done.load(Ordering::SeqCst) {
                if let Some(rss) = rss_kib() {
                    peak.fetch_max(rss, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| tokio::spawn(send_huge_header(addr)))
        .collect();
    for sender in senders {
        assert_rejected(&sender.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    sampler.await.unwrap();
    if let Some(rss) = rss_kib() {
        peak.fetch_max(rss, Ordering::SeqCst);
    }
    let peak = peak.load(Ordering::SeqCst);

    // 100 MiB of headers went in at once. A server that buffered them would
    // grow by about that much; one that stops at the 8 KiB limit holds a few
    // tens of KiB per connection.
    let grown = peak.saturating_sub(before);
    assert!(
        grown < 24 * 1024,
        "RSS grew by {grown} KiB (from {before} KiB to a peak of {peak} KiB) \
         while {SENDERS} clients sent {} MiB headers",
        HEADER_BYTES / (1024 * 1024)
    );
    eprintln!("RSS: {before} KiB, peak {peak} KiB (+{grown} KiB)");
    assert_eq!(get(addr, "/metrics").await.unwrap().status, 200);
    server.stop();
}
