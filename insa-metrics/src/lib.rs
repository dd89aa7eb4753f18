#![doc = include_str!("../../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod catalogue;

mod clock;
mod collector;
#[cfg(any(feature = "server", feature = "push"))]
mod detached;
#[cfg(any(feature = "server", feature = "push"))]
mod encoding;
mod error;
mod exposition;
mod global;
mod guards;
mod handles;
mod labels;
mod outcome;
#[cfg(feature = "push")]
mod push;
#[cfg(feature = "server")]
mod server;
mod store;
mod trace;
mod tracked;

#[doc(hidden)]
pub mod __private;

pub use collector::{CollectorBuilder, MetricsCollector};
pub use error::Error;
pub use exposition::{Format, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, negotiate};
pub use global::{get_metrics_text, initialize_metrics, metrics};
pub use guards::{DatabaseGuard, MessageGuard, RequestGuard};
pub use handles::{DatabaseHandles, MessageHandles, RequestHandles};
pub use labels::{AgentType, CircuitState, LabelValue, ReplayStatus, RequestStatus};
pub use outcome::{ClassifyError, Outcome};
#[cfg(feature = "push")]
#[cfg_attr(docsrs, doc(cfg(feature = "push")))]
pub use push::{DEFAULT_PUSH_TIMEOUT, Pusher, push_metrics};
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use server::{
    BIND_ADDRESS_ENV, MetricsServer, MetricsServerBuilder, ServerHandle, start_metrics_server,
    stop_metrics_server,
};
pub use store::{
    DEFAULT_CARDINALITY_LIMIT, DEFAULT_EXEMPLAR_INTERVAL, DEFAULT_IDLE_TIMEOUT, EMPTY_LABEL_VALUE,
    MAX_LABEL_VALUE_BYTES, OVERFLOW_LABEL_VALUE,
};
pub use trace::{InTraceScope, TraceContext, TraceScope};

pub use insa_metrics_macros::{
    track_database_operation, track_message_processing, track_request_metrics,
};

/// Re-exported so users name the same `prometheus` version as this crate.
pub use prometheus;
