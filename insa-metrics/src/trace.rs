//! The trace context exemplars carry: a scope any tracer can set, and the OpenTelemetry and `tracing` contexts behind their features.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A trace id and a span id, as W3C Trace Context and OpenTelemetry define
/// them: the trace an exemplar links to.
///
/// When an instrumented call ends inside a scope ([`enter`](Self::enter),
/// [`in_scope`](Self::in_scope)), or inside an OpenTelemetry span (feature
/// `opentelemetry`) or a `tracing` span bridged to OpenTelemetry (feature
/// `tracing`), its duration's bucket and its request counter may take an
/// exemplar `{trace_id="…",span_id="…"}`, exposed over OpenMetrics.
///
/// # Examples
///
/// ```
/// use insa_metrics::TraceContext;
///
/// let context = TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
///     .expect("a valid trace context");
/// assert_eq!(context.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7");
/// assert_eq!(TraceContext::current(), None);
/// {
///     let _scope = context.enter();
///     assert_eq!(TraceContext::current(), Some(context));
/// }
/// assert_eq!(TraceContext::current(), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
}

thread_local! {
    /// The context of the innermost scope entered on this thread.
    static SCOPED: Cell<Option<TraceContext>> = const { Cell::new(None) };
}

impl TraceContext {
    /// A context from its ids; `None` when either is all zeros (W3C's
    /// invalid ids).
    #[must_use]
    pub const fn new(trace_id: [u8; 16], span_id: [u8; 8]) -> Option<Self> {
        if u128::from_ne_bytes(trace_id) == 0 || u64::from_ne_bytes(span_id) == 0 {
            return None;
        }
        Some(TraceContext { trace_id, span_id })
    }

    /// A context from 32 and 16 hex digits (either case); `None` when they
    /// are not, or the ids are invalid.
    #[must_use]
    pub fn from_hex(trace_id: &str, span_id: &str) -> Option<Self> {
        // `from_str_radix` also takes a leading `+`: only hex digits are ids.
        let hex =
            |id: &str, len: usize| id.len() == len && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex(trace_id, 32) || !hex(span_id, 16) {
            return None;
        }
        let trace = u128::from_str_radix(trace_id, 16).ok()?;
        let span = u64::from_str_radix(span_id, 16).ok()?;
        TraceContext::new(trace.to_be_bytes(), span.to_be_bytes())
    }

    /// The trace id.
    #[must_use]
    pub const fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The span id.
    #[must_use]
    pub const fn span_id(&self) -> [u8; 8] {
        self.span_id
    }

    /// Makes this the current context of this thread until the scope drops
    /// (scopes nest: the previous context comes back).
    pub fn enter(self) -> TraceScope {
        TraceScope {
            previous: SCOPED.with(|scoped| scoped.replace(Some(self))),
            _not_send: PhantomData,
        }
    }

    /// Runs `future` with this context current on every poll: the async
    /// form of [`enter`](Self::enter).
    pub fn in_scope<F: Future>(self, future: F) -> InTraceScope<F> {
        InTraceScope {
            context: self,
            future,
        }
    }

    /// The context an exemplar recorded now would carry: the innermost scope
    /// entered on this thread, else the current OpenTelemetry span (feature
    /// `opentelemetry`), else the current `tracing` span's OpenTelemetry
    /// context (feature `tracing`); a span counts only if it is sampled.
    #[must_use]
    pub fn current() -> Option<TraceContext> {
        SCOPED.with(Cell::get).or_else(sources::current)
    }

    /// The ids as three words, for the lock-free exemplar slots.
    pub(crate) fn to_words(self) -> (u64, u64, u64) {
        let trace = u128::from_be_bytes(self.trace_id);
        #[allow(clippy::cast_possible_truncation)] // the two halves
        let words = ((trace >> 64) as u64, trace as u64);
        (words.0, words.1, u64::from_be_bytes(self.span_id))
    }

    pub(crate) fn from_words(high: u64, low: u64, span: u64) -> Self {
        let trace = (u128::from(high) << 64) | u128::from(low);
        TraceContext {
            trace_id: trace.to_be_bytes(),
            span_id: span.to_be_bytes(),
        }
    }

    /// Writes the trace id as 32 lowercase hex digits.
    pub(crate) fn write_trace_id(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(out, "{:032x}", u128::from_be_bytes(self.trace_id))
    }

    /// Writes the span id as 16 lowercase hex digits.
    pub(crate) fn write_span_id(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(out, "{:016x}", u64::from_be_bytes(self.span_id))
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_trace_id(f)?;
        f.write_str("-")?;
        self.write_span_id(f)
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceContext({self})")
    }
}

/// The current context of this thread while it lives; see
/// [`TraceContext::enter`].
///
/// # Examples
///
/// ```
/// use insa_metrics::TraceContext;
///
/// let outer = TraceContext::new([1; 16], [1; 8]).unwrap();
/// let inner = TraceContext::new([2; 16], [2; 8]).unwrap();
/// let _outer = outer.enter();
/// {
///     let _inner = inner.enter();
///     assert_eq!(TraceContext::current(), Some(inner));
/// }
/// assert_eq!(TraceContext::current(), Some(outer));
/// ```
#[must_use = "the context is current until the scope drops"]
#[derive(Debug)]
pub struct TraceScope {
    previous: Option<TraceContext>,
    /// A scope belongs to the thread it was entered on.
    _not_send: PhantomData<*const ()>,
}

impl Drop for TraceScope {
    fn drop(&mut self) {
        SCOPED.with(|scoped| scoped.set(self.previous));
    }
}

pin_project_lite::pin_project! {
    /// A future run with a trace context current on every poll; see
    /// [`TraceContext::in_scope`].
    ///
    /// # Examples
    ///
    /// ```
    /// use insa_metrics::TraceContext;
    ///
    /// let context = TraceContext::new([3; 16], [4; 8]).unwrap();
    /// let mut future = std::pin::pin!(context.in_scope(async { TraceContext::current() }));
    /// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// assert_eq!(future.as_mut().poll(&mut cx), std::task::Poll::Ready(Some(context)));
    /// ```
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct InTraceScope<F> {
        context: TraceContext,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for InTraceScope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _scope = this.context.enter();
        this.future.poll(cx)
    }
}

/// The trace context of the tracers behind cargo features.
mod sources {
    use super::TraceContext;

    /// The current OpenTelemetry span's context, then the current `tracing`
    /// span's, as the enabled features allow.
    #[allow(clippy::unnecessary_wraps)] // without features, nothing is found
    pub(super) fn current() -> Option<TraceContext> {
        #[cfg(feature = "opentelemetry")]
        if let Some(context) = opentelemetry_current() {
            return Some(context);
        }
        #[cfg(feature = "tracing")]
        if let Some(context) = tracing_current() {
            return Some(context);
        }
        None
    }

    #[cfg(any(feature = "opentelemetry", feature = "tracing"))]
    fn from_span_context(span: &opentelemetry::trace::SpanContext) -> Option<TraceContext> {
        // An unsampled trace is not kept by the tracer: an exemplar would
        // link to nothing.
        if !span.is_valid() || !span.is_sampled() {
            return None;
        }
        TraceContext::new(span.trace_id().to_bytes(), span.span_id().to_bytes())
    }

    /// The span of OpenTelemetry's current context.
    #[cfg(feature = "opentelemetry")]
    fn opentelemetry_current() -> Option<TraceContext> {
        use opentelemetry::trace::TraceContextExt as _;
        opentelemetry::Context::map_current(|context| {
            context
                .has_active_span()
                .then(|| from_span_context(context.span().span_context()))
                .flatten()
        })
    }

    /// The OpenTelemetry context of the current `tracing` span, as
    /// `tracing-opentelemetry` keeps it.
    #[cfg(feature = "tracing")]
    fn tracing_current() -> Option<TraceContext> {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let span = tracing::Span::current();
        if span.is_disabled() {
            return None;
        }
        from_span_context(span.context().span().span_context())
    }
}

#[cfg(test)]
mod tests {
    use super::TraceContext;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    #[test]
    fn ids_are_hex_digits_of_their_length() {
        assert!(TraceContext::from_hex(TRACE, SPAN).is_some());
        assert!(TraceContext::from_hex(&TRACE.to_uppercase(), SPAN).is_some());
        // `from_str_radix` alone takes a sign: `+` keeps the length right.
        assert_eq!(TraceContext::from_hex(TRACE, "+0f067aa0ba902b7"), None);
        assert_eq!(
            TraceContext::from_hex("+bf92f3577b34da6a3ce929d0e0e4736", SPAN),
            None
        );
        assert_eq!(TraceContext::from_hex(&TRACE[1..], SPAN), None);
        assert_eq!(TraceContext::from_hex(TRACE, &format!("{SPAN}0")), None);
        assert_eq!(TraceContext::from_hex(TRACE, "00f067aa0ba902bg"), None);
        assert_eq!(TraceContext::from_hex(&"0".repeat(32), SPAN), None);
        assert_eq!(TraceContext::from_hex(TRACE, &"0".repeat(16)), None);
    }
}
