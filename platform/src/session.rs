//! User sessions: active count, duration, messages by session type and cleanup by reason.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use insa_metrics::{MetricsCollector, metrics};

/// A session's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub u64);

/// Why a session ended: the `reason` of `insa_session_cleanup_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupReason {
    /// The user logged out.
    Logout,
    /// No message for longer than the idle timeout.
    IdleTimeout,
    /// The service shut down.
    Shutdown,
}

impl CleanupReason {
    /// The label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            CleanupReason::Logout => "logout",
            CleanupReason::IdleTimeout => "idle_timeout",
            CleanupReason::Shutdown => "shutdown",
        }
    }
}

#[derive(Debug)]
struct Session {
    session_type: &'static str,
    started: Instant,
    last_seen: Instant,
}

/// The sessions open on this process.
#[derive(Debug)]
pub struct SessionManager {
    sessions: Mutex<HashMap<SessionId, Session>>,
    next_id: AtomicU64,
    idle_timeout: Duration,
    metrics: &'static MetricsCollector,
}

impl SessionManager {
    /// No session yet; sessions idle for `idle_timeout` are cleaned up by
    /// [`cleanup_idle`](Self::cleanup_idle).
    #[must_use]
    pub fn new(idle_timeout: Duration) -> Self {
        Self::with_collector(idle_timeout, metrics())
    }

    /// A manager recording into `metrics`.
    #[must_use]
    pub fn with_collector(idle_timeout: Duration, metrics: &'static MetricsCollector) -> Self {
        SessionManager {
            sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            idle_timeout,
            metrics,
        }
    }

    /// Sessions open now.
    #[must_use]
    pub fn active(&self) -> usize {
        self.lock().len()
    }

    /// Opens a session of `session_type` (e.g. `web`, `api`).
    pub fn start(&self, session_type: &'static str, now: Instant) -> SessionId {
        let id = SessionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.lock().insert(
            id,
            Session {
                session_type,
                started: now,
                last_seen: now,
            },
        );
        self.metrics.session_started();
        id
    }

    /// Counts a message of the session and keeps it alive; `false` when the
    /// session is gone (it was cleaned up).
    pub fn message(&self, id: SessionId, now: Instant) -> bool {
        let mut sessions = self.lock();
        let Some(session) = sessions.get_mut(&id) else {
            return false;
        };
        session.last_seen = now;
        self.metrics.record_session_message(session.session_type);
        true
    }

    /// Ends a session; `false` when it was already gone.
    pub fn end(&self, id: SessionId, reason: CleanupReason, now: Instant) -> bool {
        let removed = self.lock().remove(&id);
        match removed {
            Some(session) => {
                self.close(&session, reason, now);
                true
            }
            None => false,
        }
    }

    /// Ends every session idle for the idle timeout at `now`; returns how many.
    pub fn cleanup_idle(&self, now: Instant) -> usize {
        let idle: Vec<Session> = {
            let mut sessions = self.lock();
            let ids: Vec<SessionId> = sessions
                .iter()
                .filter(|(_, s)| now.duration_since(s.last_seen) >= self.idle_timeout)
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        for session in &idle {
            self.close(session, CleanupReason::IdleTimeout, now);
        }
        idle.len()
    }

    /// Ends every session (the service is stopping); returns how many.
    pub fn shutdown(&self, now: Instant) -> usize {
        let all: Vec<Session> = self.lock().drain().map(|(_, s)| s).collect();
        for session in &all {
            self.close(session, CleanupReason::Shutdown, now);
        }
        all.len()
    }

    fn close(&self, session: &Session, reason: CleanupReason, now: Instant) {
        self.metrics
            .session_ended(now.duration_since(session.started));
        self.metrics.record_session_cleanup(reason.as_str());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{collector, sample};

    #[test]
    fn lifecycle_is_recorded() {
        let m = collector();
        let sessions = SessionManager::with_collector(Duration::from_secs(30), m);
        let t0 = Instant::now();
        let a = sessions.start("web", t0);
        let b = sessions.start("api", t0);
        let c = sessions.start("web", t0);
        assert!(sessions.message(a, t0 + Duration::from_secs(20)));
        assert!(sessions.message(a, t0 + Duration::from_secs(25)));
        assert!(sessions.message(b, t0));
        assert_eq!(sample(&m.encode_text(), "insa_active_sessions_total"), 3.0);

        assert!(sessions.end(c, CleanupReason::Logout, t0 + Duration::from_secs(2)));
        assert!(!sessions.end(c, CleanupReason::Logout, t0 + Duration::from_secs(2)));
        // b was last seen at t0, a at t0 + 25 s.
        assert_eq!(sessions.cleanup_idle(t0 + Duration::from_secs(40)), 1);
        assert!(!sessions.message(b, t0 + Duration::from_secs(41)));
        assert_eq!(sessions.shutdown(t0 + Duration::from_secs(60)), 1);
        assert_eq!(sessions.active(), 0);

        let text = m.encode_text();
        assert_eq!(sample(&text, "insa_active_sessions_total"), 0.0);
        assert_eq!(
            sample(&text, "insa_session_messages_total{session_type=\"web\"}"),
            2.0
        );
        assert_eq!(
            sample(&text, "insa_session_messages_total{session_type=\"api\"}"),
            1.0
        );
        assert_eq!(
            sample(&text, "insa_session_cleanup_total{reason=\"logout\"}"),
            1.0
        );
        assert_eq!(
            sample(&text, "insa_session_cleanup_total{reason=\"idle_timeout\"}"),
            1.0
        );
        assert_eq!(
            sample(&text, "insa_session_cleanup_total{reason=\"shutdown\"}"),
            1.0
        );
        assert_eq!(sample(&text, "insa_session_duration_seconds_count"), 3.0);
        assert_eq!(
            sample(&text, "insa_session_duration_seconds_sum"),
            2.0 + 40.0 + 60.0
        );
    }
}
