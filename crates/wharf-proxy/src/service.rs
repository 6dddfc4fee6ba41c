//! [`EntryPointProxy`]: the `ProxyHttp` implementation for one entrypoint.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::Version;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::HttpModules;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{ErrorSource, ErrorType};
use wharf_middleware::{
    content_length, request_host, request_host_value, strip_port, Chain, CompressModuleBuilder,
    GrpcWebModuleBuilder, RequestContext,
};
use wharf_model::{ForwardedHeaders, UnderscoreHeaders};
use wharf_router::{ControlStatus, Generation, GenerationReader, RouteAction};
use wharf_rule::{
    normalize_escapes, normalize_request_host, routing_path, sanitize_path, RequestView,
};
use wharf_upstream::ServiceNode;

use crate::ctx::{InFlight, RequestCtx};
use crate::edge::TlsInfo;
use crate::forwarded;
use crate::headers::Headers;
use crate::responses::{self, respond, status_text};
use crate::shutdown::Lifecycle;
use wharf_tls::AcmeChallenges;

/// What the proxy needs to know about its entrypoint (resolved from static config at start).
#[derive(Debug, Clone)]
pub struct EntryPointSettings {
    pub name: String,
    /// Position in the generation's entrypoint list.
    pub index: usize,
    pub forwarded: ForwardedHeaders,
    pub read_timeout: Duration,
    pub idle_timeout: Duration,
    /// Zero: no limit.
    pub write_timeout: Duration,
    /// What `/ping` answers once shutdown has begun.
    pub ping_terminating_status: u16,
    /// `http.underscoreHeadersStrategy`.
    pub underscore_headers: UnderscoreHeaders,
}

pub struct EntryPointProxy {
    pub(crate) settings: EntryPointSettings,
    /// `forwardedHeaders.connection`, parsed once.
    pub(crate) connection_headers: Vec<http::HeaderName>,
    reader: GenerationReader,
    pub(crate) lifecycle: Lifecycle,
    control: Arc<ControlStatus>,
    /// This machine's hostname as the X-Forwarded-Server value (None: not a valid value).
    pub(crate) forwarded_server: Option<http::HeaderValue>,
    /// Answers to ACME HTTP-01 challenges in flight.
    challenges: Arc<AcmeChallenges>,
    /// Prometheus metrics (None: off), and this entrypoint's part of them.
    pub(crate) metrics: Option<Arc<wharf_observe::Metrics>>,
    entry_point_metrics: Option<Arc<wharf_observe::EntryPointMetrics>>,
    /// The access log (None: off).
    access_log: Option<Arc<wharf_observe::access_log::AccessLog>>,
    /// The entrypoint's name, shared by its log entries.
    entry_point_name: Arc<str>,
}

impl EntryPointProxy {
    pub fn new(
        settings: EntryPointSettings,
        reader: GenerationReader,
        lifecycle: Lifecycle,
        control: Arc<ControlStatus>,
        hostname: Arc<str>,
        challenges: Arc<AcmeChallenges>,
    ) -> Self {
        let settings_name = settings.name.clone();
        EntryPointProxy {
            connection_headers: settings
                .forwarded
                .connection
                .iter()
                .filter_map(|n| http::HeaderName::from_bytes(n.as_bytes()).ok())
                .collect(),
            settings,
            reader,
            lifecycle,
            control,
            forwarded_server: http::HeaderValue::from_str(&hostname).ok(),
            challenges,
            metrics: None,
            entry_point_metrics: None,
            access_log: None,
            entry_point_name: Arc::from(settings_name.as_str()),
        }
    }

    /// Records each request in the access log.
    pub fn with_access_log(mut self, log: Arc<wharf_observe::access_log::AccessLog>) -> Self {
        self.access_log = Some(log);
        self
    }

    fn log_internals(&self) -> bool {
        self.access_log
            .as_ref()
            .is_some_and(|l| l.config().add_internals)
    }

    /// Counts this entrypoint's requests (and serves `/metrics` where routed).
    pub fn with_metrics(mut self, metrics: Arc<wharf_observe::Metrics>) -> Self {
        self.entry_point_metrics = metrics.entry_point(self.settings.index).cloned();
        self.metrics = Some(metrics);
        self
    }

    fn add_internals(&self) -> bool {
        self.metrics
            .as_ref()
            .is_some_and(|m| m.settings().add_internals)
    }
}

/// Where a routed request goes after its middlewares.
pub(crate) enum Target {
    Service(ServiceNode),
    Internal(wharf_model::InternalService),
}

const TEXT: Option<&str> = Some("text/plain; charset=utf-8");

/// What request_filter decided, computed while the request is borrowed.
enum Decision {
    NotFound,
    /// An ACME HTTP-01 challenge's key authorization (`None`: no such token).
    AcmeHttp(Option<String>),
    /// TLS: the Host maps to other TLS options than the SNI did (domain fronting).
    Misdirected,
    BadRequest(&'static [u8]),
    Ping,
    /// `/health`, `/health/live` (`Ok`) or `/health/ready`.
    Health(Result<(), String>),
    Api(wharf_router::ApiAnswer),
    /// `prometheus@internal`'s own router.
    Metrics,
    /// `dashboard@internal`'s own router.
    Dashboard,
    Redirect {
        status: u16,
        location: String,
    },
    Forward {
        target: Target,
        chain: Arc<Chain>,
    },
}

pub(crate) fn peer_ip(session: &Session) -> Option<IpAddr> {
    session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip())
}

fn is_tls(session: &Session) -> bool {
    session.digest().is_some_and(|d| d.ssl_digest.is_some())
}

/// Traefik's domain-fronting guard: a request whose Host (normalised) differs from its
/// connection's SNI must map to the same TLS options, or it is refused with 421.
fn misdirected(generation: &Generation, ep: usize, tls: &TlsInfo, host: &str) -> bool {
    let sni = tls.sni.as_deref().unwrap_or_default();
    if host.eq_ignore_ascii_case(sni) {
        return false;
    }
    let Some(routes) = generation.entry_points.get(ep) else {
        return false;
    };
    routes.sni.name_for_host(host) != &*tls.options
}

fn redirect_location(req: &RequestHeader, scheme: &str, port: u16) -> String {
    let hostname = strip_port(request_host(req));
    let default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
    let mut loc = format!("{scheme}://{hostname}");
    if !default_port {
        loc.push(':');
        loc.push_str(&port.to_string());
    }
    loc.push_str(req.uri.path());
    if let Some(q) = req.uri.query() {
        loc.push('?');
        loc.push_str(q);
    }
    loc
}

impl EntryPointProxy {
    fn decide(&self, session: &Session, ctx: &mut RequestCtx) -> Decision {
        let req = session.req_header();
        let has_host =
            req.uri.authority().is_some() || req.headers.contains_key(http::header::HOST);
        if req.version == Version::HTTP_11 && !has_host {
            return Decision::BadRequest(b"400 Bad Request: missing required Host header");
        }
        let host = normalize_request_host(request_host(req));
        let sanitized = sanitize_path(req.uri.path());
        let Ok(path) = routing_path(&sanitized) else {
            return Decision::BadRequest(b"400 Bad Request");
        };
        let headers = Headers(&req.headers);
        let view = RequestView {
            host: &host,
            path: &path,
            method: req.method.as_str(),
            query: req.uri.query(),
            headers: &headers,
            client_ip: peer_ip(session),
        };
        let generation = self.reader.load();
        if let Some(tls) = TlsInfo::of(session.digest()) {
            if misdirected(&generation, self.settings.index, tls, &host) {
                return Decision::Misdirected;
            }
        }
        let route = generation.find(self.settings.index, ctx.tls, &view);
        if let Some(route) = route {
            crate::observe::routed(ctx, route, self.add_internals());
            crate::access::routed(ctx, route, self.log_internals());
        }
        let decision = match route {
            None => Decision::NotFound,
            Some(route) => match &route.action {
                RouteAction::Ping => Decision::Ping,
                // Liveness: the process answers.
                RouteAction::Health if req.uri.path() == "/health/live" => Decision::Health(Ok(())),
                // Basic health: serving, not draining (as /ping).
                RouteAction::Health if req.uri.path() == "/health" => {
                    Decision::Health(if self.lifecycle.is_terminating() {
                        Err("shutting down".into())
                    } else {
                        Ok(())
                    })
                }
                // Readiness: also every provider delivered and the control plane alive.
                RouteAction::Health => Decision::Health(if self.lifecycle.is_terminating() {
                    Err("shutting down".into())
                } else {
                    self.control.readiness()
                }),
                RouteAction::AcmeHttp => Decision::AcmeHttp(
                    req.uri
                        .path()
                        .strip_prefix("/.well-known/acme-challenge/")
                        .and_then(|token| self.challenges.http(token)),
                ),
                RouteAction::Api => Decision::Api(crate::internal::api(
                    &generation,
                    &req.method,
                    req.uri.path(),
                    req.uri.query(),
                )),
                RouteAction::Redirect(r) => {
                    let get = req.method == http::Method::GET;
                    let status = match (r.permanent, get) {
                        (true, true) => 301,
                        (true, false) => 308,
                        (false, true) => 302,
                        (false, false) => 307,
                    };
                    Decision::Redirect {
                        status,
                        location: redirect_location(req, &r.scheme, r.port),
                    }
                }
                RouteAction::Metrics => Decision::Metrics,
                RouteAction::Dashboard => Decision::Dashboard,
                RouteAction::Forward { service, chain } => Decision::Forward {
                    target: Target::Service(service.clone()),
                    chain: chain.clone(),
                },
                RouteAction::Internal { service, chain } => Decision::Forward {
                    target: Target::Internal(*service),
                    chain: chain.clone(),
                },
            },
        };
        ctx.generation = Some(generation);
        decision
    }
}

#[async_trait]
impl ProxyHttp for EntryPointProxy {
    type CTX = RequestCtx;

    fn init_downstream_modules(&self, modules: &mut HttpModules) {
        // Traefik's `compress` replaces pingora's default (disabled) compression module.
        modules.add_module(Box::new(CompressModuleBuilder));
        // Off unless a route's grpcWeb middleware switches it on for a request.
        modules.add_module(Box::new(GrpcWebModuleBuilder));
    }

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            _in_flight: InFlight::new(&self.lifecycle.in_flight),
            generation: None,
            pool: None,
            chain: None,
            cx: RequestContext::default(),
            server: None,
            attempts: Default::default(),
            body_bytes: 0,
            tls: false,
            caught_by_errors: false,
            retry_status: false,
            response_body_bytes: 0,
            server_load: None,
            attempt_started: None,
            sticky_cookie: None,
            service_cookies: Vec::new(),
            fallback: None,
            mirrors: Vec::new(),
            mirror_head: None,
            mirror_body: None,
            server_failover_used: false,
            observing: None,
            grpc_status: None,
            logging: None,
            started: None,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.tls = is_tls(session);
        // One clock read for the metrics' and the access log's durations.
        if self.entry_point_metrics.is_some() || self.access_log.is_some() {
            ctx.started = Some(std::time::Instant::now());
            ctx.observing = crate::observe::begin(self.entry_point_metrics.as_ref(), session);
            ctx.logging = crate::access::begin(self.access_log.as_ref());
        }
        if session.get_keepalive().is_some() {
            // Not for a client that asked to close (HTTP/1.0 closes unless it asks otherwise).
            session.set_keepalive(Some(self.settings.idle_timeout.as_secs()));
        }
        // The whole request is bounded by the edge (readTimeout); this is pingora's per-read
        // bound, lifted only once a backend has switched protocols (response_filter).
        session.set_read_timeout(Some(self.settings.read_timeout));
        if !self.settings.write_timeout.is_zero() {
            session.set_write_timeout(Some(self.settings.write_timeout));
        }
        if !forwarded::underscore_headers(
            session.req_header_mut(),
            self.settings.underscore_headers,
        ) {
            crate::observe::skip(ctx);
            ctx.logging = None;
            return responses::bad_request(session, b"400 Bad Request")
                .await
                .map(|()| true);
        }
        match self.decide(session, ctx) {
            Decision::Forward { target, chain } => self.forward(session, ctx, target, chain).await,
            Decision::NotFound | Decision::AcmeHttp(None) => {
                responses::not_found(session).await.map(|()| true)
            }
            Decision::AcmeHttp(Some(key_authorization)) => respond(
                session,
                200,
                Some("text/plain"),
                false,
                &[],
                Bytes::from(key_authorization),
            )
            .await
            .map(|()| true),
            Decision::Misdirected => respond(
                session,
                421,
                Some(responses::TEXT_PLAIN),
                true,
                &[],
                Bytes::from_static(b"Misdirected Request\n"),
            )
            .await
            .map(|()| true),
            Decision::BadRequest(body) => {
                crate::observe::skip(ctx);
                ctx.logging = None;
                responses::bad_request(session, body).await.map(|()| true)
            }
            Decision::Dashboard => {
                let req = session.req_header();
                let reply = crate::dashboard::answer(
                    &req.method,
                    request_host(req),
                    req.uri.path(),
                    ctx.tls,
                );
                self.send_reply(session, ctx, reply, None)
                    .await
                    .map(|()| true)
            }
            Decision::Metrics => {
                let reply = crate::internal::metrics(self.metrics.as_deref());
                self.send_reply(session, ctx, reply, None)
                    .await
                    .map(|()| true)
            }
            Decision::Ping => {
                let status = if self.lifecycle.is_terminating() {
                    self.settings.ping_terminating_status
                } else {
                    200
                };
                respond(session, status, None, false, &[], status_text(status))
                    .await
                    .map(|()| true)
            }
            Decision::Health(Ok(())) => {
                respond(session, 200, TEXT, false, &[], Bytes::from_static(b"OK"))
                    .await
                    .map(|()| true)
            }
            Decision::Health(Err(why)) => {
                let body = Bytes::from(format!("Service Unavailable: {why}"));
                respond(session, 503, TEXT, false, &[], body)
                    .await
                    .map(|()| true)
            }
            Decision::Api(answer) => {
                let reply = crate::internal::api_reply(answer);
                self.send_reply(session, ctx, reply, None)
                    .await
                    .map(|()| true)
            }
            Decision::Redirect { status, location } => respond(
                session,
                status,
                None,
                false,
                &[("Location", location)],
                status_text(status),
            )
            .await
            .map(|()| true),
        }
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        crate::attempt::peer(session, ctx).await
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let req = session.req_header();
        // Shared with the request's Host header, not copied.
        let host = request_host_value(req).filter(|h| h.to_str().is_ok_and(|h| !h.is_empty()));
        if !ctx
            .chain
            .as_ref()
            .is_some_and(|c| c.removes_forwarded_for())
        {
            forwarded::append_forwarded_for(upstream, peer_ip(session))?;
        }

        // Origin-form target with the sanitized, re-encoded path, as Traefik forwards it.
        let sanitized = sanitize_path(req.uri.path());
        let path = normalize_escapes(&sanitized)
            .map_err(|e| Error::because(ErrorType::InvalidHTTPHeader, "bad path", e))?;
        // An absolute-form target (kept as received by pingora) goes on in origin form.
        let origin_form = req.raw_path().starts_with(b"/");
        if req.uri.authority().is_some() || !origin_form || path != req.uri.path() {
            let target = match req.uri.query() {
                Some(q) => format!("{path}?{q}"),
                None => path.into_owned(),
            };
            let uri = target
                .parse::<http::Uri>()
                .map_err(|e| Error::because(ErrorType::InvalidHTTPHeader, "bad target", e))?;
            upstream.set_uri(uri);
        }
        if ctx.cx.grpc_web_text.is_some() {
            // The body is decoded on its way: its length is not the client's.
            upstream.remove_header(&http::header::CONTENT_LENGTH);
        }
        let pool = ctx.pool.as_ref().expect("forwarded requests have a pool");
        let server = ctx.server.and_then(|i| pool.servers.get(i));
        if let Some(prefix) = server
            .map(|s| s.path_prefix.as_str())
            .filter(|p| !p.is_empty())
        {
            // preservePath: the server URL's path goes before the request's.
            let target = format!(
                "{prefix}{}",
                upstream.uri.path_and_query().map_or("/", |p| p.as_str())
            );
            let uri = target
                .parse::<http::Uri>()
                .map_err(|e| Error::because(ErrorType::InvalidHTTPHeader, "bad target", e))?;
            upstream.set_uri(uri);
        }
        if let Some(host) = host.filter(|_| pool.spec.pass_host_header) {
            upstream.insert_parsed_header(http::header::HOST, "Host", host)?;
        } else if let Some(server) = server {
            // Also for an HTTP/1.0 request without Host: Go's client then names the server.
            upstream.insert_parsed_header(http::header::HOST, "Host", &*server.authority)?;
        }
        if !ctx.mirrors.is_empty() && ctx.mirror_head.is_none() {
            ctx.mirror_head = Some(upstream.clone());
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        crate::attempt::answered(session, upstream_response, ctx)?;
        if let Some(log) = &self.access_log {
            crate::access::origin_answer(ctx, upstream_response, log.logs_headers());
        }
        if let Some(chain) = &ctx.chain {
            let status = upstream_response.status.as_u16();
            if let Some(policy) = chain.retry().filter(|p| p.retries_status(status)) {
                if ctx.attempts.another(policy, session, ctx.body_bytes) {
                    crate::observe::retried(ctx);
                    // error_while_proxy marks it for a new attempt on another server.
                    ctx.retry_status = true;
                    return Error::e_explain(ErrorType::HTTPStatus(status), "retry: status");
                }
            }
            let caught = !upstream_response.status.is_informational()
                && chain.error_pages(None).is_some_and(|p| p.catches(status));
            if caught {
                // fail_to_proxy answers with the error page (nothing was sent yet).
                ctx.caught_by_errors = true;
                tracing::debug!(status, "errors: the response is replaced by the error page");
                return Error::e_explain(ErrorType::HTTPStatus(status), "errors: page replaces it");
            }
            if let Some(max) = chain.max_response_body() {
                if content_length(&upstream_response.headers).is_some_and(|len| len > max) {
                    return Error::e_explain(
                        ErrorType::HTTPStatus(500),
                        "response body over buffering.maxResponseBodyBytes",
                    );
                }
            }
            chain.response(upstream_response, session.req_header(), &ctx.cx, None);
        }
        if !session.is_http2() {
            // Traefik always answers HTTP/1.1, whatever the backend spoke.
            upstream_response.set_version(Version::HTTP_11);
        }
        if upstream_response.status == http::StatusCode::SWITCHING_PROTOCOLS {
            // An upgraded (WebSocket) tunnel is not subject to the request's timeouts.
            session.set_read_timeout(None);
            session.set_write_timeout(None);
        }
        Ok(())
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(decoder) = ctx.cx.grpc_web_text.as_mut() {
            let chunk = body.take().unwrap_or_default();
            let decoded = decoder.decode(&chunk, end_of_stream).map_err(|e| {
                Error::because(ErrorType::HTTPStatus(400), "grpc-web-text: bad base64", e)
            })?;
            *body = Some(decoded);
        }
        if let Some(chunk) = body.as_ref() {
            ctx.body_bytes += chunk.len() as u64;
            crate::mirror::keep_body(ctx, chunk);
        }
        if let Some(max) = ctx.chain.as_ref().and_then(|c| c.max_request_body()) {
            if ctx.body_bytes > max {
                return Error::e_explain(
                    ErrorType::HTTPStatus(413),
                    "request body over buffering.maxRequestBodyBytes",
                );
            }
        }
        Ok(())
    }

    async fn response_trailer_filter(
        &self,
        _session: &mut Session,
        trailers: &mut http::HeaderMap,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Bytes>> {
        if ctx.observing.is_some() {
            ctx.grpc_status = trailers
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
        }
        Ok(None)
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        if let Some(started) = ctx.started {
            let ended = std::time::Instant::now();
            let duration = ended.saturating_duration_since(started);
            crate::observe::finish(session, ctx, duration);
            crate::access::finish(
                self.access_log.as_ref(),
                &self.entry_point_name,
                session,
                ctx,
                (ended, duration),
            );
        }
        crate::mirror::send(ctx);
        if ctx.cx.breakers.is_empty() {
            return;
        }
        // What the client got, as the breakers measure it (a 502 or 504 is a network error).
        let Some(status) = session.response_written().map(|r| r.status.as_u16()) else {
            return;
        };
        for (breaker, started) in ctx.cx.breakers.drain(..) {
            breaker.record(status, started.elapsed());
        }
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        crate::access::origin_body(ctx, body.as_ref(), end_of_stream);
        Ok(None)
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, _error: &Error) -> bool {
        // An error page replacing a response is routine, not a proxy failure.
        ctx.caught_by_errors
    }

    fn suppress_proxy_warn_log(
        &self,
        _session: &Session,
        ctx: &RequestCtx,
        error: &Error,
        _context: pingora::proxy::ProxyWarnLogContext,
    ) -> bool {
        // A retried status is the retry middleware at work, not a failure.
        ctx.attempts.retries > 0 && matches!(error.etype(), ErrorType::HTTPStatus(_))
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        if let (Some(max), Some(chunk)) = (
            ctx.chain.as_ref().and_then(|c| c.max_response_body()),
            body.as_ref(),
        ) {
            // A body of unknown length is already streaming: over the limit, it is cut.
            ctx.response_body_bytes += chunk.len() as u64;
            if ctx.response_body_bytes > max {
                return Error::e_explain(
                    ErrorType::HTTPStatus(500),
                    "response body over buffering.maxResponseBodyBytes",
                );
            }
        }
        Ok(None)
    }

    fn fail_to_connect(
        &self,
        session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        crate::attempt::connect_failed(session, ctx, &mut e);
        e
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        if std::mem::take(&mut ctx.retry_status) {
            // response_filter already granted the attempt.
            e.set_retry(true);
            return e;
        }
        let lost_server = e.esource() == &ErrorSource::Upstream
            && !matches!(e.etype(), ErrorType::HTTPStatus(_))
            && session.response_written().is_none();
        if lost_server {
            if let (Some(pool), Some(index)) = (&ctx.pool, ctx.server) {
                pool.report(index, wharf_upstream::Outcome::NoAnswer);
            }
        }
        let chain = ctx.chain.clone();
        match chain.as_deref().and_then(|c| c.retry()) {
            Some(policy) if lost_server && policy.on_network_error => {
                let again = ctx.attempts.another(policy, session, ctx.body_bytes);
                if again {
                    crate::observe::retried(ctx);
                }
                e.set_retry(again);
            }
            Some(_) => e.set_retry(false),
            // Go's HTTP/2 client does not resend a request whose connection its health
            // check closed ("client connection lost"); pingora would, on a reused one.
            None if wharf_upstream::lost_to_unanswered_ping(&e) => e.set_retry(false),
            // Go's transport (Traefik's) resends an idempotent request when a reused
            // connection turns out closed: writing the request failed, or the read found the
            // connection closed or reset. pingora marks only the read failures retryable.
            None if !session.req_header().method.is_idempotent()
                || session.as_ref().retry_buffer_truncated() =>
            {
                e.set_retry(false)
            }
            None if client_reused
                && lost_server
                && matches!(
                    e.etype(),
                    ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed
                ) =>
            {
                e.set_retry(true)
            }
            // The server broke a fresh connection before answering an idempotent request (a
            // replica killed mid-request; the arm above left out the others): once, it goes to
            // another server, as nginx's default `proxy_next_upstream error`. Go's transport
            // (Traefik's) answers 502.
            None if lost_server && crate::attempt::another_server_once(ctx) => {
                tracing::debug!(
                    "the server closed the connection without answering: trying another server"
                );
                e.set_retry(true)
            }
            None => e.retry.decide_reuse(client_reused),
        }
        e
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let code = match e.etype() {
            ErrorType::HTTPStatus(code) => *code,
            ErrorType::ConnectTimedout | ErrorType::ReadTimedout
                if e.esource() == &ErrorSource::Upstream =>
            {
                504
            }
            _ => match e.esource() {
                ErrorSource::Upstream => 502,
                ErrorSource::Downstream => match e.etype() {
                    ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => 0,
                    _ => 400,
                },
                ErrorSource::Internal | ErrorSource::Unset => 500,
            },
        };
        // An interim answer (100 Continue) may already be out: the final one still is not.
        let answered = session
            .response_written()
            .is_some_and(|r| !r.status.is_informational());
        if code > 0 && !answered {
            // The connection is closed after this answer: it says so.
            session.set_keepalive(None);
            if let Err(err) = self.decorated(session, ctx, code).await {
                tracing::debug!(error = %err, "could not send the error response");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }
}
