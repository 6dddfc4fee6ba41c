//! Access logs: the same configuration and requests through wharf and the real Traefik 3.7.15,
//! JSON lines compared field by field and common lines as text (times, ports and sizes that
//! depend on each run's backends aside), router `observability` switches, filters, and a log
//! rotation (rename + SIGUSR1) under a steady request stream that loses no line.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{file_proxy, start_ready, traefik_bin, wharf_bin};
use serde_json::Value;
use wharf_testkit::{raw, wait_until, EchoServer};

fn yaml(b: &EchoServer) -> String {
    format!(
        r#"
http:
  routers:
    ready: {{rule: "Host(`ready.test`)", service: app}}
    app: {{rule: "Host(`app.test`)", service: app, middlewares: [auth]}}
    open: {{rule: "Host(`open.test`)", service: app}}
    gone: {{rule: "Host(`gone.test`)", service: empty}}
    quiet:
      rule: "Host(`quiet.test`)"
      service: app
      observability: {{accessLogs: false}}
  middlewares:
    auth: {{basicAuth: {{users: ["u:$apr1$abcdefgh$C5orPJWI8v4Qy8kOPQ1vA."]}}}}
  services:
    app: {{loadBalancer: {{servers: [{{url: "{b}"}}]}}}}
    empty: {{loadBalancer: {{servers: []}}}}
"#,
        b = b.url()
    )
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The lines of the test's own requests: not the readiness probes (`ready.test`, answered
/// 404 until Traefik has loaded its routes).
fn traffic_lines(path: &Path) -> Vec<String> {
    lines(path)
        .into_iter()
        .filter(|l| {
            !l.contains("ready.test") && !l.contains("ready@file") && !l.contains("\" 404 ")
        })
        .collect()
}

/// Waits until `path` has `n` lines of the test's requests, and returns them.
fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    assert!(
        wait_until(Duration::from_secs(10), || traffic_lines(path).len() >= n),
        "expected {n} lines in {}, have {:?}",
        path.display(),
        lines(path)
    );
    traffic_lines(path)
}

/// `lines` in the order [`traffic`] sent their requests (by their user agents, `ua1`...). Each
/// request is logged once answered, by whichever thread served it: two requests answered one
/// after the other may be logged in either order, by wharf as by Traefik.
fn in_request_order(mut lines: Vec<String>) -> Vec<String> {
    let agent = regex::Regex::new(r#""ua(\d)""#).unwrap();
    lines.sort_by_key(|l| agent.captures(l).map(|c| c[1].to_string()));
    lines
}

/// The requests both proxies get, after their readiness probes.
fn traffic(web: SocketAddr) {
    let r = raw::get(
        web,
        "app.test",
        "/a?b=c",
        &[
            ("Authorization", "Basic dTpw"),
            ("User-Agent", "ua1"),
            ("Referer", "http://ref.test/"),
        ],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let quiet = raw::get(web, "quiet.test", "/", &[("User-Agent", "uaq")]).unwrap();
    assert_eq!(quiet.status, 200);
    assert_eq!(
        raw::get(web, "gone.test", "/", &[("User-Agent", "ua2")])
            .unwrap()
            .status,
        503
    );
    let post = b"POST /p HTTP/1.1\r\nHost: app.test\r\nAuthorization: Basic dTpw\r\nContent-Length: 5\r\nUser-Agent: ua3\r\nConnection: close\r\n\r\nhello";
    assert_eq!(raw::send(web, post).unwrap().status, 200);
}

/// One proxy's JSON lines for [`traffic`] (the readiness probes' lines skipped), with what
/// depends on the run (times, ports, the backend's address and answer size) replaced.
fn json_run(binary: &Path, backend: &EchoServer) -> Vec<BTreeMap<String, String>> {
    let (dir, mut args, web) = file_proxy(&yaml(backend), &[]);
    let log = dir.path().join("access.json");
    args.extend([
        "--accessLog=true".to_string(),
        "--accessLog.format=json".to_string(),
        format!("--accessLog.filePath={}", log.display()),
        "--accessLog.fields.headers.defaultMode=keep".to_string(),
        "--accessLog.fields.headers.names.Authorization=redact".to_string(),
        "--accessLog.fields.headers.names.Date=drop".to_string(),
    ]);
    let proc = start_ready(dir, binary, &args, &[web], web);
    traffic(web);
    let all = wait_lines(&log, 3);
    drop(proc);
    in_request_order(all)
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            v.as_object()
                .expect("an object")
                .iter()
                .map(|(k, v)| {
                    let varies = matches!(
                        k.as_str(),
                        "Duration"
                            | "OriginDuration"
                            | "Overhead"
                            | "StartUTC"
                            | "StartLocal"
                            | "time"
                            | "ClientAddr"
                            | "ClientPort"
                            | "RequestCount"
                    ) || (k.ends_with("ContentSize") && v != 0)
                        || k == "downstream_Content-Length"
                        || k == "origin_Content-Length"
                        || k == "request_X-Forwarded-Port";
                    let shown = if varies {
                        "*".to_string()
                    } else {
                        match v {
                            Value::String(s) => s
                                .replace(&backend.url(), "B")
                                .replace(&backend.addr.to_string(), "B"),
                            other => other.to_string(),
                        }
                    };
                    (k.clone(), shown)
                })
                .collect()
        })
        .collect()
}

#[test]
fn json_lines_agree_with_traefik() {
    let b = EchoServer::start("b");
    let wharf = json_run(&wharf_bin(), &b);
    let traefik = json_run(&traefik_bin(), &b);
    assert_eq!(wharf.len(), 3, "quiet.test is not logged: {wharf:#?}");
    assert_eq!(traefik.len(), 3, "{traefik:#?}");
    for (i, (w, t)) in wharf.iter().zip(&traefik).enumerate() {
        // Deliberately better: credentials stay out of a log that keeps headers by default.
        for (k, v) in w.iter().filter(|(k, _)| k.ends_with("_Set-Cookie")) {
            assert_eq!(v, "REDACTED", "{k}");
            assert!(
                t.get(k).is_some_and(|v| v != "REDACTED"),
                "Traefik logs {k} in clear"
            );
        }
        let w: BTreeMap<String, String> = w
            .clone()
            .into_iter()
            .filter(|(k, _)| !k.ends_with("_Set-Cookie"))
            .collect();
        let t: BTreeMap<String, String> = t
            .clone()
            .into_iter()
            .filter(|(k, _)| !k.ends_with("_Set-Cookie"))
            .collect();
        if let Some(diff) = common::differences(&w, &t) {
            panic!("line {i} differs from Traefik's:\n{diff}");
        }
    }
    // And the values are the expected ones.
    let get = |line: usize, k: &str| wharf[line].get(k).cloned().unwrap_or_default();
    assert_eq!(get(0, "RouterName"), "app@file");
    assert_eq!(get(0, "ClientUsername"), "u", "the user basicAuth let in");
    assert_eq!(get(0, "ServiceName"), "app@file");
    assert_eq!(get(0, "ServiceURL"), "B");
    assert_eq!(get(0, "RequestPath"), "/a?b=c");
    assert_eq!(get(0, "request_Authorization"), "REDACTED");
    assert_eq!(get(0, "request_User-Agent"), "ua1");
    assert_eq!(get(0, "OriginStatus"), "200");
    assert_eq!(get(1, "DownstreamStatus"), "503");
    assert_eq!(get(1, "RouterName"), "gone@file");
    assert_eq!(get(1, "OriginStatus"), "0");
    assert!(
        !wharf[1].contains_key("ServiceName"),
        "no server: no Service* fields"
    );
    assert_eq!(get(2, "RequestMethod"), "POST");
    assert_eq!(get(2, "RequestContentSize"), "*", "5 bytes (not 0)");
}

/// Common and generic CLF lines, as text (time, request count and duration replaced).
fn clf_run(binary: &Path, backend: &EchoServer, format: &str) -> Vec<String> {
    let (dir, mut args, web) = file_proxy(&yaml(backend), &[]);
    let log = dir.path().join("access.log");
    args.extend([
        "--accessLog=true".to_string(),
        format!("--accessLog.format={format}"),
        format!("--accessLog.filePath={}", log.display()),
        "--accessLog.fields.headers.names.User-Agent=keep".to_string(),
        "--accessLog.fields.headers.names.Referer=keep".to_string(),
    ]);
    let proc = start_ready(dir, binary, &args, &[web], web);
    traffic(web);
    // Generic CLF names no router: the test's lines are those with its user agents.
    assert!(
        wait_until(Duration::from_secs(10), || lines(&log)
            .iter()
            .filter(|l| l.contains("\"ua"))
            .count()
            >= 3),
        "{:?}",
        lines(&log)
    );
    let all = in_request_order(
        lines(&log)
            .into_iter()
            .filter(|l| l.contains("\"ua"))
            .collect(),
    );
    drop(proc);
    let time = regex::Regex::new(r"\[[^\]]+\]").unwrap();
    let tail = regex::Regex::new(r#"" \d+ (".*"|-) (".*"|-) \d+ms$"#).unwrap();
    all.iter()
        .map(|l| {
            let l = time.replace(l, "[T]").replace(&backend.url(), "B");
            // Request count and duration vary; the router and server do not.
            tail.replace(&l, r#"" N $1 $2 Dms"#).to_string()
        })
        .map(|l| {
            // The size of the echo's answer depends on the run's ports.
            let size = regex::Regex::new(r#"" (\d{3}) \d+ ""#).unwrap();
            size.replace(&l, r#"" $1 S ""#).to_string()
        })
        .collect()
}

#[test]
fn common_lines_agree_with_traefik() {
    let b = EchoServer::start("b");
    for format in ["common", "genericCLF"] {
        let wharf = clf_run(&wharf_bin(), &b, format);
        let traefik = clf_run(&traefik_bin(), &b, format);
        assert_eq!(wharf, traefik, "{format}");
    }
    let wharf = clf_run(&wharf_bin(), &b, "common");
    assert_eq!(
        wharf[0],
        r#"127.0.0.1 - u [T] "GET /a?b=c HTTP/1.1" 200 S "http://ref.test/" "ua1" N "app@file" "B" Dms"#
    );
    assert_eq!(
        wharf[1],
        r#"127.0.0.1 - - [T] "GET / HTTP/1.1" 503 S "-" "ua2" N "gone@file" "-" Dms"#
    );
}

/// `filters`: only 5xx answers and slow requests are kept.
#[test]
fn filters_keep_only_what_they_name() {
    let b = EchoServer::start("b");
    let (dir, mut args, web) = file_proxy(&yaml(&b), &[]);
    let log = dir.path().join("access.json");
    args.extend([
        "--accessLog=true".to_string(),
        "--accessLog.format=json".to_string(),
        format!("--accessLog.filePath={}", log.display()),
        "--accessLog.filters.statusCodes=500-599".to_string(),
        "--accessLog.filters.minDuration=10s".to_string(),
    ]);
    let _proc = start_ready(dir, &wharf_bin(), &args, &[web], web);
    traffic(web);
    let kept = wait_lines(&log, 1);
    // Whatever else was written would be in by now: the writer flushes in order, and the
    // 503 was the third of four requests; the POST after it is not kept.
    assert_eq!(raw::get(web, "gone.test", "/", &[]).unwrap().status, 503);
    let kept2 = wait_lines(&log, 2);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept2.len(), 2, "{kept2:?}");
    for l in kept2 {
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["DownstreamStatus"], 503);
    }
}

fn rotated(dir: &Path) -> PathBuf {
    dir.join("access.log.1")
}

/// Log rotation under load: the file is moved away and SIGUSR1 sent while clients keep
/// sending; every request is in one of the files. The application log (`log.filePath`) is
/// reopened the same way.
#[test]
fn rotation_under_load_loses_no_line() {
    let b = EchoServer::start("b");
    let (dir, mut args, web) = file_proxy(&yaml(&b), &[]);
    let log = dir.path().join("access.log");
    let dir_path = dir.path().to_path_buf();
    args.extend([
        "--accessLog=true".to_string(),
        format!("--accessLog.filePath={}", log.display()),
        "--accessLog.bufferingSize=100".to_string(),
        format!("--log.filePath={}", dir_path.join("wharf.log").display()),
        "--log.level=INFO".to_string(),
    ]);
    let proc = start_ready(dir, &wharf_bin(), &args, &[web], web);
    let before = 0;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut sent = 0usize;
                let mut c = raw::KeepAlive::connect(web).unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    assert_eq!(c.get("open.test", "/").unwrap().status, 200);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    // Rotate once lines are flowing, and again once the new file has some.
    for round in 0..2 {
        let file = &log;
        assert!(wait_until(Duration::from_secs(10), || traffic_lines(file)
            .len()
            > 50));
        let target = if round == 0 {
            rotated(&dir_path)
        } else {
            dir_path.join("access.log.2")
        };
        std::fs::rename(&log, &target).unwrap();
        let pid = proc.pid().to_string();
        assert!(std::process::Command::new("kill")
            .args(["-USR1", &pid])
            .status()
            .unwrap()
            .success());
        assert!(
            wait_until(Duration::from_secs(10), || lines(file).len() > 10),
            "the access log was reopened under its name"
        );
        if round == 0 {
            // The application log is reopened too.
            let app_log = dir_path.join("wharf.log");
            std::fs::rename(&app_log, dir_path.join("wharf.log.1")).ok();
            assert!(std::process::Command::new("kill")
                .args(["-USR1", &pid])
                .status()
                .unwrap()
                .success());
            assert!(
                wait_until(Duration::from_secs(10), || lines(&app_log)
                    .iter()
                    .any(|l| l.contains("log files reopened"))),
                "the log file was reopened under its name"
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let total = || {
        traffic_lines(&rotated(&dir_path)).len()
            + traffic_lines(&dir_path.join("access.log.2")).len()
            + traffic_lines(&log).len()
    };
    assert!(
        wait_until(Duration::from_secs(10), || total() == before + sent),
        "{} lines for {} requests",
        total(),
        before + sent
    );
}
