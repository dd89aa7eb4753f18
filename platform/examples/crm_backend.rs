//! The platform demo: every component on tokio under a realistic load, metrics served for Prometheus.
//!
//! ```sh
//! cargo run --example crm_backend                      # http://127.0.0.1:9091/metrics until Ctrl-C
//! cargo run --example crm_backend -- --port 0 --duration 60 --force-breaker-open
//! cargo run --example crm_backend -- --duration 30 --linger 60   # then 60 s of frozen metrics
//! ```

use std::process::ExitCode;
use std::time::Duration;

use insa_metrics::{initialize_metrics, start_metrics_server, stop_metrics_server};
use insa_platform::backend::BackendArgs;
use insa_platform::platform::{Platform, PlatformConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let args = match BackendArgs::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // The agents run inside traced spans: the latency histograms' exemplars
    // link to their traces.
    let tracer = match insa_platform::tracer::install() {
        Ok(tracer) => tracer,
        Err(error) => {
            eprintln!("crm_backend: {error}");
            return ExitCode::FAILURE;
        }
    };
    initialize_metrics(env!("CARGO_PKG_VERSION"), &args.environment);
    let addr = match start_metrics_server(args.port) {
        Ok(addr) => addr,
        Err(error) => {
            // The whole chain: "cannot bind 127.0.0.1:9091: Address in use".
            let mut message = error.to_string();
            let mut cause = std::error::Error::source(&error);
            while let Some(inner) = cause {
                message.push_str(&format!(": {inner}"));
                cause = inner.source();
            }
            eprintln!("crm_backend: {message}");
            return ExitCode::FAILURE;
        }
    };
    // The first line of output: scripts read the address from it.
    println!("crm_backend: serving metrics on http://{addr}/metrics");

    let config = PlatformConfig {
        force_breaker_open: args.force_breaker_open.clone(),
        trip_breaker: args.trip_breaker.clone(),
        ..PlatformConfig::default()
    };
    let platform = Platform::start(&config);
    let signalled = tokio::select! {
        () = sleep_or_forever(args.duration) => false,
        () = shutdown_signal() => true,
    };
    let reason = if signalled {
        "signal"
    } else {
        "duration elapsed"
    };
    println!("crm_backend: stopping ({reason})");
    platform.stop(Duration::from_secs(5)).await;
    if !signalled && !args.linger.is_zero() {
        // Nothing changes the catalogue's families any more: tests compare
        // what Prometheus sums with what each process serves.
        println!("crm_backend: workload stopped, serving frozen metrics");
        tokio::select! {
            () = tokio::time::sleep(args.linger) => {}
            () = shutdown_signal() => {}
        }
    }
    stop_metrics_server();
    let _ = tracer.shutdown();
    ExitCode::SUCCESS
}

async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}

/// Ctrl-C, or SIGTERM on Unix (how service managers and test scripts stop it).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
