//! Generated code names everything by absolute path and hygienic locals: a
//! decoy `core`, a local `insa_metrics` module, shadowed prelude names and a
//! module without the prelude change nothing, and no lint fires.
#![deny(unused_qualifications, unused_results, warnings, clippy::pedantic)]
#![allow(dead_code)]

mod core {}
mod std_like {}

/// A local module with the crate's name: generated paths start with `::`.
mod insa_metrics {
    pub fn metrics() {}
}

use ::insa_metrics::{track_database_operation, track_message_processing, track_request_metrics};

#[derive(Debug)]
struct Error;

type Result<T> = ::std::result::Result<T, Error>;
type Option = u8;

#[allow(non_snake_case)]
fn Ok<T>(value: T) -> ::std::result::Result<T, Error> {
    ::std::result::Result::Ok(value)
}

#[allow(non_snake_case)]
fn Err<T>(error: Error) -> ::std::result::Result<T, Error> {
    ::std::result::Result::Err(error)
}

#[track_request_metrics("hygiene_agent")]
fn process(fail: bool) -> Result<Option> {
    let __insa_guard = 1;
    let __insa_result = 2;
    if fail {
        return Err(Error);
    }
    Ok(__insa_guard + __insa_result)
}

#[track_database_operation("select", "users")]
async fn load(id: u64) -> Result<u64> {
    Ok(id)
}

#[track_message_processing("orchestrator")]
fn handle() -> Option {
    insa_metrics::metrics();
    0
}

struct Store;

#[track_request_metrics("hygiene_block")]
impl Store {
    fn values(&self, fail: bool) -> Result<impl Iterator<Item = Option>> {
        if fail {
            return Err(Error);
        }
        Ok(::std::iter::once(1))
    }

    #[track_request_metrics(skip)]
    fn skipped(&self) -> Option {
        2
    }
}

type BoxFuture<T> = ::std::pin::Pin<Box<dyn ::std::future::Future<Output = T> + Send>>;

#[track_request_metrics("hygiene_boxed")]
fn boxed(value: u8) -> BoxFuture<Result<u8>> {
    Box::pin(async move {
        if value == 0 {
            return Err(Error);
        }
        Ok(value)
    })
}

mod no_prelude {
    #![no_implicit_prelude]

    #[::insa_metrics::track_request_metrics("hygiene_no_prelude")]
    pub fn bare(x: u32) -> ::std::result::Result<u32, ::std::io::Error> {
        ::std::result::Result::Ok(x)
    }

    #[::insa_metrics::track_request_metrics("hygiene_no_prelude_async")]
    pub async fn bare_async() {}

    #[::insa_metrics::track_request_metrics("hygiene_no_prelude_async_result")]
    pub async fn bare_async_result() -> ::std::result::Result<u8, ::std::io::Error> {
        ::std::result::Result::Ok(1)
    }
}

fn main() {
    let _ = process(false);
    let _ = process(true);
    let _ = load(1);
    let _ = handle();
    let _ = Store.values(false).map(Iterator::count);
    let _ = Store.skipped();
    let _ = boxed(1);
    let _ = no_prelude::bare(1);
    let _ = no_prelude::bare_async();
    let _ = no_prelude::bare_async_result();
}
