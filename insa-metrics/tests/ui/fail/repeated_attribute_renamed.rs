//! The same attribute under another name would count every call twice.
use insa_metrics::track_request_metrics;
use insa_metrics::track_request_metrics as track;

#[track_request_metrics("sizing_agent")]
#[track("sizing_agent")]
async fn process() {}

fn main() {
    drop(process());
}
