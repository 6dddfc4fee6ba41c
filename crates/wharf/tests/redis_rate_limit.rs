//! `rateLimit.redis` against a real Redis (Debian's `redis-server`) on loopback: two wharf
//! instances and the real Traefik 3.7.15 take tokens from one budget (counted at the
//! backend, and kept under Traefik's key and fields); while Redis is down, wharf limits each
//! source with its own bucket and counts it, where Traefik answers 500; and when Redis is
//! back the budget is shared again.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use redis::Commands;
use wharf_testkit::redis_server::RedisServer;
use wharf_testkit::{free_port, raw, wait_until, EchoServer, WharfProcess};

/// One token a minute: no token comes back during a test, so what passes is the burst.
fn dynamic(redis: &RedisServer, backend: &EchoServer, burst: u32) -> String {
    format!(
        r#"
http:
  routers:
    ready:
      rule: Host(`ready.test`)
      service: backend
    limited:
      rule: Host(`limited.test`)
      middlewares: [shared]
      service: backend
  middlewares:
    shared:
      rateLimit:
        average: 1
        period: 1m
        burst: {burst}
        redis:
          endpoints: ["{}"]
  services:
    backend:
      loadBalancer:
        servers:
          - url: {}
"#,
        redis.endpoint(),
        backend.url()
    )
}

struct Proxy {
    name: &'static str,
    web: SocketAddr,
    admin: SocketAddr,
    proc: WharfProcess,
}

fn start(name: &'static str, binary: &std::path::Path, yaml: &str) -> Proxy {
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let admin_flag = format!("--entryPoints.traefik.address={admin}");
    let (dir, args, web) = common::file_proxy(yaml, &[&admin_flag, "--metrics.prometheus=true"]);
    let proc = common::start_ready(dir, binary, &args, &[web, admin], web);
    Proxy {
        name,
        web,
        admin,
        proc,
    }
}

impl Proxy {
    fn limited(&self) -> raw::Response {
        raw::get(self.web, "limited.test", "/", &[])
            .unwrap_or_else(|e| panic!("{}: request: {e}", self.name))
    }

    /// `wharf_ratelimit_redis_fallbacks_total{middleware="shared@file"}` (0 when absent).
    fn fallbacks(&self) -> u64 {
        let text = raw::get(self.admin, "metrics", "/metrics", &[])
            .expect("scrape")
            .body_text();
        text.lines()
            .find_map(|l| {
                l.strip_prefix("wharf_ratelimit_redis_fallbacks_total{middleware=\"shared@file\"} ")
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// The requests that reached the backend for `limited.test`.
fn passed(backend: &EchoServer) -> usize {
    backend
        .received()
        .iter()
        .filter(|r| r.header("host") == Some("limited.test"))
        .count()
}

#[test]
fn two_wharf_instances_and_traefik_share_one_budget() {
    let redis = RedisServer::start();
    let backend = EchoServer::start("backend");
    let yaml = dynamic(&redis, &backend, 6);
    let proxies = [
        start("wharf-a", &common::wharf_bin(), &yaml),
        start("wharf-b", &common::wharf_bin(), &yaml),
        start("traefik", &common::traefik_bin(), &yaml),
    ];

    let mut statuses = Vec::new();
    for round in 0..7 {
        for p in &proxies {
            let r = p.limited();
            if r.status == 429 {
                assert_eq!(r.body_text(), "Too Many Requests", "{}", p.name);
                let retry: u64 = r
                    .header("retry-after")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{}: Retry-After in seconds", p.name));
                assert!(retry >= 1, "{}: Retry-After {retry}", p.name);
                assert!(r.header("x-retry-in").is_some(), "{}", p.name);
            }
            statuses.push((round, p.name, r.status));
        }
    }
    let allowed = statuses.iter().filter(|(_, _, s)| *s == 200).count();
    // A budget per instance would have let 18 through.
    assert_eq!(allowed, 6, "one budget of 6 for all three: {statuses:?}");
    assert_eq!(passed(&backend), 6, "counted at the backend");
    assert!(
        statuses.iter().all(|(_, _, s)| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    // The first six (two rounds of three) passed, wharf and Traefik alike.
    assert!(
        statuses[..6].iter().all(|(_, _, s)| *s == 200),
        "{statuses:?}"
    );

    // Traefik's key and fields, which is what lets them share it.
    let mut conn = redis.connection();
    let keys: Vec<String> = conn.keys("rate:*").expect("KEYS");
    assert_eq!(keys, vec!["rate:shared@file:127.0.0.1".to_string()]);
    let fields: std::collections::BTreeMap<String, String> =
        conn.hgetall(&keys[0]).expect("HGETALL");
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        vec!["last", "tokens"],
        "{fields:?}"
    );
    let ttl: i64 = conn.ttl(&keys[0]).expect("TTL");
    assert!((1..=61).contains(&ttl), "expires once idle: {ttl}");
    for p in &proxies[..2] {
        assert_eq!(p.fallbacks(), 0, "{}: Redis was reachable", p.name);
    }
}

#[test]
fn a_redis_outage_limits_locally_and_the_budget_is_shared_again_after() {
    let mut redis = RedisServer::start();
    let backend = EchoServer::start("backend");
    let yaml = dynamic(&redis, &backend, 3);
    let wharf = start("wharf", &common::wharf_bin(), &yaml);
    let traefik = start("traefik", &common::traefik_bin(), &yaml);
    assert_eq!(wharf.limited().status, 200, "{}", wharf.proc.log());

    redis.kill();
    // Traefik refuses everything while Redis is down.
    let r = traefik.limited();
    assert_eq!(r.status, 500, "Traefik 3.7.15 without its Redis");
    assert_eq!(r.body_text().trim(), "Could not insert/update bucket");

    // wharf: this instance's own bucket of 3, never a 500.
    let before = passed(&backend);
    let statuses: Vec<u16> = (0..8).map(|_| wharf.limited().status).collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 429, 429, 429, 429, 429],
        "{}",
        wharf.proc.log()
    );
    assert_eq!(passed(&backend) - before, 3);
    assert_eq!(
        wharf.fallbacks(),
        8,
        "each locally limited request is counted"
    );
    assert!(
        wharf.proc.log().contains("Redis is unreachable"),
        "{}",
        wharf.proc.log()
    );

    // Back (empty): wharf dials again and takes from Redis's bucket.
    redis.restart();
    let mut conn = redis.connection();
    assert!(
        wait_until(Duration::from_secs(20), || {
            let _ = wharf.limited();
            conn.exists::<_, bool>("rate:shared@file:127.0.0.1")
                .unwrap_or(false)
        }),
        "wharf never used Redis again:\n{}",
        wharf.proc.log()
    );
    let counted = wharf.fallbacks();
    let _ = wharf.limited();
    assert_eq!(wharf.fallbacks(), counted, "no longer limited locally");
}
