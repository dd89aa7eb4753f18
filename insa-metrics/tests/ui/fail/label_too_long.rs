//! A label one byte longer than the runtime keeps (`MAX_LABEL_VALUE_BYTES`,
//! 128): `tests/macros_labels.rs` records the longest one accepted.
use insa_metrics::track_request_metrics;

#[track_request_metrics(
    "a_label_of_the_longest_length_the_runtime_keeps_whole_which_is_max_label_value_bytes_and_the_macros_limit_on_literals_too_xxxxxxx"
)]
fn process() {}

fn main() {
    process();
}
