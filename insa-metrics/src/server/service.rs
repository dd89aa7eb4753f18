//! Request handling: auth, routing, and [`Endpoint::render`], the one place a scrape is encoded.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body_util::Full;
use hyper::header::{
    ACCEPT, ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap,
    HeaderValue, RETRY_AFTER, VARY, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::Semaphore;

use super::admission::Peer;
use super::auth::{BasicAuth, Verdict};
use super::path::MetricsPath;
use crate::detached::{self, DetachedError};
use crate::encoding::Source;
use crate::{Error, Format};

/// What the server serves: the path, the metrics and who may see it.
#[derive(Debug)]
pub(crate) struct Endpoint {
    path: MetricsPath,
    source: Source,
    auth: Option<BasicAuth>,
    /// Encodings (and gzip) running at once: at most one per core, so that
    /// a burst of scrapes of a large registry cannot take every core or
    /// hold many bodies in memory at once. A stuck collector keeps its
    /// permit, so at most this many encoders can hang.
    encoders: Arc<Semaphore>,
    /// How long a scrape waits for an encoder before its 503.
    scrape_wait: Duration,
}

/// How a scrape's body is represented, negotiated from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Representation {
    format: Format,
    gzip: bool,
}

/// Why a scrape has no body. Answered with a 5xx, so that Prometheus marks
/// the target down (`up == 0`) instead of seeing a target with no series.
#[derive(Debug)]
pub(crate) enum ScrapeError {
    /// A collector or the encoder panicked.
    Panicked,
    /// The registry holds a family no exposition format can carry.
    Encoding(Error),
    /// No encoder could be started: no thread (the error says why).
    Unavailable(std::io::Error),
}

impl Endpoint {
    pub(crate) fn new(
        path: MetricsPath,
        source: Source,
        auth: Option<BasicAuth>,
        scrape_wait: Duration,
    ) -> Endpoint {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Endpoint {
            path,
            source,
            auth,
            encoders: Arc::new(Semaphore::new(cores)),
            scrape_wait,
        }
    }

    /// The response to one request from `peer`.
    pub(crate) async fn respond<B>(
        &self,
        request: Request<B>,
        peer: Peer,
    ) -> Response<Full<Bytes>> {
        if let Some(refused) = self.authorize(request.headers(), peer).await {
            return refused;
        }
        if !self.path.matches(request.uri().path()) {
            return empty(StatusCode::NOT_FOUND);
        }
        let head = match *request.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => {
                let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                return response;
            }
        };
        let representation = negotiate(request.headers());
        // A HEAD gets what a GET would, status and Content-Length included,
        // without the body: a health check that sends HEAD sees a scrape
        // that fails as a 500, not as a 200 (RFC 9110 §9.3.2).
        let mut response = match self.render(representation).await {
            Ok(body) => with_length(body),
            Err(error) => return error.response(),
        };
        if head {
            *response.body_mut() = Full::new(Bytes::new());
        }
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(representation.format.content_type()),
        );
        headers.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
        if representation.gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    }

    /// `None` when the request may proceed, else the answer that refuses it.
    async fn authorize(&self, headers: &HeaderMap, peer: Peer) -> Option<Response<Full<Bytes>>> {
        let auth = self.auth.as_ref()?;
        match auth.check(headers, peer).await {
            Verdict::Allowed => None,
            Verdict::Denied => {
                let mut response = empty(StatusCode::UNAUTHORIZED);
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"insa-metrics\", charset=\"UTF-8\""),
                );
                Some(response)
            }
            Verdict::Busy => Some(retry_later(empty(StatusCode::SERVICE_UNAVAILABLE))),
        }
    }

    /// The body of a scrape in `representation`. Encoding takes milliseconds
    /// of CPU and runs a user's collectors, which may be slow, hang or
    /// panic: it runs on a thread of its own, never on the threads that
    /// serve connections, and a scrape that stops waiting for it (its
    /// connection closed, the server stopping) leaves it behind.
    pub(crate) async fn render(
        &self,
        representation: Representation,
    ) -> Result<Bytes, ScrapeError> {
        let encoder =
            tokio::time::timeout(self.scrape_wait, Arc::clone(&self.encoders).acquire_owned())
                .await
                .map_err(|_| {
                    ScrapeError::Unavailable(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "every encoder is busy (a collector may be stuck in collect())",
                    ))
                })?
                .map_err(|closed| ScrapeError::Unavailable(std::io::Error::other(closed)))?;
        let source = self.source.clone();
        let encode = move || {
            let _encoder = encoder;
            let text = source.encode(representation.format)?;
            Ok(if representation.gzip {
                gzip_bytes(text.as_bytes())
            } else {
                Bytes::from(text)
            })
        };
        match detached::run("insa-metrics-encode", encode).await {
            Ok(encoded) => encoded.map_err(ScrapeError::Encoding),
            Err(DetachedError::Panicked) => Err(ScrapeError::Panicked),
            Err(DetachedError::NoThread(error)) => Err(ScrapeError::Unavailable(error)),
        }
    }
}

impl ScrapeError {
    /// A 500 or 503 with a one-line reason, never compressed.
    fn response(&self) -> Response<Full<Bytes>> {
        let (status, reason) = match self {
            ScrapeError::Panicked => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the scrape failed: a collector or the encoder panicked\n".to_owned(),
            ),
            ScrapeError::Encoding(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the scrape failed: {error}\n"),
            ),
            ScrapeError::Unavailable(error) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the scrape failed: no encoder: {error}\n"),
            ),
        };
        let mut response = with_length(Bytes::from(reason));
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        match self {
            ScrapeError::Panicked | ScrapeError::Encoding(_) => response,
            ScrapeError::Unavailable(_) => retry_later(response),
        }
    }
}

/// The representation a request asks for: OpenMetrics 1.0 or the text
/// format 0.0.4 as its `Accept` headers prefer ([`crate::negotiate`]),
/// gzipped when `Accept-Encoding` allows it.
fn negotiate(headers: &HeaderMap) -> Representation {
    let accept: Vec<&str> = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let format = if accept.is_empty() {
        crate::negotiate(None)
    } else {
        crate::negotiate(Some(&accept.join(",")))
    };
    Representation {
        format,
        gzip: accepts_gzip(headers),
    }
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn with_length(body: Bytes) -> Response<Full<Bytes>> {
    let length = body.len();
    let mut response = Response::new(Full::new(body));
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

fn retry_later(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Whether `Accept-Encoding` lists `gzip` with a non-zero quality. As for
/// `Accept` (see [`negotiate`](crate::negotiate)): parameter names are
/// case-insensitive, whitespace may surround `;` and `=`, and a quality that
/// does not parse or lies outside 0 to 1 makes that listing unacceptable.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    // RFC 9110 §12.5.3: `gzip` rates gzip; without it, `*` does.
    let mut gzip = None;
    let mut any = None;
    for item in headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
    {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        if coding.eq_ignore_ascii_case("gzip") {
            gzip = Some(coding_quality(parts));
        } else if coding == "*" {
            any = Some(coding_quality(parts));
        }
    }
    gzip.or(any).flatten().is_some_and(|q| q > 0.0)
}

/// The quality among a coding's parameters: 1 without one, `None` for one
/// that is not a number within 0 to 1.
fn coding_quality<'a>(parameters: impl Iterator<Item = &'a str>) -> Option<f32> {
    let mut quality = 1.0;
    for parameter in parameters {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("q") {
            quality = value
                .trim()
                .trim_matches('"')
                .parse::<f32>()
                .ok()
                .filter(|q| (0.0..=1.0).contains(q))?;
        }
    }
    Some(quality)
}

fn gzip_bytes(data: &[u8]) -> Bytes {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    Bytes::from(encoder.finish().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&with("gzip")));
        assert!(accepts_gzip(&with("deflate, GZIP;q=0.5")));
        assert!(accepts_gzip(&with("identity;q=1, gzip")));
        assert!(!accepts_gzip(&with("gzip;q=0")));
        assert!(!accepts_gzip(&with("gzip; q=0.000")));
        assert!(!accepts_gzip(&with("br, deflate")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    /// Parameter names are case-insensitive and may have whitespace around
    /// `;` and `=` (RFC 9110 §5.6.6); a quality that is not one makes the
    /// coding unacceptable, as an `Accept` range's does.
    #[test]
    fn gzip_quality_is_read_as_rfc_9110_writes_it() {
        assert!(!accepts_gzip(&with("gzip;Q=0")));
        assert!(!accepts_gzip(&with("gzip ; q = 0")));
        assert!(!accepts_gzip(&with("gzip;\tQ =0.0")));
        assert!(accepts_gzip(&with("gzip ; Q = 0.5")));
        assert!(accepts_gzip(&with("gzip;q=1.000")));
        assert!(accepts_gzip(&with("gzip;level=9")));
        // `*` stands for gzip when gzip is not listed.
        assert!(accepts_gzip(&with("*")));
        assert!(accepts_gzip(&with("br, *;q=0.5")));
        assert!(!accepts_gzip(&with("*;q=0")));
        assert!(!accepts_gzip(&with("gzip;q=0, *")));
        assert!(!accepts_gzip(&with("identity, br")));
        for bad in ["NaN", "2", "-1", "inf", "", "high"] {
            let value = format!("gzip;q={bad}");
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(&value).unwrap());
            assert!(!accepts_gzip(&headers), "{value}");
        }
    }
}
