//! An empty label literal.
use insa_metrics::track_request_metrics;

#[track_request_metrics("")]
fn process() {}

fn main() {
    process();
}
