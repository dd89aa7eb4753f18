//! The same attribute again through `cfg_attr` would count every call twice.
use insa_metrics::track_database_operation;

#[track_database_operation("select", "users")]
#[cfg_attr(all(), track_database_operation("select", "users"))]
fn load() {}

fn main() {
    load();
}
