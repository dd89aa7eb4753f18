//! A request attribute and a database attribute on one fn: two different
//! attributes, each recording its own metrics.
#![deny(warnings)]

use insa_metrics::{track_database_operation, track_request_metrics};

#[track_request_metrics("crm_agent")]
#[track_database_operation("select", "contacts")]
fn load_contact(id: u64) -> Result<u64, std::io::Error> {
    Ok(id)
}

fn main() {
    let _ = load_contact(1);
}
