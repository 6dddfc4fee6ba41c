//! Differential test of services: the same dynamic file and the same request stream through
//! wharf and through the real Traefik 3.7.15, each with backends of its own; what clients,
//! backends and the API see must agree, and must be what Traefik was observed to do
//! (traefik-compat.md §5, V6, V7, V32, V33).
//!
//! Compared as counts, not orders: Traefik shuffles a service's servers when it builds it, so
//! which server a cycle starts with differs from run to run.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use common::{backend, check_expected, differences, file_proxy, start_ready, switch_health, WAIT};
use sha2::{Digest, Sha256};
use wharf_testkit::{free_port, raw, wait_until, EchoServer};

struct Backends {
    b1: EchoServer,
    b2: EchoServer,
    b3: EchoServer,
}

fn yaml(b: &Backends) -> String {
    format!(
        r#"
http:
  routers:
    ready: {{rule: "Host(`ready.test`)", service: single}}
    three: {{rule: "Host(`three.test`)", service: three}}
    sticky: {{rule: "Host(`sticky.test`)", service: svcsticky}}
    named: {{rule: "Host(`named.test`)", service: named}}
    hc: {{rule: "Host(`hc.test`)", service: hc}}
    slow: {{rule: "Host(`slow.test`)", service: slow}}
    empty: {{rule: "Host(`empty.test`)", service: empty}}
    mirror: {{rule: "Host(`mirror.test`)", service: mirrored}}
    failover: {{rule: "Host(`failover.test`)", service: fo}}
  services:
    single: {{loadBalancer: {{servers: [{{url: "{b1}"}}]}}}}
    three: {{loadBalancer: {{servers: [{{url: "{b1}", weight: 3}}, {{url: "{b2}"}}]}}}}
    svcsticky:
      loadBalancer:
        servers: [{{url: "{b1}"}}, {{url: "{b2}"}}]
        sticky: {{cookie: {{}}}}
    named:
      loadBalancer:
        servers: [{{url: "{b1}"}}]
        sticky: {{cookie: {{name: mycookie, secure: true, httpOnly: true, sameSite: strict, maxAge: 60}}}}
    hc:
      loadBalancer:
        servers: [{{url: "{b1}"}}, {{url: "{b2}"}}]
        healthCheck: {{path: /health, interval: 200ms, timeout: 1s}}
    slow:
      loadBalancer:
        servers: [{{url: "{b3}"}}]
        serversTransport: impatient
    empty: {{loadBalancer: {{servers: []}}}}
    main: {{loadBalancer: {{servers: [{{url: "{b3}"}}]}}}}
    copy: {{loadBalancer: {{servers: [{{url: "{b2}"}}]}}}}
    mirrored:
      mirroring:
        service: main
        mirrors: [{{name: copy, percent: 100}}]
    fallback: {{loadBalancer: {{servers: [{{url: "{b3}"}}]}}}}
    fo: {{failover: {{service: hc, fallback: fallback}}}}
  serversTransports:
    impatient:
      forwardingTimeouts: {{responseHeaderTimeout: 500ms}}
"#,
        b1 = b.b1.url(),
        b2 = b.b2.url(),
        b3 = b.b3.url()
    )
}

fn sha16(url: &str) -> String {
    Sha256::digest(url.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn set_cookie(r: &raw::Response) -> Option<String> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.clone())
        .find(|v| !v.starts_with("authck=") && !v.starts_with("backendck="))
}

/// `serverStatus` of `service@file`, servers named by backend.
fn server_status(admin: SocketAddr, service: &str, b: &Backends) -> String {
    let Ok(r) = raw::get(admin, "localhost", "/api/http/services", &[]) else {
        return String::new();
    };
    let name = format!("{service}@file");
    let services = r.json();
    let Some(svc) = services
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == name.as_str())
    else {
        return String::new();
    };
    [("b1", &b.b1), ("b2", &b.b2), ("b3", &b.b3)]
        .iter()
        .filter_map(|(n, e)| {
            svc["serverStatus"][e.url()]
                .as_str()
                .map(|s| format!("{n}={s}"))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs the scenario through `binary` and records what was seen, one key per observation.
fn observe(binary: &Path) -> BTreeMap<String, String> {
    let b = Backends {
        b1: EchoServer::start("b1"),
        b2: EchoServer::start("b2"),
        b3: EchoServer::start("b3"),
    };
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let admin_flag = format!("--entryPoints.traefik.address={admin}");
    let (dir, args, web) = file_proxy(&yaml(&b), &[&admin_flag, "--api.insecure=true"]);
    let proc = start_ready(dir, binary, &args, &[web, admin], web);
    let mut seen = BTreeMap::new();
    let mut note = |k: &str, v: String| {
        seen.insert(k.to_string(), v);
    };
    let get = |host: &str, path: &str, extra: &[(&str, &str)]| {
        raw::get(web, host, path, extra).expect("request")
    };

    // Weights 3:1: two full cycles.
    let mut counts = BTreeMap::<String, usize>::new();
    for _ in 0..8 {
        *counts
            .entry(backend(&get("three.test", "/", &[])))
            .or_default() += 1;
    }
    note("weighted 3:1 over 8", format!("{counts:?}"));

    // Sticky, default cookie: Traefik's name, sha256 of the pinned server's URL, Path=/.
    let r = get("sticky.test", "/", &[]);
    let pinned = backend(&r);
    let url = if pinned == "b1" {
        b.b1.url()
    } else {
        b.b2.url()
    };
    let cookie = set_cookie(&r).unwrap_or_default();
    let (pair, attrs) = cookie.split_once(';').unwrap_or((&cookie, ""));
    let (name, value) = pair.split_once('=').unwrap_or_default();
    note("sticky cookie name", name.to_string());
    note(
        "sticky value is sha256(url)[..16]",
        (value == sha16(&url)).to_string(),
    );
    note("sticky attributes", attrs.trim().to_string());
    let again: Vec<String> = (0..5)
        .map(|_| backend(&get("sticky.test", "/", &[("Cookie", pair)])))
        .collect();
    note(
        "sticky pinned",
        again.iter().all(|n| *n == pinned).to_string(),
    );
    let bogus = get("sticky.test", "/", &[("Cookie", &format!("{name}=bogus"))]);
    note(
        "sticky bogus value gets a cookie",
        set_cookie(&bogus).is_some().to_string(),
    );
    let named = set_cookie(&get("named.test", "/", &[])).unwrap_or_default();
    note(
        "named cookie attributes",
        named
            .split_once(';')
            .map(|(_, a)| a.trim().to_string())
            .unwrap_or_default(),
    );

    // Health checks: out at the next check, back at the next good one; all down is 503.
    assert!(wait_until(WAIT, || server_status(admin, "hc", &b) == "b1=UP,b2=UP"));
    switch_health(&b.b2, false);
    assert!(wait_until(WAIT, || server_status(admin, "hc", &b) == "b1=UP,b2=DOWN"));
    let after: Vec<String> = (0..6).map(|_| backend(&get("hc.test", "/", &[]))).collect();
    note("hc with b2 down", after.join(" "));
    switch_health(&b.b2, true);
    assert!(wait_until(WAIT, || server_status(admin, "hc", &b) == "b1=UP,b2=UP"));
    assert!(wait_until(WAIT, || backend(&get("hc.test", "/", &[])) == "b2"));
    note("hc b2 back", "true".to_string());
    // failover: the primary (hc) while up.
    note(
        "failover primary up",
        backend(&get("failover.test", "/", &[])),
    );
    switch_health(&b.b1, false);
    switch_health(&b.b2, false);
    // Both seen down by their checks first: once, on a loaded machine, serverStatus read
    // right after a 503 still showed b1 UP.
    assert!(wait_until(WAIT, || server_status(admin, "hc", &b) == "b1=DOWN,b2=DOWN"));
    assert!(wait_until(WAIT, || get("hc.test", "/", &[]).status == 503));
    let r = get("hc.test", "/", &[]);
    note(
        "all down",
        format!(
            "{} {:?} {:?}",
            r.status,
            r.body_text(),
            r.header("content-type")
        ),
    );
    note(
        "all down nosniff",
        format!("{:?}", r.header("x-content-type-options")),
    );
    note("all down serverStatus", server_status(admin, "hc", &b));
    note(
        "failover primary down",
        backend(&get("failover.test", "/", &[])),
    );
    switch_health(&b.b1, true);
    assert!(wait_until(WAIT, || backend(&get(
        "failover.test",
        "/",
        &[]
    )) == "b1"));
    note("failover returns", "true".to_string());

    // responseHeaderTimeout: 504.
    let r = get("slow.test", "/delay/3000", &[]);
    note(
        "response header timeout",
        format!("{} {:?}", r.status, r.body_text()),
    );
    // No server: 503.
    let r = get("empty.test", "/", &[]);
    note("no server", format!("{} {:?}", r.status, r.body_text()));

    // Mirroring: the client sees main's answer; the mirror gets the same request and body.
    let r = raw::send(
        web,
        b"POST /m?x=1 HTTP/1.1\r\nHost: mirror.test\r\nContent-Length: 8\r\nConnection: close\r\n\r\nmirrored",
    )
    .unwrap();
    note("mirror client", format!("{} {}", r.status, backend(&r)));
    let copy = || b.b2.received().into_iter().find(|r| r.target == "/m?x=1");
    assert!(wait_until(WAIT, || copy().is_some()));
    let c = copy().unwrap();
    note(
        "mirror copy",
        format!(
            "{} {} {:?}",
            c.method,
            c.target,
            String::from_utf8_lossy(&c.body)
        ),
    );
    drop(proc);
    seen
}

#[test]
fn services_behave_as_traefik() {
    let wharf = observe(&common::wharf_bin());
    let traefik = observe(&common::traefik_bin());
    if let Some(diff) = differences(&wharf, &traefik) {
        panic!("wharf and Traefik differ:\n{diff}");
    }
    let seen = BTreeMap::from([("wharf", wharf)]);
    check_expected(
        &seen,
        &[
            ("wharf", "weighted 3:1 over 8", r#"{"b1": 6, "b2": 2}"#),
            ("wharf", "sticky cookie name", "_2c04d"),
            ("wharf", "sticky value is sha256(url)[..16]", "true"),
            ("wharf", "sticky attributes", "Path=/"),
            ("wharf", "sticky pinned", "true"),
            ("wharf", "sticky bogus value gets a cookie", "true"),
            (
                "wharf",
                "named cookie attributes",
                "Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict",
            ),
            ("wharf", "hc with b2 down", "b1 b1 b1 b1 b1 b1"),
            ("wharf", "hc b2 back", "true"),
            ("wharf", "failover primary up", "b1"),
            (
                "wharf",
                "all down",
                r#"503 "no available server\n" Some("text/plain; charset=utf-8")"#,
            ),
            ("wharf", "all down nosniff", r#"Some("nosniff")"#),
            ("wharf", "all down serverStatus", "b1=DOWN,b2=DOWN"),
            ("wharf", "failover primary down", "b3"),
            ("wharf", "failover returns", "true"),
            (
                "wharf",
                "response header timeout",
                r#"504 "Gateway Timeout""#,
            ),
            ("wharf", "no server", r#"503 "no available server\n""#),
            ("wharf", "mirror client", "200 b3"),
            ("wharf", "mirror copy", r#"POST /m?x=1 "mirrored""#),
        ],
    );
}
