//! The CRM agent worker on its own: contact reads and deal updates on the simulated database, then the metrics.
//!
//! ```sh
//! cargo run --example crm_agent_worker
//! ```

use std::sync::Arc;
use std::time::Duration;

use insa_metrics::{get_metrics_text, initialize_metrics};
use insa_platform::crm::CrmAgent;
use insa_platform::database::{Database, DbConfig};
use insa_platform::message::UserRequest;
use insa_platform::rng::Rng;
use insa_platform::users::random_request;
use insa_platform::worker::Worker;

#[tokio::main]
async fn main() {
    initialize_metrics(env!("CARGO_PKG_VERSION"), "development");
    let db = Arc::new(Database::new(
        "crm",
        DbConfig {
            // A brownout half a second in, so errors and timeouts show up.
            first_brownout: Duration::from_millis(500),
            brownout_length: Duration::from_millis(700),
            ..DbConfig::default()
        },
    ));
    let (worker, join) = Worker::spawn(CrmAgent::new(db, Duration::from_secs(1)), CrmAgent::WORKER);
    let mut rng = Rng::from_entropy();
    let mut calls = Vec::new();
    for _ in 0..200 {
        let UserRequest::Crm(task) = random_request(&mut rng) else {
            continue;
        };
        let worker = worker.clone();
        calls.push(tokio::spawn(async move { worker.submit(task).await }));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut failed = 0;
    for call in calls {
        if !matches!(call.await, Ok(Ok(_))) {
            failed += 1;
        }
    }
    drop(worker);
    let _ = join.await;
    eprintln!("CRM requests failed: {failed}");
    print!("{}", get_metrics_text());
}
