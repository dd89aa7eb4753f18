//! The same attribute twice would count every call twice.
use insa_metrics::track_request_metrics;

#[track_request_metrics("sizing_agent")]
#[track_request_metrics("sizing_agent")]
fn process() {}

fn main() {
    process();
}
