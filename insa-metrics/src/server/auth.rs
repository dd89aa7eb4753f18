//! HTTP basic auth against bcrypt hashes, in constant time for unknown users.

use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{AUTHORIZATION, HeaderMap};

use super::admission::Peer;
use super::verification::VerificationQueue;
use crate::Error;

/// The bcrypt costs accepted at `build()`. Each step doubles the time of a
/// verification: cost 10 takes tens of milliseconds, 14 about a second, 16
/// seconds (and the cost-31 maximum of bcrypt, days).
pub(crate) const BCRYPT_COSTS: RangeInclusive<u32> = 4..=14;

/// The outcome of checking a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The credentials of a configured user.
    Allowed,
    /// No, wrong or unknown credentials.
    Denied,
    /// The credentials need a bcrypt verification and the queue, or this
    /// peer's share of it, is full: the request is refused unchecked (the
    /// same for every user, known or not).
    Busy,
}

/// The configured users and a cache of the last password each one proved.
pub(crate) struct BasicAuth {
    users: HashMap<String, String>,
    /// A hash no password matches, verified for unknown users so that they
    /// take as long as a wrong password.
    dummy: String,
    /// Verified passwords, so a scrape every few seconds does not pay for
    /// bcrypt each time; one entry per configured user at most.
    verified: Mutex<HashMap<String, Vec<u8>>>,
    /// Verifications running or waiting; remembered credentials skip it.
    queue: VerificationQueue,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&str> = self.users.keys().map(String::as_str).collect();
        users.sort_unstable();
        f.debug_struct("BasicAuth")
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    pub(crate) fn new(users: Vec<(String, String)>) -> Result<BasicAuth, Error> {
        // The dummy hash must cost what every configured hash costs: an
        // unknown user has no cost of its own, so with mixed costs the time of
        // a wrong answer would tell known users from unknown ones.
        let mut cost: Option<(u32, String)> = None;
        let mut map = HashMap::new();
        for (user, hash) in users {
            let user_cost = check_user(&user, &hash)?;
            match &cost {
                None => cost = Some((user_cost, user.clone())),
                Some((first, first_user)) if *first != user_cost => {
                    return Err(Error::config(format!(
                        "basic auth users {first_user:?} (bcrypt cost {first}) and {user:?} \
                         (cost {user_cost}) must use the same bcrypt cost, or the response \
                         time would tell which users exist"
                    )));
                }
                Some(_) => {}
            }
            if map.contains_key(&user) {
                return Err(Error::config(format!(
                    "basic auth user {user:?} is given twice: only one of its hashes would work"
                )));
            }
            map.insert(user, hash);
        }
        let Some((cost, _)) = cost else {
            return Err(Error::config("basic auth needs at least one user"));
        };
        let dummy = bcrypt::hash("insa-metrics: no user has this password", cost)
            .map_err(|error| Error::config_caused("bcrypt cannot hash at this cost", error))?;
        Ok(BasicAuth {
            users: map,
            dummy,
            verified: Mutex::default(),
            queue: VerificationQueue::default(),
        })
    }

    /// Whether the request of `peer` carries the credentials of a
    /// configured user.
    pub(crate) async fn check(&self, headers: &HeaderMap, peer: Peer) -> Verdict {
        let Some((user, password)) = credentials(headers) else {
            return Verdict::Denied;
        };
        let known = self.users.get(&user);
        if known.is_some() && self.remembers(&user, &password) {
            return Verdict::Allowed;
        }
        // Known or not, the same queue and the same bcrypt cost.
        let Some(place) = self.queue.enter(peer) else {
            return Verdict::Busy;
        };
        let hash = known.unwrap_or(&self.dummy).clone();
        let matched = place.verify(password.clone(), hash).await;
        if matched && known.is_some() {
            self.verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(user, password.into_bytes());
            return Verdict::Allowed;
        }
        Verdict::Denied
    }

    fn remembers(&self, user: &str, password: &str) -> bool {
        let cache = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(user)
            .is_some_and(|proved| constant_time_eq(proved, password.as_bytes()))
    }
}

/// Checks one configured user and hash; returns the hash's bcrypt cost.
fn check_user(user: &str, hash: &str) -> Result<u32, Error> {
    if user.is_empty() {
        return Err(Error::config("a basic auth user name is empty"));
    }
    if user.contains(':') {
        return Err(Error::config(format!(
            "basic auth user {user:?} contains ':'"
        )));
    }
    let parts = bcrypt::HashParts::from_str(hash).map_err(|error| {
        Error::config_caused(
            format!("basic auth user {user:?}: not a bcrypt hash"),
            error,
        )
    })?;
    let cost = parts.get_cost();
    if !BCRYPT_COSTS.contains(&cost) {
        return Err(Error::config(format!(
            "basic auth user {user:?}: bcrypt cost {cost} is outside {BCRYPT_COSTS:?} \
             (each step doubles the time of a verification)"
        )));
    }
    Ok(cost)
}

/// The user and password of a `Basic` `Authorization` header.
fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::verification::{
        MAX_PENDING_VERIFICATIONS, MAX_PENDING_VERIFICATIONS_PER_PEER,
    };
    use hyper::header::HeaderValue;
    use std::sync::Arc;

    fn header(user: &str, password: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        headers
    }

    fn peer(ip: &str) -> Peer {
        Peer::of(std::net::SocketAddr::new(ip.parse().unwrap(), 1))
    }

    #[tokio::test]
    async fn checks_users_and_passwords() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::new(vec![("prometheus".into(), hash)]).unwrap();
        let me = peer("127.0.0.1");
        let allowed = async |headers: HeaderMap| auth.check(&headers, me).await == Verdict::Allowed;
        assert!(allowed(header("prometheus", "s3cret")).await);
        // Again, from the cache.
        assert!(allowed(header("prometheus", "s3cret")).await);
        assert!(!allowed(header("prometheus", "wrong")).await);
        assert!(!allowed(header("nobody", "s3cret")).await);
        assert!(!allowed(HeaderMap::new()).await);
        let mut bearer = HeaderMap::new();
        bearer.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert!(!allowed(bearer).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flooding_peer_is_refused_beyond_its_budget_and_others_are_not() {
        let auth = Arc::new(
            BasicAuth::new(vec![
                ("prometheus".into(), bcrypt::hash("s3cret", 6).unwrap()),
                ("alice".into(), bcrypt::hash("wonderland", 6).unwrap()),
            ])
            .unwrap(),
        );
        let (flooder, scraper) = (peer("127.0.0.2"), peer("127.0.0.1"));
        // Alice's password is proved once, so she is remembered.
        assert_eq!(
            auth.check(&header("alice", "wonderland"), scraper).await,
            Verdict::Allowed
        );
        // Hold the bcrypt slot, so that no verification ends while we look.
        let held = auth.queue.hold_slot().await;
        let flood: Vec<_> = (0..4 * MAX_PENDING_VERIFICATIONS)
            .map(|i| {
                let auth = Arc::clone(&auth);
                tokio::spawn(async move {
                    auth.check(&header("prometheus", &format!("guess-{i}")), flooder)
                        .await
                })
            })
            .collect();
        // Wait until the flooder's budget is full and every other request of
        // the flood is answered (observable state, no timing).
        let refused = 4 * MAX_PENDING_VERIFICATIONS - MAX_PENDING_VERIFICATIONS_PER_PEER;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while auth.queue.pending() < MAX_PENDING_VERIFICATIONS_PER_PEER
            || flood.iter().filter(|request| request.is_finished()).count() < refused
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the flood never settled"
            );
            tokio::task::yield_now().await;
        }
        // The flooder, known user or not: refused unchecked, at once.
        assert_eq!(
            auth.check(&header("nobody", "x"), flooder).await,
            Verdict::Busy
        );
        // A remembered client skips the queue.
        assert_eq!(
            auth.check(&header("alice", "wonderland"), flooder).await,
            Verdict::Allowed
        );
        // Another peer still gets a place, and is verified once the slot is free.
        let newcomer = tokio::spawn({
            let auth = Arc::clone(&auth);
            async move { auth.check(&header("prometheus", "s3cret"), scraper).await }
        });
        drop(held);
        assert_eq!(newcomer.await.unwrap(), Verdict::Allowed);
        let mut busy = 0;
        for request in flood {
            match request.await.unwrap() {
                Verdict::Busy => busy += 1,
                Verdict::Denied => {}
                Verdict::Allowed => panic!("a wrong password was allowed"),
            }
        }
        assert_eq!(busy, refused, "refused at once");
        assert_eq!(auth.queue.pending(), 0);
    }

    #[test]
    fn rejects_bad_configuration() {
        let hash = bcrypt::hash("x", 4).unwrap();
        for users in [
            vec![("a".into(), "plain".into())],
            vec![("a:b".into(), hash.clone())],
            vec![(String::new(), hash.clone())],
            Vec::new(),
        ] {
            assert!(BasicAuth::new(users).is_err());
        }
        // One cost for every user: an unknown user must take as long as any
        // wrong password.
        let dearer = bcrypt::hash("y", 5).unwrap();
        let error =
            BasicAuth::new(vec![("a".into(), hash.clone()), ("b".into(), dearer)]).unwrap_err();
        assert!(error.to_string().contains("same bcrypt cost"), "{error}");
        let same = bcrypt::hash("y", 4).unwrap();
        assert!(
            BasicAuth::new(vec![("a".into(), hash.clone()), ("b".into(), same.clone())]).is_ok()
        );
        // One name twice: one of the two passwords would silently not work.
        let error = BasicAuth::new(vec![
            ("a".into(), hash.clone()),
            ("b".into(), same.clone()),
            ("a".into(), same),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("\"a\""), "{error}");
        assert!(error.to_string().contains("twice"), "{error}");
        // Names are compared as sent: case matters.
        assert!(BasicAuth::new(vec![("a".into(), hash.clone()), ("A".into(), hash)]).is_ok());
    }

    #[test]
    fn a_bcrypt_cost_outside_the_range_is_an_error_at_once() {
        // Cost 31 would take days to hash the dummy; the hash is only parsed.
        let cost_31 = "$2b$31$xrEloq3Q1Q1vKTWC6FMYiePGtIfW5EXaEpkoBwgGlT4tc/zCrfO7y";
        let started = std::time::Instant::now();
        let error = BasicAuth::new(vec![("a".into(), cost_31.into())]).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(error.to_string().contains("cost 31"), "{error}");
    }
}
