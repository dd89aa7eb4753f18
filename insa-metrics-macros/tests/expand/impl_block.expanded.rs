impl CrmAgent {
    pub fn new(crm: Crm) -> Self {
        let __insa_guard = {
            static __INSA_SITE: ::insa_metrics::__private::RequestSite = ::insa_metrics::__private::RequestSite::new(
                &"crm_agent",
            );
            ::insa_metrics::__private::RequestSite::start(&__INSA_SITE)
        };
        let __insa_result = ::insa_metrics::__private::run::<
            Self,
        >(|| { CrmAgent { crm } });
        ::insa_metrics::__private::sync_return!(& __insa_result);
        __insa_guard.end(::insa_metrics::__private::outcome!(& __insa_result));
        __insa_result
    }
    pub async fn update(&self, contact: Contact) -> Result<(), CrmError> {
        let mut __insa_guard = {
            static __INSA_SITE: ::insa_metrics::__private::RequestSite = ::insa_metrics::__private::RequestSite::new(
                &"crm_agent",
            );
            ::insa_metrics::__private::RequestSite::start(&__INSA_SITE)
        };
        let __insa_result = ::insa_metrics::__private::Call::polled(
                &mut __insa_guard,
                async move {
                    ::insa_metrics::__private::returns!(Result < (), CrmError >);
                    self.crm.put(contact).await
                },
            )
            .await;
        __insa_guard.end(::insa_metrics::__private::outcome!(& __insa_result));
        __insa_result
    }
    pub fn crm(&self) -> &Crm {
        &self.crm
    }
}
