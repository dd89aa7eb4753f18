impl Users {
    fn load_user(&self, id: u64) -> Result<User, DbError> {
        let __insa_guard = {
            static __INSA_SITE: ::insa_metrics::__private::DatabaseSite = ::insa_metrics::__private::DatabaseSite::new(
                &"select",
                &"users",
            );
            ::insa_metrics::__private::DatabaseSite::start(&__INSA_SITE)
        };
        let __insa_result = ::insa_metrics::__private::run::<
            Result<User, DbError>,
        >(|| { self.db.get(id) });
        ::insa_metrics::__private::sync_return!(& __insa_result);
        __insa_guard.end(::insa_metrics::__private::outcome!(& __insa_result));
        __insa_result
    }
    async fn handle(&mut self, msg: Message) {
        let __insa_guard = {
            static __INSA_SITE: ::insa_metrics::__private::MessageSite = ::insa_metrics::__private::MessageSite::new(
                &"orchestrator",
            );
            ::insa_metrics::__private::MessageSite::start(&__INSA_SITE)
        };
        self.queue.push(msg);
    }
}
