//! serversTransports against real HTTPS backends on loopback: trusted CAs, mutual TLS,
//! serverName, insecureSkipVerify, HTTP/2 by ALPN (and disableHTTP2), responseHeaderTimeout
//! (504), the static default transport, and references or files that are wrong.

mod common;

use std::sync::Arc;

use common::{start, WAIT};
use wharf_testkit::pki::TestPki;
use wharf_testkit::{raw, wait_until, EchoServer};

/// The test CA's server configuration offering h2 and HTTP/1.1 by ALPN.
fn h2_and_h1(pki: &TestPki) -> Arc<rustls::ServerConfig> {
    let mut both = (*pki.server_config(false)).clone();
    both.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(both)
}

#[test]
fn transports_reach_https_backends_as_configured() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let bad_ca = dir.path().join("bad-ca.pem");
    std::fs::write(&bad_ca, "not a certificate").unwrap();
    // One backend that wants a client certificate of the test CA, one that speaks h2 too.
    let mtls = EchoServer::start_tls("mtls", pki.server_config(true));
    let h2 = EchoServer::start_tls("h2", h2_and_h1(&pki));
    let plain = EchoServer::start("plain");
    let (ca, cert, key) = (
        files.ca.display(),
        files.client_cert.display(),
        files.client_key.display(),
    );
    let yaml = format!(
        r#"
http:
  routers:
    mtls: {{rule: "Host(`mtls.test`)", service: mtls}}
    nocert: {{rule: "Host(`nocert.test`)", service: nocert}}
    untrusted: {{rule: "Host(`untrusted.test`)", service: untrusted}}
    insecure: {{rule: "Host(`insecure.test`)", service: insecure}}
    named: {{rule: "Host(`named.test`)", service: named}}
    misnamed: {{rule: "Host(`misnamed.test`)", service: misnamed}}
    h2: {{rule: "Host(`h2.test`)", service: h2}}
    h1only: {{rule: "Host(`h1only.test`)", service: h1only}}
    slow: {{rule: "Host(`slow.test`)", service: slow}}
    missing: {{rule: "Host(`missing.test`)", service: missing}}
  services:
    mtls: {{loadBalancer: {{servers: [{{url: "{mtls_url}"}}], serversTransport: mtls}}}}
    nocert: {{loadBalancer: {{servers: [{{url: "{mtls_url}"}}], serversTransport: ca-only}}}}
    untrusted: {{loadBalancer: {{servers: [{{url: "{h2_url}"}}]}}}}
    insecure: {{loadBalancer: {{servers: [{{url: "{mtls_url}"}}], serversTransport: insecure}}}}
    named: {{loadBalancer: {{servers: [{{url: "{mtls_url}"}}], serversTransport: named}}}}
    misnamed: {{loadBalancer: {{servers: [{{url: "{mtls_url}"}}], serversTransport: misnamed}}}}
    h2: {{loadBalancer: {{servers: [{{url: "{h2_url}"}}], serversTransport: ca-only@file}}}}
    h1only: {{loadBalancer: {{servers: [{{url: "{h2_url}"}}], serversTransport: h1}}}}
    slow: {{loadBalancer: {{servers: [{{url: "{plain_url}"}}], serversTransport: impatient}}}}
    missing: {{loadBalancer: {{servers: [{{url: "{plain_url}"}}], serversTransport: nowhere}}}}
  serversTransports:
    mtls:
      rootCAs: ["{ca}"]
      certificates: [{{certFile: "{cert}", keyFile: "{key}"}}]
    ca-only:
      rootCAs: ["{ca}", "{bad_ca}"]
    insecure:
      insecureSkipVerify: true
      certificates: [{{certFile: "{cert}", keyFile: "{key}"}}]
    named:
      serverName: localhost
      rootCAs: ["{ca}"]
      certificates: [{{certFile: "{cert}", keyFile: "{key}"}}]
    misnamed:
      serverName: wrong.test
      rootCAs: ["{ca}"]
      certificates: [{{certFile: "{cert}", keyFile: "{key}"}}]
    h1:
      rootCAs: ["{ca}"]
      disableHTTP2: true
    impatient:
      forwardingTimeouts: {{responseHeaderTimeout: 300ms}}
"#,
        mtls_url = mtls.url(),
        h2_url = h2.url(),
        plain_url = plain.url(),
        bad_ca = bad_ca.display(),
    );
    let s = start(&yaml, &[]);
    let get = |host: &str, path: &str| raw::get(s.web, host, path, &[]).unwrap();
    for (host, want) in [
        ("mtls.test", 200),
        ("nocert.test", 502),
        ("untrusted.test", 502),
        ("insecure.test", 200),
        ("named.test", 200),
        ("misnamed.test", 502),
        ("missing.test", 404),
    ] {
        let r = get(host, "/");
        assert_eq!(
            r.status,
            want,
            "{host}: {}\n{}",
            r.body_text(),
            s.proc.log()
        );
    }
    assert_eq!(
        mtls.count(),
        3,
        "mtls, insecure and named reached the backend"
    );

    // HTTP/2 to an https backend when it offers it by ALPN; HTTP/1.1 with disableHTTP2.
    assert_eq!(get("h2.test", "/").json()["version"], "HTTP/2.0");
    assert_eq!(get("h1only.test", "/").json()["version"], "HTTP/1.1");

    // responseHeaderTimeout: 504, Traefik's body.
    let r = get("slow.test", "/delay/3000");
    assert_eq!((r.status, r.body_text().as_str()), (504, "Gateway Timeout"));
    assert_eq!(get("slow.test", "/").status, 200);

    let file = s.dynamic.display().to_string();
    for needle in [
        format!("{file}:24:"),
        "servers transport `nowhere@file` does not exist".to_string(),
        format!("root CA {} is not a PEM certificate list", bad_ca.display()),
    ] {
        assert!(
            s.proc.wait_for_log(&needle, WAIT),
            "{needle}\n{}",
            s.proc.log()
        );
    }
}

#[test]
fn the_static_transport_is_every_services_default() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let mtls = EchoServer::start_tls("mtls", pki.server_config(true));
    let yaml = format!(
        "http:\n  routers:\n    r: {{rule: \"Host(`a.test`)\", service: s}}\n  services:\n    s: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n",
        mtls.url()
    );
    let s = start(
        &yaml,
        &[
            format!("--serversTransport.rootCAs={}", files.ca.display()),
            format!(
                "--serversTransport.certificates[0].certFile={}",
                files.client_cert.display()
            ),
            format!(
                "--serversTransport.certificates[0].keyFile={}",
                files.client_key.display()
            ),
        ],
    );
    let r = raw::get(s.web, "a.test", "/", &[]).unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.body_text(), s.proc.log());
}

/// minVersion, maxVersion, cipherSuites and peerCertURI: wharf's own TLS client, observed at
/// the backend (the version and suite it negotiated) and by what is refused; h2 is learnt by
/// ALPN, for requests and health checks alike.
#[test]
fn tls_versions_suites_and_the_san_uri_are_honoured() {
    use wharf_testkit::pki::SAN_URI;
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let both = EchoServer::start_tls("both", h2_and_h1(&pki));
    let uri = EchoServer::start_tls("uri", pki.uri_server_config());
    let ca = files.ca.display();
    // A client certificate with another certificate's key: the transport cannot be built.
    let wrong_key = dir.path().join("wrong-key.pem");
    std::fs::write(&wrong_key, &pki.server_key_pem).unwrap();
    let yaml = format!(
        r#"
http:
  routers:
    tls12: {{rule: "Host(`tls12.test`)", service: tls12}}
    tls13: {{rule: "Host(`tls13.test`)", service: tls13}}
    rsaonly: {{rule: "Host(`rsaonly.test`)", service: rsaonly}}
    h1: {{rule: "Host(`h1.test`)", service: h1}}
    uri: {{rule: "Host(`uri.test`)", service: uri}}
    nouri: {{rule: "Host(`nouri.test`)", service: nouri}}
    wronguri: {{rule: "Host(`wronguri.test`)", service: wronguri}}
    insecureuri: {{rule: "Host(`insecureuri.test`)", service: insecureuri}}
    broken: {{rule: "Host(`broken.test`)", service: broken}}
  services:
    tls12:
      loadBalancer:
        servers: [{{url: "{both_url}"}}]
        serversTransport: tls12
        healthCheck: {{path: /health, interval: 1s}}
    tls13: {{loadBalancer: {{servers: [{{url: "{both_url}"}}], serversTransport: tls13}}}}
    rsaonly: {{loadBalancer: {{servers: [{{url: "{both_url}"}}], serversTransport: rsaonly}}}}
    h1: {{loadBalancer: {{servers: [{{url: "{both_url}"}}], serversTransport: h1}}}}
    uri: {{loadBalancer: {{servers: [{{url: "{uri_url}"}}], serversTransport: uri}}}}
    nouri: {{loadBalancer: {{servers: [{{url: "{both_url}"}}], serversTransport: uri}}}}
    wronguri: {{loadBalancer: {{servers: [{{url: "{uri_url}"}}], serversTransport: wronguri}}}}
    insecureuri: {{loadBalancer: {{servers: [{{url: "{uri_url}"}}], serversTransport: insecureuri}}}}
    broken: {{loadBalancer: {{servers: [{{url: "{uri_url}"}}], serversTransport: broken}}}}
  serversTransports:
    tls12:
      rootCAs: ["{ca}"]
      maxVersion: VersionTLS12
      cipherSuites: [TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]
    tls13:
      rootCAs: ["{ca}"]
      minVersion: VersionTLS13
    rsaonly:
      rootCAs: ["{ca}"]
      maxVersion: VersionTLS12
      cipherSuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
    h1:
      rootCAs: ["{ca}"]
      minVersion: VersionTLS12
      maxVersion: VersionTLS12
      disableHTTP2: true
    uri:
      rootCAs: ["{ca}"]
      peerCertURI: "{SAN_URI}"
    wronguri:
      rootCAs: ["{ca}"]
      peerCertURI: spiffe://wharf.test/other
    insecureuri:
      rootCAs: ["{ca}"]
      serverName: not-the-name.test
      insecureSkipVerify: true
      peerCertURI: "{}"
    broken:
      rootCAs: ["{ca}"]
      peerCertURI: spiffe://wharf.test/other
      certificates: [{{certFile: "{cert}", keyFile: "{wrong_key}"}}]
"#,
        SAN_URI.to_uppercase(),
        cert = files.client_cert.display(),
        wrong_key = wrong_key.display(),
        both_url = both.url(),
        uri_url = uri.url(),
    );
    let s = start(&yaml, &[]);
    let get = |host: &str| raw::get(s.web, host, "/", &[]).unwrap();
    // Each twice: the first connection may learn the server's protocol by ALPN.
    for _ in 0..2 {
        let r = get("tls12.test");
        assert_eq!(r.status, 200, "{}\n{}", r.body_text(), s.proc.log());
        let echo = r.json();
        assert_eq!(
            echo["tls"], "TLSv1_2 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "{echo}"
        );
        assert_eq!(echo["version"], "HTTP/2.0", "h2 chosen by ALPN");
        let echo = get("tls13.test").json();
        assert!(
            echo["tls"].as_str().unwrap().starts_with("TLSv1_3 "),
            "{echo}"
        );
        let echo = get("h1.test").json();
        assert_eq!(echo["version"], "HTTP/1.1", "{echo}");
        assert!(
            echo["tls"].as_str().unwrap().starts_with("TLSv1_2 "),
            "{echo}"
        );
    }
    for (host, want) in [
        // The backend's key is ECDSA: no suite is left.
        ("rsaonly.test", 502),
        ("uri.test", 200),
        ("nouri.test", 502),
        ("wronguri.test", 502),
        // The chain is checked, the name is not, the URI matches (ignoring case).
        ("insecureuri.test", 200),
        // TLS settings that cannot be built refuse the servers rather than reach them
        // without the URI check.
        ("broken.test", 502),
    ] {
        let r = get(host);
        assert_eq!(
            r.status,
            want,
            "{host}: {}\n{}",
            r.body_text(),
            s.proc.log()
        );
    }
    assert!(
        s.proc
            .wait_for_log("no SAN URI in peer certificate matches", WAIT),
        "{}",
        s.proc.log()
    );
    // The health check reaches the backend over the same client (TLS 1.2, h2) and keeps
    // it up.
    assert!(wait_until(WAIT, || both
        .received()
        .iter()
        .any(|r| r.target == "/health" && r.version == "HTTP/2.0")));
    assert_eq!(get("tls12.test").status, 200);
}

/// Connections made by wharf's own TLS client (a transport with TLS versions) and by its
/// HTTP/2 PING wrapper (readIdleTimeout with a pingTimeout of its own) are kept alive and
/// reused, as Go keeps them: sequential requests open no further connection at the backend.
#[test]
fn own_tls_and_pinged_connections_are_reused() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let h1 = EchoServer::start_tls("h1", pki.server_config(false));
    let h2 = EchoServer::start_tls("h2", h2_and_h1(&pki));
    let h2c = EchoServer::start("h2c");
    let yaml = format!(
        r#"
http:
  routers:
    h1: {{rule: "Host(`h1.test`)", service: h1}}
    h2: {{rule: "Host(`h2.test`)", service: h2}}
    h2c: {{rule: "Host(`h2c.test`)", service: h2c}}
  services:
    h1: {{loadBalancer: {{servers: [{{url: "{h1}"}}], serversTransport: tls12}}}}
    h2: {{loadBalancer: {{servers: [{{url: "{h2}"}}], serversTransport: tls12}}}}
    h2c: {{loadBalancer: {{servers: [{{url: "h2c://{h2c}"}}], serversTransport: pinged}}}}
  serversTransports:
    tls12:
      rootCAs: ["{ca}"]
      maxVersion: VersionTLS12
    pinged:
      forwardingTimeouts: {{readIdleTimeout: 30s, pingTimeout: 10s}}
"#,
        h1 = h1.url(),
        h2 = h2.url(),
        h2c = h2c.addr,
        ca = files.ca.display(),
    );
    let s = start(&yaml, &[]);
    for (host, backend, version) in [
        ("h1.test", &h1, "HTTP/1.1"),
        ("h2.test", &h2, "HTTP/2.0"),
        ("h2c.test", &h2c, "HTTP/2.0"),
    ] {
        // The first request may learn the protocol by ALPN (one connection closed unused).
        let r = raw::get(s.web, host, "/", &[]).unwrap();
        assert_eq!(r.status, 200, "{host}: {}\n{}", r.body_text(), s.proc.log());
        let connections = backend.accepted();
        for _ in 0..5 {
            let r = raw::get(s.web, host, "/", &[]).unwrap();
            assert_eq!(r.status, 200, "{host}: {}\n{}", r.body_text(), s.proc.log());
            assert_eq!(r.json()["version"], version, "{host}");
        }
        assert_eq!(
            backend.accepted(),
            connections,
            "{host}: each request opened a connection of its own"
        );
        // A connection closed after the ALPN lesson is seen closed by the backend in time.
        assert!(
            wait_until(WAIT, || backend.open_connections() == 1),
            "{host}: {} connections open",
            backend.open_connections()
        );
    }
}

/// One route for `a.test` to the server `url` through the serversTransport `transport` (YAML).
fn through_transport(url: &str, transport: &str) -> String {
    format!(
        "http:\n  routers:\n    r: {{rule: \"Host(`a.test`)\", service: s}}\n  services:\n    s: {{loadBalancer: {{servers: [{{url: \"{url}\"}}], serversTransport: t}}}}\n  serversTransports:\n    t: {transport}\n"
    )
}

/// maxIdleConnsPerHost: connections beyond it are closed when their request ends.
#[test]
fn max_idle_conns_per_host_closes_the_surplus() {
    let backend = EchoServer::start("b");
    let s = start(
        &through_transport(&backend.url(), "{maxIdleConnsPerHost: 1}"),
        &[],
    );
    let web = s.web;
    let clients: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || raw::get(web, "a.test", "/delay/500", &[]).unwrap().status)
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), 200);
    }
    assert_eq!(backend.count(), 4);
    assert!(
        wait_until(WAIT, || backend.open_connections() <= 1),
        "{} connections stay open",
        backend.open_connections()
    );
}

/// idleConnTimeout: an idle backend connection is closed once it has been idle that long,
/// with no further traffic to prompt it, and the next request opens another.
#[test]
fn idle_conn_timeout_closes_idle_backend_connections() {
    let backend = EchoServer::start("b");
    let s = start(
        &through_transport(
            &backend.url(),
            "{forwardingTimeouts: {idleConnTimeout: 1s}}",
        ),
        &[],
    );
    for round in 1..=2 {
        let r = raw::get(s.web, "a.test", "/", &[]).unwrap();
        assert_eq!(r.status, 200, "{}\n{}", r.body_text(), s.proc.log());
        assert_eq!(backend.count(), round);
        assert!(
            wait_until(WAIT, || backend.open_connections() == 0),
            "{} idle connections stay open",
            backend.open_connections()
        );
    }
}

/// readIdleTimeout and pingTimeout: connections are pinged when the backend is silent;
/// one whose backend stops answering is dropped after pingTimeout, failing the request in
/// flight on it (502), as Go's HTTP/2 health check does.
#[test]
fn an_h2_backend_that_stops_answering_pings_is_dropped() {
    use wharf_testkit::tcp_relay::TcpRelay;
    let backend = EchoServer::start("h2c");
    let relay = TcpRelay::start(backend.addr);
    let s = start(
        &through_transport(
            &format!("h2c://{}", relay.addr),
            "{forwardingTimeouts: {readIdleTimeout: 300ms, pingTimeout: 2s}}",
        ),
        &[],
    );
    let web = s.web;
    let r = raw::get(web, "a.test", "/", &[]).unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.body_text(), s.proc.log());
    assert_eq!(r.json()["version"], "HTTP/2.0");
    // A slow answer: the backend is silent, so PINGs go out; they are answered, and the
    // answers (taken out before pingora's h2 client) keep the connection.
    let r = raw::get(web, "a.test", "/delay/1500", &[]).unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.body_text(), s.proc.log());
    // The backend hangs with a request in flight: the PING goes unanswered and the
    // connection is dropped, failing the request.
    let slow = std::thread::spawn(move || raw::get(web, "a.test", "/delay/20000", &[]));
    assert!(wait_until(WAIT, || backend
        .received()
        .iter()
        .any(|r| r.target == "/delay/20000")));
    relay.freeze_open_connections();
    let r = slow
        .join()
        .unwrap()
        .expect("an answer before the client gives up");
    assert_eq!(r.status, 502, "{}\n{}", r.body_text(), s.proc.log());
    assert!(
        s.proc
            .wait_for_log("did not answer an HTTP/2 PING within pingTimeout", WAIT),
        "{}",
        s.proc.log()
    );
}
