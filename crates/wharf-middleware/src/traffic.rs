//! rateLimit and inFlightReq, per source as in Traefik: each client (IP, header value or host)
//! has its own budget. Memory stays bounded: rate-limit states that have refilled are swept
//! as the map grows (amortised, no background task), and beyond [`MAX_SOURCES`] live
//! sources the map starts afresh; in-flight counts leave the map when they reach zero.
//! Both maps are sharded (DashMap): a request takes one shard's lock for one lookup.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{HeaderName, HeaderValue};
use pingora::http::RequestHeader;
use wharf_model::SourceCriterion;

use crate::access::ClientIp;
use crate::{request_host, BuildError, Flow, Middleware, Reply, RequestContext};

/// Live sources a rate limiter keeps (Traefik's limit too).
pub const MAX_SOURCES: usize = 65_536;
/// The map is swept for refilled states once it has grown past twice its size after the
/// last sweep (and at least this).
const FIRST_SWEEP: usize = 1024;

#[derive(Debug)]
enum Source {
    Ip(ClientIp),
    Header(HeaderName),
    Host,
}

/// One request's source, as the limiters key it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SourceKey {
    Ip(IpAddr),
    Value(Box<[u8]>),
    /// No source could be read (no peer address, no such header): one shared budget.
    Unknown,
}

impl Source {
    fn new(c: &SourceCriterion) -> Result<Self, BuildError> {
        Ok(match c {
            SourceCriterion::ClientIp {
                depth,
                excluded,
                ipv6_subnet,
            } => Source::Ip(ClientIp::new(*depth, excluded, *ipv6_subnet)?),
            SourceCriterion::Header(h) => Source::Header(crate::header_name(h)?),
            SourceCriterion::Host => Source::Host,
        })
    }

    fn key(&self, req: &RequestHeader, cx: &RequestContext) -> SourceKey {
        let value = |v: &[u8]| SourceKey::Value(Box::from(v));
        match self {
            Source::Ip(c) => c.get(req, cx).map_or(SourceKey::Unknown, SourceKey::Ip),
            Source::Header(name) => req
                .headers
                .get(name)
                .map_or(SourceKey::Unknown, |v| value(v.as_bytes())),
            Source::Host => value(request_host(req).as_bytes()),
        }
    }
}

pub(crate) struct RateLimit {
    source: Source,
    quota: Quota,
    limiter: ArcSwap<DefaultKeyedRateLimiter<SourceKey>>,
    clock: DefaultClock,
    checks: AtomicU64,
    next_sweep: AtomicUsize,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("source", &self.source)
            .finish()
    }
}

impl RateLimit {
    /// None when `average` is 0 (Traefik: no limit).
    pub(crate) fn new(
        average: i64,
        period_ms: u64,
        burst: i64,
        source: &SourceCriterion,
    ) -> Result<Option<Self>, BuildError> {
        let (Ok(average), Ok(burst)) = (u64::try_from(average), u32::try_from(burst.max(1))) else {
            return Err(BuildError("negative rate".into()));
        };
        if average == 0 {
            return Ok(None);
        }
        let nanos = u128::from(period_ms) * 1_000_000 / u128::from(average);
        let per = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX).max(1));
        let quota = Quota::with_period(per)
            .ok_or_else(|| BuildError("zero period".into()))?
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Ok(Some(RateLimit {
            source: Source::new(source)?,
            quota,
            limiter: ArcSwap::from_pointee(RateLimiter::dashmap(quota)),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
            next_sweep: AtomicUsize::new(FIRST_SWEEP),
        }))
    }

    /// Sources the limiter holds now.
    #[cfg(test)]
    pub(crate) fn sources(&self) -> usize {
        self.limiter.load().len()
    }

    /// Every 256 checks: past the watermark, refilled states go; past [`MAX_SOURCES`] live
    /// ones, the map starts afresh (every source gets a full budget, as a new client would).
    fn housekeeping(&self) {
        if !self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(256)
        {
            return;
        }
        let limiter = self.limiter.load();
        if limiter.len() <= self.next_sweep.load(Ordering::Relaxed) {
            return;
        }
        limiter.retain_recent();
        limiter.shrink_to_fit();
        let live = limiter.len();
        if live > MAX_SOURCES {
            tracing::warn!(
                sources = live,
                "rateLimit: more than {MAX_SOURCES} sources are active; their states start afresh"
            );
            self.limiter
                .store(Arc::new(RateLimiter::dashmap(self.quota)));
            self.next_sweep.store(FIRST_SWEEP, Ordering::Relaxed);
        } else {
            self.next_sweep
                .store((live * 2).max(FIRST_SWEEP), Ordering::Relaxed);
        }
    }
}

impl RateLimit {
    /// The request's source, as the limiter keys it.
    pub(crate) fn source_key(&self, req: &RequestHeader, cx: &RequestContext) -> SourceKey {
        self.source.key(req, cx)
    }

    /// Takes a token for `key` from the local budget.
    pub(crate) fn check(&self, key: &SourceKey) -> Flow {
        let outcome = self.limiter.load().check_key(key);
        self.housekeeping();
        match outcome {
            Ok(()) => Flow::Continue,
            Err(not_until) => Flow::Respond(too_many_requests(
                not_until.wait_time_from(self.clock.now()),
            )),
        }
    }
}

impl Middleware for RateLimit {
    fn request(&self, req: &mut RequestHeader, cx: &RequestContext) -> Flow {
        self.check(&self.source.key(req, cx))
    }
}

/// Traefik's refusal: 429, with when to come back in `Retry-After` (whole seconds) and
/// `X-Retry-In` (a Go duration).
pub(crate) fn too_many_requests(wait: Duration) -> Reply {
    let mut headers = vec![(
        HeaderName::from_static("retry-after"),
        HeaderValue::from(wait.as_secs_f64().ceil() as u64),
    )];
    if let Ok(v) = HeaderValue::from_str(&go_duration(wait)) {
        headers.push((HeaderName::from_static("x-retry-in"), v));
    }
    Reply {
        status: 429,
        headers,
        body: Bytes::from_static(b"Too Many Requests"),
    }
}

/// Go's duration formatting, enough for X-Retry-In (`866.37436ms`, `1.5s`).
fn go_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{}s", trim(d.as_secs_f64()))
    } else {
        format!("{}ms", trim(d.as_secs_f64() * 1000.0))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[derive(Debug)]
pub struct InFlightReq {
    amount: i64,
    source: Source,
    counts: Arc<DashMap<SourceKey, i64>>,
    reject: Bytes,
}

/// Holds one in-flight place of its source until the request ends (dropped with the
/// request's context); the source leaves the map with its last request.
#[derive(Debug)]
pub struct InFlightGuard {
    counts: Arc<DashMap<SourceKey, i64>>,
    key: SourceKey,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.counts.remove_if_mut(&self.key, |_, count| {
            *count -= 1;
            *count <= 0
        });
    }
}

impl InFlightReq {
    /// None when `amount` is 0 (no limit).
    pub(crate) fn new(amount: i64, source: &SourceCriterion) -> Result<Option<Self>, BuildError> {
        if amount <= 0 {
            return Ok(None);
        }
        Ok(Some(InFlightReq {
            amount,
            source: Source::new(source)?,
            counts: Arc::new(DashMap::new()),
            reject: Bytes::from(format!("max connections reached: {amount}")),
        }))
    }

    /// Sources with a request in flight now.
    #[cfg(test)]
    pub(crate) fn sources(&self) -> usize {
        self.counts.len()
    }

    pub(crate) fn acquire(&self, req: &RequestHeader, cx: &mut RequestContext) -> Flow {
        let key = self.source.key(req, cx);
        let admitted = {
            let mut count = self.counts.entry(key.clone()).or_insert(0);
            let admitted = *count < self.amount;
            if admitted {
                *count += 1;
            }
            admitted
        };
        if !admitted {
            // A source at its limit has requests in flight: its entry stays.
            return Flow::Respond(Reply {
                status: 429,
                headers: Vec::new(),
                body: self.reject.clone(),
            });
        }
        cx.in_flight.push(InFlightGuard {
            counts: self.counts.clone(),
            key,
        });
        Flow::Continue
    }
}

impl Middleware for InFlightReq {
    fn in_flight(&self) -> Option<&InFlightReq> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: &str) -> RequestHeader {
        let mut r = RequestHeader::build("GET", b"/", None).unwrap();
        r.insert_header("host", host).unwrap();
        r
    }

    #[test]
    fn in_flight_slots_are_held_until_the_request_ends() {
        let limit = InFlightReq::new(1, &SourceCriterion::Host)
            .unwrap()
            .unwrap();
        let mut first = RequestContext::default();
        assert!(matches!(
            limit.acquire(&req("a"), &mut first),
            Flow::Continue
        ));
        let mut second = RequestContext::default();
        assert!(
            matches!(limit.acquire(&req("a"), &mut second), Flow::Respond(r) if r.status == 429)
        );
        let mut other = RequestContext::default();
        assert!(
            matches!(limit.acquire(&req("b"), &mut other), Flow::Continue),
            "another source"
        );
        drop(first);
        let mut third = RequestContext::default();
        assert!(matches!(
            limit.acquire(&req("a"), &mut third),
            Flow::Continue
        ));
    }

    #[test]
    fn rate_limit_allows_the_burst_then_429() {
        let limit = RateLimit::new(1, 1000, 2, &SourceCriterion::Host)
            .unwrap()
            .unwrap();
        let cx = RequestContext::default();
        let statuses: Vec<u16> = (0..4)
            .map(|_| match limit.request(&mut req("a"), &cx) {
                Flow::Continue => 200,
                Flow::Respond(r) => r.status,
            })
            .collect();
        assert_eq!(statuses, [200, 200, 429, 429]);
    }
}

#[cfg(test)]
mod per_source {
    use super::*;

    fn from(ip: &str) -> RequestContext {
        RequestContext {
            peer: Some(ip.parse().unwrap()),
            ..RequestContext::default()
        }
    }

    fn get() -> RequestHeader {
        let mut r = RequestHeader::build("GET", b"/", None).unwrap();
        r.insert_header("host", "a").unwrap();
        r
    }

    fn ip_source() -> SourceCriterion {
        SourceCriterion::ClientIp {
            depth: 0,
            excluded: Vec::new(),
            ipv6_subnet: None,
        }
    }

    #[test]
    fn a_client_rotating_sources_never_drains_another_clients_budget() {
        let limit = RateLimit::new(1, 60_000, 1, &ip_source()).unwrap().unwrap();
        let allowed = |ip: &str| matches!(limit.request(&mut get(), &from(ip)), Flow::Continue);
        // 100 000 sources, one request each (an IPv6 /64 or a header rotated per request).
        for i in 0..100_000u32 {
            let ip = std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(i));
            assert!(allowed(&ip.to_string()));
        }
        assert!(
            limit.sources() <= MAX_SOURCES + 256,
            "bounded: {} sources held",
            limit.sources()
        );
        // An unrelated client still has its own full budget.
        assert!(allowed("192.0.2.7"));
        assert!(!allowed("192.0.2.7"), "and its own limit");
    }

    #[test]
    fn in_flight_sources_leave_with_their_last_request() {
        let limit = InFlightReq::new(1, &ip_source()).unwrap().unwrap();
        let mut contexts: Vec<RequestContext> = (0..1000)
            .map(|i| from(&format!("10.0.{}.{}", i / 250, i % 250)))
            .collect();
        for cx in &mut contexts {
            assert!(matches!(limit.acquire(&get(), cx), Flow::Continue));
        }
        assert_eq!(limit.sources(), 1000);
        drop(contexts);
        assert_eq!(limit.sources(), 0);
    }

    #[test]
    fn average_zero_is_no_limit() {
        assert!(RateLimit::new(0, 1000, 0, &ip_source()).unwrap().is_none());
    }
}
