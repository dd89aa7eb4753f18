//! A macro call site is never stuck on the overflow series: label values
//! written in the code are admitted even when run-time values have filled the
//! family. Alone in its binary, as it fills the global collector's family.

use insa_metrics::{RequestStatus, get_metrics_text, metrics, track_request_metrics};

#[track_request_metrics("late_site_agent")]
fn late_site() -> Result<(), std::io::Error> {
    Ok(())
}

#[test]
fn a_site_resolved_after_the_family_is_full_gets_its_own_series() {
    let limit = metrics().cardinality_limit();
    for i in 0..=limit {
        metrics().record_request(format!("runtime_agent_{i}"), RequestStatus::Success);
    }
    let text = get_metrics_text();
    assert!(
        text.contains(
            r#"insa_agent_requests_total{agent_type="__overflow__",status="__overflow__"}"#
        )
    );

    late_site().unwrap();
    let text = get_metrics_text();
    assert!(
        text.contains(
            r#"insa_agent_requests_total{agent_type="late_site_agent",status="success"} 1"#
        ),
        "the call site has its own series"
    );
    assert!(text.contains(r#"insa_worker_active_requests{worker_name="late_site_agent"} 0"#));
}
