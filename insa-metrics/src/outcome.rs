//! How a call ended: [`Outcome`], and [`ClassifyError`] for telling timeouts and error types apart.

use std::error::Error as StdError;
use std::io;
use std::rc::Rc;
use std::sync::Arc;

use crate::labels::RequestStatus;
use crate::store::MAX_LABEL_VALUE_BYTES;

/// How an instrumented call ended.
///
/// # Examples
///
/// ```
/// use std::io;
/// use insa_metrics::{Outcome, RequestStatus};
///
/// let timed_out: Result<(), io::Error> = Err(io::ErrorKind::TimedOut.into());
/// let outcome = Outcome::of_result(&timed_out);
/// assert_eq!(outcome, Outcome::Timeout("timed_out"));
/// assert_eq!(outcome.status(), RequestStatus::Timeout);
/// assert_eq!(Outcome::Panicked.error_type(), Some("panic"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It returned, and not an `Err`.
    Success,
    /// It returned an `Err` of this low-cardinality error type.
    Error(&'static str),
    /// It returned an error that says it is a timeout, of this error type.
    Timeout(&'static str),
    /// Its future was dropped before it completed.
    Cancelled,
    /// It panicked.
    Panicked,
    /// It was refused before it ran, e.g. by an open circuit breaker.
    Rejected,
}

impl Outcome {
    /// The outcome of a `Result` whose error type can be classified.
    pub fn of_result<T, E: ClassifyError>(result: &Result<T, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(error) => Outcome::of_error(error),
        }
    }

    /// The outcome of a call that failed with `error`.
    pub fn of_error<E: ClassifyError + ?Sized>(error: &E) -> Outcome {
        if error.is_timeout() {
            Outcome::Timeout(error.error_type())
        } else {
            Outcome::Error(error.error_type())
        }
    }

    /// The `status` label of `insa_agent_requests_total` for this outcome.
    #[must_use]
    pub const fn status(self) -> RequestStatus {
        match self {
            Outcome::Success => RequestStatus::Success,
            Outcome::Error(_) | Outcome::Panicked => RequestStatus::Error,
            Outcome::Timeout(_) => RequestStatus::Timeout,
            Outcome::Cancelled => RequestStatus::Cancelled,
            Outcome::Rejected => RequestStatus::Rejected,
        }
    }

    /// The error type this outcome counts under in
    /// `insa_database_errors_total`, or `None` when it is not an error. The
    /// label value is its snake_case form: `DbError` counts as `db_error`.
    #[must_use]
    pub const fn error_type(self) -> Option<&'static str> {
        match self {
            Outcome::Error(kind) | Outcome::Timeout(kind) => Some(kind),
            Outcome::Panicked => Some("panic"),
            Outcome::Rejected => Some("rejected"),
            Outcome::Success | Outcome::Cancelled => None,
        }
    }
}

/// Tells the metrics what an error is: a timeout or not, and its type.
///
/// The attribute macros count an `Err` as `error`, or `timeout` when its error
/// type implements this trait and [`is_timeout`](ClassifyError::is_timeout)
/// says so. It is implemented for `std::io::Error` (kind `TimedOut`),
/// `tokio::time::error::Elapsed` (feature `tokio`) and boxed errors that hold
/// either. Opt in with your own error type.
///
/// # Examples
///
/// ```
/// use insa_metrics::ClassifyError;
///
/// enum WorkerError { Deadline, Invalid }
///
/// impl ClassifyError for WorkerError {
///     fn is_timeout(&self) -> bool {
///         matches!(self, WorkerError::Deadline)
///     }
///     fn error_type(&self) -> &'static str {
///         match self {
///             WorkerError::Deadline => "deadline",
///             WorkerError::Invalid => "invalid",
///         }
///     }
/// }
/// ```
pub trait ClassifyError {
    /// Whether this error is a timeout. `false` unless overridden.
    fn is_timeout(&self) -> bool {
        false
    }

    /// A low-cardinality name for the error, the `error_type` label of
    /// `insa_database_errors_total` (in snake_case: `DbError` is counted as
    /// `db_error`). The type's name unless overridden.
    fn error_type(&self) -> &'static str {
        short_type_name::<Self>()
    }
}

impl ClassifyError for io::Error {
    fn is_timeout(&self) -> bool {
        self.kind() == io::ErrorKind::TimedOut
    }

    fn error_type(&self) -> &'static str {
        io_kind_name(self.kind())
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl ClassifyError for tokio::time::error::Elapsed {
    fn is_timeout(&self) -> bool {
        true
    }

    fn error_type(&self) -> &'static str {
        "elapsed"
    }
}

impl ClassifyError for prometheus::Error {}
impl ClassifyError for std::fmt::Error {}
impl ClassifyError for String {
    fn error_type(&self) -> &'static str {
        "error"
    }
}
impl ClassifyError for &str {
    fn error_type(&self) -> &'static str {
        "error"
    }
}

macro_rules! classify_boxed {
    ($($ty:ty),+) => {$(
        impl ClassifyError for Box<$ty> {
            fn is_timeout(&self) -> bool {
                classify_dyn(&**self).0
            }
            fn error_type(&self) -> &'static str {
                classify_dyn(&**self).1
            }
        }
    )+};
}

classify_boxed!(
    dyn StdError,
    dyn StdError + Send,
    dyn StdError + Send + Sync
);

/// A boxed, shared or borrowed error classifies as the error itself: a
/// `Box<WorkerError>` (as `clippy::result_large_err` suggests) times out
/// when the `WorkerError` does.
macro_rules! classify_through {
    ($($pointer:ident),+) => {$(
        impl<E: ClassifyError + ?Sized> ClassifyError for $pointer<E> {
            fn is_timeout(&self) -> bool {
                (**self).is_timeout()
            }
            fn error_type(&self) -> &'static str {
                (**self).error_type()
            }
        }
    )+};
}

classify_through!(Box, Arc, Rc);

impl<E: ClassifyError + ?Sized> ClassifyError for &E {
    fn is_timeout(&self) -> bool {
        (**self).is_timeout()
    }
    fn error_type(&self) -> &'static str {
        (**self).error_type()
    }
}

/// Looks through an `anyhow::Error`'s chain of causes, as through a boxed
/// error's: an `io::Error` or a tokio timeout in it classifies the whole.
#[cfg(feature = "anyhow")]
#[cfg_attr(docsrs, doc(cfg(feature = "anyhow")))]
impl ClassifyError for anyhow::Error {
    fn is_timeout(&self) -> bool {
        classify_dyn(&**self).0
    }
    fn error_type(&self) -> &'static str {
        classify_dyn(&**self).1
    }
}

/// Looks through a boxed error and its `source()` chain for the error types
/// this crate knows.
fn classify_dyn(error: &(dyn StdError + 'static)) -> (bool, &'static str) {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(io) = error.downcast_ref::<io::Error>() {
            return (io.is_timeout(), io.error_type());
        }
        #[cfg(feature = "tokio")]
        if error.is::<tokio::time::error::Elapsed>() {
            return (true, "elapsed");
        }
        next = error.source();
    }
    (false, "error")
}

/// `my_crate::db::DbError<T>` → `DbError`: bounded by the number of error
/// types. Through a `Box`, `Arc`, `Rc` or reference to what it holds;
/// `()` is `unit`, a tuple `tuple`, a trait object its first trait
/// (`Box<dyn Any + Send>`, `std::thread::Result`'s error, a panic's payload,
/// is `panic`).
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    name_of_type(std::any::type_name::<T>())
}

fn name_of_type(full: &'static str) -> &'static str {
    let ty = full.trim_start_matches('&').trim_start_matches("mut ");
    if ty == "()" {
        return "unit";
    }
    if ty.starts_with('(') {
        return "tuple";
    }
    if let Some(object) = ty.strip_prefix("dyn ") {
        let first = object.split(" + ").next().unwrap_or(object);
        return match name_of_type(first) {
            "Any" => "panic",
            name => name,
        };
    }
    let (path, arguments) = ty.split_once('<').unwrap_or((ty, ""));
    let name = path.rsplit("::").next().unwrap_or(path);
    match (name, arguments.strip_suffix('>')) {
        ("Box" | "Arc" | "Rc", Some(inner)) => name_of_type(inner),
        _ => name,
    }
}

/// Room for the snake_case form of any label value that is not cut: at most
/// one `_` per byte.
pub(crate) const SNAKE_CASE_BUFFER: usize = 2 * MAX_LABEL_VALUE_BYTES;

/// `sizing_agent`, `crm2`: a lowercase letter, then lowercase letters, digits
/// and single underscores, not ending in one. What the macros require of a
/// label literal.
pub(crate) fn is_snake_case(value: &str) -> bool {
    value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !value.ends_with('_')
        && !value.contains("__")
}

/// `DbError` → `db_error`, `HTTPError` → `http_error`, `Deadline exceeded` →
/// `deadline_exceeded`: the form an `error_type` label value takes, written
/// into `buffer` without allocating. The words, lowercased and joined by `_`:
/// words end at anything but an ASCII letter or digit, and where a capital
/// follows a lowercase letter or a digit, or starts a capitalised word after
/// capitals (`HTTP|Error`). A name that is already snake_case, is not ASCII
/// or is too long to keep is returned as it is.
///
/// The macros suggest labels by the same rule; both crates test it on
/// `tests/fixtures/snake_case.txt`.
pub(crate) fn snake_case<'a>(name: &'a str, buffer: &'a mut [u8; SNAKE_CASE_BUFFER]) -> &'a str {
    let bytes = name.as_bytes();
    if is_snake_case(name) || !name.is_ascii() || bytes.len() > MAX_LABEL_VALUE_BYTES {
        return name;
    }
    let mut len = 0;
    let mut separated = false;
    for (i, &byte) in bytes.iter().enumerate() {
        if !byte.is_ascii_alphanumeric() {
            separated = true;
            continue;
        }
        if (separated || starts_word(bytes, i)) && len > 0 {
            buffer[len] = b'_';
            len += 1;
        }
        separated = false;
        buffer[len] = byte.to_ascii_lowercase();
        len += 1;
    }
    // ASCII in, ASCII out.
    std::str::from_utf8(&buffer[..len]).unwrap_or(name)
}

/// Whether the capital at `i` starts a word: after a lowercase letter or a
/// digit (`dbError`, `io2Kind`), or after capitals when a lowercase letter
/// follows it (`HTTPError`).
fn starts_word(bytes: &[u8], i: usize) -> bool {
    let Some(previous) = i.checked_sub(1).map(|p| bytes[p]) else {
        return false;
    };
    let next_is_lower = bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase);
    bytes[i].is_ascii_uppercase()
        && (previous.is_ascii_lowercase()
            || previous.is_ascii_digit()
            || (previous.is_ascii_uppercase() && next_is_lower))
}

/// `io::ErrorKind::ConnectionRefused` → `connection_refused`.
fn io_kind_name(kind: io::ErrorKind) -> &'static str {
    use io::ErrorKind as K;
    match kind {
        K::NotFound => "not_found",
        K::PermissionDenied => "permission_denied",
        K::ConnectionRefused => "connection_refused",
        K::ConnectionReset => "connection_reset",
        K::ConnectionAborted => "connection_aborted",
        K::NotConnected => "not_connected",
        K::AddrInUse => "addr_in_use",
        K::AddrNotAvailable => "addr_not_available",
        K::BrokenPipe => "broken_pipe",
        K::AlreadyExists => "already_exists",
        K::WouldBlock => "would_block",
        K::InvalidInput => "invalid_input",
        K::InvalidData => "invalid_data",
        K::TimedOut => "timed_out",
        K::WriteZero => "write_zero",
        K::Interrupted => "interrupted",
        K::Unsupported => "unsupported",
        K::UnexpectedEof => "unexpected_eof",
        K::OutOfMemory => "out_of_memory",
        K::Other => "other",
        _ => "io_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        struct DbError<T>(T);
        let _ = DbError(());
        assert_eq!(short_type_name::<DbError<u8>>(), "DbError");
        assert_eq!(short_type_name::<io::Error>(), "Error");
        assert_eq!(short_type_name::<Box<DbError<u8>>>(), "DbError");
        assert_eq!(short_type_name::<std::sync::Arc<io::Error>>(), "Error");
        assert_eq!(short_type_name::<&'static DbError<u8>>(), "DbError");
        assert_eq!(short_type_name::<()>(), "unit");
        assert_eq!(short_type_name::<(u8, String)>(), "tuple");
        assert_eq!(short_type_name::<Box<dyn std::any::Any + Send>>(), "panic");
        assert_eq!(
            short_type_name::<Box<dyn StdError + Send + Sync>>(),
            "Error"
        );
    }

    fn snake(name: &str) -> String {
        snake_case(name, &mut [0; SNAKE_CASE_BUFFER]).to_owned()
    }

    /// `input | snake_case | is a label` rows, shared with the macros' tests.
    const SNAKE_CASES: &str = include_str!("../tests/fixtures/snake_case.txt");

    /// `"HTTPError"` → `HTTPError`.
    fn unquote(field: &str) -> &str {
        let field = field.trim();
        field
            .strip_prefix('"')
            .and_then(|f| f.strip_suffix('"'))
            .unwrap_or_else(|| panic!("a quoted field: {field}"))
    }

    #[test]
    fn error_type_labels_follow_the_shared_snake_case_table() {
        let rows: Vec<&str> = SNAKE_CASES
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .collect();
        assert!(rows.len() >= 20, "the table has its rows");
        for row in rows {
            let fields: Vec<&str> = row.split('|').collect();
            let [input, expected, label] = fields[..] else {
                panic!("three fields: {row}");
            };
            let (input, expected) = (unquote(input), unquote(expected));
            assert_eq!(snake(input), expected, "snake_case of {input:?}");
            let label = match label.trim() {
                "yes" => true,
                "no" => false,
                other => panic!("`yes` or `no`, not {other:?}"),
            };
            assert_eq!(is_snake_case(input), label, "whether {input:?} is a label");
        }
    }

    #[test]
    fn error_type_labels_fit_the_buffer() {
        let longest = "A".repeat(MAX_LABEL_VALUE_BYTES);
        assert_eq!(snake(&longest), "a".repeat(MAX_LABEL_VALUE_BYTES));
        let alternating = "aB".repeat(MAX_LABEL_VALUE_BYTES / 2);
        assert_eq!(snake(&alternating), "a_b".repeat(MAX_LABEL_VALUE_BYTES / 2));
        let too_long = "B".repeat(MAX_LABEL_VALUE_BYTES + 1);
        assert_eq!(snake(&too_long), too_long);
    }

    #[test]
    fn io_timeouts() {
        let timeout = io::Error::new(io::ErrorKind::TimedOut, "slow");
        assert_eq!(Outcome::of_error(&timeout), Outcome::Timeout("timed_out"));
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            Outcome::of_error(&refused),
            Outcome::Error("connection_refused")
        );
        let boxed: Box<dyn StdError + Send + Sync> = Box::new(timeout);
        assert_eq!(Outcome::of_error(&boxed), Outcome::Timeout("timed_out"));

        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("request failed")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let wrapped: Box<dyn StdError> = Box::new(Wrapper(io::ErrorKind::TimedOut.into()));
        assert_eq!(Outcome::of_error(&wrapped), Outcome::Timeout("timed_out"));
    }

    #[cfg(feature = "anyhow")]
    #[test]
    fn anyhow_errors_are_looked_through() {
        use anyhow::Context as _;

        let timeout = Err::<(), _>(io::Error::from(io::ErrorKind::TimedOut))
            .context("calling the CRM")
            .unwrap_err();
        assert_eq!(Outcome::of_error(&timeout), Outcome::Timeout("timed_out"));
        let refused = anyhow::Error::new(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            Outcome::of_error(&refused),
            Outcome::Error("connection_refused")
        );
        assert_eq!(
            Outcome::of_error(&anyhow::anyhow!("refused")),
            Outcome::Error("error")
        );
    }
}
