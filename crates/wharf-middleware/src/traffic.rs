//! rateLimit and inFlightReq. Sources are hashed onto a fixed set of slots (lock-free, no
//! allocation per request); two sources sharing a slot share its budget, which only ever
//! makes the limit stricter for them.

use std::hash::{BuildHasher, Hash, Hasher};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::{HeaderName, HeaderValue};
use pingora::http::RequestHeader;
use wharf_model::SourceCriterion;

use crate::access::ClientIp;
use crate::{request_host, BuildError, Flow, Middleware, Reply, RequestContext};

const SLOTS: usize = 1024;

#[derive(Debug)]
enum Source {
    Ip(ClientIp),
    Header(HeaderName),
    Host,
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

    /// The slot of this request's source.
    fn slot(
        &self,
        req: &RequestHeader,
        cx: &RequestContext,
        seed: &std::collections::hash_map::RandomState,
    ) -> usize {
        let mut h = seed.build_hasher();
        match self {
            Source::Ip(c) => c.get(req, cx).hash(&mut h),
            Source::Header(name) => req
                .headers
                .get(name)
                .map(HeaderValue::as_bytes)
                .hash(&mut h),
            Source::Host => request_host(req).hash(&mut h),
        }
        (h.finish() as usize) % SLOTS
    }
}

pub(crate) struct RateLimit {
    source: Source,
    seed: std::collections::hash_map::RandomState,
    limiters: Vec<DefaultDirectRateLimiter>,
    clock: DefaultClock,
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
        let per = Duration::from_nanos(
            (u128::from(period_ms) * 1_000_000 / u128::from(average)).max(1) as u64,
        );
        let quota = Quota::with_period(per)
            .ok_or_else(|| BuildError("zero period".into()))?
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Ok(Some(RateLimit {
            source: Source::new(source)?,
            seed: Default::default(),
            limiters: (0..SLOTS).map(|_| RateLimiter::direct(quota)).collect(),
            clock: DefaultClock::default(),
        }))
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

impl Middleware for RateLimit {
    fn request(&self, req: &mut RequestHeader, cx: &RequestContext) -> Flow {
        let slot = self.source.slot(req, cx, &self.seed);
        match self.limiters[slot].check() {
            Ok(()) => Flow::Continue,
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let mut headers = vec![(
                    HeaderName::from_static("retry-after"),
                    HeaderValue::from(wait.as_secs_f64().ceil() as u64),
                )];
                if let Ok(v) = HeaderValue::from_str(&go_duration(wait)) {
                    headers.push((HeaderName::from_static("x-retry-in"), v));
                }
                Flow::Respond(Reply {
                    status: 429,
                    headers,
                    body: Bytes::from_static(b"Too Many Requests"),
                })
            }
        }
    }
}

#[derive(Debug)]
pub struct InFlightReq {
    amount: i64,
    source: Source,
    seed: std::collections::hash_map::RandomState,
    slots: Arc<Vec<AtomicI64>>,
    reject: Bytes,
}

/// Holds one in-flight slot until the request ends (dropped with the request's context).
#[derive(Debug)]
pub struct InFlightGuard {
    slots: Arc<Vec<AtomicI64>>,
    slot: usize,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.slots[self.slot].fetch_sub(1, Ordering::AcqRel);
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
            seed: Default::default(),
            slots: Arc::new((0..SLOTS).map(|_| AtomicI64::new(0)).collect()),
            reject: Bytes::from(format!("max connections reached: {amount}")),
        }))
    }

    pub(crate) fn acquire(&self, req: &RequestHeader, cx: &mut RequestContext) -> Flow {
        let slot = self.source.slot(req, cx, &self.seed);
        let now = self.slots[slot].fetch_add(1, Ordering::AcqRel);
        let guard = InFlightGuard {
            slots: self.slots.clone(),
            slot,
        };
        if now >= self.amount {
            drop(guard);
            return Flow::Respond(Reply {
                status: 429,
                headers: Vec::new(),
                body: self.reject.clone(),
            });
        }
        cx.in_flight.push(guard);
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
