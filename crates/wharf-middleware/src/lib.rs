//! Traefik's HTTP middlewares, built once per configuration generation (regexes compiled,
//! header names parsed) into [`Chain`]s the request path runs without allocating regexes or
//! reading configuration.
//!
//! A middleware acts in two places: on the request, where it may rewrite it or answer it
//! itself ([`Flow::Respond`]); and on the response, where it decorates headers. Like Traefik,
//! response decoration also applies to answers wharf writes itself (404s, 502s, redirects).

mod access;
mod breaker;
mod chain;
mod compress;
mod digest;
mod errors;
mod forward_auth;
#[doc(hidden)]
pub mod fuzz_logic;
mod grpc_web;
mod headers;
mod pass_cert;
pub use pass_cert::subject_string;
mod paths;
mod redirects;
mod shared_rate;
mod subrequest;
mod traffic;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::http::{RequestHeader, ResponseHeader};
use wharf_model::MiddlewareKind;

pub use breaker::CircuitBreaker;
pub use chain::{boxed_in_place, Chain};
pub use compress::{CompressModule, CompressModuleBuilder, CompressPolicy, Encoding, Negotiation};
pub use errors::ErrorPages;
pub use grpc_web::{GrpcWeb, GrpcWebModule, GrpcWebModuleBuilder, TextDecoder};
pub use shared_rate::redis_rate_limit_fallbacks;
pub use subrequest::connect_addr;

/// Names of forwarded headers, parsed once: a lookup by `&str` parses (and lower-cases) the
/// name every time.
pub mod forwarded_names {
    use http::HeaderName;
    pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    pub const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
    pub const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
    pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    pub const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
    pub const X_FORWARDED_SERVER: HeaderName = HeaderName::from_static("x-forwarded-server");
    pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

    /// How Traefik (Go's canonical form) writes each on the wire, for pingora's
    /// `insert_parsed_header`, which neither parses nor allocates the name.
    pub mod wire {
        pub const X_FORWARDED_FOR: &str = "X-Forwarded-For";
        pub const X_FORWARDED_HOST: &str = "X-Forwarded-Host";
        pub const X_FORWARDED_METHOD: &str = "X-Forwarded-Method";
        pub const X_FORWARDED_PORT: &str = "X-Forwarded-Port";
        pub const X_FORWARDED_PROTO: &str = "X-Forwarded-Proto";
        pub const X_FORWARDED_SERVER: &str = "X-Forwarded-Server";
        pub const X_FORWARDED_URI: &str = "X-Forwarded-Uri";
        pub const X_REAL_IP: &str = "X-Real-Ip";
    }
}

/// The X-Forwarded headers Traefik manages (and strips from untrusted peers).
pub const FORWARDED_HEADERS: &[&str] = &[
    "x-forwarded-proto",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-forwarded-uri",
    "x-forwarded-method",
    "x-forwarded-prefix",
    "x-forwarded-tls-client-cert",
    "x-forwarded-tls-client-cert-info",
    "x-real-ip",
];

/// A complete answer written by a middleware instead of proxying.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

/// What a middleware decides about a request.
#[derive(Debug)]
pub enum Flow {
    Continue,
    Respond(Reply),
}

/// What a middleware may look at besides the request itself, and what it leaves for the
/// response.
#[derive(Debug, Default)]
pub struct RequestContext {
    /// The downstream connection is TLS.
    pub tls: bool,
    /// The TCP peer.
    pub peer: Option<std::net::IpAddr>,
    /// The client's TLS certificate chain (mutual TLS), leaf first.
    pub client_certificates: Option<Arc<[rustls_pki_types::CertificateDer<'static>]>>,
    /// Cookies a forwardAuth server asked to add to the final response, by name.
    pub auth_cookies: Vec<(String, HeaderValue)>,
    /// inFlightReq slots held until the request ends.
    pub in_flight: Vec<traffic::InFlightGuard>,
    /// circuitBreakers that let the request through, and when: the proxy records the outcome.
    pub breakers: Vec<(Arc<CircuitBreaker>, std::time::Instant)>,
    /// The request body, when a forwardAuth of the chain forwards it.
    pub body: ReadBody,
    /// A grpcWeb middleware translated this call.
    pub grpc_web: bool,
    /// The decoder of a base64 (`-text`) gRPC-Web call's body.
    pub grpc_web_text: Option<TextDecoder>,
    /// The user basicAuth or digestAuth authenticated (the access log's `ClientUsername`).
    pub username: Option<String>,
}

/// The request body, read ahead by the proxy when a forwardAuth sends it (`forwardBody`).
#[derive(Debug, Default)]
pub enum ReadBody {
    #[default]
    NotRead,
    Read(Bytes),
    /// Longer than [`FORWARD_BODY_CAP`]: not kept.
    TooLarge,
}

/// The most wharf holds of a request body for forwardAuth (pingora replays up to this much
/// to the backend afterwards).
pub const FORWARD_BODY_CAP: usize = 64 * 1024;

/// One compiled middleware.
pub trait Middleware: Send + Sync + std::fmt::Debug {
    /// Rewrites the request, or answers it.
    fn request(&self, _req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        Flow::Continue
    }

    /// What the chain calls: [`Middleware::request`], for the middlewares that also leave
    /// something for the rest of the request in `cx` (the authenticated user).
    fn request_recording(&self, req: &mut RequestHeader, cx: &mut RequestContext) -> Flow {
        self.request(req, cx)
    }

    /// Decorates a response (the backend's, or one wharf wrote).
    fn response(&self, _resp: &mut ResponseHeader, _req: &RequestHeader, _cx: &RequestContext) {}

    /// Whether this middleware removes X-Forwarded-For, so the proxy must not append it.
    fn removes_forwarded_for(&self) -> bool {
        false
    }

    /// The request side, for a middleware that waits for something (an HTTP call, a Redis
    /// round trip): the chain awaits it instead of calling [`Middleware::request`].
    fn request_async(&self) -> Option<&dyn AsyncRequest> {
        None
    }

    /// forwardAuth, which may need the request body read first.
    fn forward_auth(&self) -> Option<&forward_auth::ForwardAuth> {
        None
    }

    /// inFlightReq, which holds a slot in the request's context until the request ends.
    fn in_flight(&self) -> Option<&traffic::InFlightReq> {
        None
    }

    /// retry: when the proxy may try another server.
    fn retry(&self) -> Option<Arc<RetryPolicy>> {
        None
    }

    /// buffering: the largest request body allowed (413 above it).
    fn max_request_body(&self) -> Option<u64> {
        None
    }

    /// buffering: the largest response body allowed (500 above it).
    fn max_response_body(&self) -> Option<u64> {
        None
    }

    /// compress: negotiated on the request, applied to the response by [`CompressModule`].
    fn compress(&self) -> Option<Arc<CompressPolicy>> {
        None
    }

    /// circuitBreaker: decides on the request, records the outcome when it ends.
    fn circuit_breaker(&self) -> Option<&Arc<CircuitBreaker>> {
        None
    }

    /// grpcWeb: which requests the proxy translates.
    fn grpc_web(&self) -> Option<&GrpcWeb> {
        None
    }

    /// errors: the pages that replace some responses.
    fn error_pages(&self) -> Option<Arc<ErrorPages>> {
        None
    }
}

/// `buffering`'s limits, enforced by the proxy: a request body over its limit gets 413 (from
/// Content-Length, or the bytes received), a response body over its limit 500.
#[derive(Debug)]
struct BodyLimit {
    request: Option<u64>,
    response: Option<u64>,
}

impl Middleware for BodyLimit {
    fn max_request_body(&self) -> Option<u64> {
        self.request
    }

    fn max_response_body(&self) -> Option<u64> {
        self.response
    }
}

/// The `retry` middleware's policy, applied by the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts, the first included.
    pub attempts: u32,
    /// The first backoff, doubled each time.
    pub initial_interval: std::time::Duration,
    /// No new attempt once this long has passed since the first.
    pub timeout: Option<std::time::Duration>,
    /// A larger request body is not resent.
    pub max_request_body: u64,
    /// Answers with these statuses are retried too.
    pub status: Vec<(u16, u16)>,
    /// Whether failing to reach a server is retried.
    pub on_network_error: bool,
    /// Whether POST, PATCH and LOCK are resent.
    pub non_idempotent: bool,
}

impl RetryPolicy {
    /// Whether a request with this method may be sent again.
    pub fn resends(&self, method: &http::Method) -> bool {
        self.non_idempotent || !matches!(method.as_str(), "POST" | "PATCH" | "LOCK")
    }

    /// Whether an answer with this status is retried.
    pub fn retries_status(&self, status: u16) -> bool {
        self.status
            .iter()
            .any(|(from, to)| (*from..=*to).contains(&status))
    }
}

#[derive(Debug)]
struct RetryMiddleware(Arc<RetryPolicy>);

impl Middleware for RetryMiddleware {
    fn retry(&self) -> Option<Arc<RetryPolicy>> {
        Some(self.0.clone())
    }
}

/// A middleware that does nothing: a limit of 0 (no limit), or one that has nothing to act on
/// yet (contentType, passTLSClientCert).
#[derive(Debug)]
struct Unlimited;

impl Middleware for Unlimited {}

/// The asynchronous request side of a middleware ([`Middleware::request_async`]).
#[async_trait::async_trait]
pub trait AsyncRequest: Send + Sync {
    async fn run(&self, req: &mut RequestHeader, cx: &mut RequestContext) -> Flow;
}

#[async_trait::async_trait]
impl AsyncRequest for forward_auth::ForwardAuth {
    async fn run(&self, req: &mut RequestHeader, cx: &mut RequestContext) -> Flow {
        // Boxed in place: the check's state (an HTTP client call, ~11 KiB) is made in its
        // box rather than copied there.
        match chain::boxed_in_place(|| self.check(req, cx)).await {
            Ok(()) => Flow::Continue,
            Err(reply) => Flow::Respond(reply),
        }
    }
}

impl Middleware for forward_auth::ForwardAuth {
    fn response(&self, resp: &mut ResponseHeader, _req: &RequestHeader, cx: &RequestContext) {
        forward_auth::add_cookies(resp, &cx.auth_cookies);
    }

    fn request_async(&self) -> Option<&dyn AsyncRequest> {
        Some(self)
    }

    fn forward_auth(&self) -> Option<&forward_auth::ForwardAuth> {
        Some(self)
    }
}

/// A middleware that could not be built (validation should have caught it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

/// Builds the middleware `name` (chains are flattened by the caller).
pub fn build(name: &str, kind: &MiddlewareKind) -> Result<Arc<dyn Middleware>, BuildError> {
    Ok(match kind {
        MiddlewareKind::Headers(spec) => Arc::new(headers::Headers::new(spec)?),
        MiddlewareKind::StripPrefix { prefixes } => Arc::new(paths::StripPrefix::new(prefixes)),
        MiddlewareKind::StripPrefixRegex { regexes } => {
            Arc::new(paths::StripPrefixRegex::new(regexes)?)
        }
        MiddlewareKind::AddPrefix { prefix } => Arc::new(paths::AddPrefix::new(prefix)),
        MiddlewareKind::ReplacePath { path } => Arc::new(paths::ReplacePath::new(path)),
        MiddlewareKind::ReplacePathRegex { regex, replacement } => {
            Arc::new(paths::ReplacePathRegex::new(regex, replacement)?)
        }
        MiddlewareKind::RedirectScheme {
            scheme,
            port,
            permanent,
        } => Arc::new(redirects::RedirectScheme::new(
            scheme,
            port.as_deref(),
            *permanent,
        )),
        MiddlewareKind::RedirectRegex {
            regex,
            replacement,
            permanent,
        } => Arc::new(redirects::RedirectRegex::new(
            regex,
            replacement,
            *permanent,
        )?),
        MiddlewareKind::ForwardAuth(spec) => Arc::new(forward_auth::ForwardAuth::new(spec)?),
        MiddlewareKind::IpAllowList {
            source_range,
            depth,
            excluded_ips,
            ipv6_subnet,
            reject_status,
        } => Arc::new(access::IpAllowList::new(
            source_range,
            access::ClientIp::new(*depth, excluded_ips, *ipv6_subnet)?,
            *reject_status,
        )?),
        MiddlewareKind::RateLimit {
            average,
            period_ms,
            burst,
            source,
            redis: None,
        } => match traffic::RateLimit::new(*average, *period_ms, *burst, source)? {
            Some(m) => Arc::new(m),
            None => Arc::new(Unlimited),
        },
        MiddlewareKind::RateLimit {
            average,
            period_ms,
            burst,
            source,
            redis: Some(redis),
        } => match shared_rate::SharedRateLimit::new(
            name, *average, *period_ms, *burst, source, redis,
        )? {
            Some(m) => Arc::new(m),
            None => Arc::new(Unlimited),
        },
        MiddlewareKind::InFlightReq { amount, source } => {
            match traffic::InFlightReq::new(*amount, source)? {
                Some(m) => Arc::new(m),
                None => Arc::new(Unlimited),
            }
        }
        MiddlewareKind::Retry(spec) => Arc::new(RetryMiddleware(Arc::new(RetryPolicy {
            attempts: u32::try_from(spec.attempts).unwrap_or(u32::MAX).max(1),
            initial_interval: std::time::Duration::from_millis(spec.initial_interval_ms),
            timeout: (spec.timeout_ms > 0)
                .then(|| std::time::Duration::from_millis(spec.timeout_ms)),
            max_request_body: spec.max_request_body_bytes,
            status: spec.status.clone(),
            on_network_error: !spec.disable_retry_on_network_error,
            non_idempotent: spec.retry_non_idempotent_method,
        }))),
        MiddlewareKind::EncodedCharacters {
            slash,
            back_slash,
            null_character,
            semicolon,
            percent,
            question_mark,
            hash,
        } => Arc::new(paths::EncodedCharacters::new([
            (b'/', *slash),
            (b'\\', *back_slash),
            (0, *null_character),
            (b';', *semicolon),
            (b'%', *percent),
            (b'?', *question_mark),
            (b'#', *hash),
        ])),
        MiddlewareKind::Buffering {
            max_request_body_bytes,
            max_response_body_bytes,
        } => {
            let limit = |v: i64| u64::try_from(v).ok().filter(|v| *v > 0);
            match (
                limit(*max_request_body_bytes),
                limit(*max_response_body_bytes),
            ) {
                (None, None) => Arc::new(Unlimited),
                (request, response) => Arc::new(BodyLimit { request, response }),
            }
        }
        MiddlewareKind::DigestAuth {
            users,
            realm,
            remove_header,
            header_field,
        } => Arc::new(digest::DigestAuth::new(
            users,
            realm,
            *remove_header,
            header_field.as_deref(),
        )?),
        MiddlewareKind::BasicAuth {
            users,
            realm,
            remove_header,
            header_field,
        } => Arc::new(access::BasicAuth::new(
            users,
            realm,
            *remove_header,
            header_field.as_deref(),
        )?),
        MiddlewareKind::Compress(spec) => Arc::new(compress::Compress::new(spec)?),
        MiddlewareKind::Chain { .. } => {
            return Err(BuildError("chains are flattened, not built".into()))
        }
        MiddlewareKind::ContentType => Arc::new(Unlimited),
        MiddlewareKind::PassTlsClientCert(spec) => {
            Arc::new(pass_cert::PassTlsClientCert((**spec).clone()))
        }
        MiddlewareKind::GrpcWeb { allow_origins } => Arc::new(GrpcWeb::new(allow_origins)),
        MiddlewareKind::CircuitBreaker(spec) => {
            Arc::new(breaker::Breaker(Arc::new(CircuitBreaker::new(spec))))
        }
        MiddlewareKind::Errors(_) => {
            return Err(BuildError(
                "errors middlewares are built with their service's pool".into(),
            ))
        }
    })
}

/// Builds an `errors` middleware for this generation's pool of its page service.
pub fn build_errors(
    spec: &wharf_model::ErrorsSpec,
    pool: Arc<wharf_upstream::ServicePool>,
) -> Result<Arc<dyn Middleware>, BuildError> {
    Ok(Arc::new(errors::Errors(Arc::new(ErrorPages::new(
        spec, pool,
    )?))))
}

pub(crate) fn regex(re: &str) -> Result<regex::Regex, BuildError> {
    regex::Regex::new(re).map_err(|e| BuildError(format!("invalid regex {re:?}: {e}")))
}

pub(crate) fn header_name(name: &str) -> Result<HeaderName, BuildError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|e| BuildError(format!("header {name:?}: {e}")))
}

pub(crate) fn header_value(value: &str) -> Result<HeaderValue, BuildError> {
    HeaderValue::from_str(value).map_err(|e| BuildError(format!("header value {value:?}: {e}")))
}

/// The request host as Go's `req.Host` has it: the absolute-form authority, else `Host`.
pub fn request_host(req: &RequestHeader) -> &str {
    req.uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            req.headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
        })
        .unwrap_or("")
}

/// [`request_host`] as a header value: the Host header's own (shared, not copied), or a copy
/// of the URI's authority (absolute form, HTTP/2).
pub fn request_host_value(req: &RequestHeader) -> Option<HeaderValue> {
    match req.uri.authority() {
        Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
        None => req.headers.get(http::header::HOST).cloned(),
    }
}

/// The Content-Length a message declares, if it declares a valid one.
pub fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// `host:port` -> `host`, `[v6]:port` -> `[v6]`; the case is kept.
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

pub(crate) use wharf_model::canonical_header;

/// Replaces the request path, keeping the query.
pub(crate) fn set_path(req: &mut RequestHeader, path: &str) {
    let target = match req.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    if let Ok(uri) = target.parse::<http::Uri>() {
        req.set_uri(uri);
    }
}

/// Go's `http.StatusText` for the codes middlewares produce.
pub(crate) fn status_text(code: u16) -> &'static str {
    match code {
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        500 => "Internal Server Error",
        _ => "",
    }
}
