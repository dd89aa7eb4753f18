//! Families with labels: a `prometheus` vector behind a bounded index that
//! caps the number of series and sanitises label values.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

use prometheus::core::{Collector, MetricVecBuilder};
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts};

use crate::catalogue::{FamilyKind, FamilySpec};

/// Label values longer than this many bytes are cut (at a character boundary).
pub const MAX_LABEL_VALUE_BYTES: usize = 128;
/// The most labels a family of the catalogue has.
const MAX_LABELS: usize = 3;
/// The value of every label of a family's overflow series.
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";
/// What an empty label value is replaced with.
pub const EMPTY_LABEL_VALUE: &str = "unknown";
/// The default cardinality limit: series per family.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 1000;

/// A `prometheus` vector type a [`Family`] can wrap.
pub(crate) trait MetricVec: Collector + Clone + 'static {
    /// One series.
    type Child: Clone + Send + Sync;
    fn build(spec: &FamilySpec) -> Self;
    fn child(&self, values: &[&str]) -> Self::Child;
    /// Removes the series of `values`, if there is one.
    fn remove(&self, values: &[&str]);
}

impl<B> MetricVec for prometheus::core::MetricVec<B>
where
    B: MetricVecBuilder + 'static,
    Self: FromSpec,
{
    type Child = B::M;

    fn build(spec: &FamilySpec) -> Self {
        Self::from_spec(spec).expect("the catalogue declares valid families")
    }

    fn child(&self, values: &[&str]) -> B::M {
        self.get_metric_with_label_values(values)
            .expect("label count is fixed by the catalogue")
    }

    fn remove(&self, values: &[&str]) {
        let _ = self.remove_label_values(values);
    }
}

/// Builds a vector from its catalogue entry.
pub(crate) trait FromSpec: Sized {
    fn from_spec(spec: &FamilySpec) -> prometheus::Result<Self>;
}

impl FromSpec for IntCounterVec {
    fn from_spec(spec: &FamilySpec) -> prometheus::Result<Self> {
        IntCounterVec::new(Opts::new(spec.name, spec.help), spec.labels)
    }
}

impl FromSpec for IntGaugeVec {
    fn from_spec(spec: &FamilySpec) -> prometheus::Result<Self> {
        IntGaugeVec::new(Opts::new(spec.name, spec.help), spec.labels)
    }
}

impl FromSpec for HistogramVec {
    fn from_spec(spec: &FamilySpec) -> prometheus::Result<Self> {
        debug_assert_eq!(spec.kind, FamilyKind::Histogram);
        let opts = HistogramOpts::new(spec.name, spec.help).buckets(spec.buckets.to_vec());
        HistogramVec::new(opts, spec.labels)
    }
}

/// Whether a new label set counts against the cardinality limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Run-time values: beyond the limit, they share the overflow series.
    Capped,
    /// Values written in the program (a macro call site): admitted even when
    /// the family is full, since the code bounds their number, so a call site
    /// is never stuck on the overflow series.
    Reserved,
}

/// Why a label value was replaced.
#[derive(Debug, Clone, Copy)]
enum Invalid {
    Empty,
    TooLong,
}

/// Self-metric handles of one family, resolved when the family is built.
struct SelfMetrics {
    overflowed: IntCounter,
    empty: IntCounter,
    too_long: IntCounter,
}

/// A labelled family of the catalogue with a cardinality limit.
///
/// Lookups hash the (sanitised, length-prefixed) label values into a stack
/// buffer and read one `RwLock`ed map: no allocation once a series exists.
/// When the family holds `limit` series, further label sets share one overflow
/// series whose every label is [`OVERFLOW_LABEL_VALUE`], and each such call
/// counts in `insa_metrics_label_overflow_total{family}`.
pub(crate) struct Family<V: MetricVec> {
    spec: &'static FamilySpec,
    vec: V,
    index: RwLock<HashMap<Box<[u8]>, V::Child>>,
    overflow: OnceLock<V::Child>,
    limit: usize,
    self_metrics: SelfMetrics,
}

impl<V: MetricVec> std::fmt::Debug for Family<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.spec.name)
            .field("series", &self.len())
            .field("limit", &self.limit)
            .finish()
    }
}

impl<V: MetricVec> Family<V> {
    pub(crate) fn new(
        spec: &'static FamilySpec,
        limit: usize,
        overflow_total: &IntCounterVec,
        invalid_total: &IntCounterVec,
    ) -> Self {
        assert!(spec.labels.len() <= MAX_LABELS && !spec.labels.is_empty());
        let vec = V::build(spec);
        let self_metrics = SelfMetrics {
            overflowed: overflow_total.with_label_values(&[spec.name]),
            empty: invalid_total.with_label_values(&[spec.name, "empty"]),
            too_long: invalid_total.with_label_values(&[spec.name, "too_long"]),
        };
        Family {
            spec,
            vec,
            index: RwLock::new(HashMap::new()),
            overflow: OnceLock::new(),
            limit,
            self_metrics,
        }
    }

    /// The family's declaration.
    pub(crate) fn spec(&self) -> &'static FamilySpec {
        self.spec
    }

    /// The `prometheus` vector, for registration.
    pub(crate) fn collector(&self) -> Box<dyn Collector> {
        Box::new(self.vec.clone())
    }

    /// The series for these label values, in the order of the spec's labels.
    pub(crate) fn get(&self, values: &[&str]) -> V::Child {
        self.get_with(values, Admission::Capped)
    }

    /// The series for these label values, admitted as `admission` says.
    pub(crate) fn get_with(&self, values: &[&str], admission: Admission) -> V::Child {
        let mut clean = [""; MAX_LABELS];
        let clean = self.sanitise_all(values, &mut clean);
        let mut key = KeyBuf::new();
        key.extend(clean);

        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(child) = index.get(key.as_bytes()) {
            return child.clone();
        }
        let full = admission == Admission::Capped && index.len() >= self.limit;
        drop(index);
        if full {
            return self.overflowed();
        }

        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(child) = index.get(key.as_bytes()) {
            return child.clone();
        }
        if admission == Admission::Capped && index.len() >= self.limit {
            drop(index);
            return self.overflowed();
        }
        let child = self.vec.child(clean);
        index.insert(key.as_bytes().into(), child.clone());
        child
    }

    /// Makes the series of `values` the family's only one: it is created and
    /// given its value by `init` first, and the others removed after, so a
    /// scrape in between sees the old and the new series, never none (an info
    /// metric's replacement).
    pub(crate) fn keep_only(&self, values: &[&str], init: impl FnOnce(&V::Child)) {
        init(&self.get_with(values, Admission::Reserved));
        let mut clean = [""; MAX_LABELS];
        for (slot, value) in clean.iter_mut().zip(values) {
            *slot = sanitise(value).unwrap_or_else(|(replaced, _)| replaced);
        }
        let mut key = KeyBuf::new();
        key.extend(&clean[..values.len()]);
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        index.retain(|existing, _| {
            let keep = existing.as_ref() == key.as_bytes();
            if !keep {
                let mut old = [""; MAX_LABELS];
                self.vec.remove(decode_key(existing, &mut old));
            }
            keep
        });
    }

    /// `values` with empty and over-long ones replaced (and counted).
    fn sanitise_all<'v>(
        &self,
        values: &[&'v str],
        clean: &'v mut [&'v str; MAX_LABELS],
    ) -> &'v [&'v str] {
        debug_assert_eq!(values.len(), self.spec.labels.len(), "{}", self.spec.name);
        for (slot, value) in clean.iter_mut().zip(values) {
            *slot = match sanitise(value) {
                Ok(value) => value,
                Err((value, Invalid::Empty)) => {
                    self.self_metrics.empty.inc();
                    value
                }
                Err((value, Invalid::TooLong)) => {
                    self.self_metrics.too_long.inc();
                    value
                }
            };
        }
        &clean[..values.len()]
    }

    /// How many label sets the family holds, the overflow series aside.
    pub(crate) fn len(&self) -> usize {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn overflowed(&self) -> V::Child {
        self.self_metrics.overflowed.inc();
        self.overflow
            .get_or_init(|| {
                let values = [OVERFLOW_LABEL_VALUE; MAX_LABELS];
                self.vec.child(&values[..self.spec.labels.len()])
            })
            .clone()
    }
}

/// Replaces an empty value and cuts an over-long one at a character boundary.
fn sanitise(value: &str) -> Result<&str, (&str, Invalid)> {
    if value.is_empty() {
        return Err((EMPTY_LABEL_VALUE, Invalid::Empty));
    }
    if value.len() <= MAX_LABEL_VALUE_BYTES {
        return Ok(value);
    }
    let mut end = MAX_LABEL_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Err((&value[..end], Invalid::TooLong))
}

/// The label values an index key was made of.
fn decode_key<'k, 'v>(mut key: &'k [u8], values: &'v mut [&'k str; MAX_LABELS]) -> &'v [&'k str] {
    let mut n = 0;
    while let Some((&len, rest)) = key.split_first() {
        let (value, rest) = rest.split_at(usize::from(len));
        values[n] = std::str::from_utf8(value).unwrap_or_default();
        n += 1;
        key = rest;
    }
    &values[..n]
}

/// The index key: each value prefixed by its length, on the stack.
struct KeyBuf {
    buf: [u8; MAX_LABELS * (1 + MAX_LABEL_VALUE_BYTES)],
    len: usize,
}

impl KeyBuf {
    fn new() -> Self {
        KeyBuf {
            buf: [0; MAX_LABELS * (1 + MAX_LABEL_VALUE_BYTES)],
            len: 0,
        }
    }

    fn extend(&mut self, values: &[&str]) {
        for value in values {
            let bytes = value.as_bytes();
            debug_assert!(bytes.len() <= MAX_LABEL_VALUE_BYTES);
            self.buf[self.len] = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
            self.buf[self.len + 1..self.len + 1 + bytes.len()].copy_from_slice(bytes);
            self.len += 1 + bytes.len();
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitise_cuts_at_a_char_boundary() {
        let long = "é".repeat(100);
        let (cut, _) = sanitise(&long).unwrap_err();
        assert!(cut.len() <= MAX_LABEL_VALUE_BYTES);
        assert_eq!(cut.len(), 128);
        assert_eq!(sanitise("").unwrap_err().0, EMPTY_LABEL_VALUE);
        assert_eq!(sanitise("ok").unwrap(), "ok");
    }

    #[test]
    fn keys_decode_to_their_values() {
        let mut key = KeyBuf::new();
        key.extend(&["1.0.0", "", "linux-x86_64"]);
        let mut values = [""; MAX_LABELS];
        assert_eq!(
            decode_key(key.as_bytes(), &mut values),
            ["1.0.0", "", "linux-x86_64"]
        );
    }

    #[test]
    fn keys_are_unambiguous() {
        let mut a = KeyBuf::new();
        a.extend(&["ab", "c"]);
        let mut b = KeyBuf::new();
        b.extend(&["a", "bc"]);
        assert_ne!(a.as_bytes(), b.as_bytes());
    }
}
