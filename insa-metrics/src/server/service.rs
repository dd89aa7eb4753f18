//! Request handling: auth, routing, the exposition body and gzip.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body_util::Full;
use hyper::header::{
    ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue,
    RETRY_AFTER, VARY, WWW_AUTHENTICATE,
};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioTimer;
use prometheus::Registry;
use tokio::sync::Semaphore;

use super::auth::{BasicAuth, Verdict};
use super::config::Limits;
use crate::encoding::{TEXT_CONTENT_TYPE, encode_text};

/// What every connection of one server shares.
#[derive(Debug)]
pub(crate) struct Shared {
    path: String,
    registry: Option<Registry>,
    auth: Option<BasicAuth>,
    pub(crate) http: http1::Builder,
    /// Encodings (and gzip) running at once: at most one per core, so that
    /// a burst of scrapes of a large registry cannot take every core or
    /// hold many bodies in memory at once.
    encoders: Arc<Semaphore>,
}

impl Shared {
    pub(crate) fn new(
        path: String,
        registry: Option<Registry>,
        auth: Option<BasicAuth>,
        limits: &Limits,
    ) -> Arc<Shared> {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_header_size(limits.max_header_bytes)
            .keep_alive(true);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Arc::new(Shared {
            path,
            registry,
            auth,
            http,
            encoders: Arc::new(Semaphore::new(cores)),
        })
    }

    /// The exposition body, gzipped when asked. Encoding a large registry
    /// takes milliseconds of CPU: it runs on tokio's blocking pool, never on
    /// the thread that accepts and serves connections.
    async fn body(&self, gzip: bool) -> Bytes {
        let Ok(_encoder) = Arc::clone(&self.encoders).acquire_owned().await else {
            return Bytes::new();
        };
        let registry = self.registry.clone();
        let encode = move || {
            let text = match &registry {
                Some(registry) => encode_text(registry),
                None => crate::get_metrics_text(),
            };
            if gzip {
                gzip_bytes(text.as_bytes())
            } else {
                Bytes::from(text)
            }
        };
        match tokio::task::spawn_blocking(encode).await {
            Ok(body) => body,
            // The encoding panicked (a collector did): answer what we can.
            Err(_) => Bytes::new(),
        }
    }
}

/// The response to one request.
pub(crate) async fn respond<B>(shared: Arc<Shared>, request: Request<B>) -> Response<Full<Bytes>> {
    if let Some(auth) = &shared.auth {
        match auth.check(request.headers()).await {
            Verdict::Allowed => {}
            Verdict::Denied => {
                let mut response = empty(StatusCode::UNAUTHORIZED);
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"insa-metrics\", charset=\"UTF-8\""),
                );
                return response;
            }
            Verdict::Busy => {
                let mut response = empty(StatusCode::SERVICE_UNAVAILABLE);
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
                return response;
            }
        }
    }
    if request.uri().path() != shared.path {
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
    let gzip = accepts_gzip(request.headers());
    // A HEAD gets the headers of a GET without paying for the body: no
    // encoding, no gzip, and so no Content-Length (RFC 9110 §9.3.2 lets a
    // HEAD omit what only generating the content would tell).
    let mut response = if head {
        Response::new(Full::new(Bytes::new()))
    } else {
        let body = shared.body(gzip).await;
        let length = body.len();
        let mut response = Response::new(Full::new(body));
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
        response
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_CONTENT_TYPE));
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// Whether `Accept-Encoding` lists `gzip` with a non-zero quality.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            coding.eq_ignore_ascii_case("gzip")
                && !parts.any(|param| {
                    let param = param.trim();
                    param
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                })
        })
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
}
