//! A label that is not a snake_case identifier.
use insa_metrics::track_request_metrics;

#[track_request_metrics("Sizing Agent")]
fn process() {}

fn main() {
    process();
}
