//! The orchestrator with its agents and users until each of its stories has played out: cache, bus, retries, breakers, dead letters, sessions; then the metrics.
//!
//! ```sh
//! cargo run --example orchestrator
//! ```

use std::time::{Duration, Instant};

use insa_metrics::{get_metrics_text, initialize_metrics};
use insa_platform::database::DbConfig;
use insa_platform::orchestrator::OrchestratorConfig;
use insa_platform::platform::{Platform, PlatformConfig};

/// What the run waits for: a positive sample of each (the users and the
/// database are random, so a story can take a second brownout to be told).
const STORIES: [&str; 5] = [
    "insa_cache_evictions_total{cache_type=\"orchestrator\",reason=\"expired\"}",
    "insa_cache_evictions_total{cache_type=\"orchestrator\",reason=\"capacity\"}",
    "insa_circuit_breaker_transitions_total{",
    "insa_dead_letter_replay_total{",
    "insa_session_cleanup_total{",
];

/// The run lasts at least this long, and at most `LONGEST`.
const SHORTEST: Duration = Duration::from_secs(8);
const LONGEST: Duration = Duration::from_secs(40);

#[tokio::main]
async fn main() {
    initialize_metrics(env!("CARGO_PKG_VERSION"), "development");
    let config = PlatformConfig {
        db: DbConfig {
            // An early brownout, and another every 10 s: the CRM breaker
            // opens, retries and dead letters follow.
            first_brownout: Duration::from_secs(2),
            brownout_every: Duration::from_secs(10),
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
    let started = Instant::now();
    let platform = Platform::start(&config);
    tokio::time::sleep(SHORTEST).await;
    while !untold(&get_metrics_text()).is_empty() {
        if started.elapsed() >= LONGEST {
            eprintln!(
                "not told within {LONGEST:?}: {:?}",
                untold(&get_metrics_text())
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    platform.stop(Duration::from_secs(3)).await;
    print!("{}", get_metrics_text());
}

/// The stories of which the text holds no positive sample.
fn untold(text: &str) -> Vec<&'static str> {
    STORIES
        .into_iter()
        .filter(|story| {
            !text.lines().any(|line| {
                line.starts_with(story)
                    && line
                        .rsplit_once(' ')
                        .and_then(|(_, value)| value.parse::<f64>().ok())
                        .is_some_and(|value| value > 0.0)
            })
        })
        .collect()
}
