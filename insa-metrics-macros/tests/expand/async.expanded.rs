async fn process_task(task: Task) -> Result<Sizing, WorkerError> {
    let mut __insa_guard = {
        static __INSA_SITE: ::insa_metrics::__private::RequestSite = ::insa_metrics::__private::RequestSite::new(
            &AgentType::Sizing,
        );
        ::insa_metrics::__private::RequestSite::start(&__INSA_SITE)
    };
    let __insa_result = ::insa_metrics::__private::Call::polled(
            &mut __insa_guard,
            async move {
                ::insa_metrics::__private::returns!(Result < Sizing, WorkerError >);
                let plan = plan(&task).await?;
                Ok(Sizing::from(plan))
            },
        )
        .await;
    __insa_guard.end(::insa_metrics::__private::outcome!(& __insa_result));
    __insa_result
}
