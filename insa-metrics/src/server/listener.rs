//! The accept loop: the connection cap, and bounded graceful shutdown.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::config::Limits;
use super::conn::Conn;

/// Written to a connection beyond the cap before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-length: 0\r\nconnection: close\r\nretry-after: 1\r\n\r\n";

/// Accepts connections until `shutdown` resolves, then closes the listener,
/// lets the connections finish for at most `limits.shutdown_timeout` and
/// closes the rest. Every socket is closed when it returns.
pub(crate) async fn run(
    listener: TcpListener,
    conn: Conn,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let conn = Arc::new(conn);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => match Arc::clone(&permits).try_acquire_owned() {
                    Ok(permit) => {
                        let conn = Arc::clone(&conn);
                        let stop = stop_rx.clone();
                        tasks.spawn(async move {
                            conn.serve(stream, stop).await;
                            drop(permit);
                        });
                    }
                    Err(_) => refuse(stream, conn.is_tls()),
                },
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
    if tokio::time::timeout(limits.shutdown_timeout, drained)
        .await
        .is_err()
    {
        tasks.shutdown().await;
    }
}

/// Answers 503 on a plain connection beyond the cap (TLS ones are just
/// closed), without waiting for anything.
fn refuse(stream: TcpStream, tls: bool) {
    if !tls {
        let _ = stream.try_write(BUSY);
    }
    drop(stream);
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
