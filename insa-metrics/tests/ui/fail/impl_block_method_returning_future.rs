//! In an instrumented impl block, a method the attribute cannot instrument:
//! the error says how to leave it out.
use std::future::Future;

use insa_metrics::track_request_metrics;

struct Worker;

async fn work() -> u32 {
    1
}

#[track_request_metrics("sizing_agent")]
impl Worker {
    fn size(&self) -> u32 {
        2
    }

    fn process(&self) -> impl Future<Output = u32> {
        work()
    }
}

fn main() {
    let _ = Worker.size();
    let _ = Worker.process();
}
