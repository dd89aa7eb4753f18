//! Attribute macros of `insa-metrics`; use them through that crate.
//!
//! The `insa-metrics` documentation (its "Attribute macros" and
//! "Explanation" sections) describes them and what they expand to.

use proc_macro::TokenStream;

mod body;
mod expand;
mod impl_block;
mod item;
mod kind;
mod labels;
mod output;
mod parse;
mod snake_case;
mod tail;

#[cfg(test)]
mod snapshots;

use kind::Kind;

/// Instruments an agent worker fn, sync or async.
///
/// `#[track_request_metrics("sizing_agent")]`, or `(agent_type = …)`, or a
/// typed label such as `(AgentType::Sizing)`. Each call counts
/// `insa_agent_requests_total{agent_type,status}` (`success`, `error`,
/// `timeout`, `cancelled`; a panic is `error`), observes
/// `insa_agent_request_duration_seconds{agent_type}` and is counted in
/// `insa_worker_active_requests{worker_name}` while in flight.
///
/// On an `impl` block, it instruments each method with a body;
/// `#[track_request_metrics(skip)]` leaves a method out.
#[proc_macro_attribute]
pub fn track_request_metrics(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Request, args.into(), item.into()).into()
}

/// Instruments a database operation, sync or async.
///
/// `#[track_database_operation("select", "users")]`, or
/// `(operation = …, table = …)`, or typed labels. Each call counts
/// `insa_database_operations_total{operation,table}` and observes
/// `insa_database_operation_duration_seconds{operation,table}`; an `Err` or a
/// panic also counts `insa_database_errors_total{operation,error_type}`.
///
/// On an `impl` block, it instruments each method with a body;
/// `#[track_database_operation(skip)]` leaves a method out.
#[proc_macro_attribute]
pub fn track_database_operation(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Database, args.into(), item.into()).into()
}

/// Times the processing of one message, sync or async.
///
/// `#[track_message_processing("orchestrator")]`, or `(agent_type = …)`, or a
/// typed label. Each call observes
/// `insa_message_bus_processing_duration_seconds{agent_type}`, however it ends.
///
/// On an `impl` block, it instruments each method with a body;
/// `#[track_message_processing(skip)]` leaves a method out.
#[proc_macro_attribute]
pub fn track_message_processing(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Message, args.into(), item.into()).into()
}
