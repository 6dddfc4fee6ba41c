//! A token bucket kept in Redis, in Traefik 3.7's layout so Traefik and wharf instances
//! can share one budget during a migration: a hash with fields `last` (microseconds since
//! the Unix epoch) and `tokens` (a float, negative while requests wait), expiring after
//! `ttl` seconds of silence. One script call takes a token atomically.

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::MultiplexedConnection;

/// Refills the bucket for the time since `last`, takes a token, and answers how long the
/// caller must wait for it. A wait beyond the allowed delay leaves the token where it was
/// (the request is refused, so it must not spend the budget).
///
/// Instances stamp their own `now`, so calls can arrive out of order: `last` never moves
/// back. (Traefik's script sets it to the late call's earlier time, and the next call is
/// refilled for that stretch a second time: 2 % over budget in `benches/redis/shared_limit.py`.)
const TAKE: &str = r"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local max_delay = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'last', 'tokens')
local last = tonumber(state[1])
local tokens = tonumber(state[2])
if last == nil or tokens == nil then
  last = now
  tokens = burst
end
if now > last then
  tokens = math.min(burst, tokens + (now - last) * rate)
  last = now
end
tokens = tokens - 1
local wait = 0
if tokens < 0 then
  wait = -tokens / rate
  if wait > max_delay then
    tokens = tokens + 1
  end
end
redis.call('HSET', KEYS[1], 'last', last, 'tokens', tokens)
redis.call('EXPIRE', KEYS[1], ttl)
return {'true', tostring(wait), tostring(tokens)}
";

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(TAKE));

/// A bucket's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Tokens per microsecond.
    pub rate_per_us: f64,
    pub burst: u64,
    /// Seconds an idle bucket is kept.
    pub ttl_seconds: u64,
    /// The longest wait a request is made to do; beyond it, it is refused.
    pub max_delay: Duration,
}

/// Takes a token from the bucket at `key`, at `now_us` (microseconds since the Unix epoch).
/// Ok(wait): the token is the caller's after `wait` (zero: now); the caller is refused when
/// `wait` exceeds the bucket's `max_delay`.
pub async fn take(
    connection: &mut MultiplexedConnection,
    key: &[u8],
    bucket: &Bucket,
    now_us: u64,
) -> redis::RedisResult<Duration> {
    let max_delay_us = u64::try_from(bucket.max_delay.as_micros()).unwrap_or(u64::MAX);
    let (_ok, wait, _tokens): (String, String, String) = SCRIPT
        .key(key)
        .arg(bucket.rate_per_us)
        .arg(bucket.burst)
        .arg(bucket.ttl_seconds)
        .arg(now_us)
        .arg(max_delay_us)
        .invoke_async(connection)
        .await?;
    let wait_us: f64 = wait.parse().map_err(|_| {
        redis::RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "token bucket script: the wait is not a number",
            wait.clone(),
        ))
    })?;
    Ok(micros(wait_us))
}

/// A wait in microseconds as a Duration (negative or NaN: none; past u64: the most).
fn micros(us: f64) -> Duration {
    if us.is_nan() || us <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(us / 1e6).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_durations_whatever_the_script_says() {
        assert_eq!(micros(1500.0), Duration::from_micros(1500));
        assert_eq!(micros(-3.0), Duration::ZERO);
        assert_eq!(micros(f64::NAN), Duration::ZERO);
        assert_eq!(micros(f64::INFINITY), Duration::MAX);
    }
}
