//! No request lost under churn: while clients keep requesting a stable route, the file
//! provider changes 100 times, 20 labelled containers start and stop on the real engine, and
//! one of the route's two backends is killed and started again. wharf must answer every
//! request with 200; the real Traefik 3.7.15 gets the same churn and its counts are reported.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wharf_testkit::docker::{unique, ContainerSpec, TestContainer};
use wharf_testkit::{free_port, raw, wait_until, WharfProcess};

const WAIT: Duration = Duration::from_secs(30);
const CLIENTS: usize = 4;

fn dynamic(extra: usize) -> String {
    // The stable router lives in the file provider and points at the Docker service; the
    // churned routers come and go beside it.
    let mut yaml = String::from(
        "http:\n  routers:\n    stable:\n      rule: \"Host(`stable.test`)\"\n      service: stable@docker\n      middlewares: [again]\n",
    );
    for i in 0..extra {
        yaml.push_str(&format!(
            "    extra{i}:\n      rule: \"Host(`extra{i}.test`)\"\n      service: stable@docker\n"
        ));
    }
    yaml.push_str("  middlewares:\n    again:\n      retry: {attempts: 3}\n");
    yaml
}

struct Proxy {
    proc: WharfProcess,
    web: SocketAddr,
    dynamic: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn start(binary: &std::path::Path, run: &str) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let dynamic_path = dir.path().join("dynamic.yml");
    std::fs::write(&dynamic_path, dynamic(0)).unwrap();
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let args = vec![
        format!("--entryPoints.web.address={web}"),
        "--providers.docker=true".to_string(),
        "--providers.docker.exposedByDefault=false".to_string(),
        format!("--providers.docker.constraints=Label(`wharftest.run`, `{run}`)"),
        format!("--providers.file.filename={}", dynamic_path.display()),
        "--global.checkNewVersion=false".to_string(),
        "--global.sendAnonymousUsage=false".to_string(),
        "--log.level=ERROR".to_string(),
    ];
    let proc = WharfProcess::start(binary, &args, &[], &[web]);
    Proxy {
        proc,
        web,
        dynamic: dynamic_path,
        _dir: dir,
    }
}

/// One client: keep-alive requests in a loop. A request that finds its idle connection
/// closed before any byte of an answer is sent again on a new one, as HTTP clients do with
/// idempotent requests; anything else that is not a 200 counts as failed.
fn client(web: SocketAddr, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>, failed: Arc<AtomicU64>) {
    let request = b"GET / HTTP/1.1\r\nHost: stable.test\r\n\r\n";
    let mut conn: Option<TcpStream> = None;
    while !stop.load(Ordering::Relaxed) {
        let mut attempt = 0;
        let ok = loop {
            let fresh = conn.is_none();
            let stream = conn.get_or_insert_with(|| {
                let s = TcpStream::connect(web).expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                s
            });
            let outcome = stream
                .write_all(request)
                .and_then(|()| raw::read_response(stream, false));
            match outcome {
                Ok(r) => {
                    if r.header("connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                    {
                        conn = None;
                    }
                    break r.status == 200;
                }
                Err(_) if !fresh && attempt == 0 => {
                    conn = None;
                    attempt += 1;
                }
                Err(_) => {
                    conn = None;
                    break false;
                }
            }
        };
        sent.fetch_add(1, Ordering::Relaxed);
        if !ok {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs the churn against one proxy; returns (requests sent, failed).
fn churn(binary: &std::path::Path) -> (u64, u64) {
    let run = unique("churn");
    let base = ContainerSpec::default().label("wharftest.run", &run);
    // As the Compose design's services: a healthcheck decides when a container gets traffic.
    let stable = base
        .clone()
        .healthcheck()
        .label("traefik.enable", "true")
        .label(
            "traefik.http.services.stable.loadbalancer.server.port",
            "80",
        );
    let a = TestContainer::run("stable-a", &stable);
    let b = TestContainer::run("stable-b", &stable);
    let p = start(binary, &run);
    let ok = |host: &str| raw::get(p.web, host, "/", &[]).is_ok_and(|r| r.status == 200);
    assert!(
        wait_until(WAIT, || ok("stable.test")),
        "{} never served the stable route:\n{}",
        binary.display(),
        p.proc.log()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            let web = p.web;
            std::thread::spawn(move || client(web, stop, sent, failed))
        })
        .collect();

    // 100 file changes: routers added and removed beside the stable one.
    for i in 0..100 {
        common::replace_file(&p.dynamic, &dynamic(i % 7));
        std::thread::sleep(Duration::from_millis(10));
    }
    // 20 container starts and stops of labelled containers (routes of their own).
    let churned: Vec<TestContainer> = (0..10)
        .map(|i| {
            TestContainer::run(
                &format!("c{i}"),
                &base.clone().label("traefik.enable", "true").label(
                    format!("traefik.http.routers.c{i}.rule"),
                    format!("Host(`c{i}.test`)"),
                ),
            )
        })
        .collect();
    for c in &churned {
        c.stop();
    }
    // One of the stable route's two backends killed, then started again.
    b.kill();
    b.start();
    // The final state is served: the last file's routers and both backends again.
    common::replace_file(&p.dynamic, &dynamic(6));
    assert!(wait_until(WAIT, || ok("extra5.test")), "{}", p.proc.log());
    let both = || {
        let names: std::collections::BTreeSet<String> = (0..8)
            .filter_map(|_| raw::get(p.web, "stable.test", "/", &[]).ok())
            .map(|r| r.json()["backend"].as_str().unwrap_or("").to_string())
            .collect();
        names.contains(&a.name) && names.contains(&b.name)
    };
    let seen = || -> Vec<String> {
        (0..8)
            .map(|_| match raw::get(p.web, "stable.test", "/", &[]) {
                Ok(r) => format!("{} {}", r.status, r.json()["backend"]),
                Err(e) => e.to_string(),
            })
            .collect()
    };
    assert!(
        wait_until(WAIT, both),
        "wanted {} and {}, saw {:?}\n{}",
        a.name,
        b.name,
        seen(),
        p.proc.log()
    );

    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    drop(churned);
    (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}

#[test]
fn no_request_is_lost_under_churn() {
    let (wharf_sent, wharf_failed) = churn(&common::wharf_bin());
    let (traefik_sent, traefik_failed) = churn(&common::traefik_bin());
    eprintln!(
        "churn: wharf {wharf_sent} requests, {wharf_failed} failed; traefik {traefik_sent} requests, {traefik_failed} failed"
    );
    assert!(wharf_sent > 0);
    assert_eq!(wharf_failed, 0, "wharf lost requests under churn");
}
