//! `(skip)` on a fn that no instrumented impl block holds.
use insa_metrics::track_request_metrics;

#[track_request_metrics(skip)]
fn process() {}

fn main() {
    process();
}
