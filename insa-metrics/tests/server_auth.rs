//! Basic auth under a flood of wrong passwords: a remembered client is never
//! queued, a new client of another peer is verified (per-peer bcrypt
//! budgets), and the bcrypt queue turns away what it cannot hold at once.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use insa_metrics::MetricsServer;
use support::attack::Attack;
use support::{OTHER_HOST, start_server};

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// Wrong passwords for a configured user, back to back, from the hostile
/// peer.
async fn wrong_passwords(addr: SocketAddr, connected: Arc<AtomicUsize>) {
    let mut first = true;
    for guess in 0u64.. {
        let wrong = basic("scraper0", &format!("guess-{guess}"));
        let _ = support::request_from(
            OTHER_HOST,
            addr,
            hyper::Method::GET,
            "/metrics",
            &[("authorization", &wrong)],
        )
        .await;
        if std::mem::take(&mut first) {
            connected.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_passwords_from_one_peer_does_not_starve_new_clients_of_another() {
    const NEW_CLIENTS: usize = 10;
    let users: Vec<(String, String)> = (0..NEW_CLIENTS)
        .map(|i| (format!("scraper{i}"), format!("s3cret-{i}")))
        .collect();
    let mut builder = MetricsServer::builder();
    for (user, password) in &users {
        builder = builder.basic_auth_user(user, bcrypt::hash(password, 6).unwrap());
    }
    let server = start_server(builder);
    let addr = server.local_addr();
    let flood = Attack::launch(16, |connected| wrong_passwords(addr, connected));
    flood.wait_connected().await;

    // Each user is new to the server (not remembered): each needs a bcrypt
    // verification while the flood runs.
    let mut statuses = Vec::new();
    for (user, password) in &users {
        let response = support::request(
            addr,
            hyper::Method::GET,
            "/metrics",
            &[("authorization", &basic(user, password))],
        )
        .await
        .expect("a scrape");
        statuses.push(response.status.as_u16());
    }
    drop(flood);
    eprintln!("new clients during a flood of wrong passwords: {statuses:?}");
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    server.stop();
}

async fn scrape_as(addr: SocketAddr, authorization: &str) -> support::Response {
    support::request(
        addr,
        hyper::Method::GET,
        "/metrics",
        &[("authorization", authorization)],
    )
    .await
    .expect("a scrape")
}

/// Sends `count` wrong-password scrapes at once; each must get 401, or 503
/// with `Retry-After` when the bcrypt queue is full.
fn flood(addr: SocketAddr, count: usize) -> Vec<tokio::task::JoinHandle<u16>> {
    (0..count)
        .map(|i| {
            let wrong = basic("prometheus", &format!("guess-{i}"));
            tokio::spawn(async move {
                let response = scrape_as(addr, &wrong).await;
                match response.status.as_u16() {
                    401 => assert!(response.header("www-authenticate").is_some()),
                    503 => assert_eq!(response.header("retry-after"), Some("1")),
                    other => panic!("a wrong password got {other}"),
                }
                response.status.as_u16()
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_passwords_does_not_hold_up_a_known_client() {
    let hash = bcrypt::hash("s3cret", 8).unwrap();
    let server = start_server(MetricsServer::builder().basic_auth_user("prometheus", hash));
    let addr = server.local_addr();
    let good = basic("prometheus", "s3cret");
    assert_eq!(scrape_as(addr, &good).await.status, 200);

    let flood_started = Instant::now();
    let flood = flood(addr, 16);
    let started = Instant::now();
    assert_eq!(scrape_as(addr, &good).await.status, 200);
    let known = started.elapsed();
    for request in flood {
        request.await.unwrap();
    }
    // The flood takes at least as many bcrypt verifications as the queue
    // holds (the first to arrive always enter it); a remembered client waits
    // for none.
    let flood_took = flood_started.elapsed();
    eprintln!("remembered client: {known:?}; flood: {flood_took:?}");
    assert!(
        known * 2 < flood_took,
        "a remembered client waited {known:?} behind a flood of {flood_took:?}"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_passwords_cannot_queue_ahead_of_a_new_client() {
    let hash = bcrypt::hash("s3cret", 8).unwrap();
    // The flood and the client come from one peer here, with room for all
    // their connections: what is tested is the bcrypt queue (the per-peer
    // budgets are tested in server_fairness.rs).
    let server = start_server(
        MetricsServer::builder()
            .basic_auth_user("prometheus", hash)
            .max_connections_per_peer(64),
    );
    let addr = server.local_addr();
    let good = basic("prometheus", "s3cret");

    // Not remembered yet (Prometheus after a restart): its request needs
    // bcrypt, so during the flood it is verified (200) or turned away at once
    // (503, retried at the next scrape); never a 401, never a long wait
    // behind 32 verifications (the read timeout of a real scraper).
    let flood = flood(addr, 32);
    let status = scrape_as(addr, &good).await.status;
    assert!(status == 200 || status == 503, "a new client got {status}");
    let mut busy = 0;
    for request in flood {
        if request.await.unwrap() == 503 {
            busy += 1;
        }
    }
    eprintln!("{busy} of 32 wrong passwords were turned away unchecked");
    assert_eq!(scrape_as(addr, &good).await.status, 200);
    server.stop();
}
