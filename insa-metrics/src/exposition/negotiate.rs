//! Content negotiation: the format a scraper's `Accept` header prefers.

use super::Format;

/// The format to answer a scrape with, from its `Accept` header (RFC 9110
/// §12.5.1): OpenMetrics 1.0 when `application/openmetrics-text` (version
/// 1.0.0, 0.0.1 or none) has a higher quality than text 0.0.4 (`text/plain`
/// with version 0.0.4 or none, `text/*`, `*/*`); text 0.0.4 otherwise — also
/// without a header, on a tie, and when nothing listed is one of the two.
/// A range's quality is that of its most specific match, as the RFC says.
///
/// Prometheus sends, with OpenMetrics first:
/// `application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`.
///
/// # Examples
///
/// ```
/// use insa_metrics::{Format, negotiate};
///
/// assert_eq!(negotiate(Some("text/plain;version=0.0.4")), Format::Text);
/// assert_eq!(negotiate(Some("application/openmetrics-text")), Format::OpenMetrics);
/// assert_eq!(negotiate(Some("application/openmetrics-text;q=0.4, text/plain;q=0.5")), Format::Text);
/// ```
#[must_use]
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let mut openmetrics = Match::NONE;
    let mut text = Match::NONE;
    for range in accept.split(',') {
        let Some(range) = MediaRange::parse(range) else {
            continue;
        };
        openmetrics = openmetrics.better(range.openmetrics());
        text = text.better(range.text());
    }
    if openmetrics.quality > text.quality {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// How well a media range matches a format: its specificity (0 for `*/*`,
/// 1 for `type/*`, 2 for the type, 3 with a matching version) and quality.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Match {
    specificity: u8,
    quality: f32,
}

impl Match {
    const NONE: Match = Match {
        specificity: 0,
        quality: 0.0,
    };

    /// The more specific of two matches; the higher quality of equals.
    fn better(self, other: Option<Match>) -> Match {
        match other {
            Some(other) if self == Match::NONE => other,
            Some(other) if other.specificity > self.specificity => other,
            Some(other)
                if other.specificity == self.specificity && other.quality > self.quality =>
            {
                other
            }
            _ => self,
        }
    }
}

/// One element of an `Accept` header.
#[derive(Debug)]
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    version: Option<&'a str>,
    quality: f32,
}

impl<'a> MediaRange<'a> {
    fn parse(range: &'a str) -> Option<Self> {
        let mut parts = range.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let mut version = None;
        let mut quality = 1.0;
        for parameter in parts {
            let Some((name, value)) = parameter.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => {
                    quality = value
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))?
                }
                "version" => version = Some(value),
                _ => {}
            }
        }
        Some(MediaRange {
            kind: kind.trim(),
            subtype: subtype.trim(),
            version,
            quality,
        })
    }

    fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    fn matching(&self, specificity: u8) -> Option<Match> {
        Some(Match {
            specificity,
            quality: self.quality,
        })
    }

    /// How this range matches OpenMetrics 1.0 text.
    fn openmetrics(&self) -> Option<Match> {
        if self.is("application", "openmetrics-text") {
            return match self.version {
                None => self.matching(2),
                Some("1.0.0" | "0.0.1") => self.matching(3),
                Some(_) => None,
            };
        }
        self.wildcard("application")
    }

    /// How this range matches text 0.0.4.
    fn text(&self) -> Option<Match> {
        if self.is("text", "plain") {
            return match self.version {
                None => self.matching(2),
                Some("0.0.4") => self.matching(3),
                Some(_) => None,
            };
        }
        self.wildcard("text")
    }

    fn wildcard(&self, kind: &str) -> Option<Match> {
        if self.kind == "*" && self.subtype == "*" {
            self.matching(0)
        } else if self.kind.eq_ignore_ascii_case(kind) && self.subtype == "*" {
            self.matching(1)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Prometheus 2.42 sends when it scrapes.
    const PROMETHEUS: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn what_prometheus_sends_gets_openmetrics() {
        assert_eq!(negotiate(Some(PROMETHEUS)), Format::OpenMetrics);
    }

    #[test]
    fn q_values_decide() {
        let cases = [
            (
                "application/openmetrics-text;q=0.5, text/plain;q=0.6",
                Format::Text,
            ),
            (
                "application/openmetrics-text;q=0.7, text/plain;q=0.6",
                Format::OpenMetrics,
            ),
            (
                "text/plain;q=0.6, application/openmetrics-text; q=0.7",
                Format::OpenMetrics,
            ),
            ("application/openmetrics-text;q=0, */*", Format::Text),
            (
                "application/openmetrics-text;q=0.5, text/plain;q=0.5",
                Format::Text,
            ),
            (
                "application/openmetrics-text;version=2.0.0, text/plain;q=0.1",
                Format::Text,
            ),
            (
                "application/openmetrics-text; version=\"1.0.0\"; q=0.9",
                Format::OpenMetrics,
            ),
            ("APPLICATION/OpenMetrics-Text", Format::OpenMetrics),
            (
                "text/plain;version=0.0.4;q=0.3,application/*;q=0.4",
                Format::OpenMetrics,
            ),
            (
                "application/openmetrics-text;q=bogus, text/plain;q=0.1",
                Format::Text,
            ),
        ];
        for (accept, format) in cases {
            assert_eq!(negotiate(Some(accept)), format, "{accept}");
        }
    }

    #[test]
    fn wildcards_absent_and_unknown_headers_get_text() {
        for accept in [
            "*/*",
            "text/*",
            "",
            "application/json",
            "garbage",
            ";;;,,,",
            "text/html;q=0.9, */*;q=0.8",
        ] {
            assert_eq!(negotiate(Some(accept)), Format::Text, "{accept}");
        }
        assert_eq!(negotiate(None), Format::Text);
    }

    #[test]
    fn the_most_specific_range_sets_the_quality() {
        // `*/*` would rate OpenMetrics 1, but its own range says 0.1.
        let accept = "application/openmetrics-text;q=0.1, */*, text/plain;q=0.2";
        assert_eq!(negotiate(Some(accept)), Format::Text);
    }
}
