//! The whole platform wired together on tokio: agents, orchestrator, users and housekeeping.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::agents::{CrmEndpoint, serve_sizing};
use crate::bus::MessageBus;
use crate::crm::{CRM_AGENT, CrmAgent};
use crate::database::{Database, DbConfig};
use crate::dead_letter::DeadLetterQueue;
use crate::message::Message;
use crate::orchestrator::{ORCHESTRATOR, Orchestrator, OrchestratorConfig};
use crate::session::SessionManager;
use crate::sizing::{SIZING_AGENT, SizingAgent};
use crate::users::{Gateway, UserConfig};
use crate::worker::Worker;

/// The platform's settings.
#[derive(Debug, Clone, Default)]
pub struct PlatformConfig {
    /// The simulated users.
    pub users: UserConfig,
    /// The database.
    pub db: DbConfig,
    /// The orchestrator.
    pub orchestrator: OrchestratorConfig,
    /// Agents whose breaker an operator holds open (e.g. `crm_agent`).
    pub force_breaker_open: Vec<&'static str>,
    /// Agents whose breaker opens once at start and then recovers.
    pub trip_breaker: Vec<&'static str>,
}

/// A running platform; [`stop`](Platform::stop) shuts it down in order.
#[derive(Debug)]
pub struct Platform {
    shutdown: watch::Sender<bool>,
    users: Vec<JoinHandle<()>>,
    services: Vec<JoinHandle<()>>,
    housekeeping: Vec<JoinHandle<()>>,
    bus: MessageBus<Message>,
    sessions: Arc<SessionManager>,
    orchestrator: Arc<Orchestrator>,
}

/// How long sessions may stay idle before they are cleaned up.
const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// The orchestrator, its breakers forced open or tripped as configured.
fn start_orchestrator(config: &PlatformConfig, bus: &MessageBus<Message>) -> Arc<Orchestrator> {
    let orchestrator = Arc::new(Orchestrator::new(bus.clone(), config.orchestrator));
    for agent in &config.force_breaker_open {
        if let Some(breaker) = orchestrator.breaker(agent) {
            breaker.force_open(Instant::now());
        }
    }
    for agent in &config.trip_breaker {
        if let Some(breaker) = orchestrator.breaker(agent) {
            breaker.trip(Instant::now());
        }
    }
    orchestrator
}

/// The periodic chores: the cache purge, idle sessions and connections,
/// dead-letter replays.
fn housekeeping(
    orchestrator: &Arc<Orchestrator>,
    sessions: &Arc<SessionManager>,
    db: &Arc<Database>,
    crm: CrmEndpoint,
    shutdown_rx: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let o = Arc::clone(orchestrator);
    let s = Arc::clone(sessions);
    let d = Arc::clone(db);
    vec![
        every(Duration::from_secs(2), shutdown_rx, move || {
            o.purge_cache();
            async {}
        }),
        every(Duration::from_secs(1), shutdown_rx, move || {
            s.cleanup_idle(Instant::now());
            async {}
        }),
        every(Duration::from_secs(5), shutdown_rx, move || {
            d.reap_idle();
            async {}
        }),
        every(Duration::from_secs(3), shutdown_rx, move || {
            let crm = crm.clone();
            async move { crm.replay_dead_letters().await }
        }),
    ]
}

impl Platform {
    /// Starts every component on the current tokio runtime.
    #[must_use]
    pub fn start(config: &PlatformConfig) -> Platform {
        let bus = MessageBus::new();
        let db = Arc::new(Database::new("crm", config.db));
        let sessions = Arc::new(SessionManager::new(SESSION_IDLE_TIMEOUT));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut services = Vec::new();

        // The agents.
        let (sizing_worker, sizing_join) =
            Worker::spawn(SizingAgent::new(SizingAgent::DEADLINE), SizingAgent::WORKER);
        let crm_agent = CrmAgent::new(Arc::clone(&db), Duration::from_secs(1));
        let (crm_worker, crm_join) = Worker::spawn(crm_agent.clone(), CrmAgent::WORKER);
        let crm = CrmEndpoint {
            worker: crm_worker,
            agent: crm_agent,
            dead_letters: Arc::new(DeadLetterQueue::new(CRM_AGENT, 3)),
            retry: config.orchestrator.retry,
        };
        services.push(sizing_join);
        services.push(crm_join);
        let sizing_inbox = bus.register(SIZING_AGENT, 256);
        services.push(tokio::spawn(serve_sizing(
            sizing_inbox,
            sizing_worker,
            bus.clone(),
        )));
        services.push(tokio::spawn(
            crm.clone().serve(bus.register(CRM_AGENT, 256)),
        ));

        let orchestrator = start_orchestrator(config, &bus);
        let inbox = bus.register(ORCHESTRATOR, 256);
        services.push(tokio::spawn(Arc::clone(&orchestrator).serve(inbox)));
        let housekeeping = housekeeping(&orchestrator, &sessions, &db, crm, &shutdown_rx);

        // The users.
        let gateway = Gateway {
            bus: bus.clone(),
            sessions: Arc::clone(&sessions),
            db,
            config: config.users,
        };
        let users = (0..config.users.concurrent)
            .map(|i| {
                let seed = crate::rng::Rng::from_entropy().next_u64() ^ i as u64;
                tokio::spawn(gateway.clone().run_users(seed, shutdown_rx.clone()))
            })
            .collect();

        Platform {
            shutdown,
            users,
            services,
            housekeeping,
            bus,
            sessions,
            orchestrator,
        }
    }

    /// The orchestrator (its breakers, its cache).
    #[must_use]
    pub fn orchestrator(&self) -> &Orchestrator {
        &self.orchestrator
    }

    /// Stops the users, closes the sessions, lets the agents finish what they
    /// hold (up to `grace`) and stops them.
    pub async fn stop(self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        for user in self.users {
            let _ = tokio::time::timeout_at(deadline, user).await;
        }
        for task in self.housekeeping {
            task.abort();
        }
        self.sessions.shutdown(Instant::now());
        for agent in [ORCHESTRATOR, SIZING_AGENT, CRM_AGENT] {
            self.bus.unregister(agent);
        }
        // Past the grace period, what is left is dropped with the runtime.
        for service in self.services {
            let _ = tokio::time::timeout_at(deadline, service).await;
        }
    }
}

/// Runs `tick` every `period` until shutdown.
fn every<F, Fut>(period: Duration, shutdown: &watch::Receiver<bool>, mut tick: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let mut shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => tick().await,
                _ = shutdown.changed() => break,
            }
        }
    })
}
