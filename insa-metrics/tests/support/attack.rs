//! A hostile peer (`127.0.0.2`): many client tasks, aborted (and so closed) on drop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{OTHER_HOST, connect_from};

/// The hostile peer's client tasks.
#[derive(Debug)]
pub struct Attack {
    tasks: Vec<JoinHandle<()>>,
    /// Attackers that have connected at least once.
    connected: Arc<AtomicUsize>,
}

impl Attack {
    /// Starts `count` tasks of `attacker`, each given the shared count of
    /// attackers that have connected (see [`hostile_connection`]).
    pub fn launch<F, Fut>(count: usize, attacker: F) -> Attack
    where
        F: Fn(Arc<AtomicUsize>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let connected = Arc::new(AtomicUsize::new(0));
        let tasks = (0..count)
            .map(|_| tokio::spawn(attacker(Arc::clone(&connected))))
            .collect();
        Attack { tasks, connected }
    }

    /// Waits until every attacker has connected once (observable state).
    pub async fn wait_connected(&self) {
        let started = Instant::now();
        while self.connected.load(Ordering::SeqCst) < self.tasks.len() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "only {} of {} attackers connected",
                self.connected.load(Ordering::SeqCst),
                self.tasks.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Attack {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A connection from the hostile peer, retried until it is made; the first
/// one of an attacker (`first`) is counted in `connected`.
pub async fn hostile_connection(
    addr: SocketAddr,
    connected: &AtomicUsize,
    first: &mut bool,
) -> TcpStream {
    loop {
        if let Ok(stream) = connect_from(OTHER_HOST, addr).await {
            if std::mem::take(first) {
                connected.fetch_add(1, Ordering::SeqCst);
            }
            return stream;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
