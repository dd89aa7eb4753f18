//! The CRM agent: contacts, deals and activities on the database, under `#[track_request_metrics]`.

use std::sync::Arc;
use std::time::Duration;

use insa_metrics::{metrics, track_request_metrics};

use crate::database::{Contact, Database, DbError, DealStage};
use crate::error::WorkerError;
use crate::worker::{Handler, WorkerConfig};

/// The CRM agent's `agent_type` and `worker_name`.
pub const CRM_AGENT: &str = "crm_agent";

/// A CRM request.
#[derive(Debug, Clone, PartialEq)]
pub enum CrmTask {
    /// Load a contact.
    GetContact {
        /// The contact.
        contact_id: u64,
    },
    /// Move a deal to another stage.
    UpdateDeal {
        /// The deal.
        deal_id: u64,
        /// The new stage.
        stage: DealStage,
    },
    /// Log a call or a meeting on a deal.
    LogActivity {
        /// The deal.
        deal_id: u64,
        /// Length of the note in bytes.
        note_bytes: u64,
    },
}

impl CrmTask {
    /// The request payload size in bytes.
    #[must_use]
    pub fn payload_bytes(&self) -> u64 {
        match self {
            CrmTask::GetContact { .. } => 96,
            CrmTask::UpdateDeal { .. } => 180,
            CrmTask::LogActivity { note_bytes, .. } => 160 + note_bytes,
        }
    }
}

/// A CRM answer.
#[derive(Debug, Clone, PartialEq)]
pub enum CrmResponse {
    /// The contact asked for.
    Contact(Contact),
    /// The change was stored.
    Stored,
}

impl CrmResponse {
    /// The response payload size in bytes.
    #[must_use]
    pub fn payload_bytes(&self) -> u64 {
        match self {
            CrmResponse::Contact(contact) => 512 + contact.name.len() as u64 * 8,
            CrmResponse::Stored => 64,
        }
    }
}

/// The CRM agent worker.
#[derive(Debug, Clone)]
pub struct CrmAgent {
    db: Arc<Database>,
    deadline: Duration,
}

impl CrmAgent {
    /// The worker settings of the CRM agent.
    pub const WORKER: WorkerConfig = WorkerConfig {
        name: CRM_AGENT,
        worker_type: "crm",
        concurrency: 8,
        queue_capacity: 128,
        max_tasks: 120,
        failure_limit: 5,
        restart_time: Duration::from_millis(500),
    };

    /// An agent on `db` whose tasks time out after `deadline`.
    #[must_use]
    pub fn new(db: Arc<Database>, deadline: Duration) -> Self {
        CrmAgent { db, deadline }
    }

    /// Runs one CRM request: counted in `insa_agent_requests_total
    /// {agent_type="crm_agent"}`.
    #[track_request_metrics("crm_agent")]
    pub async fn process_task(&self, task: CrmTask) -> Result<CrmResponse, WorkerError> {
        metrics().observe_request_size(CRM_AGENT, task.payload_bytes());
        let response = tokio::time::timeout(self.deadline, self.execute(task))
            .await
            .map_err(|_| WorkerError::Timeout)??;
        metrics().observe_response_size(CRM_AGENT, response.payload_bytes());
        Ok(response)
    }

    /// Attaches a finished sizing to its deal (the `sizing_completed` event).
    ///
    /// # Errors
    ///
    /// The database's error; a deleted deal fails for good.
    pub async fn record_sizing(&self, deal_id: u64, kw_peak: f64) -> Result<(), DbError> {
        self.db.insert_sizing(deal_id, kw_peak).await
    }

    async fn execute(&self, task: CrmTask) -> Result<CrmResponse, WorkerError> {
        match task {
            CrmTask::GetContact { contact_id } => Ok(CrmResponse::Contact(
                self.db.select_contact(contact_id).await?,
            )),
            CrmTask::UpdateDeal { deal_id, stage } => {
                self.db.update_deal(deal_id, stage).await?;
                self.db.insert_activity(deal_id).await?;
                Ok(CrmResponse::Stored)
            }
            CrmTask::LogActivity { deal_id, .. } => {
                self.db.insert_activity(deal_id).await?;
                Ok(CrmResponse::Stored)
            }
        }
    }
}

impl Handler for CrmAgent {
    type Task = CrmTask;
    type Output = CrmResponse;

    fn process(
        &self,
        task: CrmTask,
    ) -> impl Future<Output = Result<CrmResponse, WorkerError>> + Send {
        self.process_task(task)
    }
}
