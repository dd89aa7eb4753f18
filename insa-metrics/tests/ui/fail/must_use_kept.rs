//! `#[must_use]` still applies to an instrumented fn.
#![deny(unused_must_use)]

use insa_metrics::track_request_metrics;

#[must_use = "the sizing is the result"]
#[track_request_metrics("sizing_agent")]
fn size() -> u32 {
    10
}

fn main() {
    size();
}
