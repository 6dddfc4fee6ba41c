//! `circuitBreaker`: oxy's breaker as Traefik uses it, lock-free.
//!
//! Requests let through are recorded (status, latency) in a rolling window of ten one-second
//! slots. Every `checkPeriod` the expression is evaluated on the window; when it holds the
//! breaker trips: for `fallbackDuration` every request gets `responseCode` at once. Then it
//! recovers: over `recoveryDuration` a growing share of requests (linearly, from none to
//! all) goes through again, and a condition that holds again trips it anew. Under heavy
//! concurrency counts are approximate (racing updates of one slot may merge), never blocking.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wharf_model::CircuitBreakerSpec;
use wharf_rule::{BreakerExpr, Condition, Metric};

use crate::{Flow, Middleware, Reply, RequestContext};

const SLOTS: usize = 10;
/// Latency buckets: 8 per power of two of microseconds (about 9% wide), up to ~1 hour.
const LATENCY_BUCKETS: usize = 8 * 33;

const STANDBY: u8 = 0;
const TRIPPED: u8 = 1;
const RECOVERING: u8 = 2;

/// One second of the rolling window.
struct Slot {
    second: AtomicU64,
    total: AtomicU64,
    network_errors: AtomicU64,
    /// Counts per status range the expression uses.
    ranges: Vec<AtomicU64>,
    /// Empty when the expression has no latency condition.
    latency: Vec<AtomicU32>,
}

impl Slot {
    fn clear(&self) {
        self.total.store(0, Ordering::Relaxed);
        self.network_errors.store(0, Ordering::Relaxed);
        self.ranges
            .iter()
            .for_each(|c| c.store(0, Ordering::Relaxed));
        self.latency
            .iter()
            .for_each(|c| c.store(0, Ordering::Relaxed));
    }
}

/// The breaker's state, shared by every request of every generation while the definition
/// is unchanged.
pub struct CircuitBreaker {
    expression: BreakerExpr,
    /// `[from, to)` status ranges the expression counts.
    ranges: Vec<(u16, u16)>,
    check_period_ms: u64,
    fallback_ms: u64,
    recovery_ms: u64,
    response_code: u16,
    epoch: Instant,
    slots: Vec<Slot>,
    state: AtomicU8,
    /// Milliseconds since `epoch`: end of the tripped or recovering phase.
    until: AtomicU64,
    recovery_start: AtomicU64,
    next_check: AtomicU64,
    allowed: AtomicU64,
    denied: AtomicU64,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish()
    }
}

fn latency_bucket(micros: u64) -> usize {
    if micros < 8 {
        return micros as usize;
    }
    let log = micros.ilog2() as usize;
    let sub = ((micros >> (log - 3)) & 7) as usize;
    (log * 8 + sub - 16).min(LATENCY_BUCKETS - 1)
}

/// The smallest latency (µs) of a bucket.
fn bucket_floor(bucket: usize) -> u64 {
    if bucket < 8 {
        return bucket as u64;
    }
    let b = bucket + 16;
    let (log, sub) = (b / 8, (b % 8) as u64);
    (8 + sub) << (log - 3)
}

impl CircuitBreaker {
    pub fn new(spec: &CircuitBreakerSpec) -> Self {
        let mut ranges = Vec::new();
        let mut latency = false;
        collect(&spec.expression, &mut ranges, &mut latency);
        let slots = (0..SLOTS)
            .map(|_| Slot {
                second: AtomicU64::new(u64::MAX),
                total: AtomicU64::new(0),
                network_errors: AtomicU64::new(0),
                ranges: ranges.iter().map(|_| AtomicU64::new(0)).collect(),
                latency: if latency {
                    (0..LATENCY_BUCKETS).map(|_| AtomicU32::new(0)).collect()
                } else {
                    Vec::new()
                },
            })
            .collect();
        CircuitBreaker {
            expression: spec.expression.clone(),
            ranges,
            check_period_ms: spec.check_period_ms,
            fallback_ms: spec.fallback_ms,
            recovery_ms: spec.recovery_ms,
            response_code: spec.response_code,
            epoch: Instant::now(),
            slots,
            state: AtomicU8::new(STANDBY),
            until: AtomicU64::new(0),
            recovery_start: AtomicU64::new(0),
            next_check: AtomicU64::new(0),
            allowed: AtomicU64::new(0),
            denied: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this request goes through (else it gets the fallback answer).
    fn allows(&self) -> bool {
        let now = self.now_ms();
        let mut state = self.state.load(Ordering::Acquire);
        if state == STANDBY {
            return true;
        }
        if state == TRIPPED {
            if now < self.until.load(Ordering::Acquire) {
                return false;
            }
            if self
                .state
                .compare_exchange(TRIPPED, RECOVERING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.allowed.store(0, Ordering::Relaxed);
                self.denied.store(0, Ordering::Relaxed);
                self.recovery_start.store(now, Ordering::Release);
                self.until
                    .store(now.saturating_add(self.recovery_ms), Ordering::Release);
            }
            state = RECOVERING;
        }
        if state == RECOVERING {
            if now > self.until.load(Ordering::Acquire) {
                // Losing the race means another request already moved on: nothing to do.
                self.state
                    .compare_exchange(RECOVERING, STANDBY, Ordering::AcqRel, Ordering::Acquire)
                    .ok();
                return true;
            }
            // Let through as many as keeps the share of allowed requests under the target,
            // which grows from 0 to 1 over recoveryDuration.
            let elapsed = now.saturating_sub(self.recovery_start.load(Ordering::Acquire));
            let target = elapsed as f64 / self.recovery_ms.max(1) as f64;
            let allowed = self.allowed.load(Ordering::Relaxed);
            let denied = self.denied.load(Ordering::Relaxed);
            if (allowed + 1) as f64 / (allowed + 1 + denied) as f64 <= target {
                self.allowed.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            self.denied.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Records a request that went through, then (at most every checkPeriod) evaluates the
    /// expression.
    pub fn record(&self, status: u16, latency: Duration) {
        let now = self.now_ms();
        let second = now / 1000;
        let slot = &self.slots[(second % SLOTS as u64) as usize];
        let seen = slot.second.load(Ordering::Acquire);
        if seen != second
            && slot
                .second
                .compare_exchange(seen, second, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            slot.clear();
        }
        slot.total.fetch_add(1, Ordering::Relaxed);
        if status == 502 || status == 504 {
            slot.network_errors.fetch_add(1, Ordering::Relaxed);
        }
        for (i, (from, to)) in self.ranges.iter().enumerate() {
            if (*from..*to).contains(&status) {
                slot.ranges[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        if !slot.latency.is_empty() {
            let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            slot.latency[latency_bucket(micros)].fetch_add(1, Ordering::Relaxed);
        }
        self.check(now);
    }

    fn check(&self, now: u64) {
        let due = self.next_check.load(Ordering::Acquire);
        if now < due
            || self
                .next_check
                .compare_exchange(
                    due,
                    now.saturating_add(self.check_period_ms),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_err()
        {
            return;
        }
        if self.state.load(Ordering::Acquire) == TRIPPED {
            return;
        }
        let window = self.window(now / 1000);
        if self
            .expression
            .eval(&mut |c: &Condition| c.holds(window.measure(c.metric, &self.ranges)))
        {
            self.until
                .store(now.saturating_add(self.fallback_ms), Ordering::Release);
            self.state.store(TRIPPED, Ordering::Release);
            tracing::debug!("circuitBreaker tripped");
            for slot in &self.slots {
                slot.second.store(u64::MAX, Ordering::Release);
                slot.clear();
            }
        }
    }

    /// Sums the slots of the last ten seconds.
    fn window(&self, second: u64) -> Window {
        let mut w = Window {
            total: 0,
            network_errors: 0,
            ranges: vec![0; self.ranges.len()],
            latency: Vec::new(),
        };
        for slot in &self.slots {
            let s = slot.second.load(Ordering::Acquire);
            if s == u64::MAX || s + SLOTS as u64 <= second {
                continue;
            }
            w.total += slot.total.load(Ordering::Relaxed);
            w.network_errors += slot.network_errors.load(Ordering::Relaxed);
            for (sum, c) in w.ranges.iter_mut().zip(&slot.ranges) {
                *sum += c.load(Ordering::Relaxed);
            }
            if !slot.latency.is_empty() {
                w.latency.resize(LATENCY_BUCKETS, 0);
                for (sum, c) in w.latency.iter_mut().zip(&slot.latency) {
                    *sum += u64::from(c.load(Ordering::Relaxed));
                }
            }
        }
        w
    }

    fn fallback(&self) -> Reply {
        let code = http::StatusCode::from_u16(self.response_code)
            .unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE);
        Reply {
            status: code.as_u16(),
            // As Traefik: the status text, and no Content-Type.
            headers: Vec::new(),
            body: Bytes::from(code.canonical_reason().unwrap_or("")),
        }
    }

    /// The request phase: through (recorded when it ends) or the fallback answer.
    pub(crate) fn admit(self: &Arc<Self>, cx: &mut RequestContext) -> Flow {
        if self.allows() {
            cx.breakers.push((self.clone(), Instant::now()));
            Flow::Continue
        } else {
            Flow::Respond(self.fallback())
        }
    }
}

/// Walks every condition (unlike `eval`, which short-circuits).
fn collect(e: &BreakerExpr, ranges: &mut Vec<(u16, u16)>, latency: &mut bool) {
    match e {
        BreakerExpr::Leaf(c) => match c.metric {
            Metric::ResponseCodeRatio { part, of } => {
                for r in [part, of] {
                    if !ranges.contains(&r) {
                        ranges.push(r);
                    }
                }
            }
            Metric::LatencyAtQuantileMs(_) => *latency = true,
            Metric::NetworkErrorRatio => {}
        },
        BreakerExpr::Not(inner) => collect(inner, ranges, latency),
        BreakerExpr::And(a, b) | BreakerExpr::Or(a, b) => {
            collect(a, ranges, latency);
            collect(b, ranges, latency);
        }
    }
}

struct Window {
    total: u64,
    network_errors: u64,
    ranges: Vec<u64>,
    latency: Vec<u64>,
}

impl Window {
    fn measure(&self, metric: Metric, ranges: &[(u16, u16)]) -> f64 {
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        match metric {
            Metric::NetworkErrorRatio => ratio(self.network_errors, self.total),
            Metric::ResponseCodeRatio { part, of } => {
                let count = |r: (u16, u16)| {
                    ranges
                        .iter()
                        .position(|x| *x == r)
                        .map_or(0, |i| self.ranges[i])
                };
                ratio(count(part), count(of))
            }
            Metric::LatencyAtQuantileMs(q) => {
                let total: u64 = self.latency.iter().sum();
                if total == 0 {
                    return 0.0;
                }
                let rank = ((q / 100.0) * total as f64).ceil().max(1.0) as u64;
                let mut seen = 0;
                for (bucket, n) in self.latency.iter().enumerate() {
                    seen += n;
                    if seen >= rank {
                        return bucket_floor(bucket) as f64 / 1000.0;
                    }
                }
                0.0
            }
        }
    }
}

/// The middleware in a chain.
#[derive(Debug)]
pub(crate) struct Breaker(pub(crate) Arc<CircuitBreaker>);

impl Middleware for Breaker {
    fn circuit_breaker(&self) -> Option<&Arc<CircuitBreaker>> {
        Some(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A breaker that evaluates its expression at every recorded request (checkPeriod 0),
    /// so the tests need no clock.
    /// Its clock starts two minutes ago, so that deadlines can be set in the past.
    fn breaker(expr: &str) -> Arc<CircuitBreaker> {
        let mut b = CircuitBreaker::new(&CircuitBreakerSpec {
            expression: wharf_rule::parse_breaker_expression(expr).unwrap(),
            check_period_ms: 0,
            fallback_ms: 60_000,
            recovery_ms: 60_000,
            response_code: 503,
        });
        b.epoch = Instant::now()
            .checked_sub(Duration::from_secs(120))
            .expect("the machine has been up two minutes");
        Arc::new(b)
    }

    #[test]
    fn latency_buckets_are_ordered_and_tight() {
        let mut last = 0;
        for micros in [
            0,
            1,
            7,
            8,
            9,
            15,
            16,
            100,
            1_000,
            99_999,
            1_000_000,
            u64::MAX,
        ] {
            let b = latency_bucket(micros);
            assert!(b >= last, "{micros}");
            last = b;
            let floor = bucket_floor(b);
            assert!(floor <= micros, "{micros} -> {b} -> {floor}");
            if micros < 1 << 35 {
                assert!(micros - floor <= micros / 8, "{micros} -> {floor}");
            }
        }
    }

    #[test]
    fn trips_on_network_errors_then_recovers() {
        let b = breaker("NetworkErrorRatio() > 0.5");
        assert!(b.allows());
        b.record(200, Duration::from_millis(1));
        b.record(502, Duration::from_millis(1));
        assert!(b.allows(), "1 of 2 failed: not over 0.5");
        b.record(502, Duration::from_millis(1));
        assert!(!b.allows(), "2 of 3 failed: tripped");
        assert_eq!(b.fallback().status, 503);
        assert_eq!(b.fallback().body, "Service Unavailable");
        // Past the fallback duration, recovery starts by letting nothing through...
        b.until.store(0, Ordering::Release);
        assert!(!b.allows());
        assert_eq!(b.state.load(Ordering::Acquire), RECOVERING);
        // ...and once the recovery duration is over, everything.
        b.until.store(0, Ordering::Release);
        assert!(b.allows());
        assert_eq!(b.state.load(Ordering::Acquire), STANDBY);
        assert!(b.allows());
    }

    #[test]
    fn recovery_lets_a_growing_share_through() {
        let b = breaker("NetworkErrorRatio() > 0.5");
        b.record(502, Duration::ZERO);
        assert!(!b.allows());
        b.until.store(0, Ordering::Release);
        assert!(!b.allows(), "recovering, at 0 %");
        // Halfway through the recovery: about one request in two.
        let now = b.now_ms();
        b.recovery_start
            .store(now.saturating_sub(30_000), Ordering::Release);
        b.until.store(now + 30_000, Ordering::Release);
        let through = (0..100).filter(|_| b.allows()).count();
        assert!((40..=60).contains(&through), "{through} of 100");
    }

    #[test]
    fn response_codes_and_latency() {
        let b = breaker("ResponseCodeRatio(500, 600, 0, 600) > 0.4");
        for status in [200, 200, 500] {
            b.record(status, Duration::ZERO);
        }
        assert!(b.allows(), "1 of 3");
        b.record(503, Duration::ZERO);
        assert!(!b.allows(), "2 of 4");
        let slow = breaker("LatencyAtQuantileMS(50.0) > 100");
        slow.record(200, Duration::from_millis(10));
        slow.record(200, Duration::from_millis(500));
        assert!(slow.allows(), "the median is 10ms");
        slow.record(200, Duration::from_millis(700));
        assert!(!slow.allows(), "the median is 500ms");
    }
}
