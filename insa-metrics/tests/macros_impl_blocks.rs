//! An attribute on an `impl` block instruments each method with a body under
//! the block's labels: inherent and trait impls, sync and async methods.
//! `(skip)` leaves a method out, a method's own attribute wins over the
//! block's, and a `const fn` is left out.

mod macro_support;

use std::io;

use insa_metrics::{track_database_operation, track_request_metrics};
use macro_support::{requests, runtime, sample, statuses};

struct Crm {
    contacts: Vec<String>,
}

#[track_request_metrics("block_crm")]
impl Crm {
    fn new() -> Self {
        Crm {
            contacts: Vec::new(),
        }
    }

    fn add(&mut self, name: &str) -> Result<usize, io::Error> {
        if name.is_empty() {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        self.contacts.push(name.to_owned());
        Ok(self.contacts.len())
    }

    async fn sync_all(&self) -> usize {
        tokio::task::yield_now().await;
        self.contacts.len()
    }

    #[track_request_metrics(skip)]
    fn count(&self) -> usize {
        self.contacts.len()
    }

    #[track_request_metrics("block_crm_export")]
    fn export(&self) -> String {
        self.contacts.join(",")
    }

    const fn limit() -> usize {
        100
    }
}

#[test]
fn every_method_of_an_inherent_block() {
    let mut crm = Crm::new();
    assert_eq!(crm.add("ada").unwrap(), 1);
    assert!(crm.add("").is_err());
    assert_eq!(runtime().block_on(crm.sync_all()), 1);
    assert_eq!(crm.count(), 1);
    assert_eq!(crm.export(), "ada");
    assert_eq!(Crm::limit(), 100);
    // `new`, `add` twice (one error), `sync_all`; not `count`, not `export`.
    assert_eq!(statuses("block_crm"), [3.0, 1.0, 0.0, 0.0]);
    assert_eq!(
        requests("block_crm_export", "success"),
        1.0,
        "its own label"
    );
}

trait Store {
    fn load(&self, id: u64) -> Result<String, io::Error>;
    fn save(&mut self, value: String) -> Result<(), io::Error>;
    fn name(&self) -> &'static str {
        "store"
    }
}

struct Users {
    rows: Vec<String>,
}

#[track_database_operation("block_query", "users")]
impl Store for Users {
    fn load(&self, id: u64) -> Result<String, io::Error> {
        let index = usize::try_from(id).map_err(io::Error::other)?;
        self.rows
            .get(index)
            .cloned()
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn save(&mut self, value: String) -> Result<(), io::Error> {
        self.rows.push(value);
        Ok(())
    }
}

#[test]
fn every_method_of_a_trait_impl() {
    let mut users = Users { rows: Vec::new() };
    users.save("ada".to_owned()).unwrap();
    assert_eq!(users.load(0).unwrap(), "ada");
    users.load(5).unwrap_err();
    assert_eq!(
        users.name(),
        "store",
        "a default method is not in the block"
    );
    let operations =
        sample(r#"insa_database_operations_total{operation="block_query",table="users"}"#);
    assert_eq!(operations, 3.0);
    let not_found =
        sample(r#"insa_database_errors_total{error_type="not_found",operation="block_query"}"#);
    assert_eq!(not_found, 1.0);
}
