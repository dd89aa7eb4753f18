#[track_request_metrics(agent_type = AgentType::Sizing)]
async fn process_task(task: Task) -> Result<Sizing, WorkerError> {
    let plan = plan(&task).await?;
    Ok(Sizing::from(plan))
}
