//! weighted, failover, mirroring and highestRandomWeight services against real backends on
//! loopback, and composite definitions that are wrong.

mod common;

use common::{backend, served, start, switch_health, WAIT};
use wharf_testkit::raw;
use wharf_testkit::{wait_until, EchoServer};

#[test]
fn composite_services_route_as_traefik() {
    let (b1, b2, b3) = (
        EchoServer::start("b1"),
        EchoServer::start("b2"),
        EchoServer::start("b3"),
    );
    let yaml = format!(
        r#"
http:
  routers:
    weighted: {{rule: "Host(`weighted.test`)", service: wsvc}}
    sticky: {{rule: "Host(`sticky.test`)", service: wsticky}}
    failover: {{rule: "Host(`failover.test`)", service: fo}}
    onerror: {{rule: "Host(`onerror.test`)", service: foerr}}
    mirror: {{rule: "Host(`mirror.test`)", service: mirrored}}
    hrw: {{rule: "Host(`hrw.test`)", service: hrwsvc}}
  services:
    one: {{loadBalancer: {{servers: [{{url: "{b1}"}}], healthCheck: {{path: /health, interval: 100ms}}}}}}
    two: {{loadBalancer: {{servers: [{{url: "{b2}"}}], healthCheck: {{path: /health, interval: 100ms}}}}}}
    three: {{loadBalancer: {{servers: [{{url: "{b3}"}}]}}}}
    failing: {{loadBalancer: {{servers: [{{url: "{b1}/status/503", preservePath: true}}], healthCheck: {{path: /health, interval: 100ms}}}}}}
    wsvc:
      weighted:
        services: [{{name: one, weight: 1}}, {{name: two, weight: 1}}]
        healthCheck: {{}}
    wsticky:
      weighted:
        services: [{{name: one}}, {{name: three}}]
        sticky: {{cookie: {{name: pin}}}}
    fo: {{failover: {{service: one, fallback: three}}}}
    foerr: {{failover: {{service: failing, fallback: three, errors: {{status: ["500-599"]}}}}}}
    mirrored:
      mirroring:
        service: three
        mirrors: [{{name: two, percent: 100}}, {{name: one, percent: 50}}]
    hrwsvc:
      highestRandomWeight:
        services: [{{name: one}}, {{name: two}}, {{name: three}}]
"#,
        b1 = b1.url(),
        b2 = b2.url(),
        b3 = b3.url()
    );
    let s = start(&yaml, &[]);
    let get = |host: &str| raw::get(s.web, host, "/", &[]).unwrap();

    // weighted 1:1 alternates; with healthCheck {} a down child is left out.
    let names: Vec<String> = (0..4).map(|_| backend(&get("weighted.test"))).collect();
    assert_eq!(names, ["b1", "b2", "b1", "b2"], "{}", s.proc.log());

    // failover: the primary while it is up, the fallback while it is down, and back.
    assert_eq!(backend(&get("failover.test")), "b1");
    switch_health(&b1, false);
    assert!(wait_until(WAIT, || backend(&get("failover.test")) == "b3"));
    assert!((0..4).all(|_| backend(&get("weighted.test")) == "b2"));
    switch_health(&b1, true);
    assert!(wait_until(WAIT, || backend(&get("failover.test")) == "b1"));

    // failover errors: the primary's 503 is resent to the fallback, body and all.
    let r = raw::send(
        s.web,
        b"POST /form HTTP/1.1\r\nHost: onerror.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .unwrap();
    assert_eq!((r.status, backend(&r).as_str()), (200, "b3"));
    assert_eq!(b3.last().unwrap().body, b"hello");

    // weighted sticky: the cookie names the child service; it pins the client.
    let first = get("sticky.test");
    let cookie = first
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("pin="))
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .expect("the weighted level's cookie");
    let pinned = backend(&first);
    for _ in 0..4 {
        let r = raw::get(s.web, "sticky.test", "/", &[("Cookie", &cookie)]).unwrap();
        assert_eq!(backend(&r), pinned);
    }

    // mirroring: the client sees the main service; mirrors get copies with the body.
    let before = (served(&b1), served(&b2));
    for i in 0..10 {
        let body = format!("copy{i}");
        let len = body.len();
        let raw_req = format!(
            "POST /m HTTP/1.1\r\nHost: mirror.test\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}"
        );
        let r = raw::send(s.web, raw_req.as_bytes()).unwrap();
        assert_eq!((r.status, backend(&r).as_str()), (200, "b3"));
    }
    assert!(wait_until(WAIT, || served(&b2) - before.1 >= 10));
    let copies: Vec<_> = b2
        .received()
        .into_iter()
        .filter(|r| r.method == "POST" && r.target == "/m")
        .collect();
    assert!(
        copies.iter().any(|c| c.body == b"copy9"),
        "bodies are copied"
    );
    assert!(wait_until(WAIT, || served(&b1) - before.0 >= 5));

    // highestRandomWeight: each client address keeps its child.
    let seen = common::backend_per_client_ip(s.web, "hrw.test");
    assert!(seen.len() > 1, "{seen:?}");
}

#[test]
fn wrong_composites_are_reported_and_the_rest_serves() {
    let b1 = EchoServer::start("b1");
    let yaml = format!(
        r#"
http:
  routers:
    good: {{rule: "Host(`good.test`)", service: ok}}
    loop: {{rule: "Host(`loop.test`)", service: w1}}
    missing: {{rule: "Host(`missing.test`)", service: lost}}
    unchecked: {{rule: "Host(`unchecked.test`)", service: fo}}
  services:
    plain: {{loadBalancer: {{servers: [{{url: "{b1}"}}]}}}}
    ok: {{weighted: {{services: [{{name: plain}}]}}}}
    w1: {{weighted: {{services: [{{name: w2}}]}}}}
    w2: {{weighted: {{services: [{{name: w1}}]}}}}
    lost: {{weighted: {{services: [{{name: plian}}]}}}}
    fo: {{failover: {{service: plain, fallback: plain}}}}
"#,
        b1 = b1.url()
    );
    let s = start(&yaml, &[]);
    assert_eq!(raw::get(s.web, "good.test", "/", &[]).unwrap().status, 200);
    for host in ["loop.test", "missing.test", "unchecked.test"] {
        assert_eq!(
            raw::get(s.web, host, "/", &[]).unwrap().status,
            404,
            "{host}"
        );
    }
    let file = s.dynamic.display().to_string();
    for needle in [
        "service `w1@file` contains itself: w1@file -> w2@file -> w1@file".to_string(),
        format!("{file}:14:"),
        "its child service `plian@file` does not exist".to_string(),
        "did you mean `plain@file`?".to_string(),
        "failover service `fo@file`: its primary `plain@file` has no health check".to_string(),
    ] {
        assert!(
            s.proc.wait_for_log(&needle, WAIT),
            "{needle}\n{}",
            s.proc.log()
        );
    }
}
