//! A misspelt key, with a suggestion.
use insa_metrics::track_database_operation;

#[track_database_operation(operation = "select", tabel = "users")]
fn load_user() {}

fn main() {
    load_user();
}
