//! Label values of the macros: a typed label that is not snake_case is
//! counted on its site's first call, and the macros' limit on a literal's
//! length is the runtime's.

mod macro_support;

use insa_metrics::{MAX_LABEL_VALUE_BYTES, track_request_metrics};
use macro_support::{requests, sample};

/// Its value is only known at run time: `LabelValue::as_label` is not `const`.
const BAD: &str = "Bad Agent-Name";

#[track_request_metrics(BAD)]
fn badly_labelled() {}

#[test]
fn a_typed_label_that_is_not_snake_case_is_counted_once() {
    let invalid = r#"insa_metrics_invalid_label_values_total{family="insa_agent_requests_total",reason="not_snake_case"}"#;
    assert_eq!(sample(invalid), 0.0);
    badly_labelled();
    badly_labelled();
    assert_eq!(sample(invalid), 1.0, "on the site's first call only");
    assert_eq!(requests(BAD, "success"), 2.0, "recorded as it is");
}

/// As long as a label may be: accepted by the macro, and recorded uncut.
/// (`tests/ui/fail/label_too_long.rs` is one byte longer.)
#[track_request_metrics(
    "a_label_of_the_longest_length_the_runtime_keeps_whole_which_is_max_label_value_bytes_and_the_macros_limit_on_literals_too_xxxxxx"
)]
fn longest_label() {}

#[test]
fn the_macros_label_limit_is_the_runtimes() {
    let longest = "a_label_of_the_longest_length_the_runtime_keeps_whole_which_is_max_label_value_bytes_and_the_macros_limit_on_literals_too_xxxxxx";
    assert_eq!(longest.len(), MAX_LABEL_VALUE_BYTES);
    longest_label();
    assert_eq!(requests(longest, "success"), 1.0);
}
