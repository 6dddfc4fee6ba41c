//! What the `go_duration` fuzz target checks, kept here so ordinary tests replay its corpus.

use crate::parse_go_duration;

/// Any text as a Go duration: an error or a value within Go's range, never a panic; a value
/// read back from its nanoseconds is the same value.
pub fn go_duration(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_go_duration(text) {
        let nanos = d.as_nanos();
        assert!(nanos <= i64::MAX as u128, "{text:?} gave {nanos} ns");
        assert_eq!(parse_go_duration(&format!("{nanos}ns")), Ok(d));
    }
}
