//! The database attribute without its table.
use insa_metrics::track_database_operation;

#[track_database_operation("select")]
fn load_user() {}

fn main() {
    load_user();
}
