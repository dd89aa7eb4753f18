//! One connection: optional TLS handshake, HTTP/1.1 with limits, a deadline.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::rt::{Read, Write};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};

use super::config::Limits;
use super::service::{Shared, respond};

/// How every connection of one server is served.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) shared: Arc<Shared>,
    pub(crate) limits: Limits,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<super::tls::Tls>,
}

impl Conn {
    pub(crate) fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        {
            self.tls.is_some()
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }

    /// Serves `stream` until the client closes it, its deadline passes or
    /// `stop` turns true (then at most `shutdown_timeout` more).
    pub(crate) async fn serve(&self, stream: TcpStream, stop: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let deadline = Instant::now() + self.limits.connection_deadline;
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &self.tls {
            // The handshake is bounded like the request headers are.
            let handshake = timeout(self.limits.header_read_timeout, acceptor.0.accept(stream));
            let mut stop_handshake = stop.clone();
            let stream = tokio::select! {
                result = handshake => match result {
                    Ok(Ok(stream)) => stream,
                    _ => return,
                },
                _ = stop_handshake.wait_for(|stop| *stop) => return,
            };
            return self.http(TokioIo::new(stream), stop, deadline).await;
        }
        self.http(TokioIo::new(stream), stop, deadline).await;
    }

    async fn http<I>(&self, io: I, mut stop: watch::Receiver<bool>, deadline: Instant)
    where
        I: Read + Write + Unpin + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        let service = service_fn(move |request| {
            let shared = Arc::clone(&shared);
            async move { Ok::<_, Infallible>(respond(shared, request).await) }
        });
        let connection = self.shared.http.serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stop.wait_for(|stop| *stop) => {}
            () = sleep_until(deadline) => {}
        }
        // Finish the response in flight, if any, then close; a client that
        // is half-way through its headers gets no more time than that.
        connection.as_mut().graceful_shutdown();
        let grace = self.limits.shutdown_timeout.min(Duration::from_secs(5));
        let _ = timeout(grace, connection).await;
    }
}
