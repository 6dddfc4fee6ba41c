//! Go duration strings (`10s`, `1m30s`, `1.5h`, `300ms`) as Traefik accepts them.

use std::time::Duration;

/// Parses a Go duration; a bare integer means seconds (Traefik's rule for timeouts).
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{s}` has a number without a unit (use e.g. `10s`)"))?;
        if num_len == 0 {
            return Err(format!("`{s}` is not a duration (use e.g. `10s`, `1m30s`)"));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("`{s}` is not a duration"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => {
                return Err(format!(
                    "`{s}` has an unknown unit `{unit}` (valid: ns, us, ms, s, m, h)"
                ))
            }
        };
        total += value * factor;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(parse_go_duration("10x").is_err());
        assert!(parse_go_duration("s").is_err());
    }
}
