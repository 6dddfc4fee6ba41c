//! An [`AccessEntry`] as Traefik writes it: the field set (JSON) or the common and generic CLF
//! lines, after the configured field and header modes.

use std::time::SystemTime;

use http::HeaderMap;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use wharf_model::{AccessLogFields, AccessLogFormat, HeaderMode};

use super::entry::AccessEntry;

/// Headers whose values are credentials: with headers kept by default they are still redacted
/// unless named explicitly (Traefik would write them in clear).
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

/// Go's `net.SplitHostPort`, with `-` as the port when there is none.
fn split_host_port(s: &str) -> (String, String) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            if let Some(port) = after.strip_prefix(':') {
                return (host.to_string(), port.to_string());
            }
        }
        return (s.to_string(), "-".to_string());
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host.to_string(), port.to_string()),
        _ => (s.to_string(), "-".to_string()),
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

fn add_headers(
    out: &mut Map<String, Value>,
    fields: &AccessLogFields,
    headers: Option<&HeaderMap>,
    prefix: &str,
    skip: &[&str],
) {
    let Some(headers) = headers else { return };
    for name in headers
        .keys()
        .filter(|n| !UNSEEN.contains(&n.as_str()) && !skip.contains(&n.as_str()))
    {
        let key = format!("{prefix}{}", wharf_model::canonical_header(name.as_str()));
        match header_mode(fields, name.as_str()) {
            HeaderMode::Keep => {
                let values: Vec<String> = headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect();
                out.insert(key, Value::from(values.join(",")));
            }
            HeaderMode::Redact => {
                out.insert(key, Value::from("REDACTED"));
            }
            HeaderMode::Drop => {}
        }
    }
}

/// Whether any header can reach the log (else the request path need not copy them).
pub fn logs_headers(fields: &AccessLogFields) -> bool {
    fields.headers_default != HeaderMode::Drop
        || fields.headers.iter().any(|(_, m)| *m != HeaderMode::Drop)
}

/// Traefik's field set for `e`, with `fields` applied.
pub fn fields(e: &AccessEntry, fields: &AccessLogFields, now: SystemTime) -> Map<String, Value> {
    let mut core = Map::new();
    let mut put = |k: &str, v: Value| {
        core.insert(k.to_string(), v);
    };
    let nanos =
        |d: std::time::Duration| Value::from(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let start = rfc3339(e.start);
    put("StartUTC", Value::from(start.clone()));
    put("StartLocal", Value::from(start));
    put("RequestCount", Value::from(e.request_count));
    if let Some(host) = &e.host {
        let (h, p) = split_host_port(host);
        put("RequestAddr", Value::from(host.clone()));
        put("RequestHost", Value::from(h));
        put("RequestPort", Value::from(p));
    }
    let path = if fields.keep_query {
        e.target.clone()
    } else {
        e.target.split('?').next().unwrap_or_default().to_string()
    };
    put("RequestMethod", Value::from(e.method.clone()));
    put("RequestPath", Value::from(path));
    put("RequestProtocol", Value::from(e.protocol));
    put(
        "RequestScheme",
        Value::from(if e.tls.is_some() { "https" } else { "http" }),
    );
    if let Some((version, cipher, subject)) = &e.tls {
        put("TLSVersion", Value::from(*version));
        put("TLSCipher", Value::from(*cipher));
        if let Some(subject) = subject {
            put("TLSClientSubject", Value::from(subject.clone()));
        }
    }
    if let Some(client) = e.client {
        let (h, p) = split_host_port(&client.to_string());
        put("ClientAddr", Value::from(client.to_string()));
        put("ClientHost", Value::from(h));
        put("ClientPort", Value::from(p));
    }
    if let Some(xff) = e
        .request_headers
        .as_ref()
        .and_then(|h| h.get("x-forwarded-for"))
        .and_then(|v| v.to_str().ok())
    {
        put("ClientHost", Value::from(xff));
    }
    put(
        "ClientUsername",
        Value::from(e.username.clone().unwrap_or_else(|| "-".into())),
    );
    put("entryPointName", Value::from(&*e.entry_point));
    if let Some(router) = &e.router {
        put("RouterName", Value::from(&**router));
    }
    let (origin_status, origin_size, origin_duration) = match &e.origin {
        Some(o) => {
            put("ServiceName", Value::from(&*o.service));
            put("ServiceURL", Value::from(&*o.url));
            put("ServiceAddr", Value::from(&*o.addr));
            (o.status, o.size, o.duration)
        }
        None => (0, 0, std::time::Duration::ZERO),
    };
    put("OriginStatus", Value::from(origin_status));
    put("OriginContentSize", Value::from(origin_size));
    put("OriginDuration", nanos(origin_duration));
    put("RetryAttempts", Value::from(e.retry_attempts));
    put("RequestContentSize", Value::from(e.request_size));
    put("DownstreamStatus", Value::from(e.status));
    put("Duration", nanos(e.duration));
    put("DownstreamContentSize", Value::from(e.size));
    if e.size != origin_size && e.size != 0 {
        // Go writes an integral float without a fraction (`0`, not `0.0`).
        let ratio = origin_size as f64 / e.size as f64;
        let value = if ratio.fract() == 0.0 && ratio < 1e15 {
            Value::from(ratio as u64)
        } else {
            Value::from(ratio)
        };
        put("GzipRatio", value);
    }
    put(
        "Overhead",
        nanos(e.duration.saturating_sub(origin_duration)),
    );

    let mut out = Map::new();
    for (k, v) in core {
        let lower = k.to_ascii_lowercase();
        let keep = fields
            .names
            .iter()
            .find(|(n, _)| *n == lower)
            .map_or(fields.keep_by_default, |(_, keep)| *keep);
        if keep {
            out.insert(k, v);
        }
    }
    add_headers(
        &mut out,
        fields,
        e.request_headers.as_ref(),
        "request_",
        &[],
    );
    let origin_headers = e.origin.as_ref().and_then(|o| o.headers.as_ref());
    add_headers(&mut out, fields, origin_headers, "origin_", &[]);
    // Go writes Date and Content-Length of its own answers as it sends them, not in the map
    // the log reads; a server's answer carries them in.
    let own_answer: &[&str] = if origin_status == 0 {
        &["date", "content-length"]
    } else {
        &[]
    };
    add_headers(
        &mut out,
        fields,
        e.downstream_headers.as_ref(),
        "downstream_",
        own_answer,
    );
    out.insert("level".into(), Value::from("info"));
    out.insert("msg".into(), Value::from(""));
    let time = OffsetDateTime::from(now).replace_nanosecond(0).map_or_else(
        |_| String::new(),
        |t| t.format(&Rfc3339).unwrap_or_default(),
    );
    out.insert("time".into(), Value::from(time));
    out
}

/// Go's `toLog`: a string field (quoted if asked), a number as it is, or the default.
fn field(f: &Map<String, Value>, key: &str, default: &str, quoted: bool) -> String {
    match f.get(key) {
        Some(Value::String(s)) if s.is_empty() => default.to_string(),
        Some(Value::String(s)) if quoted => format!("\"{}\"", s.replace('"', "\\\"")),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => default.to_string(),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `02/Jan/2006:15:04:05 -0700`, in UTC.
fn clf_time(t: SystemTime) -> String {
    let t = OffsetDateTime::from(t);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// One line (with its newline) in `format`.
pub fn line(
    e: &AccessEntry,
    format: AccessLogFormat,
    config: &AccessLogFields,
    now: SystemTime,
) -> String {
    let f = fields(e, config, now);
    match format {
        AccessLogFormat::Json => {
            let mut s = Value::Object(f).to_string();
            s.push('\n');
            s
        }
        AccessLogFormat::Common | AccessLogFormat::GenericClf => {
            let timestamp = if f.contains_key("StartUTC") || f.contains_key("StartLocal") {
                clf_time(e.start)
            } else {
                "-".to_string()
            };
            let mut s = format!(
                "{} - {} [{}] \"{} {} {}\" {} {} {} {}",
                field(&f, "ClientHost", "-", false),
                field(&f, "ClientUsername", "-", false),
                timestamp,
                field(&f, "RequestMethod", "-", false),
                field(&f, "RequestPath", "-", false),
                field(&f, "RequestProtocol", "-", false),
                field(&f, "DownstreamStatus", "-", true),
                field(&f, "DownstreamContentSize", "-", true),
                field(&f, "request_Referer", "\"-\"", true),
                field(&f, "request_User-Agent", "\"-\"", true),
            );
            if format == AccessLogFormat::Common {
                let millis = if f.contains_key("Duration") {
                    e.duration.as_millis()
                } else {
                    0
                };
                s.push_str(&format!(
                    " {} {} {} {}ms",
                    field(&f, "RequestCount", "-", true),
                    field(&f, "RouterName", "\"-\"", true),
                    field(&f, "ServiceURL", "\"-\"", true),
                    millis
                ));
            }
            s.push('\n');
            s
        }
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
            method: "GET".into(),
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

    #[test]
    fn json_fields_follow_traefik() {
        let f = fields(
            &entry(),
            &AccessLogFields::default(),
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(f["RequestHost"], "app.test");
        assert_eq!(f["RequestPort"], "-");
        assert_eq!(f["ClientPort"], "5000");
        assert_eq!(f["OriginStatus"], 0);
        assert_eq!(f["GzipRatio"], 0);
        assert_eq!(f["RequestPath"], "/a?b=c");
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
        let f = fields(&entry(), &keep, SystemTime::UNIX_EPOCH);
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
    fn common_line_as_traefik_writes_it() {
        let l = line(
            &entry(),
            AccessLogFormat::Common,
            &AccessLogFields::default(),
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(
            l,
            "127.0.0.1 - - [01/Dec/2026:02:34:42 +0000] \"GET /a?b=c HTTP/1.1\" 503 20 \"-\" \"-\" 7 \"app@file\" \"-\" 3ms\n"
        );
        let g = line(
            &entry(),
            AccessLogFormat::GenericClf,
            &AccessLogFields::default(),
            SystemTime::UNIX_EPOCH,
        );
        assert!(g.ends_with("503 20 \"-\" \"-\"\n"), "{g}");
    }
}
