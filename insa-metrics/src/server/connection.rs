//! How one connection is served: TLS handshake, HTTP/1.1 with limits, idle and lifetime bounds, a request cap.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::header::{CONNECTION, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};

use super::activity::{Activity, Tracked};
use super::admission::Peer;
use super::limits::Limits;
use super::service::Endpoint;

/// The policy every connection of one server is served by.
#[derive(Debug)]
pub(crate) struct ConnectionPolicy {
    endpoint: Arc<Endpoint>,
    http: http1::Builder,
    limits: Limits,
    #[cfg(feature = "tls")]
    tls: Option<super::tls::ServerTls>,
}

impl ConnectionPolicy {
    pub(crate) fn new(
        endpoint: Arc<Endpoint>,
        limits: Limits,
        #[cfg(feature = "tls")] tls: Option<super::tls::ServerTls>,
    ) -> ConnectionPolicy {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_header_size(limits.max_header_bytes)
            .keep_alive(true);
        ConnectionPolicy {
            endpoint,
            http,
            limits,
            #[cfg(feature = "tls")]
            tls,
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

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

    /// Serves `stream` from `peer` until the client closes it, it is idle for
    /// the keep-alive timeout, its deadline passes or `stop` turns true
    /// (then at most the shutdown timeout more).
    pub(crate) async fn serve(&self, stream: TcpStream, peer: Peer, stop: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let deadline = Instant::now() + self.limits.connection_deadline;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            // The handshake is bounded like the request headers are.
            let handshake = timeout(self.limits.header_read_timeout, tls.accept(stream));
            let mut stop_handshake = stop.clone();
            let stream = tokio::select! {
                result = handshake => match result {
                    Ok(Ok(stream)) => stream,
                    _ => return,
                },
                _ = stop_handshake.wait_for(|stop| *stop) => return,
            };
            return self.http(stream, peer, stop, deadline).await;
        }
        self.http(stream, peer, stop, deadline).await;
    }

    async fn http<S>(
        &self,
        stream: S,
        peer: Peer,
        mut stop: watch::Receiver<bool>,
        deadline: Instant,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::default());
        let io = TokioIo::new(Tracked::new(stream, Arc::clone(&activity)));
        let endpoint = Arc::clone(&self.endpoint);
        let served = Arc::new(AtomicUsize::new(0));
        let cap = self.limits.max_requests_per_connection;
        let service = service_fn({
            let activity = Arc::clone(&activity);
            move |request| {
                let (endpoint, served) = (Arc::clone(&endpoint), Arc::clone(&served));
                let busy = activity.busy();
                async move {
                    let mut response = endpoint.respond(request, peer).await;
                    drop(busy);
                    // The last request a connection may carry: hyper closes
                    // it once this answer is sent.
                    if served.fetch_add(1, Ordering::Relaxed) + 1 >= cap {
                        response
                            .headers_mut()
                            .insert(CONNECTION, HeaderValue::from_static("close"));
                    }
                    Ok::<_, Infallible>(response)
                }
            }
        });
        let connection = self.http.serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stop.wait_for(|stop| *stop) => {}
            () = sleep_until(deadline) => {}
            () = activity.idle_for(self.limits.keep_alive_timeout) => {}
        }
        // Finish the response in flight, if any, then close; a client that
        // is half-way through its headers gets no more time than that.
        connection.as_mut().graceful_shutdown();
        let grace = self.limits.shutdown_timeout.min(Duration::from_secs(5));
        let _ = timeout(grace, connection).await;
    }
}
