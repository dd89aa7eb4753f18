/// Sizes a task.
pub fn size(task: Task) -> Result<Sizing, WorkerError> {
    let __insa_guard = {
        static __INSA_SITE: ::insa_metrics::__private::RequestSite = ::insa_metrics::__private::RequestSite::new(
            &"sizing_agent",
        );
        ::insa_metrics::__private::RequestSite::start(&__INSA_SITE)
    };
    let __insa_result = ::insa_metrics::__private::run::<
        Result<Sizing, WorkerError>,
    >(|| {
        let plan = plan(&task)?;
        Ok(Sizing::from(plan))
    });
    ::insa_metrics::__private::sync_return!(& __insa_result);
    __insa_guard.end(::insa_metrics::__private::outcome!(& __insa_result));
    __insa_result
}
