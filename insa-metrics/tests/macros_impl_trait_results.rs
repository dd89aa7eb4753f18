//! `Result<impl Trait, E>` with an error type that does not implement
//! `ClassifyError`: it compiles, sync and async, through `anyhow::Result`
//! (with or without the `anyhow` feature) and a boxed-future type alias, and
//! an `Err` counts as an error named after its type.
//!
//! In every case the body never names `E`: `?` converts an `io::Error` into
//! it, and the fn's return type is what fixes it.

mod macro_support;

use std::future::Future;
use std::io;
use std::pin::Pin;

use insa_metrics::{track_database_operation, track_request_metrics};
use macro_support::{runtime, sample, statuses};

/// An error of the user's, without `ClassifyError`.
#[derive(Debug)]
struct StoreError;

impl From<io::Error> for StoreError {
    fn from(_: io::Error) -> Self {
        StoreError
    }
}

fn read(fail: bool) -> io::Result<Vec<u32>> {
    if fail {
        Err(io::ErrorKind::NotFound.into())
    } else {
        Ok(vec![1, 2])
    }
}

fn errors(operation: &str, error_type: &str) -> f64 {
    sample(&format!(
        r#"insa_database_errors_total{{error_type="{error_type}",operation="{operation}"}}"#
    ))
}

#[track_request_metrics("impl_result_sync")]
fn sync_values(fail: bool) -> Result<impl Iterator<Item = u32>, StoreError> {
    let values = read(fail)?;
    Ok(values.into_iter())
}

#[track_database_operation("impl_result_select", "values")]
fn sync_rows(fail: bool) -> Result<impl Iterator<Item = u32>, StoreError> {
    let values = read(fail)?;
    Ok(values.into_iter())
}

#[test]
fn sync_fns() {
    assert_eq!(sync_values(false).unwrap().sum::<u32>(), 3);
    assert!(sync_values(true).is_err());
    assert_eq!(statuses("impl_result_sync"), [1.0, 1.0, 0.0, 0.0]);
    assert_eq!(sync_rows(false).unwrap().count(), 2);
    assert!(sync_rows(true).is_err());
    assert_eq!(errors("impl_result_select", "store_error"), 1.0);
}

#[track_request_metrics("impl_result_async")]
async fn async_values(fail: bool) -> Result<impl Iterator<Item = u32>, StoreError> {
    tokio::task::yield_now().await;
    let values = read(fail)?;
    Ok(values.into_iter())
}

#[track_request_metrics("impl_result_async_no_await")]
async fn async_values_now(fail: bool) -> Result<impl Iterator<Item = u32>, StoreError> {
    let values = read(fail)?;
    Ok(values.into_iter())
}

#[test]
fn async_fns() {
    runtime().block_on(async {
        assert_eq!(async_values(false).await.unwrap().count(), 2);
        assert!(async_values(true).await.is_err());
        assert_eq!(async_values_now(false).await.unwrap().count(), 2);
        assert!(async_values_now(true).await.is_err());
    });
    assert_eq!(statuses("impl_result_async"), [1.0, 1.0, 0.0, 0.0]);
    assert_eq!(statuses("impl_result_async_no_await"), [1.0, 1.0, 0.0, 0.0]);
}

/// Compiles without the `anyhow` feature too (`cargo test --no-default-features`),
/// where `anyhow::Error` has no `ClassifyError`.
#[track_request_metrics("impl_result_anyhow")]
fn anyhow_values(fail: bool) -> anyhow::Result<impl Iterator<Item = u32>> {
    let values = read(fail)?;
    Ok(values.into_iter())
}

#[test]
fn anyhow_results() {
    assert_eq!(anyhow_values(false).unwrap().count(), 2);
    assert!(anyhow_values(true).is_err());
    assert_eq!(statuses("impl_result_anyhow"), [1.0, 1.0, 0.0, 0.0]);
}

/// A boxed future behind a type alias, as `futures::future::BoxFuture` is.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[track_request_metrics("impl_result_boxed")]
fn boxed_values(fail: bool) -> BoxFuture<'static, Result<Vec<u32>, StoreError>> {
    Box::pin(async move {
        tokio::task::yield_now().await;
        let values = read(fail)?;
        Ok(values)
    })
}

#[test]
fn boxed_future_aliases() {
    runtime().block_on(async {
        assert_eq!(boxed_values(false).await.unwrap().len(), 2);
        assert!(boxed_values(true).await.is_err());
    });
    assert_eq!(statuses("impl_result_boxed"), [1.0, 1.0, 0.0, 0.0]);
}

/// `impl Trait` inside a trait object: `dyn Iterator<Item = _>` in the
/// expansion, the boxed iterator coerced as in the fn.
#[track_request_metrics("impl_in_dyn")]
fn boxed_iter(values: &[u32]) -> Box<dyn Iterator<Item = impl std::fmt::Display + '_> + '_> {
    Box::new(values.iter())
}

#[track_request_metrics("impl_in_dyn_result")]
fn boxed_iter_result(
    fail: bool,
    values: &[u32],
) -> Result<Box<dyn Iterator<Item = impl std::fmt::Display + '_> + '_>, StoreError> {
    read(fail)?;
    Ok(Box::new(values.iter()))
}

/// A return type passed through `macro_rules!` as `$t:ty` arrives grouped:
/// `!` is still the never type, `()` still a unit.
macro_rules! instrumented {
    ($name:ident -> $t:ty $body:block) => {
        #[track_request_metrics("impl_grouped_return")]
        fn $name() -> $t $body
    };
}
instrumented!(never_returns -> ! { panic!("gives up") });
instrumented!(returns_unit -> () {});

#[test]
fn impl_trait_in_trait_objects_and_grouped_types() {
    let values = [1, 2];
    assert_eq!(
        boxed_iter(&values)
            .map(|v| v.to_string())
            .collect::<String>(),
        "12"
    );
    assert_eq!(
        boxed_iter_result(false, &values).map(Iterator::count).ok(),
        Some(2)
    );
    assert!(boxed_iter_result(true, &values).is_err());
    assert_eq!(statuses("impl_in_dyn"), [1.0, 0.0, 0.0, 0.0]);
    assert_eq!(statuses("impl_in_dyn_result"), [1.0, 1.0, 0.0, 0.0]);
    returns_unit();
    assert!(std::panic::catch_unwind(never_returns).is_err());
    assert_eq!(statuses("impl_grouped_return"), [1.0, 1.0, 0.0, 0.0]);
}

/// Stubs behind `impl Trait`: the value's type is `!`'s fallback, as in the
/// fn; the call counts as the panic it is.
#[track_request_metrics("impl_stub")]
fn stub() -> impl std::fmt::Display {
    todo!()
}

#[track_request_metrics("impl_stub_async")]
async fn stub_async() -> impl std::fmt::Display {
    tokio::task::yield_now().await;
    unimplemented!("later")
}

#[test]
fn stubs_behind_impl_trait_count_as_panics() {
    assert!(std::panic::catch_unwind(|| stub().to_string()).is_err());
    assert_eq!(statuses("impl_stub"), [0.0, 1.0, 0.0, 0.0]);
    let rt = runtime();
    let task = rt.spawn(async { stub_async().await.to_string() });
    assert!(rt.block_on(task).unwrap_err().is_panic());
    assert_eq!(statuses("impl_stub_async"), [0.0, 1.0, 0.0, 0.0]);
}

/// A closure returned as `impl Fn`: its parameter types written, as the
/// README says (left to inference, they are not found inside the
/// expansion's own closure).
#[track_request_metrics("impl_fn_closure")]
fn at_most(max: u32) -> impl Fn(&u32) -> bool {
    move |value: &u32| *value <= max
}

#[test]
fn closures_returned_as_impl_fn() {
    let small = at_most(2);
    assert!(small(&1) && !small(&3));
    assert_eq!(statuses("impl_fn_closure"), [1.0, 0.0, 0.0, 0.0]);
}
