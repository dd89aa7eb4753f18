//! Generated code is clean under the strictest lints a user may deny, and
//! the lints of the body itself still fire.
//!
//! `cargo clippy --all-targets` checks this file with `clippy::pedantic` and
//! `clippy::nursery` denied (trybuild runs rustc only); the `#[expect]`s of
//! `lints_still_fire` fail it when a lint stops firing on an instrumented fn.
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

// More shapes under the same lints: borrows of `&mut self`, `impl Trait` in
// a `Result`, a returned async block, a diverging fn, a sync message handler
// and an `#[async_trait]` method.

/// A queue of tasks.
#[derive(Debug, Default)]
struct Queue {
    tasks: Vec<u32>,
}

impl Queue {
    #[track_request_metrics("lints_mut_borrow")]
    fn last_mut(&mut self) -> Option<&mut u32> {
        self.tasks.last_mut()
    }

    #[track_request_metrics("lints_impl_in_result")]
    fn drain(&mut self) -> io::Result<impl Iterator<Item = u32> + '_> {
        if self.tasks.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(self.tasks.drain(..))
    }
}

// The shape under test, which `async fn` would replace.
#[allow(clippy::manual_async_fn)]
#[track_request_metrics("lints_impl_future")]
fn later(x: u32) -> impl Future<Output = u32> {
    async move {
        tokio::task::yield_now().await;
        x
    }
}

#[track_request_metrics("lints_never")]
fn give_up(reason: &str) -> ! {
    panic!("{reason}")
}

#[track_message_processing("lints_sync_message")]
fn route(message: &str) -> usize {
    message.len()
}

/// Items first in the body (`clippy::items_after_statements` would fire if
/// a statement of the expansion came before them).
#[track_message_processing("lints_items_first_message")]
fn items_first_message(x: u32) -> String {
    use std::fmt::Write as _;
    const K: u32 = 3;
    let mut s = String::new();
    let _ = write!(s, "{}", x + K);
    s
}

/// The same in an async body that awaits, with a written return type.
#[track_request_metrics("lints_items_first_async")]
async fn items_first_async(x: u32) -> Result<String, std::fmt::Error> {
    use std::fmt::Write as _;
    const K: u32 = 3;
    let mut s = String::new();
    tokio::task::yield_now().await;
    write!(s, "{}", x + K)?;
    Ok(s)
}

/// A worker behind a trait object.
#[async_trait::async_trait]
trait Process {
    /// Processes one task.
    async fn process(&self, task: u32) -> io::Result<u32>;
}

#[async_trait::async_trait]
impl Process for Queue {
    #[track_request_metrics("lints_async_trait")]
    async fn process(&self, task: u32) -> io::Result<u32> {
        tokio::task::yield_now().await;
        Ok(task + u32::try_from(self.tasks.len()).unwrap_or(u32::MAX))
    }
}

#[test]
fn more_lint_clean_shapes_run() {
    let mut queue = Queue::default();
    assert!(queue.last_mut().is_none());
    assert!(queue.drain().is_err());
    assert_eq!(route("hi"), 2);
    assert_eq!(items_first_message(1), "4");
    assert!(std::panic::catch_unwind(|| give_up("done")).is_err());
    macro_support::runtime().block_on(async {
        assert_eq!(later(3).await, 3);
        assert_eq!(items_first_async(2).await, Ok(String::from("5")));
        assert_eq!(queue.process(1).await.unwrap(), 1);
    });
    assert!((macro_support::requests("lints_never", "error") - 1.0).abs() < f64::EPSILON);
}

/// The lints a body has without the attribute still fire with it: each
/// `#[expect]` fails `cargo clippy -D warnings` when its lint does not.
pub mod lints_still_fire {
    use insa_metrics::{track_message_processing, track_request_metrics};

    /// `needless_return` in a sync body.
    #[expect(clippy::needless_return)]
    #[track_request_metrics("lints_needless_return")]
    #[must_use]
    pub fn needless_return(x: u32) -> u32 {
        return x + 1;
    }

    /// `needless_return` in an async body that awaits.
    #[expect(clippy::needless_return)]
    #[track_request_metrics("lints_needless_return_async")]
    pub async fn needless_return_async(x: u32) -> u32 {
        tokio::task::yield_now().await;
        return x + 1;
    }

    /// `needless_return` in a body that only gets a guard in front.
    #[expect(clippy::needless_return)]
    #[track_message_processing("lints_needless_return_message")]
    #[must_use]
    pub fn needless_return_message(x: u32) -> u32 {
        return x + 1;
    }

    /// `unused_async`: an async fn without an `.await`.
    #[expect(clippy::unused_async)]
    #[track_request_metrics("lints_unused_async")]
    pub async fn unused_async(x: u32) -> u32 {
        x + 1
    }

    /// `must_use_candidate`: a pure fn returning a value.
    #[expect(clippy::must_use_candidate)]
    #[track_request_metrics("lints_must_use_candidate")]
    pub fn must_use_candidate(x: u32) -> u32 {
        x + 1
    }

    /// `needless_pass_by_value`: a `String` only read.
    #[expect(clippy::needless_pass_by_value)]
    #[track_request_metrics("lints_needless_pass_by_value")]
    #[must_use]
    pub fn needless_pass_by_value(name: String) -> usize {
        name.len()
    }
}

#[test]
fn fns_whose_lints_still_fire_run() {
    use lints_still_fire as fire;
    assert_eq!(fire::needless_return(1), 2);
    assert_eq!(fire::needless_return_message(1), 2);
    assert_eq!(fire::must_use_candidate(1), 2);
    assert_eq!(fire::needless_pass_by_value(String::from("ab")), 2);
    macro_support::runtime().block_on(async {
        assert_eq!(fire::needless_return_async(1).await, 2);
        assert_eq!(fire::unused_async(1).await, 2);
    });
    assert!((macro_support::requests("lints_unused_async", "success") - 1.0).abs() < f64::EPSILON);
}
