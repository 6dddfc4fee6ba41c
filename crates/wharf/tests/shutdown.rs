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
