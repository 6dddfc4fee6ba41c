//! One upstream server: what the configuration says of it ([`Server`]) and what is learnt
//! while serving ([`ServerState`]: health, failures, load), which outlives pools.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use wharf_model::{ServerSpec, UpstreamScheme};

use crate::Target;

/// One upstream server, resolved as far as it can be ahead of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Shared: the access log takes it with each request.
    pub url: Arc<str>,
    pub scheme: UpstreamScheme,
    pub host: String,
    pub port: u16,
    pub weight: u32,
    /// Where to connect (an IP literal, or the host name's cached addresses).
    pub target: Target,
    /// `host:port` as sent in `Host` when passHostHeader is false.
    pub authority: Arc<str>,
    /// preservePath: the URL's path, put before the request's.
    pub path_prefix: String,
    /// The sticky cookie's value naming this server (Traefik's: sha256 of the URL).
    pub sticky_value: String,
}

impl Server {
    pub(crate) fn from_spec(s: &ServerSpec) -> Self {
        Server {
            url: Arc::from(s.url.as_str()),
            scheme: s.scheme,
            host: s.host.clone(),
            port: s.port,
            weight: s.weight,
            target: Target::new(&s.host, s.port),
            authority: Arc::from(authority(&s.host, s.port)),
            path_prefix: s.path_prefix.clone(),
            sticky_value: crate::sticky::server_value(&s.url),
        }
    }
}

/// `host:port`, the host bracketed when it is an IPv6 literal.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Milliseconds since the first call in this process (a monotonic clock for atomics).
pub(crate) fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// Whether a deadline (0: none) has passed.
fn passed(deadline: &AtomicU64) -> bool {
    let until = deadline.load(Ordering::Relaxed);
    until == 0 || now_ms() >= until
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What is learnt about one server of one service. Kept by the registry under (service,
/// server URL), so a configuration change that keeps the server keeps its health.
#[derive(Debug)]
pub struct ServerState {
    /// Connections to the server are pooled under this key.
    pub id: u64,
    /// The last active health check passed (true until a check says otherwise).
    active_up: AtomicBool,
    /// Out of rotation until this time (`now_ms`), after passive failures; 0: not out.
    out_until: AtomicU64,
    /// Avoided until this time after a failed connection, while another server can serve.
    backoff_until: AtomicU64,
    /// Failures counted for passiveHealthCheck since the last success, and when the first of
    /// them happened.
    failures: AtomicU32,
    first_failure: AtomicU64,
    in_flight: AtomicU32,
    /// Time to first byte, exponentially weighted (microseconds; 0: no sample yet).
    ttfb_us: AtomicU64,
    /// What the server chose by ALPN when wharf's own TLS client last connected (see
    /// `tls_client`): 0 not known yet, 1 HTTP/1.1, 2 h2.
    tls_alpn: AtomicU8,
    /// Cancelled when the server leaves its service: connections still being made to it give
    /// up (a removed container's address drops SYNs until the dial timeout).
    left: CancellationToken,
}

impl ServerState {
    pub(crate) fn new() -> Self {
        static IDS: AtomicU64 = AtomicU64::new(1);
        ServerState {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            active_up: AtomicBool::new(true),
            out_until: AtomicU64::new(0),
            backoff_until: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            first_failure: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
            ttfb_us: AtomicU64::new(0),
            tls_alpn: AtomicU8::new(0),
            left: CancellationToken::new(),
        }
    }

    /// The server left its service: it gets no more requests, and connections being made to
    /// it fail now (the request goes to another server).
    pub(crate) fn leave(&self) {
        self.left.cancel();
    }

    /// Whether the server left its service.
    pub fn has_left(&self) -> bool {
        self.left.is_cancelled()
    }

    /// Cancelled when the server leaves its service.
    pub(crate) fn left(&self) -> &CancellationToken {
        &self.left
    }

    /// Whether the server chose h2 the last time wharf's own TLS client offered it.
    pub(crate) fn speaks_h2(&self) -> bool {
        self.tls_alpn.load(Ordering::Relaxed) == 2
    }

    /// Records the protocol the server chose by ALPN.
    pub(crate) fn set_speaks_h2(&self, h2: bool) {
        self.tls_alpn
            .store(if h2 { 2 } else { 1 }, Ordering::Relaxed);
    }

    /// Whether the server may get a request now (health checks, passive or active, say it
    /// may). When no server may, the service answers 503.
    pub fn available(&self) -> bool {
        self.active_up.load(Ordering::Relaxed) && passed(&self.out_until) && !self.has_left()
    }

    /// Whether the server is available and not backing off after a failed connection: a
    /// server backing off still gets requests when no other server can take them (a single
    /// dead server answers 502, as in Traefik, rather than 503).
    pub fn preferred(&self) -> bool {
        self.available() && passed(&self.backoff_until)
    }

    /// What the active health check said last (up until a check says otherwise).
    pub fn active_up(&self) -> bool {
        self.active_up.load(Ordering::Relaxed)
    }

    /// Records an active check's verdict; true if it changed.
    pub fn set_active(&self, up: bool) -> bool {
        let was = self.active_up.swap(up, Ordering::Relaxed);
        if up && !was {
            // A good check also ends what failures started.
            self.out_until.store(0, Ordering::Relaxed);
            self.backoff_until.store(0, Ordering::Relaxed);
            self.failures.store(0, Ordering::Relaxed);
        }
        was != up
    }

    /// Takes the server out of rotation for `period`.
    pub fn take_out(&self, period: Duration) {
        let until = now_ms().saturating_add(ms(period));
        self.out_until.fetch_max(until, Ordering::Relaxed);
    }

    /// Avoids the server for `period` while others can serve.
    pub fn back_off(&self, period: Duration) {
        let until = now_ms().saturating_add(ms(period));
        self.backoff_until.fetch_max(until, Ordering::Relaxed);
    }

    /// Counts a failure (a 5xx or no answer) for passiveHealthCheck: `max` of them within
    /// `window` since the last success take the server out for `window`. True if it did.
    pub fn passive_failure(&self, window: Duration, max: u32) -> bool {
        let now = now_ms();
        let first = self.first_failure.load(Ordering::Relaxed);
        let count = if first == 0 || now.saturating_sub(first) > ms(window) {
            self.first_failure.store(now, Ordering::Relaxed);
            self.failures.store(1, Ordering::Relaxed);
            1
        } else {
            self.failures
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1)
        };
        if count >= max {
            self.failures.store(0, Ordering::Relaxed);
            self.first_failure.store(0, Ordering::Relaxed);
            self.take_out(window);
            return true;
        }
        false
    }

    /// A good answer: the passive failure count starts again.
    pub fn passive_success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
            self.first_failure.store(0, Ordering::Relaxed);
        }
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts a request in flight until the guard is dropped.
    pub fn begin(self: &std::sync::Arc<Self>) -> InFlightGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(self.clone())
    }

    /// Average time to first byte (microseconds), 0 before the first answer.
    pub fn ttfb_us(&self) -> u64 {
        self.ttfb_us.load(Ordering::Relaxed)
    }

    /// Adds a time-to-first-byte sample (weight 1/8).
    pub fn record_ttfb(&self, sample: Duration) {
        let sample = u64::try_from(sample.as_micros()).unwrap_or(u64::MAX).max(1);
        let old = self.ttfb_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.ttfb_us.store(new.max(1), Ordering::Relaxed);
    }
}

/// A request in flight to one server.
#[derive(Debug)]
pub struct InFlightGuard(std::sync::Arc<ServerState>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        // Never below zero (an Err here only means it already was zero).
        let _was = self
            .0
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_failures_take_a_server_out_for_the_window() {
        let s = ServerState::new();
        let window = Duration::from_secs(60);
        assert!(!s.passive_failure(window, 3));
        s.passive_success();
        assert!(!s.passive_failure(window, 3));
        assert!(!s.passive_failure(window, 3));
        assert!(s.available());
        assert!(s.passive_failure(window, 3));
        assert!(!s.available());
        assert!(s.set_active(false) && !s.set_active(false));
        assert!(s.set_active(true));
        assert!(s.available(), "a good active check brings it back");
    }

    #[test]
    fn in_flight_is_counted_by_guards() {
        let s = std::sync::Arc::new(ServerState::new());
        let a = s.begin();
        let b = s.begin();
        assert_eq!(s.in_flight(), 2);
        drop(a);
        drop(b);
        assert_eq!(s.in_flight(), 0);
        s.record_ttfb(Duration::from_millis(8));
        assert_eq!(s.ttfb_us(), 8000);
        s.record_ttfb(Duration::from_millis(16));
        assert_eq!(s.ttfb_us(), 9000);
    }
}
