// What `#[async_trait]` on the impl hands to the method attribute for
//
//     #[track_request_metrics("crm_agent")]
//     async fn process(&self, task: Task) -> Result<Reply, WorkerError> {
//         self.crm.update(task).await
//     }
impl Worker for CrmAgent {
    #[track_request_metrics("crm_agent")]
    fn process<'life0, 'async_trait>(
        &'life0 self,
        task: Task,
    ) -> ::core::pin::Pin<
        Box<
            dyn ::core::future::Future<Output = Result<Reply, WorkerError>>
                + ::core::marker::Send
                + 'async_trait,
        >,
    >
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            if let ::core::option::Option::Some(__ret) =
                ::core::option::Option::None::<Result<Reply, WorkerError>>
            {
                #[allow(unreachable_code)]
                return __ret;
            }
            let __self = self;
            let task = task;
            let __ret: Result<Reply, WorkerError> = { __self.crm.update(task).await };
            #[allow(unreachable_code)]
            __ret
        })
    }
}
