//! SIGTERM drains in-flight requests within graceTimeOut, then exits.

mod common;

use std::time::Duration;

use common::{start, WAIT};
use wharf_testkit::{raw, wait_until, EchoServer};

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let b = EchoServer::start("b");
    let yaml = format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`slow.test`)\"\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        b.url()
    );
    let mut s = start(
        &yaml,
        &["--entryPoints.web.transport.lifeCycle.graceTimeOut=5s".into()],
    );
    let web = s.web;
    let slow =
        std::thread::spawn(move || raw::get(web, "slow.test", "/delay/700", &[]).map(|r| r.status));
    assert!(
        wait_until(WAIT, || b.count() == 1),
        "the slow request never reached the backend"
    );
    s.proc.terminate();
    assert_eq!(
        slow.join().unwrap().unwrap(),
        200,
        "the in-flight request was cut"
    );
    let status = s
        .proc
        .wait_exit(Duration::from_secs(5))
        .expect("wharf did not exit within graceTimeOut");
    assert!(status.success(), "exit status {status:?}\n{}", s.proc.log());
    assert!(
        raw::get(web, "slow.test", "/", &[]).is_err(),
        "still accepting after shutdown"
    );
}

/// `wharf healthcheck` with these flags: its exit status.
fn healthcheck(flags: &[String]) -> std::process::ExitStatus {
    std::process::Command::new(common::wharf_bin())
        .arg("healthcheck")
        .args(flags)
        .output()
        .expect("run wharf healthcheck")
        .status
}

#[test]
fn sigterm_answers_503_on_ping_while_requests_are_still_accepted() {
    let b = EchoServer::start("b");
    let yaml = format!(
        "http:\n  routers:\n    r: {{rule: \"Host(`a.test`)\", service: s}}\n  services:\n    s: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n",
        b.url()
    );
    let mut s = start(
        &yaml,
        &[
            "--entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeout=10m".into(),
            "--entryPoints.web.transport.lifeCycle.graceTimeOut=2s".into(),
        ],
    );
    let flags = [
        format!("--entryPoints.web.address={}", s.web),
        format!("--entryPoints.traefik.address={}", s.admin),
        "--ping=true".to_string(),
    ];
    let status = |path: &str| {
        raw::get(s.admin, "x", path, &[])
            .map(|r| r.status)
            .unwrap_or(0)
    };
    assert_eq!(
        (status("/ping"), status("/health"), status("/health/live")),
        (200, 200, 200)
    );
    assert!(healthcheck(&flags).success(), "{}", s.proc.log());
    let no_ping = [format!("--entryPoints.traefik.address={}", s.admin)];
    assert!(
        healthcheck(&no_ping).success(),
        "without ping: /health/ready"
    );
    let nothing = [format!("--entryPoints.web.address={}", s.web)];
    assert!(!healthcheck(&nothing).success(), "nothing to ask");

    s.proc.terminate();
    assert!(
        wait_until(WAIT, || status("/ping") == 503),
        "{}",
        s.proc.log()
    );
    assert_eq!(
        raw::get(s.admin, "x", "/ping", &[]).unwrap().body_text(),
        "Service Unavailable"
    );
    assert_eq!(status("/health"), 503);
    assert_eq!(status("/health/live"), 200);
    assert!(!healthcheck(&flags).success(), "draining is not healthy");
    // New requests are still served during requestAcceptGraceTimeout (10 minutes here, so
    // nothing above races it); SIGINT then ends the wait at once.
    assert_eq!(raw::get(s.web, "a.test", "/", &[]).unwrap().status, 200);
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &s.proc.pid().to_string()])
        .status()
        .expect("kill -INT");
    assert!(interrupted.success());
    let exit = s
        .proc
        .wait_exit(Duration::from_secs(30))
        .expect("wharf did not exit on SIGINT during requestAcceptGraceTimeout");
    assert!(exit.success(), "{exit:?}");
}
