fn refresh(&self) -> impl Future<Output = Result<(), SyncError>> + Send + '_ {
    let id = self.id;
    async move {
        let mut __insa_guard = {
            static __INSA_SITE: ::insa_metrics::__private::RequestSite = ::insa_metrics::__private::RequestSite::new(
                &"crm_agent",
            );
            ::insa_metrics::__private::RequestSite::start(&__INSA_SITE)
        };
        let __insa_result = ::insa_metrics::__private::Call::polled(
                &mut __insa_guard,
                async move {
                    ::insa_metrics::__private::returns!(Result < (), SyncError >);
                    self.crm.refresh(id).await
                },
            )
            .await;
        __insa_guard.end(::insa_metrics::__private::outcome!(& __insa_result));
        __insa_result
    }
}
fn purge(pool: &Pool) {
    let __insa_guard = {
        static __INSA_SITE: ::insa_metrics::__private::DatabaseSite = ::insa_metrics::__private::DatabaseSite::new(
            &"delete",
            &"sessions",
        );
        ::insa_metrics::__private::DatabaseSite::start(&__INSA_SITE)
    };
    ::insa_metrics::__private::run(|| {
        pool.execute("delete from sessions");
    });
    __insa_guard.end(::insa_metrics::__private::Outcome::Success);
}
