//! The OpenMetrics text is read by the reference parser
//! (`prometheus_client.openmetrics.parser`, Python), every family of the
//! catalogue with its exemplars, and the 0.0.4 text stays clean under
//! `promtool check metrics`.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{promtool_check_metrics, touch_every_family};
use insa_metrics::catalogue::CATALOGUE;
use insa_metrics::{MetricsCollector, TraceContext};

/// Parses `text` with the reference parser; prints one line per family:
/// `name type samples exemplars`.
const PARSE: &str = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    exemplars = sum(1 for s in family.samples if s.exemplar is not None)
    for s in family.samples:
        if s.exemplar is not None:
            e = s.exemplar
            assert set(e.labels) == {"trace_id", "span_id"}, e.labels
            assert len(e.labels["trace_id"]) == 32 and len(e.labels["span_id"]) == 16
            assert e.timestamp is not None
    print(family.name, family.type, len(family.samples), exemplars)
"#;

fn reference_parser(text: &str) -> Vec<(String, String, usize, usize)> {
    let mut child = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (./scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reference parser refused the text (pip install prometheus_client): {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut fields = line.split(' ');
            let mut next = || fields.next().unwrap().to_owned();
            (
                next(),
                next(),
                next().parse().unwrap(),
                next().parse().unwrap(),
            )
        })
        .collect()
}

fn traced_collector() -> MetricsCollector {
    let c = MetricsCollector::builder()
        .process_metrics(true)
        .exemplar_interval(std::time::Duration::from_nanos(1))
        .build()
        .unwrap();
    touch_every_family(&c);
    let trace =
        TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7").unwrap();
    let _scope = trace.enter();
    c.start_request("sizing_agent").succeed();
    c.start_request("crm_agent")
        .end(insa_metrics::Outcome::Rejected);
    c.start_database_operation("select", "users").succeed();
    drop(c.start_message("orchestrator"));
    c
}

#[test]
fn the_reference_parser_reads_every_family_and_its_exemplars() {
    let c = traced_collector();
    let families = reference_parser(&c.encode_openmetrics());
    for spec in CATALOGUE {
        let expected = spec
            .name()
            .strip_suffix("_total")
            .filter(|_| spec.kind() == insa_metrics::catalogue::FamilyKind::Counter)
            .unwrap_or(spec.name());
        let (_, kind, samples, _) = families
            .iter()
            .find(|(name, ..)| name == expected)
            .unwrap_or_else(|| panic!("the parser did not read {expected}: {families:?}"));
        assert_eq!(kind, spec.kind().type_name(), "{expected}");
        assert!(*samples > 0, "{expected}");
    }
    let exemplars = |name: &str| families.iter().find(|f| f.0 == name).map(|f| f.3);
    assert_eq!(exemplars("insa_agent_request_duration_seconds"), Some(1));
    assert_eq!(exemplars("insa_agent_requests"), Some(2));
    assert_eq!(
        exemplars("insa_database_operation_duration_seconds"),
        Some(1)
    );
    assert_eq!(
        exemplars("insa_message_bus_processing_duration_seconds"),
        Some(1)
    );
    assert!(
        families.iter().any(|f| f.0.starts_with("process_")),
        "{families:?}"
    );
}

#[test]
fn promtool_finds_only_the_known_exception_in_the_text_format() {
    let c = traced_collector();
    let problems = promtool_check_metrics(&c.encode_text());
    assert!(
        problems
            .iter()
            .all(|problem| problem.contains("insa_active_sessions_total")),
        "{problems:?}"
    );
}
