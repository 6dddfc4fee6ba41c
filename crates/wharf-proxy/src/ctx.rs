//! Per-request state.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use wharf_middleware::{Chain, RequestContext};
use wharf_router::Generation;
use wharf_upstream::ServicePool;

/// Counts a request as in flight for as long as it lives (graceful shutdown waits on it).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub(crate) fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        InFlight(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Pingora's `CTX`: what one request carries between phases.
pub struct RequestCtx {
    pub(crate) _in_flight: InFlight,
    /// The generation this request was routed with; kept so it sees one config throughout.
    pub(crate) generation: Option<Arc<Generation>>,
    pub(crate) pool: Option<Arc<ServicePool>>,
    /// The route's middlewares (response decoration needs them too).
    pub(crate) chain: Option<Arc<Chain>>,
    /// What the middlewares see of the connection, and what they leave for the response.
    pub(crate) cx: RequestContext,
    /// Index of the chosen server in `pool`.
    pub(crate) server: Option<usize>,
    /// The `retry` middleware's attempts so far.
    pub(crate) attempts: crate::retry::Attempts,
    /// Request body bytes received so far (checked against `buffering`).
    pub(crate) body_bytes: u64,
    /// Response body bytes sent so far (checked against `buffering`).
    pub(crate) response_body_bytes: u64,
    /// Whether the downstream connection is TLS.
    pub(crate) tls: bool,
    /// The backend's response was caught by an `errors` middleware (its page is sent instead).
    pub(crate) caught_by_errors: bool,
    /// The backend's answer has a status the `retry` middleware retries.
    pub(crate) retry_status: bool,
    /// The chosen server's request-in-flight count (p2c, leasttime), held for the attempt.
    pub(crate) server_load: Option<wharf_upstream::InFlightGuard>,
    /// When the current attempt started (leasttime's time to first byte).
    pub(crate) attempt_started: Option<std::time::Instant>,
    /// `Set-Cookie` pinning the client to the chosen server (sticky sessions).
    pub(crate) sticky_cookie: Option<String>,
    /// `Set-Cookie` of the weighted services passed (sticky at their level).
    pub(crate) service_cookies: Vec<String>,
    /// failover `errors`: where an answer with a listed status goes instead.
    pub(crate) fallback: Option<wharf_upstream::Fallback>,
    /// mirroring: where copies of this request go, and the copy (head as sent upstream,
    /// body as received, while it fits).
    pub(crate) mirrors: Vec<wharf_upstream::Mirror>,
    pub(crate) mirror_head: Option<pingora::http::RequestHeader>,
    pub(crate) mirror_body: Option<bytes::BytesMut>,
    /// The request already went once to another server after a failed connection or a
    /// connection its server broke before answering (wharf's failover).
    pub(crate) server_failover_used: bool,
    /// What the metrics record of this request when it ends (None: metrics off, or a
    /// request they do not count).
    pub(crate) observing: Option<Observing>,
    /// gRPC: the `grpc-status` trailer of the answer (the `code` label).
    pub(crate) grpc_status: Option<u16>,
    /// What the access log records of this request (None: no access log, or not logged).
    pub(crate) logging: Option<crate::access::Logging>,
    /// When the request began, for the metrics' and the access log's durations (None when
    /// neither is on).
    pub(crate) started: Option<std::time::Instant>,
}

/// A request the metrics count, from its start.
pub(crate) struct Observing {
    pub(crate) method: wharf_observe::Method,
    pub(crate) protocol: wharf_observe::Protocol,
    /// `traefik_entrypoint_*` (None with `addEntryPointsLabels` off).
    pub(crate) entry_point: Option<Arc<wharf_observe::RequestSeries>>,
    /// `traefik_router_*`, once routed.
    pub(crate) router: Option<Arc<wharf_observe::RequestSeries>>,
}
