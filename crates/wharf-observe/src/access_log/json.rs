//! Traefik's JSON line: the object of an entry's fields, compact, keys sorted as Go writes a
//! map. Core fields come in their fixed order, logged headers sorted per map.

use std::ops::Range;

use http::header::HeaderName;
use http::HeaderMap;
use wharf_model::AccessLogFields;

use super::clock::Clock;
use super::entry::AccessEntry;
use super::fields::{
    canonical, header_field, visit_core, write_addr, write_text, Core, Value, UNSEEN,
};
use super::format::LineFormat;

/// A JSON object being written: keys come in sorted order, each once.
struct JsonObject {
    empty: bool,
}

impl JsonObject {
    /// A separator when needed, then `member` (a quoted key and its colon, perhaps more).
    fn member(&mut self, out: &mut Vec<u8>, member: &str) {
        if !self.empty {
            out.push(b',');
        }
        self.empty = false;
        out.extend_from_slice(member.as_bytes());
    }

    /// `prefix` + the canonical `name`: a header name is a token, which JSON never escapes.
    fn header_key(&mut self, out: &mut Vec<u8>, prefix: &str, name: &HeaderName) {
        self.member(out, "\"");
        out.extend_from_slice(prefix.as_bytes());
        out.extend(canonical(name));
        out.extend_from_slice(b"\":");
    }

    fn str(out: &mut Vec<u8>, s: &str) {
        // Most values need no escape: copied at once rather than through the serializer. The
        // check reads every byte without an early exit, which the compiler vectorizes.
        let escapes = s.bytes().fold(false, |any, b| {
            any | (b < 0x20) | (b == b'"') | (b == b'\\')
        });
        if !escapes {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        } else {
            // Writing to a Vec cannot fail.
            serde_json::to_writer(&mut *out, s).unwrap_or_default();
        }
    }

    fn value(out: &mut Vec<u8>, clock: &mut Clock, value: Value<'_>) {
        match value {
            Value::Str(s) => Self::str(out, s),
            Value::Int(_) | Value::Float(_) => write_text(out, clock, value),
            Value::Time(_) | Value::Ip(_) | Value::Port(_) | Value::Addr(_) => {
                out.push(b'"');
                write_text(out, clock, value);
                out.push(b'"');
            }
        }
    }

    /// The logged headers of `headers`, as `prefix` + canonical name, in Go's key order.
    fn headers(
        &mut self,
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
                self.header_key(out, prefix, name);
                Self::str(out, &value);
            }
        }
    }
}

/// The JSON object of the fields, compact, with sorted keys (as Go's logger writes a map).
pub(super) fn write_json(out: &mut Vec<u8>, clock: &mut Clock, e: &AccessEntry, line: &LineFormat) {
    let mut json = JsonObject { empty: true };
    out.push(b'{');
    // Values written once and copied where they recur: StartLocal is StartUTC, ClientHost and
    // ClientPort are parts of ClientAddr.
    let mut start = None;
    let mut client: Option<(Range<usize>, Range<usize>)> = None;
    visit_core(e, &line.fields, |field, value| {
        let index = field as usize;
        let (Some(true), Some(key)) = (line.keep.get(index), line.json_keys.get(index)) else {
            return;
        };
        json.member(out, key);
        let copy = match (value, &client) {
            (Value::Ip(_), Some((host, _))) => Some(host.clone()),
            (Value::Port(_), Some((_, port))) => Some(port.clone()),
            (Value::Time(_), _) => start.clone(),
            _ => None,
        };
        if let Some(copy) = copy {
            out.push(b'"');
            out.extend_from_within(copy);
            out.push(b'"');
            return;
        }
        match value {
            Value::Time(t) => {
                out.push(b'"');
                let from = out.len();
                clock.rfc3339_nanos(*t, out);
                start = Some(from..out.len());
                out.push(b'"');
            }
            Value::Addr(addr) => {
                out.push(b'"');
                client = Some(write_addr(out, addr));
                out.push(b'"');
            }
            _ => JsonObject::value(out, clock, value),
        }
    });
    // Go writes Date and Content-Length of its own answers as it sends them, not in the map
    // the log reads; a server's answer carries them in.
    let own_answer: &[&str] = if e.origin.as_ref().is_some_and(|o| o.status != 0) {
        &[]
    } else {
        &["date", "content-length"]
    };
    let fields = &line.fields;
    json.headers(
        out,
        fields,
        e.downstream_headers.as_ref(),
        "downstream_",
        own_answer,
    );
    let entry_point = Core::EntryPointName as usize;
    if let (Some(true), Some(key)) = (line.keep.get(entry_point), line.json_keys.get(entry_point)) {
        json.member(out, key);
        JsonObject::str(out, &e.entry_point);
    }
    json.member(out, "\"level\":\"info\",\"msg\":\"\"");
    let origin_headers = e.origin.as_ref().and_then(|o| o.headers.as_ref());
    json.headers(out, fields, origin_headers, "origin_", &[]);
    json.headers(out, fields, e.request_headers.as_ref(), "request_", &[]);
    json.member(out, "\"time\":\"");
    clock.rfc3339_seconds(line.now, out);
    out.extend_from_slice(b"\"}\n");
}
