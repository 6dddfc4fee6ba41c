//! An [`AccessEntry`] as Traefik writes it: the JSON object of its fields or the common and
//! generic CLF lines, after the configured field and header modes.
//!
//! The writer formats every request, so a line is written straight into one reused buffer: the
//! core fields are a fixed table already in the order Go's JSON logger sorts them, the modes are
//! decided once per configuration, and only logged headers are collected and sorted.

use std::time::SystemTime;

use http::header::HeaderName;
use wharf_model::{AccessLogFields, AccessLogFormat};

use super::clock::Clock;
use super::entry::AccessEntry;
use super::fields::{
    core_values, header_field, write_int, write_text, Core, Value, CORE_FIELDS, CORE_NAMES,
};
use super::json::{write_json, JsonKey};
use super::route_members::RouteMembers;

pub use super::fields::logs_headers;

/// Go's `toLog`: a string field (quoted if asked, `"` escaped), a number as it is, or the
/// default when the field is missing or empty.
fn write_clf_field(
    out: &mut Vec<u8>,
    clock: &mut Clock,
    value: Option<Value<'_>>,
    default: &str,
    quoted: bool,
) {
    match value {
        None | Some(Value::Str("")) => out.extend_from_slice(default.as_bytes()),
        Some(Value::Str(s)) if quoted => {
            out.push(b'"');
            for b in s.bytes() {
                if b == b'"' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        }
        Some(value @ (Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::Token(_))) => {
            write_text(out, clock, value);
        }
        Some(value) if quoted => {
            out.push(b'"');
            write_text(out, clock, value);
            out.push(b'"');
        }
        Some(value) => write_text(out, clock, value),
    }
}

/// The common (`common`) or generic (`genericCLF`) log line.
fn write_clf(out: &mut Vec<u8>, clock: &mut Clock, e: &AccessEntry, line: &LineFormat) {
    use Core::*;
    let values = core_values(e, &line.fields, &line.keep);
    let value = |field: Core| values.get(field as usize).copied().flatten();
    let header = |name: HeaderName| {
        e.request_headers
            .as_ref()
            .and_then(|h| header_field(&line.fields, h, &name))
    };
    write_clf_field(out, clock, value(ClientHost), "-", false);
    out.extend_from_slice(b" - ");
    write_clf_field(out, clock, value(ClientUsername), "-", false);
    out.extend_from_slice(b" [");
    if value(StartUTC).is_some() || value(StartLocal).is_some() {
        clock.clf(e.start, out);
    } else {
        out.push(b'-');
    }
    out.extend_from_slice(b"] \"");
    write_clf_field(out, clock, value(RequestMethod), "-", false);
    out.push(b' ');
    write_clf_field(out, clock, value(RequestPath), "-", false);
    out.push(b' ');
    write_clf_field(out, clock, value(RequestProtocol), "-", false);
    out.extend_from_slice(b"\" ");
    write_clf_field(out, clock, value(DownstreamStatus), "-", true);
    out.push(b' ');
    write_clf_field(out, clock, value(DownstreamContentSize), "-", true);
    for name in [http::header::REFERER, http::header::USER_AGENT] {
        out.push(b' ');
        let text = header(name);
        write_clf_field(out, clock, text.as_deref().map(Value::Str), "\"-\"", true);
    }
    if line.format == AccessLogFormat::Common {
        for (field, default) in [
            (RequestCount, "-"),
            (RouterName, "\"-\""),
            (ServiceURL, "\"-\""),
        ] {
            out.push(b' ');
            write_clf_field(out, clock, value(field), default, true);
        }
        out.push(b' ');
        let millis = if value(Duration).is_some() {
            e.duration.as_millis()
        } else {
            0
        };
        write_int(out, millis);
        out.extend_from_slice(b"ms");
    }
    out.push(b'\n');
}

/// Lines in one configured format and field set, written into one reused buffer.
#[derive(Debug)]
pub struct LineFormat {
    pub(super) format: AccessLogFormat,
    pub(super) fields: AccessLogFields,
    /// Whether each core field is kept (its `names` entry, else `defaultMode`).
    pub(super) keep: [bool; CORE_FIELDS],
    /// Each core field's JSON member start, `,"name":"`.
    pub(super) json_keys: [JsonKey; CORE_FIELDS],
    /// When the line is written (`time`).
    pub(super) now: SystemTime,
    clock: Clock,
    /// The JSON members of the routes logged last.
    routes: RouteMembers,
    buf: Vec<u8>,
}

impl LineFormat {
    pub fn new(format: AccessLogFormat, fields: AccessLogFields) -> LineFormat {
        let keep = CORE_NAMES.map(|name| {
            fields
                .names
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map_or(fields.keep_by_default, |(_, keep)| *keep)
        });
        LineFormat {
            format,
            fields,
            keep,
            json_keys: CORE_NAMES.map(JsonKey::new),
            now: SystemTime::UNIX_EPOCH,
            clock: Clock::default(),
            routes: RouteMembers::default(),
            buf: Vec::with_capacity(1024),
        }
    }

    /// One line, with its newline, written at `now`.
    pub fn line(&mut self, e: &AccessEntry, now: SystemTime) -> &[u8] {
        let mut out = std::mem::take(&mut self.buf);
        let mut clock = std::mem::take(&mut self.clock);
        out.clear();
        self.now = now;
        match self.format {
            AccessLogFormat::Json => {
                let mut routes = std::mem::take(&mut self.routes);
                write_json(&mut out, &mut clock, &mut routes, e, self);
                self.routes = routes;
            }
            AccessLogFormat::Common | AccessLogFormat::GenericClf => {
                write_clf(&mut out, &mut clock, e, self);
            }
        }
        self.clock = clock;
        self.buf = out;
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry::RequestText;
    use super::*;
    use http::HeaderMap;
    use std::sync::Arc;
    use std::time::Duration;
    use wharf_model::HeaderMode;

    fn entry() -> AccessEntry {
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", "ua".parse().unwrap());
        headers.insert("authorization", "Basic x".parse().unwrap());
        headers.insert("x-real-ip", "127.0.0.1".parse().unwrap());
        AccessEntry {
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_092_482),
            duration: Duration::from_millis(3),
            client: Some("127.0.0.1:5000".parse().unwrap()),
            username: None,
            request_count: 7,
            request: RequestText::new(Some(b"app.test"), b"/a?b=c"),
            method: http::Method::GET,
            protocol: "HTTP/1.1",
            tls: None,
            entry_point: Arc::from("web"),
            router: Some(Arc::from("app@file")),
            origin: None,
            status: 503,
            size: 20,
            request_size: 0,
            retry_attempts: 0,
            request_headers: Some(headers),
            downstream_headers: None,
        }
    }

    fn line(e: &AccessEntry, format: AccessLogFormat, fields: &AccessLogFields) -> String {
        let mut f = LineFormat::new(format, fields.clone());
        String::from_utf8(f.line(e, SystemTime::UNIX_EPOCH).to_vec()).unwrap()
    }

    fn json(
        e: &AccessEntry,
        fields: &AccessLogFields,
    ) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(&line(e, AccessLogFormat::Json, fields)).expect("the line is JSON")
    }

    #[test]
    fn json_fields_follow_traefik() {
        let f = json(&entry(), &AccessLogFields::default());
        assert_eq!(f["RequestHost"], "app.test");
        assert_eq!(f["RequestPort"], "-");
        assert_eq!(f["ClientPort"], "5000");
        assert_eq!(f["ClientAddr"], "127.0.0.1:5000");
        assert_eq!(f["ClientHost"], "127.0.0.1");
        assert_eq!(f["StartUTC"], "2026-12-01T02:34:42Z");
        assert_eq!(f["time"], "1970-01-01T00:00:00Z");
        assert_eq!(f["OriginStatus"], 0);
        assert_eq!(f["GzipRatio"], 0);
        assert_eq!(f["RequestPath"], "/a?b=c");
        assert_eq!(f["entryPointName"], "web");
        assert!(!f.contains_key("ServiceName"));
        assert!(
            !f.contains_key("request_User-Agent"),
            "headers are dropped by default"
        );
        let keep = AccessLogFields {
            headers_default: HeaderMode::Keep,
            keep_query: false,
            names: vec![("clientport".into(), false)],
            ..Default::default()
        };
        let f = json(&entry(), &keep);
        assert_eq!(f["request_User-Agent"], "ua");
        assert_eq!(f["request_X-Real-Ip"], "127.0.0.1");
        assert_eq!(
            f["request_Authorization"], "REDACTED",
            "credentials stay out unless named"
        );
        assert_eq!(f["RequestPath"], "/a");
        assert!(!f.contains_key("ClientPort"));
        let no_addr = AccessLogFields {
            names: vec![("ClientAddr".into(), false), ("startlocal".into(), false)],
            ..Default::default()
        };
        let f = json(&entry(), &no_addr);
        assert_eq!(f["ClientHost"], "127.0.0.1");
        assert_eq!(f["ClientPort"], "5000");
        assert_eq!(f["StartUTC"], "2026-12-01T02:34:42Z");
        assert!(!f.contains_key("ClientAddr") && !f.contains_key("StartLocal"));
    }

    #[test]
    fn a_remembered_route_writes_what_a_fresh_writer_writes() {
        let origin = |service: &str, url: &str| crate::access_log::entry::OriginFields {
            service: Arc::from(service),
            url: Arc::from(url),
            addr: Arc::from("10.0.0.1:80"),
            status: 200,
            size: 20,
            duration: Duration::from_millis(1),
            headers: None,
        };
        let a = entry();
        let mut b = entry();
        b.router = Some(Arc::from("b\"q@file"));
        b.origin = Some(origin("svc@file", "http://10.0.0.1:80"));
        let mut c = b.clone();
        c.origin = Some(origin("other@file", "http://10.0.0.1:80"));
        let mut d = b.clone();
        d.router = None;
        let dropped = AccessLogFields {
            names: vec![("ServiceName".into(), false)],
            ..Default::default()
        };
        for fields in [AccessLogFields::default(), dropped] {
            let mut shared = LineFormat::new(AccessLogFormat::Json, fields.clone());
            // Six routes in turn (more than are remembered), then again.
            let (e, f) = (entry(), entry());
            let entries = [&a, &b, &c, &d, &e, &f, &b, &a, &c, &d, &a, &b, &f];
            for e in entries.iter().chain(entries.iter()) {
                let got = shared.line(e, SystemTime::UNIX_EPOCH).to_vec();
                assert_eq!(
                    String::from_utf8(got).unwrap(),
                    line(e, AccessLogFormat::Json, &fields)
                );
            }
        }
    }

    #[test]
    fn the_request_host_with_and_without_a_port() {
        let mut e = entry();
        for (host, addr_host, port) in [
            ("a\"b.test", "a\"b.test", "-"),
            ("a.test:81", "a.test", "81"),
            ("[::1]:82", "::1", "82"),
        ] {
            e.request = RequestText::new(Some(host.as_bytes()), b"/");
            let f = json(&e, &AccessLogFields::default());
            assert_eq!(f["RequestAddr"], host);
            assert_eq!(f["RequestHost"], addr_host);
            assert_eq!(f["RequestPort"], port);
        }
    }

    #[test]
    fn an_ipv6_client_and_a_forwarded_one() {
        let mut e = entry();
        e.client = Some("[::1]:5000".parse().unwrap());
        let f = json(&e, &AccessLogFields::default());
        assert_eq!(f["ClientAddr"], "[::1]:5000");
        assert_eq!(f["ClientHost"], "::1");
        assert_eq!(f["ClientPort"], "5000");
        e.request_headers
            .as_mut()
            .unwrap()
            .insert("x-forwarded-for", "10.1.2.3".parse().unwrap());
        let keep = AccessLogFields {
            headers_default: HeaderMode::Keep,
            ..Default::default()
        };
        assert_eq!(json(&e, &keep)["ClientHost"], "10.1.2.3");
    }

    #[test]
    fn common_line_as_traefik_writes_it() {
        let l = line(
            &entry(),
            AccessLogFormat::Common,
            &AccessLogFields::default(),
        );
        assert_eq!(
            l,
            "127.0.0.1 - - [01/Dec/2026:02:34:42 +0000] \"GET /a?b=c HTTP/1.1\" 503 20 \"-\" \"-\" 7 \"app@file\" \"-\" 3ms\n"
        );
        let g = line(
            &entry(),
            AccessLogFormat::GenericClf,
            &AccessLogFields::default(),
        );
        assert!(g.ends_with("503 20 \"-\" \"-\"\n"), "{g}");
        let mut e = entry();
        e.request_headers
            .as_mut()
            .unwrap()
            .insert("referer", "http://a/\"b\"".parse().unwrap());
        let keep = AccessLogFields {
            headers_default: HeaderMode::Keep,
            names: vec![("startutc".into(), false), ("startlocal".into(), false)],
            ..Default::default()
        };
        let l = line(&e, AccessLogFormat::GenericClf, &keep);
        assert_eq!(
            l,
            "127.0.0.1 - - [-] \"GET /a?b=c HTTP/1.1\" 503 20 \"http://a/\\\"b\\\"\" \"ua\"\n"
        );
    }

    #[test]
    fn the_json_line_is_the_compact_sorted_object_of_its_fields() {
        let mut e = entry();
        e.origin = Some(crate::access_log::entry::OriginFields {
            service: Arc::from("app@file"),
            url: Arc::from("http://10.0.0.1:80"),
            addr: Arc::from("10.0.0.1:80"),
            status: 200,
            size: 30,
            duration: Duration::from_millis(2),
            headers: None,
        });
        e.request_headers
            .as_mut()
            .unwrap()
            .append("user-agent", "second \"quoted\"".parse().unwrap());
        // `_` sorts between upper- and lower-case letters: Go sorts the canonical names.
        e.request_headers
            .as_mut()
            .unwrap()
            .insert("x-_a", "1".parse().unwrap());
        e.request_headers
            .as_mut()
            .unwrap()
            .insert("x-b", "2".parse().unwrap());
        e.tls = Some(("1.3", "TLS_AES_128_GCM_SHA256", Some("CN=client".into())));
        let mut downstream = HeaderMap::new();
        downstream.insert("content-type", "text/plain".parse().unwrap());
        e.downstream_headers = Some(downstream);
        e.request = RequestText::new(Some(b"app.test"), "/a\"b\tc/\u{e9}".as_bytes());
        e.username = Some("user\\x".into());
        let keep = AccessLogFields {
            headers_default: HeaderMode::Keep,
            ..Default::default()
        };
        let l = line(&e, AccessLogFormat::Json, &keep);
        let parsed: serde_json::Value = serde_json::from_str(&l).unwrap();
        // What serde_json writes for a map: keys sorted, no spaces.
        assert_eq!(l, format!("{parsed}\n"));
        assert_eq!(parsed["request_User-Agent"], "ua,second \"quoted\"");
        assert_eq!(parsed["downstream_Content-Type"], "text/plain");
        assert_eq!(parsed["GzipRatio"], 1.5);
        assert_eq!(parsed["ServiceURL"], "http://10.0.0.1:80");
        assert_eq!(parsed["OriginDuration"], 2_000_000);
        assert_eq!(parsed["level"], "info");
        assert_eq!(parsed["msg"], "");
        assert_eq!(parsed["RequestPath"], "/a\"b\tc/\u{e9}");
        assert_eq!(parsed["ClientUsername"], "user\\x");
        assert_eq!(parsed["RequestMethod"], "GET");
        assert_eq!(parsed["TLSClientSubject"], "CN=client");
        assert_eq!(parsed["RequestScheme"], "https");
        assert_eq!(parsed["StartLocal"], parsed["StartUTC"]);
    }
}
