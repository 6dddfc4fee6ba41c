//! Hostile HTTP/1 input (reliability.md §1.5 and the forwarding-header spoofing matrix), sent
//! as raw bytes through wharf and through the real Traefik 3.7.15 to a recording backend.
//! wharf's answers are asserted absolutely; each case says whether Traefik answers the same,
//! and the cases where wharf is deliberately stricter are listed in the README.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use wharf_testkit::{RecordingBackend, WharfProcess};

#[path = "edge/cases.rs"]
mod cases;

use cases::{Case, Reach};

struct Proxy {
    _proc: WharfProcess,
    web: SocketAddr,
    backend: RecordingBackend,
}

fn start(binary: &Path) -> Proxy {
    let backend = RecordingBackend::start();
    // `test:test`, apr1.
    let yaml = format!(
        r#"http:
  routers:
    all: {{rule: "PathPrefix(`/`)", service: rec}}
    admin: {{rule: "PathPrefix(`/admin`)", service: rec, middlewares: [auth]}}
  middlewares:
    auth: {{basicAuth: {{users: ["test:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"]}}}}
  services:
    rec: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        backend.url()
    );
    // readTimeout: short enough for the slow-client cases, long enough for any machine.
    let (dir, args, web) = common::file_proxy(
        &yaml,
        &["--entryPoints.web.transport.respondingTimeouts.readTimeout=3s"],
    );
    let proc = common::start_ready(dir, binary, &args, &[web], web);
    Proxy {
        _proc: proc,
        web,
        backend,
    }
}

/// What a client saw: the status of each response, and whether the connection was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    statuses: Vec<u16>,
    closed: bool,
    /// Request lines that reached the backend.
    reached: Vec<String>,
    /// The case's marker bytes reached the backend somewhere.
    marker_reached: bool,
}

fn statuses(bytes: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("HTTP/1.")
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

/// Sends the case and reads until the connection closes, or until the responses wharf is
/// expected to send have arrived and nothing more comes (or, for a proxy that answers
/// otherwise, until well past the 3 s readTimeout).
/// `answers`: how many final (non-1xx) answers are awaited; `until_closed`: then wait for the
/// connection to close too.
fn exchange(
    addr: SocketAddr,
    parts: &[Vec<u8>],
    answers: usize,
    until_closed: bool,
) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // A slow client: the next part comes later.
            std::thread::sleep(Duration::from_millis(50));
        }
        if stream.write_all(part).is_err() {
            break;
        }
    }
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => {
                let finals = statuses(&got).iter().filter(|s| **s >= 200).count();
                let all_there = answers > 0 && finals >= answers && !until_closed;
                if all_there || started.elapsed() > Duration::from_secs(8) {
                    break false;
                }
            }
        }
    };
    (got, closed)
}

/// `is_wharf`: wharf must also close the connection when the case says so; for Traefik, only
/// its answers are observed.
fn run(proxy: &Proxy, case: &Case, is_wharf: bool) -> Seen {
    let before = proxy.backend.requests().len();
    let mark = proxy.backend.mark();
    let answers = case.statuses.iter().filter(|s| **s >= 200).count();
    let (got, closed) = exchange(proxy.web, &case.parts, answers, case.closes && is_wharf);
    // The canary, on a new connection: the backend connection must not be desynchronised.
    let canary = wharf_testkit::raw::send(proxy.web, b"GET /canary HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("canary");
    assert_eq!(
        (canary.status, canary.body_text().as_str()),
        (200, "GET /canary HTTP/1.1"),
        "{}: the canary got another answer",
        case.name
    );
    let mut reached: Vec<String> = proxy.backend.requests()[before..].to_vec();
    let canary_at = reached
        .iter()
        .rposition(|l| l == "GET /canary HTTP/1.1")
        .expect("the canary reached the backend");
    reached.remove(canary_at);
    let raw = proxy.backend.received_since(&mark);
    Seen {
        statuses: statuses(&got),
        closed,
        reached,
        marker_reached: case
            .marker
            .is_some_and(|m| raw.windows(m.len()).any(|w| w == m.as_bytes())),
    }
}

#[test]
fn hostile_requests_never_reach_the_backend_and_agree_with_traefik_where_stated() {
    let wharf = start(&common::wharf_bin());
    let traefik = start(&common::traefik_bin());
    let all = cases::cases();
    let mut failures = Vec::new();
    let mut differing = Vec::new();
    for case in &all {
        let w = run(&wharf, case, true);
        let t = run(&traefik, case, false);
        let expected_reach: Vec<String> = match &case.reach {
            Reach::Nothing => Vec::new(),
            Reach::Lines(lines) => lines.iter().map(|l| l.to_string()).collect(),
        };
        let mut problems = Vec::new();
        if w.statuses != case.statuses {
            problems.push(format!(
                "statuses {:?}, want {:?}",
                w.statuses, case.statuses
            ));
        }
        if case.closes && !w.closed {
            problems.push("the connection stayed open".to_string());
        }
        if w.reached != expected_reach {
            problems.push(format!(
                "backend got {:?}, want {expected_reach:?}",
                w.reached
            ));
        }
        if w.marker_reached {
            problems.push(format!("{:?} reached the backend", case.marker));
        }
        if !problems.is_empty() {
            failures.push(format!("  {}: {}", case.name, problems.join("; ")));
        }
        let same = t.statuses == w.statuses
            && t.reached == w.reached
            && t.marker_reached == w.marker_reached;
        if case.traefik_same && !same {
            failures.push(format!(
                "  {}: said to agree with Traefik, which gave {:?} and let {:?} through (wharf {:?}, {:?})",
                case.name, t.statuses, t.reached, w.statuses, w.reached
            ));
        }
        if !same {
            differing.push(format!(
                "  {}: wharf {:?} reached {:?}; traefik {:?} reached {:?}{}",
                case.name,
                w.statuses,
                w.reached,
                t.statuses,
                t.reached,
                if t.marker_reached {
                    " (marker reached Traefik's backend)"
                } else {
                    ""
                }
            ));
        }
    }
    eprintln!(
        "edge matrix: {} cases, {} where wharf differs from Traefik:\n{}",
        all.len(),
        differing.len(),
        differing.join("\n")
    );
    assert!(failures.is_empty(), "edge matrix:\n{}", failures.join("\n"));
}

/// Backends that answer with ambiguous framing (reliability.md §1.5, the response twins).
const RESPONSE_TWINS: &[(&str, &[u8])] = &[
    (
        "CL+TE",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "two different CL",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 2\r\n\r\nhello",
    ),
    ("bad CL", b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello"),
    ("bare LF", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
    (
        "bytes after the body",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED",
    ),
    (
        "1xx then junk",
        b"HTTP/1.1 100 Continue\r\n\r\nJUNK\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ),
];

fn response_twin(binary: &Path, answer: &[u8]) -> (Vec<u16>, usize, bool) {
    let backend = RecordingBackend::answering(answer);
    let yaml = format!(
        "http:\n  routers:\n    all: {{rule: \"PathPrefix(`/`)\", service: bad}}\n  services:\n    bad: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n",
        backend.url()
    );
    let (dir, args, web) = common::file_proxy(&yaml, &[]);
    let _proc = WharfProcess::start_in(dir, binary, &args, &[], &[web]);
    // The route is there once the backend has seen a request.
    assert!(wharf_testkit::wait_until(Duration::from_secs(20), || {
        let _answer = wharf_testkit::raw::send(web, b"GET /probe HTTP/1.1\r\nHost: a\r\n\r\n");
        !backend.requests().is_empty()
    }));
    let before = backend.connections();
    let mut statuses = Vec::new();
    let mut smuggled = false;
    for _ in 0..2 {
        let request = [b"GET /twin HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()];
        let (got, _closed) = exchange(web, &request, 1, false);
        statuses.extend(self::statuses(&got));
        smuggled |= String::from_utf8_lossy(&got).contains("SMUGGLED");
    }
    // Two requests on new client connections: a fresh backend connection each, or the first
    // one was reused.
    (statuses, backend.connections() - before, smuggled)
}

#[test]
fn ambiguous_backend_answers_never_reach_the_client_and_their_connection_is_not_reused() {
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (name, answer) in RESPONSE_TWINS {
        let (w_statuses, w_connections, w_smuggled) = response_twin(&common::wharf_bin(), answer);
        let (t_statuses, t_connections, _) = response_twin(&common::traefik_bin(), answer);
        report.push(format!(
            "  {name}: wharf {w_statuses:?} over {w_connections} backend connection(s); traefik {t_statuses:?} over {t_connections}"
        ));
        // Each request gets a final answer, and nothing of a second response reaches the
        // client. (CL+TE and bare LF are read as pingora and Go both read them: chunked
        // wins, LF ends a line; the framing is not ambiguous to the reader then.)
        let finals = w_statuses.iter().filter(|s| **s >= 200).count();
        if w_smuggled || finals != 2 {
            failures.push(format!("  {name}: wharf answered {w_statuses:?}"));
        }
        if w_connections < 2 && w_statuses.iter().any(|s| *s != 200) {
            failures.push(format!(
                "  {name}: a connection that gave a bad answer was reused"
            ));
        }
    }
    eprintln!("response twins:\n{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
