//! TLS termination over real TLS, differential against the real Traefik 3.7.15: which
//! certificate each SNI is served, the default and generated certificates, `tls.options` per
//! SNI (versions, suites, ALPN, sniStrict, client authentication), the 421 domain-fronting
//! guard, TLS and non-TLS routers kept apart, and passTLSClientCert's headers.
//!
//! Deliberate differences (not compared): the alert a refused client certificate gets (Go
//! sends bad_certificate, rustls unknown_ca); both refuse the handshake, which is compared.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use common::{
    check_expected, common_name, differences, file_proxy, start_ready, traefik_bin, wharf_bin,
};
use wharf_testkit::pki::{self_signed, KeyKind, TestPki};
use wharf_testkit::tls_client::TlsClient;
use wharf_testkit::{raw, EchoServer, WharfProcess};

const CONFIG: &str = r#"
http:
  routers:
    ready:   {rule: "Host(`ready.test`)", service: svc}
    a:       {rule: "Host(`a.test`)", service: svc, tls: {}}
    w:       {rule: "Host(`x.b.test`)", service: svc, tls: {}}
    c:       {rule: "Host(`c.test`)", service: svc, tls: {options: old}}
    s:       {rule: "Host(`s.test`)", service: svc, tls: {options: strict}}
    m:       {rule: "Host(`m.test`)", service: svc, tls: {options: mtls}, middlewares: [cert]}
    o:       {rule: "Host(`o.test`)", service: svc, tls: {options: optional}, middlewares: [cert]}
    rq:      {rule: "Host(`rq.test`)", service: svc, tls: {options: request}, middlewares: [cert]}
    ra:      {rule: "Host(`ra.test`)", service: svc, tls: {options: requireany}, middlewares: [cert]}
    plain:   {rule: "Host(`plain.test`)", service: svc}
    missing: {rule: "Host(`missing.test`)", service: svc, tls: {options: nope}}
  middlewares:
    cert:
      passTLSClientCert:
        pem: true
        info:
          notAfter: true
          notBefore: true
          sans: true
          serialNumber: true
          subject: {commonName: true, organization: true, country: true}
          issuer: {commonName: true}
  services:
    svc: {loadBalancer: {servers: [{url: "BACKEND"}]}}
tls:
  certificates:
    - {certFile: DIR/a.crt, keyFile: DIR/a.key}
    - {certFile: DIR/wild.crt, keyFile: DIR/wild.key}
    - {certFile: DIR/c.crt, keyFile: DIR/c.key}
  stores:
    default:
      defaultCertificate: {certFile: DIR/default.crt, keyFile: DIR/default.key}
  options:
    old:
      maxVersion: VersionTLS12
      cipherSuites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
      alpnProtocols: [http/1.1]
    strict: {minVersion: VersionTLS13, sniStrict: true}
    mtls: {clientAuth: {caFiles: [DIR/ca.pem], clientAuthType: RequireAndVerifyClientCert}}
    optional: {clientAuth: {caFiles: [DIR/ca.pem], clientAuthType: VerifyClientCertIfGiven}}
    request: {clientAuth: {clientAuthType: RequestClientCert}}
    requireany: {clientAuth: {clientAuthType: RequireAnyClientCert}}
"#;

struct Material {
    dir: tempfile::TempDir,
    pki: TestPki,
    stranger: (String, String),
}

/// Certificates on disk: a.test (ECDSA), *.b.test, c.test and default.test (RSA), a CA with
/// a client certificate, and a client certificate of no known CA.
fn material() -> Material {
    let dir = tempfile::tempdir().expect("tempdir");
    let put = |name: &str, (cert, key): (String, String)| {
        std::fs::write(dir.path().join(format!("{name}.crt")), cert).expect("write cert");
        std::fs::write(dir.path().join(format!("{name}.key")), key).expect("write key");
    };
    put("a", self_signed(&["a.test"], "a.test", KeyKind::EcdsaP256));
    put(
        "wild",
        self_signed(&["*.b.test"], "*.b.test", KeyKind::Rsa2048),
    );
    put("c", self_signed(&["c.test"], "c.test", KeyKind::Rsa2048));
    put(
        "default",
        self_signed(&["default.test"], "default.test", KeyKind::Rsa2048),
    );
    let pki = TestPki::new();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("write ca");
    let stranger = self_signed(&["stranger.test"], "stranger", KeyKind::EcdsaP256);
    Material { dir, pki, stranger }
}

fn config(m: &Material, backend: &EchoServer) -> String {
    CONFIG
        .replace("BACKEND", &backend.url())
        .replace("DIR", &m.dir.path().display().to_string())
}

/// One case: who connects how, and what is observed.
struct Case {
    name: &'static str,
    client: TlsClient,
    host: &'static str,
}

fn cases(m: &Material) -> Vec<Case> {
    let sni = |s: &str| TlsClient::new(Some(s));
    vec![
        Case {
            name: "exact",
            client: sni("a.test"),
            host: "a.test",
        },
        Case {
            name: "wildcard",
            client: sni("x.b.test"),
            host: "x.b.test",
        },
        Case {
            name: "unknown-sni",
            client: sni("zzz.test"),
            host: "a.test",
        },
        Case {
            name: "no-sni",
            client: TlsClient::new(None),
            host: "a.test",
        },
        Case {
            name: "sni-strict",
            client: sni("s.test"),
            host: "s.test",
        },
        Case {
            name: "old-options",
            client: sni("c.test"),
            host: "c.test",
        },
        Case {
            name: "alpn-h2",
            client: sni("a.test").alpn(&["h2", "http/1.1"]),
            host: "",
        },
        Case {
            name: "alpn-h2-old",
            client: sni("c.test").alpn(&["h2", "http/1.1"]),
            host: "",
        },
        Case {
            name: "fronting",
            client: sni("a.test"),
            host: "c.test",
        },
        Case {
            name: "fronting-back",
            client: sni("c.test"),
            host: "a.test",
        },
        Case {
            name: "plain-router-over-tls",
            client: sni("plain.test"),
            host: "plain.test",
        },
        Case {
            name: "unknown-options",
            client: sni("missing.test"),
            host: "missing.test",
        },
        Case {
            name: "mtls-without-cert",
            client: sni("m.test"),
            host: "m.test",
        },
        Case {
            name: "mtls",
            client: sni("m.test").client_cert(&m.pki.client_cert_pem, &m.pki.client_key_pem),
            host: "m.test",
        },
        Case {
            name: "optional-without-cert",
            client: sni("o.test"),
            host: "o.test",
        },
        Case {
            name: "optional-stranger",
            client: sni("o.test").client_cert(&m.stranger.0, &m.stranger.1),
            host: "o.test",
        },
        Case {
            name: "request-without-cert",
            client: sni("rq.test"),
            host: "rq.test",
        },
        Case {
            name: "request-stranger",
            client: sni("rq.test").client_cert(&m.stranger.0, &m.stranger.1),
            host: "rq.test",
        },
        Case {
            name: "requireany-without-cert",
            client: sni("ra.test"),
            host: "ra.test",
        },
        Case {
            name: "requireany-stranger",
            client: sni("ra.test").client_cert(&m.stranger.0, &m.stranger.1),
            host: "ra.test",
        },
    ]
}

fn observe(web: SocketAddr, m: &Material) -> BTreeMap<&'static str, BTreeMap<String, String>> {
    let mut seen = BTreeMap::new();
    for case in cases(m) {
        let mut o = BTreeMap::new();
        if case.host.is_empty() {
            // The handshake alone (what ALPN is chosen).
            match case.client.connect(web) {
                Ok((served, _)) => {
                    o.insert("alpn".into(), served.alpn.unwrap_or_default());
                }
                Err(_) => {
                    o.insert("outcome".into(), "refused".into());
                }
            }
            seen.insert(case.name, o);
            continue;
        }
        match case.client.get(web, case.host, "/", &[]) {
            Ok((served, resp)) => {
                o.insert("outcome".into(), "ok".into());
                o.insert("cn".into(), common_name(&served.certificate));
                o.insert("version".into(), served.version);
                o.insert("cipher".into(), served.cipher);
                o.insert("alpn".into(), served.alpn.unwrap_or_default());
                o.insert("status".into(), resp.status.to_string());
                if resp.status != 200 {
                    o.insert("body".into(), resp.body_text());
                }
                let json = resp.json();
                for name in [
                    "x-forwarded-tls-client-cert",
                    "x-forwarded-tls-client-cert-info",
                    "x-forwarded-proto",
                ] {
                    let value = json["headers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|h| h[0].as_str() == Some(name))
                        .and_then(|h| h[1].as_str())
                        .unwrap_or_default();
                    if !value.is_empty() {
                        o.insert(name.into(), value.to_string());
                    }
                }
            }
            Err(e) => {
                o.insert("outcome".into(), "refused".into());
                if e.contains("UnrecognisedName") {
                    o.insert("alert".into(), "unrecognized_name".into());
                }
            }
        }
        seen.insert(case.name, o);
    }
    // A TLS router over plain HTTP.
    let plain = raw::get(web, "a.test", "/", &[]).expect("plain request");
    seen.insert(
        "tls-router-over-plain",
        BTreeMap::from([("status".to_string(), plain.status.to_string())]),
    );
    seen
}

fn run(
    binary: &Path,
    yaml: &str,
    m: &Material,
) -> BTreeMap<&'static str, BTreeMap<String, String>> {
    let (dir, args, web) = file_proxy(yaml, &[]);
    let proc: WharfProcess = start_ready(dir, binary, &args, &[web], web);
    let seen = observe(web, m);
    drop(proc);
    seen
}

#[test]
fn tls_behaves_as_traefik() {
    let m = material();
    let backend = EchoServer::start("svc");
    let yaml = config(&m, &backend);
    let wharf = run(&wharf_bin(), &yaml, &m);
    let traefik = run(&traefik_bin(), &yaml, &m);

    let mut diffs = Vec::new();
    for (case, w) in &wharf {
        let t = traefik.get(case).cloned().unwrap_or_default();
        if let Some(d) = differences(w, &t) {
            diffs.push(format!("  {case}:\n{d}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "wharf and Traefik differ:\n{}",
        diffs.join("\n")
    );

    let client_cn = "client";
    check_expected(
        &wharf,
        &[
            ("exact", "cn", "a.test"),
            ("exact", "version", "1.3"),
            ("exact", "cipher", "TLS13_AES_128_GCM_SHA256"),
            ("exact", "alpn", "http/1.1"),
            ("alpn-h2", "alpn", "h2"),
            ("alpn-h2-old", "alpn", "http/1.1"),
            ("exact", "status", "200"),
            ("exact", "x-forwarded-proto", "https"),
            ("wildcard", "cn", "*.b.test"),
            ("unknown-sni", "cn", "default.test"),
            ("unknown-sni", "status", "200"),
            ("no-sni", "cn", "default.test"),
            ("sni-strict", "alert", "unrecognized_name"),
            ("old-options", "version", "1.2"),
            (
                "old-options",
                "cipher",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            ),
            ("old-options", "alpn", "http/1.1"),
            ("fronting", "status", "421"),
            ("fronting", "body", "Misdirected Request\n"),
            ("fronting-back", "status", "421"),
            ("plain-router-over-tls", "status", "404"),
            ("unknown-options", "outcome", "refused"),
            ("mtls-without-cert", "outcome", "refused"),
            ("mtls", "status", "200"),
            ("optional-without-cert", "status", "200"),
            ("optional-stranger", "outcome", "refused"),
            ("tls-router-over-plain", "status", "404"),
            ("request-without-cert", "status", "200"),
            ("request-stranger", "status", "200"),
            ("requireany-without-cert", "outcome", "refused"),
            ("requireany-stranger", "status", "200"),
        ],
    );
    let info = &wharf["mtls"]["x-forwarded-tls-client-cert-info"];
    assert!(info.contains(&format!("CN%3D{client_cn}")), "{info}");
    assert!(wharf["mtls"]["x-forwarded-tls-client-cert"].starts_with("MII"));
    assert!(
        wharf["requireany-stranger"]["x-forwarded-tls-client-cert-info"].contains("CN%3Dstranger")
    );
}
