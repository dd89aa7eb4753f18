//! A real `promtool check metrics` accepts the exposition text: the only
//! finding is the `_total` gauge the catalogue keeps for compatibility.

mod common;

use common::{fresh_collector, promtool_check_metrics, sample, touch_every_family};

const ALLOWED: &str =
    "insa_active_sessions_total non-counter metrics should not have \"_total\" suffix";

#[test]
fn promtool_reports_only_the_active_sessions_exception() {
    insa_metrics::initialize_metrics("1.0.0", "test");
    touch_every_family(insa_metrics::metrics());
    let findings = promtool_check_metrics(&insa_metrics::get_metrics_text());
    assert_eq!(findings, [ALLOWED], "promtool said: {findings:#?}");
}

#[test]
fn awkward_label_values_are_escaped_and_accepted() {
    let c = fresh_collector();
    let values = [
        "quote\"inside",
        "back\\slash",
        "new\nline",
        "tab\tand carriage\rreturn",
        "unicode: größe, 大小, 🚀",
        "trailing backslash\\",
    ];
    for value in values {
        c.record_cache_hit(value);
    }
    let text = c.encode_text();
    assert_eq!(
        sample(
            &text,
            r#"insa_cache_hits_total{cache_type="quote\"inside"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"insa_cache_hits_total{cache_type="back\\slash"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"insa_cache_hits_total{cache_type="new\nline"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"insa_cache_hits_total{cache_type="unicode: größe, 大小, 🚀"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"insa_cache_hits_total{cache_type="trailing backslash\\"}"#
        ),
        Some(1.0)
    );
    touch_every_family(&c);
    let findings = promtool_check_metrics(&c.encode_text());
    assert_eq!(findings, [ALLOWED], "promtool said: {findings:#?}");
}
