//! The Redis provider against a real Redis (Debian's `redis-server`) on loopback: keys in
//! Traefik's layout (`traefik/http/routers/<name>/rule`, ...) become routes as soon as they are
//! written and leave when deleted; bad keys are reported by key; a Redis restart keeps the last
//! configuration and is followed again; a server that refuses `CONFIG` is polled; a server
//! that speaks only TLS is read through `tls.ca`, by wharf and Traefik alike; and the real
//! Traefik 3.7.15 reads the same keys to the same routers and services.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use redis::Commands;
use wharf_testkit::redis_server::RedisServer;
use wharf_testkit::{free_port, raw, wait_until, EchoServer, WharfProcess};

const WAIT: Duration = Duration::from_secs(20);

struct Edge {
    web: SocketAddr,
    admin: SocketAddr,
    proc: WharfProcess,
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `binary` (wharf or Traefik) with only the Redis provider, on `redis`.
fn edge(binary: &std::path::Path, redis: &RedisServer) -> Edge {
    let web = addr(free_port());
    let admin = addr(free_port());
    let mut args = vec![
        format!("--entryPoints.web.address={web}"),
        format!("--entryPoints.traefik.address={admin}"),
        "--api.insecure=true".to_string(),
        format!("--providers.redis.endpoints={}", redis.endpoint()),
        "--global.checkNewVersion=false".to_string(),
        "--global.sendAnonymousUsage=false".to_string(),
        "--log.level=DEBUG".to_string(),
    ];
    if let Some(ca) = &redis.tls_ca {
        args.push(format!("--providers.redis.tls.ca={}", ca.display()));
    }
    let proc = WharfProcess::start(binary, &args, &[], &[web, admin]);
    Edge { web, admin, proc }
}

impl Edge {
    /// Status and answering backend for `host`.
    fn get(&self, host: &str) -> (u16, String) {
        match raw::get(self.web, host, "/", &[]) {
            Ok(r) => {
                let backend = if r.status == 200 {
                    r.json()["backend"].as_str().unwrap_or("").to_string()
                } else {
                    String::new()
                };
                (r.status, backend)
            }
            Err(e) => (0, e.to_string()),
        }
    }

    fn wait_status(&self, host: &str, status: u16) -> bool {
        wait_until(WAIT, || self.get(host).0 == status)
    }

    /// Redis-provided routers (name -> rule, service, entry points) and services (name ->
    /// server URLs), from the API.
    #[allow(clippy::type_complexity)]
    fn api(&self) -> (BTreeMap<String, String>, BTreeMap<String, Vec<String>>) {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
        let routers = common::api_items(self.admin, "/api/http/routers", "redis")
            .iter()
            .map(|r| {
                (
                    text(&r["name"]),
                    format!(
                        "rule={} service={} entryPoints={}",
                        text(&r["rule"]),
                        text(&r["service"]),
                        r["entryPoints"]
                    ),
                )
            })
            .collect();
        let services = common::api_service_urls(self.admin, "redis");
        (routers, services)
    }
}

/// Writes a router `name` for `host` to a service `name` of `backends`.
fn publish(conn: &mut redis::Connection, name: &str, host: &str, backends: &[&EchoServer]) {
    let mut pairs = vec![
        (
            format!("traefik/http/routers/{name}/rule"),
            format!("Host(`{host}`)"),
        ),
        (
            format!("traefik/http/routers/{name}/service"),
            name.to_string(),
        ),
    ];
    for (i, b) in backends.iter().enumerate() {
        pairs.push((
            format!("traefik/http/services/{name}/loadBalancer/servers/{i}/url"),
            b.url(),
        ));
    }
    let () = conn.mset(&pairs).expect("MSET");
}

/// Deletes every key under `traefik/http/*/<name>/`.
fn unpublish(conn: &mut redis::Connection, name: &str) {
    let mut keys: Vec<String> = Vec::new();
    for kind in ["routers", "services"] {
        let found: Vec<String> = conn
            .keys(format!("traefik/http/{kind}/{name}/*"))
            .expect("KEYS");
        keys.extend(found);
    }
    let _: usize = conn.del(&keys).expect("DEL");
}

#[test]
fn keys_become_routes_when_written_and_leave_when_deleted() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let shop = EchoServer::start("shop");
    let blog_a = EchoServer::start("blog-a");
    let blog_b = EchoServer::start("blog-b");
    // Present before start-up: served from the first request.
    publish(&mut conn, "shop", "shop.test", &[&shop]);
    let e = edge(&common::wharf_bin(), &redis);
    assert_eq!(
        e.get("shop.test"),
        (200, "shop".to_string()),
        "{}",
        e.proc.log()
    );

    // Written while running: followed through keyspace notifications.
    publish(&mut conn, "blog", "blog.test", &[&blog_a, &blog_b]);
    assert!(e.wait_status("blog.test", 200), "{}", e.proc.log());
    let seen: std::collections::BTreeSet<String> = (0..8).map(|_| e.get("blog.test").1).collect();
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec!["blog-a", "blog-b"],
        "both numbered servers are in the service"
    );
    let (routers, services) = e.api();
    assert_eq!(
        routers.get("blog@redis").map(String::as_str),
        Some("rule=Host(`blog.test`) service=blog entryPoints=[\"web\"]"),
        "{routers:?}"
    );
    let mut urls = vec![blog_a.url(), blog_b.url()];
    urls.sort();
    assert_eq!(services.get("blog@redis"), Some(&urls));

    // One changed key changes the route.
    let () = conn
        .set("traefik/http/routers/blog/rule", "Host(`news.test`)")
        .expect("SET");
    assert!(e.wait_status("news.test", 200), "{}", e.proc.log());
    assert_eq!(e.get("blog.test").0, 404);

    // Deleted keys: the route leaves; the other stays.
    unpublish(&mut conn, "blog");
    assert!(e.wait_status("news.test", 404), "{}", e.proc.log());
    assert_eq!(e.get("shop.test"), (200, "shop".to_string()));
}

#[test]
fn a_bad_key_is_reported_by_key_and_the_rest_is_served() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let shop = EchoServer::start("shop");
    let e = edge(&common::wharf_bin(), &redis);
    publish(&mut conn, "shop", "shop.test", &[&shop]);
    let () = conn
        .mset(&[
            ("traefik/http/routers/broken/rule", "Host(`broken.test`"),
            ("traefik/http/routers/broken/service", "shop"),
            ("traefik/http/routers/typo/rulee", "Host(`typo.test`)"),
        ])
        .expect("MSET");
    assert!(
        e.proc.wait_for_log(
            "redis key traefik/http/routers/broken/rule: error: router `broken@redis`: invalid rule",
            WAIT
        ),
        "{}",
        e.proc.log()
    );
    assert!(
        e.proc.wait_for_log(
            "redis key traefik/http/routers/typo/rulee: error: unknown key `http.routers.typo.rulee` (hint: did you mean `http.routers.typo.rule`?)",
            WAIT
        ),
        "{}",
        e.proc.log()
    );
    assert_eq!(e.get("shop.test"), (200, "shop".to_string()));
    assert_eq!(e.get("broken.test").0, 404);
}

#[test]
fn a_redis_restart_keeps_the_last_configuration_and_is_followed_again() {
    let mut redis = RedisServer::start();
    let shop = EchoServer::start("shop");
    let blog = EchoServer::start("blog");
    publish(&mut redis.connection(), "shop", "shop.test", &[&shop]);
    let e = edge(&common::wharf_bin(), &redis);
    assert_eq!(e.get("shop.test").0, 200, "{}", e.proc.log());

    redis.kill();
    assert!(
        e.proc.wait_for_log(
            "redis provider: connection lost; keeping the last configuration",
            WAIT
        ),
        "{}",
        e.proc.log()
    );
    assert_eq!(
        e.get("shop.test"),
        (200, "shop".to_string()),
        "served from the last configuration while Redis is away"
    );

    // Back, empty (nothing persisted), then written anew: wharf reconnects, subscribes again
    // and follows what is there now.
    redis.restart();
    publish(&mut redis.connection(), "blog", "blog.test", &[&blog]);
    assert!(e.wait_status("blog.test", 200), "{}", e.proc.log());
    assert_eq!(
        e.get("shop.test").0,
        404,
        "the store is the truth once it answers again"
    );
}

#[test]
fn a_server_that_refuses_config_is_polled() {
    // Managed Redis services forbid CONFIG: notifications cannot be turned on.
    let redis = RedisServer::start_with(&["--rename-command", "CONFIG", ""]);
    let mut conn = redis.connection();
    let shop = EchoServer::start("shop");
    let e = edge(&common::wharf_bin(), &redis);
    assert!(
        e.proc.wait_for_log("sends no keyspace notifications", WAIT),
        "{}",
        e.proc.log()
    );
    publish(&mut conn, "shop", "shop.test", &[&shop]);
    assert!(e.wait_status("shop.test", 200), "{}", e.proc.log());
    unpublish(&mut conn, "shop");
    assert!(e.wait_status("shop.test", 404), "{}", e.proc.log());
}

/// The real Traefik reads the same keys (a router with numbered entry points and
/// middlewares, a weighted service, a middleware) to the same routers, services and answers.
#[test]
fn traefik_reads_the_same_keys_to_the_same_configuration() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let a = EchoServer::start("a");
    let b = EchoServer::start("b");
    publish(&mut conn, "shop", "shop.test", &[&a, &b]);
    let () = conn
        .mset(&[
            ("traefik/http/routers/shop/entryPoints/0", "web"),
            ("traefik/http/routers/shop/middlewares/0", "tag"),
            (
                "traefik/http/middlewares/tag/headers/customRequestHeaders/X-Tag",
                "kv",
            ),
            (
                "traefik/http/routers/api/rule",
                "Host(`api.test`) && PathPrefix(`/v1`)",
            ),
            ("traefik/http/routers/api/service", "shop"),
            ("traefik/http/routers/api/priority", "50"),
        ])
        .expect("MSET");
    let wharf = edge(&common::wharf_bin(), &redis);
    let traefik = edge(&common::traefik_bin(), &redis);

    let expected_routers: BTreeMap<String, String> = [
        (
            "api@redis",
            "rule=Host(`api.test`) && PathPrefix(`/v1`) service=shop entryPoints=[\"web\"]",
        ),
        (
            "shop@redis",
            "rule=Host(`shop.test`) service=shop entryPoints=[\"web\"]",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut urls = vec![a.url(), b.url()];
    urls.sort();
    for (name, proxy) in [("wharf", &wharf), ("traefik", &traefik)] {
        assert!(
            wait_until(WAIT, || proxy.api().0 == expected_routers),
            "{name}: {:?}\n{}",
            proxy.api(),
            proxy.proc.log()
        );
        assert_eq!(proxy.api().1.get("shop@redis"), Some(&urls), "{name}");
        let r = raw::get(proxy.web, "shop.test", "/", &[]).expect("request");
        assert_eq!(r.status, 200, "{name}");
        let tagged = r.json()["headers"]
            .as_array()
            .is_some_and(|h| h.iter().any(|kv| kv[0] == "x-tag" && kv[1] == "kv"));
        assert!(tagged, "{name}: the middleware ran: {}", r.body_text());
        assert_eq!(proxy.get("api.test").0, 404, "{name}: no /v1");
        let r = raw::get(proxy.web, "api.test", "/v1/x", &[]).expect("request");
        assert_eq!(r.status, 200, "{name}");
    }

    // A change reaches both.
    let () = conn
        .set("traefik/http/routers/shop/rule", "Host(`store.test`)")
        .expect("SET");
    for (name, proxy) in [("wharf", &wharf), ("traefik", &traefik)] {
        assert!(proxy.wait_status("store.test", 200), "{name}");
        assert_eq!(proxy.get("shop.test").0, 404, "{name}");
    }
}

#[test]
fn a_redis_that_speaks_only_tls_is_followed_through_its_ca() {
    let redis = RedisServer::start_tls();
    let mut conn = redis.connection();
    let backend = EchoServer::start("tls-backend");
    publish(&mut conn, "secure", "secure.test", &[&backend]);
    let wharf = edge(&common::wharf_bin(), &redis);
    let traefik = edge(&common::traefik_bin(), &redis);
    for (name, proxy) in [("wharf", &wharf), ("traefik", &traefik)] {
        assert!(
            proxy.wait_status("secure.test", 200),
            "{name}:\n{}",
            proxy.proc.log()
        );
        assert_eq!(proxy.get("secure.test").1, "tls-backend", "{name}");
    }
    // Followed, not only read once.
    unpublish(&mut conn, "secure");
    publish(&mut conn, "moved", "moved.test", &[&backend]);
    for (name, proxy) in [("wharf", &wharf), ("traefik", &traefik)] {
        assert!(proxy.wait_status("moved.test", 200), "{name}");
        assert!(proxy.wait_status("secure.test", 404), "{name}");
    }
}

/// The primary named by a Sentinel, as `host:port`.
fn primary_of(sentinel: &mut redis::Connection) -> String {
    let (host, port): (String, u16) = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg("edge")
        .query(sentinel)
        .expect("SENTINEL GET-MASTER-ADDR-BY-NAME");
    format!("{host}:{port}")
}

#[test]
fn through_sentinel_the_primary_is_found_and_followed_after_a_failover() {
    use wharf_testkit::redis_server::Sentinel;
    let mut primary = RedisServer::start();
    let replica = RedisServer::start_with(&[]);
    let mut replica_conn = replica.connection();
    let () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(primary.addr.port())
        .query(&mut replica_conn)
        .expect("REPLICAOF");
    let sentinel = Sentinel::start("edge", &primary);
    let mut sentinel_conn = sentinel.connection();
    let backend = EchoServer::start("sentinel-backend");
    publish(
        &mut primary.connection(),
        "before",
        "before.test",
        &[&backend],
    );

    let args = |web: SocketAddr, admin: SocketAddr| {
        vec![
            format!("--entryPoints.web.address={web}"),
            format!("--entryPoints.traefik.address={admin}"),
            "--api.insecure=true".to_string(),
            format!("--providers.redis.endpoints={}", sentinel.addr),
            "--providers.redis.sentinel.masterName=edge".to_string(),
            "--global.checkNewVersion=false".to_string(),
            "--global.sendAnonymousUsage=false".to_string(),
            "--log.level=DEBUG".to_string(),
        ]
    };
    let start = |binary: &std::path::Path| {
        let (web, admin) = (addr(free_port()), addr(free_port()));
        Edge {
            web,
            admin,
            proc: WharfProcess::start(binary, &args(web, admin), &[], &[web, admin]),
        }
    };
    let wharf = start(&common::wharf_bin());
    let traefik = start(&common::traefik_bin());
    for (name, proxy) in [("wharf", &wharf), ("traefik", &traefik)] {
        assert!(
            proxy.wait_status("before.test", 200),
            "{name} through the Sentinel:\n{}",
            proxy.proc.log()
        );
    }

    // The replica has the keys (its first sync may wait for a diskless transfer); the
    // Sentinel promotes it; the old primary dies.
    assert!(
        wait_until(WAIT, || replica
            .connection()
            .exists::<_, bool>("traefik/http/routers/before/rule")
            .unwrap_or(false)),
        "the replica never synchronised"
    );
    assert!(
        wait_until(WAIT, || {
            redis::cmd("SENTINEL")
                .arg("REPLICAS")
                .arg("edge")
                .query::<Vec<redis::Value>>(&mut sentinel_conn)
                .is_ok_and(|r| !r.is_empty())
        }),
        "the Sentinel never saw the replica"
    );
    let () = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg("edge")
        .query(&mut sentinel_conn)
        .expect("SENTINEL FAILOVER");
    let promoted = replica.endpoint();
    assert!(
        wait_until(WAIT, || primary_of(&mut sentinel_conn) == promoted),
        "no failover: {}",
        primary_of(&mut sentinel_conn)
    );
    assert!(
        wait_until(WAIT, || {
            // A fresh connection: the promotion closes the clients' ones.
            redis::cmd("ROLE")
                .query::<Vec<redis::Value>>(&mut replica.connection())
                .is_ok_and(
                    |r| matches!(r.first(), Some(redis::Value::BulkString(b)) if b == b"master"),
                )
        }),
        "the replica was not promoted"
    );
    primary.kill();
    publish(
        &mut replica.connection(),
        "after",
        "after.test",
        &[&backend],
    );
    assert!(
        wharf.wait_status("after.test", 200),
        "wharf never reached the new primary:\n{}",
        wharf.proc.log()
    );
    assert_eq!(
        wharf.get("before.test").0,
        200,
        "the keys replicated before"
    );
}
