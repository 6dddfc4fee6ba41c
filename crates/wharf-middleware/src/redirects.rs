//! redirectScheme and redirectRegex.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::http::RequestHeader;
use regex::Regex;

use crate::{
    regex, request_host, status_text, strip_port, BuildError, Flow, Middleware, Reply,
    RequestContext,
};

fn redirect(location: &str, permanent: bool, method: &http::Method) -> Flow {
    let get = method == http::Method::GET;
    let status = match (permanent, get) {
        (true, true) => 301,
        (true, false) => 308,
        (false, true) => 302,
        (false, false) => 307,
    };
    let Ok(location) = HeaderValue::from_str(location) else {
        return Flow::Continue;
    };
    Flow::Respond(Reply {
        status,
        headers: vec![(HeaderName::from_static("location"), location)],
        body: Bytes::from_static(status_text(status).as_bytes()),
    })
}

/// The request's scheme as Traefik sees it: X-Forwarded-Proto (already trusted or set by the
/// entrypoint), else the connection's.
fn scheme(req: &RequestHeader, cx: &RequestContext) -> String {
    req.headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_else(|| {
            if cx.tls {
                "https".into()
            } else {
                "http".into()
            }
        })
}

#[derive(Debug)]
pub(crate) struct RedirectScheme {
    scheme: String,
    port: Option<String>,
    permanent: bool,
}

impl RedirectScheme {
    pub(crate) fn new(scheme: &str, port: Option<&str>, permanent: bool) -> Self {
        RedirectScheme {
            scheme: scheme.to_ascii_lowercase(),
            port: port.map(str::to_string),
            permanent,
        }
    }
}

impl Middleware for RedirectScheme {
    fn request(&self, req: &mut RequestHeader, cx: &RequestContext) -> Flow {
        let current = scheme(req, cx);
        let same = current == self.scheme
            || (self.scheme == "https" && current == "wss")
            || (self.scheme == "http" && current == "ws");
        if same {
            return Flow::Continue;
        }
        let host = strip_port(request_host(req));
        let mut location = format!("{}://{host}", self.scheme);
        if let Some(port) = &self.port {
            let default = (self.scheme == "https" && port == "443")
                || (self.scheme == "http" && port == "80");
            if !default {
                location.push(':');
                location.push_str(port);
            }
        }
        location.push_str(req.uri.path());
        if let Some(q) = req.uri.query() {
            location.push('?');
            location.push_str(q);
        }
        redirect(&location, self.permanent, &req.method)
    }
}

#[derive(Debug)]
pub(crate) struct RedirectRegex {
    regex: Regex,
    replacement: String,
    permanent: bool,
}

impl RedirectRegex {
    pub(crate) fn new(re: &str, replacement: &str, permanent: bool) -> Result<Self, BuildError> {
        Ok(RedirectRegex {
            regex: regex(re)?,
            replacement: replacement.to_string(),
            permanent,
        })
    }
}

impl Middleware for RedirectRegex {
    fn request(&self, req: &mut RequestHeader, cx: &RequestContext) -> Flow {
        let target = req
            .uri
            .path_and_query()
            .map_or_else(|| req.uri.path().to_string(), |p| p.to_string());
        let url = format!("{}://{}{target}", scheme(req, cx), request_host(req));
        if !self.regex.is_match(&url) {
            return Flow::Continue;
        }
        let location = self
            .regex
            .replace(&url, self.replacement.as_str())
            .into_owned();
        redirect(&location, self.permanent, &req.method)
    }
}
