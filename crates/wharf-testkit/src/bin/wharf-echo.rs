//! The echo backend as a program, for test containers (built statically, imported as an image).
//!
//! `wharf-echo [PORT]` serves on 0.0.0.0:PORT (default 80), named by `$ECHO_NAME` or the
//! hostname. `wharf-echo probe URL` exits 0 if URL answers 200 (a Docker healthcheck); as
//! `/bin/sh -c "/wharf-echo probe URL"` it does the same, so shell-form healthchecks work.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn probe(url: &str) -> i32 {
    let rest = url.trim_start_matches("http://");
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let Ok(mut s) = TcpStream::connect(authority) else {
        return 1;
    };
    let _timeout = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return 1;
    }
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(n) if buf[..n].starts_with(b"HTTP/1.1 200") => 0,
        _ => 1,
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // Installed as /bin/sh too: Docker runs `--health-cmd` as `/bin/sh -c "<cmd>"`.
    if args.first().map(String::as_str) == Some("-c") {
        args = args
            .get(1)
            .map(|cmd| cmd.split_whitespace().skip(1).map(str::to_string).collect())
            .unwrap_or_default();
    }
    if args.first().map(String::as_str) == Some("probe") {
        std::process::exit(probe(
            args.get(1)
                .map_or("http://127.0.0.1:80/health", String::as_str),
        ));
    }
    let port: u16 = args.first().and_then(|p| p.parse().ok()).unwrap_or(80);
    let name = std::env::var("ECHO_NAME").unwrap_or_else(|_| {
        std::fs::read_to_string("/etc/hostname")
            .map_or_else(|_| "echo".into(), |h| h.trim().to_string())
    });
    let server = wharf_testkit::EchoServer::start_on(SocketAddr::from(([0, 0, 0, 0], port)), &name);
    eprintln!("wharf-echo {name} listening on {}", server.addr);
    // Each request on stderr (`docker logs`), so tests can wait until one has arrived.
    let mut seen = 0;
    loop {
        let received = server.received();
        for r in &received[seen..] {
            eprintln!("request {} {}", r.method, r.target);
        }
        seen = received.len();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
