//! One attempt on a service's server: picking it (retries go elsewhere, sticky cookies pin),
//! and what the pool learns from how it ended (a failed connection is tried once on another
//! server; answers feed passive health and leasttime; failover `errors` send the request to
//! the fallback).

use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;
use pingora::ErrorType;
use wharf_middleware::connect_addr;
use wharf_upstream::{Choice, Outcome};

use crate::ctx::RequestCtx;
use crate::service::peer_ip;

/// The peer for this attempt.
pub(crate) async fn peer(session: &mut Session, ctx: &mut RequestCtx) -> Result<Box<HttpPeer>> {
    ctx.attempts.note();
    let pool = ctx
        .pool
        .clone()
        .ok_or_else(|| Error::explain(ErrorType::InternalError, "no route chosen"))?;
    if ctx.attempts.retries > 0 {
        if let Some(policy) = ctx.chain.as_ref().and_then(|c| c.retry()) {
            // Exponential backoff from initialInterval, as Traefik.
            let factor = 1u32 << (ctx.attempts.retries - 1).min(16);
            let wait = policy.initial_interval.saturating_mul(factor);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }
    let req = session.req_header();
    let cookie = pool.spec.sticky.as_ref().and_then(|c| {
        wharf_upstream::request_cookie(req.headers.get_all(http::header::COOKIE), &c.name)
    });
    // A retry goes to a server this request has not tried, while there is one.
    let choice = Choice {
        avoid: ctx.attempts.tried,
        client_ip: peer_ip(session),
        cookie,
    };
    let pick = pool
        .select(&choice)
        .ok_or_else(|| Error::explain(ErrorType::HTTPStatus(503), "no available server"))?;
    let server = &pool.servers[pick.index];
    ctx.sticky_cookie = match (&pool.spec.sticky, pick.set_cookie) {
        (Some(spec), true) => Some(wharf_upstream::set_cookie(spec, server)),
        _ => None,
    };
    ctx.server = Some(pick.index);
    ctx.attempts.tried(pick.index);
    ctx.server_load = Some(pool.states[pick.index].begin());
    ctx.attempt_started = Some(std::time::Instant::now());
    let addr = connect_addr(&server.target).await?;
    Ok(Box::new(pool.peer(pick.index, addr)))
}

/// The server answered: the pool learns it; a failover's listed status sends the request to
/// the fallback (an error that pingora retries); the sticky cookies are set.
pub(crate) fn answered(
    session: &Session,
    upstream_response: &mut ResponseHeader,
    ctx: &mut RequestCtx,
) -> Result<()> {
    let status = upstream_response.status.as_u16();
    if let (Some(pool), Some(index)) = (&ctx.pool, ctx.server) {
        if !upstream_response.status.is_informational() {
            let ttfb = ctx.attempt_started.map(|t| t.elapsed()).unwrap_or_default();
            pool.report(index, Outcome::Answered { status, ttfb });
        }
    }
    if let Some(fallback) = ctx.fallback.take() {
        let listed = fallback
            .statuses
            .iter()
            .any(|(a, b)| (*a..=*b).contains(&status));
        let replayable = !session.as_ref().retry_buffer_truncated()
            && (fallback.max_request_body < 0
                || ctx.body_bytes <= u64::try_from(fallback.max_request_body).unwrap_or(0));
        if listed && replayable {
            let resolved = crate::routed::resolve(session, &fallback.node);
            if let Some(pool) = resolved.pool.filter(|p| p.any_available()) {
                tracing::debug!(status, fallback = %pool.name, "failover: the answer's status sends the request to the fallback");
                ctx.pool = Some(pool);
                ctx.attempts.tried = 0;
                ctx.retry_status = true;
                return Error::e_explain(ErrorType::HTTPStatus(status), "failover: status");
            }
        }
    }
    for cookie in ctx
        .sticky_cookie
        .take()
        .into_iter()
        .chain(ctx.service_cookies.drain(..))
    {
        upstream_response.append_header(http::header::SET_COOKIE, cookie)?;
    }
    Ok(())
}

/// No connection: the pool learns it; the retry middleware may try again, and otherwise the
/// request goes once to another server of the service, for any method (nothing reached a
/// server; Traefik answers 502).
pub(crate) fn connect_failed(session: &Session, ctx: &mut RequestCtx, e: &mut Box<Error>) {
    if wharf_upstream::protocol_learned(e) {
        // The server chose another protocol by ALPN than expected: learnt, nothing sent, and
        // the same server is tried again speaking it.
        if let Some(index) = ctx.server {
            ctx.attempts.untried(index);
        }
        e.set_retry(true);
        return;
    }
    if let (Some(pool), Some(index)) = (&ctx.pool, ctx.server) {
        pool.report(index, Outcome::ConnectFailed);
    }
    let policy = ctx.chain.as_ref().and_then(|c| c.retry());
    if let Some(policy) = policy.filter(|p| p.on_network_error) {
        if ctx.attempts.another(policy, session, ctx.body_bytes) {
            e.set_retry(true);
            return;
        }
    }
    if another_server_once(ctx) {
        tracing::debug!("connection failed: trying another server");
        e.set_retry(true);
    }
}

/// Whether the request may go to another server of its service: once per request, and only
/// while a server it has not tried may serve.
pub(crate) fn another_server_once(ctx: &mut RequestCtx) -> bool {
    let other = ctx.pool.as_ref().is_some_and(|pool| {
        let choice = Choice {
            avoid: ctx.attempts.tried,
            ..Default::default()
        };
        // select only picks servers that may serve.
        pool.select(&choice)
            .is_some_and(|p| Some(p.index) != ctx.server)
    });
    other && !std::mem::replace(&mut ctx.server_failover_used, true)
}
