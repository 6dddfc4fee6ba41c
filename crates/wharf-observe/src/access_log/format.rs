//! An [`AccessEntry`] as Traefik writes it: the field set (JSON) or the common and generic CLF
//! lines, after the configured field and header modes.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::SystemTime;

use http::HeaderMap;
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

fn add_headers<'a>(
    out: &mut Vec<(Cow<'static, str>, FieldValue<'a>)>,
    fields: &AccessLogFields,
    headers: Option<&'a HeaderMap>,
    prefix: &str,
    skip: &[&str],
) {
    let Some(headers) = headers else { return };
    for name in headers
        .keys()
        .filter(|n| !UNSEEN.contains(&n.as_str()) && !skip.contains(&n.as_str()))
    {
        let value = match header_mode(fields, name.as_str()) {
            HeaderMode::Keep => {
                let mut values = headers.get_all(name).iter();
                let mut joined = values
                    .next()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()))
                    .unwrap_or_default();
                for v in values {
                    let all = joined.to_mut();
                    all.push(',');
                    all.push_str(&String::from_utf8_lossy(v.as_bytes()));
                }
                FieldValue::Str(joined)
            }
            HeaderMode::Redact => FieldValue::text("REDACTED"),
            HeaderMode::Drop => continue,
        };
        let key = format!("{prefix}{}", wharf_model::canonical_header(name.as_str()));
        out.push((Cow::Owned(key), value));
    }
}

/// Whether any header can reach the log (else the request path need not copy them).
pub fn logs_headers(fields: &AccessLogFields) -> bool {
    fields.headers_default != HeaderMode::Drop
        || fields.headers.iter().any(|(_, m)| *m != HeaderMode::Drop)
}

/// A field's value as Go's logger writes it: a string, an integer or a float.
enum FieldValue<'a> {
    Str(Cow<'a, str>),
    Int(u64),
    Float(f64),
}

impl<'a> FieldValue<'a> {
    fn text(s: &'a str) -> Self {
        FieldValue::Str(Cow::Borrowed(s))
    }

    fn owned(s: String) -> Self {
        FieldValue::Str(Cow::Owned(s))
    }

    fn nanos(d: std::time::Duration) -> Self {
        FieldValue::Int(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// Traefik's fields of one entry, sorted by name as Go's JSON logger writes them. A sorted list
/// of borrowed names and values, not a map of owned ones: the writer formats every request.
struct Fields<'a> {
    sorted: Vec<(Cow<'static, str>, FieldValue<'a>)>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&FieldValue<'a>> {
        let at = self
            .sorted
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()?;
        self.sorted.get(at).map(|(_, v)| v)
    }

    fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The JSON object, compact, as serde_json writes a map.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (key, value)) in self.sorted.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing to a Vec cannot fail.
            serde_json::to_writer(&mut *out, key.as_ref()).unwrap_or_default();
            out.push(b':');
            match value {
                FieldValue::Str(s) => serde_json::to_writer(&mut *out, s.as_ref()),
                FieldValue::Int(n) => serde_json::to_writer(&mut *out, n),
                FieldValue::Float(x) => serde_json::to_writer(&mut *out, x),
            }
            .unwrap_or_default();
        }
        out.push(b'}');
    }
}

/// Traefik's field set for `e`, with `config` applied.
fn fields<'a>(e: &'a AccessEntry, config: &AccessLogFields, now: SystemTime) -> Fields<'a> {
    let mut list: Vec<(Cow<'static, str>, FieldValue<'a>)> = Vec::with_capacity(48);
    // The core fields go through `names` / `defaultMode`; headers through their own modes.
    let mut put = |key: &'static str, value: FieldValue<'a>| {
        let keep = config
            .names
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(key))
            .map_or(config.keep_by_default, |(_, keep)| *keep);
        if keep {
            list.push((Cow::Borrowed(key), value));
        }
    };
    let start = rfc3339(e.start);
    put("StartUTC", FieldValue::owned(start.clone()));
    put("StartLocal", FieldValue::owned(start));
    put("RequestCount", FieldValue::Int(e.request_count));
    if let Some(host) = &e.host {
        let (h, p) = split_host_port(host);
        put("RequestAddr", FieldValue::text(host));
        put("RequestHost", FieldValue::text(h));
        put("RequestPort", FieldValue::text(p));
    }
    let path = if config.keep_query {
        e.target.as_str()
    } else {
        e.target.split('?').next().unwrap_or_default()
    };
    put("RequestMethod", FieldValue::text(&e.method));
    put("RequestPath", FieldValue::text(path));
    put("RequestProtocol", FieldValue::text(e.protocol));
    put(
        "RequestScheme",
        FieldValue::text(if e.tls.is_some() { "https" } else { "http" }),
    );
    if let Some((version, cipher, subject)) = &e.tls {
        put("TLSVersion", FieldValue::text(version));
        put("TLSCipher", FieldValue::text(cipher));
        if let Some(subject) = subject {
            put("TLSClientSubject", FieldValue::text(subject));
        }
    }
    // A client's X-Forwarded-For (when headers are logged) is its ClientHost, as in Traefik.
    let forwarded_for = e
        .request_headers
        .as_ref()
        .and_then(|h| h.get("x-forwarded-for"))
        .and_then(|v| v.to_str().ok());
    if let Some(client) = e.client {
        let addr = client.to_string();
        let (h, p) = split_host_port(&addr);
        let (h, p) = (h.to_string(), p.to_string());
        if forwarded_for.is_none() {
            put("ClientHost", FieldValue::owned(h));
        }
        put("ClientPort", FieldValue::owned(p));
        put("ClientAddr", FieldValue::owned(addr));
    }
    if let Some(xff) = forwarded_for {
        put("ClientHost", FieldValue::text(xff));
    }
    put(
        "ClientUsername",
        FieldValue::text(e.username.as_deref().unwrap_or("-")),
    );
    put("entryPointName", FieldValue::text(&e.entry_point));
    if let Some(router) = &e.router {
        put("RouterName", FieldValue::text(router));
    }
    let (origin_status, origin_size, origin_duration) = match &e.origin {
        Some(o) => {
            put("ServiceName", FieldValue::text(&o.service));
            put("ServiceURL", FieldValue::text(&o.url));
            put("ServiceAddr", FieldValue::text(&o.addr));
            (o.status, o.size, o.duration)
        }
        None => (0, 0, std::time::Duration::ZERO),
    };
    put("OriginStatus", FieldValue::Int(u64::from(origin_status)));
    put("OriginContentSize", FieldValue::Int(origin_size));
    put("OriginDuration", FieldValue::nanos(origin_duration));
    put(
        "RetryAttempts",
        FieldValue::Int(u64::from(e.retry_attempts)),
    );
    put("RequestContentSize", FieldValue::Int(e.request_size));
    put("DownstreamStatus", FieldValue::Int(u64::from(e.status)));
    put("Duration", FieldValue::nanos(e.duration));
    put("DownstreamContentSize", FieldValue::Int(e.size));
    if e.size != origin_size && e.size != 0 {
        // Go writes an integral float without a fraction (`0`, not `0.0`).
        let ratio = origin_size as f64 / e.size as f64;
        let value = if ratio.fract() == 0.0 && ratio < 1e15 {
            FieldValue::Int(ratio as u64)
        } else {
            FieldValue::Float(ratio)
        };
        put("GzipRatio", value);
    }
    put(
        "Overhead",
        FieldValue::nanos(e.duration.saturating_sub(origin_duration)),
    );

    add_headers(
        &mut list,
        config,
        e.request_headers.as_ref(),
        "request_",
        &[],
    );
    let origin_headers = e.origin.as_ref().and_then(|o| o.headers.as_ref());
    add_headers(&mut list, config, origin_headers, "origin_", &[]);
    // Go writes Date and Content-Length of its own answers as it sends them, not in the map
    // the log reads; a server's answer carries them in.
    let own_answer: &[&str] = if origin_status == 0 {
        &["date", "content-length"]
    } else {
        &[]
    };
    add_headers(
        &mut list,
        config,
        e.downstream_headers.as_ref(),
        "downstream_",
        own_answer,
    );
    list.push((Cow::Borrowed("level"), FieldValue::text("info")));
    list.push((Cow::Borrowed("msg"), FieldValue::text("")));
    let time = OffsetDateTime::from(now).replace_nanosecond(0).map_or_else(
        |_| String::new(),
        |t| t.format(&Rfc3339).unwrap_or_default(),
    );
    list.push((Cow::Borrowed("time"), FieldValue::owned(time)));
    // Names are unique (a header's has its prefix): the order is the map's.
    list.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    Fields { sorted: list }
}

/// Go's `toLog`: a string field (quoted if asked), a number as it is, or the default.
fn field<'f>(f: &'f Fields<'_>, key: &str, default: &'static str, quoted: bool) -> Cow<'f, str> {
    match f.get(key) {
        Some(FieldValue::Str(s)) if s.is_empty() => Cow::Borrowed(default),
        Some(FieldValue::Str(s)) if quoted => Cow::Owned(format!("\"{}\"", s.replace('"', "\\\""))),
        Some(FieldValue::Str(s)) => Cow::Borrowed(s.as_ref()),
        Some(FieldValue::Int(n)) => Cow::Owned(n.to_string()),
        Some(FieldValue::Float(x)) => Cow::Owned(serde_json::to_string(x).unwrap_or_default()),
        None => Cow::Borrowed(default),
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
            let mut out = Vec::with_capacity(1024);
            f.write_json(&mut out);
            out.push(b'\n');
            // serde_json writes UTF-8.
            String::from_utf8(out).unwrap_or_default()
        }
        AccessLogFormat::Common | AccessLogFormat::GenericClf => {
            let timestamp = if f.contains("StartUTC") || f.contains("StartLocal") {
                Cow::Owned(clf_time(e.start))
            } else {
                Cow::Borrowed("-")
            };
            let mut s = String::with_capacity(256);
            // Writing to a String cannot fail.
            write!(
                s,
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
            )
            .unwrap_or_default();
            if format == AccessLogFormat::Common {
                let millis = if f.contains("Duration") {
                    e.duration.as_millis()
                } else {
                    0
                };
                write!(
                    s,
                    " {} {} {} {}ms",
                    field(&f, "RequestCount", "-", true),
                    field(&f, "RouterName", "\"-\"", true),
                    field(&f, "ServiceURL", "\"-\"", true),
                    millis
                )
                .unwrap_or_default();
            }
            s.push('\n');
            s
        }
    }
}

#[cfg(test)]
impl Fields<'_> {
    /// The fields as the JSON line carries them.
    fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut out = Vec::new();
        self.write_json(&mut out);
        serde_json::from_slice(&out).expect("the line is JSON")
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
        )
        .to_map();
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
        let f = fields(&entry(), &keep, SystemTime::UNIX_EPOCH).to_map();
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
        let keep = AccessLogFields {
            headers_default: HeaderMode::Keep,
            ..Default::default()
        };
        let l = line(&e, AccessLogFormat::Json, &keep, SystemTime::UNIX_EPOCH);
        let parsed: serde_json::Value = serde_json::from_str(&l).unwrap();
        // What serde_json writes for a map: keys sorted, no spaces.
        assert_eq!(l, format!("{parsed}\n"));
        assert_eq!(parsed["request_User-Agent"], "ua,second \"quoted\"");
        assert_eq!(parsed["GzipRatio"], 1.5);
        assert_eq!(parsed["ServiceURL"], "http://10.0.0.1:80");
        assert_eq!(parsed["OriginDuration"], 2_000_000);
        assert_eq!(parsed["level"], "info");
    }
}
