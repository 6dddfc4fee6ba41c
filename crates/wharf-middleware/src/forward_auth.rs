//! `forwardAuth`: ask an auth server before proxying. A 2xx lets the request through (with
//! the auth server's identity headers replacing any the client sent); any other answer goes
//! back to the client as the auth server gave it; an unreachable auth server fails closed.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::upstreams::peer::HttpPeer;
use pingora::{ErrorType::InvalidHTTPHeader, OrErr};
use regex::Regex;
use wharf_model::{ForwardAuthSpec, IpText};

use crate::subrequest::{ca_list, client_cert, connect_addr, Client, HOP_BY_HOP, IDLE};
use crate::{
    canonical_header, header_name, regex, request_host, request_host_value, BuildError, ReadBody,
    Reply, RequestContext, FORWARD_BODY_CAP,
};
use wharf_upstream::Target;

use crate::forwarded_names::*;

/// Traefik's auth client timeout.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The forwarded headers an auth request always gets from wharf when `trustForwardHeader` is
/// not set (and `x-forwarded-for` when the client's address is known).
const SET_WITHOUT_TRUST: &[&str] = &[
    "x-forwarded-proto",
    "x-forwarded-method",
    "x-forwarded-host",
    "x-forwarded-uri",
];
/// Headers wharf may add to an auth request: Host and the forwarded ones.
const SET_HEADERS: usize = 7;
pub struct ForwardAuth {
    https: bool,
    host: String,
    /// The auth server's address, resolved off the request path after the first call.
    server: Target,
    /// `host:port` as written in the address (the auth request's Host).
    authority: String,
    /// Path and query of the address, used as-is.
    target: String,
    /// `scheme://authority`, to resolve a relative Location against.
    base: String,
    trust: Option<bool>,
    response_headers: Vec<HeaderName>,
    response_regex: Option<Regex>,
    request_headers: Vec<HeaderName>,
    cookies: Vec<String>,
    preserve_location: bool,
    preserve_method: bool,
    insecure: bool,
    forward_body: bool,
    max_body: Option<u64>,
    max_response_body: Option<u64>,
    signin: Option<HeaderValue>,
    /// `tls.ca`, instead of the system's roots.
    ca: Option<std::sync::Arc<pingora::protocols::tls::CaType>>,
    /// `tls.cert` and `tls.key`.
    client_cert: Option<std::sync::Arc<pingora::utils::tls::CertKey>>,
    client: Client,
}

impl std::fmt::Debug for ForwardAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardAuth")
            .field("address", &format!("{}{}", self.base, self.target))
            .finish()
    }
}

impl ForwardAuth {
    pub(crate) fn new(spec: &ForwardAuthSpec) -> Result<Self, BuildError> {
        let uri: http::Uri = spec
            .address
            .parse()
            .map_err(|e| BuildError(format!("forwardAuth address {:?}: {e}", spec.address)))?;
        let https = uri.scheme_str() == Some("https");
        let host = uri
            .host()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        Ok(ForwardAuth {
            https,
            base: format!("{}://{authority}", if https { "https" } else { "http" }),
            target: uri
                .path_and_query()
                .map_or_else(|| "/".to_string(), |p| p.to_string()),
            server: Target::new(&host, port),
            host,
            authority,
            trust: spec.trust_forward_header,
            response_headers: spec
                .auth_response_headers
                .iter()
                .map(|h| header_name(h))
                .collect::<Result<_, _>>()?,
            response_regex: spec
                .auth_response_headers_regex
                .as_deref()
                .map(regex)
                .transpose()?,
            request_headers: spec
                .auth_request_headers
                .iter()
                .map(|h| header_name(h))
                .collect::<Result<_, _>>()?,
            cookies: spec.add_auth_cookies_to_response.clone(),
            preserve_location: spec.preserve_location_header,
            preserve_method: spec.preserve_request_method,
            insecure: spec.insecure_skip_verify,
            forward_body: spec.forward_body,
            ca: spec.tls_ca.as_deref().map(ca_list).transpose()?,
            client_cert: spec
                .tls_client
                .as_ref()
                .map(|(cert, key)| client_cert(cert, key))
                .transpose()?,
            max_body: spec.max_body_size,
            max_response_body: spec.max_response_body_size,
            signin: spec
                .auth_signin_url
                .as_deref()
                .map(crate::header_value)
                .transpose()?,
            client: Client::new(),
        })
    }

    fn auth_request(
        &self,
        req: &RequestHeader,
        cx: &RequestContext,
    ) -> pingora::Result<RequestHeader> {
        let method = if self.preserve_method {
            req.method.clone()
        } else {
            Method::GET
        };
        let mut auth = RequestHeader::build(
            method,
            self.target.as_bytes(),
            Some(req.headers.len().saturating_add(SET_HEADERS)),
        )?;
        // Headers the auth request gets wharf's own values for are not copied first.
        let replaced = |n: &str| match self.trust {
            None => SET_WITHOUT_TRUST.contains(&n) || (n == "x-forwarded-for" && cx.peer.is_some()),
            Some(false) => crate::FORWARDED_HEADERS.contains(&n),
            Some(true) => false,
        };
        for (name, value) in req.headers.iter() {
            let n = name.as_str();
            if HOP_BY_HOP.contains(&n) || n == "content-length" || n == "host" || replaced(n) {
                continue;
            }
            let listed =
                self.request_headers.is_empty() || self.request_headers.iter().any(|h| h == name);
            if listed {
                // As before: the name spelt as pingora titles it, but not parsed again.
                auth.append_parsed_header(name.clone(), name, value.clone())?;
            }
        }
        auth.insert_parsed_header(http::header::HOST, "Host", self.authority.as_str())?;
        // The values are made without formatting, and shared or static where they can be.
        let peer = cx.peer.map(|ip| IpText::new(ip.to_canonical()));
        let proto = if cx.tls { "https" } else { "http" };
        let host = request_host(req);
        let host_value = host_value(req);
        let uri = HeaderValue::from_str(
            req.uri
                .path_and_query()
                .map_or_else(|| req.uri.path(), |p| p.as_str()),
        )
        .explain_err(InvalidHTTPHeader, |_| "invalid forwarded URI")?;
        let method = method_value(&req.method)?;
        match self.trust {
            None => {
                if let Some(ip) = &peer {
                    auth.insert_parsed_header(X_FORWARDED_FOR, wire::X_FORWARDED_FOR, ip.as_str())?;
                }
                let proto = HeaderValue::from_static(proto);
                auth.insert_parsed_header(X_FORWARDED_PROTO, wire::X_FORWARDED_PROTO, proto)?;
                auth.insert_parsed_header(X_FORWARDED_METHOD, wire::X_FORWARDED_METHOD, method)?;
                auth.insert_parsed_header(X_FORWARDED_HOST, wire::X_FORWARDED_HOST, host_value)?;
                auth.insert_parsed_header(X_FORWARDED_URI, wire::X_FORWARDED_URI, uri)?;
            }
            Some(trust) => {
                let absent =
                    |auth: &RequestHeader, h: &HeaderName| !trust || !auth.headers.contains_key(h);
                if let Some(ip) = &peer {
                    let xff = match auth
                        .headers
                        .get(&X_FORWARDED_FOR)
                        .and_then(|v| v.to_str().ok())
                    {
                        Some(existing) if trust && !existing.is_empty() => {
                            [existing, ip.as_str()].join(", ")
                        }
                        _ => ip.as_str().to_owned(),
                    };
                    auth.insert_parsed_header(X_FORWARDED_FOR, wire::X_FORWARDED_FOR, xff)?;
                }
                if absent(&auth, &X_FORWARDED_METHOD) {
                    auth.insert_parsed_header(
                        X_FORWARDED_METHOD,
                        wire::X_FORWARDED_METHOD,
                        method,
                    )?;
                }
                if absent(&auth, &X_FORWARDED_PROTO) {
                    let proto = HeaderValue::from_static(proto);
                    auth.insert_parsed_header(X_FORWARDED_PROTO, wire::X_FORWARDED_PROTO, proto)?;
                }
                if absent(&auth, &X_FORWARDED_PORT) {
                    let xfp = auth
                        .headers
                        .get(&X_FORWARDED_PROTO)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(proto)
                        .to_string();
                    let port = host
                        .rsplit_once(':')
                        .filter(|(h, p)| !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()))
                        .map(|(_, p)| p.to_string())
                        .unwrap_or_else(|| {
                            if xfp == "https" || xfp == "wss" {
                                "443".into()
                            } else {
                                "80".into()
                            }
                        });
                    auth.insert_parsed_header(X_FORWARDED_PORT, wire::X_FORWARDED_PORT, port)?;
                }
                if absent(&auth, &X_FORWARDED_HOST) {
                    auth.insert_parsed_header(
                        X_FORWARDED_HOST,
                        wire::X_FORWARDED_HOST,
                        host_value,
                    )?;
                }
                if absent(&auth, &X_FORWARDED_URI) {
                    auth.insert_parsed_header(X_FORWARDED_URI, wire::X_FORWARDED_URI, uri)?;
                }
            }
        }
        Ok(auth)
    }

    pub(crate) fn forwards_body(&self) -> bool {
        self.forward_body
    }

    /// The body the auth request carries (forwardBody), or the answer when it is too large.
    fn body(&self, cx: &RequestContext) -> Result<Option<Bytes>, Reply> {
        if !self.forward_body {
            return Ok(None);
        }
        let reply = |status: u16| Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        };
        let max = self.max_body.unwrap_or(u64::MAX);
        match &cx.body {
            ReadBody::Read(b) if b.len() as u64 > max => Err(reply(401)),
            ReadBody::Read(b) => Ok(Some(b.clone())),
            // Over maxBodySize: 401, as Traefik. Within it but over what wharf holds: 413.
            ReadBody::TooLarge if max < FORWARD_BODY_CAP as u64 => Err(reply(401)),
            ReadBody::TooLarge => Err(Reply {
                status: 413,
                headers: Vec::new(),
                body: Bytes::from_static(b"Request Entity Too Large"),
            }),
            ReadBody::NotRead => Ok(None),
        }
    }

    /// Sends the auth request and reads the answer with `read` (in place: the head is not
    /// copied out of the exchange).
    async fn call<R>(
        &self,
        auth: RequestHeader,
        body: Option<Bytes>,
        read: impl FnOnce(&ResponseHeader, Bytes) -> R,
    ) -> pingora::Result<R> {
        let addr = connect_addr(&self.server).await?;
        let mut peer = HttpPeer::new(addr, self.https, self.host.clone());
        peer.options.idle_timeout = Some(IDLE);
        if self.insecure {
            peer.options.verify_cert = false;
            peer.options.verify_hostname = false;
        }
        peer.options.ca = self.ca.clone();
        peer.client_cert_key = self.client_cert.clone();
        self.client.send_and_read(&peer, auth, body, read).await
    }

    /// Asks the auth server. Err(reply) answers the client; Ok lets the request through
    /// (with the auth server's identity headers applied, and its cookies kept for the response).
    pub(crate) async fn check(
        &self,
        req: &mut RequestHeader,
        cx: &mut RequestContext,
    ) -> Result<(), Reply> {
        let fail = || Reply {
            status: 500,
            headers: Vec::new(),
            body: Bytes::new(),
        };
        let sent_body = self.body(cx)?;
        let auth = self.auth_request(req, cx).map_err(|_| fail())?;
        let read = |head: &ResponseHeader, body: Bytes| self.answer(head, body, req, cx);
        match tokio::time::timeout(TIMEOUT, self.call(auth, sent_body, read)).await {
            Ok(Ok(answered)) => answered,
            Ok(Err(e)) => {
                // Traefik logs it too: every such request is refused (500).
                tracing::warn!(error = %e, auth = ?self, "forwardAuth: the auth server failed");
                Err(fail())
            }
            Err(_) => {
                tracing::warn!(auth = ?self, "forwardAuth: no answer from the auth server within {TIMEOUT:?}");
                Err(fail())
            }
        }
    }

    /// The auth server's answer: Err(reply) answers the client; Ok lets the request through,
    /// with the identity headers applied and the cookies kept for the response.
    fn answer(
        &self,
        head: &ResponseHeader,
        body: Bytes,
        req: &mut RequestHeader,
        cx: &mut RequestContext,
    ) -> Result<(), Reply> {
        let status = head.status.as_u16();
        if self
            .max_response_body
            .is_some_and(|max| body.len() as u64 > max)
        {
            return Err(Reply {
                status: 401,
                headers: Vec::new(),
                body: Bytes::new(),
            });
        }
        if let (401, Some(signin)) = (status, &self.signin) {
            return Err(Reply {
                status: 302,
                headers: vec![(http::header::LOCATION, signin.clone())],
                body: Bytes::new(),
            });
        }
        if !(200..300).contains(&status) {
            let mut headers = Vec::new();
            for (name, value) in head.headers.iter() {
                let n = name.as_str();
                if HOP_BY_HOP.contains(&n) || n == "content-length" {
                    continue;
                }
                let mut value = value.clone();
                if n == "location" && !self.preserve_location {
                    if let Ok(loc) = value.to_str() {
                        if loc.starts_with('/') && !loc.starts_with("//") {
                            if let Ok(v) = HeaderValue::from_str(&format!("{}{loc}", self.base)) {
                                value = v;
                            }
                        }
                    }
                }
                headers.push((name.clone(), value));
            }
            return Err(Reply {
                status,
                headers,
                body,
            });
        }
        for name in &self.response_headers {
            req.remove_header(name);
            for value in head.headers.get_all(name) {
                let _ignored = req.append_header(name.clone(), value.clone());
            }
        }
        if let Some(re) = &self.response_regex {
            // Go matches the canonical spelling (`X-Secret-Zone`), not the lower-case one.
            let matches = |name: &HeaderName| re.is_match(&canonical_header(name.as_str()));
            let stale: Vec<HeaderName> =
                req.headers.keys().filter(|k| matches(k)).cloned().collect();
            for k in stale {
                req.remove_header(&k);
            }
            for (name, value) in head.headers.iter() {
                if matches(name) {
                    let _ignored = req.append_header(name.clone(), value.clone());
                }
            }
        }
        if !self.cookies.is_empty() {
            for value in head.headers.get_all(http::header::SET_COOKIE) {
                let name = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.split('=').next())
                    .unwrap_or("")
                    .trim();
                if self.cookies.iter().any(|c| c == name) {
                    cx.auth_cookies.push((name.to_string(), value.clone()));
                }
            }
        }
        Ok(())
    }
}

/// [`request_host`] as a value (`request_host_value`: the Host field's own, shared), empty
/// when it is not text, as `request_host` reads it.
fn host_value(req: &RequestHeader) -> HeaderValue {
    request_host_value(req)
        .filter(|v| v.to_str().is_ok())
        .unwrap_or_else(|| HeaderValue::from_static(""))
}

/// The method as a value: static for the standard ones.
fn method_value(method: &Method) -> pingora::Result<HeaderValue> {
    let known = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => {
            return HeaderValue::from_str(method.as_str())
                .explain_err(InvalidHTTPHeader, |_| "invalid method");
        }
    };
    Ok(HeaderValue::from_static(known))
}

/// The auth server's cookies, replacing the backend's of the same names.
pub(crate) fn add_cookies(resp: &mut ResponseHeader, cookies: &[(String, HeaderValue)]) {
    if cookies.is_empty() {
        return;
    }
    let kept: Vec<HeaderValue> = resp
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter(|v| {
            let name = v
                .to_str()
                .ok()
                .and_then(|v| v.split('=').next())
                .unwrap_or("")
                .trim();
            !cookies.iter().any(|(c, _)| c == name)
        })
        .cloned()
        .collect();
    resp.remove_header("set-cookie");
    for v in kept
        .into_iter()
        .chain(cookies.iter().map(|(_, v)| v.clone()))
    {
        let _ignored = resp.append_header("Set-Cookie", v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarded_method_is_the_requests_own() {
        for m in [
            "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
        ] {
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            assert_eq!(method_value(&method).unwrap(), m);
        }
        let custom = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_value(&custom).unwrap(), "PROPFIND");
    }

    #[test]
    fn the_forwarded_host_is_the_request_host() {
        let mut origin_form = RequestHeader::build("GET", b"/p", None).unwrap();
        origin_form.insert_header("Host", "a.test:8080").unwrap();
        assert_eq!(host_value(&origin_form), "a.test:8080");

        // Absolute form: the target's authority, not the Host field.
        let mut absolute = RequestHeader::build("GET", b"/p", None).unwrap();
        absolute.set_uri("http://b.test/p".parse().unwrap());
        absolute.insert_header("Host", "a.test").unwrap();
        assert_eq!(host_value(&absolute), "b.test");

        // A Host that is not text is forwarded empty, as before.
        let mut binary = RequestHeader::build("GET", b"/p", None).unwrap();
        binary
            .insert_header("Host", HeaderValue::from_bytes(b"\xffa").unwrap())
            .unwrap();
        assert_eq!(request_host(&binary), "");
        assert_eq!(host_value(&binary), "");
        let none = RequestHeader::build("GET", b"/p", None).unwrap();
        assert_eq!(host_value(&none), "");
    }
}
