impl Worker for CrmAgent {
    fn process<'life0, 'async_trait>(
        &'life0 self,
        task: Task,
    ) -> ::core::pin::Pin<
        Box<
            dyn ::core::future::Future<
                Output = Result<Reply, WorkerError>,
            > + ::core::marker::Send + 'async_trait,
        >,
    >
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let mut __insa_guard = {
                static __INSA_SITE: ::insa_metrics::__private::RequestSite = ::insa_metrics::__private::RequestSite::new(
                    &"crm_agent",
                );
                ::insa_metrics::__private::RequestSite::start(&__INSA_SITE)
            };
            let __insa_result = ::insa_metrics::__private::Call::polled(
                    &mut __insa_guard,
                    async move {
                        ::insa_metrics::__private::returns!(
                            Result < Reply, WorkerError >
                        );
                        if let ::core::option::Option::Some(__ret) = ::core::option::Option::None::<
                            Result<Reply, WorkerError>,
                        > {
                            #[allow(unreachable_code)] return __ret;
                        }
                        let __self = self;
                        let task = task;
                        let __ret: Result<Reply, WorkerError> = {
                            __self.crm.update(task).await
                        };
                        #[allow(unreachable_code)] __ret
                    },
                )
                .await;
            __insa_guard.end(::insa_metrics::__private::outcome!(& __insa_result));
            __insa_result
        })
    }
}
