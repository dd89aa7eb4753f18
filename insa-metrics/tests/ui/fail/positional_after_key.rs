//! A positional argument after a keyed one.
use insa_metrics::track_database_operation;

#[track_database_operation(operation = "select", "users")]
fn load_user() {}

fn main() {
    load_user();
}
