//! `entryPoints.<name>`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use wharf_model::{
    ConfigIssue, EntryPoint, EntryPointRedirect, ForwardedHeaders, Origin, RouterTls,
    UnderscoreHeaders, DEFAULT_MAX_HEADER_BYTES, DEFAULT_TLS_OPTIONS,
};

use super::{get_bool, get_duration, get_string};
use crate::decode::{check_keys, integer, join, list, string, Issues};
use crate::node::Node;

fn parse_address(addr: &str) -> Result<SocketAddr, String> {
    let (hostport, proto) = match addr.rsplit_once('/') {
        Some((hp, p)) => (hp, p.to_ascii_lowercase()),
        None => (addr, "tcp".to_string()),
    };
    if proto == "udp" {
        return Err("UDP entrypoints are not supported by wharf".into());
    }
    if proto != "tcp" {
        return Err(format!("unknown protocol `/{proto}` (use /tcp)"));
    }
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| format!("`{addr}` has no port (write e.g. `:80`)"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a valid port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h
            .parse()
            .map_err(|_| format!("`{h}` is not an IP address (entrypoints bind to IPs)"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

pub(super) fn entry_point(
    name: &str,
    key_origin: &Origin,
    n: &Node,
    path: &str,
    issues: &mut Issues,
) -> Option<EntryPoint> {
    check_keys(
        n,
        path,
        &[
            "address",
            "asDefault",
            "http",
            "forwardedHeaders",
            "transport",
            "http2",
        ],
        &[
            "http3",
            "proxyProtocol",
            "observability",
            "reusePort",
            "allowACMEByPass",
            "udp",
        ],
        issues,
    );
    let Some(addr_node) = n.get("address") else {
        issues.push(
            ConfigIssue::error(key_origin.clone(), format!("`{path}` has no address"))
                .with_hint(format!("add `{path}.address: \":8000\"`")),
        );
        return None;
    };
    let address = match string(addr_node, &join(path, "address"), issues).map(|a| parse_address(&a))
    {
        Some(Ok(a)) => a,
        Some(Err(e)) => {
            issues.error(&addr_node.origin, format!("`{path}.address`: {e}"));
            return None;
        }
        None => return None,
    };
    let mut redirect = None;
    let mut middlewares = Vec::new();
    let mut max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
    let mut underscore_headers = UnderscoreHeaders::Keep;
    let mut tls = None;
    if let Some(http) = n.get("http") {
        let hp = join(path, "http");
        if let Some(t) = http.get("tls") {
            tls = crate::tls::router_tls(t, &join(&hp, "tls"), issues).map(|t| RouterTls {
                options: t
                    .options
                    .map_or_else(|| DEFAULT_TLS_OPTIONS.to_string(), |o| o.value),
                cert_resolver: t.cert_resolver.map(|r| r.value),
                domains: t.domains,
            });
        }
        if let Some(m) = http.get("maxHeaderBytes") {
            let mp = join(&hp, "maxHeaderBytes");
            match integer(m, &mp, issues).map(usize::try_from) {
                Some(Ok(v)) if v > 0 => max_header_bytes = v,
                Some(_) => issues.error(
                    &m.origin,
                    format!("`{mp}` must be a positive number of bytes"),
                ),
                None => {}
            }
        }
        if let Some(u) = http.get("underscoreHeadersStrategy") {
            let up = join(&hp, "underscoreHeadersStrategy");
            match string(u, &up, issues).as_deref() {
                Some("keep") => underscore_headers = UnderscoreHeaders::Keep,
                Some("delete") => underscore_headers = UnderscoreHeaders::Delete,
                Some("reject") => underscore_headers = UnderscoreHeaders::Reject,
                Some(other) => issues.error(
                    &u.origin,
                    format!("`{up}` must be `keep`, `delete` or `reject`, found `{other}`"),
                ),
                None => {}
            }
        }
        if let Some(m) = http.get("middlewares") {
            for (name, origin) in list(m, &join(&hp, "middlewares"), issues).unwrap_or_default() {
                if !name.contains('@') {
                    issues.push(
                        ConfigIssue::error(
                            origin,
                            format!("`{hp}.middlewares`: `{name}` needs its provider"),
                        )
                        .with_hint(format!("write `{name}@file` (or @docker)")),
                    );
                } else {
                    middlewares.push(name);
                }
            }
        }
        check_keys(
            http,
            &hp,
            &[
                "redirections",
                "middlewares",
                "maxHeaderBytes",
                "underscoreHeadersStrategy",
                "tls",
            ],
            &["encodedCharacters", "encodeQuerySemicolons", "sanitizePath"],
            issues,
        );
        if let Some(r) = http.get("redirections") {
            let rp = join(&hp, "redirections");
            check_keys(r, &rp, &["entryPoint"], &[], issues);
            if let Some(e) = r.get("entryPoint") {
                let ep = join(&rp, "entryPoint");
                check_keys(
                    e,
                    &ep,
                    &["to", "scheme", "permanent", "priority"],
                    &[],
                    issues,
                );
                match get_string(e, "to", &ep, issues) {
                    Some(to) if !to.is_empty() => {
                        redirect = Some(EntryPointRedirect {
                            to,
                            port: 0,
                            scheme: get_string(e, "scheme", &ep, issues)
                                .unwrap_or_else(|| "https".into()),
                            permanent: get_bool(e, "permanent", &ep, issues).unwrap_or(true),
                            priority: e
                                .get("priority")
                                .and_then(|p| integer(p, &join(&ep, "priority"), issues))
                                .unwrap_or(i64::MAX - 1),
                        })
                    }
                    _ => issues.error(&e.origin, format!("`{ep}.to` is required")),
                }
            }
        }
    }
    let mut forwarded_headers = ForwardedHeaders::default();
    if let Some(f) = n.get("forwardedHeaders") {
        let fp = join(path, "forwardedHeaders");
        check_keys(
            f,
            &fp,
            &["trustedIPs", "insecure", "connection"],
            &["notAppendXForwardedFor"],
            issues,
        );
        if let Some(names) = f.get("connection") {
            for (name, origin) in list(names, &join(&fp, "connection"), issues).unwrap_or_default()
            {
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    issues.error(
                        &origin,
                        format!("`{fp}.connection`: `{name}` is not a header name"),
                    );
                } else {
                    forwarded_headers.connection.push(name.to_ascii_lowercase());
                }
            }
        }
        forwarded_headers.insecure = get_bool(f, "insecure", &fp, issues).unwrap_or(false);
        if let Some(ips) = f.get("trustedIPs") {
            for (ip, origin) in list(ips, &join(&fp, "trustedIPs"), issues).unwrap_or_default() {
                match parse_net(&ip) {
                    Some(net) => forwarded_headers.trusted_ips.push(net),
                    None => issues.error(
                        &origin,
                        format!("`{fp}.trustedIPs`: `{ip}` is neither an IP nor a CIDR range"),
                    ),
                }
            }
        }
    }
    let mut ep = EntryPoint {
        name: name.to_string(),
        address,
        origin: key_origin.clone(),
        as_default: get_bool(n, "asDefault", path, issues).unwrap_or(false),
        redirect,
        middlewares,
        forwarded_headers,
        read_timeout: Duration::from_secs(60),
        write_timeout: Duration::ZERO,
        idle_timeout: Duration::from_secs(180),
        grace_timeout: Duration::from_secs(10),
        request_accept_grace_timeout: Duration::ZERO,
        max_header_bytes,
        underscore_headers,
        tls,
        http2_max_concurrent_streams: 250,
    };
    if let Some(h2) = n.get("http2") {
        let hp = join(path, "http2");
        check_keys(
            h2,
            &hp,
            &["maxConcurrentStreams"],
            &["maxDecoderHeaderTableSize", "maxEncoderHeaderTableSize"],
            issues,
        );
        if let Some(m) = h2.get("maxConcurrentStreams") {
            let mp = join(&hp, "maxConcurrentStreams");
            match integer(m, &mp, issues).map(u32::try_from) {
                Some(Ok(v)) if v > 0 => ep.http2_max_concurrent_streams = v,
                Some(_) => issues.error(&m.origin, format!("`{mp}` must be a positive number")),
                None => {}
            }
        }
    }
    if let Some(t) = n.get("transport") {
        let tp = join(path, "transport");
        check_keys(
            t,
            &tp,
            &["respondingTimeouts", "lifeCycle"],
            &["keepAliveMaxRequests", "keepAliveMaxTime"],
            issues,
        );
        if let Some(r) = t.get("respondingTimeouts") {
            let rp = join(&tp, "respondingTimeouts");
            check_keys(
                r,
                &rp,
                &["readTimeout", "writeTimeout", "idleTimeout"],
                &[],
                issues,
            );
            if let Some(d) = get_duration(r, "readTimeout", &rp, issues) {
                ep.read_timeout = d;
            }
            if let Some(d) = get_duration(r, "writeTimeout", &rp, issues) {
                ep.write_timeout = d;
            }
            if let Some(d) = get_duration(r, "idleTimeout", &rp, issues) {
                ep.idle_timeout = d;
            }
        }
        if let Some(l) = t.get("lifeCycle") {
            let lp = join(&tp, "lifeCycle");
            check_keys(
                l,
                &lp,
                &["graceTimeOut", "requestAcceptGraceTimeout"],
                &[],
                issues,
            );
            if let Some(d) = get_duration(l, "graceTimeOut", &lp, issues) {
                ep.grace_timeout = d;
            }
            if let Some(d) = get_duration(l, "requestAcceptGraceTimeout", &lp, issues) {
                ep.request_accept_grace_timeout = d;
            }
        }
    }
    Some(ep)
}

fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}
