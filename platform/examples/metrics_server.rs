//! The standalone metrics server: serves the catalogue on 127.0.0.1:9091 (`--port N` to change it) until Ctrl-C, then stops.
//!
//! ```sh
//! cargo run --example metrics_server -- --port 9091
//! curl http://127.0.0.1:9091/metrics
//! ```

use insa_metrics::{initialize_metrics, metrics, start_metrics_server, stop_metrics_server};

fn port_from_args() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = 9091;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--port" => args.next(),
            other => match other.strip_prefix("--port=") {
                Some(value) => Some(value.to_owned()),
                None => {
                    return Err(format!(
                        "unknown argument {other:?}; usage: metrics_server [--port N]"
                    ));
                }
            },
        };
        port = value
            .and_then(|value| value.parse().ok())
            .ok_or("--port needs a port number (0 picks a free one)")?;
    }
    Ok(port)
}

/// Ctrl-C, or SIGTERM (how service managers and containers stop a process).
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = port_from_args()?;
    initialize_metrics(env!("CARGO_PKG_VERSION"), "development");
    metrics().update_worker_health("metrics_server", "exporter", true);
    let addr = start_metrics_server(port)?;
    println!("Serving metrics on http://{addr}/metrics (Ctrl-C to stop)");
    shutdown_signal().await?;
    stop_metrics_server();
    println!("Metrics server stopped");
    Ok(())
}
