//! What the access log records of a request: when it began, the router it matched, what the
//! server answered, and at its end everything else. The entry is handed to the access log's
//! writer thread; nothing is formatted here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use wharf_observe::access_log::{AccessEntry, AccessLog, OriginFields, RequestText};
use wharf_router::{Route, RouteAction};

use crate::ctx::RequestCtx;
use crate::edge::TlsInfo;

/// Traefik's `RequestCount`: requests seen by the process, from 1.
static REQUEST_COUNT: AtomicU64 = AtomicU64::new(0);

/// A request the access log will record.
pub(crate) struct Logging {
    start: SystemTime,
    count: u64,
    router: Option<Arc<str>>,
    origin_status: u16,
    origin_size: u64,
    origin_duration: Option<Duration>,
    origin_headers: Option<http::HeaderMap>,
}

pub(crate) fn begin(log: Option<&Arc<AccessLog>>) -> Option<Logging> {
    log?;
    Some(Logging {
        start: SystemTime::now(),
        count: REQUEST_COUNT.fetch_add(1, Ordering::Relaxed) + 1,
        router: None,
        origin_status: 0,
        origin_size: 0,
        origin_duration: None,
        origin_headers: None,
    })
}

/// The request matched `route`: requests to internal services are logged only with
/// `addInternals`.
pub(crate) fn routed(ctx: &mut RequestCtx, route: &Route, add_internals: bool) {
    let to_internal = !matches!(route.action, RouteAction::Forward { .. });
    if (to_internal && !add_internals) || !route.observability.access_logs {
        ctx.logging = None;
    } else if let Some(l) = ctx.logging.as_mut() {
        l.router = Some(route.name.shared());
    }
}

/// The server's answer (before the middlewares change it).
pub(crate) fn origin_answer(ctx: &mut RequestCtx, response: &ResponseHeader, with_headers: bool) {
    if let Some(l) = ctx.logging.as_mut() {
        l.origin_status = response.status.as_u16();
        l.origin_size = 0;
        l.origin_headers = with_headers.then(|| response.headers.clone());
    }
}

pub(crate) fn origin_body(ctx: &mut RequestCtx, chunk: Option<&bytes::Bytes>, end: bool) {
    let started = ctx.attempt_started;
    if let Some(l) = ctx.logging.as_mut() {
        l.origin_size += chunk.map_or(0, |c| c.len() as u64);
        if end {
            l.origin_duration = started.map(|s| s.elapsed());
        }
    }
}

pub(crate) fn finish(
    log: Option<&Arc<AccessLog>>,
    entry_point: &Arc<str>,
    session: &Session,
    ctx: &mut RequestCtx,
    (ended, duration): (Instant, Duration),
) {
    let (Some(log), Some(l)) = (log, ctx.logging.take()) else {
        return;
    };
    let req = session.req_header();
    let with_headers = log.logs_headers();
    let response = session.response_written();
    let origin = match (&ctx.pool, ctx.server) {
        (Some(pool), Some(index)) => pool.servers.get(index).map(|server| OriginFields {
            service: pool.name.shared(),
            url: server.url.clone(),
            addr: server.authority.clone(),
            status: l.origin_status,
            size: l.origin_size,
            duration: l
                .origin_duration
                .or_else(|| {
                    ctx.attempt_started
                        .map(|s| ended.saturating_duration_since(s))
                })
                .unwrap_or_default(),
            headers: l.origin_headers,
        }),
        _ => None,
    };
    let tls = TlsInfo::of(session.digest()).map(|t| {
        let subject = t
            .peer_certificates
            .first()
            .and_then(|c| wharf_middleware::subject_string(c));
        (t.version, t.cipher, subject)
    });
    let protocol = match req.version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    let host = match req.uri.authority() {
        Some(authority) => Some(authority.as_str().as_bytes()),
        None => req.headers.get(http::header::HOST).map(|h| h.as_bytes()),
    };
    log.log(AccessEntry {
        start: l.start,
        duration,
        client: session.client_addr().and_then(|a| a.as_inet()).copied(),
        username: ctx.cx.username.clone(),
        request_count: l.count,
        request: RequestText::new(host, req.raw_path()),
        method: req.method.clone(),
        protocol,
        tls,
        entry_point: entry_point.clone(),
        router: l.router,
        origin,
        status: response.map_or(499, |r| r.status.as_u16()),
        size: session.body_bytes_sent() as u64,
        request_size: session.body_bytes_read() as u64,
        retry_attempts: ctx.attempts.retries,
        request_headers: with_headers.then(|| req.headers.clone()),
        downstream_headers: with_headers
            .then(|| response.map(|r| r.headers.clone()))
            .flatten(),
    });
}
