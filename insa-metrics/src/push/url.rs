//! The gateway URL (scheme, host, an explicit and valid port, path prefix) and the grouping key's path.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hyper::Uri;
use hyper::http::uri::Authority;

use crate::Error;

/// Where to connect, and the path prefix of the gateway.
#[derive(Debug)]
pub(super) struct Target {
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(super) https: bool,
    /// The host name or IP address, without brackets.
    pub(super) host: String,
    pub(super) port: u16,
    /// `host:port` as written, for the `Host` header.
    pub(super) authority: String,
    pub(super) prefix: String,
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Target, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|error| Error::config_caused(format!("Pushgateway URL {url:?}"), error))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            #[cfg(feature = "tls")]
            Some("https") => true,
            _ => {
                return Err(Error::config(format!(
                    "Pushgateway URL {url:?}: only http:// is supported{}",
                    if cfg!(feature = "tls") {
                        " (and https://)"
                    } else {
                        " (https:// needs the `tls` feature)"
                    }
                )));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| Error::config(format!("Pushgateway URL {url:?} has no host")))?;
        if authority.as_str().contains('@') {
            return Err(Error::config(format!(
                "Pushgateway URL {url:?}: put credentials in Pusher::basic_auth, not the URL"
            )));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(Target {
            https,
            host: host.to_owned(),
            port: port(authority, https, url)?,
            authority: authority.as_str().to_owned(),
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

/// The URL's port: the scheme's default when none is written, else a
/// decimal number from 1 to 65535. Anything else is an error rather than a
/// push (with its credentials) to the default port.
fn port(authority: &Authority, https: bool, url: &str) -> Result<u16, Error> {
    let text = authority.as_str();
    // An IPv6 host is in brackets and holds ':' itself.
    let after_host = text.rfind(']').map_or(text, |end| &text[end + 1..]);
    let Some((_, written)) = after_host.rsplit_once(':') else {
        return Ok(if https { 443 } else { 80 });
    };
    let invalid = || {
        Error::config(format!(
            "Pushgateway URL {url:?}: the port {written:?} is not a number from 1 to 65535"
        ))
    };
    if written.is_empty() || !written.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match written.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(invalid()),
    }
}

/// `/metrics/job/<job>/<name>/<value>…`, with base64 for values that hold a
/// `/` or are empty, as the Pushgateway's URL scheme requires.
/// A label name given twice is an error: the gateway would key the group
/// by one of the two values, not the one meant.
pub(super) fn grouping_path(job: &str, grouping: &[(String, String)]) -> Result<String, Error> {
    if job.is_empty() {
        return Err(Error::config("the push job name is empty"));
    }
    let mut path = String::from("/metrics");
    push_segment(&mut path, "job", job);
    for (i, (name, value)) in grouping.iter().enumerate() {
        if !is_label_name(name) || name == "job" {
            return Err(Error::config(format!(
                "invalid grouping label name {name:?}"
            )));
        }
        if grouping[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(Error::config(format!(
                "the grouping label name {name:?} is given twice"
            )));
        }
        push_segment(&mut path, name, value);
    }
    Ok(path)
}

fn push_segment(path: &mut String, name: &str, value: &str) {
    path.push('/');
    path.push_str(name);
    if value.is_empty() || value.contains('/') {
        path.push_str("@base64/");
        path.push_str(&URL_SAFE.encode(value));
        if value.is_empty() {
            // An empty value is one '=' in the Pushgateway's scheme.
            path.push('=');
        }
    } else {
        path.push('/');
        percent_encode(path, value);
    }
}

fn percent_encode(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn builds_grouping_paths() {
        assert_eq!(grouping_path("import", &[]).unwrap(), "/metrics/job/import");
        assert_eq!(
            grouping_path("import job", &labels(&[("instance", "db-1:5432")])).unwrap(),
            "/metrics/job/import%20job/instance/db-1%3A5432"
        );
        assert_eq!(
            grouping_path("a/b", &labels(&[("path", "/var/tmp"), ("empty", "")])).unwrap(),
            "/metrics/job@base64/YS9i/path@base64/L3Zhci90bXA=/empty@base64/="
        );
        assert!(grouping_path("", &[]).is_err());
        assert!(grouping_path("j", &labels(&[("bad-name", "x")])).is_err());
        assert!(grouping_path("j", &labels(&[("__name__", "x")])).is_err());
        // One name twice would leave the group's key to whichever came last.
        let error =
            grouping_path("j", &labels(&[("i", "1"), ("host", "a"), ("i", "2")])).unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error:?}");
        assert!(error.to_string().contains("\"i\""), "{error}");
    }

    #[test]
    fn parses_gateway_urls() {
        let target = Target::parse("http://127.0.0.1:9091/").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("127.0.0.1", 9091));
        assert_eq!(target.prefix, "");
        let target = Target::parse("http://[::1]/gateway").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("::1", 80));
        assert_eq!(target.prefix, "/gateway");
        let target = Target::parse("http://[::1]:9091").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("::1", 9091));
        assert_eq!(
            Target::parse("https://example.com").is_ok(),
            cfg!(feature = "tls")
        );
        assert!(Target::parse("ftp://example.com").is_err());
        assert!(Target::parse("not a url").is_err());
        assert!(Target::parse("http://user:pass@127.0.0.1:9091").is_err());
    }
}
