//! Attribute macros of `insa-metrics`; use them through that crate.

use proc_macro::TokenStream;

/// Placeholder.
#[proc_macro_attribute]
pub fn track_request_metrics(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Placeholder.
#[proc_macro_attribute]
pub fn track_database_operation(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Placeholder.
#[proc_macro_attribute]
pub fn track_message_processing(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
