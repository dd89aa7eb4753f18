//! A type error in an async body is reported on the user's code.
use insa_metrics::track_request_metrics;

#[track_request_metrics("sizing_agent")]
async fn size() -> Result<u32, std::io::Error> {
    if false {
        return Ok(1);
    }
    Ok("ten")
}

fn main() {
    let _ = size();
}
