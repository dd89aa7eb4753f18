//! Certificate reloads happen off the handshake path: a file that blocks
//! (a FIFO here, a hung network share in life) stalls no handshake.
#![cfg(target_os = "linux")]

mod support;

use std::fs;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hyper::Method;
use insa_metrics::MetricsServer;
use support::{fixtures, request_tls};

/// `O_NONBLOCK` on Linux: opening a FIFO for writing fails at once when no
/// reader waits, instead of blocking.
const O_NONBLOCK: i32 = 0o4000;

/// Opens the FIFO at `path` for writing, which lets a reader blocked in
/// `open` go on (and read an empty file once the writer is dropped).
fn release_readers(path: &Path) -> fs::File {
    let started = Instant::now();
    loop {
        match fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(path)
        {
            Ok(writer) => return writer,
            Err(error) => assert!(
                started.elapsed() < Duration::from_secs(30),
                "nobody reads the FIFO: {error}"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_go_on_while_a_certificate_file_blocks_its_reload() {
    let tls = fixtures().join("tls");
    let dir = support::TempDir::new("tls-fifo");
    let (cert, key, kept) = (
        dir.path().join("metrics.crt"),
        dir.path().join("metrics.key"),
        dir.path().join("metrics.crt.kept"),
    );
    fs::copy(tls.join("server.pem"), &cert).unwrap();
    fs::copy(tls.join("server.key"), &key).unwrap();
    let (registry, _collector) = support::own_collector();
    let server = MetricsServer::builder()
        .port(0)
        .registry(registry)
        .tls(&cert, &key)
        .build()
        .unwrap()
        .start()
        .unwrap();
    let addr = server.local_addr();
    let ca = tls.join("ca.pem");
    let handshake = async || {
        tokio::time::timeout(
            Duration::from_secs(5),
            request_tls(addr, &ca, "localhost", Method::GET, "/metrics", &[]),
        )
        .await
    };
    assert_eq!(handshake().await.unwrap().unwrap().status, 200);

    // The certificate becomes a FIFO: reading it blocks until a writer comes.
    fs::rename(&cert, &kept).unwrap();
    let made = Command::new("mkfifo").arg(&cert).status().unwrap();
    assert!(made.success());
    // Over the next 3 s (the reload check runs every second), every
    // handshake is served, with the certificate in service.
    let mut served = 0;
    let started = Instant::now();
    let mut failure = None;
    while started.elapsed() < Duration::from_secs(3) {
        match handshake().await {
            Ok(Ok(response)) if response.status == 200 => served += 1,
            other => {
                failure = Some(format!("{other:?}"));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Let the blocked reader go (it reads an empty file, which is not
    // used), and put the certificate back, unchanged.
    let writer = release_readers(&cert);
    fs::rename(&kept, &cert).unwrap();
    drop(writer);
    if let Some(failure) = failure {
        panic!("a handshake stalled during a reload after {served} served: {failure}");
    }
    assert_eq!(handshake().await.unwrap().unwrap().status, 200);
    server.stop();
}
