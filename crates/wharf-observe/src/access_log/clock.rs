//! The access log's timestamps, with the calendar worked out once per second: a busy log writes
//! thousands of lines in one second, and formatting each through a general formatter cost more
//! than the rest of the line.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `n`'s last `N` decimal digits, zero-padded.
fn digits<const N: usize>(mut n: u32) -> [u8; N] {
    let mut out = [b'0'; N];
    for d in out.iter_mut().rev() {
        // A remainder of 10 is a single digit.
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

/// Seconds and nanoseconds since the epoch; a clock set before 1970 reads as the epoch.
fn since_epoch(t: SystemTime) -> (i64, u32) {
    t.duration_since(UNIX_EPOCH).map_or((0, 0), |d| {
        (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        )
    })
}

/// The last second formatted, in UTC.
#[derive(Debug, Default)]
pub(super) struct Clock {
    second: Option<i64>,
    /// `2006-01-02T15:04:05`
    iso: [u8; 19],
    /// `02/Jan/2006:15:04:05 +0000`
    clf: [u8; 26],
}

impl Clock {
    fn at(&mut self, second: i64) {
        if self.second == Some(second) {
            return;
        }
        // Past year 9999 (where RFC 3339 ends) the line carries the epoch.
        let t = OffsetDateTime::from_unix_timestamp(second).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let year = digits::<4>(u32::try_from(t.year()).unwrap_or(0));
        let month = u8::from(t.month());
        let [m0, m1] = digits::<2>(u32::from(month));
        let [d0, d1] = digits::<2>(u32::from(t.day()));
        let [h0, h1] = digits::<2>(u32::from(t.hour()));
        let [i0, i1] = digits::<2>(u32::from(t.minute()));
        let [s0, s1] = digits::<2>(u32::from(t.second()));
        let [y0, y1, y2, y3] = year;
        self.iso = [
            y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b'T', h0, h1, b':', i0, i1, b':', s0, s1,
        ];
        let [a, b, c] = **MONTHS
            .get(usize::from(month).saturating_sub(1))
            .unwrap_or(&b"Jan");
        self.clf = [
            d0, d1, b'/', a, b, c, b'/', y0, y1, y2, y3, b':', h0, h1, b':', i0, i1, b':', s0, s1,
            b' ', b'+', b'0', b'0', b'0', b'0',
        ];
        self.second = Some(second);
    }

    /// Go's RFC 3339 with nanoseconds, trailing zeros dropped (`2006-01-02T15:04:05.5Z`).
    pub(super) fn rfc3339_nanos(&mut self, t: SystemTime, out: &mut Vec<u8>) {
        let (second, nanos) = since_epoch(t);
        self.at(second);
        out.extend_from_slice(&self.iso);
        if nanos != 0 {
            let fraction = digits::<9>(nanos);
            let len = fraction
                .iter()
                .rposition(|d| *d != b'0')
                .map_or(0, |i| i + 1);
            out.push(b'.');
            out.extend_from_slice(fraction.get(..len).unwrap_or_default());
        }
        out.push(b'Z');
    }

    /// RFC 3339 to the second (`2006-01-02T15:04:05Z`).
    pub(super) fn rfc3339_seconds(&mut self, t: SystemTime, out: &mut Vec<u8>) {
        self.at(since_epoch(t).0);
        out.extend_from_slice(&self.iso);
        out.push(b'Z');
    }

    /// The common log format's `02/Jan/2006:15:04:05 -0700`, in UTC.
    pub(super) fn clf(&mut self, t: SystemTime, out: &mut Vec<u8>) {
        self.at(since_epoch(t).0);
        out.extend_from_slice(&self.clf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn timestamps_match_the_time_crates_rfc3339() {
        let mut clock = Clock::default();
        for (secs, nanos) in [
            (0, 0),
            (1_796_092_482, 0),
            (1_796_092_482, 500_000_000),
            (1_796_092_482, 123_456_789),
            (1_796_092_482, 120),
            (951_782_400, 1), // 2000-02-29
            (253_402_300_799, 999_999_999),
        ] {
            let t = UNIX_EPOCH + Duration::new(secs, nanos);
            let mut out = Vec::new();
            clock.rfc3339_nanos(t, &mut out);
            let expected = OffsetDateTime::from(t).format(&Rfc3339).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
            let mut out = Vec::new();
            clock.rfc3339_seconds(t, &mut out);
            assert_eq!(
                out,
                expected.as_bytes()[..19]
                    .iter()
                    .chain(b"Z")
                    .copied()
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn common_log_time() {
        let mut clock = Clock::default();
        let mut out = Vec::new();
        clock.clf(UNIX_EPOCH + Duration::from_secs(1_796_092_482), &mut out);
        assert_eq!(out, b"01/Dec/2026:02:34:42 +0000");
        out.clear();
        clock.clf(UNIX_EPOCH + Duration::from_secs(253_402_300_800), &mut out);
        assert_eq!(out, b"01/Jan/1970:00:00:00 +0000", "past 9999: the epoch");
    }
}
