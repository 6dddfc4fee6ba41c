//! Services against real backends on loopback: active and passive health checks, wharf's
//! failover on failed connections, weights at extreme ratios, strategies, sticky cookies, and
//! bad service definitions. Distributions are asserted from what the backends counted.

mod common;

use common::{backend, served, server_status, set_cookie, start, switch_health, WAIT};
use wharf_testkit::raw::{self, KeepAlive};
use wharf_testkit::{free_port, wait_until, EchoServer};

fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

#[test]
fn health_checks_take_a_server_out_and_bring_it_back() {
    let (b1, b2) = (EchoServer::start("b1"), EchoServer::start("b2"));
    let yaml = format!(
        r#"
http:
  routers:
    hc: {{rule: "Host(`hc.test`)", service: hc}}
  services:
    hc:
      loadBalancer:
        servers: [{{url: "{b1}"}}, {{url: "{b2}"}}]
        healthCheck:
          path: /health?x=1
          interval: 100ms
          timeout: 1s
          hostname: hc.example
          headers: {{X-HC: "yes"}}
"#,
        b1 = b1.url(),
        b2 = b2.url()
    );
    let s = start(&yaml, &["--api.insecure=true".to_string()]);
    let status = |b: &EchoServer| server_status(s.admin, "hc@file", &b.url());

    // The check as Traefik sends it.
    assert!(wait_until(WAIT, || b1
        .received()
        .iter()
        .any(|r| r.target == "/health?x=1")));
    let check = b1
        .received()
        .into_iter()
        .find(|r| r.target == "/health?x=1")
        .unwrap();
    assert_eq!(check.method, "GET");
    assert_eq!(check.header("host"), Some("hc.example"));
    assert_eq!(check.header("x-hc"), Some("yes"));
    assert_eq!(check.header("user-agent"), Some("Go-http-client/1.1"));
    assert_eq!(check.header("x-forwarded-for"), None);
    assert_eq!((status(&b1).as_str(), status(&b2).as_str()), ("UP", "UP"));

    let mut client = KeepAlive::connect(s.web).unwrap();
    let names: Vec<String> = (0..4)
        .map(|_| backend(&client.get("hc.test", "/").unwrap()))
        .collect();
    assert_eq!(names, ["b1", "b2", "b1", "b2"]);

    // b2 fails its checks: out at the next one, and nothing reaches it.
    switch_health(&b2, false);
    assert!(
        wait_until(WAIT, || status(&b2) == "DOWN"),
        "{}",
        s.proc.log()
    );
    let before = served(&b2);
    for _ in 0..10 {
        let r = client.get("hc.test", "/").unwrap();
        assert_eq!((r.status, backend(&r).as_str()), (200, "b1"));
    }
    assert_eq!(served(&b2), before, "a server out of rotation gets nothing");

    // Back at its next good check.
    switch_health(&b2, true);
    assert!(wait_until(WAIT, || status(&b2) == "UP"));
    assert!(wait_until(WAIT, || backend(
        &client.get("hc.test", "/").unwrap()
    ) == "b2"));

    // Every server down: Traefik's 503.
    switch_health(&b1, false);
    switch_health(&b2, false);
    assert!(wait_until(WAIT, || client
        .get("hc.test", "/")
        .unwrap()
        .status
        == 503));
    let r = raw::get(s.web, "hc.test", "/", &[]).unwrap();
    assert_eq!(r.body_text(), "no available server\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        (status(&b1).as_str(), status(&b2).as_str()),
        ("DOWN", "DOWN")
    );
}

#[test]
fn a_dead_server_costs_no_request() {
    let b1 = EchoServer::start("b1");
    let (dead, dead_checked) = (dead_url(), dead_url());
    let yaml = format!(
        r#"
http:
  routers:
    pair: {{rule: "Host(`pair.test`)", service: pair}}
    checked: {{rule: "Host(`checked.test`)", service: checked}}
    alone: {{rule: "Host(`alone.test`)", service: alone}}
  services:
    pair:
      loadBalancer:
        servers: [{{url: "{dead}"}}, {{url: "{b1}"}}]
    checked:
      loadBalancer:
        servers: [{{url: "{dead_checked}"}}, {{url: "{b1}"}}]
        healthCheck: {{path: /health, interval: 100ms}}
    alone:
      loadBalancer:
        servers: [{{url: "{dead}"}}]
"#,
        b1 = b1.url()
    );
    let s = start(&yaml, &["--api.insecure=true".to_string()]);
    // Without a health check: each failed connection is retried on the live server, for
    // any method, and the dead one is avoided for a while.
    for method in ["GET", "POST", "PUT", "DELETE", "GET", "POST"] {
        let r = raw::request(s.web, method, "pair.test", "/", &[("Content-Length", "0")]).unwrap();
        assert_eq!(r.status, 200, "{method}");
        // b1 also answers the `checked` service's health checks (GET /health): the last
        // request for `/` is this one.
        let proxied = b1.received().into_iter().rev().find(|r| r.target == "/");
        assert_eq!(proxied.unwrap().method, method);
    }
    // With one: out from its first check on.
    assert!(wait_until(WAIT, || server_status(
        s.admin,
        "checked@file",
        &dead_checked
    ) == "DOWN"));
    for _ in 0..10 {
        let r = raw::request(
            s.web,
            "POST",
            "checked.test",
            "/",
            &[("Content-Length", "0")],
        )
        .unwrap();
        assert_eq!(r.status, 200);
    }
    // A service whose only server is dead still answers 502, as Traefik, not 503.
    for _ in 0..3 {
        let r = raw::get(s.web, "alone.test", "/", &[]).unwrap();
        assert_eq!((r.status, r.body_text().as_str()), (502, "Bad Gateway"));
    }
}

#[test]
fn weights_hold_at_any_ratio() {
    let (b1, b2) = (EchoServer::start("b1"), EchoServer::start("b2"));
    let yaml = format!(
        r#"
http:
  routers:
    heavy: {{rule: "Host(`heavy.test`)", service: heavy}}
    three: {{rule: "Host(`three.test`)", service: three}}
  services:
    heavy:
      loadBalancer:
        servers: [{{url: "{b1}", weight: 5000}}, {{url: "{b2}", weight: 1}}]
    three:
      loadBalancer:
        servers: [{{url: "{b1}", weight: 3}}, {{url: "{b2}"}}]
"#,
        b1 = b1.url(),
        b2 = b2.url()
    );
    let s = start(&yaml, &[]);
    let mut client = KeepAlive::connect(s.web).unwrap();
    // Traefik's order for 3:1 (traefik-compat.md V32).
    let order: Vec<String> = (0..8)
        .map(|_| backend(&client.get("three.test", "/").unwrap()))
        .collect();
    assert_eq!(order, ["b1", "b1", "b2", "b1", "b1", "b1", "b1", "b2"]);
    let (before1, before2) = (served(&b1), served(&b2));
    for _ in 0..5001 {
        assert_eq!(client.get("heavy.test", "/").unwrap().status, 200);
    }
    assert_eq!(
        (served(&b1) - before1, served(&b2) - before2),
        (5000, 1),
        "one full cycle of 5000:1"
    );
}

#[test]
fn strategies_under_a_slow_server() {
    let (slow, fast) = (EchoServer::start("slow"), EchoServer::start("fast"));
    let b3 = EchoServer::start("b3");
    let yaml = format!(
        r#"
http:
  routers:
    lt: {{rule: "Host(`lt.test`)", service: lt}}
    p2c: {{rule: "Host(`p2c.test`)", service: p2c}}
    hrw: {{rule: "Host(`hrw.test`)", service: hrw}}
  services:
    lt:
      loadBalancer:
        strategy: leasttime
        servers: [{{url: "{slow}/delay/150", preservePath: true}}, {{url: "{fast}"}}]
    p2c:
      loadBalancer:
        strategy: p2c
        servers: [{{url: "{slow}/delay/150", preservePath: true}}, {{url: "{fast}"}}]
    hrw:
      loadBalancer:
        strategy: hrw
        servers: [{{url: "{slow}"}}, {{url: "{fast}"}}, {{url: "{b3}"}}]
"#,
        slow = slow.url(),
        fast = fast.url(),
        b3 = b3.url()
    );
    let s = start(&yaml, &[]);

    // leasttime: once both have answered, the slow one is left alone.
    let mut client = KeepAlive::connect(s.web).unwrap();
    let names: Vec<String> = (0..20)
        .map(|_| backend(&client.get("lt.test", "/x?y=1").unwrap()))
        .collect();
    let slow_picks = names.iter().filter(|n| *n == "slow").count();
    assert!(slow_picks <= 2, "{names:?}");
    assert_eq!(
        slow.last().unwrap().target,
        "/delay/150/x?y=1",
        "preservePath puts the server's path first"
    );

    // p2c: under concurrency the server with requests in flight gets fewer.
    let before = (served(&slow), served(&fast));
    let web = s.web;
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = KeepAlive::connect(web).unwrap();
                for _ in 0..5 {
                    assert_eq!(c.get("p2c.test", "/").unwrap().status, 200);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let (to_slow, to_fast) = (served(&slow) - before.0, served(&fast) - before.1);
    assert_eq!(to_slow + to_fast, 40);
    assert!(to_slow * 2 < to_fast, "slow {to_slow}, fast {to_fast}");

    // hrw: each client address stays on one server; addresses spread.
    let seen = common::backend_per_client_ip(s.web, "hrw.test");
    assert!(seen.len() > 1, "{seen:?}");
}

#[test]
fn passive_health_checks_take_a_failing_server_out() {
    let (b1, b2) = (EchoServer::start("b1"), EchoServer::start("b2"));
    let yaml = format!(
        r#"
http:
  routers:
    passive: {{rule: "Host(`passive.test`)", service: passive}}
  services:
    passive:
      loadBalancer:
        servers: [{{url: "{b1}/status/500", preservePath: true}}, {{url: "{b2}"}}]
        passiveHealthCheck: {{failureWindow: 1m, maxFailedAttempts: 2}}
"#,
        b1 = b1.url(),
        b2 = b2.url()
    );
    let s = start(&yaml, &["--api.insecure=true".to_string()]);
    let mut client = KeepAlive::connect(s.web).unwrap();
    let statuses: Vec<u16> = (0..12)
        .map(|_| client.get("passive.test", "/").unwrap().status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 500).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(served(&b1), 2, "out after two failures, for the window");
    let failing = format!("{}/status/500", b1.url());
    assert!(wait_until(WAIT, || server_status(
        s.admin,
        "passive@file",
        &failing
    ) == "DOWN"));
    assert_eq!(server_status(s.admin, "passive@file", &b2.url()), "UP");
}

#[test]
fn sticky_cookies_pin_a_client_and_repin_it() {
    let (b1, b2) = (EchoServer::start("b1"), EchoServer::start("b2"));
    let yaml = format!(
        r#"
http:
  routers:
    sticky: {{rule: "Host(`sticky.test`)", service: svcsticky}}
    named: {{rule: "Host(`named.test`)", service: named}}
  services:
    svcsticky:
      loadBalancer:
        servers: [{{url: "{b1}"}}, {{url: "{b2}"}}]
        sticky: {{cookie: {{}}}}
        healthCheck: {{path: /health, interval: 100ms}}
    named:
      loadBalancer:
        servers: [{{url: "{b1}"}}, {{url: "{b2}"}}]
        sticky:
          cookie: {{name: "my cookie", secure: true, httpOnly: true, sameSite: STRICT, maxAge: 60}}
"#,
        b1 = b1.url(),
        b2 = b2.url()
    );
    let s = start(&yaml, &["--api.insecure=true".to_string()]);
    let first = raw::get(s.web, "sticky.test", "/", &[]).unwrap();
    let set = set_cookie(&first, "_2c04d").unwrap();
    // Traefik's default name for svcsticky@file, and a 16-hex-digit value.
    let pair = set
        .strip_suffix("; Path=/")
        .unwrap_or_else(|| panic!("{set}"));
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, "_2c04d");
    assert!(
        value.len() == 16 && value.chars().all(|c| c.is_ascii_hexdigit()),
        "{value}"
    );
    let pinned = backend(&first);
    let cookie = format!("{name}={value}");
    for _ in 0..6 {
        let r = raw::get(s.web, "sticky.test", "/", &[("Cookie", &cookie)]).unwrap();
        assert_eq!(backend(&r), pinned);
        assert_eq!(set_cookie(&r, "_2c04d"), None, "pinned: no new cookie");
    }
    // A bogus value gets a normal pick and a new cookie.
    let r = raw::get(s.web, "sticky.test", "/", &[("Cookie", "_2c04d=bogus")]).unwrap();
    assert!(set_cookie(&r, "_2c04d").is_some());

    // The pinned server goes down: the client is re-pinned elsewhere.
    let (down, other) = if pinned == "b1" {
        (&b1, "b2")
    } else {
        (&b2, "b1")
    };
    switch_health(down, false);
    assert!(wait_until(WAIT, || server_status(
        s.admin,
        "svcsticky@file",
        &down.url()
    ) == "DOWN"));
    let r = raw::get(s.web, "sticky.test", "/", &[("Cookie", &cookie)]).unwrap();
    assert_eq!(backend(&r), other);
    let repinned = set_cookie(&r, "_2c04d").unwrap();
    assert!(
        repinned.starts_with("_2c04d=") && !repinned.contains(value),
        "{repinned}"
    );

    // Every attribute, in Go's order; the name's space becomes `_`.
    let r = raw::get(s.web, "named.test", "/", &[]).unwrap();
    let set = set_cookie(&r, "my_cookie").unwrap();
    let rest = set
        .strip_prefix("my_cookie=")
        .unwrap_or_else(|| panic!("{set}"));
    assert_eq!(
        &rest[16..],
        "; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict"
    );
}

#[test]
fn a_bad_service_is_reported_where_it_is_written_and_the_rest_serves() {
    let b1 = EchoServer::start("b1");
    let yaml = format!(
        r#"
http:
  routers:
    good: {{rule: "Host(`good.test`)", service: good}}
    bad: {{rule: "Host(`bad.test`)", service: bad}}
    badhc: {{rule: "Host(`badhc.test`)", service: badhc}}
  services:
    good:
      loadBalancer:
        servers: [{{url: "{b1}"}}]
    bad:
      loadBalancer:
        strategy: fastest
        servers: [{{url: "{b1}"}}]
    badhc:
      loadBalancer:
        servers: [{{url: "{b1}"}}]
        healthCheck: {{path: "http://elsewhere/health"}}
"#,
        b1 = b1.url()
    );
    let s = start(&yaml, &[]);
    assert_eq!(raw::get(s.web, "good.test", "/", &[]).unwrap().status, 200);
    assert_eq!(raw::get(s.web, "bad.test", "/", &[]).unwrap().status, 404);
    assert_eq!(raw::get(s.web, "badhc.test", "/", &[]).unwrap().status, 404);
    let file = s.dynamic.display().to_string();
    for needle in [
        format!("{file}:13:19: error: `http.services.bad.loadBalancer.strategy: fastest` is not a load-balancing strategy"),
        "use one of: wrr, p2c, hrw, leasttime".to_string(),
        format!("{file}:18:29: error: `http.services.badhc.loadBalancer.healthCheck.path: http://elsewhere/health` must be a relative URL"),
    ] {
        assert!(s.proc.wait_for_log(&needle, WAIT), "{needle}\n{}", s.proc.log());
    }
}

#[test]
fn grpc_health_checks_use_grpc_health_v1() {
    let (g1, g2) = (EchoServer::start("g1"), EchoServer::start("g2"));
    let yaml = format!(
        r#"
http:
  routers:
    grpc: {{rule: "Host(`grpc.test`)", service: grpc}}
  services:
    grpc:
      loadBalancer:
        servers: [{{url: "{g1}"}}, {{url: "{g2}"}}]
        healthCheck: {{mode: grpc, interval: 100ms}}
"#,
        g1 = g1.url().replace("http://", "h2c://"),
        g2 = g2.url().replace("http://", "h2c://")
    );
    let s = start(&yaml, &["--api.insecure=true".to_string()]);
    let g2_url = g2.url().replace("http://", "h2c://");
    assert!(wait_until(WAIT, || {
        g1.received()
            .iter()
            .any(|r| r.target == "/grpc.health.v1.Health/Check")
    }));
    let check = g1
        .received()
        .into_iter()
        .find(|r| r.target == "/grpc.health.v1.Health/Check")
        .unwrap();
    assert_eq!(
        (check.method.as_str(), check.version.as_str()),
        ("POST", "HTTP/2.0")
    );
    assert_eq!(check.header("content-type"), Some("application/grpc"));
    assert_eq!(check.body, [0, 0, 0, 0, 0], "an empty HealthCheckRequest");
    assert_eq!(server_status(s.admin, "grpc@file", &g2_url), "UP");
    switch_health(&g2, false);
    assert!(wait_until(WAIT, || server_status(
        s.admin,
        "grpc@file",
        &g2_url
    ) == "DOWN"));
    for _ in 0..6 {
        assert_eq!(
            backend(&raw::get(s.web, "grpc.test", "/", &[]).unwrap()),
            "g1"
        );
    }
}
