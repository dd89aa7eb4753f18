//! A typed label of a type that is not a label.
use insa_metrics::track_request_metrics;

#[allow(dead_code)]
enum Color {
    Red,
}

#[track_request_metrics(Color::Red)]
fn process() {}

fn main() {
    process();
}
