//! The agent message bus: a bounded tokio queue per agent, counting messages and queue depth.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use insa_metrics::metrics;
use tokio::sync::mpsc;

/// A message that travels on the bus knows its `message_type` label.
pub trait BusMessage: Send + 'static {
    /// The `message_type` label of `insa_message_bus_messages_total`.
    fn message_type(&self) -> &'static str;
}

/// One message with its sender and recipient.
#[derive(Debug)]
pub struct Envelope<M> {
    /// The sending agent (`from_agent`).
    pub from: &'static str,
    /// The recipient agent (`to_agent`).
    pub to: &'static str,
    /// The message.
    pub body: M,
    /// The sender's span: the recipient handles the message in a child of it,
    /// so one trace follows a request across agents.
    pub span: tracing::Span,
}

impl<M> Envelope<M> {
    /// The span the recipient handles the message in: a child of the
    /// sender's.
    #[must_use]
    pub fn process_span(&self) -> tracing::Span {
        tracing::info_span!(
            parent: &self.span,
            "process",
            otel.name = self.to,
            from_agent = self.from,
            to_agent = self.to,
        )
    }
}

/// A message the bus could not deliver: no such agent, or its inbox closed.
/// It is handed back so that the sender can dead-letter it.
#[derive(Debug)]
pub struct Undeliverable<M>(pub Envelope<M>);

impl<M> fmt::Display for Undeliverable<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no inbox for agent {}", self.0.to)
    }
}

impl<M: fmt::Debug> std::error::Error for Undeliverable<M> {}

/// The bus: agents register an inbox, anyone sends to an agent by name.
/// Cloning it is cheap (the routes are shared).
#[derive(Debug)]
pub struct MessageBus<M> {
    routes: Arc<RwLock<Routes<M>>>,
}

/// Each agent's queue, by agent name.
type Routes<M> = HashMap<&'static str, mpsc::Sender<Envelope<M>>>;

impl<M> Clone for MessageBus<M> {
    fn clone(&self) -> Self {
        MessageBus {
            routes: Arc::clone(&self.routes),
        }
    }
}

impl<M: BusMessage> Default for MessageBus<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: BusMessage> MessageBus<M> {
    /// A bus with no agent yet.
    #[must_use]
    pub fn new() -> Self {
        MessageBus {
            routes: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// Registers `agent` with an inbox of `capacity` messages (senders wait
    /// when it is full); a second registration replaces the first.
    pub fn register(&self, agent: &'static str, capacity: usize) -> Inbox<M> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.routes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(agent, tx);
        metrics().update_queue_depth(agent, 0);
        Inbox { agent, rx }
    }

    /// Removes `agent`: its inbox ends once drained.
    pub fn unregister(&self, agent: &str) {
        self.routes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(agent);
    }

    /// Sends `body` from `from` to `to`, waiting while the recipient's inbox
    /// is full. Counts the message and updates the recipient's queue depth.
    ///
    /// # Errors
    ///
    /// [`Undeliverable`] with the message when `to` has no open inbox.
    pub async fn send(
        &self,
        from: &'static str,
        to: &'static str,
        body: M,
    ) -> Result<(), Undeliverable<M>> {
        let envelope = Envelope {
            from,
            to,
            body,
            span: tracing::Span::current(),
        };
        let route = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(to)
            .cloned();
        let Some(tx) = route else {
            return Err(Undeliverable(envelope));
        };
        let message_type = envelope.body.message_type();
        match tx.send(envelope).await {
            Ok(()) => {
                metrics().record_message_sent(from, to, message_type);
                publish_depth(to, tx.max_capacity() - tx.capacity());
                Ok(())
            }
            Err(mpsc::error::SendError(envelope)) => Err(Undeliverable(envelope)),
        }
    }
}

/// The receiving end of one agent's queue.
#[derive(Debug)]
pub struct Inbox<M> {
    agent: &'static str,
    rx: mpsc::Receiver<Envelope<M>>,
}

impl<M> Inbox<M> {
    /// The agent this inbox belongs to.
    #[must_use]
    pub fn agent(&self) -> &'static str {
        self.agent
    }

    /// The next message, or `None` once the agent is unregistered and the
    /// queue drained. Updates the queue depth.
    pub async fn recv(&mut self) -> Option<Envelope<M>> {
        let envelope = self.rx.recv().await;
        publish_depth(self.agent, self.rx.len());
        envelope
    }

    /// Messages waiting.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no message is waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

fn publish_depth(agent: &str, depth: usize) {
    metrics().update_queue_depth(agent, i64::try_from(depth).unwrap_or(i64::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Ping(u32);

    impl BusMessage for Ping {
        fn message_type(&self) -> &'static str {
            "ping"
        }
    }

    #[tokio::test]
    async fn delivers_in_order_and_counts() {
        let bus = MessageBus::new();
        let mut inbox = bus.register("bus_test_b", 8);
        bus.send("bus_test_a", "bus_test_b", Ping(1)).await.unwrap();
        bus.send("bus_test_a", "bus_test_b", Ping(2)).await.unwrap();
        assert_eq!(inbox.len(), 2);
        assert_eq!(inbox.recv().await.unwrap().body, Ping(1));
        let second = inbox.recv().await.unwrap();
        assert_eq!(
            (second.from, second.to, second.body),
            ("bus_test_a", "bus_test_b", Ping(2))
        );
        let text = insa_metrics::get_metrics_text();
        assert!(text.contains(
            "insa_message_bus_messages_total{from_agent=\"bus_test_a\",message_type=\"ping\",to_agent=\"bus_test_b\"} 2"
        ) || text.contains(
            "insa_message_bus_messages_total{from_agent=\"bus_test_a\",to_agent=\"bus_test_b\",message_type=\"ping\"} 2"
        ), "{text}");
        assert!(text.contains("insa_message_bus_queue_depth{agent_type=\"bus_test_b\"} 0"));
    }

    #[tokio::test]
    async fn an_unknown_agent_hands_the_message_back() {
        let bus = MessageBus::new();
        let Err(Undeliverable(envelope)) = bus.send("bus_test_a", "nobody", Ping(7)).await else {
            panic!("delivered to nobody");
        };
        assert_eq!(envelope.body, Ping(7));
        let inbox = bus.register("bus_test_c", 1);
        drop(inbox);
        assert!(bus.send("bus_test_a", "bus_test_c", Ping(8)).await.is_err());
    }
}
