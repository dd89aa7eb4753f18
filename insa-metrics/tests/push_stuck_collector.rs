//! A collector stuck in `collect` holds each push's encoding past the push's
//! timeout; past 4 such encodings a push fails at once instead of leaving
//! another thread behind. Its own test binary: the cap is per process.

mod support;

use std::time::{Duration, Instant};

use insa_metrics::{Error, Pusher};
use support::Gated;

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
    let (gated, registry) = Gated::registered();

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

    gated.open();
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
