//! Generated code is clean under the strictest lints a user may deny:
//! `cargo clippy --all-targets` checks this file with `clippy::pedantic`
//! and `clippy::nursery` denied.
#![deny(
    clippy::pedantic,
    clippy::nursery,
    unused_qualifications,
    unused_results,
    unreachable_pub,
    missing_docs
)]

use std::io;

use insa_metrics::{
    AgentType, track_database_operation, track_message_processing, track_request_metrics,
};

mod macro_support;

/// A worker.
#[derive(Debug, Default)]
struct Worker {
    done: u32,
}

impl Worker {
    #[track_request_metrics("lints_method")]
    fn work(&mut self, fail: bool) -> Result<u32, io::Error> {
        if fail {
            return Err(io::Error::other("failed"));
        }
        self.done += 1;
        Ok(self.done)
    }

    #[track_request_metrics(AgentType::Crm)]
    fn done(&self) -> u32 {
        self.done
    }
}

#[track_request_metrics("lints_unit")]
fn unit() {}

#[track_request_metrics("lints_async")]
async fn fetch(x: u32) -> io::Result<u32> {
    tokio::task::yield_now().await;
    x.checked_add(1).ok_or_else(|| io::Error::other("overflow"))
}

#[track_database_operation("lints_select", "users")]
fn select(id: u64) -> Result<u64, io::Error> {
    let id = id
        .checked_mul(2)
        .ok_or_else(|| io::Error::other("overflow"))?;
    Ok(id)
}

#[track_message_processing("lints_message")]
async fn handle(message: String) -> usize {
    tokio::task::yield_now().await;
    message.len()
}

#[test]
fn lint_clean_code_runs() {
    let mut worker = Worker::default();
    assert_eq!(worker.work(false).unwrap(), 1);
    assert!(worker.work(true).is_err());
    unit();
    assert_eq!(select(2).unwrap(), 4);
    macro_support::runtime().block_on(async {
        assert_eq!(fetch(1).await.unwrap(), 2);
        assert_eq!(handle(String::from("hi")).await, 2);
    });
    assert_eq!(worker.done(), 1);
    assert!((macro_support::requests("lints_method", "error") - 1.0).abs() < f64::EPSILON);
}
