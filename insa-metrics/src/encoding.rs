//! The text of a `prometheus` registry that is not a collector's: gathered,
//! then written by the exposition writers (the entry the server and push use
//! for a registry given to them).

use prometheus::Registry;

use crate::Error;
use crate::exposition::{self, Format};

/// `registry` in `format`, gathered (so any collector of this crate on it
/// goes through the `prometheus` model, more slowly than its own encoder).
pub(crate) fn encode_registry(registry: &Registry, format: Format) -> Result<String, Error> {
    let gathered = registry.gather();
    exposition::check_gathered(&gathered).map_err(Error::Encoding)?;
    let mut out = String::new();
    exposition::encode_gathered(&mut out, &gathered, format)
        .map_err(|_| Error::Encoding("the writer failed".to_owned()))?;
    Ok(out)
}

/// `registry` in the text format 0.0.4; one comment line saying why when it
/// cannot be encoded.
#[cfg(test)]
pub(crate) fn encode_text(registry: &Registry) -> String {
    encode_registry(registry, Format::Text).unwrap_or_else(|error| format!("# {error}\n"))
}
