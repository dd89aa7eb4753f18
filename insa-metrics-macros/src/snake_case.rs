//! The snake_case rule of label values, as the runtime applies it to error types.
//!
//! The runtime (`insa-metrics/src/outcome.rs`) writes `error_type` labels by the
//! same rule without allocating; both are tested on one table,
//! `insa-metrics/tests/fixtures/snake_case.txt`.

/// `sizing_agent`, `crm2`: a lowercase letter, then lowercase letters, digits
/// and single underscores, not ending in one.
pub(crate) fn is_snake_case(value: &str) -> bool {
    value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !value.ends_with('_')
        && !value.contains("__")
}

/// `HTTPError` → `http_error`, `Sizing Agent` → `sizing_agent`: the words,
/// lowercased and joined by `_`. Words end at anything but an ASCII letter or
/// digit, and where a capital follows a lowercase letter or a digit, or starts
/// a capitalised word after capitals (`HTTP|Error`). A value that is not
/// ASCII is returned as it is.
pub(crate) fn to_snake_case(value: &str) -> String {
    if !value.is_ascii() {
        return value.to_owned();
    }
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(2 * bytes.len());
    let mut separated = false;
    for (i, &byte) in bytes.iter().enumerate() {
        if !byte.is_ascii_alphanumeric() {
            separated = true;
            continue;
        }
        if (separated || starts_word(bytes, i)) && !out.is_empty() {
            out.push('_');
        }
        separated = false;
        out.push(char::from(byte.to_ascii_lowercase()));
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `input | snake_case | is a label` rows, shared with the runtime's tests.
    const CASES: &str = include_str!("../../insa-metrics/tests/fixtures/snake_case.txt");

    /// `"HTTPError"` → `HTTPError`.
    fn unquote(field: &str) -> &str {
        let field = field.trim();
        field
            .strip_prefix('"')
            .and_then(|f| f.strip_suffix('"'))
            .unwrap_or_else(|| panic!("a quoted field: {field}"))
    }

    #[test]
    fn the_shared_table() {
        let rows: Vec<&str> = CASES
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .collect();
        assert!(rows.len() >= 20, "the table has its rows");
        for row in rows {
            let fields: Vec<&str> = row.split('|').collect();
            let [input, snake, label] = fields[..] else {
                panic!("three fields: {row}");
            };
            let (input, snake) = (unquote(input), unquote(snake));
            assert_eq!(to_snake_case(input), snake, "snake_case of {input:?}");
            let label = match label.trim() {
                "yes" => true,
                "no" => false,
                other => panic!("`yes` or `no`, not {other:?}"),
            };
            assert_eq!(is_snake_case(input), label, "whether {input:?} is a label");
        }
    }
}
