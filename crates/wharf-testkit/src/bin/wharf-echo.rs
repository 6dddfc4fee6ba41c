//! The echo backend as a program, for test containers (built statically, imported as an image).
//!
//! `wharf-echo [PORT]` serves on 0.0.0.0:PORT (default 80), named by `$ECHO_NAME` or the
//! hostname. `wharf-echo probe URL` exits 0 if URL answers 200 (a Docker healthcheck); as
//! `/bin/sh -c "/wharf-echo probe URL"` it does the same, so shell-form healthchecks work.

use std::net::SocketAddr;

fn main() {
    // Installed as /bin/sh too: Docker runs `--health-cmd` as `/bin/sh -c "<cmd>"`.
    let args = wharf_testkit::probe::arguments();
    if args.first().map(String::as_str) == Some("probe") {
        std::process::exit(wharf_testkit::probe::http_probe(
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
