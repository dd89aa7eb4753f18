//! A key that is not close to any known one.
use insa_metrics::track_request_metrics;

#[track_request_metrics(agent = "sizing_agent")]
fn process() {}

fn main() {
    process();
}
