//! The attribute on a const.
use insa_metrics::track_request_metrics;

#[track_request_metrics("sizing_agent")]
const LIMIT: u32 = 10;

fn main() {
    let _ = LIMIT;
}
