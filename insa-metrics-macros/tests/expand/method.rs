impl Users {
    #[track_database_operation("select", "users")]
    fn load_user(&self, id: u64) -> Result<User, DbError> {
        self.db.get(id)
    }

    #[track_message_processing("orchestrator")]
    async fn handle(&mut self, msg: Message) {
        self.queue.push(msg);
    }
}
