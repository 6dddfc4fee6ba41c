//! Deadlines on the exchanges wharf makes itself: an error-page service or a forwardAuth
//! server that accepts and never answers does not hold the client forever (30 s each, as
//! Traefik's auth client), and the failure is logged.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::start;
use wharf_testkit::{raw, EchoServer};

/// A GET that waits up to 2 minutes for its answer.
fn get_patiently(web: SocketAddr, host: &str, path: &str) -> raw::Response {
    let mut stream = TcpStream::connect(web).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .unwrap();
    raw::read_response(&mut stream, false).expect("an answer")
}

/// Accepts connections and never answers (holding them open).
fn silent_server() -> (SocketAddr, Arc<Mutex<Vec<TcpStream>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    (addr, held)
}

#[test]
fn hung_page_and_auth_servers_do_not_hold_the_client() {
    let app = EchoServer::start("app");
    let (silent, _held) = silent_server();
    let yaml = format!(
        r#"http:
  routers:
    pages: {{rule: "Host(`pages.test`)", service: app, middlewares: [pages]}}
    auth: {{rule: "Host(`auth.test`)", service: app, middlewares: [auth]}}
  middlewares:
    pages: {{errors: {{status: ["500"], service: silent, query: "/{{status}}"}}}}
    auth: {{forwardAuth: {{address: "http://{silent}/verify"}}}}
  services:
    app: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    silent: {{loadBalancer: {{servers: [{{url: "http://{silent}"}}]}}}}
"#,
        app.url()
    );
    let s = start(&yaml, &[]);
    let web = s.web;
    let page = std::thread::spawn(move || get_patiently(web, "pages.test", "/status/500"));
    let auth = get_patiently(s.web, "auth.test", "/");
    assert_eq!(auth.status, 500, "forwardAuth fails closed");
    let page = page.join().unwrap();
    assert_eq!(
        (page.status, page.body_text().as_str()),
        (500, "Bad Gateway"),
        "the page could not be fetched"
    );
    let log = s.proc.log();
    assert!(
        log.contains("forwardAuth: no answer from the auth server"),
        "{log}"
    );
    assert!(
        log.contains("errors: the error page could not be fetched"),
        "{log}"
    );
}
