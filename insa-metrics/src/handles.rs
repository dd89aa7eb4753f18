//! Handles: the series one kind of instrumented call records into, resolved once, and how a call that ended is recorded (with its exemplar).
//!
//! A call site's handles record through its block: the call finds its
//! stripe once, then adds at fixed offsets. Handles asked for at run time
//! record into the series' compact cells.

use std::sync::Arc;

use crate::clock::{Clock, Tick};
use crate::labels::RequestStatus;
use crate::outcome::{Outcome, SNAKE_CASE_BUFFER, snake_case};
use crate::store::{
    Admission, Block, BlockStripe, Exemplars, HistogramHandle, Member, SeriesHandle, Store,
    my_stripe,
};
use crate::trace::TraceContext;

/// A gauge's decrement, as the wrapping add the cells take.
const MINUS_ONE: u64 = u64::MAX;

/// The `status` values of `insa_agent_requests_total`, each with its series.
const STATUSES: usize = RequestStatus::ALL.len();

/// Where one call records: the stripe of its site's block this thread
/// takes, or each series' compact cells. Chosen once per call; inlined, the
/// compiler folds the choice out of every add that follows.
#[derive(Debug, Clone, Copy)]
enum Cells<'a> {
    Stripe(&'a BlockStripe),
    Compact,
}

impl<'a> Cells<'a> {
    #[inline(always)]
    fn of(block: Option<&'a Block>) -> Self {
        match block {
            Some(block) => Cells::Stripe(my_stripe(block)),
            None => Cells::Compact,
        }
    }

    /// Adds `n` to cell `cell` of the series at `offset` in the block, or of
    /// `series`' compact cells.
    #[inline(always)]
    fn add(self, offset: usize, series: &SeriesHandle, cell: usize, n: u64) {
        match self {
            Cells::Stripe(stripe) => stripe.add(offset + cell, n),
            Cells::Compact => series.add(cell, n),
        }
    }
}

/// A call under way: the clock reading it started at, and where it records
/// (the stripe of its site's block the starting thread took, kept to the
/// end, which then records without looking for it again).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Started<'a> {
    tick: Tick,
    cells: Cells<'a>,
}

impl<'a> Started<'a> {
    /// A call started at `tick` that records through `block`, if any.
    #[inline(always)]
    fn at(tick: Tick, block: Option<&'a Block>) -> Self {
        Started {
            tick,
            cells: Cells::of(block),
        }
    }

    /// The clock reading the call started at.
    pub(crate) fn tick(self) -> Tick {
        self.tick
    }
}

/// The block of a call site's series, for handles of a site
/// ([`Admission::Reserved`]).
fn site_block(store: &Store, admission: Admission, members: &[Member<'_>]) -> Option<Block> {
    match admission {
        Admission::Reserved => store.block(members),
        Admission::Capped => None,
    }
}

/// A counter series and its one exemplar slot.
#[derive(Debug, Clone)]
struct TracedCounter {
    cells: SeriesHandle,
    exemplars: Arc<Exemplars>,
}

/// A duration histogram series and an exemplar slot per bucket.
#[derive(Debug, Clone)]
struct TracedHistogram {
    cells: HistogramHandle,
    /// The bucket bounds in clock ticks: a block counts and sums a call's
    /// duration without scaling it to nanoseconds.
    tick_bounds: Box<[u64]>,
    exemplars: Arc<Exemplars>,
}

impl TracedHistogram {
    fn new(cells: HistogramHandle, clock: &Clock) -> Self {
        let exemplars = cells.series().exemplars(cells.slots());
        let tick_bounds = cells
            .buckets()
            .bounds()
            .iter()
            .map(|&nanos| clock.ticks_within(nanos))
            .collect();
        TracedHistogram {
            cells,
            tick_bounds,
            exemplars,
        }
    }

    /// The block member: the sum in ticks.
    fn member(&self) -> Member<'_> {
        Member::timed(self.cells.series(), self.cells.buckets().sum_cell())
    }

    /// Observes the duration from `start` to `now` at `offset` of `cells`;
    /// offers its bucket an exemplar. Returns the trace context it was
    /// written with, if it was.
    #[inline(always)]
    fn observe(
        &self,
        cells: Cells<'_>,
        offset: usize,
        clock: &Clock,
        (start, now): (Tick, Tick),
        interval: u64,
    ) -> Option<TraceContext> {
        // 0 when the counter reads earlier than `start` (a thread moved to a
        // core whose counter lags), as the clock's own deltas are.
        let ticks = now.raw().saturating_sub(start.raw());
        let bucket = match cells {
            Cells::Stripe(stripe) => {
                let bucket = first_at_least(&self.tick_bounds, ticks);
                stripe.add(offset + bucket, 1);
                stripe.add_to_sum(offset + self.cells.buckets().sum_cell(), ticks);
                bucket
            }
            Cells::Compact => {
                let nanos = clock.nanos_of(ticks);
                let bucket = self.cells.buckets().index(nanos);
                self.cells.observe_in_bucket(bucket, nanos);
                bucket
            }
        };
        self.exemplars
            .offer(bucket, || clock.nanos_of(ticks), now.raw(), interval)
    }
}

/// The index of the first bound at least `value`, or the number of bounds
/// (`+Inf`).
#[inline(always)]
fn first_at_least(bounds: &[u64], value: u64) -> usize {
    bounds
        .iter()
        .position(|&bound| value <= bound)
        .unwrap_or(bounds.len())
}

/// The series one request site records into, resolved once.
///
/// # Examples
///
/// ```
/// # let collector = insa_metrics::MetricsCollector::builder().process_metrics(false).build()?;
/// let handles = collector.request_handles("sizing_agent");
/// for _ in 0..3 {
///     let request = handles.start();
///     // … handle the request …
///     request.succeed();
/// }
/// assert!(collector.encode_text().contains(
///     r#"insa_agent_requests_total{agent_type="sizing_agent",status="success"} 3"#
/// ));
/// # Ok::<(), insa_metrics::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestHandles {
    /// The site's block: the in-flight gauge, the status counters, then the
    /// duration histogram (the offsets below).
    block: Option<Block>,
    by_status: [TracedCounter; STATUSES],
    duration: TracedHistogram,
    in_flight: SeriesHandle,
    clock: Clock,
    exemplar_interval: u64,
}

/// Where a request site's series lie in its block.
mod request_block {
    pub(super) const IN_FLIGHT: usize = 0;
    pub(super) const STATUS: usize = IN_FLIGHT + 1;
    pub(super) const DURATION: usize = STATUS + super::STATUSES;
}

impl RequestHandles {
    /// The series of `agent`'s requests; every status is made, at 0.
    pub(crate) fn resolve(store: &Store, agent: &str, admission: Admission) -> Self {
        let families = &store.families;
        let by_status = RequestStatus::ALL.map(|status| {
            let cells = families
                .requests
                .handle(&[agent, status.as_str()], admission);
            let exemplars = cells.series().exemplars(1);
            TracedCounter { cells, exemplars }
        });
        let duration = TracedHistogram::new(
            families
                .request_duration
                .histogram_handle(&[agent], admission),
            &store.clock,
        );
        let in_flight = families.worker_active.handle(&[agent], admission);
        // In the order of `request_block`.
        let members: Vec<Member<'_>> = std::iter::once(Member::plain(in_flight.series()))
            .chain(
                by_status
                    .iter()
                    .map(|status| Member::plain(status.cells.series())),
            )
            .chain(std::iter::once(duration.member()))
            .collect();
        RequestHandles {
            block: site_block(store, admission, &members),
            by_status,
            duration,
            in_flight,
            clock: store.clock.clone(),
            exemplar_interval: store.exemplar_interval(),
        }
    }

    /// Starts a request: the in-flight gauge goes up until the guard drops.
    pub fn start(&self) -> crate::RequestGuard<'_> {
        crate::RequestGuard::borrowed(self)
    }

    /// Counts a request in flight, until [`record`](Self::record), and
    /// reads the clock it started at.
    #[inline]
    pub(crate) fn enter(&self) -> Started<'_> {
        let cells = Cells::of(self.block.as_ref());
        cells.add(request_block::IN_FLIGHT, &self.in_flight, 0, 1);
        Started {
            tick: self.clock.now(),
            cells,
        }
    }

    /// The call that [`enter`](Self::enter) started at `tick`, resumed by a
    /// guard (which keeps the reading alone).
    pub(crate) fn started_at(&self, tick: Tick) -> Started<'_> {
        Started::at(tick, self.block.as_ref())
    }

    /// Records a request that started as `started` and ended with `outcome`:
    /// its status, its duration (a refused request has none) and its end in
    /// the in-flight gauge; with a trace context, an exemplar. Inlined in the
    /// instrumented fn for a call site's block; out of line otherwise.
    #[inline(always)]
    pub(crate) fn record(&self, outcome: Outcome, started: Started<'_>) {
        match started.cells {
            Cells::Stripe(_) => self.record_in(outcome, started),
            Cells::Compact => self.record_compact(outcome, started),
        }
    }

    #[inline(never)]
    fn record_compact(&self, outcome: Outcome, started: Started<'_>) {
        self.record_in(outcome, started);
    }

    #[inline(always)]
    fn record_in(&self, outcome: Outcome, started: Started<'_>) {
        use request_block::{DURATION, IN_FLIGHT, STATUS};
        let now = self.clock.now();
        let cells = started.cells;
        let index = status_index(outcome.status());
        let status = &self.by_status[index];
        let traced = if outcome == Outcome::Rejected {
            status
                .exemplars
                .offer(0, || 1, now.raw(), self.exemplar_interval)
        } else {
            let span = (started.tick, now);
            self.duration
                .observe(cells, DURATION, &self.clock, span, self.exemplar_interval)
        };
        cells.add(STATUS + index, &status.cells, 0, 1);
        cells.add(IN_FLIGHT, &self.in_flight, 0, MINUS_ONE);
        if let Some(trace) = traced {
            status
                .exemplars
                .offer_trace(0, trace, 1, now.raw(), self.exemplar_interval);
        }
    }

    /// Observes a duration of `nanos` ending now as a request would,
    /// without counting one (tests).
    #[cfg(test)]
    fn observe_duration(&self, nanos: u64) {
        let now = self.clock.now();
        let start = now.before(self.clock.ticks_within(nanos));
        let cells = Cells::of(self.block.as_ref());
        self.duration
            .observe(cells, request_block::DURATION, &self.clock, (start, now), 0);
    }

    /// The clock the handles time with.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }
}

#[inline]
fn status_index(status: RequestStatus) -> usize {
    match status {
        RequestStatus::Success => 0,
        RequestStatus::Error => 1,
        RequestStatus::Timeout => 2,
        RequestStatus::Cancelled => 3,
        RequestStatus::Rejected => 4,
    }
}

/// The series one database operation site records into.
///
/// # Examples
///
/// ```
/// # let collector = insa_metrics::MetricsCollector::builder().process_metrics(false).build()?;
/// let handles = collector.database_handles("select", "users");
/// let rows: Result<u32, std::io::Error> = handles.start().finish(Ok(3));
/// assert_eq!(rows?, 3);
/// assert!(collector.encode_text().contains(
///     r#"insa_database_operations_total{operation="select",table="users"} 1"#
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DatabaseHandles {
    /// The site's block: the operations counter, then the duration histogram.
    block: Option<Block>,
    operations: SeriesHandle,
    duration: TracedHistogram,
    store: Arc<Store>,
    operation: Box<str>,
    exemplar_interval: u64,
}

/// Where a database site's series lie in its block.
mod database_block {
    pub(super) const OPERATIONS: usize = 0;
    pub(super) const DURATION: usize = OPERATIONS + 1;
}

impl DatabaseHandles {
    pub(crate) fn resolve(
        store: &Arc<Store>,
        operation: &str,
        table: &str,
        admission: Admission,
    ) -> Self {
        let families = &store.families;
        let operations = families
            .db_operations
            .handle(&[operation, table], admission);
        let duration = TracedHistogram::new(
            families
                .db_duration
                .histogram_handle(&[operation, table], admission),
            &store.clock,
        );
        // In the order of `database_block`.
        let members = [Member::plain(operations.series()), duration.member()];
        DatabaseHandles {
            block: site_block(store, admission, &members),
            operations,
            duration,
            operation: operation.into(),
            exemplar_interval: store.exemplar_interval(),
            store: Arc::clone(store),
        }
    }

    /// Starts a database operation.
    pub fn start(&self) -> crate::DatabaseGuard<'_> {
        crate::DatabaseGuard::borrowed(self)
    }

    /// Reads the clock an operation starts at.
    #[inline]
    pub(crate) fn now(&self) -> Tick {
        self.store.clock.now()
    }

    /// The operation started at `tick`, about to be recorded: where it
    /// records is found at its end.
    #[inline]
    pub(crate) fn started_at(&self, tick: Tick) -> Started<'_> {
        Started::at(tick, self.block.as_ref())
    }

    /// Records an operation started as `started`: counted, timed (with an
    /// exemplar), and for an error or a panic counted by `error_type`.
    /// Inlined for a call site's block; out of line otherwise.
    #[inline(always)]
    pub(crate) fn record(&self, outcome: Outcome, started: Started<'_>) {
        match started.cells {
            Cells::Stripe(_) => self.record_in(outcome, started),
            Cells::Compact => self.record_compact(outcome, started),
        }
    }

    #[inline(never)]
    fn record_compact(&self, outcome: Outcome, started: Started<'_>) {
        self.record_in(outcome, started);
    }

    #[inline(always)]
    fn record_in(&self, outcome: Outcome, started: Started<'_>) {
        use database_block::{DURATION, OPERATIONS};
        let now = self.store.clock.now();
        let cells = started.cells;
        let span = (started.tick, now);
        self.duration.observe(
            cells,
            DURATION,
            &self.store.clock,
            span,
            self.exemplar_interval,
        );
        cells.add(OPERATIONS, &self.operations, 0, 1);
        if let Some(error_type) = outcome.error_type() {
            self.record_error(error_type);
        }
    }

    /// Off the hot path: the error series is looked up by its `error_type`.
    #[cold]
    #[inline(never)]
    fn record_error(&self, error_type: &str) {
        let mut buffer = [0; SNAKE_CASE_BUFFER];
        let error_type = snake_case(error_type, &mut buffer);
        self.store
            .families
            .db_errors
            .inc(&[&self.operation, error_type]);
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.store.clock
    }
}

/// The series one message processing site records into.
///
/// # Examples
///
/// ```
/// # let collector = insa_metrics::MetricsCollector::builder().process_metrics(false).build()?;
/// let handles = collector.message_handles("orchestrator");
/// {
///     let _processing = handles.start();
///     // … process one message …
/// }
/// assert!(collector.encode_text().contains(
///     r#"insa_message_bus_processing_duration_seconds_count{agent_type="orchestrator"} 1"#
/// ));
/// # Ok::<(), insa_metrics::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MessageHandles {
    /// The site's block: the duration histogram alone.
    block: Option<Block>,
    duration: TracedHistogram,
    clock: Clock,
    exemplar_interval: u64,
}

impl MessageHandles {
    pub(crate) fn resolve(store: &Store, agent: &str, admission: Admission) -> Self {
        let duration = TracedHistogram::new(
            store
                .families
                .bus_processing
                .histogram_handle(&[agent], admission),
            &store.clock,
        );
        MessageHandles {
            block: site_block(store, admission, &[duration.member()]),
            duration,
            clock: store.clock.clone(),
            exemplar_interval: store.exemplar_interval(),
        }
    }

    /// Reads the clock processing starts at.
    #[inline]
    pub(crate) fn now(&self) -> Tick {
        self.clock.now()
    }

    /// The processing started at `tick`, about to be recorded: where it
    /// records is found at its end.
    #[inline]
    pub(crate) fn started_at(&self, tick: Tick) -> Started<'_> {
        Started::at(tick, self.block.as_ref())
    }

    /// Observes the processing started as `started`. Inlined for a call
    /// site's block; out of line otherwise.
    #[inline(always)]
    pub(crate) fn observe_since(&self, started: Started<'_>) {
        match started.cells {
            Cells::Stripe(_) => self.observe_in(started),
            Cells::Compact => self.observe_compact(started),
        }
    }

    #[inline(never)]
    fn observe_compact(&self, started: Started<'_>) {
        self.observe_in(started);
    }

    #[inline(always)]
    fn observe_in(&self, started: Started<'_>) {
        let span = (started.tick, self.clock.now());
        self.duration
            .observe(started.cells, 0, &self.clock, span, self.exemplar_interval);
    }

    /// Starts processing a message.
    #[inline]
    pub fn start(&self) -> crate::MessageGuard<'_> {
        crate::MessageGuard::borrowed(self)
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::MetricsCollector;

    /// Every exemplar of a scrape lies in its bucket: above the previous
    /// bound, at most its own.
    fn check_exemplars(text: &str) -> usize {
        let mut previous_bound = f64::NEG_INFINITY;
        let mut seen = 0;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("insa_agent_request_duration_seconds_bucket{")
            else {
                previous_bound = f64::NEG_INFINITY;
                continue;
            };
            let le = rest
                .split("le=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let bound: f64 = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            if let Some((_, exemplar)) = line.split_once(" # {") {
                let value: f64 = exemplar.split(' ').nth(1).unwrap().parse().unwrap();
                assert!(value > previous_bound && value <= bound, "{line}");
                seen += 1;
            }
            previous_bound = bound;
        }
        seen
    }

    fn same_block(a: &Option<Block>, b: &Option<Block>) -> bool {
        matches!((a, b), (Some(a), Some(b)) if Arc::ptr_eq(a, b))
    }

    #[test]
    fn the_sites_of_one_label_set_share_a_block_and_add_up() {
        let collector = MetricsCollector::builder()
            .process_metrics(false)
            .build()
            .unwrap();
        let site = |agent| collector.request_handles_with(agent, Admission::Reserved);
        let (a, again, b) = (site("a"), site("a"), site("b"));
        assert!(same_block(&a.block, &again.block));
        assert!(!same_block(&a.block, &b.block) && b.block.is_some());
        let database =
            |table| collector.database_handles_with("select", table, Admission::Reserved);
        assert!(same_block(
            &database("users").block,
            &database("users").block
        ));
        let message = |agent| collector.message_handles_with(agent, Admission::Reserved);
        assert!(same_block(&message("a").block, &message("a").block));
        // Handles asked for at run time record into the compact cells.
        let capped = collector.request_handles("a");
        assert!(capped.block.is_none());

        for handles in [&a, &again, &capped] {
            handles.record(Outcome::Success, handles.enter());
        }
        let in_flight = a.enter();
        capped.record(Outcome::Rejected, capped.enter());
        let text = collector.encode_text();
        for line in [
            r#"insa_agent_requests_total{agent_type="a",status="success"} 3"#,
            r#"insa_agent_requests_total{agent_type="a",status="rejected"} 1"#,
            r#"insa_agent_request_duration_seconds_count{agent_type="a"} 3"#,
            r#"insa_worker_active_requests{worker_name="a"} 1"#,
            r#"insa_agent_requests_total{agent_type="b",status="success"} 0"#,
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        a.record(Outcome::Success, in_flight);
        assert!(
            collector
                .encode_text()
                .contains(r#"insa_worker_active_requests{worker_name="a"} 0"#)
        );
    }

    #[test]
    fn a_block_sums_durations_in_ticks_and_scrapes_them_in_seconds() {
        let collector = MetricsCollector::builder()
            .process_metrics(false)
            .build()
            .unwrap();
        let site = collector.request_handles_with("a", Admission::Reserved);
        let capped = collector.request_handles("a");
        assert!(site.block.is_some() && capped.block.is_none());
        site.observe_duration(1_500_000_000);
        site.observe_duration(250_000_000);
        capped.observe_duration(2_000_000_000);
        let text = collector.encode_text();
        let value = |series: &str| -> f64 {
            let line = text.lines().find(|l| l.starts_with(series)).unwrap();
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        let sum = value(r#"insa_agent_request_duration_seconds_sum{agent_type="a"}"#);
        assert!((sum - 3.75).abs() < 1e-6, "{sum}");
        for (le, count) in [("0.1", 0.0), ("0.5", 1.0), ("1", 1.0), ("2.5", 3.0)] {
            let series = format!(
                r#"insa_agent_request_duration_seconds_bucket{{agent_type="a",le="{le}"}}"#
            );
            assert_eq!(value(&series), count, "le={le}");
        }
    }

    #[test]
    fn series_placed_in_another_block_keep_to_their_compact_cells() {
        let collector = MetricsCollector::builder()
            .process_metrics(false)
            .build()
            .unwrap();
        let store = &collector.store;
        let message = collector.message_handles_with("a", Admission::Reserved);
        // The same series as the anchor of a block of another shape.
        let other = collector.message_handles_with("b", Admission::Reserved);
        let members = [other.duration.member(), message.duration.member()];
        assert!(store.block(&members).is_none());
        // The site's own block is still found.
        assert!(same_block(
            &store.block(&[message.duration.member()]),
            &message.block
        ));
    }

    #[test]
    fn concurrent_observations_leave_every_exemplar_in_its_bucket() {
        let collector = MetricsCollector::builder()
            .process_metrics(false)
            .exemplar_interval(Duration::from_nanos(1))
            .build()
            .unwrap();
        let striped = collector.request_handles_with("sizing_agent", Admission::Reserved);
        let compact = collector.request_handles("sizing_agent");
        let recording = AtomicBool::new(true);
        std::thread::scope(|s| {
            let scraper = s.spawn(|| {
                let mut seen = 0;
                while recording.load(Ordering::Relaxed) {
                    seen += check_exemplars(&collector.encode_openmetrics());
                }
                seen
            });
            let recorders: Vec<_> = (0..4u8)
                .map(|t| {
                    let handles = if t % 2 == 0 { &striped } else { &compact };
                    s.spawn(move || {
                        for i in 0..20_000u64 {
                            let trace = TraceContext::new([t + 1; 16], [t + 1; 8]).unwrap();
                            let _scope = trace.enter();
                            // Spread over every bucket, +Inf included.
                            let nanos = (i * 7_919 % 2_000) * 100_000_000 + u64::from(t);
                            handles.observe_duration(nanos);
                        }
                    })
                })
                .collect();
            for recorder in recorders {
                recorder.join().unwrap();
            }
            recording.store(false, Ordering::Relaxed);
            assert!(scraper.join().unwrap() > 0, "no exemplar was seen");
        });
        assert_eq!(check_exemplars(&collector.encode_openmetrics()), 10);
    }
}
