//! Hot reload through the watched file provider, and bad input that never takes routes down.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::{replace_file, start, WAIT};
use wharf_testkit::{raw, wait_until, EchoServer};

fn one_route(host: &str, url: &str) -> String {
    format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`{host}`)\"\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: \"{url}\"\n"
    )
}

fn status(addr: std::net::SocketAddr, host: &str) -> u16 {
    raw::get(addr, host, "/", &[]).map_or(0, |r| r.status)
}

#[test]
fn a_change_is_live_without_restart_and_open_connections_survive() {
    let b = EchoServer::start("b");
    let s = start(&one_route("old.test", &b.url()), &[]);
    assert_eq!(status(s.web, "old.test"), 200);

    // A keep-alive connection opened before the change.
    let mut conn = TcpStream::connect(s.web).unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: old.test\r\n\r\n")
        .unwrap();
    assert_eq!(raw::read_response(&mut conn, false).unwrap().status, 200);

    replace_file(&s.dynamic, &one_route("new.test", &b.url()));
    assert!(wait_until(WAIT, || status(s.web, "new.test") == 200));
    assert_eq!(status(s.web, "old.test"), 404);

    // The same connection still works, and sees the new routes.
    conn.write_all(b"GET / HTTP/1.1\r\nHost: new.test\r\n\r\n")
        .unwrap();
    assert_eq!(raw::read_response(&mut conn, false).unwrap().status, 200);
}

#[test]
fn a_file_that_does_not_parse_keeps_the_last_good_config() {
    let b = EchoServer::start("b");
    let s = start(&one_route("keep.test", &b.url()), &[]);
    std::fs::write(&s.dynamic, "http:\n  routers: [broken\n").unwrap();
    let file = s.dynamic.display().to_string();
    assert!(
        s.proc
            .wait_for_log(&format!("{file}:3:1: error: invalid YAML"), WAIT),
        "{}",
        s.proc.log()
    );
    assert_eq!(status(s.web, "keep.test"), 200);
    // Fixed again: applied.
    std::fs::write(&s.dynamic, one_route("fixed.test", &b.url())).unwrap();
    assert!(wait_until(WAIT, || status(s.web, "fixed.test") == 200));
}

#[test]
fn one_bad_router_is_dropped_alone_with_its_origin() {
    let b = EchoServer::start("b");
    let yaml = format!(
        r#"http:
  routers:
    good:
      rule: "Host(`good.test`)"
      service: s
    quotes:
      rule: "Host('x.test')"
      service: s
    typo:
      rule: "Host(`typo.test`)"
      servce: s
    nosvc:
      rule: "Host(`nosvc.test`)"
      service: missing
  services:
    s:
      loadBalancer:
        servers:
          - url: "{}"
    badurl:
      loadBalancer:
        servers:
          - url: "ftp://x"
"#,
        b.url()
    );
    let s = start(&yaml, &[]);
    let file = s.dynamic.display().to_string();
    assert_eq!(status(s.web, "good.test"), 200);
    assert_eq!(status(s.web, "typo.test"), 404);
    let log = s.proc.log();
    for expected in [
        format!("{file}:7:13: error: router `quotes@file`: invalid rule `Host('x.test')`: single quotes are not allowed around values at column 6"),
        format!("{file}:11:7: error: unknown key `http.routers.typo.servce` (hint: did you mean `http.routers.typo.service`?)"),
        format!("{file}:14:16: error: router `nosvc@file`: the service `missing@file` does not exist"),
        format!("{file}:23:18: error: service `badurl@file`: server url `ftp://x` has an unsupported scheme `ftp`"),
    ] {
        assert!(log.contains(&expected), "missing {expected:?} in:\n{log}");
    }
}

#[test]
fn a_deleted_file_keeps_the_routes_and_its_return_is_applied() {
    let b = EchoServer::start("b");
    let s = start(&one_route("del.test", &b.url()), &[]);
    std::fs::remove_file(&s.dynamic).unwrap();
    assert!(s.proc.wait_for_log("cannot read", WAIT), "{}", s.proc.log());
    assert_eq!(status(s.web, "del.test"), 200);
    std::fs::write(&s.dynamic, one_route("back.test", &b.url())).unwrap();
    assert!(wait_until(WAIT, || status(s.web, "back.test") == 200));
}

/// Traefik 3.7 applies the empty read of a file rewritten in place and answers 404 for about
/// 2 s; wharf waits for the content.
#[test]
fn truncate_then_write_never_drops_routes() {
    let b = EchoServer::start("b");
    let s = start(&one_route("edit.test", &b.url()), &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let client = {
        let (stop, failures, requests, web) =
            (stop.clone(), failures.clone(), requests.clone(), s.web);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if status(web, "edit.test") != 200 {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                requests.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    for round in 0..5 {
        // Truncate in place, as editors do, and let wharf see the empty file...
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&s.dynamic)
            .unwrap();
        let seen = "file provider: file is empty";
        let before = s.proc.log().matches(seen).count();
        assert!(
            wait_until(WAIT, || s.proc.log().matches(seen).count() > before),
            "round {round}: the empty file was never observed\n{}",
            s.proc.log()
        );
        // ...then write the content back.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&s.dynamic)
            .unwrap();
        f.write_all(one_route("edit.test", &b.url()).as_bytes())
            .unwrap();
        drop(f);
        let applied = s.proc.log().matches("configuration applied").count();
        assert!(wait_until(WAIT, || s
            .proc
            .log()
            .matches("configuration applied")
            .count()
            > applied));
    }
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    assert!(requests.load(Ordering::Relaxed) > 0);
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "some requests were not routed"
    );
}

#[test]
fn a_directory_of_files_is_merged_and_watched() {
    let b = EchoServer::start("b");
    let s = start(&one_route("one.test", &b.url()), &[]);
    drop(s);
    // Directory mode: two files, then a third added while running.
    let dir = tempfile::tempdir().unwrap();
    let web = std::net::SocketAddr::from(([127, 0, 0, 1], wharf_testkit::free_port()));
    std::fs::write(
        dir.path().join("a.yml"),
        "http:\n  routers:\n    a:\n      rule: \"Host(`a.test`)\"\n      service: shared\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        format!("http:\n  services:\n    shared:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n", b.url()),
    )
    .unwrap();
    let p = wharf_testkit::WharfProcess::start(
        &common::wharf_bin(),
        &[
            format!("--entryPoints.web.address={web}"),
            format!("--providers.file.directory={}", dir.path().display()),
            "--log.level=INFO".into(),
        ],
        &[],
        &[web],
    );
    assert_eq!(status(web, "a.test"), 200);
    std::fs::write(
        dir.path().join("c.yml"),
        "http:\n  routers:\n    c:\n      rule: \"Host(`c.test`)\"\n      service: shared\n",
    )
    .unwrap();
    assert!(
        wait_until(WAIT, || status(web, "c.test") == 200),
        "{}",
        p.log()
    );
}
