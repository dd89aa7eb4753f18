//! The exposition checked against `prometheus`' `TextEncoder` (0.0.4) and against exact OpenMetrics text.

use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary};
use prometheus::{
    CounterVec, GaugeVec, HistogramOpts, HistogramVec, IntCounter, Opts, Registry, TextEncoder,
};

use super::Format;
use crate::labels::{CircuitState, ReplayStatus, RequestStatus};
use crate::{MetricsCollector, TraceContext};

fn collector_on(registry: &Registry) -> MetricsCollector {
    MetricsCollector::builder()
        .registry(registry.clone())
        .build()
        .unwrap()
}

fn reference(registry: &Registry) -> String {
    TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap()
}

/// Values that have broken exporters: quotes, backslashes, newlines,
/// non-ASCII, empty, over-long, and pairs whose concatenations are equal.
const AWKWARD: [&str; 9] = [
    "sizing",
    "a\"b",
    "back\\slash",
    "new\nline",
    "ünïcödé ✓",
    "",
    "ab",
    "a",
    "NUL\0and\u{1}",
];

fn record_everything(c: &MetricsCollector) {
    for (i, value) in AWKWARD.into_iter().enumerate() {
        let n = u32::try_from(i).unwrap();
        c.record_request(value, RequestStatus::ALL[i % 5]);
        c.observe_request_duration(value, Duration::from_millis(u64::from(n) * 700));
        c.observe_request_size(value, 1 << (3 * n));
        c.observe_response_size(value, 5);
        c.record_cache_hit(value);
        c.record_cache_miss(value);
        c.update_cache_size(value, -i64::from(n));
        c.record_cache_eviction(value, AWKWARD[(i + 1) % AWKWARD.len()]);
        c.record_message_sent(value, "to", AWKWARD[(i + 2) % AWKWARD.len()]);
        c.update_queue_depth(value, i64::from(n));
        c.observe_message_processing(value, Duration::from_micros(u64::from(n) * 997));
        c.update_worker_health(value, "sizing", i % 2 == 0);
        c.update_worker_queue(value, 5);
        c.record_worker_restart(value, "crash");
        c.record_retry_attempt(value, n * 3);
        c.record_retry_success(value);
        c.record_circuit_breaker_transition(value, CircuitState::Closed, CircuitState::Open);
        c.update_dead_letter_queue_size(value, 2);
        c.record_database_operation(value, "users");
        c.observe_database_duration(
            "select",
            value,
            Duration::from_nanos(u64::from(n) * 1_234_567),
        );
        c.update_connection_pool_size(value, 10);
        c.record_database_error(value, "unique_violation");
        c.record_session_message(value);
        c.record_session_cleanup(value);
    }
    c.record_cache_eviction("ab", "c");
    c.record_cache_eviction("a", "bc");
    c.record_retry_attempt("worker1", 12);
    c.record_retry_attempt("worker11", 2);
    c.record_dead_letter_replay(ReplayStatus::Failure);
    c.update_active_sessions(7);
    c.observe_session_duration(Duration::from_secs(90));
    c.set_system_info("1.0.0", "test");
    c.record_cache_hit("x".repeat(300));
}

#[test]
fn the_catalogue_is_written_as_text_encoder_writes_it() {
    let registry = Registry::new();
    let collector = collector_on(&registry);
    record_everything(&collector);
    let ours = collector.encode_text();
    assert_eq!(ours, reference(&registry));
    assert!(ours.contains(r#"insa_cache_evictions_total{cache_type="ab",reason="c"} 1"#));
    assert!(ours.contains(r#"insa_cache_evictions_total{cache_type="a",reason="bc"} 1"#));
    assert!(
        ours.contains(r#"insa_retry_attempts_total{agent_type="worker1",retry_number="12"} 1"#)
    );
    assert!(
        ours.contains(r#"insa_retry_attempts_total{agent_type="worker11",retry_number="2"} 1"#)
    );
}

#[test]
fn an_empty_collector_is_written_as_text_encoder_writes_it() {
    let registry = Registry::new();
    let collector = collector_on(&registry);
    assert_eq!(collector.encode_text(), reference(&registry));
}

/// Summaries and timestamps, which only hand-made families have.
struct Handmade(Vec<Desc>);

impl Collector for Handmade {
    fn desc(&self) -> Vec<&Desc> {
        self.0.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut label = LabelPair::default();
        label.set_name("path".into());
        label.set_value("a\\b \"c\"\nd".into());
        let mut summary = Summary::default();
        summary.set_sample_count(7);
        summary.set_sample_sum(0.3);
        summary.set_quantile(
            [0.5, 0.99]
                .into_iter()
                .map(|q| {
                    let mut quantile = Quantile::default();
                    quantile.set_quantile(q);
                    quantile.set_value(q * 10.0);
                    quantile
                })
                .collect(),
        );
        let mut metric = Metric::from_label(vec![label]);
        metric.set_summary(summary);
        metric.set_timestamp_ms(1_700_000_000_123);
        let mut unlabelled = Metric::default();
        let mut summary = Summary::default();
        summary.set_sample_count(1);
        unlabelled.set_summary(summary);
        let mut family = MetricFamily::default();
        family.set_name("insa_test_summary".into());
        family.set_help("Help with \\ and\nnewline and \"quotes\"".into());
        family.set_field_type(MetricType::SUMMARY);
        family.set_metric(vec![unlabelled, metric]);
        vec![family]
    }
}

/// A registry with `prometheus`' own vectors and a hand-made collector.
fn foreign_registry() -> Registry {
    let registry = Registry::new();
    let counters =
        CounterVec::new(Opts::new("insa_test_total", "Counts"), &["agent", "v"]).unwrap();
    let gauges = GaugeVec::new(Opts::new("insa_test_gauge", "Gauges"), &["k"]).unwrap();
    let histograms = HistogramVec::new(
        HistogramOpts::new("insa_test_seconds", "Durations")
            .buckets(vec![0.0005, 0.1, 1.0, 2.5, 1e6, 1e300]),
        &["op"],
    )
    .unwrap();
    let plain = IntCounter::new("insa_test_plain_total", "Plain").unwrap();
    registry.register(Box::new(counters.clone())).unwrap();
    registry.register(Box::new(gauges.clone())).unwrap();
    registry.register(Box::new(histograms.clone())).unwrap();
    registry.register(Box::new(plain.clone())).unwrap();
    let desc = Desc::new(
        "insa_test_summary".into(),
        "h".into(),
        vec![],
        Default::default(),
    )
    .unwrap();
    registry.register(Box::new(Handmade(vec![desc]))).unwrap();
    for (i, value) in AWKWARD.into_iter().enumerate() {
        counters
            .with_label_values(&[value, "x"])
            .inc_by(i as f64 + 0.5);
        histograms.with_label_values(&[value]).observe(i as f64);
    }
    for (i, value) in [
        0.0,
        -0.0,
        1.0,
        -3.0,
        0.1,
        1e-7,
        1e21,
        9_007_199_254_740_993.0,
        -9_007_199_254_740_992.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN_POSITIVE,
    ]
    .into_iter()
    .enumerate()
    {
        gauges.with_label_values(&[&format!("g{i:02}")]).set(value);
    }
    plain.inc_by(u64::MAX / 3);
    registry
}

#[test]
fn other_collectors_of_the_registry_are_merged_in_name_order() {
    let registry = foreign_registry();
    let collector = collector_on(&registry);
    record_everything(&collector);
    assert_eq!(collector.encode_text(), reference(&registry));
}

#[cfg(any(feature = "server", feature = "push"))]
#[test]
fn a_registry_alone_is_written_as_text_encoder_writes_it() {
    let registry = foreign_registry();
    assert_eq!(
        crate::encoding::encode_text(&registry),
        reference(&registry)
    );
    assert_eq!(crate::encoding::encode_text(&Registry::new()), "");
}

/// OpenMetrics timestamps are seconds; 0.0.4's are milliseconds (the
/// 0.0.4 text is checked against `TextEncoder` above).
#[test]
fn openmetrics_timestamps_of_other_collectors_are_seconds() {
    let registry = foreign_registry();
    let collector = collector_on(&registry);
    let text = collector.encode_openmetrics();
    assert_eq!(
        family_block(&text, "insa_test_summary"),
        "# HELP insa_test_summary Help with \\\\ and\\nnewline and \\\"quotes\\\"\n\
         # TYPE insa_test_summary summary\n\
         insa_test_summary_sum 0\n\
         insa_test_summary_count 1\n\
         insa_test_summary{path=\"a\\\\b \\\"c\\\"\\nd\",quantile=\"0.5\"} 5 1700000000.123\n\
         insa_test_summary{path=\"a\\\\b \\\"c\\\"\\nd\",quantile=\"0.99\"} 9.9 1700000000.123\n\
         insa_test_summary_sum{path=\"a\\\\b \\\"c\\\"\\nd\"} 0.3 1700000000.123\n\
         insa_test_summary_count{path=\"a\\\\b \\\"c\\\"\\nd\"} 7 1700000000.123\n"
    );
    assert!(collector.encode_text().contains("} 5 1700000000123\n"));
}

#[test]
fn an_untyped_family_is_an_encoding_error() {
    struct Untyped(Desc);
    impl Collector for Untyped {
        fn desc(&self) -> Vec<&Desc> {
            vec![&self.0]
        }
        fn collect(&self) -> Vec<MetricFamily> {
            let mut family = MetricFamily::default();
            family.set_name("insa_test_untyped".into());
            family.set_field_type(MetricType::UNTYPED);
            family.set_metric(vec![Metric::default()]);
            vec![family]
        }
    }
    let registry = Registry::new();
    let collector = collector_on(&registry);
    let desc = Desc::new(
        "insa_test_untyped".into(),
        "h".into(),
        vec![],
        Default::default(),
    )
    .unwrap();
    registry.register(Box::new(Untyped(desc))).unwrap();
    let error = collector.encode(Format::Text).unwrap_err();
    assert!(error.to_string().contains("insa_test_untyped"), "{error}");
}

fn fresh() -> MetricsCollector {
    MetricsCollector::builder()
        .process_metrics(false)
        .exemplar_interval(Duration::from_nanos(1))
        .build()
        .unwrap()
}

/// The families of `text` named `name`, from `# HELP` to the next family.
fn family_block(text: &str, name: &str) -> String {
    let start = text
        .find(&format!("# HELP {name} "))
        .unwrap_or_else(|| panic!("no family {name} in\n{text}"));
    let rest = &text[start..];
    let end = rest[1..]
        .find("# HELP ")
        .map(|end| end + 1)
        .or_else(|| rest.find("# EOF"))
        .unwrap_or(rest.len());
    rest[..end].to_owned()
}

#[test]
fn openmetrics_counters_name_the_family_without_total() {
    let c = fresh();
    c.record_cache_hit("orchestrator");
    let text = c.encode_openmetrics();
    assert_eq!(
        family_block(&text, "insa_cache_hits"),
        "# HELP insa_cache_hits Cache hits\n\
         # TYPE insa_cache_hits counter\n\
         insa_cache_hits_total{cache_type=\"orchestrator\"} 1\n"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1);
}

#[test]
fn openmetrics_gauges_info_and_a_gauge_named_total() {
    let c = fresh();
    c.update_cache_size("orchestrator", -3);
    c.update_active_sessions(4);
    c.set_system_info("1.0.0", "prod");
    let text = c.encode_openmetrics();
    assert_eq!(
        family_block(&text, "insa_cache_size_entries"),
        "# HELP insa_cache_size_entries Entries currently in the cache\n\
         # TYPE insa_cache_size_entries gauge\n\
         insa_cache_size_entries{cache_type=\"orchestrator\"} -3\n"
    );
    assert_eq!(
        family_block(&text, "insa_active_sessions_total"),
        "# HELP insa_active_sessions_total Sessions currently active\n\
         # TYPE insa_active_sessions_total gauge\n\
         insa_active_sessions_total 4\n"
    );
    let platform = crate::catalogue::platform();
    assert_eq!(
        family_block(&text, "insa_system_info"),
        format!(
            "# HELP insa_system_info Build and environment information\n\
             # TYPE insa_system_info gauge\n\
             insa_system_info{{environment=\"prod\",platform=\"{platform}\",version=\"1.0.0\"}} 1\n"
        )
    );
}

#[test]
fn openmetrics_histograms_carry_their_unit() {
    let c = fresh();
    c.observe_request_size("crm_agent", 300);
    c.observe_request_size("crm_agent", 20_000_000);
    let text = c.encode_openmetrics();
    let block = family_block(&text, "insa_agent_request_size_bytes");
    let mut lines = block.lines();
    assert_eq!(
        lines.next(),
        Some("# HELP insa_agent_request_size_bytes Request payload size in bytes")
    );
    assert_eq!(
        lines.next(),
        Some("# TYPE insa_agent_request_size_bytes histogram")
    );
    assert_eq!(
        lines.next(),
        Some("# UNIT insa_agent_request_size_bytes bytes")
    );
    assert_eq!(
        lines.next(),
        Some(r#"insa_agent_request_size_bytes_bucket{agent_type="crm_agent",le="64"} 0"#)
    );
    assert_eq!(
        lines.next(),
        Some(r#"insa_agent_request_size_bytes_bucket{agent_type="crm_agent",le="256"} 0"#)
    );
    assert_eq!(
        lines.next(),
        Some(r#"insa_agent_request_size_bytes_bucket{agent_type="crm_agent",le="1024"} 1"#)
    );
    let rest: Vec<&str> = lines.collect();
    assert_eq!(
        rest[rest.len() - 3..],
        [
            r#"insa_agent_request_size_bytes_bucket{agent_type="crm_agent",le="+Inf"} 2"#,
            r#"insa_agent_request_size_bytes_sum{agent_type="crm_agent"} 20000300"#,
            r#"insa_agent_request_size_bytes_count{agent_type="crm_agent"} 2"#,
        ]
    );
}

#[test]
fn exemplars_link_a_bucket_and_the_request_counter_to_the_trace() {
    let c = fresh();
    let trace =
        TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7").unwrap();
    {
        let _scope = trace.enter();
        let request = c.start_request("sizing_agent");
        request.succeed();
    }
    let text = c.encode_openmetrics();
    let exemplar =
        r#" # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} "#;
    let bucket = text
        .lines()
        .find(|line| line.starts_with(r#"insa_agent_request_duration_seconds_bucket{agent_type="sizing_agent",le="0.1"} 1"#))
        .unwrap();
    let (_, exemplar_part) = bucket.split_once(exemplar).expect(bucket);
    let (value, timestamp) = exemplar_part.split_once(' ').unwrap();
    assert!(value.parse::<f64>().unwrap() < 0.1, "{bucket}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let timestamp: f64 = timestamp.parse().unwrap();
    assert!((now - timestamp).abs() < 60.0, "{bucket}");
    let counter = text
        .lines()
        .find(|line| {
            line.starts_with(
                r#"insa_agent_requests_total{agent_type="sizing_agent",status="success"} 1"#,
            )
        })
        .unwrap();
    assert!(counter.contains(&format!("{exemplar}1 ")), "{counter}");
    // Only the bucket the call landed in, and only OpenMetrics, has one.
    assert_eq!(text.matches("trace_id=").count(), 2, "{text}");
    assert!(!c.encode_text().contains("trace_id"));
}

#[test]
fn no_trace_context_no_exemplar() {
    let c = fresh();
    c.start_request("sizing_agent").succeed();
    c.start_database_operation("select", "users").succeed();
    drop(c.start_message("orchestrator"));
    assert!(!c.encode_openmetrics().contains("trace_id"));
}

#[test]
fn exemplar_labels_stay_within_the_openmetrics_limit() {
    use super::lines::{EXEMPLAR_LABEL_CHARS, MAX_EXEMPLAR_LABEL_CHARS};
    let c = fresh();
    let trace = TraceContext::new([0xff; 16], [0xff; 8]).unwrap();
    {
        let _scope = trace.enter();
        drop(c.start_message("orchestrator"));
    }
    let text = c.encode_openmetrics();
    let line = text.lines().find(|line| line.contains(" # {")).unwrap();
    let labels = &line[line.find(" # {").unwrap() + 4..line.rfind('}').unwrap()];
    let chars: usize = labels
        .split(',')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            name.chars().count() + value.trim_matches('"').chars().count()
        })
        .sum();
    assert_eq!(chars, EXEMPLAR_LABEL_CHARS);
    assert!(chars <= MAX_EXEMPLAR_LABEL_CHARS);
}

#[test]
fn openmetrics_escapes_label_values_and_help() {
    let c = fresh();
    c.record_cache_hit("a\"b\\c\nd");
    let text = c.encode_openmetrics();
    assert!(
        text.contains(r#"insa_cache_hits_total{cache_type="a\"b\\c\nd"} 1"#),
        "{text}"
    );
}

/// A whole histogram family in OpenMetrics, byte for byte: `# UNIT`, every
/// bucket, `+Inf`, sum and count, and the exemplar on the bucket the call
/// landed in, for a series whose label value needs escaping. Only the
/// exemplar's value and timestamp, and the sum, are measured: they are
/// checked for shape, and the bucket counts follow from the value.
#[test]
fn openmetrics_histogram_with_an_exemplar_on_an_escaped_series() {
    use crate::catalogue::REQUEST_DURATION_BUCKETS;
    let c = fresh();
    let trace = TraceContext::new([0xab; 16], [0xcd; 8]).unwrap();
    {
        let _scope = trace.enter();
        c.start_request("crm\"agent\\").succeed();
    }
    let text = c.encode_openmetrics();
    let block = family_block(&text, "insa_agent_request_duration_seconds");
    let series = r#"agent_type="crm\"agent\\""#;
    let exemplar_labels = format!(
        " # {{trace_id=\"{}\",span_id=\"{}\"}} ",
        "ab".repeat(16),
        "cd".repeat(8)
    );
    // The measured parts: the exemplar's value and timestamp, and the sum.
    let line = block.lines().find(|l| l.contains(" # {")).expect(&block);
    let (_, measured) = line.split_once(&exemplar_labels).expect(line);
    let (value, timestamp) = measured.split_once(' ').expect(line);
    let value: f64 = value.parse().unwrap();
    assert!(timestamp.split_once('.').is_some_and(|(s, ms)| {
        s.len() == 10 && ms.len() == 3 && format!("{s}{ms}").bytes().all(|b| b.is_ascii_digit())
    }));
    let sum_line = block.lines().find(|l| l.contains("_sum{")).unwrap();
    let sum = sum_line.rsplit_once(' ').unwrap().1;
    assert_eq!(
        sum.parse::<f64>().unwrap(),
        value,
        "one call: the sum is its value"
    );

    let mut expected = String::from(
        "# HELP insa_agent_request_duration_seconds Request duration in seconds\n\
         # TYPE insa_agent_request_duration_seconds histogram\n\
         # UNIT insa_agent_request_duration_seconds seconds\n",
    );
    let landed = REQUEST_DURATION_BUCKETS
        .iter()
        .position(|&bound| value <= bound)
        .unwrap_or(REQUEST_DURATION_BUCKETS.len());
    let mut les: Vec<String> = REQUEST_DURATION_BUCKETS
        .iter()
        .map(|bound| {
            let mut le = String::new();
            // `le="1"` as in 0.0.4, not OpenMetrics' canonical `1.0`: one
            // series whichever format a scrape negotiates, and rules that
            // select `le="1"` (deploy/prometheus/rules/slo.yml) keep working
            // on a Prometheus that does not normalise `le` (before 3.0).
            super::float::write_float(&mut le, *bound).unwrap();
            le
        })
        .collect();
    les.push("+Inf".to_owned());
    for (i, le) in les.iter().enumerate() {
        let count = u8::from(i >= landed);
        expected.push_str(&format!(
            "insa_agent_request_duration_seconds_bucket{{{series},le=\"{le}\"}} {count}"
        ));
        if i == landed {
            expected.push_str(&format!("{exemplar_labels}{measured}"));
        }
        expected.push('\n');
    }
    expected.push_str(&format!(
        "insa_agent_request_duration_seconds_sum{{{series}}} {sum}\n\
         insa_agent_request_duration_seconds_count{{{series}}} 1\n"
    ));
    assert_eq!(block, expected);
}
