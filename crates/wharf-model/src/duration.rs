//! Go duration strings (`10s`, `1m30s`, `1.5h`, `300ms`) as Traefik accepts them.
//!
//! Parsed the way Go's `time.ParseDuration` does it: in integer nanoseconds with checked
//! arithmetic, so a value beyond Go's limit (about 292 years) is an error, never a panic or a
//! silently wrapped number.

use std::time::Duration;

/// Go's `time.Duration` is an `int64` of nanoseconds; nothing larger is a valid duration.
const MAX_NANOS: u64 = i64::MAX as u64;

/// Go's `Duration.String()`: `0s`, `100ms`, `1.5µs`, `10s`, `1m0s`, `1h2m3.5s`.
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    let frac = |n: u128, unit: u128| {
        let (whole, rest) = (n / unit, n % unit);
        if rest == 0 {
            return whole.to_string();
        }
        let width = unit.to_string().len() - 1;
        let digits = format!("{rest:0width$}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    };
    match nanos {
        0 => "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", frac(n, 1_000)),
        n if n < 1_000_000_000 => format!("{}ms", frac(n, 1_000_000)),
        n => {
            let secs = n / 1_000_000_000;
            let (h, m) = (secs / 3600, (secs % 3600) / 60);
            let s = frac(n % 60_000_000_000, 1_000_000_000);
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, m) => format!("{m}m{s}s"),
                (h, m) => format!("{h}h{m}m{s}s"),
            }
        }
    }
}

/// Parses a Go duration; a bare integer means seconds (Traefik's rule for timeouts).
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = s.parse().map_err(|_| too_large(s))?;
        return secs
            .checked_mul(1_000_000_000)
            .filter(|n| *n <= MAX_NANOS)
            .map(Duration::from_nanos)
            .ok_or_else(|| too_large(s));
    }
    let unsigned = match s.as_bytes()[0] {
        b'+' => &s[1..],
        b'-' if s != "-0" => {
            return Err(format!(
                "`{s}` is negative; a duration here must be zero or more"
            ))
        }
        b'-' => &s[1..],
        _ => s,
    };
    if unsigned == "0" {
        return Ok(Duration::ZERO);
    }
    if unsigned.is_empty() {
        return Err(format!("`{s}` is not a duration (use e.g. `10s`, `1m30s`)"));
    }
    let mut total: u64 = 0;
    let mut rest = unsigned;
    while !rest.is_empty() {
        let (whole, after_whole) = split_digits(rest);
        let (fraction, after_fraction) = match after_whole.strip_prefix('.') {
            Some(f) => split_digits(f),
            None => ("", after_whole),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(format!("`{s}` is not a duration (use e.g. `10s`, `1m30s`)"));
        }
        let unit_len = after_fraction
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_fraction.len());
        let unit = &after_fraction[..unit_len];
        let nanos_per_unit: u64 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(format!(
                    "`{s}` has a number without a unit (use e.g. `10s`)"
                ))
            }
            unit => {
                return Err(format!(
                    "`{s}` has an unknown unit `{unit}` (valid: ns, us, ms, s, m, h)"
                ))
            }
        };
        let part = component_nanos(whole, fraction, nanos_per_unit).ok_or_else(|| too_large(s))?;
        total = total
            .checked_add(part)
            .filter(|n| *n <= MAX_NANOS)
            .ok_or_else(|| too_large(s))?;
        rest = &after_fraction[unit_len..];
    }
    Ok(Duration::from_nanos(total))
}

fn too_large(s: &str) -> String {
    format!("`{s}` is too large (a duration is at most 2562047h47m16s)")
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// `whole.fraction` units in nanoseconds, or `None` beyond Go's limit. What is finer than a
/// nanosecond is dropped, as Go does.
fn component_nanos(whole: &str, fraction: &str, nanos_per_unit: u64) -> Option<u64> {
    let mut value: u64 = 0;
    for d in whole.bytes() {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        if value > MAX_NANOS {
            return None;
        }
    }
    let mut nanos = value.checked_mul(nanos_per_unit)?;
    // Eighteen digits are finer than a nanosecond of the largest unit (an hour).
    let digits = &fraction.as_bytes()[..fraction.len().min(18)];
    if !digits.is_empty() {
        let numerator = digits
            .iter()
            .fold(0u128, |n, d| n * 10 + u128::from(d - b'0'));
        let denominator = 10u128.pow(u32::try_from(digits.len()).ok()?);
        let part = u64::try_from(numerator * u128::from(nanos_per_unit) / denominator).ok()?;
        nanos = nanos.checked_add(part)?;
    }
    (nanos <= MAX_NANOS).then_some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_strings() {
        for (d, s) in [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(100), "100ms"),
            (Duration::from_nanos(1500), "1.5µs"),
            (Duration::from_secs(10), "10s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_secs(180), "3m0s"),
            (Duration::from_millis(3_723_500), "1h2m3.5s"),
        ] {
            assert_eq!(format_go_duration(d), s);
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_go_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("300ms").unwrap(),
            Duration::from_millis(300)
        );
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration(".5s").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_go_duration("1.s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_go_duration("+2us").unwrap(), Duration::from_micros(2));
        assert_eq!(parse_go_duration("3µs").unwrap(), Duration::from_micros(3));
        assert_eq!(parse_go_duration("-0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_go_duration("1.0000000001s").unwrap(),
            Duration::from_secs(1)
        );
        assert_eq!(
            parse_go_duration("2562047h47m16.854775807s").unwrap(),
            Duration::from_nanos(i64::MAX as u64)
        );
        for bad in ["10x", "s", ".s", "1.", "-5s", "5s-", "1h 2m", "", "+"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        for huge in [
            "9999999999999999h",
            "2562048h",
            "2562047h47m16.854775808s",
            "99999999999999999999",
            "18446744073709551615",
            "9223372037",
            "9999999999999999999999999999999ns",
            "1h2562047h",
        ] {
            let e = parse_go_duration(huge).unwrap_err();
            assert!(e.contains("too large"), "{huge}: {e}");
        }
        assert_eq!(
            parse_go_duration("1.99999999999999999999999999999h").unwrap(),
            Duration::from_nanos(7_199_999_999_999)
        );
    }
}
