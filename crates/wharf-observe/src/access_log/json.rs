//! Traefik's JSON line: the object of an entry's fields, compact, keys sorted as Go writes a
//! map. Core fields come in their fixed order, logged headers sorted per map.

use std::ops::Range;

use http::header::HeaderName;
use http::HeaderMap;
use wharf_model::AccessLogFields;

use super::clock::Clock;
use super::entry::AccessEntry;
use super::fields::{
    canonical, header_field, visit_core, write_addr, write_float, write_int, write_text, Core,
    Value, UNSEEN,
};
use super::format::LineFormat;
use super::route_members::RouteMembers;

/// Whether JSON escapes a byte of `s` (a control character, `"` or `\\`), read eight bytes at
/// a time: most values have none, and the check runs on each of a line's strings.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether a byte of `w` is below `n` (for `n` <= 0x80): the classic bit trick, exact.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0;
    let equal = |w: u64, b: u8| below(w ^ (ONES * u64::from(b)), 1);
    let word_needs = |word: &[u8]| {
        let w = u64::from_ne_bytes(<[u8; 8]>::try_from(word).unwrap_or_default());
        below(w, 0x20) || equal(w, b'"') || equal(w, b'\\')
    };
    if s.len() < 8 {
        return s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
    }
    // Whole words, then the last eight bytes (overlapping the last whole word) for the rest.
    s.chunks_exact(8).any(word_needs) || s.get(s.len().saturating_sub(8)..).is_some_and(word_needs)
}

/// The room of a [`JsonKey`]: `,"DownstreamContentSize":"`, the longest, takes 26 bytes.
const JSON_KEY_ROOM: usize = 32;

/// A core field's member start, `,"Name":"`, padded to a fixed size: a line writes ~30 of them,
/// and a copy of a constant size is a few moves where one of a slice's length is a call.
#[derive(Debug, Clone, Copy)]
pub(super) struct JsonKey {
    bytes: [u8; JSON_KEY_ROOM],
    len: u8,
}

impl JsonKey {
    /// `name` is one of the core field names, which all fit (checked by a test).
    pub(super) fn new(name: &str) -> JsonKey {
        let text = format!(",\"{name}\":\"");
        let mut bytes = [0; JSON_KEY_ROOM];
        for (to, from) in bytes.iter_mut().zip(text.bytes()) {
            *to = from;
        }
        let len = u8::try_from(text.len().min(JSON_KEY_ROOM)).unwrap_or(0);
        JsonKey { bytes, len }
    }

    /// The member start; a number's leaves the opening quote out.
    fn write(&self, out: &mut Vec<u8>, number: bool) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        out.truncate(start + usize::from(self.len).saturating_sub(usize::from(number)));
    }
}

/// A JSON object being written: keys come in sorted order, each once. Every member starts with
/// a comma; the object's first one becomes its opening brace (a line always has members).
struct JsonObject;

impl JsonObject {
    /// A separator, then `member` (a quoted key and its colon, perhaps more).
    fn member(out: &mut Vec<u8>, member: &str) {
        out.push(b',');
        out.extend_from_slice(member.as_bytes());
    }

    /// `prefix` + the canonical `name`: a header name is a token, which JSON never escapes.
    fn header_key(out: &mut Vec<u8>, prefix: &str, name: &HeaderName) {
        Self::member(out, "\"");
        out.extend_from_slice(prefix.as_bytes());
        out.extend(canonical(name));
        out.extend_from_slice(b"\":");
    }

    /// A string value, its opening quote already written.
    fn str_after_quote(out: &mut Vec<u8>, s: &str) {
        if needs_escape(s.as_bytes()) {
            // Rare: the serializer writes it whole, quotes included.
            out.pop();
            // Writing to a Vec cannot fail.
            serde_json::to_writer(&mut *out, s).unwrap_or_default();
        } else {
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
    }

    fn str(out: &mut Vec<u8>, s: &str) {
        out.push(b'"');
        Self::str_after_quote(out, s);
    }

    /// A value after its key; a string's opening quote is already written.
    fn value_after_key(out: &mut Vec<u8>, clock: &mut Clock, value: Value<'_>) {
        match value {
            Value::Str(s) => Self::str_after_quote(out, s),
            Value::Int(n) => write_int(out, n),
            Value::Float(x) => write_float(out, x),
            Value::Token(_) | Value::Time(_) | Value::Ip(_) | Value::Port(_) | Value::Addr(_) => {
                write_text(out, clock, value);
                out.push(b'"');
            }
        }
    }

    /// The logged headers of `headers`, as `prefix` + canonical name, in Go's key order.
    fn headers(
        out: &mut Vec<u8>,
        fields: &AccessLogFields,
        headers: Option<&HeaderMap>,
        prefix: &str,
        skip: &[&str],
    ) {
        let Some(headers) = headers else { return };
        let mut names: Vec<&HeaderName> = headers
            .keys()
            .filter(|n| !UNSEEN.contains(&n.as_str()) && !skip.contains(&n.as_str()))
            .collect();
        names.sort_unstable_by(|a, b| canonical(a).cmp(canonical(b)));
        for name in names {
            if let Some(value) = header_field(fields, headers, name) {
                Self::header_key(out, prefix, name);
                Self::str(out, &value);
            }
        }
    }
}

/// The JSON object of the fields, compact, with sorted keys (as Go's logger writes a map).
pub(super) fn write_json(
    out: &mut Vec<u8>,
    clock: &mut Clock,
    routes: &mut RouteMembers,
    e: &AccessEntry,
    line: &LineFormat,
) {
    let line_start = out.len();
    // The route's members as written for an earlier line, or where they go in this one.
    let remembered = routes.find(e);
    let mut remembered_written = false;
    let mut route_span: Option<Range<usize>> = None;
    // Values written once and copied where they recur: StartLocal is StartUTC, ClientHost and
    // ClientPort are parts of ClientAddr.
    let mut start = None;
    let mut client: Option<(Range<usize>, Range<usize>)> = None;
    // RequestHost is RequestAddr itself when the Host has no port.
    let mut addr: Option<(&str, Range<usize>)> = None;
    visit_core(e, &line.fields, |field, value| {
        let index = field as usize;
        let keep = (line.keep.get(index), line.json_keys.get(index));
        let route_member = matches!(
            field,
            Core::RouterName | Core::ServiceAddr | Core::ServiceName | Core::ServiceURL
        );
        if let (true, Value::Str(s)) = (route_member, value) {
            if let Some(text) = remembered {
                if !std::mem::replace(&mut remembered_written, true) {
                    out.extend_from_slice(text);
                }
                return;
            }
            let from = out.len();
            if let (Some(true), Some(key)) = keep {
                key.write(out, false);
                JsonObject::str_after_quote(out, s);
            }
            route_span = Some(route_span.as_ref().map_or(from, |r| r.start)..out.len());
            return;
        }
        let (Some(true), Some(key)) = keep else {
            return;
        };
        // The key ends with the opening quote of a string: numbers go without it.
        key.write(out, matches!(value, Value::Int(_) | Value::Float(_)));
        let copy = match (value, &client) {
            (Value::Ip(_), Some((host, _))) => Some(host.clone()),
            (Value::Port(_), Some((_, port))) => Some(port.clone()),
            (Value::Time(_), _) => start.clone(),
            (Value::Str(s), _) => match &addr {
                Some((written, at)) if std::ptr::eq(*written, s) => Some(at.clone()),
                _ => None,
            },
            _ => None,
        };
        if let Some(copy) = copy {
            out.extend_from_within(copy);
            out.push(b'"');
            return;
        }
        match value {
            Value::Time(t) => {
                let from = out.len();
                clock.rfc3339_nanos(*t, out);
                start = Some(from..out.len());
                out.push(b'"');
            }
            Value::Addr(a) => {
                client = Some(write_addr(out, a));
                out.push(b'"');
            }
            Value::Str(s) if matches!(field, Core::RequestAddr) => {
                let from = out.len();
                JsonObject::str_after_quote(out, s);
                // What is between the quotes (escaped, if it had to be).
                addr = Some((s, from..out.len().saturating_sub(1)));
            }
            _ => JsonObject::value_after_key(out, clock, value),
        }
    });
    if remembered.is_none() {
        let text = route_span
            .and_then(|span| out.get(span))
            .unwrap_or_default();
        routes.keep(e, text);
    }
    // Go writes Date and Content-Length of its own answers as it sends them, not in the map
    // the log reads; a server's answer carries them in.
    let own_answer: &[&str] = if e.origin.as_ref().is_some_and(|o| o.status != 0) {
        &[]
    } else {
        &["date", "content-length"]
    };
    let fields = &line.fields;
    JsonObject::headers(
        out,
        fields,
        e.downstream_headers.as_ref(),
        "downstream_",
        own_answer,
    );
    let entry_point = Core::EntryPointName as usize;
    if let (Some(true), Some(key)) = (line.keep.get(entry_point), line.json_keys.get(entry_point)) {
        key.write(out, false);
        JsonObject::str_after_quote(out, &e.entry_point);
    }
    JsonObject::member(out, "\"level\":\"info\",\"msg\":\"\"");
    let origin_headers = e.origin.as_ref().and_then(|o| o.headers.as_ref());
    JsonObject::headers(out, fields, origin_headers, "origin_", &[]);
    JsonObject::headers(out, fields, e.request_headers.as_ref(), "request_", &[]);
    JsonObject::member(out, "\"time\":\"");
    clock.rfc3339_seconds(line.now, out);
    out.extend_from_slice(b"\"}\n");
    // The first member's comma opens the object.
    if let Some(first) = out.get_mut(line_start) {
        *first = b'{';
    }
}

#[cfg(test)]
mod tests {
    use super::super::fields::CORE_NAMES;
    use super::{needs_escape, JsonKey, JSON_KEY_ROOM};

    #[test]
    fn every_core_field_key_fits() {
        for name in CORE_NAMES {
            let key = JsonKey::new(name);
            let text = format!(",\"{name}\":\"");
            assert!(text.len() <= JSON_KEY_ROOM, "{name}");
            assert_eq!(key.bytes.get(..usize::from(key.len)), Some(text.as_bytes()));
        }
    }

    #[test]
    fn the_escape_check_agrees_with_a_byte_by_byte_one() {
        let naive = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            "caf\u{e9} \u{1f600} \u{7f}".as_bytes().to_vec(),
            vec![0xff; 17],
        ];
        for len in [1, 7, 8, 9, 15, 16, 17, 31] {
            for at in 0..len {
                for special in [0u8, b'\t', 0x1f, b'"', b'\\', b' ', 0x80, 0xa0, b'!', b']'] {
                    let mut s = vec![b'a'; len];
                    s[at] = special;
                    cases.push(s);
                }
            }
        }
        for s in cases {
            assert_eq!(needs_escape(&s), naive(&s), "{s:?}");
        }
    }
}
