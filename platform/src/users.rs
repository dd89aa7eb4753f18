//! Simulated users: sessions through the gateway, each sending requests to the orchestrator and waiting, or giving up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use tracing::Instrument as _;

use crate::bus::MessageBus;
use crate::crm::CrmTask;
use crate::database::{DEALS, Database, DealStage};
use crate::message::{GATEWAY, Message, UserRequest};
use crate::orchestrator::ORCHESTRATOR;
use crate::rng::Rng;
use crate::session::{CleanupReason, SessionId, SessionManager};
use crate::sizing::SizingTask;

/// What the simulated users do.
#[derive(Debug, Clone, Copy)]
pub struct UserConfig {
    /// Users active at the same time.
    pub concurrent: usize,
    /// Share of requests a user stops waiting for after well under a second
    /// (they navigate away: the request is cancelled downstream).
    pub impatient: f64,
    /// Share of sessions left open without logging out (cleaned up when idle).
    pub abandon: f64,
    /// Median pause between two requests of a user.
    pub think_time: Duration,
}

impl Default for UserConfig {
    fn default() -> Self {
        UserConfig {
            concurrent: 12,
            impatient: 0.04,
            abandon: 0.2,
            think_time: Duration::from_millis(400),
        }
    }
}

/// The front end the users' sessions go through.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// The bus to the orchestrator.
    pub bus: MessageBus<Message>,
    /// The sessions.
    pub sessions: Arc<SessionManager>,
    /// The database users log in against.
    pub db: Arc<Database>,
    /// The users' behaviour.
    pub config: UserConfig,
}

impl Gateway {
    /// Runs one simulated user after another until `shutdown` turns true.
    pub async fn run_users(self, seed: u64, mut shutdown: watch::Receiver<bool>) {
        let mut rng = Rng::new(seed);
        let watcher = shutdown.clone();
        while !*shutdown.borrow() {
            tokio::select! {
                () = self.one_session(&mut rng, &watcher) => {}
                _ = shutdown.changed() => break,
            }
        }
    }

    /// One user: logs in, sends a few requests, logs out or walks away.
    async fn one_session(&self, rng: &mut Rng, shutdown: &watch::Receiver<bool>) {
        let session_type = if rng.chance(0.7) { "web" } else { "api" };
        let user_id = rng.range(1, 500);
        // Each login and each request is a trace of its own, as a front
        // end's HTTP requests would be.
        let login = tracing::info_span!("login", session_type);
        if self
            .db
            .select_user(user_id)
            .instrument(login)
            .await
            .is_err()
        {
            // The login failed: the user tries again a little later.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return;
        }
        let session = self.sessions.start(session_type, Instant::now());
        for _ in 0..rng.range(3, 12) {
            if *shutdown.borrow() || !self.sessions.message(session, Instant::now()) {
                return;
            }
            let request = random_request(rng);
            let patience = if rng.chance(self.config.impatient) {
                Duration::from_millis(rng.range(100, 600))
            } else {
                Duration::from_secs(15)
            };
            let span = tracing::info_span!("user_request", session_type);
            match self
                .request(session, request, patience)
                .instrument(span)
                .await
            {
                None => return,
                Some(true) => {
                    self.sessions.message(session, Instant::now());
                }
                Some(false) => {}
            }
            let think = rng.latency(self.config.think_time, 0.5, Duration::from_secs(3));
            tokio::time::sleep(think).await;
        }
        if !rng.chance(self.config.abandon) {
            self.sessions
                .end(session, CleanupReason::Logout, Instant::now());
        }
    }
}

impl Gateway {
    /// Sends one request to the orchestrator and waits for the answer at
    /// most `patience`: whether it came, `None` if the orchestrator is gone.
    async fn request(
        &self,
        session: SessionId,
        request: UserRequest,
        patience: Duration,
    ) -> Option<bool> {
        let (reply, answer) = oneshot::channel();
        let message = Message::User {
            session,
            request,
            reply,
        };
        if self.bus.send(GATEWAY, ORCHESTRATOR, message).await.is_err() {
            return None;
        }
        Some(matches!(
            tokio::time::timeout(patience, answer).await,
            Ok(Ok(_))
        ))
    }
}

/// A request as users send them: popular deals and contacts come up more.
#[must_use]
pub fn random_request(rng: &mut Rng) -> UserRequest {
    let skewed = |rng: &mut Rng, n: u64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = (rng.unit().powi(3) * n as f64) as u64;
        1 + i.min(n - 1)
    };
    let roll = rng.unit();
    if roll < 0.3 {
        UserRequest::Sizing(SizingTask::for_deal(skewed(rng, DEALS)))
    } else if roll < 0.75 {
        UserRequest::Crm(CrmTask::GetContact {
            contact_id: skewed(rng, 300),
        })
    } else if roll < 0.9 {
        let stage = *rng.pick(&[DealStage::Lead, DealStage::Proposal, DealStage::Won]);
        UserRequest::Crm(CrmTask::UpdateDeal {
            deal_id: rng.range(1, DEALS + 1),
            stage,
        })
    } else {
        UserRequest::Crm(CrmTask::LogActivity {
            deal_id: rng.range(1, DEALS + 1),
            note_bytes: rng.log_normal(800.0, 1.0) as u64,
        })
    }
}
