//! The metrics path: checked at build, and matched against request paths by their percent-decoded bytes.

use percent_encoding::percent_decode_str;

use crate::Error;

/// The path that serves the metrics, as the bytes it names: a request path
/// matches when it decodes to the same bytes, so `/métriques` is served to
/// a client that asks for `/m%C3%A9triques`, as every client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetricsPath {
    decoded: Vec<u8>,
}

impl MetricsPath {
    /// Checks a configured path: it starts with `/`, holds no query (`?`),
    /// fragment (`#`), whitespace or control character, and every `%` starts
    /// a `%XX` escape.
    pub(crate) fn parse(path: &str) -> Result<MetricsPath, Error> {
        let invalid = |why: &str| Error::config(format!("the metrics path {path:?} {why}"));
        if !path.starts_with('/') {
            return Err(invalid("must start with '/'"));
        }
        if let Some(c) = path.chars().find(|c| matches!(c, '?' | '#')) {
            return Err(invalid(&format!(
                "must not contain {c:?}: a request's query or fragment is not part of its path"
            )));
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "must not contain whitespace or control characters (percent-encode them)",
            ));
        }
        let bytes = path.as_bytes();
        for (i, _) in path.match_indices('%') {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                return Err(invalid("has a '%' that does not start a %XX escape"));
            }
        }
        Ok(MetricsPath {
            decoded: percent_decode_str(path).collect(),
        })
    }

    /// Whether a request's path (as sent, percent-encoded) names this path.
    pub(crate) fn matches(&self, request_path: &str) -> bool {
        percent_decode_str(request_path).eq(self.decoded.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_decoded_bytes() {
        let ascii = MetricsPath::parse("/metrics").unwrap();
        assert!(ascii.matches("/metrics"));
        assert!(ascii.matches("/%6Detrics"));
        assert!(!ascii.matches("/metrics/"));
        assert!(!ascii.matches("/metricsx"));
        let accented = MetricsPath::parse("/métriques").unwrap();
        assert!(accented.matches("/m%C3%A9triques"));
        assert!(accented.matches("/m%c3%a9triques"));
        assert_eq!(MetricsPath::parse("/m%C3%A9triques").unwrap(), accented);
    }

    #[test]
    fn rejects_what_no_request_path_can_be() {
        for path in [
            "metrics",
            "/metrics?x=1",
            "/metrics#top",
            "/a b",
            "/a\n",
            "/100%",
            "/%zz",
        ] {
            assert!(MetricsPath::parse(path).is_err(), "{path:?}");
        }
    }
}
