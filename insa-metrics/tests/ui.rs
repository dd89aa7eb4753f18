//! Compile-time checks of the attribute macros, with trybuild.
//!
//! Each mistake in `tests/ui/fail/` is one error at the offending token, and
//! the cases in `tests/ui/pass/` compile warning-free. `TRYBUILD=overwrite`
//! rewrites the `.stderr` files after a reviewed change.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
