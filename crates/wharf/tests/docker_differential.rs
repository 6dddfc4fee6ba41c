//! Differential test on the real Docker engine: wharf and the real Traefik 3.7.15 watch the
//! same labelled containers; the same requests must reach the same containers, and
//! `/api/http/routers` and `/api/http/services` must name the same routers and services.
//!
//! Deliberate difference, asserted as such: a container whose healthcheck does not pass
//! keeps its router in wharf with no server (503 `no available server`); Traefik drops the
//! router (404). Set `providers.docker.allowEmptyServices=false` to get Traefik's behaviour.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use wharf_testkit::docker::{unique, ContainerSpec, TestContainer};
use wharf_testkit::{free_port, raw, wait_until, WharfProcess};

const WAIT: Duration = Duration::from_secs(30);

struct Proxy {
    proc: WharfProcess,
    web: SocketAddr,
    admin: SocketAddr,
}

fn start(binary: &std::path::Path, run: &str) -> Proxy {
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let args = vec![
        format!("--entryPoints.web.address={web}"),
        format!("--entryPoints.traefik.address={admin}"),
        "--api.insecure=true".to_string(),
        "--providers.docker=true".to_string(),
        format!("--providers.docker.constraints=Label(`wharftest.run`, `{run}`)"),
        "--global.checkNewVersion=false".to_string(),
        "--global.sendAnonymousUsage=false".to_string(),
        "--log.level=ERROR".to_string(),
    ];
    let proc = WharfProcess::start(binary, &args, &[], &[web, admin]);
    Proxy { proc, web, admin }
}

impl Proxy {
    fn backend(&self, host: &str) -> (u16, String) {
        match raw::get(self.web, host, "/", &[]) {
            Ok(r) => (
                r.status,
                r.json()["backend"].as_str().unwrap_or("").to_string(),
            ),
            Err(_) => (0, String::new()),
        }
    }

    /// Docker-provided items of an API list, by name.
    fn api(&self, path: &str) -> BTreeMap<String, serde_json::Value> {
        let r = raw::get(self.admin, "localhost", path, &[]).expect("api");
        assert_eq!(r.status, 200, "{path}: {}", r.body_text());
        r.json()
            .as_array()
            .expect("array")
            .iter()
            .filter(|v| v["provider"] == "docker")
            .map(|v| (v["name"].as_str().unwrap_or("").to_string(), v.clone()))
            .collect()
    }
}

#[test]
fn wharf_and_traefik_agree_on_docker_labels() {
    let run = unique("dd");
    let base = ContainerSpec::default().label("wharftest.run", &run);
    let compose = base
        .clone()
        .label("com.docker.compose.project", &run)
        .label("com.docker.compose.service", "web");
    let web1 = TestContainer::run("web-1", &compose);
    let web2 = TestContainer::run("web-2", &compose);
    let api_host = format!("api.{run}.test");
    let api = TestContainer::run(
        "api",
        &base
            .clone()
            .label(
                "traefik.http.routers.api.rule",
                format!("Host(`{api_host}`) && PathPrefix(`/`)"),
            )
            .label("traefik.http.routers.api.entrypoints", "web")
            .label("traefik.http.routers.api.priority", "42")
            .label(
                "traefik.http.services.api-svc.loadbalancer.server.port",
                "80",
            ),
    );
    let plain = TestContainer::run("plain", &base);
    let _two = TestContainer::run(
        "two",
        &base
            .clone()
            .label("traefik.http.services.one.loadbalancer.server.port", "80")
            .label("traefik.http.services.other.loadbalancer.server.port", "80"),
    );
    let _off = TestContainer::run("off", &base.clone().label("traefik.enable", "false"));
    let sick_host = format!("sick.{run}.test");
    let sick = TestContainer::run(
        "sick",
        &base
            .clone()
            .label(
                "traefik.http.routers.sick.rule",
                format!("Host(`{sick_host}`)"),
            )
            .failing_healthcheck(),
    );

    let wharf = start(&common::wharf_bin(), &run);
    let traefik = start(&common::traefik_bin(), &run);
    let compose_host = wharf_config::docker::normalize(&format!("web_{run}"));
    for p in [&wharf, &traefik] {
        assert!(
            wait_until(WAIT, || p.backend(&api_host).0 == 200
                && p.backend(&plain.name).0 == 200),
            "routes never appeared:\n{}",
            p.proc.log()
        );
    }

    // The same requests reach the same containers.
    for host in [api_host.as_str(), plain.name.as_str()] {
        assert_eq!(wharf.backend(host), traefik.backend(host), "{host}");
    }
    let replicas =
        |p: &Proxy| -> BTreeSet<String> { (0..6).map(|_| p.backend(&compose_host).1).collect() };
    let expected: BTreeSet<String> = [web1.name.clone(), web2.name.clone()].into();
    assert_eq!(replicas(&wharf), expected);
    assert_eq!(replicas(&traefik), expected);
    for host in ["nothing.test", "one", "other"] {
        assert_eq!(wharf.backend(host).0, traefik.backend(host).0, "{host}");
    }

    // The same routers and services, with the same rules, services, entrypoints, priorities.
    // (The not-yet-healthy container's router and service exist only in wharf: see above.)
    let (mut wr, tr) = (
        wharf.api("/api/http/routers"),
        traefik.api("/api/http/routers"),
    );
    assert!(wr.remove("sick@docker").is_some());
    assert_eq!(
        wr.keys().collect::<Vec<_>>(),
        tr.keys().collect::<Vec<_>>(),
        "router names"
    );
    for (name, t) in &tr {
        for field in [
            "rule",
            "service",
            "entryPoints",
            "priority",
            "status",
            "using",
        ] {
            assert_eq!(wr[name][field], t[field], "router {name}: {field}");
        }
    }
    let (mut ws, ts) = (
        wharf.api("/api/http/services"),
        traefik.api("/api/http/services"),
    );
    let sick_service = format!("{}@docker", wharf_config::docker::normalize(&sick.name));
    assert!(ws
        .remove(&sick_service)
        .is_some_and(|s| s["loadBalancer"]["servers"] == serde_json::json!([])));
    assert_eq!(
        ws.keys().collect::<Vec<_>>(),
        ts.keys().collect::<Vec<_>>(),
        "service names"
    );
    for (name, t) in &ts {
        let urls = |v: &serde_json::Value| -> BTreeSet<String> {
            v["loadBalancer"]["servers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| s["url"].as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(urls(&ws[name]), urls(t), "service {name}: servers");
        let used = |v: &serde_json::Value| -> BTreeSet<String> {
            v["usedBy"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| s.as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(used(&ws[name]), used(t), "service {name}: usedBy");
    }

    // Deliberate difference: a container that is not healthy yet.
    let (w, t) = (wharf.backend(&sick_host).0, traefik.backend(&sick_host).0);
    assert_eq!(
        (w, t),
        (503, 404),
        "wharf keeps the router with no server; Traefik drops it"
    );
    let _ = api;
}
