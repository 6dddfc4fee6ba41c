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
    /// An IPv6 client is replaced by the first address of its subnet of this size.
    ipv6_subnet: Option<u8>,
}

fn net(s: &str) -> Result<IpNet, BuildError> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| BuildError(format!("{s:?} is not an IP or CIDR range")))
}

impl IpAllowList {
    pub(crate) fn new(
        ranges: &[String],
        client: ClientIp,
        reject: u16,
    ) -> Result<Self, BuildError> {
        Ok(IpAllowList {
            ranges: ranges.iter().map(|r| net(r)).collect::<Result<_, _>>()?,
            client,
            reject,
        })
    }
}

impl ClientIp {
    pub(crate) fn new(
        depth: i64,
        excluded: &[String],
        ipv6_subnet: Option<u8>,
    ) -> Result<Self, BuildError> {
        Ok(ClientIp {
            depth: usize::try_from(depth.max(0)).unwrap_or(0),
            excluded: excluded.iter().map(|r| net(r)).collect::<Result<_, _>>()?,
            ipv6_subnet,
        })
    }

    /// The client IP for this request (its subnet's first address, with ipv6Subnet).
    pub(crate) fn get(&self, req: &RequestHeader, cx: &RequestContext) -> Option<IpAddr> {
        let ip = self.pick(req, cx)?;
        Some(match (ip, self.ipv6_subnet) {
            (IpAddr::V6(v6), Some(bits)) => {
                ipnet::Ipv6Net::new(v6, bits).map_or(ip, |net| IpAddr::V6(net.network()))
            }
            _ => ip,
        })
    }

    fn pick(&self, req: &RequestHeader, cx: &RequestContext) -> Option<IpAddr> {
        if self.depth == 0 && self.excluded.is_empty() {
            return cx.peer.map(|ip| ip.to_canonical());
        }
        let xff: Vec<String> = req
            .headers
            .get_all(crate::forwarded_names::X_FORWARDED_FOR)
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
                        .map(|ip| !self.excluded.iter().any(|n| n.contains(&ip.to_canonical())))
                        .unwrap_or(true)
                })
                .cloned()
        };
        pick.and_then(|s| s.parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
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
        self.request_recording(req, &mut RequestContext::default())
    }

    fn request_recording(&self, req: &mut RequestHeader, cx: &mut RequestContext) -> Flow {
        let Some(user) = self.user(req) else {
            return Flow::Respond(unauthorized(self.challenge.clone()));
        };
        authenticated(req, &user, self.remove_header, self.header_field.as_ref());
        cx.username = Some(user);
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

#[cfg(test)]
mod ip_tests {
    use super::*;

    fn from(peer: &str, list: &IpAllowList) -> bool {
        let req = RequestHeader::build("GET", b"/", None).unwrap();
        let cx = RequestContext {
            peer: Some(peer.parse().unwrap()),
            ..RequestContext::default()
        };
        matches!(list.request(&mut req.clone(), &cx), Flow::Continue)
    }

    #[test]
    fn ipv6_subnet_stands_for_the_whole_subnet() {
        let only_network = vec!["2001:db8::/128".to_string()];
        let per_subnet =
            IpAllowList::new(&only_network, ClientIp::new(0, &[], Some(64)).unwrap(), 403).unwrap();
        assert!(from("2001:db8::1234", &per_subnet));
        assert!(!from("2001:db8:0:1::1", &per_subnet), "another /64");
        assert!(
            from(
                "::ffff:10.0.0.1",
                &IpAllowList::new(
                    &["10.0.0.1".into()],
                    ClientIp::new(0, &[], Some(64)).unwrap(),
                    403
                )
                .unwrap()
            ),
            "IPv4 is left alone"
        );
        let exact =
            IpAllowList::new(&only_network, ClientIp::new(0, &[], None).unwrap(), 403).unwrap();
        assert!(!from("2001:db8::1234", &exact));
    }
}
