//! A trait fn without a body has nothing to instrument.
use insa_metrics::track_request_metrics;

trait Worker {
    #[track_request_metrics("sizing_agent")]
    fn process(&self) -> u32;
}

fn main() {}
