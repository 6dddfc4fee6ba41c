//! Keep-alive connections between requests: wharf waits for the next request on the edge
//! stream (holding no per-request state), then serves it as before; pipelined requests are
//! answered in order; `idleTimeout` closes a connection that stays silent, and a client's
//! close ends it; a kept backend connection the server closes costs no request. Asserted
//! absolutely on wharf.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wharf_testkit::raw::{read_response, KeepAlive};
use wharf_testkit::{EchoServer, WharfProcess};

fn start(extra: &[&str]) -> (WharfProcess, SocketAddr, EchoServer) {
    let backend = EchoServer::start("kept");
    let yaml = format!(
        "http:\n  routers:\n    all: {{rule: \"PathPrefix(`/`)\", service: echo}}\n  services:\n    echo: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n",
        backend.url()
    );
    let (dir, args, web) = common::file_proxy(&yaml, extra);
    let proc = common::start_ready(dir, &common::wharf_bin(), &args, &[web], web);
    (proc, web, backend)
}

#[test]
fn requests_one_after_another_and_pipelined_ones_are_served_in_order() {
    let (_proc, web, _backend) = start(&[]);
    let mut conn = KeepAlive::connect(web).expect("connect");
    for i in 0..3 {
        let r = conn
            .get("kept.test", &format!("/first/{i}"))
            .expect("answer");
        assert_eq!(r.status, 200);
    }
    // Two requests in one write: both answered, in order, on the same connection.
    let mut raw = TcpStream::connect(web).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(
        b"GET /one HTTP/1.1\r\nHost: kept.test\r\n\r\nGET /two HTTP/1.1\r\nHost: kept.test\r\n\r\n",
    )
    .unwrap();
    let one = read_response(&mut raw, false).expect("first answer");
    let two = read_response(&mut raw, false).expect("second answer");
    assert_eq!((one.status, two.status), (200, 200));
    assert!(one.body_text().contains("/one"), "{}", one.body_text());
    assert!(two.body_text().contains("/two"), "{}", two.body_text());
    // And a third after a pause, still on that connection.
    let three = {
        raw.write_all(b"GET /three HTTP/1.1\r\nHost: kept.test\r\n\r\n")
            .unwrap();
        read_response(&mut raw, false).expect("third answer")
    };
    assert_eq!(three.status, 200);
    assert!(three.body_text().contains("/three"));
}

#[test]
fn an_idle_connection_is_closed_after_idle_timeout() {
    let (_proc, web, _backend) =
        start(&["--entryPoints.web.transport.respondingTimeouts.idleTimeout=1s"]);
    let mut raw = TcpStream::connect(web).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: kept.test\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut raw, false).expect("answer").status, 200);
    // Silent from now on: wharf ends the connection (well before the 30 s read timeout).
    let mut buf = [0u8; 64];
    let read = raw.read(&mut buf);
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the idle connection was not closed: {read:?}"
    );
}

#[test]
fn a_client_closing_an_idle_connection_leaves_the_proxy_serving() {
    let (_proc, web, _backend) = start(&[]);
    for _ in 0..50 {
        let mut conn = KeepAlive::connect(web).expect("connect");
        assert_eq!(conn.get("kept.test", "/").expect("answer").status, 200);
        drop(conn);
    }
    let mut conn = KeepAlive::connect(web).expect("connect");
    assert_eq!(conn.get("kept.test", "/").expect("answer").status, 200);
}

/// A backend that answers the first request of each connection (kept alive), then reads the
/// next one and closes the connection without answering, as a server whose idle timeout
/// ended just as a request arrived. Returns its address and how many connections it took.
fn backend_closing_reused_connections() -> (SocketAddr, std::sync::Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                // One answer per connection; the second request is read, then dropped.
                for answered in [true, false] {
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    head.clear();
                    if answered
                        && conn
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[test]
fn a_reused_backend_connection_the_server_closes_costs_no_request() {
    let (backend, accepted) = backend_closing_reused_connections();
    let yaml = format!(
        "http:\n  routers:\n    all: {{rule: \"PathPrefix(`/`)\", service: s}}\n  services:\n    s: {{loadBalancer: {{servers: [{{url: \"http://{backend}\"}}]}}}}\n"
    );
    let (dir, args, web) = common::file_proxy(&yaml, &[]);
    let _proc = common::start_ready(dir, &common::wharf_bin(), &args, &[web], web);
    let mut conn = KeepAlive::connect(web).expect("connect");
    let before = accepted.load(Ordering::SeqCst);
    for i in 0..5 {
        let r = conn.get("kept.test", &format!("/{i}")).expect("answer");
        // As Traefik (Go's transport): the idempotent request is sent again on a new
        // connection, unseen by the client.
        assert_eq!(
            (r.status, r.body_text()),
            (200, "ok".to_string()),
            "request {i}"
        );
    }
    // Each request after the first found its kept connection closed, and took a new one.
    assert!(accepted.load(Ordering::SeqCst) >= before + 5);
}
