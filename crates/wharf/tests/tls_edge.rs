//! TLS at the edge, beyond the per-SNI matrix (`tls.rs`): the generated default certificate
//! (its shape against the real Traefik's), a certificate renewed on disk while connections
//! are open, the `web` -> `websecure` redirection with an entrypoint-wide `http.tls`, HTTP/2
//! and gRPC over TLS, and a broken certificate that takes nothing else down.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use common::{common_name, file_proxy, start_ready, traefik_bin, wharf_bin, WAIT};
use wharf_testkit::pki::{self_signed, KeyKind};
use wharf_testkit::tls_client::{request, trusting_config, TlsClient};
use wharf_testkit::{free_port, raw, wait_until, EchoServer, WharfProcess};

fn parse(der: &[u8]) -> x509_parser::certificate::X509Certificate<'_> {
    x509_parser::parse_x509_certificate(der)
        .expect("served certificate")
        .1
}

/// What a generated default certificate looks like, without what differs per start.
fn shape(der: &[u8]) -> BTreeMap<&'static str, String> {
    let cert = parse(der);
    let name = |n: &x509_parser::x509::X509Name<'_>| n.to_string();
    let sans: Vec<String> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|s| {
            s.value
                .general_names
                .iter()
                .map(|g| g.to_string())
                .collect()
        })
        .unwrap_or_default();
    let san_shape = sans
        .iter()
        .map(|s| {
            let dns = s.trim_start_matches("DNSName(").trim_end_matches(')');
            let parts: Vec<&str> = dns.split('.').collect();
            let hex32 = |p: &str| p.len() == 32 && p.bytes().all(|b| b.is_ascii_hexdigit());
            if parts.len() == 4
                && hex32(parts[0])
                && hex32(parts[1])
                && dns.ends_with(".traefik.default")
            {
                "<32hex>.<32hex>.traefik.default".to_string()
            } else {
                dns.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let key = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(other) => format!("{other:?}"),
        Err(e) => e.to_string(),
    };
    let validity = cert.validity();
    let days = (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86_400;
    let ku = cert
        .key_usage()
        .ok()
        .flatten()
        .map(|k| k.value.to_string())
        .unwrap_or_default();
    let eku = cert
        .extended_key_usage()
        .ok()
        .flatten()
        .map(|e| e.value.server_auth.to_string())
        .unwrap_or_default();
    let ca = cert
        .basic_constraints()
        .ok()
        .flatten()
        .map(|b| b.value.ca.to_string())
        .unwrap_or_else(|| "absent".into());
    BTreeMap::from([
        ("subject", name(cert.subject())),
        ("issuer", name(cert.issuer())),
        ("sans", san_shape),
        ("key", key),
        (
            "signature",
            cert.signature_algorithm.algorithm.to_id_string(),
        ),
        ("days", days.to_string()),
        ("key usage", ku),
        ("server auth", eku),
        ("ca", ca),
    ])
}

const ROUTER: &str = "http:\n  routers:\n    ready: {rule: \"Host(`ready.test`)\", service: svc}\n    a: {rule: \"Host(`a.test`)\", service: svc, tls: {}}\n  services:\n    svc: {loadBalancer: {servers: [{url: \"BACKEND\"}]}}\n";

fn served_default(binary: &Path, yaml: &str) -> (Vec<u8>, Vec<u8>) {
    let (dir, args, web) = file_proxy(yaml, &[]);
    let proc: WharfProcess = start_ready(dir, binary, &args, &[web], web);
    let with_sni = TlsClient::new(Some("a.test")).connect(web).expect("tls").0;
    let without = TlsClient::new(None).connect(web).expect("tls").0;
    drop(proc);
    (with_sni.certificate, without.certificate)
}

#[test]
fn the_generated_default_certificate_has_traefiks_shape() {
    let backend = EchoServer::start("svc");
    let yaml = ROUTER.replace("BACKEND", &backend.url());
    let (wharf, wharf_no_sni) = served_default(&wharf_bin(), &yaml);
    let (traefik, _) = served_default(&traefik_bin(), &yaml);
    assert_eq!(shape(&wharf), shape(&traefik));
    let expected = shape(&wharf);
    assert_eq!(expected["subject"], "CN=TRAEFIK DEFAULT CERT");
    assert_eq!(expected["issuer"], "CN=TRAEFIK DEFAULT CERT");
    assert_eq!(expected["sans"], "<32hex>.<32hex>.traefik.default");
    assert_eq!(expected["key"], "RSA 2048");
    assert_eq!(expected["signature"], "1.2.840.113549.1.1.11");
    assert_eq!(expected["days"], "365");
    assert_eq!(expected["server auth"], "true");
    assert_eq!(expected["ca"], "false");
    assert_eq!(
        wharf, wharf_no_sni,
        "the default certificate is also served without SNI"
    );
}

/// wharf on `web` with the dynamic file and certificate files in one directory.
fn start_with_files(
    files: &[(&str, &str)],
    yaml: &str,
) -> (WharfProcess, SocketAddr, tempfile::TempDir) {
    let certs = tempfile::tempdir().expect("tempdir");
    for (name, content) in files {
        std::fs::write(certs.path().join(name), content).expect("write");
    }
    let yaml = yaml.replace("DIR", &certs.path().display().to_string());
    let (dir, args, web) = file_proxy(&yaml, &["--log.level=DEBUG"]);
    let proc = start_ready(dir, &wharf_bin(), &args, &[web], web);
    (proc, web, certs)
}

const CERTS: &str = "tls:\n  certificates:\n    - {certFile: DIR/a.crt, keyFile: DIR/a.key}\n    - {certFile: DIR/b.crt, keyFile: DIR/b.key}\n";

#[test]
fn a_renewed_certificate_is_served_while_open_connections_go_on() {
    let backend = EchoServer::start("svc");
    let (cert, key) = self_signed(&["a.test"], "a.test", KeyKind::EcdsaP256);
    let (b_cert, b_key) = self_signed(&["b.test"], "b.test", KeyKind::EcdsaP256);
    let yaml = format!("{}{CERTS}", ROUTER.replace("BACKEND", &backend.url()));
    let (proc, web, dir) = start_with_files(
        &[
            ("a.crt", &cert),
            ("a.key", &key),
            ("b.crt", &b_cert),
            ("b.key", &b_key),
        ],
        &yaml,
    );
    let client = TlsClient::new(Some("a.test"));
    let (first, mut open) = client.connect(web).expect("handshake");
    let before = request(&mut open, "a.test", "/1", &[], false).expect("first request");
    assert_eq!(before.status, 200);

    let (renewed, renewed_key) = self_signed(&["a.test"], "a.test", KeyKind::EcdsaP256);
    // As a renewal tool does: write beside, then rename over (key first).
    for (name, content) in [("a.key", &renewed_key), ("a.crt", &renewed)] {
        let tmp = dir.path().join(format!("{name}.new"));
        std::fs::write(&tmp, content).unwrap();
        std::fs::rename(&tmp, dir.path().join(name)).unwrap();
    }
    let renewed_served = wait_until(WAIT, || {
        client
            .connect(web)
            .is_ok_and(|(served, _)| served.certificate != first.certificate)
    });
    assert!(
        renewed_served,
        "the renewed certificate was never served:\n{}",
        proc.log()
    );
    let after =
        request(&mut open, "a.test", "/2", &[], true).expect("the open connection still works");
    assert_eq!(after.status, 200);
    assert_eq!(backend.last().unwrap().target, "/2");
}

#[test]
fn a_broken_certificate_is_reported_with_its_path_and_the_rest_is_served() {
    let backend = EchoServer::start("svc");
    let (cert, key) = self_signed(&["a.test"], "a.test", KeyKind::EcdsaP256);
    let yaml = format!("{}{CERTS}", ROUTER.replace("BACKEND", &backend.url()));
    let (proc, web, dir) = start_with_files(
        &[
            ("a.crt", &cert),
            ("a.key", &key),
            ("b.crt", "garbage\n"),
            ("b.key", "more garbage\n"),
        ],
        &yaml,
    );
    let b_path = dir.path().join("b.crt").display().to_string();
    assert!(
        proc.wait_for_log(&b_path, WAIT),
        "no error names {b_path}:\n{}",
        proc.log()
    );
    let (served, resp) = TlsClient::new(Some("a.test"))
        .get(web, "a.test", "/", &[])
        .expect("a.test");
    assert_eq!(common_name(&served.certificate), "a.test");
    assert_eq!(resp.status, 200);
    let (served, _) = TlsClient::new(Some("b.test")).connect(web).expect("b.test");
    assert_eq!(common_name(&served.certificate), "TRAEFIK DEFAULT CERT");
}

#[test]
fn web_redirects_to_websecure_whose_routers_are_all_tls() {
    let backend = EchoServer::start("svc");
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let websecure = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let dir = tempfile::tempdir().unwrap();
    let dynamic = dir.path().join("dynamic.yml");
    std::fs::write(
        &dynamic,
        format!("http:\n  routers:\n    app: {{rule: \"Host(`app.test`)\", service: svc}}\n  services:\n    svc: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n", backend.url()),
    )
    .unwrap();
    let args = vec![
        format!("--entryPoints.web.address={web}"),
        "--entryPoints.web.http.redirections.entryPoint.to=websecure".to_string(),
        "--entryPoints.web.http.redirections.entryPoint.scheme=https".to_string(),
        format!("--entryPoints.websecure.address={websecure}"),
        "--entryPoints.websecure.http.tls=true".to_string(),
        format!("--providers.file.filename={}", dynamic.display()),
    ];
    let _proc = WharfProcess::start_in(dir, &wharf_bin(), &args, &[], &[web, websecure]);
    let client = TlsClient::new(Some("app.test"));
    let routed = wait_until(WAIT, || {
        client
            .get(websecure, "app.test", "/", &[])
            .is_ok_and(|(_, r)| r.status == 200)
    });
    assert!(routed, "app.test never answered over TLS on websecure");

    let redirect = raw::get(web, "app.test", "/x?y=1", &[]).unwrap();
    assert_eq!(redirect.status, 301);
    let location = redirect.header("location").unwrap_or_default().to_string();
    assert_eq!(
        location,
        format!("https://app.test:{}/x?y=1", websecure.port())
    );

    let (_, followed) = client.get(websecure, "app.test", "/x?y=1", &[]).unwrap();
    assert_eq!(followed.status, 200);
    assert_eq!(
        backend.last().unwrap().header("x-forwarded-proto"),
        Some("https")
    );
    let plain = raw::get(websecure, "app.test", "/", &[]).unwrap();
    assert_eq!(
        plain.status, 404,
        "http.tls makes the entrypoint's routers TLS-only"
    );
}

#[test]
fn http2_and_grpc_over_tls() {
    let backend = EchoServer::start("svc");
    let grpc = EchoServer::start("grpc");
    let yaml = format!(
        "http:\n  routers:\n    ready: {{rule: \"Host(`ready.test`)\", service: svc}}\n    a: {{rule: \"Host(`a.test`)\", service: svc, tls: {{}}}}\n    g: {{rule: \"Host(`g.test`)\", service: grpc, tls: {{}}}}\n  services:\n    svc: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n    grpc: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n",
        backend.url(),
        grpc.url().replace("http://", "h2c://"),
    );
    let (dir, args, web) = file_proxy(&yaml, &[]);
    let _proc = start_ready(dir, &wharf_bin(), &args, &[web], web);

    let connector = tokio_rustls::TlsConnector::from(trusting_config(&["h2"]));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h2 = |host: &'static str| {
        let connector = connector.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(web).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from(host).unwrap();
            let tls = connector.connect(name, tcp).await.unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            let (sender, conn) = hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                hyper_util::rt::TokioIo::new(tls),
            )
            .await
            .unwrap();
            tokio::spawn(conn);
            sender
        }
    };
    let (status, body, trailers) = rt.block_on(async {
        let mut sender = h2("a.test").await;
        let req = http::Request::builder()
            .uri("https://a.test/h2")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let status = sender.send_request(req).await.unwrap().status();

        let mut sender = h2("g.test").await;
        let req = http::Request::builder()
            .method("POST")
            .uri("https://g.test/echo.Echo/Say")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                b"\x00\x00\x00\x00\x05hello",
            )))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let collected = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap();
        let trailers = collected.trailers().cloned().unwrap_or_default();
        (status, collected.to_bytes(), trailers)
    });
    assert_eq!(status, 200);
    let seen = backend.last().unwrap();
    assert_eq!(seen.target, "/h2");
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    assert_eq!(&body[..], b"\x00\x00\x00\x00\x05hello");
    assert_eq!(
        trailers.get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"0"[..])
    );
}
