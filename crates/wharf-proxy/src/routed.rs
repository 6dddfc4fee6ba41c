//! A routed request: the entrypoint's forwarded-headers stage, the router's middlewares
//! (which may answer), and the answers wharf writes itself — each of which an `errors`
//! middleware may replace with its page.

use std::sync::Arc;

use pingora::prelude::*;
use pingora::proxy::Session;
use wharf_middleware::{
    content_length, request_host_value, Chain, CompressModule, GrpcWeb, GrpcWebModule, ReadBody,
    Reply, RequestContext, FORWARD_BODY_CAP,
};
use wharf_upstream::{Resolved, Routing, ServiceNode};

use crate::ctx::RequestCtx;
use crate::edge::TlsInfo;
use crate::forwarded::{self, ForwardInfo};
use crate::responses::{self, status_text};
use crate::service::{peer_ip, EntryPointProxy, Target};

impl EntryPointProxy {
    /// A routed request: the entrypoint's forwarded-headers stage, then the router's
    /// middlewares (which may answer), then the service. Ok(true) when answered here.
    pub(crate) async fn forward(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        target: Target,
        chain: Arc<Chain>,
    ) -> Result<bool> {
        let host = request_host_value(session.req_header());
        let peer = peer_ip(session);
        let info = ForwardInfo {
            trusted: self.settings.forwarded.trusts(peer),
            peer_ip: peer,
            tls: ctx.tls,
            websocket: session
                .req_header()
                .headers
                .get(http::header::UPGRADE)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket")),
            raw_host: host.as_ref(),
            hostname: self.forwarded_server.as_ref(),
            connection: &self.connection_headers,
        };
        forwarded::entrypoint_stage(session.req_header_mut(), &info)?;
        ctx.cx = RequestContext {
            tls: ctx.tls,
            peer,
            client_certificates: TlsInfo::of(session.digest())
                .map(|t| t.peer_certificates.clone())
                .filter(|c| !c.is_empty()),
            auth_cookies: Vec::new(),
            in_flight: Vec::new(),
            breakers: Vec::new(),
            grpc_web: false,
            grpc_web_text: None,
            username: None,
            body: if chain.forwards_body() {
                Box::pin(read_body(session)).await?
            } else {
                ReadBody::NotRead
            },
        };
        let answered = chain.request(session.req_header_mut(), &mut ctx.cx).await;
        ctx.chain = Some(chain.clone());
        if let Some(policy) = chain.compress(answered.as_ref().map(|(_, i)| *i)) {
            let negotiation = policy.negotiate(session.req_header());
            let h2 = session.is_http2();
            if let Some(module) = session.downstream_modules_ctx.get_mut::<CompressModule>() {
                module.plan(policy.clone(), negotiation, h2);
            }
        }
        if let Some((reply, upto)) = answered {
            // An `errors` middleware around the one that answered may replace the answer.
            let reply = match self
                .error_page(session, ctx, reply.status, Some(upto))
                .await
            {
                Some(page) => page,
                None => reply,
            };
            self.send_reply(session, ctx, reply, Some(upto)).await?;
            return Ok(true);
        }
        if let Some(grpc_web) = chain.grpc_web() {
            if grpc_web.translates(session.req_header()) {
                translate_grpc_web(session, &mut ctx.cx);
            }
        }
        if let Some(max) = chain.max_request_body() {
            if content_length(&session.req_header().headers).is_some_and(|len| len > max) {
                self.decorated(session, ctx, 413).await?;
                return Ok(true);
            }
        }
        let service = match target {
            Target::Service(service) => service,
            Target::Internal(internal) => {
                let reply = self.internal_answer(session, ctx, internal);
                self.send_reply(session, ctx, reply, None).await?;
                return Ok(true);
            }
        };
        let resolved = resolve(session, &service);
        let Some(pool) = resolved.pool.filter(|p| p.any_available()) else {
            // No server, or every one down: Traefik's 503 `no available server`.
            self.decorated(session, ctx, 503).await?;
            return Ok(true);
        };
        if resolved.fallback.is_some() || resolved.mirrors.iter().any(|m| m.with_body) {
            // The body may have to be sent again (failover) or copied (mirroring).
            session.enable_retry_buffering();
        }
        if resolved.mirrors.iter().any(|m| m.with_body) {
            ctx.mirror_body = Some(bytes::BytesMut::new());
        }
        ctx.service_cookies = resolved.cookies;
        ctx.fallback = resolved.fallback;
        ctx.mirrors = resolved.mirrors;
        ctx.pool = Some(pool);
        Ok(false)
    }

    /// What an `@internal` service answers (from the generation the request was routed with).
    fn internal_answer(
        &self,
        session: &Session,
        ctx: &RequestCtx,
        service: wharf_model::InternalService,
    ) -> Reply {
        let ping_status = if self.lifecycle.is_terminating() {
            self.settings.ping_terminating_status
        } else {
            200
        };
        match &ctx.generation {
            Some(generation) => crate::internal::answer(
                service,
                session.req_header(),
                ctx.tls,
                generation,
                self.metrics.as_deref(),
                ping_status,
            ),
            None => crate::internal::not_found(),
        }
    }

    /// A complete answer written here, decorated by the middlewares `..upto` (all: None).
    pub(crate) async fn send_reply(
        &self,
        session: &mut Session,
        ctx: &RequestCtx,
        reply: Reply,
        upto: Option<usize>,
    ) -> Result<()> {
        let mut resp = responses::header(reply.status, None, false, &[], reply.body.len())?;
        for (name, value) in reply.headers {
            resp.append_header(name, value)?;
        }
        if let Some(chain) = &ctx.chain {
            chain.response(&mut resp, session.req_header(), &ctx.cx, upto);
        }
        let body = if session.req_header().method == http::Method::HEAD {
            bytes::Bytes::new()
        } else {
            reply.body
        };
        responses::send(session, resp, body).await
    }

    /// The `errors` middleware's page for an answer of `status`, when the route has one that
    /// wraps whoever answered (`answered_by`: a middleware's index; None: backend or wharf).
    async fn error_page(
        &self,
        session: &Session,
        ctx: &RequestCtx,
        status: u16,
        answered_by: Option<usize>,
    ) -> Option<Reply> {
        let pages = ctx.chain.as_ref()?.error_pages(answered_by)?;
        if !pages.catches(status) {
            return None;
        }
        // Boxed: a page is an HTTP client call (~22 KiB of state) that most requests never
        // make; unboxed, every request's future would carry (and copy) it.
        Some(Box::pin(pages.page(session.req_header(), status, ctx.tls)).await)
    }

    /// One of wharf's own error answers, decorated by the route's middlewares, as Traefik's
    /// are (a 502 carries the secure headers), or the `errors` middleware's page for it.
    pub(crate) async fn decorated(
        &self,
        session: &mut Session,
        ctx: &RequestCtx,
        code: u16,
    ) -> Result<()> {
        if let Some(page) = self.error_page(session, ctx, code, None).await {
            return self.send_reply(session, ctx, page, None).await;
        }
        let (content_type, nosniff, body) = if code == 503 {
            (
                Some(responses::TEXT_PLAIN),
                true,
                bytes::Bytes::from_static(b"no available server\n"),
            )
        } else {
            (None, false, status_text(code))
        };
        let mut resp = responses::header(code, content_type, nosniff, &[], body.len())?;
        if let Some(chain) = &ctx.chain {
            chain.response(&mut resp, session.req_header(), &ctx.cx, None);
        }
        responses::send(session, resp, body).await
    }
}

/// Reads the request body ahead (for forwardAuth's forwardBody) into pingora's retry buffer,
/// which replays it to the backend; more than [`FORWARD_BODY_CAP`] is not kept.
async fn read_body(session: &mut Session) -> Result<ReadBody> {
    session.enable_retry_buffering();
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = session.read_request_body().await? {
        if body.len() + chunk.len() > FORWARD_BODY_CAP {
            // It will be refused: read (and drop) a bounded rest first, so the client, still
            // sending, gets the answer instead of a reset connection.
            let mut dropped = 0usize;
            while dropped < DRAIN_LIMIT {
                match session.read_request_body().await {
                    Ok(Some(more)) => dropped += more.len(),
                    _ => break,
                }
            }
            return Ok(ReadBody::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(ReadBody::Read(body.freeze()))
}

/// How much of a refused request body is read and dropped before answering.
const DRAIN_LIMIT: usize = 4 * 1024 * 1024;

/// Turns a gRPC-Web call into a gRPC request, and switches the module that turns the answer
/// back on.
fn translate_grpc_web(session: &mut Session, cx: &mut RequestContext) {
    let decoder = GrpcWeb::to_grpc(session.req_header_mut());
    let h2 = session.is_http2();
    if let Some(module) = session.downstream_modules_ctx.get_mut::<GrpcWebModule>() {
        module.switch_on(h2, decoder.is_some());
        cx.grpc_web = true;
        cx.grpc_web_text = decoder;
    }
}

/// The pool a failover's fallback resolves to for this request.
/// `node` resolved for this request (its client address and cookies) down to one pool.
pub(crate) fn resolve(session: &Session, node: &ServiceNode) -> Resolved {
    let req = session.req_header();
    let cookie = |name: &str| {
        wharf_upstream::request_cookie(req.headers.get_all(http::header::COOKIE), name)
    };
    node.resolve(&Routing {
        client_ip: peer_ip(session),
        cookie: &cookie,
    })
}
