//! A key given twice.
use insa_metrics::track_request_metrics;

#[track_request_metrics(agent_type = "sizing_agent", agent_type = "crm_agent")]
fn process() {}

fn main() {
    process();
}
