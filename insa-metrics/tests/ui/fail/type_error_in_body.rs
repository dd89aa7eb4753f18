//! A type error in a body is reported on the user's code.
use insa_metrics::track_request_metrics;

#[track_request_metrics("sizing_agent")]
fn size() -> Result<u32, std::io::Error> {
    Ok("ten")
}

fn main() {
    let _ = size();
}
