//! ipAllowList and basicAuth.

use std::net::IpAddr;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use ipnet::IpNet;
use pingora::http::RequestHeader;

use crate::{header_name, BuildError, Flow, Middleware, Reply, RequestContext};

fn status_reply(status: u16) -> Reply {
    let text = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    Reply {
        status,
        headers: Vec::new(),
        body: Bytes::from(text.to_string()),
    }
}

#[derive(Debug)]
pub(crate) struct IpAllowList {
    ranges: Vec<IpNet>,
    client: ClientIp,
    reject: u16,
}

/// Traefik's ipStrategy: the peer by default; else from X-Forwarded-For, the `depth`-th entry
/// from the right, or the first from the right that is not excluded.
#[derive(Debug)]
pub(crate) struct ClientIp {
    depth: usize,
    excluded: Vec<IpNet>,
}

fn net(s: &str) -> Result<IpNet, BuildError> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| BuildError(format!("{s:?} is not an IP or CIDR range")))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl IpAllowList {
    pub(crate) fn new(
        ranges: &[String],
        depth: i64,
        excluded: &[String],
        reject: u16,
    ) -> Result<Self, BuildError> {
        Ok(IpAllowList {
            ranges: ranges.iter().map(|r| net(r)).collect::<Result<_, _>>()?,
            client: ClientIp::new(depth, excluded)?,
            reject,
        })
    }
}

impl ClientIp {
    pub(crate) fn new(depth: i64, excluded: &[String]) -> Result<Self, BuildError> {
        Ok(ClientIp {
            depth: usize::try_from(depth.max(0)).unwrap_or(0),
            excluded: excluded.iter().map(|r| net(r)).collect::<Result<_, _>>()?,
        })
    }

    /// The client IP for this request.
    pub(crate) fn get(&self, req: &RequestHeader, cx: &RequestContext) -> Option<IpAddr> {
        if self.depth == 0 && self.excluded.is_empty() {
            return cx.peer.map(canonical);
        }
        let xff: Vec<String> = req
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|s| s.trim().to_string()))
            .collect();
        let pick = if self.depth > 0 {
            xff.len()
                .checked_sub(self.depth)
                .and_then(|i| xff.get(i))
                .cloned()
        } else {
            xff.iter()
                .rev()
                .find(|ip| {
                    ip.parse::<IpAddr>()
                        .map(|ip| !self.excluded.iter().any(|n| n.contains(&canonical(ip))))
                        .unwrap_or(true)
                })
                .cloned()
        };
        pick.and_then(|s| s.parse::<IpAddr>().ok()).map(canonical)
    }
}

impl Middleware for IpAllowList {
    fn request(&self, req: &mut RequestHeader, cx: &RequestContext) -> Flow {
        match self.client.get(req, cx) {
            Some(ip) if self.ranges.iter().any(|n| n.contains(&ip)) => Flow::Continue,
            _ => Flow::Respond(status_reply(self.reject)),
        }
    }
}

pub(crate) struct BasicAuth {
    htpasswd: htpasswd_verify::Htpasswd<'static>,
    challenge: HeaderValue,
    remove_header: bool,
    header_field: Option<HeaderName>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl BasicAuth {
    pub(crate) fn new(
        users: &[String],
        realm: &str,
        remove_header: bool,
        header_field: Option<&str>,
    ) -> Result<Self, BuildError> {
        let content = users.join("\n");
        Ok(BasicAuth {
            htpasswd: htpasswd_verify::Htpasswd::new_owned(&content),
            challenge: HeaderValue::from_str(&format!("Basic realm=\"{realm}\""))
                .map_err(|e| BuildError(format!("realm {realm:?}: {e}")))?,
            remove_header,
            header_field: header_field.map(header_name).transpose()?,
        })
    }

    fn user(&self, req: &RequestHeader) -> Option<String> {
        let value = req.headers.get("authorization")?.to_str().ok()?;
        let (scheme, encoded) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        self.htpasswd
            .check(user, password)
            .then(|| user.to_string())
    }
}

impl Middleware for BasicAuth {
    fn request(&self, req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        let Some(user) = self.user(req) else {
            return Flow::Respond(unauthorized(self.challenge.clone()));
        };
        authenticated(req, &user, self.remove_header, self.header_field.as_ref());
        Flow::Continue
    }
}

/// Traefik's 401 for basic and digest auth.
pub(crate) fn unauthorized(challenge: HeaderValue) -> Reply {
    Reply {
        status: 401,
        headers: vec![
            (
                HeaderName::from_static("content-type"),
                HeaderValue::from_static("text/plain"),
            ),
            (HeaderName::from_static("www-authenticate"), challenge),
        ],
        body: Bytes::from_static(b"401 Unauthorized\n"),
    }
}

/// What basic and digest auth do for an authenticated user: optionally drop the
/// Authorization header, optionally pass the user name on in a header.
pub(crate) fn authenticated(
    req: &mut RequestHeader,
    user: &str,
    remove_header: bool,
    header_field: Option<&HeaderName>,
) {
    if remove_header {
        req.remove_header("authorization");
    }
    if let Some(field) = header_field {
        if let Ok(v) = HeaderValue::from_str(user) {
            let _ignored = req.insert_header(field.clone(), v);
        }
    }
}
