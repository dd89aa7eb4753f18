//! Numbers as the text formats write them: `f64`'s `Display`, with integers through `itoa` (the same digits, several times faster).

use std::fmt;

/// Writes `value` as `f64`'s `Display` does (as `prometheus`' `TextEncoder`
/// writes samples); an integer below 2^53 takes the faster integer path,
/// which prints the same digits.
pub(crate) fn write_float(out: &mut impl fmt::Write, value: f64) -> fmt::Result {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT && !(value == 0.0 && value.is_sign_negative()) {
        #[allow(clippy::cast_possible_truncation)] // |value| < 2^53: exact
        let integer = value as i64;
        out.write_str(itoa::Buffer::new().format(integer))
    } else {
        write!(out, "{value}")
    }
}

/// Writes a count: as `f64`, since the formats carry floats (a count past
/// 2^53 is written as its nearest `f64`, as `TextEncoder` does).
#[inline]
pub(crate) fn write_count(out: &mut impl fmt::Write, count: u64) -> fmt::Result {
    if count < (1 << 53) {
        out.write_str(itoa::Buffer::new().format(count))
    } else {
        #[allow(clippy::cast_precision_loss)] // what the format does
        write_float(out, count as f64)
    }
}

/// Writes a gauge's integer value, as [`write_count`] does.
#[inline]
pub(crate) fn write_gauge(out: &mut impl fmt::Write, value: i64) -> fmt::Result {
    if value.unsigned_abs() < (1 << 53) {
        out.write_str(itoa::Buffer::new().format(value))
    } else {
        #[allow(clippy::cast_precision_loss)] // what the format does
        write_float(out, value as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(value: f64) -> String {
        let mut out = String::new();
        write_float(&mut out, value).unwrap();
        out
    }

    #[test]
    fn floats_read_as_display_writes_them() {
        for value in [
            0.0,
            -0.0,
            1.0,
            -3.0,
            0.1,
            1e-7,
            1e21,
            9_007_199_254_740_993.0,
            f64::NAN,
            f64::INFINITY,
            f64::MAX,
        ] {
            assert_eq!(float(value), value.to_string());
        }
    }

    #[test]
    fn integers_are_written_as_their_f64() {
        let mut out = String::new();
        write_count(&mut out, u64::MAX / 3).unwrap();
        #[allow(clippy::cast_precision_loss)]
        let expected = ((u64::MAX / 3) as f64).to_string();
        assert_eq!(out, expected);
        out.clear();
        write_gauge(&mut out, -42).unwrap();
        assert_eq!(out, "-42");
    }
}
