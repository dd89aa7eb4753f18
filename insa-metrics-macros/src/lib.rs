//! Attribute macros of `insa-metrics`; use them through that crate, whose
//! documentation describes them.

use proc_macro::TokenStream;

mod expand;
mod kind;
mod parse;
mod validate;

#[cfg(test)]
mod snapshots;

use kind::Kind;

/// Counts, times and tracks in flight the calls of a worker fn; see the
/// `insa-metrics` crate documentation.
#[proc_macro_attribute]
pub fn track_request_metrics(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Request, args.into(), item.into()).into()
}

/// Counts and times a database operation, and its errors by type; see the
/// `insa-metrics` crate documentation.
#[proc_macro_attribute]
pub fn track_database_operation(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Database, args.into(), item.into()).into()
}

/// Times the processing of one message; see the `insa-metrics` crate
/// documentation.
#[proc_macro_attribute]
pub fn track_message_processing(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Message, args.into(), item.into()).into()
}
