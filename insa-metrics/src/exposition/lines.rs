//! The pieces every family is written with, in either format: the header lines, label blocks, sample lines and exemplars.

use std::fmt;

use super::Format;
use super::float::write_float;
use crate::trace::TraceContext;

/// An exemplar as written: its trace, value in the base unit and Unix time
/// in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WrittenExemplar {
    pub(crate) trace: TraceContext,
    pub(crate) value: f64,
    pub(crate) unix_nanos: u64,
}

/// The label names of an exemplar, and the most characters OpenMetrics 1.0
/// allows its whole label set (names and values).
pub(crate) const EXEMPLAR_LABELS: (&str, &str) = ("trace_id", "span_id");
/// OpenMetrics 1.0: an exemplar's label set is at most 128 UTF-8 characters.
pub(crate) const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;
/// The characters of our exemplars' label sets: two names, 32 + 16 hex digits.
pub(crate) const EXEMPLAR_LABEL_CHARS: usize =
    EXEMPLAR_LABELS.0.len() + 32 + EXEMPLAR_LABELS.1.len() + 16;
const _: () = assert!(EXEMPLAR_LABEL_CHARS <= MAX_EXEMPLAR_LABEL_CHARS);

/// Writes families' lines into `out` in one format.
pub(crate) struct Lines<'o, W> {
    pub(crate) out: &'o mut W,
    pub(crate) format: Format,
    /// The current series' labels, `{a="x",b="y"` (unclosed), or empty.
    pub(crate) labels: String,
}

impl<W: fmt::Write> Lines<'_, W> {
    /// `# HELP`, `# TYPE` and, in OpenMetrics, `# UNIT` of a family whose
    /// samples are named `name` (a counter's with `_total`).
    pub(crate) fn header(
        &mut self,
        name: &str,
        help: &str,
        type_name: &str,
        unit: Option<&str>,
    ) -> fmt::Result {
        let family = match (self.format, type_name) {
            (Format::OpenMetrics, "counter") => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        if !help.is_empty() || self.format == Format::OpenMetrics {
            self.out.write_str("# HELP ")?;
            self.out.write_str(family)?;
            self.out.write_char(' ')?;
            escape(self.out, help, self.format == Format::OpenMetrics)?;
            self.out.write_char('\n')?;
        }
        self.out.write_str("# TYPE ")?;
        self.out.write_str(family)?;
        self.out.write_char(' ')?;
        self.out.write_str(type_name)?;
        self.out.write_char('\n')?;
        if let (Format::OpenMetrics, Some(unit)) = (self.format, unit) {
            writeln!(self.out, "# UNIT {family} {unit}")?;
        }
        Ok(())
    }

    /// The label block of a series whose values need no escaping: each
    /// prefix (`{name="`, `,name="`) and the next value of `key`.
    pub(crate) fn plain_labels(&mut self, prefixes: &[Box<str>], key: &str) {
        self.labels.clear();
        let mut rest = key;
        for prefix in prefixes {
            let end = rest.bytes().position(|b| b == 0).unwrap_or(rest.len());
            self.labels.push_str(prefix);
            self.labels.push_str(&rest[..end]);
            self.labels.push('"');
            rest = rest.get(end + 1..).unwrap_or_default();
        }
    }

    /// The one sample line of a counter or gauge series whose values need no
    /// escaping, its labels written straight from the key (no label block).
    pub(crate) fn plain_sample(
        &mut self,
        name: &str,
        prefixes: &[Box<str>],
        key: &str,
        value: impl FnOnce(&mut W) -> fmt::Result,
        exemplar: Option<WrittenExemplar>,
    ) -> fmt::Result {
        let out = &mut *self.out;
        out.write_str(name)?;
        let mut rest = key;
        for prefix in prefixes {
            let end = rest.bytes().position(|b| b == 0).unwrap_or(rest.len());
            out.write_str(prefix)?;
            out.write_str(&rest[..end])?;
            out.write_char('"')?;
            rest = rest.get(end + 1..).unwrap_or_default();
        }
        out.write_str(if prefixes.is_empty() { " " } else { "} " })?;
        value(out)?;
        if let (Format::OpenMetrics, Some(exemplar)) = (self.format, exemplar) {
            write_exemplar(out, exemplar)?;
        }
        out.write_char('\n')
    }

    /// Starts the label block of a series.
    pub(crate) fn clear_labels(&mut self) {
        self.labels.clear();
    }

    /// Adds one label to the current series' block.
    pub(crate) fn label(&mut self, name: &str, value: &str) -> fmt::Result {
        self.labels
            .push(if self.labels.is_empty() { '{' } else { ',' });
        self.labels.push_str(name);
        self.labels.push_str("=\"");
        escape(&mut self.labels, value, true)?;
        self.labels.push('"');
        Ok(())
    }

    /// One sample line: `name`+`suffix`, the series' labels and an `extra`
    /// one (a bucket's `le`, a quantile), the value, and an exemplar in
    /// OpenMetrics.
    pub(crate) fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        extra: Option<(&str, &str)>,
        value: impl FnOnce(&mut W) -> fmt::Result,
        exemplar: Option<WrittenExemplar>,
    ) -> fmt::Result {
        let out = &mut *self.out;
        out.write_str(name)?;
        out.write_str(suffix)?;
        out.write_str(&self.labels)?;
        match extra {
            Some((label, value)) => {
                out.write_char(if self.labels.is_empty() { '{' } else { ',' })?;
                out.write_str(label)?;
                out.write_str("=\"")?;
                out.write_str(value)?;
                out.write_str("\"}")?;
            }
            None if !self.labels.is_empty() => out.write_char('}')?,
            None => {}
        }
        out.write_char(' ')?;
        value(out)?;
        if let (Format::OpenMetrics, Some(exemplar)) = (self.format, exemplar) {
            write_exemplar(out, exemplar)?;
        }
        out.write_char('\n')
    }

    /// The end of the exposition: `# EOF` in OpenMetrics.
    pub(crate) fn finish(&mut self) -> fmt::Result {
        match self.format {
            Format::OpenMetrics => self.out.write_str("# EOF\n"),
            Format::Text => Ok(()),
        }
    }
}

/// ` # {trace_id="…",span_id="…"} value timestamp`.
fn write_exemplar(out: &mut impl fmt::Write, exemplar: WrittenExemplar) -> fmt::Result {
    out.write_str(" # {")?;
    out.write_str(EXEMPLAR_LABELS.0)?;
    out.write_str("=\"")?;
    exemplar.trace.write_trace_id(out)?;
    out.write_str("\",")?;
    out.write_str(EXEMPLAR_LABELS.1)?;
    out.write_str("=\"")?;
    exemplar.trace.write_span_id(out)?;
    out.write_str("\"} ")?;
    write_float(out, exemplar.value)?;
    let seconds = exemplar.unix_nanos / 1_000_000_000;
    let millis = exemplar.unix_nanos % 1_000_000_000 / 1_000_000;
    write!(out, " {seconds}.{millis:03}")
}

/// Escapes `\` and newline, and `"` where `quotes` (label values, and
/// OpenMetrics' help text).
pub(crate) fn escape(out: &mut impl fmt::Write, value: &str, quotes: bool) -> fmt::Result {
    if !value
        .bytes()
        .any(|b| b == b'\\' || b == b'\n' || (quotes && b == b'"'))
    {
        return out.write_str(value);
    }
    for c in value.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '"' if quotes => out.write_str("\\\"")?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}
