//! The attribute on a trait definition.
use insa_metrics::track_request_metrics;

#[track_request_metrics("sizing_agent")]
trait Worker {
    fn process(&self) -> u32;
}

fn main() {}
