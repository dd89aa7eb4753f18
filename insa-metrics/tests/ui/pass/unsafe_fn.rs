//! `unsafe fn` stays unsafe to call, its body keeps its unsafe blocks.
#![deny(unsafe_op_in_unsafe_fn)]

use insa_metrics::track_request_metrics;

/// # Safety
///
/// `ptr` must be valid for reads.
#[track_request_metrics("unsafe_agent")]
unsafe fn read(ptr: *const u8) -> u8 {
    // SAFETY: the caller's contract.
    unsafe { *ptr }
}

fn main() {
    let byte = 7;
    // SAFETY: a reference is valid for reads.
    assert_eq!(unsafe { read(&raw const byte) }, 7);
}
