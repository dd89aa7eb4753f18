//! The INSA platform: agent workers, orchestrator, message bus, cache, resilience and sessions, instrumented with `insa-metrics`.

pub mod agents;
pub mod backend;
pub mod breaker;
pub mod bus;
pub mod cache;
pub mod crm;
pub mod database;
pub mod dead_letter;
pub mod error;
pub mod message;
pub mod orchestrator;
pub mod platform;
pub mod retry;
pub mod rng;
pub mod session;
pub mod sizing;
pub mod tracer;
pub mod users;
pub mod worker;

#[cfg(test)]
mod testing;
