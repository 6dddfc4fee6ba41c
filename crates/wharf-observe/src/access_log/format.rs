//! An [`AccessEntry`] as Traefik writes it: the JSON object of its fields or the common and
//! generic CLF lines, after the configured field and header modes.
//!
//! The writer formats every request, so a line is written straight into one reused buffer: the
//! core fields are a fixed table already in the order Go's JSON logger sorts them, the modes are
//! decided once per configuration, and only logged headers are collected and sorted.

use std::borrow::Cow;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use http::header::HeaderName;
use http::HeaderMap;
use wharf_model::{AccessLogFields, AccessLogFormat, HeaderMode};

use super::clock::Clock;
use super::entry::AccessEntry;

/// Headers whose values are credentials: with headers kept by default they are still redacted
/// unless named explicitly (Traefik would write them in clear).
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Go's `net.SplitHostPort`, with `-` as the port when there is none.
fn split_host_port(s: &str) -> (&str, &str) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            if let Some(port) = after.strip_prefix(':') {
                return (host, port);
            }
        }
        return (s, "-");
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port),
        _ => (s, "-"),
    }
}

fn header_mode(fields: &AccessLogFields, name: &str) -> HeaderMode {
    if let Some((_, mode)) = fields.headers.iter().find(|(n, _)| n == name) {
        return *mode;
    }
    match fields.headers_default {
        HeaderMode::Keep if SECRET_HEADERS.contains(&name) => HeaderMode::Redact,
        mode => mode,
    }
}

/// Headers that never reach Go's header maps: hop-by-hop ones (removed by its proxy), the
/// request's Host (a field of its own in Go).
const UNSEEN: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// A header as the log writes it: its values joined by commas, `REDACTED`, or nothing.
fn header_field<'h>(
    fields: &AccessLogFields,
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Option<Cow<'h, str>> {
    match header_mode(fields, name.as_str()) {
        HeaderMode::Keep => {
            let mut values = headers.get_all(name).iter();
            let mut joined = String::from_utf8_lossy(values.next()?.as_bytes());
            for v in values {
                let all = joined.to_mut();
                all.push(',');
                all.push_str(&String::from_utf8_lossy(v.as_bytes()));
            }
            Some(joined)
        }
        HeaderMode::Redact => Some(Cow::Borrowed("REDACTED")),
        HeaderMode::Drop => None,
    }
}

/// Go's canonical form of a header name (`x-real-ip` -> `X-Real-Ip`), byte by byte.
fn canonical(name: &HeaderName) -> impl Iterator<Item = u8> + '_ {
    let mut upper = true;
    name.as_str().bytes().map(move |b| {
        let out = if upper { b.to_ascii_uppercase() } else { b };
        upper = b == b'-';
        out
    })
}

/// Whether any header can reach the log (else the request path need not copy them).
pub fn logs_headers(fields: &AccessLogFields) -> bool {
    fields.headers_default != HeaderMode::Drop
        || fields.headers.iter().any(|(_, m)| *m != HeaderMode::Drop)
}

/// Traefik's fields other than headers and `level` / `msg` / `time`. The upper-case names
/// come first in Go's byte order, before every lower-case one; `EntryPointName` is last.
#[derive(Clone, Copy)]
enum Core {
    ClientAddr,
    ClientHost,
    ClientPort,
    ClientUsername,
    DownstreamContentSize,
    DownstreamStatus,
    Duration,
    GzipRatio,
    OriginContentSize,
    OriginDuration,
    OriginStatus,
    Overhead,
    RequestAddr,
    RequestContentSize,
    RequestCount,
    RequestHost,
    RequestMethod,
    RequestPath,
    RequestPort,
    RequestProtocol,
    RequestScheme,
    RetryAttempts,
    RouterName,
    ServiceAddr,
    ServiceName,
    ServiceURL,
    StartLocal,
    StartUTC,
    TLSCipher,
    TLSClientSubject,
    TLSVersion,
    EntryPointName,
}

const CORE_FIELDS: usize = 32;

/// The names of [`Core`]'s fields, by discriminant.
const CORE_NAMES: [&str; CORE_FIELDS] = [
    "ClientAddr",
    "ClientHost",
    "ClientPort",
    "ClientUsername",
    "DownstreamContentSize",
    "DownstreamStatus",
    "Duration",
    "GzipRatio",
    "OriginContentSize",
    "OriginDuration",
    "OriginStatus",
    "Overhead",
    "RequestAddr",
    "RequestContentSize",
    "RequestCount",
    "RequestHost",
    "RequestMethod",
    "RequestPath",
    "RequestPort",
    "RequestProtocol",
    "RequestScheme",
    "RetryAttempts",
    "RouterName",
    "ServiceAddr",
    "ServiceName",
    "ServiceURL",
    "StartLocal",
    "StartUTC",
    "TLSCipher",
    "TLSClientSubject",
    "TLSVersion",
    "entryPointName",
];

/// A field's value as Go's logger writes it: a string, an integer or a float. Times and
/// addresses are strings, kept unformatted until they are written.
#[derive(Clone, Copy)]
enum Value<'a> {
    Str(&'a str),
    Int(u64),
    Float(f64),
    /// RFC 3339 with nanoseconds.
    Time(&'a SystemTime),
    /// The client's address (`ClientHost`).
    Ip(&'a SocketAddr),
    Port(u16),
    Addr(&'a SocketAddr),
}

fn nanos(d: Duration) -> Value<'static> {
    Value::Int(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The core fields of `e` (but `entryPointName`), in Go's key order, each to `emit`.
fn visit_core<'a>(
    e: &'a AccessEntry,
    fields: &AccessLogFields,
    mut emit: impl FnMut(Core, Value<'a>),
) {
    use Core::*;
    // A client's X-Forwarded-For (when headers are logged) is its ClientHost, as in Traefik.
    let forwarded_for = e
        .request_headers
        .as_ref()
        .and_then(|h| h.get("x-forwarded-for"))
        .and_then(|v| v.to_str().ok());
    if let Some(client) = &e.client {
        emit(ClientAddr, Value::Addr(client));
        if forwarded_for.is_none() {
            emit(ClientHost, Value::Ip(client));
        }
    }
    if let Some(xff) = forwarded_for {
        emit(ClientHost, Value::Str(xff));
    }
    if let Some(client) = &e.client {
        emit(ClientPort, Value::Port(client.port()));
    }
    emit(
        ClientUsername,
        Value::Str(e.username.as_deref().unwrap_or("-")),
    );
    emit(DownstreamContentSize, Value::Int(e.size));
    emit(DownstreamStatus, Value::Int(u64::from(e.status)));
    emit(Duration, nanos(e.duration));
    let (origin_status, origin_size, origin_duration) = e
        .origin
        .as_ref()
        .map_or((0, 0, std::time::Duration::ZERO), |o| {
            (o.status, o.size, o.duration)
        });
    if e.size != origin_size && e.size != 0 {
        // Go writes an integral float without a fraction (`0`, not `0.0`).
        let ratio = origin_size as f64 / e.size as f64;
        let value = if ratio.fract() == 0.0 && ratio < 1e15 {
            Value::Int(ratio as u64)
        } else {
            Value::Float(ratio)
        };
        emit(GzipRatio, value);
    }
    emit(OriginContentSize, Value::Int(origin_size));
    emit(OriginDuration, nanos(origin_duration));
    emit(OriginStatus, Value::Int(u64::from(origin_status)));
    emit(Overhead, nanos(e.duration.saturating_sub(origin_duration)));
    let host = e.host.as_deref().map(|host| (host, split_host_port(host)));
    if let Some((addr, _)) = host {
        emit(RequestAddr, Value::Str(addr));
    }
    emit(RequestContentSize, Value::Int(e.request_size));
    emit(RequestCount, Value::Int(e.request_count));
    if let Some((_, (h, _))) = host {
        emit(RequestHost, Value::Str(h));
    }
    emit(RequestMethod, Value::Str(e.method.as_str()));
    let path = if fields.keep_query {
        e.target.as_str()
    } else {
        e.target.split('?').next().unwrap_or_default()
    };
    emit(RequestPath, Value::Str(path));
    if let Some((_, (_, p))) = host {
        emit(RequestPort, Value::Str(p));
    }
    emit(RequestProtocol, Value::Str(e.protocol));
    emit(
        RequestScheme,
        Value::Str(if e.tls.is_some() { "https" } else { "http" }),
    );
    emit(RetryAttempts, Value::Int(u64::from(e.retry_attempts)));
    if let Some(router) = &e.router {
        emit(RouterName, Value::Str(router));
    }
    if let Some(o) = &e.origin {
        emit(ServiceAddr, Value::Str(&o.addr));
        emit(ServiceName, Value::Str(&o.service));
        emit(ServiceURL, Value::Str(&o.url));
    }
    emit(StartLocal, Value::Time(&e.start));
    emit(StartUTC, Value::Time(&e.start));
    if let Some((version, cipher, subject)) = &e.tls {
        emit(TLSCipher, Value::Str(cipher));
        if let Some(subject) = subject {
            emit(TLSClientSubject, Value::Str(subject));
        }
        emit(TLSVersion, Value::Str(version));
    }
}

/// The core fields of `e` that `keep` keeps, by [`Core`] discriminant.
type CoreValues<'a> = [Option<Value<'a>>; CORE_FIELDS];

fn core_values<'a>(
    e: &'a AccessEntry,
    fields: &AccessLogFields,
    keep: &[bool; CORE_FIELDS],
) -> CoreValues<'a> {
    let mut values: CoreValues<'a> = [None; CORE_FIELDS];
    visit_core(e, fields, |field, value| {
        let index = field as usize;
        if let (Some(slot), Some(true)) = (values.get_mut(index), keep.get(index)) {
            *slot = Some(value);
        }
    });
    let entry_point = Core::EntryPointName as usize;
    if let (Some(slot), Some(true)) = (values.get_mut(entry_point), keep.get(entry_point)) {
        *slot = Some(Value::Str(&e.entry_point));
    }
    values
}

fn write_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn write_float(out: &mut Vec<u8>, x: f64) {
    // Writing to a Vec cannot fail.
    serde_json::to_writer(&mut *out, &x).unwrap_or_default();
}

fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                write_int(out, octet);
            }
        }
        IpAddr::V6(v6) => write!(out, "{v6}").unwrap_or_default(),
    }
}

/// A value that Go writes as a string, other than a string itself, unquoted.
fn write_text(out: &mut Vec<u8>, clock: &mut Clock, value: Value<'_>) {
    match value {
        Value::Str(s) => out.extend_from_slice(s.as_bytes()),
        Value::Int(n) => write_int(out, n),
        Value::Float(x) => write_float(out, x),
        Value::Time(t) => clock.rfc3339_nanos(*t, out),
        Value::Ip(addr) => write_ip(out, addr.ip()),
        Value::Port(port) => write_int(out, port),
        Value::Addr(addr) => {
            if addr.is_ipv6() {
                out.push(b'[');
                write_ip(out, addr.ip());
                out.push(b']');
            } else {
                write_ip(out, addr.ip());
            }
            out.push(b':');
            write_int(out, addr.port());
        }
    }
}

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
fn write_json(out: &mut Vec<u8>, clock: &mut Clock, e: &AccessEntry, line: &LineFormat) {
    let mut json = JsonObject { empty: true };
    out.push(b'{');
    // StartLocal and StartUTC are the same instant: formatted once.
    let mut last_time: Option<(&SystemTime, std::ops::Range<usize>)> = None;
    visit_core(e, &line.fields, |field, value| {
        let index = field as usize;
        let (Some(true), Some(key)) = (line.keep.get(index), line.json_keys.get(index)) else {
            return;
        };
        json.member(out, key);
        match (value, &last_time) {
            (Value::Time(t), Some((last, written))) if *last == t => {
                out.extend_from_within(written.clone());
            }
            (Value::Time(t), _) => {
                let from = out.len();
                JsonObject::value(out, clock, value);
                last_time = Some((t, from..out.len()));
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
        Some(value @ (Value::Int(_) | Value::Float(_) | Value::Str(_))) => {
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
    let mut field = |out: &mut Vec<u8>, value: Option<Value<'_>>, default: &str, quoted: bool| {
        write_clf_field(out, clock, value, default, quoted);
    };
    field(out, value(ClientHost), "-", false);
    out.extend_from_slice(b" - ");
    field(out, value(ClientUsername), "-", false);
    out.extend_from_slice(b" [");
    if value(StartUTC).is_some() || value(StartLocal).is_some() {
        clock.clf(e.start, out);
    } else {
        out.push(b'-');
    }
    out.extend_from_slice(b"] \"");
    let mut field = |out: &mut Vec<u8>, value: Option<Value<'_>>, default: &str, quoted: bool| {
        write_clf_field(out, clock, value, default, quoted);
    };
    field(out, value(RequestMethod), "-", false);
    out.push(b' ');
    field(out, value(RequestPath), "-", false);
    out.push(b' ');
    field(out, value(RequestProtocol), "-", false);
    out.extend_from_slice(b"\" ");
    field(out, value(DownstreamStatus), "-", true);
    out.push(b' ');
    field(out, value(DownstreamContentSize), "-", true);
    out.push(b' ');
    let referer = header(http::header::REFERER);
    field(out, referer.as_deref().map(Value::Str), "\"-\"", true);
    out.push(b' ');
    let user_agent = header(http::header::USER_AGENT);
    field(out, user_agent.as_deref().map(Value::Str), "\"-\"", true);
    if line.format == AccessLogFormat::Common {
        out.push(b' ');
        field(out, value(RequestCount), "-", true);
        out.push(b' ');
        field(out, value(RouterName), "\"-\"", true);
        out.push(b' ');
        field(out, value(ServiceURL), "\"-\"", true);
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
    format: AccessLogFormat,
    fields: AccessLogFields,
    /// Whether each core field is kept (its `names` entry, else `defaultMode`).
    keep: [bool; CORE_FIELDS],
    /// Each core field's `"name":`.
    json_keys: [String; CORE_FIELDS],
    /// When the line is written (`time`).
    now: SystemTime,
    clock: Clock,
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
            json_keys: CORE_NAMES.map(|name| format!("\"{name}\":")),
            now: SystemTime::UNIX_EPOCH,
            clock: Clock::default(),
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
            AccessLogFormat::Json => write_json(&mut out, &mut clock, e, self),
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
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

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
            host: Some("app.test".into()),
            method: http::Method::GET,
            target: "/a?b=c".into(),
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
    fn core_names_are_in_gos_key_order() {
        let upper = CORE_NAMES.get(..CORE_FIELDS - 1).unwrap();
        assert!(upper.windows(2).all(|w| w[0] < w[1]), "sorted");
        assert!(upper.iter().all(|n| *n < "downstream_"));
        assert_eq!(CORE_NAMES[Core::EntryPointName as usize], "entryPointName");
        assert_eq!(CORE_NAMES[Core::TLSVersion as usize], "TLSVersion");
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
    }

    #[test]
    fn an_ipv6_client_and_a_forwarded_one() {
        let mut e = entry();
        e.client = Some("[::1]:5000".parse().unwrap());
        let f = json(&e, &AccessLogFields::default());
        assert_eq!(f["ClientAddr"], "[::1]:5000");
        assert_eq!(f["ClientHost"], "::1");
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
        assert_eq!(parsed["TLSClientSubject"], "CN=client");
        assert_eq!(parsed["RequestScheme"], "https");
        assert_eq!(parsed["StartLocal"], parsed["StartUTC"]);
    }
}
