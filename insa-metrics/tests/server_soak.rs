//! A soak that fits CI: about a minute of mixed load on one process
//! (recording threads, instrumented fns that fail and panic, bad and
//! high-cardinality label values, scrapes, and abusive clients from another
//! peer), then every count is exact, the in-flight gauges are back to 0, the
//! resident memory has stopped growing and the server still answers.
//!
//! `INSA_SOAK_SECONDS` sets the length of the load (default 45).

mod support;

use std::io;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use insa_metrics::{metrics, start_metrics_server, stop_metrics_server, track_request_metrics};
use support::{OTHER_HOST, connect_from, get, rss_kib};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the recording threads did, counted on their side.
#[derive(Debug, Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Misses recorded with an empty value, and with one over the length limit.
    empty: AtomicU64,
    too_long: AtomicU64,
}

const PANIC_MESSAGE: &str = "soak: an instrumented fn panics (expected)";

#[track_request_metrics("soak_worker")]
fn work(i: u64) -> Result<u64, io::Error> {
    match i % 10 {
        7 => Err(io::Error::other("bad input")),
        9 => panic!("{PANIC_MESSAGE}"),
        _ => Ok(i),
    }
}

/// A label value that is bad in one of several ways, or a new one of a
/// hundred thousand (far beyond the cardinality limit).
fn bad_label(i: u64) -> String {
    match i % 4 {
        0 => String::new(),
        1 => "x".repeat(300),
        2 => "Not A Snake Case Value ✓".to_owned(),
        _ => format!("user-{}", i % 100_000),
    }
}

/// Records until `stop`, counting what it did.
fn record(thread: u64, stop: &AtomicBool, tally: &Tally) {
    let mut i = thread;
    while !stop.load(Ordering::Relaxed) {
        match catch_unwind(AssertUnwindSafe(|| work(i))) {
            Ok(Ok(_)) => tally.ok.fetch_add(1, Ordering::Relaxed),
            Ok(Err(_)) => tally.failed.fetch_add(1, Ordering::Relaxed),
            Err(_) => tally.panicked.fetch_add(1, Ordering::Relaxed),
        };
        metrics().record_cache_hit("soak_cache");
        tally.hits.fetch_add(1, Ordering::Relaxed);
        metrics().record_cache_miss(bad_label(i).as_str());
        tally.misses.fetch_add(1, Ordering::Relaxed);
        match i % 4 {
            0 => tally.empty.fetch_add(1, Ordering::Relaxed),
            1 => tally.too_long.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        i += 4;
        if i.is_multiple_of(64) {
            std::thread::yield_now();
        }
    }
}

/// Abusive clients from the other peer, until aborted: reconnecting
/// slowloris, garbage and huge heads. Counts their connections.
fn abuse(addr: SocketAddr, connections: &Arc<AtomicU64>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let connections = Arc::clone(connections);
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok(mut stream) = connect_from(OTHER_HOST, addr).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                connections.fetch_add(1, Ordering::Relaxed);
                let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nx: ").await;
                let mut buf = [0u8; 512];
                while stream.write_all(b"a").await.is_ok() {
                    tokio::select! {
                        read = stream.read(&mut buf) => if matches!(read, Ok(0) | Err(_)) { break },
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }));
    }
    let garbage: [&'static [u8]; 4] = [
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\xff\xfe\x00garbage\r\n\r\n",
        b"GET /../../etc/passwd HTTP/1.1\r\nhost: x\r\n\r\n",
        b"POST /metrics HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n",
    ];
    for sender in 0..4 {
        let connections = Arc::clone(connections);
        tasks.push(tokio::spawn(async move {
            let huge = vec![b'a'; 64 * 1024];
            for round in 0usize.. {
                let Ok(mut stream) = connect_from(OTHER_HOST, addr).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                connections.fetch_add(1, Ordering::Relaxed);
                let _ = match (sender + round) % 5 {
                    4 => stream.write_all(&huge).await,
                    n => stream.write_all(garbage[n]).await,
                };
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    support::read_to_close(&mut stream),
                )
                .await;
            }
        }));
    }
    tasks
}

/// Scrapes every 50 ms until `stop`; returns (answered 200, scrapes).
async fn scrape(addr: SocketAddr, stop: Arc<AtomicBool>) -> (usize, usize) {
    let (mut ok, mut total) = (0usize, 0usize);
    while !stop.load(Ordering::Relaxed) {
        let headers: &[(&str, &str)] = if total.is_multiple_of(2) {
            &[("accept-encoding", "gzip")]
        } else {
            &[]
        };
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            support::request(addr, hyper::Method::GET, "/metrics", headers),
        )
        .await;
        total += 1;
        if matches!(answer, Ok(Ok(response)) if response.status == 200) {
            ok += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (ok, total)
}

/// The sum of the values of every sample of `family` (no suffix) in `text`.
fn family_sum(text: &str, family: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// The value of one sample line (`name{labels}`), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn load_duration() -> Duration {
    let seconds = std::env::var("INSA_SOAK_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(45);
    Duration::from_secs(seconds)
}

#[test]
fn a_minute_of_mixed_load_leaves_exact_counts_and_a_server_that_answers() {
    // The expected panics of `work` would flood the output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let expected = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|message| message == PANIC_MESSAGE);
        if !expected {
            default_hook(info);
        }
    }));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = start_metrics_server(0).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let recorders: Vec<_> = (0..4)
        .map(|thread| {
            let (stop, tally) = (Arc::clone(&stop), Arc::clone(&tally));
            std::thread::spawn(move || record(thread, &stop, &tally))
        })
        .collect();
    let abusive = Arc::new(AtomicU64::new(0));
    let (abusers, scraper) = runtime.block_on(async {
        (
            abuse(addr, &abusive),
            tokio::spawn(scrape(addr, Arc::clone(&stop))),
        )
    });

    // Resident memory, once a second.
    let load = load_duration();
    let started = Instant::now();
    let mut rss = Vec::new();
    while started.elapsed() < load {
        std::thread::sleep(Duration::from_secs(1));
        rss.push(rss_kib().expect("VmRSS"));
    }
    stop.store(true, Ordering::SeqCst);
    for recorder in recorders {
        recorder.join().unwrap();
    }
    let (ok, scrapes) = runtime.block_on(scraper).unwrap();
    for abuser in abusers {
        abuser.abort();
    }
    let _ = std::panic::take_hook();

    check_counts(addr, &runtime, &tally);
    let abusive = abusive.load(Ordering::SeqCst);
    eprintln!(
        "scrapes during the soak: {ok}/{scrapes} answered 200, \
         beside {abusive} abusive connections"
    );
    assert!(abusive >= 100, "only {abusive} abusive connections");
    assert!(scrapes >= 100, "only {scrapes} scrapes");
    assert!(
        ok * 100 >= scrapes * 95,
        "{ok}/{scrapes} scrapes answered 200"
    );
    check_rss_plateau(&rss);
    stop_metrics_server();
}

/// Every count the server reports is what the threads did.
fn check_counts(addr: SocketAddr, runtime: &tokio::runtime::Runtime, tally: &Tally) {
    let response = runtime
        .block_on(get(addr, "/metrics"))
        .expect("the server answers after the soak");
    assert_eq!(response.status, 200);
    let text = response.text();
    let load = |counter: &AtomicU64| counter.load(Ordering::SeqCst) as f64;
    let (ok, failed, panicked) = (load(&tally.ok), load(&tally.failed), load(&tally.panicked));
    eprintln!(
        "soak: {ok} ok, {failed} errors, {panicked} panics, {} cache misses with bad labels",
        load(&tally.misses)
    );
    let series = |status: &str| {
        sample(
            &text,
            &format!(r#"insa_agent_requests_total{{agent_type="soak_worker",status="{status}"}}"#),
        )
    };
    assert_eq!(series("success"), Some(ok));
    assert_eq!(series("error"), Some(failed + panicked));
    assert_eq!(
        sample(
            &text,
            r#"insa_agent_request_duration_seconds_count{agent_type="soak_worker"}"#
        ),
        Some(ok + failed + panicked)
    );
    assert_eq!(
        sample(
            &text,
            r#"insa_worker_active_requests{worker_name="soak_worker"}"#
        ),
        Some(0.0),
        "the in-flight gauge is back to 0"
    );
    assert_eq!(
        sample(&text, r#"insa_cache_hits_total{cache_type="soak_cache"}"#),
        Some(load(&tally.hits))
    );
    // Bad and overflowing label values land in some series, each counted once.
    assert_eq!(
        family_sum(&text, "insa_cache_misses_total"),
        load(&tally.misses)
    );
    // ... and the self-metrics count exactly what was replaced or folded.
    let invalid = |reason: &str| {
        sample(
            &text,
            &format!(
                r#"insa_metrics_invalid_label_values_total{{family="insa_cache_misses_total",reason="{reason}"}}"#
            ),
        )
    };
    assert_eq!(invalid("empty"), Some(load(&tally.empty)));
    assert_eq!(invalid("too_long"), Some(load(&tally.too_long)));
    let folded = sample(
        &text,
        r#"insa_metrics_label_overflow_total{family="insa_cache_misses_total"}"#,
    );
    assert!(folded.is_some_and(|folded| folded > 0.0), "{folded:?}");
    assert_eq!(
        folded,
        sample(
            &text,
            r#"insa_cache_misses_total{cache_type="__overflow__"}"#
        ),
        "every record folded into the overflow series is counted there"
    );
}

/// The resident memory of the last quarter of the load is not above that of
/// the second quarter by more than a margin (8 MiB, for the allocator's
/// arenas): it has stopped growing.
fn check_rss_plateau(rss: &[u64]) {
    let quarter = rss.len() / 4;
    assert!(quarter >= 2, "too short a soak to judge memory: {rss:?}");
    let peak = |samples: &[u64]| samples.iter().copied().max().unwrap_or(0);
    let second = peak(&rss[quarter..2 * quarter]);
    let last = peak(&rss[rss.len() - quarter..]);
    eprintln!(
        "RSS (KiB): peak {second} in the second quarter, {last} in the last; samples {rss:?}"
    );
    assert!(
        last <= second + 8 * 1024,
        "RSS still grows: {second} KiB in the second quarter, {last} KiB in the last"
    );
}
