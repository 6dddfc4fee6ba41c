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

/// The metrics scrape (404 when metrics are off).
pub(crate) fn metrics(metrics: Option<&wharf_observe::Metrics>) -> Reply {
    match metrics {
        Some(m) => reply(200, Some(PROMETHEUS_TEXT), Bytes::from(m.render())),
        None => not_found(),
    }
}

/// `service`'s answer to `path`; `terminating`: shutdown has begun (ping's status).
pub(crate) fn answer(
    service: InternalService,
    path: &str,
    generation: &Generation,
    metrics_state: Option<&wharf_observe::Metrics>,
    ping_status: u16,
) -> Reply {
    match service {
        InternalService::Api => match generation.api.documents.get(path) {
            Some(body) => reply(200, Some("application/json"), body.clone()),
            None => not_found(),
        },
        // wharf serves no dashboard yet.
        InternalService::Dashboard => not_found(),
        InternalService::Ping => reply(
            ping_status,
            None,
            crate::responses::status_text(ping_status),
        ),
        InternalService::Prometheus => metrics(metrics_state),
        InternalService::Noop => reply(418, None, Bytes::new()),
    }
}
