//! The orchestrator: answers users from its cache or routes them to an agent, with retries and breakers.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use insa_metrics::track_message_processing;
use tokio::sync::oneshot;
use tracing::Instrument as _;

use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::bus::{Inbox, MessageBus};
use crate::cache::TtlCache;
use crate::crm::{CRM_AGENT, CrmTask};
use crate::error::{RouteError, WorkerError};
use crate::message::{Message, Response, UserRequest};
use crate::retry::RetryPolicy;
use crate::sizing::SIZING_AGENT;

/// The orchestrator's `agent_type`, and its cache's `cache_type`.
pub const ORCHESTRATOR: &str = "orchestrator";

/// What the orchestrator caches: answers that do not change often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheKey {
    /// The sizing of a deal.
    Sizing(u64),
    /// A contact.
    Contact(u64),
}

impl UserRequest {
    /// The cache key of a read; `None` for a write.
    #[must_use]
    pub fn cache_key(&self) -> Option<CacheKey> {
        match self {
            UserRequest::Sizing(task) => Some(CacheKey::Sizing(task.deal_id)),
            UserRequest::Crm(CrmTask::GetContact { contact_id }) => {
                Some(CacheKey::Contact(*contact_id))
            }
            UserRequest::Crm(_) => None,
        }
    }

    /// The agent that handles it.
    #[must_use]
    pub fn agent(&self) -> &'static str {
        match self {
            UserRequest::Sizing(_) => SIZING_AGENT,
            UserRequest::Crm(_) => CRM_AGENT,
        }
    }
}

/// How the orchestrator behaves.
#[derive(Debug, Clone, Copy)]
pub struct OrchestratorConfig {
    /// Entries in the cache.
    pub cache_capacity: usize,
    /// How long a cached answer is served.
    pub cache_ttl: Duration,
    /// How long the orchestrator waits for an agent's answer.
    pub agent_deadline: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// The breakers in front of the agents.
    pub breaker: BreakerConfig,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        OrchestratorConfig {
            cache_capacity: 64,
            cache_ttl: Duration::from_secs(10),
            agent_deadline: Duration::from_secs(4),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

/// The orchestrator.
#[derive(Debug)]
pub struct Orchestrator {
    bus: MessageBus<Message>,
    cache: Mutex<TtlCache<CacheKey, Response>>,
    sizing_breaker: CircuitBreaker,
    crm_breaker: CircuitBreaker,
    config: OrchestratorConfig,
}

impl Orchestrator {
    /// An orchestrator that reaches the agents over `bus`.
    #[must_use]
    pub fn new(bus: MessageBus<Message>, config: OrchestratorConfig) -> Self {
        Orchestrator {
            bus,
            cache: Mutex::new(TtlCache::new(
                ORCHESTRATOR,
                config.cache_capacity,
                config.cache_ttl,
            )),
            sizing_breaker: CircuitBreaker::new(SIZING_AGENT, config.breaker),
            crm_breaker: CircuitBreaker::new(CRM_AGENT, config.breaker),
            config,
        }
    }

    /// The breaker in front of `agent`.
    #[must_use]
    pub fn breaker(&self, agent: &str) -> Option<&CircuitBreaker> {
        match agent {
            SIZING_AGENT => Some(&self.sizing_breaker),
            CRM_AGENT => Some(&self.crm_breaker),
            _ => None,
        }
    }

    /// Evicts the expired cache entries.
    pub fn purge_cache(&self) {
        self.lock_cache().purge_expired(Instant::now());
    }

    /// Serves the orchestrator's inbox until it closes; each request is
    /// handled on its own task.
    pub async fn serve(self: Arc<Self>, mut inbox: Inbox<Message>) {
        while let Some(envelope) = inbox.recv().await {
            let this = Arc::clone(&self);
            let span = envelope.process_span();
            tokio::spawn(async move { this.handle(envelope.body).await }.instrument(span));
        }
    }

    /// One message to the orchestrator: a user request, answered unless the
    /// user gave up (then the routing is dropped, cancelling the agent's task).
    #[track_message_processing("orchestrator")]
    async fn handle(&self, message: Message) {
        let Message::User {
            request, mut reply, ..
        } = message
        else {
            return;
        };
        tokio::select! {
            result = self.route(request) => {
                let _ = reply.send(result);
            }
            () = reply.closed() => {}
        }
    }

    /// Answers from the cache, or from the agent (retried, behind its breaker).
    pub async fn route(&self, request: UserRequest) -> Result<Response, RouteError> {
        let key = request.cache_key();
        if let Some(key) = key {
            if let Some(hit) = self.lock_cache().get(&key, Instant::now()) {
                return Ok(hit);
            }
        }
        let agent = request.agent();
        let breaker = self.breaker(agent).ok_or(RouteError::Undeliverable)?;
        let response = self
            .config
            .retry
            .run(
                agent,
                |_| self.call(breaker, request.clone()),
                RouteError::is_retryable,
            )
            .await?;
        if let Some(key) = key {
            self.lock_cache()
                .insert(key, response.clone(), Instant::now());
        }
        Ok(response)
    }

    /// One attempt: through the breaker, over the bus, within the deadline.
    async fn call(
        &self,
        breaker: &CircuitBreaker,
        request: UserRequest,
    ) -> Result<Response, RouteError> {
        breaker
            .try_acquire(Instant::now())
            .map_err(|_| RouteError::CircuitOpen)?;
        let result = self.dispatch(request).await;
        match &result {
            Err(error) if error.is_agent_failure() => breaker.on_failure(Instant::now()),
            _ => breaker.on_success(Instant::now()),
        }
        result
    }

    async fn dispatch(&self, request: UserRequest) -> Result<Response, RouteError> {
        match request {
            UserRequest::Sizing(task) => {
                let (reply, answer) = oneshot::channel();
                let message = Message::Sizing { task, reply };
                self.ask(SIZING_AGENT, message, answer)
                    .await
                    .map(Response::Sizing)
            }
            UserRequest::Crm(task) => {
                let (reply, answer) = oneshot::channel();
                let message = Message::Crm { task, reply };
                self.ask(CRM_AGENT, message, answer)
                    .await
                    .map(Response::Crm)
            }
        }
    }

    async fn ask<T>(
        &self,
        agent: &'static str,
        message: Message,
        answer: oneshot::Receiver<Result<T, WorkerError>>,
    ) -> Result<T, RouteError> {
        self.bus
            .send(ORCHESTRATOR, agent, message)
            .await
            .map_err(|_| RouteError::Undeliverable)?;
        match tokio::time::timeout(self.config.agent_deadline, answer).await {
            Ok(Ok(result)) => result.map_err(RouteError::Worker),
            Ok(Err(_)) => Err(RouteError::Undeliverable),
            Err(_) => Err(RouteError::Deadline),
        }
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, TtlCache<CacheKey, Response>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
