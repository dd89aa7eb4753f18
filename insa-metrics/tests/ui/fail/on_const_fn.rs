//! The attribute on a const fn.
use insa_metrics::track_request_metrics;

#[track_request_metrics("sizing_agent")]
const fn limit() -> u32 {
    10
}

fn main() {
    let _ = limit();
}
