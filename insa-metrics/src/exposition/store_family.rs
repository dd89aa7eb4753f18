//! A family of the store, written straight from its series: no protobuf, no sorting (the index is in exposition order).

use std::fmt;

use super::Format;
use super::float::{write_count, write_float, write_gauge};
use super::lines::{Lines, WrittenExemplar};
use crate::catalogue::FamilyKind;
use crate::store::{Family, MAX_CELLS, Series, Store, key};

/// Writes `family` (nothing when it has no series, as `gather()` prunes it).
pub(crate) fn write<W: fmt::Write>(
    lines: &mut Lines<'_, W>,
    store: &Store,
    family: &Family,
    unescaped: &mut String,
) -> fmt::Result {
    let spec = family.spec();
    let mut started = false;
    family.visit(|series| {
        if !started {
            started = true;
            lines.header(
                spec.name(),
                spec.help(),
                spec.kind().type_name(),
                spec.unit().map(|unit| unit.as_str()),
            )?;
        }
        match spec.kind() {
            FamilyKind::Histogram => {
                labels(lines, family, series, unescaped)?;
                write_histogram(lines, store, family, series)
            }
            FamilyKind::Counter => {
                let value = series.read(0);
                let exemplar = exemplar(lines.format, store, series, 0, |_| 1.0);
                let write = |out: &mut W| write_count(out, value);
                write_one_sample(lines, family, series, unescaped, write, exemplar)?;
                Ok(value)
            }
            _ => {
                #[allow(clippy::cast_possible_wrap)] // a gauge's cells are i64s
                let value = series.read(0) as i64;
                let write = |out: &mut W| write_gauge(out, value);
                write_one_sample(lines, family, series, unescaped, write, None)?;
                Ok(0)
            }
        }
    })
}

/// The one sample of a counter or gauge series; a key with nothing to
/// escape is written as it is stored.
#[inline]
fn write_one_sample<W: fmt::Write>(
    lines: &mut Lines<'_, W>,
    family: &Family,
    series: &Series,
    unescaped: &mut String,
    write: impl FnOnce(&mut W) -> fmt::Result,
    exemplar: Option<WrittenExemplar>,
) -> fmt::Result {
    let name = family.spec().name();
    if series.is_plain() {
        lines.plain_sample(name, family.label_prefixes(), series.key(), write, exemplar)
    } else {
        labels(lines, family, series, unescaped)?;
        lines.sample(name, "", None, write, exemplar)
    }
}

/// The label block of `series`, for its sample lines.
fn labels<W: fmt::Write>(
    lines: &mut Lines<'_, W>,
    family: &Family,
    series: &Series,
    unescaped: &mut String,
) -> fmt::Result {
    if series.is_plain() {
        lines.plain_labels(family.label_prefixes(), series.key());
        return Ok(());
    }
    lines.clear_labels();
    let mut names = family.sorted_labels();
    key::for_each_value(series.key(), unescaped, |value| {
        lines.label(names.next().unwrap_or_default(), value)
    })
}

/// A histogram's buckets (cumulative), `_sum` and `_count`; returns the count.
fn write_histogram<W: fmt::Write>(
    lines: &mut Lines<'_, W>,
    store: &Store,
    family: &Family,
    series: &Series,
) -> Result<u64, fmt::Error> {
    let name = family.spec().name();
    let Some(buckets) = family.buckets() else {
        return Ok(0);
    };
    let mut cells = [0; MAX_CELLS];
    let cells = series.read_all(&mut cells);
    let counts = &cells[..buckets.observation_cells()];
    let mut cumulative = 0u64;
    for (i, count) in counts.iter().enumerate() {
        cumulative = cumulative.wrapping_add(*count);
        let exemplar = exemplar(lines.format, store, series, i, |value| {
            buckets.to_base(value)
        });
        lines.sample(
            name,
            "_bucket",
            Some(("le", buckets.le(i))),
            |out| write_count(out, cumulative),
            exemplar,
        )?;
    }
    let sum = buckets.to_base(series.read_sum(buckets.sum_cell()));
    lines.sample(name, "_sum", None, |out| write_float(out, sum), None)?;
    lines.sample(
        name,
        "_count",
        None,
        |out| write_count(out, cumulative),
        None,
    )?;
    Ok(cumulative)
}

/// The exemplar of slot `i` in OpenMetrics, its value converted by `to_base`.
fn exemplar(
    format: Format,
    store: &Store,
    series: &Series,
    i: usize,
    to_base: impl FnOnce(u64) -> f64,
) -> Option<WrittenExemplar> {
    if format != Format::OpenMetrics {
        return None;
    }
    let read = series.exemplars_if_any()?.read(i)?;
    Some(WrittenExemplar {
        trace: read.trace,
        value: to_base(read.value),
        unix_nanos: store.unix_nanos(read.tick),
    })
}
