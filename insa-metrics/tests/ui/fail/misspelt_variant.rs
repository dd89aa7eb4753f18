//! A typed label whose variant does not exist.
use insa_metrics::{AgentType, track_request_metrics};

#[track_request_metrics(AgentType::Sizng)]
fn process() {}

fn main() {
    process();
}
