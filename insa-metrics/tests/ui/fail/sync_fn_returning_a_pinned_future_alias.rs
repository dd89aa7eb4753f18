//! A future behind a type alias: the attribute cannot see it is one, and
//! would record the call when the future is built.
use std::future::Future;
use std::pin::Pin;

use insa_metrics::track_request_metrics;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

async fn fetch() -> u8 {
    1
}

#[track_request_metrics("crm_agent")]
fn load() -> BoxFuture<'static, u8> {
    let future = fetch();
    Box::pin(future)
}

fn main() {
    drop(load());
}
