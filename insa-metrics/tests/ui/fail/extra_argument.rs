//! One argument more than the attribute takes.
use insa_metrics::track_message_processing;

#[track_message_processing("orchestrator", "sizing_agent")]
fn handle() {}

fn main() {
    handle();
}
