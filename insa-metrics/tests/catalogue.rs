//! Every family of the catalogue shows in the exposition text, with exact
//! lines for each kind of metric.

mod common;

use common::{fresh_collector, sample, touch_every_family};
use insa_metrics::catalogue::{CATALOGUE, FamilyKind};

#[test]
fn every_family_is_exposed_with_type_help_and_labels() {
    let c = fresh_collector();
    touch_every_family(&c);
    let text = c.encode_text();
    for family in CATALOGUE {
        let prom_type = family.kind().type_name();
        assert!(
            text.contains(&format!("# TYPE {} {prom_type}\n", family.name())),
            "no TYPE line for {}",
            family.name()
        );
        assert!(text.contains(&format!("# HELP {} {}\n", family.name(), family.help())));
        let sample_name = match family.kind() {
            FamilyKind::Histogram => format!("{}_count", family.name()),
            _ => family.name().to_owned(),
        };
        let line = text
            .lines()
            .find(|l| l.starts_with(&sample_name) && !l.starts_with('#'))
            .unwrap_or_else(|| panic!("no sample of {}", family.name()));
        for label in family.labels() {
            assert!(
                line.contains(&format!("{label}=\"")),
                "{} lacks {label}: {line}",
                family.name()
            );
        }
    }
}

#[test]
fn exact_lines_for_a_counter_a_gauge_a_histogram_and_the_info_metric() {
    let c = fresh_collector();
    touch_every_family(&c);
    let text = c.encode_text();

    assert!(text.contains(concat!(
        "# HELP insa_cache_hits_total Cache hits\n",
        "# TYPE insa_cache_hits_total counter\n",
        "insa_cache_hits_total{cache_type=\"orchestrator\"} 1\n",
    )));
    assert!(text.contains(concat!(
        "# TYPE insa_circuit_breaker_state gauge\n",
        "insa_circuit_breaker_state{agent_type=\"crm_agent\"} 1\n",
    )));
    assert!(text.contains(concat!(
        "# HELP insa_agent_request_duration_seconds Request duration in seconds\n",
        "# TYPE insa_agent_request_duration_seconds histogram\n",
        "insa_agent_request_duration_seconds_bucket{agent_type=\"sizing_agent\",le=\"0.1\"} 0\n",
        "insa_agent_request_duration_seconds_bucket{agent_type=\"sizing_agent\",le=\"0.5\"} 1\n",
        "insa_agent_request_duration_seconds_bucket{agent_type=\"sizing_agent\",le=\"1\"} 1\n",
        "insa_agent_request_duration_seconds_bucket{agent_type=\"sizing_agent\",le=\"2.5\"} 1\n",
        "insa_agent_request_duration_seconds_bucket{agent_type=\"sizing_agent\",le=\"5\"} 1\n",
        "insa_agent_request_duration_seconds_bucket{agent_type=\"sizing_agent\",le=\"10\"} 1\n",
        "insa_agent_request_duration_seconds_bucket{agent_type=\"sizing_agent\",le=\"30\"} 1\n",
        "insa_agent_request_duration_seconds_bucket{agent_type=\"sizing_agent\",le=\"60\"} 1\n",
        "insa_agent_request_duration_seconds_bucket{agent_type=\"sizing_agent\",le=\"120\"} 1\n",
        "insa_agent_request_duration_seconds_bucket{agent_type=\"sizing_agent\",le=\"+Inf\"} 1\n",
        "insa_agent_request_duration_seconds_sum{agent_type=\"sizing_agent\"} 0.3\n",
        "insa_agent_request_duration_seconds_count{agent_type=\"sizing_agent\"} 1\n",
    )));
    let platform = format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH);
    assert!(text.contains(&format!(
        "# TYPE insa_system_info gauge\n\
         insa_system_info{{environment=\"test\",platform=\"{platform}\",version=\"1.0.0\"}} 1\n"
    )));
    assert!(
        text.contains("# TYPE insa_active_sessions_total gauge\ninsa_active_sessions_total 7\n")
    );
}

#[test]
fn system_info_is_replaced_not_added() {
    let c = fresh_collector();
    c.set_system_info("1.0.0", "staging");
    c.set_system_info("1.1.0", "production");
    let text = c.encode_text();
    let series: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("insa_system_info{"))
        .collect();
    assert_eq!(series.len(), 1, "{series:?}");
    assert!(series[0].contains("version=\"1.1.0\"") && series[0].contains("production"));
}

#[test]
fn circuit_breaker_states_map_to_0_1_2() {
    use insa_metrics::CircuitState::{Closed, HalfOpen, Open};
    let c = fresh_collector();
    for (state, value) in [(Closed, 0.0), (Open, 1.0), (HalfOpen, 2.0)] {
        c.update_circuit_breaker_state("crm_agent", state);
        let text = c.encode_text();
        assert_eq!(
            sample(
                &text,
                "insa_circuit_breaker_state{agent_type=\"crm_agent\"}"
            ),
            Some(value)
        );
    }
}

#[test]
fn request_handles_create_every_status_at_zero() {
    let c = fresh_collector();
    let _handles = c.request_handles("crm_agent");
    let text = c.encode_text();
    for status in ["success", "error", "timeout", "cancelled"] {
        let series =
            format!("insa_agent_requests_total{{agent_type=\"crm_agent\",status=\"{status}\"}}");
        assert_eq!(sample(&text, &series), Some(0.0), "{series}");
    }
}

#[test]
fn global_api_records_into_the_global_registry() {
    insa_metrics::initialize_metrics("2.0.0", "ci");
    insa_metrics::initialize_metrics("2.0.1", "ci");
    insa_metrics::metrics().record_retry_attempt("global_test_agent", 3);
    let text = insa_metrics::get_metrics_text();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("insa_system_info{"))
            .count(),
        1
    );
    assert!(text.contains("version=\"2.0.1\""));
    assert_eq!(
        sample(
            &text,
            "insa_retry_attempts_total{agent_type=\"global_test_agent\",retry_number=\"3\"}"
        ),
        Some(1.0)
    );
    #[cfg(target_os = "linux")]
    assert!(text.contains("# TYPE process_resident_memory_bytes gauge"));
}

#[test]
fn a_collector_on_a_callers_registry_and_a_clash() {
    let registry = prometheus::Registry::new();
    let c = insa_metrics::MetricsCollector::builder()
        .registry(registry.clone())
        .build()
        .unwrap();
    c.record_cache_miss("crm");
    let gathered = registry.gather();
    assert!(
        gathered
            .iter()
            .any(|f| f.name() == "insa_cache_misses_total")
    );
    assert!(
        !gathered.iter().any(|f| f.name().starts_with("process_")),
        "a caller's registry gets no process metrics unless asked"
    );
    let second = insa_metrics::MetricsCollector::builder()
        .registry(registry)
        .build();
    let error = second.unwrap_err();
    assert!(
        matches!(error, insa_metrics::Error::AlreadyRegistered { .. }),
        "{error}"
    );
    // The first family registered names the clash.
    assert!(
        error.to_string().contains("insa_agent_requests_total"),
        "{error}"
    );
}

#[test]
fn a_failed_build_registers_nothing() {
    let registry = prometheus::Registry::new();
    // The service already has a family the catalogue declares.
    let taken = prometheus::IntGauge::new("insa_system_info", "taken").unwrap();
    registry.register(Box::new(taken.clone())).unwrap();
    let error = insa_metrics::MetricsCollector::builder()
        .registry(registry.clone())
        .build()
        .unwrap_err();
    assert!(
        matches!(error, insa_metrics::Error::AlreadyRegistered { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("insa_system_info"), "{error}");
    // Nothing of the failed attempt is left behind: the families registered
    // before the clash were unregistered again.
    let hits = prometheus::IntCounterVec::new(
        prometheus::Opts::new("insa_cache_hits_total", "Cache hits"),
        &["cache_type"],
    )
    .unwrap();
    registry.register(Box::new(hits)).expect("rolled back");
}

#[test]
#[cfg(target_os = "linux")]
fn process_metrics_on_a_callers_registry_when_asked() {
    let registry = prometheus::Registry::new();
    insa_metrics::MetricsCollector::builder()
        .registry(registry.clone())
        .process_metrics(true)
        .build()
        .unwrap();
    assert!(
        registry
            .gather()
            .iter()
            .any(|f| f.name() == "process_resident_memory_bytes")
    );
}

#[test]
fn installing_after_first_use_is_an_error() {
    let _ = insa_metrics::metrics();
    let again = insa_metrics::MetricsCollector::builder().install();
    assert!(matches!(
        again,
        Err(insa_metrics::Error::AlreadyInitialized)
    ));
}
