//! What the metrics see of a request: its method and protocol when it begins, the router it
//! matched, and at its end the status, sizes and duration, recorded on the entrypoint's,
//! router's and service's series (each resolved before the request, never looked up).

use std::sync::Arc;
use std::time::Duration;

use pingora::proxy::Session;
use wharf_observe::{Method, Observation, Protocol, RequestKey};
use wharf_router::{Route, RouteAction};

use crate::ctx::{Observing, RequestCtx};
use crate::edge::TlsInfo;

/// gRPC's `Unknown`: the `code` of a call that ended without a `grpc-status`.
const GRPC_UNKNOWN: u16 = 2;

/// Go's 499: the client went away before an answer.
const CLIENT_CLOSED: u16 = 499;

pub(crate) fn begin(
    entry_point: Option<&Arc<wharf_observe::EntryPointMetrics>>,
    session: &Session,
) -> Option<Observing> {
    let entry_point = entry_point?;
    let req = session.req_header();
    Some(Observing {
        method: Method::of(&req.method),
        protocol: Protocol::of(&req.headers),
        entry_point: entry_point.series.clone(),
        router: None,
    })
}

/// The request matched `route`: internal routes are counted only with `addInternals`, and
/// none whose router switched metrics off.
pub(crate) fn routed(ctx: &mut RequestCtx, route: &Route, add_internals: bool) {
    let to_internal = !matches!(route.action, RouteAction::Forward { .. });
    if (to_internal && !add_internals) || !route.observability.metrics {
        ctx.observing = None;
        return;
    }
    if let Some(o) = ctx.observing.as_mut() {
        o.router = route.metrics.clone();
    }
}

/// The request will not be counted (answered before routing, as Go's server would).
pub(crate) fn skip(ctx: &mut RequestCtx) {
    ctx.observing = None;
}

/// A retry on the request's service (`traefik_service_retries_total`).
pub(crate) fn retried(ctx: &RequestCtx) {
    if let Some(series) = ctx.pool.as_ref().and_then(|p| p.metrics.get()) {
        series.retried();
    }
}

pub(crate) fn finish(session: &Session, ctx: &mut RequestCtx, duration: Duration) {
    let Some(o) = ctx.observing.take() else {
        return;
    };
    let response = session.response_written();
    let code = if o.protocol.is_grpc() {
        ctx.grpc_status
            .or_else(|| {
                response
                    .and_then(|r| r.headers.get("grpc-status"))
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(GRPC_UNKNOWN)
    } else {
        response.map_or(CLIENT_CLOSED, |r| r.status.as_u16())
    };
    let observation = Observation {
        key: RequestKey::new(code, o.method, o.protocol),
        duration,
        request_bytes: session.body_bytes_read() as u64,
        response_bytes: session.body_bytes_sent() as u64,
        tls: TlsInfo::of(session.digest()).map(|t| t.metrics_key),
    };
    let headers = &session.req_header().headers;
    if let Some(series) = &o.entry_point {
        series.record(&observation, headers);
    }
    if let Some(series) = &o.router {
        series.record(&observation, headers);
    }
    // Services see only requests that reached a server (not 503 "no available server",
    // nor answers of the middlewares).
    if ctx.server.is_some() {
        if let Some(series) = ctx.pool.as_ref().and_then(|p| p.metrics.get()) {
            series.record(&observation, headers);
        }
    }
}
