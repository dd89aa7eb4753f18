//! Typed labels: the crate's enums, the user's own, consts, in both forms.
#![deny(warnings)]

use insa_metrics::{AgentType, LabelValue, track_database_operation, track_request_metrics};

#[derive(Clone, Copy)]
enum Table {
    Users,
}

impl LabelValue for Table {
    fn as_label(&self) -> &str {
        match self {
            Table::Users => "users",
        }
    }
}

const SELECT: &str = "select";

#[track_request_metrics(AgentType::Sizing)]
fn size() {}

#[track_request_metrics(agent_type = insa_metrics::AgentType::Crm)]
fn crm() {}

#[track_database_operation(SELECT, Table::Users)]
fn load() {}

#[track_database_operation(table = Table::Users, operation = "insert")]
fn store() {}

fn main() {
    size();
    crm();
    load();
    store();
}
