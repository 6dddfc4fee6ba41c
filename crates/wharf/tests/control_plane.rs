//! The control plane cannot be killed by configuration: after each poison value a later valid
//! change is still applied, and `/health/ready` tells the truth.

mod common;

use common::{replace_file, start, WAIT};
use wharf_testkit::{raw, wait_until, EchoServer};

fn routes(host: &str, url: &str, middleware: &str) -> String {
    format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`{host}`)\"\n      service: s\n      middlewares: [m]\n  middlewares:\n    m:\n{middleware}  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: \"{url}\"\n"
    )
}

const HARMLESS: &str = "      headers:\n        customRequestHeaders:\n          X-A: b\n";

fn status(addr: std::net::SocketAddr, host: &str, path: &str) -> u16 {
    raw::get(addr, host, path, &[]).map_or(0, |r| r.status)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn poison_values_are_rejected_and_later_changes_still_apply() {
    let b = EchoServer::start("b");
    let s = start(&routes("start.test", &b.url(), HARMLESS), &[]);
    assert_eq!(status(s.web, "start.test", "/"), 200);
    let file = s.dynamic.display().to_string();

    // Nine levels of nine aliases, the fuzz corpus's seed.
    let bomb = include_str!("../../../fuzz/corpus/dynamic_yaml/seed-alias-bomb").to_string();
    let poisons: Vec<(&str, String, String)> = vec![
        (
            "circuitBreaker.fallbackDuration",
            routes(
                "p1.test",
                &b.url(),
                "      circuitBreaker:\n        expression: \"NetworkErrorRatio() > 0.5\"\n        fallbackDuration: 9999999999999999h\n",
            ),
            format!("{file}:11:27: error: `http.middlewares.m.circuitBreaker.fallbackDuration`: `9999999999999999h` is too large"),
        ),
        (
            "retry.initialInterval",
            routes(
                "p2.test",
                &b.url(),
                "      retry:\n        attempts: 2\n        initialInterval: 9999999999999999h\n",
            ),
            format!("{file}:11:26: error: `http.middlewares.m.retry.initialInterval`: `9999999999999999h` is too large"),
        ),
        (
            "alias bomb",
            bomb,
            "(an alias bomb?)".to_string(),
        ),
    ];
    for (round, (what, poison, expected)) in poisons.into_iter().enumerate() {
        replace_file(&s.dynamic, &poison);
        assert!(
            s.proc.wait_for_log(&expected, WAIT),
            "{what}: missing {expected:?} in:\n{}",
            s.proc.log()
        );
        assert_eq!(
            status(s.admin, "x", "/health/ready"),
            200,
            "{what}: the control plane is alive"
        );
        // A later valid change is applied.
        let host = format!("after{round}.test");
        replace_file(&s.dynamic, &routes(&host, &b.url(), HARMLESS));
        assert!(
            wait_until(WAIT, || status(s.web, &host, "/") == 200),
            "{what}: the next change was not applied:\n{}",
            s.proc.log()
        );
    }
    let rss = rss_kib(s.proc.pid());
    assert!(rss < 200 * 1024, "the alias bomb took memory: {rss} KiB");
    assert!(!s.proc.log().contains("panicked"), "{}", s.proc.log());
}

#[test]
fn readiness_waits_for_every_provider_and_liveness_does_not() {
    let b = EchoServer::start("b");
    // A Docker engine that does not exist: the docker provider never delivers.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nothing.sock");
    let s = start(
        &routes("ready.test", &b.url(), HARMLESS),
        &[format!(
            "--providers.docker.endpoint=unix://{}",
            socket.display()
        )],
    );
    assert_eq!(status(s.web, "ready.test", "/"), 200, "file routes serve");
    let ready = raw::get(s.admin, "x", "/health/ready", &[]).unwrap();
    assert_eq!(ready.status, 503);
    assert!(
        ready
            .body_text()
            .contains("waiting for a first valid configuration from: docker"),
        "{}",
        ready.body_text()
    );
    assert_eq!(status(s.admin, "x", "/health/live"), 200);
    assert_eq!(status(s.admin, "x", "/ping"), 200, "ping stays Traefik's");

    let file_only = start(&routes("ready.test", &b.url(), HARMLESS), &[]);
    let ready = raw::get(file_only.admin, "x", "/health/ready", &[]).unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body_text());
    assert_eq!(ready.body_text(), "OK");
    assert_eq!(
        status(file_only.web, "x", "/health/ready"),
        404,
        "only on the traefik entrypoint"
    );
}

#[test]
fn a_rate_limit_of_average_zero_is_no_limit() {
    let b = EchoServer::start("b");
    let s = start(
        &routes(
            "free.test",
            &b.url(),
            "      rateLimit:\n        average: 0\n        burst: 1\n",
        ),
        &[],
    );
    let statuses: Vec<u16> = (0..20).map(|_| status(s.web, "free.test", "/")).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(!s.proc.log().contains(" ERROR "), "{}", s.proc.log());
}
