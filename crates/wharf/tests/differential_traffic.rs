//! Differential test of the traffic middlewares (compress, errors, circuitBreaker): the same
//! dynamic file and requests through wharf and through the real Traefik 3.7.15; status,
//! headers and the decoded body must be the same.
//!
//! Deliberate differences (not compared): how a compressed body is framed (Traefik sends a
//! small compressed body with Content-Length, wharf streams it chunked) and the compressed
//! bytes themselves (other encoder implementations); the decoded bodies are compared.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;

use wharf_testkit::{free_port, raw, EchoServer, WharfProcess};

const ROUTES: &str = r#"
http:
  routers:
    ready:  {rule: "Host(`ready.test`)", service: app}
    gz:     {rule: "Host(`gz.test`)", service: app, middlewares: [gz]}
    gzex:   {rule: "Host(`gzex.test`)", service: app, middlewares: [gzex]}
    gzin:   {rule: "Host(`gzin.test`)", service: app, middlewares: [gzin]}
    gzpref: {rule: "Host(`gzpref.test`)", service: app, middlewares: [gzpref]}
    gzauth: {rule: "Host(`gzauth.test`)", service: app, middlewares: [gz, auth]}
    authgz: {rule: "Host(`authgz.test`)", service: app, middlewares: [auth, gz]}
    errs:   {rule: "Host(`errs.test`)", service: app, middlewares: [errs]}
    errsrw: {rule: "Host(`errsrw.test`)", service: app, middlewares: [errsrw]}
    errsdead: {rule: "Host(`errsdead.test`)", service: dead, middlewares: [errs]}
    errsempty: {rule: "Host(`errsempty.test`)", service: empty, middlewares: [errs]}
    errsauth: {rule: "Host(`errsauth.test`)", service: app, middlewares: [errs401, auth]}
    autherrs: {rule: "Host(`autherrs.test`)", service: app, middlewares: [auth, errs401]}
    errshdr: {rule: "Host(`errshdr.test`)", service: app, middlewares: [errshdr]}
    errsdown: {rule: "Host(`errsdown.test`)", service: app, middlewares: [errsdown]}
    errsnone: {rule: "Host(`errsnone.test`)", service: app, middlewares: [errsnone]}
    errsnohost: {rule: "Host(`errsnohost.test`)", service: app, middlewares: [errsnohost]}
    cb:     {rule: "Host(`cb.test`)", service: dead, middlewares: [cb]}
    cbcode: {rule: "Host(`cbcode.test`)", service: app, middlewares: [cbcode]}
    bufresp: {rule: "Host(`bufresp.test`)", service: app, middlewares: [bufresp]}
    grpcweb: {rule: "Host(`grpcweb.test`)", service: grpcapp, middlewares: [gw]}
    fatlsca: {rule: "Host(`fatlsca.test`)", service: app, middlewares: [fatls-ca]}
    fatlsnoca: {rule: "Host(`fatlsnoca.test`)", service: app, middlewares: [fatls-noca]}
    fatlsinsecure: {rule: "Host(`fatlsinsecure.test`)", service: app, middlewares: [fatls-insecure]}
    famtls: {rule: "Host(`famtls.test`)", service: app, middlewares: [famtls]}
    famtlsnocert: {rule: "Host(`famtlsnocert.test`)", service: app, middlewares: [famtls-nocert]}
    retrystatus: {rule: "Host(`retrystatus.test`)", service: halfsick, middlewares: [retry503]}
    retrypost: {rule: "Host(`retrypost.test`)", service: halfsick, middlewares: [retry503post]}
    retryallsick: {rule: "Host(`retryallsick.test`)", service: allsick, middlewares: [retry503]}
  middlewares:
    gw: {grpcWeb: {allowOrigins: ["https://ok.test"]}}
    retry503: {retry: {attempts: 2, status: ["503"]}}
    retry503post: {retry: {attempts: 2, status: ["500-599"], retryNonIdempotentMethod: true, timeout: 10s, maxRequestBodyBytes: 100}}
    bufresp: {buffering: {maxResponseBodyBytes: 100, memResponseBodyBytes: 50}}
    gz: {compress: {}}
    cb: {circuitBreaker: {expression: "NetworkErrorRatio() > 0.5"}}
    cbcode: {circuitBreaker: {expression: "ResponseCodeRatio(500, 600, 0, 600) > 0.4", responseCode: 418}}
    gzex: {compress: {excludedContentTypes: [text/plain], minResponseBodyBytes: 100}}
    gzin: {compress: {includedContentTypes: ["text/html; charset=utf-8"]}}
    gzpref: {compress: {encodings: [zstd, br], defaultEncoding: br}}
    auth: {basicAuth: {users: ["test:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"]}}
    errs: {errors: {status: ["500-599", "404"], service: pages, query: "/status/200?orig={status}&url={url}"}}
    errsrw: {errors: {status: ["500-599"], service: pages, query: "x?s={status}&o={originalStatus}", statusRewrites: {"502-504": 500}}}
    errs401: {errors: {status: ["401"], service: pages, query: "/denied"}}
    errshdr: {errors: {status: ["500"], service: pages, query: "/h", errorRequestHeaders: [X-Keep]}}
    errsdown: {errors: {status: ["500"], service: deadpages, query: "/h"}}
    errsnone: {errors: {status: ["500"], service: empty, query: "/h"}}
    errsnohost: {errors: {status: ["500"], service: nohostpages}}
"#;

struct Side {
    proc: WharfProcess,
    web: SocketAddr,
}

/// The backends both proxies share.
struct Backends {
    app: EchoServer,
    pages: EchoServer,
    /// Answer `/health` with 503.
    sick: EchoServer,
    sick2: EchoServer,
    /// forwardAuth servers over TLS: server authentication only, and mutual.
    auth_tls: EchoServer,
    auth_mtls: EchoServer,
    /// The CA, client certificate and key files (kept alive with the directory).
    pki: wharf_testkit::pki::PkiFiles,
    _pki_dir: tempfile::TempDir,
}

/// An echo server whose `/health` answers 503.
fn sick(name: &str) -> EchoServer {
    let s = EchoServer::start(name);
    raw::get(s.addr, "x", "/health/fail", &[]).expect("make it sick");
    s
}

impl Backends {
    fn start() -> Backends {
        let pki = wharf_testkit::pki::TestPki::new();
        let dir = tempfile::tempdir().unwrap();
        Backends {
            app: EchoServer::start("app"),
            pages: EchoServer::start("pages"),
            sick: sick("sick"),
            // Named alike: which one answers last depends on where round robin starts.
            sick2: sick("sick"),
            auth_tls: EchoServer::start_tls("authtls", pki.server_config(false)),
            auth_mtls: EchoServer::start_tls("authmtls", pki.server_config(true)),
            pki: pki.write(dir.path()),
            _pki_dir: dir,
        }
    }

    /// forwardAuth middlewares to the TLS auth servers.
    fn tls_middlewares(&self) -> String {
        let (tls, mtls) = (self.auth_tls.url(), self.auth_mtls.url());
        let (ca, cert, key) = (
            self.pki.ca.display(),
            self.pki.client_cert.display(),
            self.pki.client_key.display(),
        );
        format!(
            r#"    fatls-ca: {{forwardAuth: {{address: "{tls}/auth/200", tls: {{ca: "{ca}"}}}}}}
    fatls-noca: {{forwardAuth: {{address: "{tls}/auth/200"}}}}
    fatls-insecure: {{forwardAuth: {{address: "{tls}/auth/200", tls: {{insecureSkipVerify: true}}}}}}
    famtls: {{forwardAuth: {{address: "{mtls}/auth/200", tls: {{ca: "{ca}", cert: "{cert}", key: "{key}"}}}}}}
    famtls-nocert: {{forwardAuth: {{address: "{mtls}/auth/200", tls: {{ca: "{ca}"}}}}}}
"#
        )
    }
}

fn start(binary: &Path, backends: &Backends) -> Side {
    let (app, pages) = (&backends.app, &backends.pages);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let routes = ROUTES.replacen(
        "  middlewares:\n",
        &format!("  middlewares:\n{}", backends.tls_middlewares()),
        1,
    );
    let yaml = format!(
        "{routes}  services:
    app: {{loadBalancer: {{servers: [{{url: \"{app}\"}}]}}}}
    grpcapp: {{loadBalancer: {{servers: [{{url: \"{grpc}\"}}]}}}}
    pages: {{loadBalancer: {{servers: [{{url: \"{pages}\"}}]}}}}
    nohostpages: {{loadBalancer: {{passHostHeader: false, servers: [{{url: \"{pages}\"}}]}}}}
    dead: {{loadBalancer: {{servers: [{{url: \"{dead}\"}}]}}}}
    deadpages: {{loadBalancer: {{servers: [{{url: \"{dead}\"}}]}}}}
    empty: {{loadBalancer: {{servers: []}}}}
    halfsick: {{loadBalancer: {{servers: [{{url: \"{sick}\"}}, {{url: \"{app}\"}}]}}}}
    allsick: {{loadBalancer: {{servers: [{{url: \"{sick}\"}}, {{url: \"{sick2}\"}}]}}}}
",
        app = app.url(),
        grpc = app.url().replace("http://", "h2c://"),
        pages = pages.url(),
        sick = backends.sick.url(),
        sick2 = backends.sick2.url(),
    );
    let (dir, args, web) = common::file_proxy(&yaml, &[]);
    let proc = common::start_ready(dir, binary, &args, &[web], web);
    Side { proc, web }
}

#[path = "differential_traffic/cases.rs"]
mod cases;

use cases::{cases, Case};

const COMPARED_HEADERS: &[&str] = &[
    "content-encoding",
    "content-type",
    "vary",
    "accept-ranges",
    "www-authenticate",
    "x-backend",
    "x-content-type-options",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-expose-headers",
    "access-control-max-age",
    "grpc-status",
    "grpc-message",
];

fn decode(encoding: Option<&str>, body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match encoding {
        Some("gzip") => flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .map(|_| out)
            .map_err(|e| format!("bad gzip: {e}")),
        Some("br") => brotli::Decompressor::new(body, 4096)
            .read_to_end(&mut out)
            .map(|_| out)
            .map_err(|e| format!("bad br: {e}")),
        Some("zstd") => zstd::decode_all(body).map_err(|e| format!("bad zstd: {e}")),
        _ => Ok(body.to_vec()),
    }
}

/// What the error-page service is compared on (not Accept-Encoding or User-Agent, which Go's
/// client adds on Traefik's side).
const COMPARED_PAGE_HEADERS: &[&str] = &[
    "host",
    "x-keep",
    "x-drop",
    "authorization",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-real-ip",
];

fn observe(side: &Side, c: &Case, pages: &EchoServer) -> BTreeMap<String, String> {
    let pages_before = pages.count();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        c.method, c.target, c.host
    );
    for h in &c.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    if !c.body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", c.body.len()));
    }
    head.push_str("\r\n");
    if c.headers.iter().any(|h| h.starts_with("Content-Length: 4")) {
        head.push_str("body");
    }
    let mut head = head.into_bytes();
    head.extend_from_slice(c.body);
    let resp = if c.method == "HEAD" {
        let mut s = std::net::TcpStream::connect(side.web).expect("connect");
        std::io::Write::write_all(&mut s, &head).expect("send");
        raw::read_response(&mut s, true).expect("response")
    } else {
        raw::send(side.web, &head).expect("response")
    };
    let mut obs = BTreeMap::new();
    obs.insert("status".to_string(), resp.status.to_string());
    if pages.count() > pages_before {
        let got = pages.last().expect("page request");
        let port = pages.addr.port().to_string();
        obs.insert("page method".into(), got.method.clone());
        obs.insert("page target".into(), got.target.clone());
        for h in COMPARED_PAGE_HEADERS {
            let v = got.header_all(h).join(" | ").replace(&port, "<pages-port>");
            if !v.is_empty() {
                obs.insert(format!("page {h}"), v);
            }
        }
    }
    for h in COMPARED_HEADERS {
        let all: Vec<&str> = resp
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(h))
            .map(|(_, v)| v.as_str())
            .collect();
        if !all.is_empty() {
            let mut v = all.join(" | ");
            if *h == "access-control-expose-headers" {
                // Traefik lists them in Go's map order, which is random.
                let mut names: Vec<&str> = v.split(", ").collect();
                names.sort_unstable();
                v = names.join(", ");
            }
            obs.insert(h.to_string(), v);
        }
    }
    let encoding = resp.header("content-encoding");
    if encoding.is_none() {
        if let Some(cl) = resp.header("content-length") {
            obs.insert("content-length".into(), cl.to_string());
        }
    }
    let body = match decode(encoding, &resp.body) {
        Ok(b) => b,
        Err(e) => {
            obs.insert("body".into(), e);
            return obs;
        }
    };
    let text = String::from_utf8_lossy(&body);
    let grpc = resp
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/grpc"));
    let summary = if grpc {
        format!("{:?}", bytes::Bytes::from(body.clone()))
    } else if text.starts_with("wharf says hello") {
        format!("{} bytes of text", body.len())
    } else if text.contains("\"backend\"") {
        "echo json".to_string()
    } else {
        text.into_owned()
    };
    if summary == "echo json" || (c.method == "HEAD" && obs.contains_key("page target")) {
        // Its length depends on the headers Go's client adds on Traefik's side.
        obs.remove("content-length");
    }
    obs.insert("body".into(), summary);
    obs
}

#[test]
fn traffic_middlewares_agree_with_traefik() {
    let backends = Backends::start();
    let pages = &backends.pages;
    let wharf = start(&common::wharf_bin(), &backends);
    let traefik = start(&common::traefik_bin(), &backends);
    let cases = cases();
    let mut seen = BTreeMap::new();
    let mut diffs = Vec::new();
    for c in &cases {
        let w = observe(&wharf, c, pages);
        let t = observe(&traefik, c, pages);
        if let Some(diff) = common::differences(&w, &t) {
            diffs.push(format!("  {}:\n{diff}", c.name));
        }
        seen.insert(c.name, w);
    }
    assert!(
        diffs.is_empty(),
        "{} of {} requests differ:\n{}\nwharf log:\n{}",
        diffs.len(),
        cases.len(),
        diffs.join("\n"),
        wharf.proc.log()
    );
    drop(traefik);
    // Agreement could hide both doing nothing: absolute checks, (case, key, expected).
    let expected: &[(&str, &str, &str)] = &[
        ("large gzip", "content-encoding", "gzip"),
        ("large gzip", "body", "3600 bytes of text"),
        ("large br", "content-encoding", "br"),
        ("chunked large gzip", "body", "3600 bytes of text"),
        ("large zstd", "content-encoding", "zstd"),
        ("small body", "content-encoding", ""),
        ("small body", "vary", "Accept-Encoding"),
        ("accept-encoding \"br;q=1, gzip;q=0.5\"", "content-encoding", "br"),
        ("lower threshold", "content-encoding", "gzip"),
        ("default encoding", "content-encoding", "br"),
        ("response under the limit", "status", "200"),
        ("response over the limit", "status", "500"),
        ("grpc-web call", "content-type", "application/grpc-web+proto"),
        ("grpc-web call", "body", "b\"\\0\\0\\0\\0\\x05hello\\x80\\0\\0\\0&grpc-message: echoed\\r\\ngrpc-status: 0\\r\\n\""),
        ("grpc-web preflight", "access-control-allow-origin", "https://ok.test"),
        ("grpc-web preflight from another origin", "access-control-allow-origin", ""),
        ("grpc-web-text call", "body", "b\"AAAAAAVoZWxsbw==gAAAACZncnBjLW1lc3NhZ2U6IGVjaG9lZA0KZ3JwYy1zdGF0dXM6IDANCg==\""),
        ("forwardAuth over TLS with its CA", "status", "200"),
        ("forwardAuth over TLS, unknown CA", "status", "500"),
        ("forwardAuth over TLS, not verified", "status", "200"),
        ("forwardAuth over mutual TLS", "status", "200"),
        ("forwardAuth over mutual TLS without a certificate", "status", "500"),
        ("retry on a 503 reaches the healthy server", "status", "200"),
        ("retry on a 503, every server sick", "status", "503"),
        ("retry resends a POST when allowed", "status", "200"),
        ("breaker, request 1", "status", "502"),
        ("breaker, request 2", "status", "503"),
        ("breaker, request 4", "body", "Service Unavailable"),
        ("breaker code, tripped", "status", "418"),
        ("backend 503 gets the page", "status", "503"),
        ("backend 503 gets the page", "page target", "/status/200?orig=503&url=http%3A%2F%2Ferrs.test%2Fstatus%2F503%3Fa%3D1"),
        ("backend 503 gets the page", "page host", "errs.test"),
        ("backend 503 gets the page", "x-backend", "pages"),
        ("post 500 asks with get", "page method", "GET"),
        ("backend 403 is untouched", "page target", ""),
        ("status rewrite", "status", "500"),
        ("status rewrite", "page target", "/x?s=500&o=503"),
        ("wharf's 502", "status", "502"),
        ("wharf's 502", "x-backend", "pages"),
        ("around basic auth", "status", "401"),
        ("around basic auth", "page target", "/denied"),
        ("inside basic auth", "page target", ""),
        ("error request headers", "page x-keep", "1"),
        ("error request headers", "page x-drop", ""),
        ("page service down", "status", "500"),
        ("no query, no pass host", "page target", "/"),
        ("no query, no pass host", "page host", "127.0.0.1:<pages-port>"),
    ];
    common::check_expected(&seen, expected);
}
