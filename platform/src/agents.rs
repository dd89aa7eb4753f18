//! The agents' bus endpoints: messages in, tasks to the workers, events out, dead letters replayed.

use std::sync::Arc;

use insa_metrics::{ClassifyError, track_message_processing};
use tokio::sync::oneshot;
use tracing::Instrument as _;

use crate::bus::{Inbox, MessageBus};
use crate::crm::{CRM_AGENT, CrmAgent};
use crate::database::DbError;
use crate::dead_letter::DeadLetterQueue;
use crate::error::WorkerError;
use crate::message::{Message, SizingCompleted};
use crate::retry::RetryPolicy;
use crate::sizing::{SIZING_AGENT, SizingAgent};
use crate::worker::{Handler, Worker};

/// Serves the sizing agent's inbox until it closes: each message is handled
/// on its own task.
pub async fn serve_sizing(
    mut inbox: Inbox<Message>,
    worker: Worker<SizingAgent>,
    bus: MessageBus<Message>,
) {
    while let Some(envelope) = inbox.recv().await {
        let span = envelope.process_span();
        tokio::spawn(
            handle_sizing_message(envelope.body, worker.clone(), bus.clone()).instrument(span),
        );
    }
}

/// One message to the sizing agent: size, answer, and tell the CRM agent.
#[track_message_processing("sizing_agent")]
async fn handle_sizing_message(
    message: Message,
    worker: Worker<SizingAgent>,
    bus: MessageBus<Message>,
) {
    let Message::Sizing { task, reply } = message else {
        return;
    };
    let Some(result) = answer(&worker, task, reply).await else {
        return;
    };
    if let Ok(sizing) = result {
        let event = SizingCompleted {
            deal_id: sizing.deal_id,
            kw_peak: sizing.kw_peak,
        };
        // A CRM agent that is gone (shutting down) misses the event.
        let _ = bus
            .send(SIZING_AGENT, CRM_AGENT, Message::SizingCompleted(event))
            .await;
    }
}

/// The CRM agent's endpoint: its worker, and the dead letter queue of the
/// events it could not store.
#[derive(Debug, Clone)]
pub struct CrmEndpoint {
    /// The worker for requests.
    pub worker: Worker<CrmAgent>,
    /// The agent, for events handled inline.
    pub agent: CrmAgent,
    /// Events that failed.
    pub dead_letters: Arc<DeadLetterQueue<SizingCompleted>>,
    /// Retries of events before they are dead-lettered.
    pub retry: RetryPolicy,
}

impl CrmEndpoint {
    /// Serves the CRM agent's inbox until it closes.
    pub async fn serve(self, mut inbox: Inbox<Message>) {
        while let Some(envelope) = inbox.recv().await {
            let span = envelope.process_span();
            tokio::spawn(self.clone().handle(envelope.body).instrument(span));
        }
    }

    /// Replays the dead-lettered events once.
    pub async fn replay_dead_letters(&self) {
        let agent = &self.agent;
        self.dead_letters
            .replay(|event| agent.record_sizing(event.deal_id, event.kw_peak))
            .await;
    }

    /// One message to the CRM agent.
    #[track_message_processing("crm_agent")]
    async fn handle(self, message: Message) {
        match message {
            Message::Crm { task, reply } => {
                answer(&self.worker, task, reply).await;
            }
            Message::SizingCompleted(event) => {
                // Transient database errors are retried; what still fails
                // waits in the dead letter queue for a later replay.
                let agent = &self.agent;
                let stored = self
                    .retry
                    .run(
                        CRM_AGENT,
                        |_| agent.record_sizing(event.deal_id, event.kw_peak),
                        |error: &DbError| error.is_transient(),
                    )
                    .await;
                if let Err(error) = stored {
                    self.dead_letters.push(event, error.error_type());
                }
            }
            _ => {}
        }
    }
}

/// Runs `task` on `worker` and sends the answer, unless the requester gave
/// up first (then the task is cancelled and `None` returned).
async fn answer<H: Handler>(
    worker: &Worker<H>,
    task: H::Task,
    mut reply: oneshot::Sender<Result<H::Output, WorkerError>>,
) -> Option<Result<H::Output, WorkerError>>
where
    H::Output: Clone,
{
    let result = tokio::select! {
        result = worker.submit(task) => result,
        () = reply.closed() => return None,
    };
    let _ = reply.send(result.clone());
    Some(result)
}
