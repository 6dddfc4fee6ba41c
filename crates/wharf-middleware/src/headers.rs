//! `headers`: custom request/response headers, security headers and CORS, with Traefik's
//! layering: the custom/CORS part wraps the security part, so a preflight is answered before
//! any security header is computed and custom response headers override the others.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::http::{RequestHeader, ResponseHeader};
use regex::Regex;
use wharf_model::HeadersSpec;

use crate::{
    header_name, header_value, regex, request_host, BuildError, Flow, Middleware, Reply,
    RequestContext,
};

/// A header to set, or (None) to remove.
type Edit = (HeaderName, Option<HeaderValue>);

#[derive(Debug)]
struct Cors {
    allow_credentials: bool,
    allow_headers: Vec<String>,
    allow_methods: Vec<String>,
    origins: Vec<String>,
    origin_regexes: Vec<Regex>,
    expose_headers: Vec<String>,
    max_age: Option<i64>,
    add_vary: bool,
}

#[derive(Debug)]
pub(crate) struct Headers {
    request_edits: Vec<Edit>,
    response_edits: Vec<Edit>,
    /// Security headers, always sent.
    secure: Vec<(HeaderName, HeaderValue)>,
    /// `Strict-Transport-Security`, sent on HTTPS requests (or always, when forced).
    sts: Option<HeaderValue>,
    force_sts: bool,
    allowed_hosts: Vec<String>,
    hosts_proxy_headers: Vec<HeaderName>,
    ssl_proxy_headers: Vec<(HeaderName, String)>,
    cors: Option<Cors>,
    removes_xff: bool,
}

fn edits(list: &[(String, String)]) -> Result<Vec<Edit>, BuildError> {
    list.iter()
        .map(|(k, v)| {
            let value = if v.is_empty() {
                None
            } else {
                Some(header_value(v)?)
            };
            Ok((header_name(k)?, value))
        })
        .collect()
}

impl Headers {
    pub(crate) fn new(spec: &HeadersSpec) -> Result<Self, BuildError> {
        let mut secure = Vec::new();
        let mut add = |name: &'static str, value: &str| -> Result<(), BuildError> {
            secure.push((HeaderName::from_static(name), header_value(value)?));
            Ok(())
        };
        if let Some(v) = &spec.custom_frame_options_value {
            add("x-frame-options", v)?;
        } else if spec.frame_deny {
            add("x-frame-options", "DENY")?;
        }
        if spec.content_type_nosniff {
            add("x-content-type-options", "nosniff")?;
        }
        if let Some(v) = &spec.custom_browser_xss_value {
            add("x-xss-protection", v)?;
        } else if spec.browser_xss_filter {
            add("x-xss-protection", "1; mode=block")?;
        }
        if let Some(v) = &spec.content_security_policy {
            add("content-security-policy", v)?;
        }
        if let Some(v) = &spec.content_security_policy_report_only {
            add("content-security-policy-report-only", v)?;
        }
        if let Some(v) = &spec.referrer_policy {
            add("referrer-policy", v)?;
        }
        if let Some(v) = &spec.permissions_policy {
            add("permissions-policy", v)?;
        }
        if let Some(v) = &spec.public_key {
            add("public-key-pins", v)?;
        }
        let sts = (spec.sts_seconds > 0 && !spec.is_development)
            .then(|| {
                let mut v = format!("max-age={}", spec.sts_seconds);
                if spec.sts_include_subdomains {
                    v.push_str("; includeSubDomains");
                }
                if spec.sts_preload {
                    v.push_str("; preload");
                }
                header_value(&v)
            })
            .transpose()?;
        let cors = spec
            .cors
            .as_ref()
            .map(|c| -> Result<Cors, BuildError> {
                Ok(Cors {
                    allow_credentials: c.allow_credentials,
                    allow_headers: c.allow_headers.clone(),
                    allow_methods: c.allow_methods.clone(),
                    origins: c.allow_origin_list.clone(),
                    origin_regexes: c
                        .allow_origin_list_regex
                        .iter()
                        .map(|r| regex(r))
                        .collect::<Result<_, _>>()?,
                    expose_headers: c.expose_headers.clone(),
                    max_age: c.max_age,
                    add_vary: c.add_vary_header,
                })
            })
            .transpose()?;
        let request_edits = edits(&spec.custom_request_headers)?;
        let removes_xff = request_edits
            .iter()
            .any(|(n, v)| n == "x-forwarded-for" && v.is_none());
        Ok(Headers {
            request_edits,
            response_edits: edits(&spec.custom_response_headers)?,
            secure,
            sts,
            force_sts: spec.force_sts_header,
            allowed_hosts: if spec.is_development {
                Vec::new()
            } else {
                spec.allowed_hosts.clone()
            },
            hosts_proxy_headers: spec
                .hosts_proxy_headers
                .iter()
                .map(|h| header_name(h))
                .collect::<Result<_, _>>()?,
            ssl_proxy_headers: spec
                .ssl_proxy_headers
                .iter()
                .map(|(k, v)| Ok((header_name(k)?, v.clone())))
                .collect::<Result<_, BuildError>>()?,
            cors,
            removes_xff,
        })
    }

    fn is_https(&self, req: &RequestHeader, cx: &RequestContext) -> bool {
        cx.tls
            || self.ssl_proxy_headers.iter().any(|(name, want)| {
                req.headers
                    .get(name)
                    .is_some_and(|v| v.as_bytes() == want.as_bytes())
            })
    }

    fn host_allowed(&self, req: &RequestHeader) -> bool {
        if self.allowed_hosts.is_empty() {
            return true;
        }
        let mut host = request_host(req).to_string();
        for h in &self.hosts_proxy_headers {
            if let Some(v) = req.headers.get(h).and_then(|v| v.to_str().ok()) {
                host = v.to_string();
                break;
            }
        }
        self.allowed_hosts.iter().any(|a| a == &host)
    }
}

fn apply(resp: &mut ResponseHeader, edits: &[Edit]) {
    for (name, value) in edits {
        match value {
            Some(v) => {
                let _ignored = resp.insert_header(name.clone(), v.clone());
            }
            None => {
                resp.remove_header(name);
            }
        }
    }
}

impl Cors {
    /// The Access-Control-Allow-Origin value for this Origin, if it is allowed.
    fn allow_origin(&self, origin: Option<&str>) -> Option<String> {
        if self.origins.iter().any(|o| o == "*") {
            return Some(match (self.allow_credentials, origin) {
                (true, Some(o)) => o.to_string(),
                _ => "*".to_string(),
            });
        }
        let origin = origin?;
        if self.origins.iter().any(|o| o == origin)
            || self.origin_regexes.iter().any(|r| r.is_match(origin))
        {
            return Some(origin.to_string());
        }
        None
    }

    fn expose(&self) -> Option<String> {
        if self.expose_headers.is_empty()
            || (self.allow_credentials && self.expose_headers.iter().any(|h| h == "*"))
        {
            return None;
        }
        Some(self.expose_headers.join(","))
    }

    fn preflight(&self, req: &RequestHeader) -> Reply {
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
        let mut push = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.push((HeaderName::from_static(name), v));
            }
        };
        let text = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if self.allow_credentials {
            push("access-control-allow-credentials", "true".into());
        }
        if !self.allow_headers.is_empty() {
            let value = if self.allow_credentials && self.allow_headers.iter().any(|h| h == "*") {
                text("access-control-request-headers").unwrap_or_default()
            } else {
                self.allow_headers.join(",")
            };
            push("access-control-allow-headers", value);
        }
        if !self.allow_methods.is_empty() {
            let value = if self.allow_credentials && self.allow_methods.iter().any(|m| m == "*") {
                text("access-control-request-method").unwrap_or_default()
            } else {
                self.allow_methods.join(",")
            };
            push("access-control-allow-methods", value);
        }
        if let Some(origin) = self.allow_origin(text("origin").as_deref()) {
            push("access-control-allow-origin", origin);
        }
        if let Some(age) = self.max_age {
            push("access-control-max-age", age.to_string());
        }
        if let Some(expose) = self.expose() {
            push("access-control-expose-headers", expose);
        }
        Reply {
            status: 200,
            headers,
            body: Bytes::new(),
        }
    }

    fn decorate(&self, resp: &mut ResponseHeader, req: &RequestHeader) {
        let origin = req
            .headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        if let Some(allow) = self.allow_origin(origin) {
            let _ignored = resp.insert_header("Access-Control-Allow-Origin", allow);
        }
        if self.allow_credentials {
            let _ignored = resp.insert_header("Access-Control-Allow-Credentials", "true");
        }
        if let Some(expose) = self.expose() {
            let _ignored = resp.insert_header("Access-Control-Expose-Headers", expose);
        }
        if self.add_vary {
            let current: Vec<String> = resp
                .headers
                .get_all(http::header::VARY)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect();
            if current.len() != 1 || current[0] != "Origin" {
                let _ignored = resp.append_header("Vary", "Origin");
            }
        }
    }
}

impl Middleware for Headers {
    fn request(&self, req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        if let Some(cors) = &self.cors {
            let preflight = req.method == http::Method::OPTIONS
                && req.headers.contains_key(http::header::ORIGIN)
                && req
                    .headers
                    .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD);
            if preflight {
                return Flow::Respond(cors.preflight(req));
            }
        }
        if !self.host_allowed(req) {
            // Go's http.Error.
            return Flow::Respond(Reply {
                status: 500,
                headers: vec![
                    (
                        HeaderName::from_static("content-type"),
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    ),
                    (
                        HeaderName::from_static("x-content-type-options"),
                        HeaderValue::from_static("nosniff"),
                    ),
                ],
                body: Bytes::from_static(b"Bad Host\n"),
            });
        }
        for (name, value) in &self.request_edits {
            match value {
                Some(v) => {
                    let _ignored = req.insert_header(name.clone(), v.clone());
                }
                None => {
                    req.remove_header(name);
                }
            }
        }
        Flow::Continue
    }

    fn response(&self, resp: &mut ResponseHeader, req: &RequestHeader, cx: &RequestContext) {
        for (name, value) in &self.secure {
            let _ignored = resp.insert_header(name.clone(), value.clone());
        }
        if let Some(sts) = &self.sts {
            if self.force_sts || self.is_https(req, cx) {
                let _ignored = resp.insert_header("Strict-Transport-Security", sts.clone());
            }
        }
        apply(resp, &self.response_edits);
        if let Some(cors) = &self.cors {
            cors.decorate(resp, req);
        }
    }

    fn removes_forwarded_for(&self) -> bool {
        self.removes_xff
    }
}
