//! `#[track_caller]` cannot reach into the closure the body runs in.
use insa_metrics::track_request_metrics;

#[track_request_metrics("sizing_agent")]
#[track_caller]
fn process() -> u32 {
    1
}

fn main() {
    let _ = process();
}
