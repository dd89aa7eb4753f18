#[track_request_metrics("crm_agent")]
impl CrmAgent {
    pub fn new(crm: Crm) -> Self {
        CrmAgent { crm }
    }

    pub async fn update(&self, contact: Contact) -> Result<(), CrmError> {
        self.crm.put(contact).await
    }

    #[track_request_metrics(skip)]
    pub fn crm(&self) -> &Crm {
        &self.crm
    }
}
