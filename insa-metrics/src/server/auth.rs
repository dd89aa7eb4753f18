//! HTTP basic auth against bcrypt hashes, in constant time for unknown users.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{AUTHORIZATION, HeaderMap};
use tokio::sync::Semaphore;

use crate::Error;

/// How many bcrypt verifications may be running or waiting at once; beyond
/// it a request that needs one is answered "busy" at once. A flood of wrong
/// passwords then delays a legitimate client that is not remembered yet
/// (Prometheus after a restart) by at most this many verifications, and
/// costs no memory beyond it.
pub(crate) const MAX_PENDING_VERIFICATIONS: usize = 4;

/// The outcome of checking a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The credentials of a configured user.
    Allowed,
    /// No, wrong or unknown credentials.
    Denied,
    /// The credentials need a bcrypt verification and too many are pending:
    /// the request is refused unchecked (the same for every user, known or
    /// not).
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
    verified: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    /// One bcrypt verification at a time: a flood of wrong passwords costs
    /// the host one core at most, and remembered credentials skip the queue.
    bcrypt_slot: Semaphore,
    /// Verifications running or waiting for the slot.
    pending: AtomicUsize,
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
            if user.contains(':') {
                return Err(Error::Config(format!(
                    "basic auth user {user:?} contains ':'"
                )));
            }
            let parts = bcrypt::HashParts::from_str(&hash).map_err(|error| {
                Error::Config(format!(
                    "basic auth user {user:?}: not a bcrypt hash: {error}"
                ))
            })?;
            match &cost {
                None => cost = Some((parts.get_cost(), user.clone())),
                Some((first, first_user)) if *first != parts.get_cost() => {
                    return Err(Error::Config(format!(
                        "basic auth users {first_user:?} (bcrypt cost {first}) and {user:?} \
                         (cost {}) must use the same bcrypt cost, or the response time \
                         would tell which users exist",
                        parts.get_cost()
                    )));
                }
                Some(_) => {}
            }
            map.insert(user, hash);
        }
        let Some((cost, _)) = cost else {
            return Err(Error::Config("basic auth needs at least one user".into()));
        };
        let dummy = bcrypt::hash("insa-metrics: no user has this password", cost)
            .map_err(|error| Error::Config(format!("bcrypt: {error}")))?;
        Ok(BasicAuth {
            users: map,
            dummy,
            verified: Arc::default(),
            bcrypt_slot: Semaphore::new(1),
            pending: AtomicUsize::new(0),
        })
    }

    /// Whether the request carries the credentials of a configured user.
    pub(crate) async fn check(&self, headers: &HeaderMap) -> Verdict {
        let Some((user, password)) = credentials(headers) else {
            return Verdict::Denied;
        };
        let known = self.users.get(&user);
        if known.is_some() {
            let cache = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if cache
                .get(&user)
                .is_some_and(|proved| constant_time_eq(proved, password.as_bytes()))
            {
                return Verdict::Allowed;
            }
        }
        // Known or not, the same queue and the same bcrypt cost.
        let Some(_pending) = Pending::enter(&self.pending) else {
            return Verdict::Busy;
        };
        let hash = known.unwrap_or(&self.dummy).clone();
        let candidate = password.clone();
        let Ok(_slot) = self.bcrypt_slot.acquire().await else {
            return Verdict::Denied;
        };
        // bcrypt takes tens of milliseconds on purpose: keep it off the
        // threads that serve connections.
        let matched = tokio::task::spawn_blocking(move || {
            bcrypt::verify(candidate.as_bytes(), &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if matched && known.is_some() {
            self.verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(user, password.into_bytes());
            return Verdict::Allowed;
        }
        Verdict::Denied
    }

    #[cfg(test)]
    fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }
}

/// One place in the bounded bcrypt queue, given back on drop (also when the
/// request is cancelled while it waits).
struct Pending<'a>(&'a AtomicUsize);

impl<'a> Pending<'a> {
    fn enter(pending: &'a AtomicUsize) -> Option<Pending<'a>> {
        pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < MAX_PENDING_VERIFICATIONS).then_some(n + 1)
            })
            .ok()
            .map(|_| Pending(pending))
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
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
    use hyper::header::HeaderValue;

    fn header(user: &str, password: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        headers
    }

    #[tokio::test]
    async fn checks_users_and_passwords() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::new(vec![("prometheus".into(), hash)]).unwrap();
        let allowed = async |headers: HeaderMap| auth.check(&headers).await == Verdict::Allowed;
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
    async fn a_full_queue_answers_busy_at_once_for_known_and_unknown_users() {
        let auth = Arc::new(
            BasicAuth::new(vec![
                ("prometheus".into(), bcrypt::hash("s3cret", 8).unwrap()),
                ("alice".into(), bcrypt::hash("wonderland", 8).unwrap()),
            ])
            .unwrap(),
        );
        // Alice's password is proved once, so she is remembered.
        assert_eq!(
            auth.check(&header("alice", "wonderland")).await,
            Verdict::Allowed
        );
        // Hold the bcrypt slot, so that no verification ends while we look.
        let held = auth.bcrypt_slot.acquire().await.unwrap();
        let flood: Vec<_> = (0..4 * MAX_PENDING_VERIFICATIONS)
            .map(|i| {
                let auth = Arc::clone(&auth);
                tokio::spawn(async move {
                    auth.check(&header("prometheus", &format!("guess-{i}")))
                        .await
                })
            })
            .collect();
        // Wait for the queue to fill (observable state, no timing).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while auth.pending() < MAX_PENDING_VERIFICATIONS {
            assert!(
                std::time::Instant::now() < deadline,
                "the queue never filled"
            );
            tokio::task::yield_now().await;
        }
        // Not remembered yet, known or unknown: refused unchecked, at once.
        assert_eq!(
            auth.check(&header("prometheus", "s3cret")).await,
            Verdict::Busy
        );
        assert_eq!(auth.check(&header("nobody", "s3cret")).await, Verdict::Busy);
        // A remembered client skips the queue.
        assert_eq!(
            auth.check(&header("alice", "wonderland")).await,
            Verdict::Allowed
        );
        drop(held);
        let mut busy = 0;
        for request in flood {
            match request.await.unwrap() {
                Verdict::Busy => busy += 1,
                Verdict::Denied => {}
                Verdict::Allowed => panic!("a wrong password was allowed"),
            }
        }
        assert_eq!(busy, 3 * MAX_PENDING_VERIFICATIONS, "refused at once");
        assert_eq!(auth.pending(), 0);
        // Once the flood is over, the legitimate client gets in.
        assert_eq!(
            auth.check(&header("prometheus", "s3cret")).await,
            Verdict::Allowed
        );
    }

    #[test]
    fn rejects_bad_configuration() {
        assert!(BasicAuth::new(vec![("a".into(), "plain".into())]).is_err());
        let hash = bcrypt::hash("x", 4).unwrap();
        assert!(BasicAuth::new(vec![("a:b".into(), hash.clone())]).is_err());
        assert!(BasicAuth::new(Vec::new()).is_err());
        // One cost for every user: an unknown user must take as long as any
        // wrong password.
        let dearer = bcrypt::hash("y", 5).unwrap();
        let error =
            BasicAuth::new(vec![("a".into(), hash.clone()), ("b".into(), dearer)]).unwrap_err();
        assert!(matches!(&error, Error::Config(message) if message.contains("same bcrypt cost")));
        let same = bcrypt::hash("y", 4).unwrap();
        assert!(BasicAuth::new(vec![("a".into(), hash), ("b".into(), same)]).is_ok());
    }
}
