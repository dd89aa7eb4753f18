//! HTTP basic auth against bcrypt hashes, in constant time for unknown users.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{AUTHORIZATION, HeaderMap};
use tokio::sync::Semaphore;

use crate::Error;

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
        // The dummy hash costs as much as the dearest configured one.
        let mut cost = 4;
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
            cost = cost.max(parts.get_cost());
            map.insert(user, hash);
        }
        let dummy = bcrypt::hash("insa-metrics: no user has this password", cost)
            .map_err(|error| Error::Config(format!("bcrypt: {error}")))?;
        Ok(BasicAuth {
            users: map,
            dummy,
            verified: Arc::default(),
            bcrypt_slot: Semaphore::new(1),
        })
    }

    /// Whether the request carries the credentials of a configured user.
    pub(crate) async fn allows(&self, headers: &HeaderMap) -> bool {
        let Some((user, password)) = credentials(headers) else {
            return false;
        };
        let known = self.users.get(&user);
        if known.is_some() {
            let cache = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if cache
                .get(&user)
                .is_some_and(|proved| constant_time_eq(proved, password.as_bytes()))
            {
                return true;
            }
        }
        let hash = known.unwrap_or(&self.dummy).clone();
        let candidate = password.clone();
        let Ok(_slot) = self.bcrypt_slot.acquire().await else {
            return false;
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
            return true;
        }
        false
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
        assert!(auth.allows(&header("prometheus", "s3cret")).await);
        // Again, from the cache.
        assert!(auth.allows(&header("prometheus", "s3cret")).await);
        assert!(!auth.allows(&header("prometheus", "wrong")).await);
        assert!(!auth.allows(&header("nobody", "s3cret")).await);
        assert!(!auth.allows(&HeaderMap::new()).await);
        let mut bearer = HeaderMap::new();
        bearer.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert!(!auth.allows(&bearer).await);
    }

    #[test]
    fn rejects_bad_configuration() {
        assert!(BasicAuth::new(vec![("a".into(), "plain".into())]).is_err());
        let hash = bcrypt::hash("x", 4).unwrap();
        assert!(BasicAuth::new(vec![("a:b".into(), hash)]).is_err());
    }
}
