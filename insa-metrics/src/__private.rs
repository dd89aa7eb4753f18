//! What the attribute macros' generated code calls. Not a public API: it changes with the macros, which are pinned to this exact version.
#![allow(missing_debug_implementations)]

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use crate::catalogue::{self as cat, FamilySpec};
pub use crate::clock::Tick;
use crate::guards::unfinished;
pub use crate::handles::Started;
use crate::handles::{DatabaseHandles, MessageHandles, RequestHandles};
use crate::labels::LabelValue;
use crate::metrics;
pub use crate::outcome::Outcome;
use crate::outcome::{ClassifyError, is_snake_case, short_type_name};
use crate::store::Admission;

/// A label given to a macro: a literal, or a path to a typed label.
pub type SiteLabel = &'static (dyn LabelValue + Sync);

/// A call site's label value, checked on the site's first call. The macros
/// check literals at compile time; a typed label's value is only known here
/// (`LabelValue::as_label` is not a `const fn`). One that is not snake_case
/// is recorded as it is and counted once in
/// `insa_metrics_invalid_label_values_total{family, reason="not_snake_case"}`
/// (empty and too long values are counted by the family itself).
fn checked(label: SiteLabel, family: &FamilySpec) -> &'static str {
    let value = label.as_label();
    if !value.is_empty() && !is_snake_case(value) {
        metrics().count_not_snake_case(family.name());
    }
    value
}

/// The `static` behind one `#[track_request_metrics]` call site.
pub struct RequestSite {
    agent_type: SiteLabel,
    handles: OnceLock<RequestHandles>,
}

impl RequestSite {
    /// A site for requests of `agent_type`; nothing is resolved yet.
    pub const fn new(agent_type: SiteLabel) -> Self {
        RequestSite {
            agent_type,
            handles: OnceLock::new(),
        }
    }

    /// Starts one call. The first call resolves the label handles; later
    /// calls only read them.
    #[inline]
    pub fn start(&'static self) -> RequestCall {
        Call::new(self.handles())
    }
}

impl Site for RequestSite {
    type Handles = RequestHandles;

    fn cell(&self) -> &OnceLock<RequestHandles> {
        &self.handles
    }

    fn resolve(&self) -> RequestHandles {
        let agent_type = checked(self.agent_type, &cat::AGENT_REQUESTS_TOTAL);
        metrics().request_handles_with(agent_type, Admission::Reserved)
    }
}

/// A call site's `static`: its labels, and the handles they resolve to on
/// its first call.
trait Site: Sized + Sync + 'static {
    type Handles: Sync + 'static;

    /// Where the handles are kept once resolved.
    fn cell(&self) -> &OnceLock<Self::Handles>;

    /// Resolves the labels to handles: hashing, locking, allocating.
    fn resolve(&self) -> Self::Handles;

    /// The handles. After the first call, only a check that they are there:
    /// a load and a branch.
    #[inline]
    fn handles(&'static self) -> &'static Self::Handles {
        match self.cell().get() {
            Some(handles) => handles,
            None => resolve_first(self),
        }
    }
}

/// The first call of a site, out of line so the hot path stays short.
#[cold]
#[inline(never)]
fn resolve_first<S: Site>(site: &'static S) -> &'static S::Handles {
    site.cell().get_or_init(|| site.resolve())
}

/// The `static` behind one `#[track_database_operation]` call site.
pub struct DatabaseSite {
    operation: SiteLabel,
    table: SiteLabel,
    handles: OnceLock<DatabaseHandles>,
}

impl DatabaseSite {
    /// A site for `operation` on `table`.
    pub const fn new(operation: SiteLabel, table: SiteLabel) -> Self {
        DatabaseSite {
            operation,
            table,
            handles: OnceLock::new(),
        }
    }

    /// Starts one operation.
    #[inline]
    pub fn start(&'static self) -> DatabaseCall {
        Call::new(self.handles())
    }
}

impl Site for DatabaseSite {
    type Handles = DatabaseHandles;

    fn cell(&self) -> &OnceLock<DatabaseHandles> {
        &self.handles
    }

    fn resolve(&self) -> DatabaseHandles {
        metrics().database_handles_with(
            checked(self.operation, &cat::DATABASE_OPERATIONS_TOTAL),
            checked(self.table, &cat::DATABASE_OPERATIONS_TOTAL),
            Admission::Reserved,
        )
    }
}

/// What a [`Call`] records into when it ends.
pub trait Record: Sync + 'static {
    /// What a call keeps from its start to its end: the clock reading, and
    /// for a request the stripe its in-flight count went to (what the end
    /// records into too). Small, so a call stays in registers.
    type Started: Copy;

    /// Starts one call: reads the clock (and counts a request in flight).
    fn begin(&'static self) -> Self::Started;

    /// Records one call started as `started` that ended with `outcome`.
    fn record(&'static self, outcome: Outcome, started: Self::Started);

    /// Records a call dropped without an outcome: a panic, or a
    /// cancellation (always one when it was `suspended`, between two polls
    /// of its async body). Out of line: the end of most calls is
    /// [`Call::end`], inlined in the instrumented fn, and this is what its
    /// unwinding path calls.
    #[cold]
    #[inline(never)]
    fn record_unfinished(&'static self, started: Self::Started, suspended: bool) {
        self.record(unfinished(suspended), started);
    }
}

impl Record for RequestHandles {
    type Started = Started<'static>;

    #[inline]
    fn begin(&'static self) -> Started<'static> {
        self.enter()
    }

    #[inline(always)]
    fn record(&'static self, outcome: Outcome, started: Started<'static>) {
        RequestHandles::record(self, outcome, started);
    }
}

impl Record for DatabaseHandles {
    type Started = Tick;

    #[inline]
    fn begin(&'static self) -> Tick {
        self.now()
    }

    #[inline(always)]
    fn record(&'static self, outcome: Outcome, start: Tick) {
        DatabaseHandles::record(self, outcome, self.started_at(start));
    }
}

impl Record for MessageHandles {
    type Started = Tick;

    #[inline]
    fn begin(&'static self) -> Tick {
        self.now()
    }

    #[inline(always)]
    fn record(&'static self, _: Outcome, start: Tick) {
        self.observe_since(self.started_at(start));
    }

    /// The duration is observed whatever the outcome: no need to ask
    /// whether a panic is unwinding.
    #[inline(always)]
    fn record_unfinished(&'static self, start: Tick, _: bool) {
        self.observe_since(self.started_at(start));
    }
}

/// One call through a site, recorded exactly once: by [`end`](Call::end)
/// with its outcome, or on drop as a panic or a cancellation. The macros'
/// lean form of the public guards: a reference, a time and where it records.
pub struct Call<H: Record> {
    handles: &'static H,
    started: H::Started,
    /// Whether the call's async body is suspended, between two polls of
    /// [`Polled`]: see [`unfinished`].
    suspended: bool,
}

/// A call through a [`RequestSite`].
pub type RequestCall = Call<RequestHandles>;
/// An operation through a [`DatabaseSite`].
pub type DatabaseCall = Call<DatabaseHandles>;
/// A message processed through a [`MessageSite`].
pub type MessageCall = Call<MessageHandles>;

impl<H: Record> Call<H> {
    #[inline]
    fn new(handles: &'static H) -> Self {
        Call {
            started: handles.begin(),
            handles,
            suspended: false,
        }
    }

    /// The async body of this call, marking the call suspended between its
    /// polls.
    #[inline]
    pub fn polled<F: Future>(&mut self, body: F) -> Polled<'_, F> {
        Polled::new(&mut self.suspended, body)
    }

    /// Records the call with its outcome.
    #[inline(always)]
    pub fn end(self, outcome: Outcome) {
        self.handles.record(outcome, self.started);
        // Recorded: the drop must not record it again.
        std::mem::forget(self);
    }
}

impl<H: Record> Drop for Call<H> {
    #[inline(always)]
    fn drop(&mut self) {
        self.handles.record_unfinished(self.started, self.suspended);
    }
}

pin_project_lite::pin_project! {
    /// The async body of a [`Call`] (or of a public guard's `_async` form):
    /// while it is not being polled, the call is marked suspended. A panic out of its poll leaves the mark off, so
    /// the call, dropped by the unwinding, counts a panic.
    #[derive(Debug)]
    pub struct Polled<'a, F> {
        suspended: &'a mut bool,
        #[pin]
        body: F,
    }
}

impl<'a, F> Polled<'a, F> {
    /// `body`, marking `suspended` between its polls.
    pub(crate) fn new(suspended: &'a mut bool, body: F) -> Self {
        Polled { suspended, body }
    }
}

impl<F: Future> Future for Polled<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        **this.suspended = false;
        let poll = this.body.poll(cx);
        **this.suspended = poll.is_pending();
        poll
    }
}

/// The `static` behind one `#[track_message_processing]` call site.
pub struct MessageSite {
    agent_type: SiteLabel,
    handles: OnceLock<MessageHandles>,
}

impl MessageSite {
    /// A site for messages processed by `agent_type`.
    pub const fn new(agent_type: SiteLabel) -> Self {
        MessageSite {
            agent_type,
            handles: OnceLock::new(),
        }
    }

    /// Starts processing one message.
    #[inline]
    pub fn start(&'static self) -> MessageCall {
        Call::new(self.handles())
    }
}

impl Site for MessageSite {
    type Handles = MessageHandles;

    fn cell(&self) -> &OnceLock<MessageHandles> {
        &self.handles
    }

    fn resolve(&self) -> MessageHandles {
        let agent_type = checked(
            self.agent_type,
            &cat::MESSAGE_BUS_PROCESSING_DURATION_SECONDS,
        );
        metrics().message_handles_with(agent_type, Admission::Reserved)
    }
}

/// Runs a sync fn's body, moved into a closure so that `return` and `?` leave
/// the body, not the fn. Taken as `FnOnce`, the closure may return borrows of
/// the `&mut` arguments it took over, which one called in place (inferred
/// `FnMut`) may not.
#[inline]
pub fn run<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// Borrows the value of a sync body for
/// [`sync_return!`](crate::__private::sync_return)'s autoref dispatch.
pub struct SyncReturn<'a, T: ?Sized>(pub &'a T);

/// What a sync body that returns a pinned future (`BoxFuture<'_, T>`, a
/// `Pin<Box<dyn Future>>` behind an alias or an associated type) fails to
/// be: the attribute cannot see such a type is a future, and would record
/// the call when the future is built, before any of its work.
#[diagnostic::on_unimplemented(
    message = "this fn returns a pinned future, which the attribute cannot see into",
    label = "the call would be recorded when the future is built, before its work",
    note = "make it an `async fn`, or end the body with `Box::pin(async move {{ … }})`"
)]
pub trait BodyOfAnAsyncFn {}

/// A sync body whose value is a pinned future: refused.
pub trait PinnedFutureReturn {
    /// Fails to compile, with [`BodyOfAnAsyncFn`]'s message.
    fn __insa_sync_return(&self)
    where
        Self: BodyOfAnAsyncFn,
    {
    }
}

impl<T: PinnedFuture> PinnedFutureReturn for &SyncReturn<'_, T> {}

/// Any other value of a sync body.
pub trait ValueReturn {
    /// Nothing to check.
    #[inline]
    fn __insa_sync_return(&self) {}
}

impl<T: ?Sized> ValueReturn for SyncReturn<'_, T> {}

/// Refuses a sync body whose value is a pinned future (see
/// [`BodyOfAnAsyncFn`]); compiles to nothing otherwise.
#[doc(hidden)]
#[macro_export]
macro_rules! __insa_sync_return {
    ($value:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{PinnedFutureReturn as _, ValueReturn as _};
        (&&$crate::__private::SyncReturn($value)).__insa_sync_return()
    }};
}

pub use crate::__insa_sync_return as sync_return;

/// Borrows a return value for [`outcome!`](crate::__private::outcome)'s
/// autoref dispatch.
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

/// Highest priority: a `Result` whose error type implements [`ClassifyError`].
pub trait ClassifiedResult {
    /// The outcome of the wrapped value.
    fn __insa_outcome(&self) -> Outcome;
}

impl<T, E: ClassifyError> ClassifiedResult for &&Wrap<'_, Result<T, E>> {
    #[inline]
    fn __insa_outcome(&self) -> Outcome {
        Outcome::of_result(self.0)
    }
}

/// Next: any other `Result`; its `Err` is an error named after its type.
pub trait PlainResult {
    /// The outcome of the wrapped value.
    fn __insa_outcome(&self) -> Outcome;
}

impl<T, E> PlainResult for &Wrap<'_, Result<T, E>> {
    #[inline]
    fn __insa_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Error(short_type_name::<E>()),
        }
    }
}

/// Last: anything that is not a `Result` is a success once returned.
pub trait NotAResult {
    /// The outcome of the wrapped value.
    fn __insa_outcome(&self) -> Outcome;
}

impl<T: ?Sized> NotAResult for Wrap<'_, T> {
    #[inline]
    fn __insa_outcome(&self) -> Outcome {
        Outcome::Success
    }
}

/// The [`Outcome`] of a returned value: `Err` is an error (or a timeout when
/// the error type says so), anything else a success. Dispatches on the type
/// by autoref, so type aliases of `Result` count as `Result`.
#[doc(hidden)]
#[macro_export]
macro_rules! __insa_outcome {
    ($value:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ClassifiedResult as _, NotAResult as _, PlainResult as _};
        (&&&$crate::__private::Wrap($value)).__insa_outcome()
    }};
}

pub use crate::__insa_outcome as outcome;

/// Fixes the return type of the async block it starts, so `return`s and the
/// tail coerce to the fn's return type as they do in the fn itself.
#[doc(hidden)]
#[macro_export]
macro_rules! __insa_returns {
    ($ty:ty) => {
        if let ::core::option::Option::Some(value) = ::core::option::Option::None::<$ty> {
            #[allow(unreachable_code)]
            return value;
        }
    };
}

pub use crate::__insa_returns as returns;

/// The output of a pinned future type, for [`returns!`] when a fn returns
/// one through a type alias (`-> BoxFuture<'_, T>`) that does not spell out
/// its `Output`.
pub trait PinnedFuture {
    /// The future's output.
    type Output;
}

impl<P> PinnedFuture for std::pin::Pin<P>
where
    P: std::ops::Deref<Target: Future>,
{
    type Output = <P::Target as Future>::Output;
}
