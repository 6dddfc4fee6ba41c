//! rateLimit with `redis`: every instance pointing at one Redis shares each source's
//! budget. The bucket is Traefik 3.7's (key `rate:<middleware>:<source>`, fields `last` and
//! `tokens`), so wharf and Traefik instances can share it during a migration, and so is the
//! shaping: a request that would wait up to half a token's period is held that long instead
//! of being refused.
//!
//! Where Traefik answers every request 500 while Redis is unreachable, wharf limits each
//! source with this instance's own bucket until Redis is back: the outage is logged once
//! (an error, as the providers log a lost connection), its end once (info), and each
//! request so limited is counted
//! (`wharf_ratelimit_redis_fallbacks_total{middleware}`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use dashmap::DashMap;
use pingora::http::RequestHeader;
use wharf_model::{RateLimitRedis, SourceCriterion};
use wharf_redis::token_bucket::{self, Bucket};
use wharf_redis::Link;

use crate::traffic::{too_many_requests, RateLimit, SourceKey};
use crate::{AsyncRequest, BuildError, Flow, Middleware, RequestContext};

/// Requests limited locally because Redis was unreachable, by middleware: kept across
/// configurations, as the counter of a middleware that is rebuilt must go on.
static FALLBACKS: LazyLock<DashMap<String, Arc<AtomicU64>>> = LazyLock::new(DashMap::new);

/// Each `rateLimit.redis` middleware's count of requests it limited locally, by name.
pub fn redis_rate_limit_fallbacks() -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = FALLBACKS
        .iter()
        .map(|e| (e.key().clone(), e.value().load(Ordering::Relaxed)))
        .collect();
    all.sort();
    all
}

pub(crate) struct SharedRateLimit {
    name: String,
    /// `rate:<middleware>:`, the source follows.
    key_prefix: Vec<u8>,
    bucket: Bucket,
    link: Link,
    endpoint: String,
    /// The bucket used while Redis is unreachable (and the request's source).
    local: RateLimit,
    fallbacks: Arc<AtomicU64>,
    /// Redis was unreachable at the last request: its return is logged.
    degraded: AtomicBool,
}

impl std::fmt::Debug for SharedRateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRateLimit")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// Traefik's shaping constants for `average` per `period_ms`: the longest a request is held
/// (half a token's period, at most 0.5 s) and how long an idle bucket lives (seconds).
pub(crate) fn shaping(average: u64, period_ms: u64) -> Option<(f64, Duration, u64)> {
    if average == 0 || period_ms == 0 {
        return None;
    }
    let per_second = average as f64 * 1000.0 / period_ms as f64;
    let max_delay = if per_second < 1.0 {
        Duration::from_millis(500)
    } else {
        // Traefik divides a second by the whole tokens per second, twice.
        let whole = (per_second as u64).saturating_mul(2).max(1);
        Duration::from_nanos(1_000_000_000 / whole)
    };
    let ttl = if per_second >= 1.0 {
        2
    } else {
        (1.0 / per_second).min(u32::MAX as f64) as u64 + 1
    };
    Some((per_second, max_delay, ttl))
}

impl SharedRateLimit {
    /// None when `average` is 0 (no limit).
    pub(crate) fn new(
        name: &str,
        average: i64,
        period_ms: u64,
        burst: i64,
        source: &SourceCriterion,
        redis: &RateLimitRedis,
    ) -> Result<Option<Self>, BuildError> {
        let Some(local) = RateLimit::new(average, period_ms, burst, source)? else {
            return Ok(None);
        };
        let average = u64::try_from(average).map_err(|_| BuildError("negative rate".into()))?;
        let Some((per_second, max_delay, ttl_seconds)) = shaping(average, period_ms) else {
            return Ok(None);
        };
        let fallbacks = FALLBACKS.entry(name.to_string()).or_default().clone();
        Ok(Some(SharedRateLimit {
            name: name.to_string(),
            key_prefix: format!("rate:{name}:").into_bytes(),
            bucket: Bucket {
                rate_per_us: per_second / 1e6,
                burst: u64::try_from(burst.max(1)).unwrap_or(1),
                ttl_seconds,
                max_delay,
            },
            link: Link::new(
                redis.connection.clone(),
                redis.dial_timeout,
                redis.read_timeout,
            ),
            endpoint: redis.connection.endpoint.clone(),
            local,
            fallbacks,
            degraded: AtomicBool::new(false),
        }))
    }

    /// The Redis key of a source's bucket.
    fn key(&self, source: &SourceKey) -> Vec<u8> {
        // Sized once: prefix, then the source written in place (an IP is at most 39 bytes).
        let mut key = Vec::with_capacity(self.key_prefix.len() + 39);
        key.extend_from_slice(&self.key_prefix);
        match source {
            SourceKey::Ip(ip) => {
                let _infallible = std::io::Write::write_fmt(&mut key, format_args!("{ip}"));
            }
            SourceKey::Value(v) => key.extend_from_slice(v),
            SourceKey::Unknown => {}
        }
        key
    }

    /// The wait Redis grants for a token of `source`, or why it could not be asked.
    async fn ask_redis(&self, source: &SourceKey) -> Result<Duration, String> {
        let mut connection = self.link.connection().await.map_err(|e| e.to_string())?;
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        token_bucket::take(&mut connection, &self.key(source), &self.bucket, now_us)
            .await
            .map_err(|e| {
                self.link.broken();
                e.to_string()
            })
    }
}

#[async_trait]
impl AsyncRequest for SharedRateLimit {
    async fn run(&self, req: &mut RequestHeader, cx: &mut RequestContext) -> Flow {
        let source = self.local.source_key(req, cx);
        match self.ask_redis(&source).await {
            Ok(wait) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!(middleware = %self.name, endpoint = %self.endpoint,
                        limited_locally = self.fallbacks.load(Ordering::Relaxed),
                        "rateLimit: Redis is reachable again; the budget is shared again");
                }
                if wait > self.bucket.max_delay {
                    return Flow::Respond(too_many_requests(wait));
                }
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                Flow::Continue
            }
            Err(why) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::error!(middleware = %self.name, endpoint = %self.endpoint, error = %why,
                        "rateLimit: Redis is unreachable; each instance limits on its own until it is back (Traefik would answer 500)");
                }
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                self.local.check(&source)
            }
        }
    }
}

impl Middleware for SharedRateLimit {
    fn request_async(&self) -> Option<&dyn AsyncRequest> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shaping_follows_traefik() {
        // 5 per second: a token every 200 ms, held up to 100 ms, kept 2 s.
        let (rate, delay, ttl) = shaping(5, 1000).expect("limited");
        assert!((rate - 5.0).abs() < 1e-9);
        assert_eq!(delay, Duration::from_millis(100));
        assert_eq!(ttl, 2);
        // One per minute: held up to 0.5 s, kept 61 s.
        let (_, delay, ttl) = shaping(1, 60_000).expect("limited");
        assert_eq!(delay, Duration::from_millis(500));
        assert_eq!(ttl, 61);
        // Absurd periods stay finite.
        let (_, _, ttl) = shaping(1, u64::MAX).expect("limited");
        assert_eq!(ttl, u64::from(u32::MAX) + 1);
        assert!(shaping(0, 1000).is_none());
    }
}
