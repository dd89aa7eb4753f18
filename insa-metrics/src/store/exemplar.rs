//! Exemplar slots: per bucket (or per counter series), the last sampled observation and the trace it came from, written and read without a lock.
//!
//! A slot is a sequence lock over atomics: a writer takes the version from
//! even to odd with a compare-and-swap (so writers exclude each other, and a
//! writer that loses simply drops its exemplar), stores the fields, and makes
//! the version even again; a reader retries while the version is odd or moved.
//! Sampling bounds the cost: a slot takes at most one exemplar per interval,
//! and only a due slot reads the trace context.

use std::sync::atomic::{AtomicU64, Ordering, fence};

use crate::trace::TraceContext;

/// After a due slot's call found no trace context, the series' slots are
/// looked at again `interval / NO_TRACE_RETRY_DIVISOR` later (10 ms of the
/// default 1 s).
const NO_TRACE_RETRY_DIVISOR: u64 = 100;

/// One exemplar as read back for the exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exemplar {
    pub(crate) trace: TraceContext,
    /// The observed value, in the family's recorded unit (nanoseconds for
    /// durations; 1 for a counter's increment).
    pub(crate) value: u64,
    /// The clock reading when it was recorded.
    pub(crate) tick: u64,
}

#[derive(Debug, Default)]
struct Slot {
    /// Even when stable, odd while a writer is in; 0 until the first write.
    version: AtomicU64,
    /// The clock reading (raw) from which the slot is due again: 0 until
    /// it first took an exemplar, then that reading plus the interval. A
    /// call that found no trace context leaves it (the series waits a
    /// hundredth of the interval, [`Exemplars::untraced_until`]), so an
    /// untraced call does not hold the slot from the traced ones.
    next_due: AtomicU64,
    trace_high: AtomicU64,
    trace_low: AtomicU64,
    span: AtomicU64,
    value: AtomicU64,
    tick: AtomicU64,
}

/// The exemplar slots of one series.
#[derive(Debug)]
pub(crate) struct Exemplars {
    /// The clock reading (raw) before which no slot is looked at: set when a
    /// due slot found no trace context, a hundredth of the interval ahead.
    /// A call without a trace context then pays one load and a compare here,
    /// before any slot's bounds check.
    untraced_until: AtomicU64,
    slots: Box<[Slot]>,
}

impl Exemplars {
    pub(crate) fn new(slots: usize) -> Self {
        Exemplars {
            untraced_until: AtomicU64::new(0),
            slots: (0..slots).map(|_| Slot::default()).collect(),
        }
    }

    /// Whether slot `i` is due at `now`: one load and a compare, what a call
    /// without a trace context pays.
    #[inline]
    fn is_due(&self, i: usize, now: u64) -> bool {
        self.slots
            .get(i)
            .is_some_and(|slot| now >= slot.next_due.load(Ordering::Relaxed))
    }

    /// Marks slot `i` checked at `now`: due again `interval` ticks later.
    fn checked(&self, i: usize, now: u64, interval: u64) {
        if let Some(slot) = self.slots.get(i) {
            slot.next_due
                .store(now.saturating_add(interval), Ordering::Relaxed);
        }
    }

    /// Whether slot `i` may take an exemplar at `now`: `interval` ticks have
    /// passed since its last check (or there was none). Marks it checked
    /// when due.
    #[inline]
    pub(crate) fn due(&self, i: usize, now: u64, interval: u64) -> bool {
        let due = self.is_due(i, now);
        if due {
            self.checked(i, now, interval);
        }
        due
    }

    /// Offers slot `i` an observation at `now`: when the slot is due, the
    /// current trace context is looked for and, if there is one, written
    /// with the observed value (`value`, asked for only then). Returns that
    /// context.
    #[inline]
    pub(crate) fn offer(
        &self,
        i: usize,
        value: impl FnOnce() -> u64,
        now: u64,
        interval: u64,
    ) -> Option<TraceContext> {
        // Measuring only: the hot path as it was before exemplars.
        #[cfg(insa_metrics_no_exemplars)]
        {
            let _ = (i, value, now, interval);
            return None;
        }
        #[cfg(not(insa_metrics_no_exemplars))]
        if now >= self.untraced_until.load(Ordering::Relaxed) && self.is_due(i, now) {
            self.offer_due(i, value(), now, interval)
        } else {
            None
        }
    }

    /// The slow part of [`offer`](Self::offer), at most once per interval.
    #[cold]
    #[inline(never)]
    fn offer_due(&self, i: usize, value: u64, now: u64, interval: u64) -> Option<TraceContext> {
        let Some(trace) = TraceContext::current() else {
            // No context: every slot waits, the one due stays due.
            self.untraced_until.store(
                now.saturating_add(interval / NO_TRACE_RETRY_DIVISOR),
                Ordering::Relaxed,
            );
            return None;
        };
        self.checked(i, now, interval);
        self.write(
            i,
            Exemplar {
                trace,
                value,
                tick: now,
            },
        );
        Some(trace)
    }

    /// Offers slot `i` an exemplar of a known trace (the counter of a call
    /// whose duration took one).
    pub(crate) fn offer_trace(
        &self,
        i: usize,
        trace: TraceContext,
        value: u64,
        now: u64,
        interval: u64,
    ) {
        if self.due(i, now, interval) {
            self.write(
                i,
                Exemplar {
                    trace,
                    value,
                    tick: now,
                },
            );
        }
    }

    /// Writes an exemplar into slot `i`, unless another writer is in it.
    pub(crate) fn write(&self, i: usize, exemplar: Exemplar) {
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        let version = slot.version.load(Ordering::Relaxed);
        if version % 2 == 1
            || slot
                .version
                .compare_exchange(version, version + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // Orders the odd version before the fields, for readers.
        fence(Ordering::Release);
        let (high, low, span) = exemplar.trace.to_words();
        slot.trace_high.store(high, Ordering::Relaxed);
        slot.trace_low.store(low, Ordering::Relaxed);
        slot.span.store(span, Ordering::Relaxed);
        slot.value.store(exemplar.value, Ordering::Relaxed);
        slot.tick.store(exemplar.tick, Ordering::Relaxed);
        slot.version.store(version + 2, Ordering::Release);
    }

    /// The exemplar in slot `i`, if one was written and could be read whole.
    pub(crate) fn read(&self, i: usize) -> Option<Exemplar> {
        let slot = self.slots.get(i)?;
        // A writer holds a slot for a few stores: a handful of tries is
        // plenty, and a scrape never waits on one.
        for _ in 0..64 {
            let before = slot.version.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let trace = TraceContext::from_words(
                slot.trace_high.load(Ordering::Relaxed),
                slot.trace_low.load(Ordering::Relaxed),
                slot.span.load(Ordering::Relaxed),
            );
            let value = slot.value.load(Ordering::Relaxed);
            let tick = slot.tick.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if slot.version.load(Ordering::Relaxed) == before {
                return Some(Exemplar { trace, value, tick });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(n: u8) -> TraceContext {
        TraceContext::new([n; 16], [n; 8]).unwrap()
    }

    #[test]
    fn a_slot_is_due_once_per_interval() {
        let slots = Exemplars::new(2);
        assert!(slots.due(0, 100, 50));
        assert!(!slots.due(0, 120, 50));
        assert!(slots.due(1, 120, 50));
        assert!(slots.due(0, 150, 50));
        assert!(!slots.due(2, 150, 50));
    }

    /// Untraced calls (health checks, say) among traced ones: the series'
    /// slots are looked at again a hundredth of the interval later, not a
    /// whole one, and the slot that was due is still due then.
    #[test]
    fn an_untraced_call_holds_the_series_for_a_hundredth_of_the_interval() {
        let slots = Exemplars::new(2);
        assert_eq!(slots.offer(0, || 1, 1_000, 10_000), None);
        let trace = context(5);
        let _scope = trace.enter();
        assert_eq!(slots.offer(1, || 2, 1_099, 10_000), None, "too soon");
        assert_eq!(slots.offer(0, || 3, 1_100, 10_000), Some(trace));
        assert_eq!(slots.read(0).map(|e| e.value), Some(3));
        assert_eq!(slots.offer(1, || 4, 1_101, 10_000), Some(trace));
        assert_eq!(
            slots.offer(0, || 5, 11_099, 10_000),
            None,
            "traced: a whole interval"
        );
        assert_eq!(slots.offer(0, || 6, 11_100, 10_000), Some(trace));
    }

    #[test]
    fn what_is_written_is_read_back() {
        let slots = Exemplars::new(1);
        assert_eq!(slots.read(0), None);
        let exemplar = Exemplar {
            trace: context(7),
            value: 42,
            tick: 9,
        };
        slots.write(0, exemplar);
        assert_eq!(slots.read(0), Some(exemplar));
    }

    #[test]
    fn concurrent_writes_are_read_whole() {
        let slots = std::sync::Arc::new(Exemplars::new(1));
        let writers: Vec<_> = (1..=4u8)
            .map(|n| {
                let slots = std::sync::Arc::clone(&slots);
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        slots.write(
                            0,
                            Exemplar {
                                trace: context(n),
                                value: u64::from(n) * 1_000,
                                tick: i,
                            },
                        );
                    }
                })
            })
            .collect();
        let mut reads = 0;
        while reads < 20_000 {
            if let Some(read) = slots.read(0) {
                let n = read.trace.trace_id()[0];
                assert_eq!(read.trace, context(n), "a torn read");
                assert_eq!(read.value, u64::from(n) * 1_000, "a torn read");
            }
            reads += 1;
        }
        for writer in writers {
            writer.join().unwrap();
        }
    }
}
