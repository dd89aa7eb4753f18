//! Attributes on inherent and trait impl blocks, with `async_trait` in either
//! order, a skipped method, a method with its own label, a `const fn`, a
//! request and a database attribute on one block, and a generic block.
#![deny(warnings)]

use async_trait::async_trait;
use insa_metrics::{track_database_operation, track_request_metrics};

struct Crm;

#[track_request_metrics("crm_agent")]
#[track_database_operation("select", "contacts")]
impl Crm {
    pub fn find(&self, id: u64) -> Result<u64, std::io::Error> {
        Ok(id)
    }

    pub async fn refresh(&mut self) {}

    #[track_request_metrics(skip)]
    pub fn ping(&self) -> bool {
        true
    }

    #[track_request_metrics("crm_export")]
    #[track_database_operation(skip)]
    pub fn export(&self) -> String {
        String::new()
    }

    pub const fn limit() -> usize {
        10
    }
}

#[async_trait]
trait Worker {
    async fn process(&self, task: u32) -> Result<u32, std::io::Error>;
    fn name(&self) -> &'static str;
}

#[track_request_metrics("sizing_agent")]
#[async_trait]
impl Worker for Crm {
    async fn process(&self, task: u32) -> Result<u32, std::io::Error> {
        Ok(task)
    }

    fn name(&self) -> &'static str {
        "crm"
    }
}

struct Sizing;

#[async_trait]
#[track_request_metrics("sizing_agent")]
impl Worker for Sizing {
    async fn process(&self, task: u32) -> Result<u32, std::io::Error> {
        Ok(task * 2)
    }

    #[track_request_metrics(skip)]
    fn name(&self) -> &'static str {
        "sizing"
    }
}

struct Cache<T> {
    value: Option<T>,
}

/// A generic block: its methods' call sites are shared by every `T`.
#[track_request_metrics("cache_agent")]
impl<T> Cache<T>
where
    T: Clone,
{
    pub fn get(&self) -> Option<T> {
        self.value.clone()
    }

    pub fn set(&mut self, value: T) {
        self.value = Some(value);
    }
}

fn main() {
    let mut crm = Crm;
    let _ = crm.find(1);
    let _ = crm.refresh();
    let _ = crm.ping();
    let _ = crm.export();
    let _ = Crm::limit();
    let _ = crm.process(1);
    let _ = crm.name();
    let _ = Sizing.process(1);
    let _ = Sizing.name();
    let mut cache = Cache { value: None };
    cache.set(1_u8);
    let _ = cache.get();
}
