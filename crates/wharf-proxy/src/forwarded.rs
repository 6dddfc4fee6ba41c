//! Traefik's forwarded-headers stage and the X-Forwarded-For append at proxy time.

use std::net::IpAddr;

use pingora::http::RequestHeader;
use pingora::prelude::*;
use wharf_middleware::FORWARDED_HEADERS;

/// The same names with underscores (`X_Forwarded_For`), which some servers treat as equal.
const MANAGED_UNDERSCORED: &[&str] = &[
    "x_forwarded_proto",
    "x_forwarded_for",
    "x_forwarded_host",
    "x_forwarded_port",
    "x_forwarded_server",
    "x_forwarded_uri",
    "x_forwarded_method",
    "x_forwarded_prefix",
    "x_forwarded_tls_client_cert",
    "x_forwarded_tls_client_cert_info",
    "x_real_ip",
];

pub(crate) struct ForwardInfo<'a> {
    /// Whether the peer's own X-Forwarded-* headers are kept.
    pub trusted: bool,
    pub peer_ip: Option<IpAddr>,
    pub tls: bool,
    pub websocket: bool,
    /// The request host as the client sent it, port included.
    pub raw_host: &'a str,
    /// This machine's hostname (X-Forwarded-Server).
    pub hostname: &'a str,
}

fn has(req: &RequestHeader, name: &str) -> bool {
    req.headers.contains_key(name)
}

/// The entrypoint's forwarded-headers stage, before any middleware: untrusted X-headers
/// removed, X-Real-Ip, X-Forwarded-Proto/-Port/-Host set if absent, X-Forwarded-Server set,
/// several X-Forwarded-For lines joined.
pub(crate) fn entrypoint_stage(req: &mut RequestHeader, info: &ForwardInfo<'_>) -> Result<()> {
    if !info.trusted {
        for name in FORWARDED_HEADERS.iter().chain(MANAGED_UNDERSCORED) {
            req.remove_header(*name);
        }
    }
    let peer = info.peer_ip.map(|ip| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4).to_string(),
        v4 => v4.to_string(),
    });
    if !has(req, "x-real-ip") {
        if let Some(ip) = &peer {
            req.insert_header("X-Real-Ip", ip.as_str())?;
        }
    }
    let proto = if !has(req, "x-forwarded-proto") {
        let proto = match (info.websocket, info.tls) {
            (true, true) => "wss",
            (true, false) => "ws",
            (false, true) => "https",
            (false, false) => "http",
        };
        req.insert_header("X-Forwarded-Proto", proto)?;
        proto.to_string()
    } else {
        req.headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if !has(req, "x-forwarded-port") {
        // From the Host header if it has a port, else from the scheme (never the listener).
        let host_port = info
            .raw_host
            .rsplit_once(':')
            .filter(|(h, p)| {
                !p.is_empty() && !h.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit())
            })
            .map(|(_, p)| p.to_string());
        let port = host_port.unwrap_or_else(|| {
            if info.tls || proto == "https" || proto == "wss" {
                "443".into()
            } else {
                "80".into()
            }
        });
        req.insert_header("X-Forwarded-Port", port)?;
    }
    if !has(req, "x-forwarded-host") && !info.raw_host.is_empty() {
        req.insert_header("X-Forwarded-Host", info.raw_host)?;
    }
    req.insert_header("X-Forwarded-Server", info.hostname)?;
    if req.headers.get_all("x-forwarded-for").iter().count() > 1 {
        let joined = req
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        req.insert_header("X-Forwarded-For", joined)?;
    }
    Ok(())
}

/// At proxy time: the peer is appended to X-Forwarded-For.
pub(crate) fn append_forwarded_for(req: &mut RequestHeader, peer: Option<IpAddr>) -> Result<()> {
    let Some(ip) = peer.map(|ip| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }) else {
        return Ok(());
    };
    let value = match req
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(existing) if !existing.is_empty() => format!("{existing}, {ip}"),
        _ => ip.to_string(),
    };
    req.insert_header("X-Forwarded-For", value)?;
    Ok(())
}
