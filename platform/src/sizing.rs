//! The sizing agent: sizes a solar installation for a deal, under `#[track_request_metrics]`.

use std::time::Duration;

use insa_metrics::{metrics, track_request_metrics};

use crate::error::WorkerError;
use crate::rng::SharedRng;
use crate::worker::{Handler, WorkerConfig};

/// The sizing agent's `agent_type` and `worker_name`.
pub const SIZING_AGENT: &str = "sizing_agent";

/// A request to size the installation of a deal.
#[derive(Debug, Clone, PartialEq)]
pub struct SizingTask {
    /// The deal.
    pub deal_id: u64,
    /// Usable roof area in m².
    pub roof_area_m2: f64,
    /// The customer's yearly consumption in kWh; 0 when unknown.
    pub annual_kwh: f64,
    /// Size of the attached documents (bills, roof plans) in bytes.
    pub attachment_bytes: u64,
}

impl SizingTask {
    /// The task of a deal: the same deal always gives the same inputs (so
    /// results can be cached); some deals lack consumption data.
    #[must_use]
    pub fn for_deal(deal_id: u64) -> Self {
        let h = deal_id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        #[allow(clippy::cast_precision_loss)] // small values
        let (area, kwh, bytes) = (
            20.0 + (h % 120) as f64,
            if h.is_multiple_of(31) {
                0.0
            } else {
                2_500.0 + (h % 9_000) as f64
            },
            2_048 + (h % 4_096) * (h % 97),
        );
        SizingTask {
            deal_id,
            roof_area_m2: area,
            annual_kwh: kwh,
            attachment_bytes: bytes,
        }
    }

    /// The request payload size: the task and its attachments.
    #[must_use]
    pub fn payload_bytes(&self) -> u64 {
        256 + self.attachment_bytes
    }
}

/// A recommended installation.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizing {
    /// The deal.
    pub deal_id: u64,
    /// Panels to install.
    pub panels: u32,
    /// Peak power in kWp.
    pub kw_peak: f64,
    /// Inverter size in kW.
    pub inverter_kw: f64,
    /// Size of the generated report (the response payload) in bytes.
    pub report_bytes: u64,
}

/// Yearly yield of one kWp, in kWh.
const YIELD_KWH_PER_KWP: f64 = 950.0;
/// Power of one panel in kW and its area in m².
const PANEL_KW: f64 = 0.41;
const PANEL_M2: f64 = 1.95;

/// The sizing computation itself.
#[must_use]
pub fn size_installation(task: &SizingTask) -> Sizing {
    let wanted_kw = task.annual_kwh / YIELD_KWH_PER_KWP;
    let max_panels = (task.roof_area_m2 / PANEL_M2).floor();
    let panels = (wanted_kw / PANEL_KW).ceil().min(max_panels).max(1.0);
    let kw_peak = panels * PANEL_KW;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // small positive
    let panels_n = panels as u32;
    Sizing {
        deal_id: task.deal_id,
        panels: panels_n,
        kw_peak,
        inverter_kw: (kw_peak * 0.9 * 10.0).round() / 10.0,
        report_bytes: 4_096 + u64::from(panels_n) * 1_500,
    }
}

/// The sizing agent worker: validates, runs the (slow) yield model, answers.
#[derive(Debug)]
pub struct SizingAgent {
    deadline: Duration,
    model_median: Duration,
    rng: SharedRng,
}

impl SizingAgent {
    /// The worker settings of the sizing agent.
    pub const WORKER: WorkerConfig = WorkerConfig {
        name: SIZING_AGENT,
        worker_type: "sizing",
        concurrency: 4,
        queue_capacity: 64,
        max_tasks: 40,
        failure_limit: 4,
        restart_time: Duration::from_millis(800),
    };

    /// How long a sizing may take before it counts as a timeout: the yield
    /// model's p97 or so.
    pub const DEADLINE: Duration = Duration::from_secs(2);

    /// An agent whose tasks time out after `deadline`.
    #[must_use]
    pub fn new(deadline: Duration) -> Self {
        SizingAgent {
            deadline,
            model_median: Duration::from_millis(350),
            rng: SharedRng::new(),
        }
    }

    /// Sizes one installation: counted in `insa_agent_requests_total
    /// {agent_type="sizing_agent"}` as success, error or timeout (or cancelled
    /// when the caller gives up).
    #[track_request_metrics("sizing_agent")]
    pub async fn process_task(&self, task: SizingTask) -> Result<Sizing, WorkerError> {
        metrics().observe_request_size(SIZING_AGENT, task.payload_bytes());
        if task.annual_kwh <= 0.0 {
            return Err(WorkerError::InvalidInput("annual consumption missing"));
        }
        let (latency, model_fails) = self.rng.with(|rng| {
            let latency = rng.latency(self.model_median, 0.9, Duration::from_secs(30));
            (latency, rng.chance(0.03))
        });
        let model = async {
            // The yield model: simulated weather years per roof orientation;
            // it fails when the weather data service does not answer.
            tokio::time::sleep(latency).await;
            if model_fails {
                Err(WorkerError::Model)
            } else {
                Ok(size_installation(&task))
            }
        };
        let sizing = tokio::time::timeout(self.deadline, model)
            .await
            .map_err(|_| WorkerError::Timeout)??;
        metrics().observe_response_size(SIZING_AGENT, sizing.report_bytes);
        Ok(sizing)
    }
}

impl Handler for SizingAgent {
    type Task = SizingTask;
    type Output = Sizing;

    fn process(
        &self,
        task: SizingTask,
    ) -> impl Future<Output = Result<Sizing, WorkerError>> + Send {
        self.process_task(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_matches_consumption_within_the_roof() {
        let task = SizingTask {
            deal_id: 1,
            roof_area_m2: 100.0,
            annual_kwh: 4_750.0,
            attachment_bytes: 0,
        };
        let sizing = size_installation(&task);
        assert_eq!(sizing.panels, 13); // 5 kWp / 0.41 kW
        let small_roof = SizingTask {
            roof_area_m2: 10.0,
            ..task
        };
        assert_eq!(size_installation(&small_roof).panels, 5);
    }

    #[tokio::test]
    async fn missing_consumption_is_invalid_input() {
        let agent = SizingAgent::new(Duration::from_secs(5));
        let task = SizingTask {
            annual_kwh: 0.0,
            ..SizingTask::for_deal(3)
        };
        assert!(matches!(
            agent.process_task(task).await,
            Err(WorkerError::InvalidInput(_))
        ));
    }
}
