//! The Docker provider against the real engine: labelled containers become routes and stop
//! being routes, replicas balance, health decides, networks are chosen, bad labels are
//! reported alone, only read-only calls are made, and a lost engine is survived.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use wharf_testkit::docker::{unique, ContainerSpec, TestContainer, TestNetwork};
use wharf_testkit::socket_proxy::SocketProxy;
use wharf_testkit::{free_port, raw, wait_until, WharfProcess};

const WAIT: Duration = Duration::from_secs(30);

/// A wharf that only sees this test's containers (label `wharftest.run=<run>`).
struct Edge {
    proc: WharfProcess,
    web: SocketAddr,
    run: String,
}

fn edge_with(extra: &[String], endpoint: Option<&str>) -> Edge {
    let run = unique("run");
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut args = vec![
        format!("--entryPoints.web.address={web}"),
        "--providers.docker=true".into(),
        "--providers.docker.exposedByDefault=false".into(),
        format!("--providers.docker.constraints=Label(`wharftest.run`, `{run}`)"),
        "--log.level=DEBUG".into(),
    ];
    if let Some(ep) = endpoint {
        args.push(format!("--providers.docker.endpoint={ep}"));
    }
    args.extend_from_slice(extra);
    // The image must exist before containers start; build it up front.
    wharf_testkit::docker::echo_image();
    let proc = WharfProcess::start(&common::wharf_bin(), &args, &[], &[web]);
    Edge { proc, web, run }
}

fn edge() -> Edge {
    edge_with(&[], None)
}

impl Edge {
    fn spec(&self) -> ContainerSpec {
        ContainerSpec::default()
            .label("traefik.enable", "true")
            .label("wharftest.run", &self.run)
    }

    fn get(&self, host: &str) -> (u16, String) {
        match raw::get(self.web, host, "/", &[]) {
            Ok(r) => {
                let backend = r.json()["backend"].as_str().unwrap_or("").to_string();
                (r.status, backend)
            }
            Err(_) => (0, String::new()),
        }
    }

    fn wait_status(&self, host: &str, status: u16) -> bool {
        wait_until(WAIT, || self.get(host).0 == status)
    }

    /// A container with a router of its own, `Host(`<what>-<run>.test`)`; and that host.
    fn run_routed(&self, what: &str) -> (TestContainer, String) {
        let host = format!("{what}-{}.test", self.run);
        let c = TestContainer::run(
            what,
            &self.spec().label(
                format!("traefik.http.routers.{what}.rule"),
                format!("Host(`{host}`)"),
            ),
        );
        (c, host)
    }

    /// `host` is served by `container` (within `within`).
    fn assert_routed(&self, host: &str, container: &TestContainer, within: Duration) {
        assert!(
            wait_until(within, || self.get(host).0 == 200),
            "{host} never served:\n{}",
            self.proc.log()
        );
        assert_eq!(self.get(host).1, container.name);
    }
}

#[test]
fn labelled_containers_come_and_go() {
    let e = edge();
    let host = format!("{}.test", e.run);
    let c = TestContainer::run(
        "web",
        &e.spec()
            .label("traefik.http.routers.web.rule", format!("Host(`{host}`)"))
            .label("traefik.http.services.web.loadbalancer.server.port", "80"),
    );
    assert!(e.wait_status(&host, 200), "never routed\n{}", e.proc.log());
    assert_eq!(e.get(&host).1, c.name);
    c.stop();
    assert!(
        e.wait_status(&host, 404),
        "still routed after stop\n{}",
        e.proc.log()
    );
    c.start();
    assert!(
        e.wait_status(&host, 200),
        "not routed again after start\n{}",
        e.proc.log()
    );
}

#[test]
fn compose_replicas_are_one_service_with_several_servers() {
    let e = edge();
    let project = e.run.clone();
    let spec = e
        .spec()
        .label("com.docker.compose.project", &project)
        .label("com.docker.compose.service", "web");
    let a = TestContainer::run("web-1", &spec);
    let b = TestContainer::run("web-2", &spec);
    // Traefik's default router: Host(`<service>-<project>`), normalized.
    let host = wharf_config::docker::normalize(&format!("web_{project}"));
    assert!(
        wait_until(WAIT, || {
            let seen: std::collections::BTreeSet<String> = (0..4).map(|_| e.get(&host).1).collect();
            seen.contains(&a.name) && seen.contains(&b.name)
        }),
        "both replicas never served\n{}",
        e.proc.log()
    );
    let seq: Vec<String> = (0..4).map(|_| e.get(&host).1).collect();
    assert_ne!(seq[0], seq[1], "round robin alternates: {seq:?}");
    assert_eq!(seq[0], seq[2]);
}

#[test]
fn container_health_decides_traffic() {
    let e = edge();
    let host = format!("{}.test", e.run);
    let c = TestContainer::run(
        "hc",
        &e.spec()
            .label("traefik.http.routers.hc.rule", format!("Host(`{host}`)"))
            .healthcheck(),
    );
    // Starting: the router exists with no server (wharf answers 503, not Traefik's 404).
    assert!(
        e.wait_status(&host, 503) || e.get(&host).0 == 200,
        "{}",
        e.proc.log()
    );
    assert!(
        e.wait_status(&host, 200),
        "never healthy ({})\n{}",
        c.health(),
        e.proc.log()
    );
    // Make it fail its healthcheck, directly on the container.
    let ip = c.ip("bridge");
    let direct = SocketAddr::new(ip.parse().unwrap(), 80);
    assert_eq!(
        raw::get(direct, "x", "/health/fail", &[]).unwrap().status,
        200
    );
    assert!(
        e.wait_status(&host, 503),
        "unhealthy still served ({})\n{}",
        c.health(),
        e.proc.log()
    );
    raw::get(direct, "x", "/health/ok", &[]).unwrap();
    assert!(
        e.wait_status(&host, 200),
        "recovered container not served\n{}",
        e.proc.log()
    );
}

#[test]
fn the_docker_network_label_picks_the_address() {
    let e = edge();
    let (front, back) = (TestNetwork::create("front"), TestNetwork::create("back"));
    let host = format!("{}.test", e.run);
    let c = TestContainer::run(
        "multi",
        &e.spec()
            .network(&front.name)
            .network(&back.name)
            .label("traefik.docker.network", &back.name)
            .label("traefik.http.routers.multi.rule", format!("Host(`{host}`)")),
    );
    assert!(e.wait_status(&host, 200), "{}", e.proc.log());
    let r = raw::get(e.web, &host, "/", &[]).unwrap();
    let local = r.json()["local"].as_str().unwrap_or("").to_string();
    assert_eq!(local, format!("{}:80", c.ip(&back.name)));

    let lost_host = format!("lost-{}.test", e.run);
    let lost = TestContainer::run(
        "lost",
        &e.spec()
            .network(&front.name)
            .label("traefik.docker.network", "no-such-network")
            .label(
                "traefik.http.routers.lost.rule",
                format!("Host(`{lost_host}`)"),
            ),
    );
    let expected = format!(
        "container {}, label traefik.docker.network: error: is not attached to network `no-such-network`",
        lost.name
    );
    assert!(e.proc.wait_for_log(&expected, WAIT), "{}", e.proc.log());
    assert_eq!(e.get(&lost_host).0, 404);
    assert_eq!(e.get(&host).0, 200, "the other container is unaffected");
}

#[test]
fn bad_labels_are_reported_and_affect_only_their_container() {
    let e = edge();
    let good_host = format!("good-{}.test", e.run);
    let good = TestContainer::run(
        "good",
        &e.spec().label(
            "traefik.http.routers.good.rule",
            format!("Host(`{good_host}`)"),
        ),
    );
    let bad = TestContainer::run(
        "bad",
        &e.spec()
            .label("traefik.http.routers.bad.rulee", "Host(`bad.test`)")
            .label("traefik.http.routers.worse.rule", "Host(`x`"),
    );
    assert!(e.wait_status(&good_host, 200), "{}", e.proc.log());
    let typo = format!(
        "container {}, label traefik.http.routers.bad.rulee: error: unknown key `http.routers.bad.rulee` (hint: did you mean `http.routers.bad.rule`?)",
        bad.name
    );
    assert!(e.proc.wait_for_log(&typo, WAIT), "{}", e.proc.log());
    let rule = format!("container {}, label traefik.http.routers.worse.rule: error: router `worse@docker`: invalid rule", bad.name);
    assert!(e.proc.wait_for_log(&rule, WAIT), "{}", e.proc.log());
    assert_eq!(e.get(&good_host).1, good.name);

    // A value that once killed the control plane: an error for its container and label, and
    // containers started afterwards are still followed.
    let poison = TestContainer::run(
        "poison",
        &e.spec()
            .label("traefik.http.routers.poison.middlewares", "slow")
            .label(
                "traefik.http.middlewares.slow.retry.initialinterval",
                "9999999999999999h",
            )
            .label("traefik.http.middlewares.slow.retry.attempts", "2"),
    );
    let too_large = format!(
        "container {}, label traefik.http.middlewares.slow.retry.initialinterval: error: `http.middlewares.slow.retry.initialInterval`: `9999999999999999h` is too large",
        poison.name
    );
    assert!(e.proc.wait_for_log(&too_large, WAIT), "{}", e.proc.log());
    let (later, later_host) = e.run_routed("later");
    e.assert_routed(&later_host, &later, WAIT);
}

#[test]
fn file_routers_reach_docker_services_across_providers() {
    let dir = tempfile::tempdir().unwrap();
    let run = unique("run");
    let file = dir.path().join("dyn.yml");
    std::fs::write(
        &file,
        format!(
            "http:\n  routers:\n    from-file:\n      rule: \"Host(`file-{run}.test`)\"\n      service: api@docker\n"
        ),
    )
    .unwrap();
    let e = edge_with(
        &[format!("--providers.file.filename={}", file.display())],
        None,
    );
    // edge_with made its own run id; this container uses it.
    let c = TestContainer::run(
        "api",
        &e.spec()
            .label("traefik.http.routers.api.rule", "Host(`unused.test`)")
            .label("traefik.http.services.api.loadbalancer.server.port", "80"),
    );
    let host = format!("file-{run}.test");
    assert!(e.wait_status(&host, 200), "{}", e.proc.log());
    assert_eq!(e.get(&host).1, c.name);
}

#[test]
fn only_read_only_calls_and_survives_losing_the_engine() {
    let proxy = SocketProxy::start(Path::new("/var/run/docker.sock"));
    let e = edge_with(&[], Some(&proxy.endpoint()));
    let host = format!("{}.test", e.run);
    let first = TestContainer::run(
        "first",
        &e.spec()
            .label("traefik.http.routers.first.rule", format!("Host(`{host}`)")),
    );
    assert!(e.wait_status(&host, 200), "{}", e.proc.log());

    proxy.cut();
    assert!(
        e.proc
            .wait_for_log("docker provider: connection lost", WAIT),
        "{}",
        e.proc.log()
    );
    assert_eq!(e.get(&host).0, 200, "the last good routes keep serving");
    let later_host = format!("later-{}.test", e.run);
    let _later = TestContainer::run(
        "later",
        &e.spec().label(
            "traefik.http.routers.later.rule",
            format!("Host(`{later_host}`)"),
        ),
    );
    proxy.restore();
    assert!(
        e.wait_status(&later_host, 200),
        "not resynchronized\n{}",
        e.proc.log()
    );
    assert_eq!(e.get(&host).1, first.name);

    let calls = proxy.calls();
    assert!(!calls.is_empty());
    for call in &calls {
        let mut parts = call.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        // Strip the API version prefix (/v1.47).
        let path = match path.strip_prefix("/v") {
            Some(rest) => rest.find('/').map_or(path, |i| &rest[i..]),
            None => path,
        };
        let allowed = path == "/_ping"
            || path == "/version"
            || path == "/containers/json"
            || path == "/events"
            || (path.starts_with("/containers/")
                && path.ends_with("/json")
                && path.matches('/').count() == 3);
        assert!(
            method == "GET" && allowed,
            "unexpected Docker API call: {call}"
        );
    }
}

#[test]
fn in_flight_requests_to_a_stopping_container_complete() {
    let e = edge();
    let host = format!("{}.test", e.run);
    let c = TestContainer::run(
        "slow",
        &e.spec()
            .label("traefik.http.routers.slow.rule", format!("Host(`{host}`)")),
    );
    assert!(e.wait_status(&host, 200), "{}", e.proc.log());
    let web = e.web;
    let slow_host = host.clone();
    let slow =
        std::thread::spawn(move || raw::get(web, &slow_host, "/delay/1500", &[]).map(|r| r.status));
    assert!(
        wait_until(WAIT, || c.logs().contains("request GET /delay/1500")),
        "{}",
        c.logs()
    );
    std::thread::scope(|s| {
        s.spawn(|| c.stop_with_grace(4));
        assert_eq!(
            slow.join().unwrap().unwrap(),
            200,
            "the in-flight request was cut"
        );
    });
    assert!(
        e.wait_status(&host, 404),
        "a dead container is still routed\n{}",
        e.proc.log()
    );
}

/// The engine's connections go half-open (silent, never closed, as through a NAT that forgot
/// them): a call that times out, or a minute of quiet on the event stream, makes wharf listen
/// again on new connections from the last event it saw, and follow a container started
/// meanwhile.
#[test]
fn a_half_open_event_stream_does_not_stall_discovery() {
    let proxy = SocketProxy::start(Path::new("/var/run/docker.sock"));
    let e = edge_with(&[], Some(&proxy.endpoint()));
    let (first, first_host) = e.run_routed("first");
    e.assert_routed(&first_host, &first, WAIT);
    // The watcher's event stream is open (it opens after the watcher's own listing).
    let subscriptions = || {
        proxy
            .calls()
            .iter()
            .filter(|c| c.contains("/events"))
            .count()
    };
    assert!(
        wait_until(WAIT, || subscriptions() >= 1),
        "{:?}",
        proxy.calls()
    );
    proxy.stall_open_connections();
    let (later, later_host) = e.run_routed("later");
    e.assert_routed(&later_host, &later, Duration::from_secs(120));
    // Either a call on a stalled connection timed out (a new session) or the stream was
    // quiet for a minute (a new client): the events were listened to again.
    assert!(
        subscriptions() >= 2,
        "the events were listened to again: {:?}",
        proxy.calls()
    );
}

/// A container started while the provider lists containers (its answer held by a slow
/// engine) is neither in the list nor missed: the event stream starts from before the list.
#[test]
fn a_container_started_during_the_listing_is_followed() {
    let proxy = SocketProxy::start(Path::new("/var/run/docker.sock"));
    let e = edge_with(&[], Some(&proxy.endpoint()));
    let listings = || {
        proxy
            .calls()
            .iter()
            .filter(|c| c.contains("/containers/json"))
            .count()
    };
    // Start-up's load and the watcher's first session have listed; the next listing is a
    // new session's: hold its answer, and start a container meanwhile.
    assert!(wait_until(WAIT, || listings() >= 2), "{:?}", proxy.calls());
    proxy.hold_listings(Duration::from_secs(3));
    let before = listings();
    proxy.cut();
    proxy.restore();
    assert!(
        wait_until(WAIT, || listings() > before),
        "no new listing: {:?}",
        proxy.calls()
    );
    let (during, host) = e.run_routed("during");
    e.assert_routed(&host, &during, WAIT);
}
