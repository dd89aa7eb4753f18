//! Bodies that are one async block, or an `async fn` body that is one
//! expression: no `unused_braces` (whose fix, `async move x + 1`, would not
//! compile), no other warning.
#![deny(warnings)]

use std::future::Future;
use std::pin::Pin;

use insa_metrics::{track_message_processing, track_request_metrics};

#[track_request_metrics("async_block_impl_future")]
fn later(x: u32) -> impl Future<Output = u32> + Send {
    async move { x + 1 }
}

#[track_request_metrics("async_block_boxed")]
fn boxed(x: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { x + 2 })
}

#[track_request_metrics("async_block_async_fn")]
async fn next(x: u32) -> u32 {
    x + 3
}

#[track_message_processing("async_block_message")]
fn handle(x: u32) -> impl Future<Output = u32> {
    async move { x + 4 }
}

#[track_request_metrics("async_block_awaiting_one_expression")]
async fn awaits(x: u32) -> u32 {
    next(x).await
}

fn main() {
    let _ = later(1);
    let _ = boxed(1);
    let _ = next(1);
    let _ = handle(1);
    let _ = awaits(1);
}
