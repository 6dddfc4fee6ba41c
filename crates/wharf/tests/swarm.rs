//! The Swarm provider against a real single-node swarm (`docker swarm init` on this engine):
//! services with replicas become routes, scale, lose their tasks and leave; a rolling update
//! under a steady request stream fails no request.
//!
//! Task addresses live on overlay networks, which the host cannot reach. So wharf runs as a
//! host process inside the network namespace of a container attached to the test's overlay
//! network (`nsenter --net`), as it would run as a container there; the test's client reaches
//! it on that container's `docker_gwbridge` address.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wharf_testkit::docker::{docker, unique};
use wharf_testkit::{raw, wait_until, WharfProcess};

const WAIT: Duration = Duration::from_secs(60);

/// This engine is a swarm manager (initialised once, if it was not).
fn swarm() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let state = docker(&["info", "-f", "{{.Swarm.LocalNodeState}}"]);
        if state != "active" {
            docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        }
    });
}

/// Removed (with `docker <kind> rm`) when dropped, even on failure.
struct Removed {
    kind: &'static str,
    name: String,
}

impl Drop for Removed {
    fn drop(&mut self) {
        let mut cmd = Command::new("docker");
        cmd.args([self.kind, "rm"]);
        if self.kind == "container" {
            cmd.arg("-f");
        }
        let _ignored = cmd.arg(&self.name).output();
    }
}

/// A test's overlay network, and a container on it whose network namespace the proxies run in.
struct Swarm {
    network: String,
    netns: String,
    ip: String,
    run: String,
    // Dropped last: the namespace outlives the proxies.
    _holder: Removed,
    _network: Removed,
}

fn swarm_network() -> Swarm {
    swarm();
    let image = wharf_testkit::docker::echo_image();
    let run = unique("run");
    let network = unique("overlay");
    docker(&[
        "network",
        "create",
        "-d",
        "overlay",
        "--attachable",
        &network,
    ]);
    let network_guard = Removed {
        kind: "network",
        name: network.clone(),
    };
    let holder = unique("netns");
    docker(&["run", "-d", "--name", &holder, "--network", &network, image]);
    let holder_guard = Removed {
        kind: "container",
        name: holder.clone(),
    };
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &holder]);
    let netns = format!("--net=/proc/{pid}/ns/net");
    // The container's address on docker_gwbridge (its second interface), reachable from here.
    let addr = Command::new("nsenter")
        .args([&netns, "ip", "-4", "-o", "addr", "show", "eth1"])
        .output()
        .expect("nsenter ip");
    let text = String::from_utf8_lossy(&addr.stdout);
    let ip = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .unwrap_or_else(|| panic!("no docker_gwbridge address: {text}"))
        .to_string();
    Swarm {
        network,
        netns,
        ip,
        run,
        _holder: holder_guard,
        _network: network_guard,
    }
}

impl Swarm {
    /// `binary` (wharf or Traefik) with the Swarm provider, seeing only this test's services,
    /// listening on `port` (web) and `port + 1` (API) in the holder's namespace.
    fn proxy(&self, binary: &std::path::Path, port: u16) -> Proxy {
        self.proxy_on(binary, port, None)
    }

    /// As [`Swarm::proxy`], reaching the engine at `endpoint` (a socket proxy) when given.
    fn proxy_on(&self, binary: &std::path::Path, port: u16, endpoint: Option<&str>) -> Proxy {
        let web: SocketAddr = format!("{}:{port}", self.ip).parse().expect("address");
        let admin: SocketAddr = format!("{}:{}", self.ip, port + 1)
            .parse()
            .expect("address");
        let mut args = vec![
            self.netns.clone(),
            binary.display().to_string(),
            format!("--entryPoints.web.address=:{port}"),
            format!("--entryPoints.traefik.address=:{}", port + 1),
            "--api.insecure=true".into(),
            "--providers.swarm=true".into(),
            "--providers.swarm.exposedByDefault=false".into(),
            format!(
                "--providers.swarm.constraints=Label(`wharftest.run`, `{}`)",
                self.run
            ),
            "--global.checkNewVersion=false".into(),
            "--global.sendAnonymousUsage=false".into(),
            "--log.level=DEBUG".into(),
        ];
        if let Some(endpoint) = endpoint {
            args.push(format!("--providers.swarm.endpoint={endpoint}"));
        }
        let proc = WharfProcess::start(
            std::path::Path::new("/usr/bin/nsenter"),
            &args,
            &[],
            &[web, admin],
        );
        Proxy { web, admin, proc }
    }

    /// A service of `replicas` echo tasks with the test's labels and `labels`.
    fn service(&self, what: &str, replicas: u32, labels: &[String]) -> Removed {
        let name = unique(what);
        let replicas = replicas.to_string();
        let run_label = format!("wharftest.run={}", self.run);
        let mut args = vec![
            "service",
            "create",
            "-q",
            "--detach",
            "--name",
            &name,
            "--network",
            &self.network,
            "--replicas",
            &replicas,
            "--stop-grace-period",
            "5s",
            "--update-monitor",
            "1s",
            "--label",
            "traefik.enable=true",
            "--label",
            &run_label,
        ];
        for l in labels {
            args.extend(["--label", l.as_str()]);
        }
        args.push(wharf_testkit::docker::echo_image());
        docker(&args);
        Removed {
            kind: "service",
            name,
        }
    }

    /// A service routed at `Host(<host>)`, its router and service named `what`.
    fn routed(&self, what: &str, host: &str, replicas: u32) -> Removed {
        self.service(
            what,
            replicas,
            &[
                format!("traefik.http.routers.{what}.rule=Host(`{host}`)"),
                format!("traefik.http.services.{what}.loadbalancer.server.port=80"),
            ],
        )
    }
}

struct Proxy {
    web: SocketAddr,
    admin: SocketAddr,
    proc: WharfProcess,
}

impl Proxy {
    /// Swarm-provided routers (name -> (rule, service)) and services (name -> server URLs).
    #[allow(clippy::type_complexity)]
    fn api(
        &self,
    ) -> (
        BTreeMap<String, (String, String)>,
        BTreeMap<String, Vec<String>>,
    ) {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
        let routers = common::api_items(self.admin, "/api/http/routers", "swarm")
            .iter()
            .map(|r| (text(&r["name"]), (text(&r["rule"]), text(&r["service"]))))
            .collect();
        let services = common::api_service_urls(self.admin, "swarm");
        (routers, services)
    }

    fn get(&self, host: &str) -> (u16, String) {
        match raw::get(self.web, host, "/", &[]) {
            Ok(r) => {
                let backend = r.json()["backend"].as_str().unwrap_or("").to_string();
                (r.status, backend)
            }
            Err(e) => (0, e.to_string()),
        }
    }

    /// The distinct backends (task containers) answering within a few requests.
    fn backends(&self, host: &str) -> std::collections::BTreeSet<String> {
        (0..12)
            .map(|_| self.get(host))
            .filter(|(status, _)| *status == 200)
            .map(|(_, b)| b)
            .collect()
    }

    fn wait_backends(&self, host: &str, n: usize) {
        let ok = wait_until(WAIT, || self.backends(host).len() == n);
        assert!(
            ok,
            "expected {n} backends for {host}, got {:?}; log tail:\n{}",
            self.backends(host),
            tail(&self.proc.log())
        );
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("WARN")
                || l.contains("ERROR")
                || l.contains("applied")
                || l.contains("swarm provider")
                || l.contains(" 503 ")
        })
        .collect();
    lines[lines.len().saturating_sub(120)..].join("\n")
}

#[test]
fn swarm_services_appear_scale_and_leave() {
    let swarm = swarm_network();
    let edge = swarm.proxy(&common::wharf_bin(), 8000);
    let svc = swarm.routed("shop", "shop.test", 2);
    edge.wait_backends("shop.test", 2);

    docker(&["service", "scale", "-d", &format!("{}=3", svc.name)]);
    edge.wait_backends("shop.test", 3);

    // No running task: the router stays, with no server (503), until the service is removed.
    docker(&["service", "scale", "-d", &format!("{}=0", svc.name)]);
    assert!(
        wait_until(WAIT, || edge.get("shop.test").0 == 503),
        "scaled to zero: {:?}",
        edge.get("shop.test")
    );
    drop(svc);
    assert!(
        wait_until(WAIT, || edge.get("shop.test").0 == 404),
        "removed: {:?}",
        edge.get("shop.test")
    );
}

/// Through the recording socket proxy: wharf follows services and their scaling with GET
/// calls only, on the read-only paths the provider documents.
#[test]
fn only_read_only_calls_to_the_engine() {
    let recorder = wharf_testkit::socket_proxy::SocketProxy::start(std::path::Path::new(
        "/var/run/docker.sock",
    ));
    let swarm = swarm_network();
    let edge = swarm.proxy_on(&common::wharf_bin(), 8000, Some(&recorder.endpoint()));
    let svc = swarm.routed("ro", "ro.test", 1);
    edge.wait_backends("ro.test", 1);
    docker(&["service", "scale", "-d", &format!("{}=2", svc.name)]);
    edge.wait_backends("ro.test", 2);

    let calls = recorder.calls();
    let paths: std::collections::BTreeSet<String> = calls
        .iter()
        .map(|call| {
            let mut parts = call.split_whitespace();
            let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            assert_eq!(method, "GET", "a call that is not a GET: {call}");
            let path = target.split('?').next().unwrap_or("");
            // Without the API version prefix (/v1.47).
            match path.strip_prefix("/v") {
                Some(rest) => rest.find('/').map_or(path, |i| &rest[i..]).to_string(),
                None => path.to_string(),
            }
        })
        .collect();
    let allowed = [
        "/_ping",
        "/version",
        "/services",
        "/networks",
        "/tasks",
        "/events",
    ];
    for path in &paths {
        assert!(
            allowed.contains(&path.as_str()),
            "unexpected Docker API call {path} in {calls:#?}"
        );
    }
    for needed in ["/services", "/tasks", "/events"] {
        assert!(paths.contains(needed), "{needed} never called: {calls:#?}");
    }
}

#[test]
fn a_rolling_update_loses_no_request() {
    let swarm = swarm_network();
    let edge = swarm.proxy(&common::wharf_bin(), 8000);
    let svc = swarm.routed("roll", "roll.test", 2);
    edge.wait_backends("roll.test", 2);
    let before = edge.backends("roll.test");

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let client = {
        let (stop, ok, failures, web) = (stop.clone(), ok.clone(), failures.clone(), edge.web);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match raw::get(web, "roll.test", "/", &[]) {
                    Ok(r) if r.status == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => failures
                        .lock()
                        .unwrap()
                        .push(format!("status {}", r.status)),
                    Err(e) => failures.lock().unwrap().push(e.to_string()),
                }
            }
        })
    };
    // `docker service update` returns once every task is replaced and the update converged.
    docker(&["service", "update", "-q", "--force", &svc.name]);
    stop.store(true, Ordering::Relaxed);
    client.join().expect("client thread");

    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failed of {}: {:?}\n{}",
        failures.len(),
        failures.len() + ok.load(Ordering::Relaxed),
        &failures[..failures.len().min(10)],
        tail(&edge.proc.log())
    );
    assert!(ok.load(Ordering::Relaxed) > 0);
    // The requests now reach the new tasks only.
    edge.wait_backends("roll.test", 2);
    let after = edge.backends("roll.test");
    assert!(before.is_disjoint(&after), "{before:?} -> {after:?}");
}

#[test]
fn wharf_and_traefik_agree_on_swarm_services() {
    let swarm = swarm_network();
    let wharf = swarm.proxy(&common::wharf_bin(), 8000);
    // Task mode: one server per running task.
    let _a = swarm.routed("tasks", "tasks.test", 2);
    // lbswarm: one server, the service's virtual IP; the default router and service.
    let vip = swarm.service(
        "vip",
        1,
        &[
            "traefik.swarm.lbswarm=true".into(),
            "traefik.http.services.vip.loadbalancer.server.port=80".into(),
        ],
    );
    // No port label, and Swarm services expose none: skipped by both.
    let _c = swarm.service("noport", 1, &[]);

    let network_id = docker(&["network", "inspect", "-f", "{{.Id}}", &swarm.network]);
    let vips = docker(&[
        "service",
        "inspect",
        "-f",
        "{{range .Endpoint.VirtualIPs}}{{.NetworkID}}={{.Addr}} {{end}}",
        &vip.name,
    ]);
    let vip_ip = vips
        .split_whitespace()
        .find_map(|v| v.strip_prefix(&format!("{network_id}=")))
        .and_then(|cidr| cidr.split('/').next())
        .unwrap_or_else(|| panic!("no virtual IP on {network_id}: {vips}"))
        .to_string();
    let default_name = vip.name.replace('_', "-");

    let converged = |p: &Proxy| {
        let (_, services) = p.api();
        services.get("tasks@swarm").is_some_and(|s| s.len() == 2)
            && services.contains_key("vip@swarm")
    };
    assert!(
        wait_until(WAIT, || converged(&wharf)),
        "wharf: {:?}\n{}",
        wharf.api(),
        tail(&wharf.proc.log())
    );
    // Traefik lists the services when it starts (and every 15 s after).
    let traefik = swarm.proxy(&common::traefik_bin(), 8100);
    assert!(
        wait_until(WAIT, || converged(&traefik)),
        "traefik: {:?}",
        traefik.api()
    );

    let (routers, services) = wharf.api();
    assert_eq!((routers.clone(), services.clone()), traefik.api());
    // The expected values, so agreement cannot hide both being wrong.
    let mut expected = vec![format!("{default_name}@swarm"), "tasks@swarm".to_string()];
    expected.sort();
    assert_eq!(routers.keys().cloned().collect::<Vec<_>>(), expected);
    assert_eq!(
        routers["tasks@swarm"],
        ("Host(`tasks.test`)".to_string(), "tasks".to_string())
    );
    assert_eq!(
        routers[&format!("{default_name}@swarm")],
        (format!("Host(`{default_name}`)"), "vip".to_string())
    );
    assert_eq!(services["vip@swarm"], [format!("http://{vip_ip}:80")]);
    let tasks = &services["tasks@swarm"];
    assert!(
        tasks
            .iter()
            .all(|u| u.starts_with("http://10.") && u.ends_with(":80"))
            && tasks[0] != tasks[1],
        "{tasks:?}"
    );
    // And both route the same requests.
    // A virtual IP forwards through the kernel's IPVS, which some kernels lack (then Swarm's
    // own load balancing does not work either, for any client).
    let ipvs = std::path::Path::new("/proc/net/ip_vs").exists();
    for p in [&wharf, &traefik] {
        assert_eq!(p.get("tasks.test").0, 200);
        if ipvs {
            assert!(
                wait_until(WAIT, || p.get(&default_name).0 == 200),
                "{:?}",
                p.get(&default_name)
            );
        }
        assert_eq!(p.get("noport.test").0, 404);
    }
}
