//! Traefik's forwarded-headers stage and the X-Forwarded-For append at proxy time.

use std::net::IpAddr;

use wharf_model::IpText;

use http::{HeaderName, HeaderValue};
use pingora::http::RequestHeader;
use pingora::prelude::*;
use wharf_middleware::forwarded_names::*;
use wharf_middleware::FORWARDED_HEADERS;
use wharf_model::UnderscoreHeaders;

/// Whether `name` is a managed X-header, in any case, or an alias of one with some `-` written
/// as `_` (`X_Forwarded_For`, `X-Real_Ip`), which CGI/WSGI stacks read as the same header.
fn is_managed_or_alias(name: &str) -> bool {
    FORWARDED_HEADERS.iter().any(|managed| {
        managed.len() == name.len()
            && managed
                .bytes()
                .zip(name.bytes())
                .all(|(m, n)| m == n.to_ascii_lowercase() || (m == b'-' && n == b'_'))
    })
}

pub(crate) struct ForwardInfo<'a> {
    /// Whether the peer's own X-Forwarded-* headers are kept.
    pub trusted: bool,
    pub peer_ip: Option<IpAddr>,
    pub tls: bool,
    pub websocket: bool,
    /// The request host as the client sent it, port included (shared, not copied, into
    /// X-Forwarded-Host).
    pub raw_host: Option<&'a HeaderValue>,
    /// This machine's hostname (X-Forwarded-Server); None when it is not a valid header value.
    pub hostname: Option<&'a HeaderValue>,
    /// `forwardedHeaders.connection`: headers a client's `Connection` may name that still
    /// reach the middlewares.
    pub connection: &'a [http::HeaderName],
}

fn has(req: &RequestHeader, name: &HeaderName) -> bool {
    req.headers.contains_key(name)
}

/// The entrypoint's forwarded-headers stage, before any middleware: untrusted X-headers
/// removed, X-Real-Ip, X-Forwarded-Proto/-Port/-Host set if absent, X-Forwarded-Server set,
/// several X-Forwarded-For lines joined.
pub(crate) fn entrypoint_stage(req: &mut RequestHeader, info: &ForwardInfo<'_>) -> Result<()> {
    if !info.trusted {
        let spoofed: Vec<http::HeaderName> = req
            .headers
            .keys()
            .filter(|name| is_managed_or_alias(name.as_str()))
            .cloned()
            .collect();
        for name in spoofed {
            req.remove_header(&name);
        }
    }
    apply_connection_header(req, info.connection)?;
    if !has(req, &X_REAL_IP) {
        if let Some(ip) = info.peer_ip {
            let ip = IpText::new(ip.to_canonical());
            req.insert_parsed_header(X_REAL_IP, wire::X_REAL_IP, ip.as_str())?;
        }
    }
    // Whether the (possibly client-sent, when trusted) proto is a TLS one.
    let tls_proto = match req.headers.get(&X_FORWARDED_PROTO) {
        Some(proto) => proto == "https" || proto == "wss",
        None => {
            let proto = match (info.websocket, info.tls) {
                (true, true) => "wss",
                (true, false) => "ws",
                (false, true) => "https",
                (false, false) => "http",
            };
            req.insert_parsed_header(
                X_FORWARDED_PROTO,
                wire::X_FORWARDED_PROTO,
                HeaderValue::from_static(proto),
            )?;
            info.tls
        }
    };
    let raw_host = info
        .raw_host
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !has(req, &X_FORWARDED_PORT) {
        // From the Host header if it has a port, else from the scheme (never the listener).
        let host_port = raw_host.rsplit_once(':').filter(|(h, p)| {
            !p.is_empty() && !h.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit())
        });
        let port = match host_port {
            Some((_, port)) => HeaderValue::from_str(port)
                .map_err(|_| Error::explain(InvalidHTTPHeader, "invalid X-Forwarded-Port value"))?,
            None if info.tls || tls_proto => HeaderValue::from_static("443"),
            None => HeaderValue::from_static("80"),
        };
        req.insert_parsed_header(X_FORWARDED_PORT, wire::X_FORWARDED_PORT, port)?;
    }
    if let Some(host) = info.raw_host.filter(|_| !raw_host.is_empty()) {
        if !has(req, &X_FORWARDED_HOST) {
            req.insert_parsed_header(X_FORWARDED_HOST, wire::X_FORWARDED_HOST, host.clone())?;
        }
    }
    if let Some(server) = info.hostname {
        req.insert_parsed_header(X_FORWARDED_SERVER, wire::X_FORWARDED_SERVER, server.clone())?;
    }
    if req.headers.get_all(&X_FORWARDED_FOR).iter().count() > 1 {
        let joined = req
            .headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        req.insert_parsed_header(X_FORWARDED_FOR, wire::X_FORWARDED_FOR, joined)?;
    }
    Ok(())
}

/// The client's `Connection` options, applied before wharf adds its own headers, as Traefik
/// does: the headers it names are removed, except the managed X-headers (a client must not
/// remove what the proxy sets) and `forwardedHeaders.connection`, which stay nominated so they
/// reach the middlewares but not the backend. `Connection` itself is dropped (kept as
/// `Upgrade` for an upgrade), so pingora's own nomination stripping has nothing left to remove.
fn apply_connection_header(req: &mut RequestHeader, keep: &[http::HeaderName]) -> Result<()> {
    if !req.headers.contains_key(http::header::CONNECTION) {
        return Ok(());
    }
    let mut upgrade = false;
    let mut remove = Vec::new();
    let mut kept = Vec::new();
    for value in req.headers.get_all(http::header::CONNECTION) {
        for token in value.as_bytes().split(|b| *b == b',') {
            let token = token.trim_ascii();
            if token.eq_ignore_ascii_case(b"upgrade") {
                upgrade = true;
                continue;
            }
            let Ok(name) = http::HeaderName::from_bytes(token) else {
                continue;
            };
            if is_managed_or_alias(name.as_str()) || name == http::header::HOST {
                continue;
            }
            if keep.contains(&name) {
                kept.push(name);
            } else {
                remove.push(name);
            }
        }
    }
    for name in &remove {
        req.remove_header(name);
    }
    req.remove_header(&http::header::CONNECTION);
    if upgrade && req.headers.contains_key(http::header::UPGRADE) {
        req.insert_header(http::header::CONNECTION, "Upgrade")?;
    }
    if !kept.is_empty() {
        let names: Vec<&str> = kept.iter().map(http::HeaderName::as_str).collect();
        req.append_header(http::header::CONNECTION, names.join(", "))?;
    }
    Ok(())
}

/// `http.underscoreHeadersStrategy`, before routing: headers with an underscore in their name
/// kept, deleted, or the request refused (false).
pub(crate) fn underscore_headers(req: &mut RequestHeader, strategy: UnderscoreHeaders) -> bool {
    if strategy == UnderscoreHeaders::Keep {
        return true;
    }
    let underscored: Vec<http::HeaderName> = req
        .headers
        .keys()
        .filter(|n| n.as_str().contains('_'))
        .cloned()
        .collect();
    if strategy == UnderscoreHeaders::Reject {
        return underscored.is_empty();
    }
    for name in underscored {
        req.remove_header(&name);
    }
    true
}

/// At proxy time: the peer is appended to X-Forwarded-For.
pub(crate) fn append_forwarded_for(req: &mut RequestHeader, peer: Option<IpAddr>) -> Result<()> {
    let Some(ip) = peer.map(|ip| IpText::new(ip.to_canonical())) else {
        return Ok(());
    };
    let value = match req
        .headers
        .get(&X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
    {
        Some(existing) if !existing.is_empty() => [existing, ip.as_str()].join(", "),
        _ => ip.as_str().to_owned(),
    };
    req.insert_parsed_header(X_FORWARDED_FOR, wire::X_FORWARDED_FOR, value)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        for (n, v) in headers {
            req.append_header(n.to_string(), *v).unwrap();
        }
        req
    }

    static A_TEST: HeaderValue = HeaderValue::from_static("a.test");
    static EDGE: HeaderValue = HeaderValue::from_static("edge");

    fn info(trusted: bool) -> ForwardInfo<'static> {
        ForwardInfo {
            trusted,
            peer_ip: Some("10.0.0.1".parse().unwrap()),
            tls: false,
            websocket: false,
            raw_host: Some(&A_TEST),
            hostname: Some(&EDGE),
            connection: &[],
        }
    }

    #[test]
    fn underscore_aliases_of_managed_headers_are_removed_for_untrusted_peers() {
        let spoofs = [
            "X-Real_Ip",
            "X_Real_Ip",
            "x_forwarded_for",
            "X_Forwarded-Proto",
            "X-FORWARDED_HOST",
            "X-Forwarded_Prefix",
        ];
        let headers: Vec<(&str, &str)> = spoofs.iter().map(|n| (*n, "7.7.7.7")).collect();
        let mut req = request(&headers);
        req.append_header("X_Custom_Thing", "kept").unwrap();
        entrypoint_stage(&mut req, &info(false)).unwrap();
        for n in spoofs {
            let normalized = n.replace('_', "-");
            let value = req.headers.get(normalized.as_str());
            assert!(
                value.is_none_or(|v| v != "7.7.7.7"),
                "{n} reached the backend as {normalized}: {value:?}"
            );
            assert!(req.headers.get(n).is_none(), "{n} kept");
        }
        assert_eq!(req.headers["x-real-ip"], "10.0.0.1");
        assert_eq!(req.headers["x_custom_thing"], "kept");

        let mut trusted = request(&[("X-Real-Ip", "7.7.7.7")]);
        entrypoint_stage(&mut trusted, &info(true)).unwrap();
        assert_eq!(trusted.headers["x-real-ip"], "7.7.7.7");
    }

    #[test]
    fn connection_cannot_remove_what_the_proxy_sets() {
        let mut req = request(&[
            (
                "Connection",
                "close, X-Forwarded-For, x-real-ip, X-Forwarded-Proto, X-Secret, authorization",
            ),
            ("X-Secret", "s"),
            ("Authorization", "Bearer t"),
        ]);
        entrypoint_stage(&mut req, &info(false)).unwrap();
        assert_eq!(req.headers["x-real-ip"], "10.0.0.1");
        assert_eq!(req.headers["x-forwarded-proto"], "http");
        assert!(req.headers.get("x-secret").is_none());
        assert!(req.headers.get("authorization").is_none());
        assert!(req.headers.get("connection").is_none());

        let keep = [http::HeaderName::from_static("x-keep")];
        let mut req = request(&[
            ("Connection", "Upgrade, X-Keep"),
            ("Upgrade", "websocket"),
            ("X-Keep", "k"),
        ]);
        let mut i = info(false);
        i.connection = &keep;
        entrypoint_stage(&mut req, &i).unwrap();
        assert_eq!(req.headers["x-keep"], "k");
        let connection: Vec<&str> = req
            .headers
            .get_all("connection")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(connection, ["Upgrade", "x-keep"]);
    }
}
