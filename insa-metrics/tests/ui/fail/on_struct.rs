//! The attribute on a struct.
use insa_metrics::track_request_metrics;

#[track_request_metrics("sizing_agent")]
struct Task;

fn main() {
    let _ = Task;
}
