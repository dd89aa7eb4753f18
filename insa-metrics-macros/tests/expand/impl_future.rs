#[track_request_metrics("crm_agent")]
fn refresh(&self) -> impl Future<Output = Result<(), SyncError>> + Send + '_ {
    let id = self.id;
    async move { self.crm.refresh(id).await }
}

#[track_database_operation("delete", "sessions")]
fn purge(pool: &Pool) {
    pool.execute("delete from sessions");
}
