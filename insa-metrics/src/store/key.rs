//! Series keys: label values checked, then encoded so that two value tuples never share a key and keys sort as the tuples do.
//!
//! Values are written in the order of their label names (the order in which
//! the exposition lists labels and sorts series), separated by a NUL byte;
//! a NUL or `\x01` inside a value is escaped as `\x01\x01` or `\x01\x02`.
//! The separator sorts below every byte of a value, so comparing keys byte by
//! byte compares the tuples value by value, as `prometheus`' `gather()` does.
//! The encoding is injective: `("ab", "c")` and `("a", "bc")` differ.

use std::fmt;

/// Label values longer than this many bytes are cut (at a character boundary).
pub const MAX_LABEL_VALUE_BYTES: usize = 128;
/// What an empty label value is replaced with.
pub const EMPTY_LABEL_VALUE: &str = "unknown";
/// The most labels a family of the catalogue has.
pub(crate) const MAX_LABELS: usize = 3;

const SEPARATOR: u8 = 0;
const ESCAPE: u8 = 1;

/// The longest key: every value cut to the limit, every byte escaped, and
/// the separators between them.
const MAX_KEY_BYTES: usize = MAX_LABELS * 2 * MAX_LABEL_VALUE_BYTES + (MAX_LABELS - 1);

/// The `reason` of `insa_metrics_invalid_label_values_total` for a label
/// value declared in code (a typed label) that is not snake_case.
pub(crate) const NOT_SNAKE_CASE_REASON: &str = "not_snake_case";

/// Why a label value was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// It was empty: it is exposed as [`EMPTY_LABEL_VALUE`].
    Empty,
    /// It was over [`MAX_LABEL_VALUE_BYTES`]: it is cut.
    TooLong,
}

impl Invalid {
    /// The `reason` label of `insa_metrics_invalid_label_values_total`.
    pub(crate) const fn reason(self) -> &'static str {
        match self {
            Invalid::Empty => "empty",
            Invalid::TooLong => "too_long",
        }
    }
}

/// The value to expose for `value`: empty ones replaced, over-long ones cut
/// at a character boundary; `Err` says which, with the replacement.
pub(crate) fn sanitise(value: &str) -> Result<&str, (&str, Invalid)> {
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

/// Keys up to this many bytes are built on the stack (every key of values
/// within a typical length); longer ones (long values, escapes) on the heap.
/// Measured: zeroing a buffer for the worst case ([`MAX_KEY_BYTES`], 770
/// bytes) took about a sixth of a record by label values.
const INLINE_KEY_BYTES: usize = 256;

/// A key being built, to look a series up: on the stack unless it is long.
#[allow(clippy::large_enum_variant)] // on the stack on purpose; never stored
pub(crate) enum KeyBuf {
    Inline {
        buf: [u8; INLINE_KEY_BYTES],
        len: usize,
    },
    Heap(Vec<u8>),
}

impl KeyBuf {
    /// The key of `values`, already sanitised and in label-name order.
    #[inline]
    pub(crate) fn of<'v>(values: impl IntoIterator<Item = &'v str> + Clone) -> Self {
        let escaped = |value: &str| value.bytes().filter(|&b| b <= ESCAPE).count();
        let len: usize = values
            .clone()
            .into_iter()
            .enumerate()
            .map(|(i, value)| usize::from(i > 0) + value.len() + escaped(value))
            .sum();
        let mut key = if len <= INLINE_KEY_BYTES {
            KeyBuf::Inline {
                buf: [0; INLINE_KEY_BYTES],
                len: 0,
            }
        } else {
            KeyBuf::Heap(Vec::with_capacity(len.min(MAX_KEY_BYTES)))
        };
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                key.push(&[SEPARATOR]);
            }
            if escaped(value) == 0 {
                key.push(value.as_bytes());
                continue;
            }
            for &byte in value.as_bytes() {
                match byte {
                    SEPARATOR => key.push(&[ESCAPE, 1]),
                    ESCAPE => key.push(&[ESCAPE, 2]),
                    byte => key.push(&[byte]),
                }
            }
        }
        key
    }

    #[inline]
    fn push(&mut self, bytes: &[u8]) {
        match self {
            KeyBuf::Inline { buf, len } => {
                // The length was counted before: the bytes fit.
                if let Some(slot) = buf.get_mut(*len..*len + bytes.len()) {
                    slot.copy_from_slice(bytes);
                    *len += bytes.len();
                }
            }
            KeyBuf::Heap(buf) => buf.extend_from_slice(bytes),
        }
    }

    /// The key's bytes, to look a series up with.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            KeyBuf::Inline { buf, len } => &buf[..*len],
            KeyBuf::Heap(buf) => buf,
        }
    }

    /// The key, as stored in a series. Escapes and separators are ASCII, so
    /// the key of UTF-8 values is UTF-8.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl fmt::Debug for KeyBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyBuf").field(&self.as_str()).finish()
    }
}

/// The label values a key was made of, in label-name order. A value with an
/// escape is unescaped into `scratch`; the others are borrowed from the key.
pub(crate) fn for_each_value<E>(
    key: &str,
    scratch: &mut String,
    mut f: impl FnMut(&str) -> Result<(), E>,
) -> Result<(), E> {
    // Values are never empty (they are sanitised), so only a family without
    // labels has the empty key.
    if key.is_empty() {
        return Ok(());
    }
    for raw in key.split(char::from(SEPARATOR)) {
        if raw.as_bytes().contains(&ESCAPE) {
            scratch.clear();
            let mut escaped = false;
            for c in raw.chars() {
                match (escaped, c) {
                    (false, '\u{1}') => escaped = true,
                    (true, '\u{1}') => {
                        scratch.push('\0');
                        escaped = false;
                    }
                    (true, _) => {
                        scratch.push('\u{1}');
                        escaped = false;
                    }
                    (false, c) => scratch.push(c),
                }
            }
            f(scratch)?;
        } else {
            f(raw)?;
        }
    }
    Ok(())
}

/// The values of `key`, owned: for the cold paths (interop, tests).
pub(crate) fn values(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut scratch = String::new();
    let _ = for_each_value::<()>(key, &mut scratch, |value| {
        out.push(value.to_owned());
        Ok(())
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(values: &[&str]) -> String {
        KeyBuf::of(values.iter().copied()).as_str().to_owned()
    }

    #[test]
    fn sanitise_cuts_at_a_char_boundary() {
        let long = "é".repeat(100);
        let (cut, why) = sanitise(&long).unwrap_err();
        assert_eq!(why, Invalid::TooLong);
        assert_eq!(cut.len(), 128);
        assert_eq!(
            sanitise("").unwrap_err(),
            (EMPTY_LABEL_VALUE, Invalid::Empty)
        );
        assert_eq!(sanitise("ok").unwrap(), "ok");
    }

    #[test]
    fn tuples_whose_concatenations_are_equal_have_different_keys() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_ne!(key(&["worker1", "12"]), key(&["worker11", "2"]));
        assert_ne!(key(&["selectu", "sers"]), key(&["select", "users"]));
        assert_ne!(key(&["1.0", "0prod", "x"]), key(&["1.00", "prod", "x"]));
        assert_ne!(key(&["a\0", "b"]), key(&["a", "\0b"]));
        assert_ne!(key(&["a\u{1}", "b"]), key(&["a", "\u{1}b"]));
        assert_ne!(key(&["", "a"]), key(&["a", ""]));
    }

    #[test]
    fn keys_sort_as_the_tuples_do() {
        let mut tuples: Vec<Vec<&str>> = vec![
            vec!["a", "b"],
            vec!["a b", "a"],
            vec!["a", "a\u{1}"],
            vec!["a", "a\0"],
            vec!["a\0", "z"],
            vec!["ab", ""],
            vec!["", "zz"],
            vec!["é", "a"],
            vec!["a", "a"],
        ];
        let mut by_key = tuples.clone();
        by_key.sort_by_key(|t| key(t));
        tuples.sort();
        assert_eq!(by_key, tuples);
    }

    #[test]
    fn keys_decode_to_their_values() {
        for tuple in [
            vec!["1.0.0", "unknown", "linux-x86_64"],
            vec!["a\0b", "\u{1}", "\u{1}\0\u{1}"],
            vec![],
            vec!["only"],
        ] {
            assert_eq!(values(&key(&tuple)), tuple);
        }
    }

    /// Keys past the stack buffer are built on the heap, the same way.
    #[test]
    fn long_keys_are_encoded_as_short_ones() {
        let long = "x".repeat(MAX_LABEL_VALUE_BYTES);
        let tuple = [long.as_str(), "a\0b", long.as_str()];
        let k = key(&tuple);
        assert!(k.len() > INLINE_KEY_BYTES);
        assert_eq!(k, format!("{long}\0a\u{1}\u{1}b\0{long}"));
        assert_eq!(values(&k), tuple);
    }

    #[test]
    fn the_longest_values_fit() {
        let worst = "\0".repeat(MAX_LABEL_VALUE_BYTES);
        let k = key(&[&worst, &worst, &worst]);
        assert_eq!(k.len(), MAX_KEY_BYTES);
        assert_eq!(values(&k), [worst.clone(), worst.clone(), worst]);
    }
}
