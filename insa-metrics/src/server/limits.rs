//! The server's limits: their defaults (written here only), their checks, and the clamp to the file-descriptor limit.

use std::time::Duration;

use crate::Error;

/// The limits that keep one bad client from harming the exporter or the
/// other clients. The README's "Limits" table is tested against
/// [`Limits::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_peer: usize,
    pub(crate) max_requests_per_connection: usize,
    pub(crate) connection_deadline: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) scrape_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(5),
            max_header_bytes: 8 * 1024,
            max_connections: 128,
            max_connections_per_peer: 16,
            max_requests_per_connection: 100,
            connection_deadline: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(1),
            // Prometheus' default scrape timeout: past it, nobody waits.
            scrape_wait: Duration::from_secs(10),
        }
    }
}

/// Connections being turned away at once (their request read, a 503 sent,
/// their close awaited), in all; beyond it a connection is closed unanswered.
pub(crate) const MAX_REFUSALS: usize = 32;
/// The same, for one peer: one peer's refusals cannot take all of them.
pub(crate) const MAX_REFUSALS_PER_PEER: usize = 4;
/// How long a refusal waits for the request, and then for the client to
/// close once it has its 503.
pub(crate) const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// Connections the kernel queues until the server accepts them (capped by
/// `net.core.somaxconn`). More than one peer's reconnecting clients can
/// keep in flight, so that they cannot fill the queue and make the kernel
/// drop other peers' connection attempts (each drop costs a client a 1 s
/// SYN retransmission). std's listeners queue 128.
pub(crate) const LISTEN_BACKLOG: i32 = 1024;

/// The accepted range of `max_header_bytes`: a request line and a few
/// headers at least, and no more than hyper buffers (about 400 KiB).
const HEADER_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=256 * 1024;

/// File descriptors left to the rest of the process when `max_connections`
/// is clamped to the descriptor limit.
const RESERVED_DESCRIPTORS: u64 = 64;

impl Limits {
    /// The limits checked, with `max_connections` clamped to what the
    /// process's file-descriptor limit allows (said on stderr) and the
    /// per-peer cap to the total.
    pub(crate) fn checked(mut self) -> Result<Limits, Error> {
        for (name, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("keep_alive_timeout", self.keep_alive_timeout),
            ("connection_deadline", self.connection_deadline),
            // Zero would close every connection at once, answered or not.
            ("shutdown_timeout", self.shutdown_timeout),
            ("scrape_wait", self.scrape_wait),
        ] {
            if value.is_zero() {
                return Err(Error::config(format!("{name} must be more than 0")));
            }
        }
        for (name, value) in [
            ("max_connections", self.max_connections),
            ("max_connections_per_peer", self.max_connections_per_peer),
            (
                "max_requests_per_connection",
                self.max_requests_per_connection,
            ),
        ] {
            if value == 0 {
                return Err(Error::config(format!("{name} must be at least 1")));
            }
        }
        if !HEADER_BYTES_RANGE.contains(&self.max_header_bytes) {
            return Err(Error::config(format!(
                "max_header_bytes must be within {HEADER_BYTES_RANGE:?}, not {}",
                self.max_header_bytes
            )));
        }
        if let Some(allowed) = descriptor_limit().and_then(allowed_connections) {
            if self.max_connections > allowed {
                eprintln!(
                    "insa-metrics: max_connections {} is more than the file-descriptor limit \
                     (RLIMIT_NOFILE) allows; the server takes at most {allowed} connections",
                    self.max_connections
                );
                self.max_connections = allowed;
            }
        }
        self.max_connections_per_peer = self.max_connections_per_peer.min(self.max_connections);
        Ok(self)
    }
}

/// The most connections the server may hold with this soft descriptor
/// limit: every descriptor the process may open, less those of the
/// refusals in flight and a reserve for the rest of the process. `None`
/// when the limit leaves room for no connection at all (the server then
/// keeps the configured value and accept errors are backed off).
fn allowed_connections(descriptor_limit: u64) -> Option<usize> {
    let allowed = descriptor_limit
        .checked_sub(RESERVED_DESCRIPTORS + MAX_REFUSALS as u64)
        .filter(|allowed| *allowed > 0)?;
    Some(usize::try_from(allowed).unwrap_or(usize::MAX))
}

/// The soft `RLIMIT_NOFILE` of the process, `None` when unlimited or unknown.
#[cfg(unix)]
fn descriptor_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn descriptor_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_clamped_below_the_descriptor_limit() {
        assert_eq!(allowed_connections(1024), Some(1024 - 64 - 32));
        assert_eq!(allowed_connections(96), None);
        assert_eq!(
            allowed_connections(u64::MAX).map(|n| n > 1 << 20),
            Some(true)
        );
    }

    #[test]
    fn zero_and_out_of_range_values_are_errors() {
        let zero_deadline = Limits {
            connection_deadline: Duration::ZERO,
            ..Limits::default()
        };
        assert!(zero_deadline.checked().is_err());
        let zero_shutdown = Limits {
            shutdown_timeout: Duration::ZERO,
            ..Limits::default()
        };
        let error = zero_shutdown.checked().unwrap_err();
        assert!(error.to_string().contains("shutdown_timeout"), "{error}");
        let no_connection = Limits {
            max_connections: 0,
            ..Limits::default()
        };
        assert!(no_connection.checked().is_err());
        let tiny_head = Limits {
            max_header_bytes: 100,
            ..Limits::default()
        };
        assert!(tiny_head.checked().is_err());
        let per_peer = Limits {
            max_connections: 8,
            max_connections_per_peer: 100,
            ..Limits::default()
        };
        assert_eq!(per_peer.checked().unwrap().max_connections_per_peer, 8);
    }

    /// The README's table of defaults says what the code does.
    #[test]
    fn the_readme_states_the_defaults() {
        let readme = include_str!("../../../README.md");
        let defaults = Limits::default();
        let seconds = |duration: Duration| format!("{} s", duration.as_secs());
        for (name, value) in [
            ("header_read_timeout", seconds(defaults.header_read_timeout)),
            ("keep_alive_timeout", seconds(defaults.keep_alive_timeout)),
            (
                "max_header_bytes",
                format!("{} KiB", defaults.max_header_bytes / 1024),
            ),
            ("max_connections", defaults.max_connections.to_string()),
            (
                "max_connections_per_peer",
                defaults.max_connections_per_peer.to_string(),
            ),
            (
                "max_requests_per_connection",
                defaults.max_requests_per_connection.to_string(),
            ),
            ("connection_deadline", seconds(defaults.connection_deadline)),
            ("shutdown_timeout", seconds(defaults.shutdown_timeout)),
            ("scrape_wait", seconds(defaults.scrape_wait)),
        ] {
            let row = format!("| `{name}` | {value} |");
            assert!(readme.contains(&row), "README: no row starting {row}");
        }
    }
}
