//! Traefik's access log fields: which exist ([`Core`], in the order Go's JSON logger sorts
//! them), the value of each for one [`AccessEntry`], the header modes, and how a value is
//! written.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::time::{Duration, SystemTime};

use http::header::HeaderName;
use http::HeaderMap;
use wharf_model::{AccessLogFields, HeaderMode};

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
    // One pass over a short string: split at the one colon, if there is exactly one.
    let mut colons = s.bytes().enumerate().filter(|(_, b)| *b == b':');
    match (colons.next(), colons.next()) {
        (Some((at, _)), None) => (
            s.get(..at).unwrap_or_default(),
            s.get(at + 1..).unwrap_or_default(),
        ),
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
pub(super) const UNSEEN: [&str; 9] = [
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
pub(super) fn header_field<'h>(
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
pub(super) fn canonical(name: &HeaderName) -> impl Iterator<Item = u8> + '_ {
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
pub(super) enum Core {
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

pub(super) const CORE_FIELDS: usize = 32;

/// The names of [`Core`]'s fields, by discriminant.
pub(super) const CORE_NAMES: [&str; CORE_FIELDS] = [
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
pub(super) enum Value<'a> {
    Str(&'a str),
    /// A string JSON never escapes (an HTTP token, a constant): written without a check.
    Token(&'a str),
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
pub(super) fn visit_core<'a>(
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
        e.username.as_deref().map_or(Value::Token("-"), Value::Str),
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
    let host = e.request.host().map(|host| (host, split_host_port(host)));
    if let Some((addr, _)) = host {
        emit(RequestAddr, Value::Str(addr));
    }
    emit(RequestContentSize, Value::Int(e.request_size));
    emit(RequestCount, Value::Int(e.request_count));
    if let Some((_, (h, _))) = host {
        emit(RequestHost, Value::Str(h));
    }
    emit(RequestMethod, Value::Token(e.method.as_str()));
    let path = if fields.keep_query {
        e.request.target()
    } else {
        e.request.target().split('?').next().unwrap_or_default()
    };
    emit(RequestPath, Value::Str(path));
    if let Some((_, (_, p))) = host {
        emit(RequestPort, Value::Str(p));
    }
    emit(RequestProtocol, Value::Token(e.protocol));
    emit(
        RequestScheme,
        Value::Token(if e.tls.is_some() { "https" } else { "http" }),
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
pub(super) type CoreValues<'a> = [Option<Value<'a>>; CORE_FIELDS];

pub(super) fn core_values<'a>(
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

pub(super) fn write_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

pub(super) fn write_float(out: &mut Vec<u8>, x: f64) {
    // Writing to a Vec cannot fail.
    serde_json::to_writer(&mut *out, &x).unwrap_or_default();
}

pub(super) fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    out.extend_from_slice(wharf_model::IpText::new(ip).as_str().as_bytes());
}

/// A value that Go writes as a string, other than a string itself, unquoted.
pub(super) fn write_text(out: &mut Vec<u8>, clock: &mut Clock, value: Value<'_>) {
    match value {
        Value::Str(s) | Value::Token(s) => out.extend_from_slice(s.as_bytes()),
        Value::Int(n) => write_int(out, n),
        Value::Float(x) => write_float(out, x),
        Value::Time(t) => clock.rfc3339_nanos(*t, out),
        Value::Ip(addr) => write_ip(out, addr.ip()),
        Value::Port(port) => write_int(out, port),
        Value::Addr(addr) => {
            write_addr(out, addr);
        }
    }
}

/// `host:port` (`[host]:port` for IPv6); where the host and the port were written.
pub(super) fn write_addr(out: &mut Vec<u8>, addr: &SocketAddr) -> (Range<usize>, Range<usize>) {
    if addr.is_ipv6() {
        out.push(b'[');
    }
    let host = out.len();
    write_ip(out, addr.ip());
    let host = host..out.len();
    if addr.is_ipv6() {
        out.push(b']');
    }
    out.push(b':');
    let port = out.len();
    write_int(out, addr.port());
    (host, port..out.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_names_are_in_gos_key_order() {
        let upper = CORE_NAMES.get(..CORE_FIELDS - 1).unwrap();
        assert!(upper.windows(2).all(|w| w[0] < w[1]), "sorted");
        assert!(upper.iter().all(|n| *n < "downstream_"));
        assert_eq!(CORE_NAMES[Core::EntryPointName as usize], "entryPointName");
        assert_eq!(CORE_NAMES[Core::TLSVersion as usize], "TLSVersion");
    }
}
