//! An instrumented fn defined inside another of the same kind is not the
//! same attribute twice: each counts its own calls.
#![deny(warnings)]

use insa_metrics::track_request_metrics;

#[track_request_metrics("crm_agent")]
fn outer() -> u8 {
    #[track_request_metrics("sizing_agent")]
    fn inner() -> u8 {
        1
    }
    inner() + 1
}

#[track_request_metrics("crm_agent")]
async fn outer_async() -> u8 {
    #[track_request_metrics("sizing_agent")]
    async fn inner() -> u8 {
        1
    }
    inner().await + 1
}

fn main() {
    assert_eq!(outer(), 2);
    drop(outer_async());
}
