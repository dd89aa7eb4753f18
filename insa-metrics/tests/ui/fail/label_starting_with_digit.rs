//! A label that starts with a digit.
use insa_metrics::track_request_metrics;

#[track_request_metrics("2fa_agent")]
fn verify() {}

fn main() {
    verify();
}
