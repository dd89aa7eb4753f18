//! The text exposition format 0.0.4.

use prometheus::{Registry, TextEncoder};

/// The `Content-Type` of the text exposition format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Gathers `registry` and encodes it as text.
pub(crate) fn encode_text(registry: &Registry) -> String {
    let families = registry.gather();
    let mut text = String::with_capacity(16 * 1024);
    // Encoding into a String only fails on invalid family data, which the
    // catalogue rules out; report it in the text rather than panic.
    if let Err(error) = TextEncoder::new().encode_utf8(&families, &mut text) {
        text.push_str(&format!("# encoding error: {error}\n"));
    }
    text
}
