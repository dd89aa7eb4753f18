//! The sizing agent worker on its own: a burst of sizing tasks, some abandoned, then the metrics.
//!
//! ```sh
//! cargo run --example sizing_agent_worker
//! ```

use std::time::Duration;

use insa_metrics::{get_metrics_text, initialize_metrics};
use insa_platform::database::DEALS;
use insa_platform::rng::Rng;
use insa_platform::sizing::{SizingAgent, SizingTask};
use insa_platform::worker::Worker;

#[tokio::main]
async fn main() {
    initialize_metrics(env!("CARGO_PKG_VERSION"), "development");
    let (worker, join) =
        Worker::spawn(SizingAgent::new(SizingAgent::DEADLINE), SizingAgent::WORKER);
    let mut rng = Rng::from_entropy();
    let calls: Vec<_> = (0..60)
        .map(|_| {
            let worker = worker.clone();
            let task = SizingTask::for_deal(rng.range(1, DEALS + 1));
            // A few callers give up early: their tasks count as cancelled.
            let patience = if rng.chance(0.05) {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(10)
            };
            tokio::spawn(async move { tokio::time::timeout(patience, worker.submit(task)).await })
        })
        .collect();
    let (mut ok, mut failed, mut abandoned) = (0, 0, 0);
    for call in calls {
        match call.await {
            Ok(Ok(Ok(_))) => ok += 1,
            Ok(Ok(Err(_))) => failed += 1,
            _ => abandoned += 1,
        }
    }
    drop(worker);
    let _ = join.await;
    eprintln!("sized {ok}, failed {failed}, abandoned {abandoned}");
    print!("{}", get_metrics_text());
}
