//! Services of labelled containers on the real Docker engine: health checks from labels, a
//! replica killed under a steady request stream, a replica scaled up and down, with no failed
//! request.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wharf_testkit::docker::{unique, ContainerSpec, TestContainer};
use wharf_testkit::raw::KeepAlive;
use wharf_testkit::{free_port, raw, wait_until, WharfProcess};

const WAIT: Duration = Duration::from_secs(30);

/// Requests sent one after the other by a few clients until stopped: every status counted,
/// and who answered.
struct Stream {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeMap<String, usize>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Stream {
    fn start(web: SocketAddr, host: &str, clients: usize) -> Stream {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, seen, host) = (stop.clone(), seen.clone(), host.to_string());
                std::thread::spawn(move || {
                    let mut client = KeepAlive::connect(web).ok();
                    while !stop.load(Ordering::Relaxed) {
                        let answer = client.as_mut().map(|c| c.get(&host, "/"));
                        let key = match answer {
                            Some(Ok(r)) if r.status == 200 => {
                                r.json()["backend"].as_str().unwrap_or("?").to_string()
                            }
                            Some(Ok(r)) => format!("status {}", r.status),
                            _ => {
                                // The connection broke: a failure, then a new one.
                                client = KeepAlive::connect(web).ok();
                                "connection error".to_string()
                            }
                        };
                        *seen.lock().unwrap().entry(key).or_default() += 1;
                    }
                })
            })
            .collect();
        Stream {
            stop,
            seen,
            threads,
        }
    }

    fn count(&self, key: &str) -> usize {
        self.seen.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.seen.lock().unwrap().values().sum()
    }

    fn finish(self) -> BTreeMap<String, usize> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        self.seen.lock().unwrap().clone()
    }
}

fn failures(seen: &BTreeMap<String, usize>) -> usize {
    seen.iter()
        .filter(|(k, _)| k.starts_with("status ") || k.as_str() == "connection error")
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn replicas_killed_and_scaled_under_load_cost_no_request() {
    wharf_testkit::docker::echo_image();
    let run = unique("run");
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let args = vec![
        format!("--entryPoints.web.address={web}"),
        format!("--entryPoints.traefik.address={admin}"),
        "--api.insecure=true".into(),
        "--providers.docker=true".into(),
        "--providers.docker.exposedByDefault=false".into(),
        format!("--providers.docker.constraints=Label(`wharftest.run`, `{run}`)"),
        "--log.level=DEBUG".into(),
    ];
    let proc = WharfProcess::start(&common::wharf_bin(), &args, &[], &[web, admin]);
    let host = format!("app-{run}.test");
    let spec = ContainerSpec::default()
        .label("traefik.enable", "true")
        .label("wharftest.run", &run)
        .label("traefik.http.routers.app.rule", format!("Host(`{host}`)"))
        .label("traefik.http.services.app.loadbalancer.server.port", "80")
        .label(
            "traefik.http.services.app.loadbalancer.healthcheck.path",
            "/health",
        )
        .label(
            "traefik.http.services.app.loadbalancer.healthcheck.interval",
            "500ms",
        )
        .label(
            "traefik.http.services.app.loadbalancer.healthcheck.timeout",
            "1s",
        );
    let a = TestContainer::run("app", &spec);
    let b = TestContainer::run("app", &spec);
    let names = |n: &str| raw::get(web, &host, "/", &[]).is_ok_and(|r| r.json()["backend"] == n);
    assert!(wait_until(WAIT, || names(&a.name)), "{}", proc.log());
    assert!(wait_until(WAIT, || names(&b.name)), "{}", proc.log());

    // A replica failing its health check (from labels) gets nothing.
    let b_ip = b.ip("bridge");
    let b_url = format!("http://{b_ip}:80");
    let status = || common::server_status(admin, "app@docker", &b_url);
    let stream = Stream::start(web, &host, 4);
    assert!(wait_until(WAIT, || stream.count(&a.name) > 50));
    raw::get(
        format!("{b_ip}:80").parse().unwrap(),
        "x",
        "/health/fail",
        &[],
    )
    .unwrap();
    assert!(wait_until(WAIT, || status() == "DOWN"), "{}", proc.log());
    let only_a = stream.count(&b.name);
    assert!(wait_until(WAIT, || stream.count(&a.name) > 200));
    // At most the requests in flight when its check failed.
    assert!(
        stream.count(&b.name) <= only_a + 4,
        "{:?}\n{}",
        stream.seen,
        proc.log()
    );
    raw::get(
        format!("{b_ip}:80").parse().unwrap(),
        "x",
        "/health/ok",
        &[],
    )
    .unwrap();
    assert!(wait_until(WAIT, || stream.count(&b.name) > only_a + 20));

    // Killed under load: no request fails.
    b.kill();
    let after_kill = stream.total();
    assert!(
        wait_until(WAIT, || stream.total() > after_kill + 300),
        "{}",
        proc.log()
    );
    // Scaled up: the new replica gets its share; scaled down (stopped): still no failure.
    let c = TestContainer::run("app", &spec);
    assert!(
        wait_until(WAIT, || stream.count(&c.name) > 50),
        "{}",
        proc.log()
    );
    c.stop();
    let after_stop = stream.total();
    assert!(wait_until(WAIT, || stream.total() > after_stop + 300));
    let seen = stream.finish();
    // The counts also after the log: a long log is cut from the front.
    assert_eq!(failures(&seen), 0, "{seen:?}\n{}\n{seen:?}", proc.log());
}
