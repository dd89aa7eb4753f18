//! The orchestrator with its agents and users for a few seconds: cache, bus, retries, breakers, dead letters, sessions; then the metrics.
//!
//! ```sh
//! cargo run --example orchestrator
//! ```

use std::time::Duration;

use insa_metrics::{get_metrics_text, initialize_metrics};
use insa_platform::database::DbConfig;
use insa_platform::orchestrator::OrchestratorConfig;
use insa_platform::platform::{Platform, PlatformConfig};

#[tokio::main]
async fn main() {
    initialize_metrics(env!("CARGO_PKG_VERSION"), "development");
    let config = PlatformConfig {
        db: DbConfig {
            // An early brownout: the CRM breaker opens, retries and dead letters follow.
            first_brownout: Duration::from_secs(2),
            ..DbConfig::default()
        },
        orchestrator: OrchestratorConfig {
            // A short TTL and a small cache: within the run, entries expire
            // and the least recently used make room (both eviction reasons).
            cache_capacity: 16,
            cache_ttl: Duration::from_secs(3),
            ..OrchestratorConfig::default()
        },
        ..PlatformConfig::default()
    };
    let platform = Platform::start(&config);
    tokio::time::sleep(Duration::from_secs(8)).await;
    platform.stop(Duration::from_secs(3)).await;
    print!("{}", get_metrics_text());
}
