//! A fn returning a future built elsewhere: the macro cannot time it.
use std::future::Future;

use insa_metrics::track_request_metrics;

async fn work() -> u32 {
    1
}

#[track_request_metrics("sizing_agent")]
fn process() -> impl Future<Output = u32> {
    work()
}

fn main() {
    let _ = process();
}
