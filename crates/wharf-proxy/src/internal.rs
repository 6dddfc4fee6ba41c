//! The answers of Traefik's `@internal` services when a user router sends a request to one
//! (after the router's middlewares): `api@internal`, `ping@internal`, `prometheus@internal`,
//! `noop@internal`.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use wharf_middleware::Reply;
use wharf_model::InternalService;
use wharf_router::Generation;

/// What Traefik's promhttp answers a plain scrape with (names are sent as they are, which
/// the `escaping` parameter says).
pub(crate) const PROMETHEUS_TEXT: &str =
    "text/plain; version=0.0.4; charset=utf-8; escaping=underscores";

fn reply(status: u16, content_type: Option<&'static str>, body: Bytes) -> Reply {
    let mut headers = Vec::new();
    if let Some(ct) = content_type {
        headers.push((
            HeaderName::from_static("content-type"),
            HeaderValue::from_static(ct),
        ));
    }
    Reply {
        status,
        headers,
        body,
    }
}

pub(crate) fn not_found() -> Reply {
    let mut r = reply(
        404,
        Some(crate::responses::TEXT_PLAIN),
        Bytes::from_static(b"404 page not found\n"),
    );
    r.headers.push((
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    ));
    r
}

/// The API's answer: GET only, as Traefik's router (405 otherwise).
pub(crate) fn api(
    generation: &Generation,
    method: &http::Method,
    path: &str,
    query: Option<&str>,
) -> wharf_router::ApiAnswer {
    if method != http::Method::GET {
        return wharf_router::ApiAnswer {
            status: 405,
            content_type: "",
            body: Bytes::new(),
            next_page: None,
        };
    }
    generation.api.answer(path, query)
}

pub(crate) fn api_reply(answer: wharf_router::ApiAnswer) -> Reply {
    let content_type = (!answer.content_type.is_empty()).then_some(answer.content_type);
    let mut r = Reply {
        status: answer.status,
        headers: Vec::new(),
        body: answer.body,
    };
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        r.headers
            .push((HeaderName::from_static("content-type"), ct));
    }
    if answer.status >= 400 && answer.status != 405 {
        r.headers.push((
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ));
    }
    if let Some(next) = answer.next_page {
        if let Ok(v) = HeaderValue::from_str(&next.to_string()) {
            r.headers.push((HeaderName::from_static("x-next-page"), v));
        }
    }
    r
}

/// The metrics scrape (404 when metrics are off).
pub(crate) fn metrics(metrics: Option<&wharf_observe::Metrics>) -> Reply {
    match metrics {
        Some(m) => reply(200, Some(PROMETHEUS_TEXT), Bytes::from(m.render())),
        None => not_found(),
    }
}

/// `service`'s answer to `req` (`tls`: it came over TLS); `ping_status`: what ping answers
/// now (its terminating status once shutdown has begun).
pub(crate) fn answer(
    service: InternalService,
    req: &pingora::http::RequestHeader,
    tls: bool,
    generation: &Generation,
    metrics_state: Option<&wharf_observe::Metrics>,
    ping_status: u16,
) -> Reply {
    let (method, path) = (&req.method, req.uri.path());
    match service {
        InternalService::Api if generation.api.dashboard && path.starts_with("/dashboard") => {
            crate::dashboard::answer(method, wharf_middleware::request_host(req), path, tls)
        }
        InternalService::Api => api_reply(api(generation, method, path, req.uri.query())),
        InternalService::Dashboard => {
            crate::dashboard::answer(method, wharf_middleware::request_host(req), path, tls)
        }
        InternalService::Ping => reply(
            ping_status,
            None,
            crate::responses::status_text(ping_status),
        ),
        InternalService::Prometheus => metrics(metrics_state),
        InternalService::Noop => reply(418, None, Bytes::new()),
    }
}
