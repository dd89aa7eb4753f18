async fn process_task(task: Task) -> Result<Sizing, WorkerError> {
    let __insa_guard = {
        static __INSA_SITE: ::insa_metrics::__private::RequestSite = ::insa_metrics::__private::RequestSite::new(
            &AgentType::Sizing,
        );
        __INSA_SITE.start()
    };
    let __insa_result: Result<Sizing, WorkerError> = async move {
        let plan = plan(&task).await?;
        Ok(Sizing::from(plan))
    }
        .await;
    __insa_guard.end(::insa_metrics::__private::outcome!(& __insa_result));
    __insa_result
}
