//! A collector stuck in `collect` holds each push's encoding past the push's
//! timeout; past 4 such encodings a push fails at once instead of leaving
//! another thread behind. Its own test binary: the cap is per process.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use insa_metrics::{Error, Pusher};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;

/// A collector whose `collect` waits until the test opens its gate.
#[derive(Clone)]
struct Gated {
    counter: prometheus::IntCounter,
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl Collector for Gated {
    fn desc(&self) -> Vec<&Desc> {
        self.counter.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let (open, opened) = &*self.gate;
        let open = open.lock().unwrap();
        // Bounded, so that a failing test leaves no thread behind for long.
        let _open = opened
            .wait_timeout_while(open, Duration::from_secs(60), |open| !*open)
            .unwrap();
        self.counter.collect()
    }
}

fn push(registry: &prometheus::Registry) -> Error {
    // Port 1 refuses: a push that gets past its encoding fails to connect.
    Pusher::new("http://127.0.0.1:1", "insa_stuck")
        .registry(registry.clone())
        .timeout(Duration::from_millis(200))
        .push()
        .unwrap_err()
}

#[test]
fn stuck_encodings_are_capped() {
    let gated = Gated {
        counter: prometheus::IntCounter::new("insa_test_gated_total", "Gated.").unwrap(),
        gate: Arc::default(),
    };
    let registry = prometheus::Registry::new();
    registry.register(Box::new(gated.clone())).unwrap();

    for _ in 0..4 {
        let error = push(&registry);
        assert!(
            error.to_string().contains("no answer within 200ms"),
            "{error}"
        );
    }
    let started = Instant::now();
    let error = push(&registry);
    assert!(
        error
            .to_string()
            .contains("4 encodings of earlier pushes are still running"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "failed at once"
    );

    let (open, opened) = &*gated.gate;
    *open.lock().unwrap() = true;
    opened.notify_all();
    // The stuck encodings end, and give their slots back.
    let started = Instant::now();
    loop {
        let error = push(&registry);
        if error.to_string().contains("cannot connect") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{error}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
