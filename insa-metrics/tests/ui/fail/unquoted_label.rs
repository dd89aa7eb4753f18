//! A label written without its quotes.
use insa_metrics::track_request_metrics;

#[track_request_metrics(sizing_agent)]
fn process() {}

fn main() {
    process();
}
