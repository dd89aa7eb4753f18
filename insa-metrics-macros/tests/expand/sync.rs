/// Sizes a task.
#[track_request_metrics("sizing_agent")]
pub fn size(task: Task) -> Result<Sizing, WorkerError> {
    let plan = plan(&task)?;
    Ok(Sizing::from(plan))
}
