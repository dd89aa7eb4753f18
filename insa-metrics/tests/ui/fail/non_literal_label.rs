//! An expression where a literal or a typed label is required.
use insa_metrics::track_request_metrics;

#[track_request_metrics(String::from("sizing_agent").as_str())]
fn process() {}

fn main() {
    process();
}
