//! Host name lookup inside the push's deadline, on a detached thread that nothing waits for once the deadline passes.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::detached::{self, Cap};

/// A blocking lookup of `host`, as `ToSocketAddrs` does it.
pub(super) type Lookup = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

/// The system resolver.
pub(super) fn system_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(Iterator::collect)
}

/// Lookups still running, abandoned ones included; beyond 4 a push fails
/// at once instead of adding another stuck thread.
static LOOKUPS: Cap = Cap::new(4);

/// The addresses of `host`: itself when it is an IP address, else what
/// `lookup` answers, on a detached thread.
///
/// The system resolver (`getaddrinfo`, which honours `/etc/hosts`,
/// nsswitch and the resolv.conf options) blocks and cannot be cancelled.
/// tokio runs it with `spawn_blocking`, which ties it to the runtime: a
/// lookup that never answers holds the push past its timeout, and delays the
/// shutdown of the caller's runtime until the resolver gives up (30 s and
/// more). Here it runs on a thread of its own: the push stops waiting at its
/// deadline, and the thread ends when the resolver does, holding nothing but
/// the host name. An async resolver (hickory) would be cancellable but
/// would bypass nsswitch and add a score of crates. IP addresses are not
/// looked up at all.
pub(super) async fn resolve(host: &str, port: u16, lookup: Lookup) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let Some(slot) = LOOKUPS.take() else {
        return Err(io::Error::other(format!(
            "{} DNS lookups are still pending",
            LOOKUPS.max()
        )));
    };
    let host = host.to_owned();
    let resolved = detached::run("insa-metrics-dns", move || {
        let resolved = lookup(&host, port);
        drop(slot);
        resolved
    })
    .await;
    match resolved {
        Ok(Ok(addrs)) if addrs.is_empty() => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the host name has no address",
        )),
        Ok(resolved) => resolved,
        Err(detached::DetachedError::NoThread(error)) => Err(error),
        Err(detached::DetachedError::Panicked) => Err(io::Error::other("the DNS lookup panicked")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable_lookup(_: &str, _: u16) -> io::Result<Vec<SocketAddr>> {
        unreachable!("an IP address is not looked up")
    }

    #[tokio::test]
    async fn ip_addresses_are_not_looked_up() {
        let addrs = resolve("::1", 9091, unreachable_lookup).await.unwrap();
        assert_eq!(addrs, vec!["[::1]:9091".parse().unwrap()]);
        let addrs = resolve("127.0.0.1", 80, unreachable_lookup).await.unwrap();
        assert_eq!(addrs, vec!["127.0.0.1:80".parse().unwrap()]);
    }

    #[tokio::test]
    async fn names_are_looked_up() {
        let addrs = resolve("localhost", 9091, system_lookup).await.unwrap();
        assert!(
            addrs.iter().all(|addr| addr.ip().is_loopback()),
            "{addrs:?}"
        );
    }
}
