//! The accept loop: admission of each connection, and bounded graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::admission::{Admission, Decision, Peer};
use super::connection::ConnectionPolicy;
use super::refusal::refuse;

/// Accepts connections until `shutdown` resolves, then closes the listener,
/// lets the connections finish for at most the shutdown timeout and closes
/// the rest. Every socket is closed when it returns.
pub(crate) async fn run(
    listener: TcpListener,
    policy: ConnectionPolicy,
    shutdown: impl Future<Output = ()>,
) {
    let admission = Admission::new(policy.limits());
    let shutdown_timeout = policy.limits().shutdown_timeout;
    let policy = Arc::new(policy);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    dispatch(stream, addr, &admission, &policy, &stop_rx, &mut tasks);
                }
                Err(error) => {
                    if !is_per_connection(&error) {
                        // Out of file descriptors or memory: back off instead
                        // of spinning.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            },
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(shutdown_timeout, drained)
        .await
        .is_err()
    {
        tasks.shutdown().await;
    }
}

/// Serves, refuses or closes a new connection, as its peer's and the
/// server's counts allow.
fn dispatch(
    stream: TcpStream,
    addr: SocketAddr,
    admission: &Admission,
    policy: &Arc<ConnectionPolicy>,
    stop: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) {
    match admission.admit(Peer::of(addr)) {
        Decision::Serve(slot) => {
            let (policy, stop) = (Arc::clone(policy), stop.clone());
            tasks.spawn(async move {
                policy.serve(stream, slot.peer(), stop).await;
                drop(slot);
            });
        }
        Decision::Refuse(slot) => {
            let max_head_bytes = policy.limits().max_header_bytes;
            tasks.spawn(refuse(stream, policy.is_tls(), max_head_bytes, slot));
        }
        Decision::Close => drop(stream),
    }
}

/// Errors of one connection that was reset before it was accepted.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}
