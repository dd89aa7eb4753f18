//! Test helpers: a collector of one's own and reading a sample from the text.

use insa_metrics::MetricsCollector;

/// A fresh collector on its own registry, leaked for `'static` like the global one.
pub(crate) fn collector() -> &'static MetricsCollector {
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("a fresh registry accepts the catalogue");
    Box::leak(Box::new(collector))
}

/// The value of the sample `series` (name and labels as exposed), 0 when absent.
pub(crate) fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a sample value"))
}
