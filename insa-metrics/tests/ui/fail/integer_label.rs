//! A label that is not a string.
use insa_metrics::track_request_metrics;

#[track_request_metrics(42)]
fn process() {}

fn main() {
    process();
}
