//! The same attribute twice on an impl block, written with its path.
struct Worker;

#[insa_metrics::track_request_metrics("sizing_agent")]
#[insa_metrics::track_request_metrics("crm_agent")]
impl Worker {
    fn process(&self) {}
}

fn main() {
    Worker.process();
}
