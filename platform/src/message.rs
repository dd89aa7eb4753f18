//! The messages agents exchange on the bus.

use tokio::sync::oneshot;

use crate::bus::BusMessage;
use crate::crm::{CrmResponse, CrmTask};
use crate::error::{RouteError, WorkerError};
use crate::session::SessionId;
use crate::sizing::{Sizing, SizingTask};

/// The web and API front end that users' sessions talk through.
pub const GATEWAY: &str = "gateway";

/// What a user asks the platform.
#[derive(Debug, Clone, PartialEq)]
pub enum UserRequest {
    /// Size an installation.
    Sizing(SizingTask),
    /// A CRM operation.
    Crm(CrmTask),
}

/// The platform's answer to a user.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// A sizing.
    Sizing(Sizing),
    /// A CRM answer.
    Crm(CrmResponse),
}

/// A message on the platform's bus.
#[derive(Debug)]
pub enum Message {
    /// A user request, from the gateway to the orchestrator.
    User {
        /// The user's session.
        session: SessionId,
        /// The request.
        request: UserRequest,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Response, RouteError>>,
    },
    /// A sizing request, from the orchestrator to the sizing agent.
    Sizing {
        /// The task.
        task: SizingTask,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Sizing, WorkerError>>,
    },
    /// A CRM request, from the orchestrator to the CRM agent.
    Crm {
        /// The task.
        task: CrmTask,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<CrmResponse, WorkerError>>,
    },
    /// A sizing finished: the sizing agent tells the CRM agent to attach it to the deal.
    SizingCompleted(SizingCompleted),
}

/// The `sizing_completed` event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizingCompleted {
    /// The deal.
    pub deal_id: u64,
    /// The recommended peak power in kWp.
    pub kw_peak: f64,
}

impl BusMessage for Message {
    fn message_type(&self) -> &'static str {
        match self {
            Message::User { .. } => "user_request",
            Message::Sizing { .. } => "sizing_request",
            Message::Crm { .. } => "crm_request",
            Message::SizingCompleted(_) => "sizing_completed",
        }
    }
}
