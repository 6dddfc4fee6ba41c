//! The token-bucket script against a real Redis (Debian's `redis-server`): Traefik's key
//! layout, refusals that do not spend the budget, and calls arriving out of order (each
//! instance stamps its own time) that refill nothing twice.

use std::time::Duration;

use redis::AsyncCommands;
use wharf_redis::token_bucket::{take, Bucket};
use wharf_testkit::redis_server::RedisServer;

const SECOND_US: u64 = 1_000_000;
const T0: u64 = 1_800_000_000 * SECOND_US;

#[tokio::test]
async fn tokens_are_taken_refused_and_refilled_once() {
    let redis = RedisServer::start();
    let client = redis::Client::open(format!("redis://{}/", redis.endpoint())).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    // One token a second, a burst of 2, no wait allowed.
    let bucket = Bucket {
        rate_per_us: 1.0 / SECOND_US as f64,
        burst: 2,
        ttl_seconds: 2,
        max_delay: Duration::ZERO,
    };
    let key = b"rate:limit@file:192.0.2.1";
    let at = |t: u64| {
        let mut conn = conn.clone();
        async move { take(&mut conn, key, &bucket, t).await.expect("script") }
    };
    assert_eq!(at(T0).await, Duration::ZERO, "the burst");
    assert_eq!(at(T0).await, Duration::ZERO, "the burst");
    assert_eq!(
        at(T0).await,
        Duration::from_secs(1),
        "empty: a token in 1 s"
    );
    // Half a token later: refused, and the half stays.
    assert_eq!(at(T0 + SECOND_US / 2).await, Duration::from_millis(500));
    // A call stamped earlier (another instance's clock) refills nothing.
    assert_eq!(
        at(T0 + 4 * SECOND_US / 10).await,
        Duration::from_millis(500)
    );
    // At T0 + 1 s exactly one token has come: taken.
    assert_eq!(at(T0 + SECOND_US).await, Duration::ZERO);

    let fields: std::collections::BTreeMap<String, f64> =
        conn.hgetall(&key[..]).await.expect("HGETALL");
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert_eq!(fields["last"], (T0 + SECOND_US) as f64);
    assert!(
        fields["tokens"].abs() < 1e-9,
        "nothing refilled twice: {fields:?}"
    );
    let ttl: i64 = conn.ttl(&key[..]).await.expect("TTL");
    assert!((1..=2).contains(&ttl), "{ttl}");
}
