//! Installing a configured collector as the global one.

use insa_metrics::{Error, MetricsCollector};
use prometheus::Registry;

#[test]
fn a_refused_install_registers_nothing_on_the_registry() {
    // The global collector is in use already.
    insa_metrics::metrics().record_cache_hit("orchestrator");
    let registry = Registry::new();
    let refused = MetricsCollector::builder()
        .registry(registry.clone())
        .install()
        .unwrap_err();
    assert!(matches!(refused, Error::AlreadyInitialized), "{refused}");
    assert!(
        registry.gather().is_empty(),
        "families left on the registry"
    );
    // So the registry is still free for a collector of its own.
    let collector = MetricsCollector::builder()
        .registry(registry.clone())
        .build()
        .unwrap();
    collector.record_cache_miss("crm");
    assert!(
        registry
            .gather()
            .iter()
            .any(|family| family.name() == "insa_cache_misses_total")
    );
}
