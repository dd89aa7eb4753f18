//! The `/metrics` server: [`MetricsServer`], its handle, and the global start/stop.

mod activity;
mod admission;
mod auth;
mod config;
mod connection;
mod limits;
mod listener;
mod path;
mod refusal;
mod service;
#[cfg(feature = "tls")]
mod tls;
mod verification;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

pub use config::{BIND_ADDRESS_ENV, MetricsServerBuilder};

use crate::Error;
use connection::ConnectionPolicy;

/// A bound metrics server, ready to serve.
///
/// Build one with [`MetricsServer::builder`], then either
/// [`start`](Self::start) it on a background thread (sync programs), or
/// [`serve`](Self::serve) it on the caller's tokio runtime.
///
/// # Examples
///
/// ```
/// use insa_metrics::MetricsServer;
///
/// let server = MetricsServer::builder().port(0).path("/metrics").build()?;
/// let handle = server.start()?;
/// println!("serving http://{}/metrics", handle.local_addr());
/// handle.stop(); // returns once the port is free again
/// # Ok::<(), insa_metrics::Error>(())
/// ```
#[derive(Debug)]
pub struct MetricsServer {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    policy: ConnectionPolicy,
}

impl MetricsServer {
    /// A builder with the defaults: `127.0.0.1:9091`, `/metrics`, the global
    /// registry.
    pub fn builder() -> MetricsServerBuilder {
        MetricsServerBuilder::default()
    }

    /// The address the server is bound to (the real port when 0 was asked).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The most connections the server takes at once: the configured value,
    /// or less when the process's file-descriptor limit (`RLIMIT_NOFILE`)
    /// leaves room for fewer.
    #[must_use]
    pub fn max_connections(&self) -> usize {
        self.policy.limits().max_connections
    }

    /// Serves on the current tokio runtime until `shutdown` resolves; the
    /// returned future completes once every connection is closed and the
    /// port is free (at most the shutdown timeout after `shutdown`).
    ///
    /// ```
    /// # async fn run() -> Result<(), insa_metrics::Error> {
    /// use insa_metrics::MetricsServer;
    ///
    /// let server = MetricsServer::builder().port(0).build()?;
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let task = tokio::spawn(server.serve(async {
    ///     let _ = stopped.await;
    /// }));
    /// // … the application runs …
    /// let _ = stop.send(());
    /// task.await.expect("server task").expect("server");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the listener cannot join the runtime (no tokio
    /// runtime with I/O enabled).
    pub async fn serve<F>(self, shutdown: F) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send,
    {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        listener::run(listener, self.policy, shutdown).await;
        Ok(())
    }

    /// Serves on a background thread with its own single-threaded runtime,
    /// until [`ServerHandle::stop`] (or the handle is dropped).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the runtime or the thread cannot be created.
    pub fn start(self) -> Result<ServerHandle, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let addr = self.local_addr;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("insa-metrics-server".to_owned())
            .spawn(move || {
                let serve = self.serve(async {
                    let _ = stopped.await;
                });
                let _ = runtime.block_on(serve);
            })?;
        Ok(ServerHandle {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// A server running on its background thread; dropping it stops it too.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use insa_metrics::MetricsServer;
///
/// let handle = MetricsServer::builder()
///     .port(0)
///     .shutdown_timeout(Duration::from_millis(500))
///     .build()?
///     .start()?;
/// let addr = handle.local_addr();
/// // Bounded by the shutdown timeout, whatever the connections and the
/// // collectors are doing; the port is free once it returns.
/// handle.stop();
/// std::net::TcpListener::bind(addr)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping the handle stops the server"]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server: new connections are refused at once, responses in
    /// flight get the shutdown timeout to finish, then every connection is
    /// closed. Returns once the port can be bound again.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shut_down();
    }
}

static GLOBAL_SERVER: Mutex<Option<ServerHandle>> = Mutex::new(None);

/// Starts the process-wide metrics server on `port` (0 picks a free one) on a
/// background thread, serving [`get_metrics_text()`](crate::get_metrics_text)
/// on `/metrics`. It listens on `127.0.0.1` unless [`BIND_ADDRESS_ENV`] names
/// another address. Returns the address it listens on.
///
/// ```
/// let addr = insa_metrics::start_metrics_server(0)?;
/// assert!(addr.ip().is_loopback() && addr.port() != 0);
/// insa_metrics::stop_metrics_server();
/// # Ok::<(), insa_metrics::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::AlreadyRunning`] when it is already running, [`Error::Bind`]
/// (naming the address) when the port is taken, [`Error::Config`] for an
/// invalid [`BIND_ADDRESS_ENV`].
pub fn start_metrics_server(port: u16) -> Result<SocketAddr, Error> {
    let mut global = GLOBAL_SERVER.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(running) = global.as_ref() {
        return Err(Error::AlreadyRunning(running.local_addr()));
    }
    let handle = MetricsServer::builder().port(port).build()?.start()?;
    let addr = handle.local_addr();
    *global = Some(handle);
    Ok(addr)
}

/// Stops the process-wide metrics server, if it runs; returns once its port
/// can be bound again. Calling it again does nothing.
pub fn stop_metrics_server() {
    let mut global = GLOBAL_SERVER.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = global.take() {
        handle.stop();
    }
}
