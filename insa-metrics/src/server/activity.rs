//! When a connection last moved a byte or served a request: what the keep-alive idle limit measures.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// A connection's last activity. Idle means no request in progress and no
/// byte read or written; a client trickling its headers is not idle (the
/// header read timeout bounds it), nor is a slow encoding.
#[derive(Debug)]
pub(crate) struct Activity {
    opened: Instant,
    /// Milliseconds from `opened` to the last byte moved.
    last: AtomicU64,
    requests_in_progress: AtomicUsize,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            opened: Instant::now(),
            last: AtomicU64::new(0),
            requests_in_progress: AtomicUsize::new(0),
        }
    }
}

impl Activity {
    fn touch(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.fetch_max(now, Ordering::Relaxed);
    }

    /// Marks a request in progress until the guard is dropped.
    pub(crate) fn busy(self: &Arc<Self>) -> Busy {
        self.requests_in_progress.fetch_add(1, Ordering::Relaxed);
        Busy(Arc::clone(self))
    }

    /// How long the connection has been idle.
    fn idle(&self) -> Duration {
        if self.requests_in_progress.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = self.opened + Duration::from_millis(self.last.load(Ordering::Relaxed));
        last.elapsed()
    }

    /// Resolves once the connection has been idle for `limit`.
    pub(crate) async fn idle_for(&self, limit: Duration) {
        loop {
            let idle = self.idle();
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle).await;
        }
    }
}

/// A request in progress.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.requests_in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that records its activity.
#[derive(Debug)]
pub(crate) struct Tracked<S> {
    stream: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    pub(crate) fn new(stream: S, activity: Arc<Activity>) -> Tracked<S> {
        Tracked { stream, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_counts_from_the_last_activity_and_not_while_busy() {
        let activity = Arc::new(Activity::default());
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(activity.idle(), Duration::from_secs(3));
        let busy = activity.busy();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(activity.idle(), Duration::ZERO);
        drop(busy);
        assert_eq!(activity.idle(), Duration::ZERO);
        let started = Instant::now();
        activity.idle_for(Duration::from_secs(5)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
