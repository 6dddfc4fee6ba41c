//! ACME against Pebble (Let's Encrypt's test CA) on loopback: certificates obtained on first
//! need by HTTP-01 (answered on `web` even though it redirects to `websecure`) and by
//! TLS-ALPN-01, renewed before they expire, kept in Traefik's `acme.json` format (mode 0600)
//! and served from it after a restart; an `acme.json` written by the real Traefik 3.7.15
//! against the same Pebble is served as is; a CA that is down is reported while the rest
//! serves.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::wharf_bin;
use rustls::pki_types::pem::PemObject;
use wharf_testkit::pebble::Pebble;
use wharf_testkit::tls_client::TlsClient;
use wharf_testkit::{free_port, raw, wait_until, EchoServer, WharfProcess};

const ISSUE_WAIT: Duration = Duration::from_secs(60);

struct Ports {
    web: SocketAddr,
    websecure: SocketAddr,
}

fn ports() -> Ports {
    Ports {
        web: SocketAddr::from(([127, 0, 0, 1], free_port())),
        websecure: SocketAddr::from(([127, 0, 0, 1], free_port())),
    }
}

/// A static file with two resolvers on one storage file: `http` (HTTP-01 on `web`, EC256)
/// and `tls` (TLS-ALPN-01, RSA2048); `web` redirects to `websecure`.
fn static_config(dir: &Path, ports: &Ports, pebble: &Pebble, storage: &Path) -> PathBuf {
    let dynamic = dir.join("dynamic.yml");
    let path = dir.join("traefik.yml");
    let resolver = |challenge: &str, key: &str| {
        format!(
            "    acme:\n      email: ops@example.com\n      caServer: {}\n      storage: {}\n      caCertificates: [{}]\n      keyType: {key}\n      {challenge}\n",
            pebble.directory,
            storage.display(),
            pebble.ca.display()
        )
    };
    std::fs::write(
        &path,
        format!(
            "entryPoints:\n  web:\n    address: \"{}\"\n    http:\n      redirections:\n        entryPoint: {{to: websecure, scheme: https}}\n  websecure:\n    address: \"{}\"\nproviders:\n  file: {{filename: {}}}\ncertificatesResolvers:\n  http:\n{}  tls:\n{}log: {{level: DEBUG}}\n",
            ports.web,
            ports.websecure,
            dynamic.display(),
            resolver("httpChallenge: {entryPoint: web}", "EC256"),
            resolver("tlsChallenge: {}", "RSA2048"),
        ),
    )
    .unwrap();
    path
}

fn dynamic(dir: &Path, backend: &EchoServer, routers: &str) {
    dynamic_with(dir, backend, routers, "");
}

fn dynamic_with(dir: &Path, backend: &EchoServer, routers: &str, tail: &str) {
    std::fs::write(
        dir.join("dynamic.yml"),
        format!(
            "http:\n  routers:\n{routers}  services:\n    svc: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n{tail}",
            backend.url()
        ),
    )
    .unwrap();
}

fn start(dir: &Path, config: &Path, ports: &Ports) -> WharfProcess {
    let workdir = tempfile::tempdir_in(dir).unwrap();
    WharfProcess::start_in(
        workdir,
        &wharf_bin(),
        &[format!("--configFile={}", config.display())],
        &[],
        &[ports.web, ports.websecure],
    )
}

/// The certificate (DER) served for `sni`, if its issuer is Pebble's.
fn pebble_certificate(websecure: SocketAddr, sni: &str) -> Option<Vec<u8>> {
    let (served, _) = TlsClient::new(Some(sni)).connect(websecure).ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&served.certificate).ok()?;
    let issuer = cert.issuer().to_string();
    issuer
        .contains("Pebble")
        .then(|| served.certificate.clone())
}

fn stored_certificate(storage: &Path, resolver: &str, main: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(storage).ok()?).ok()?;
    let certs = file[resolver]["Certificates"].as_array()?;
    let cert = certs.iter().find(|c| c["domain"]["main"] == main)?;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(cert["certificate"].as_str()?)
        .ok()?;
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(&pem)
        .ok()
        .map(|c: rustls::pki_types::CertificateDer<'static>| c.as_ref().to_vec())?;
    Some(der)
}

#[test]
fn certificates_are_obtained_renewed_stored_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let ports = ports();
    // Short-lived certificates: renewed a third of their life before they expire.
    let pebble = Pebble::start(
        ports.web.port(),
        ports.websecure.port(),
        Duration::from_secs(30),
    );
    let backend = EchoServer::start("svc");
    dynamic(
        dir.path(),
        &backend,
        "    a: {rule: \"Host(`a.acme.test`)\", service: svc, tls: {certResolver: http}}\n    b: {rule: \"Host(`b.acme.test`)\", service: svc, tls: {certResolver: tls, domains: [{main: b.acme.test, sans: [www.b.acme.test]}]}}\n",
    );
    let storage = dir.path().join("acme.json");
    let config = static_config(dir.path(), &ports, &pebble, &storage);
    let proc = start(dir.path(), &config, &ports);

    let issued = wait_until(ISSUE_WAIT, || {
        pebble_certificate(ports.websecure, "a.acme.test").is_some()
            && pebble_certificate(ports.websecure, "www.b.acme.test").is_some()
    });
    assert!(
        issued,
        "no certificate from Pebble:\n{}\n{}",
        proc.log(),
        pebble.log()
    );
    let first = pebble_certificate(ports.websecure, "a.acme.test").unwrap();
    let (_, resp) = TlsClient::new(Some("a.acme.test"))
        .get(ports.websecure, "a.acme.test", "/", &[])
        .unwrap();
    assert_eq!(resp.status, 200);

    // Traefik's format, owner-only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&storage).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    assert_eq!(
        file["tls"]["Certificates"][0]["domain"]["sans"][0],
        "www.b.acme.test"
    );
    assert_eq!(file["http"]["Certificates"][0]["Store"], "default");
    assert!(file["http"]["WharfAccount"]["Credentials"].is_object());

    // Renewal: a new certificate before the first expires.
    let renewed = wait_until(ISSUE_WAIT, || {
        pebble_certificate(ports.websecure, "a.acme.test").is_some_and(|c| c != first)
    });
    assert!(renewed, "never renewed:\n{}", proc.log());

    // A restart serves what is stored, before any new order.
    drop(proc);
    let stored = stored_certificate(&storage, "http", "a.acme.test").expect("stored");
    drop(pebble);
    let proc = start(dir.path(), &config, &ports);
    let served = wait_until(Duration::from_secs(10), || {
        pebble_certificate(ports.websecure, "a.acme.test").is_some_and(|c| c == stored)
    });
    assert!(
        served,
        "the stored certificate is not served after a restart:\n{}",
        proc.log()
    );
}

#[test]
fn the_http_challenge_is_answered_before_the_redirection_and_the_default_can_be_acme() {
    let dir = tempfile::tempdir().unwrap();
    let ports = ports();
    let pebble = Pebble::start_refusing(
        ports.web.port(),
        ports.websecure.port(),
        Duration::from_secs(3600),
        &["blocked.acme.test"],
    );
    let backend = EchoServer::start("svc");
    dynamic_with(
        dir.path(),
        &backend,
        "    a: {rule: \"Host(`a.acme.test`)\", service: svc, tls: {certResolver: http}}\n    no: {rule: \"Host(`blocked.acme.test`)\", service: svc, tls: {certResolver: http}}\n",
        "tls:\n  stores:\n    default:\n      defaultGeneratedCert: {resolver: http, domain: {main: default.acme.test}}\n",
    );
    let storage = dir.path().join("acme.json");
    let config = static_config(dir.path(), &ports, &pebble, &storage);
    let proc = start(dir.path(), &config, &ports);
    // An unknown token is not found (rather than redirected); everything else redirects.
    let unknown = raw::get(
        ports.web,
        "a.acme.test",
        "/.well-known/acme-challenge/nope",
        &[],
    )
    .unwrap();
    assert_eq!(unknown.status, 404);
    let other = raw::get(ports.web, "a.acme.test", "/x", &[]).unwrap();
    assert_eq!(other.status, 301);
    assert!(
        wait_until(ISSUE_WAIT, || pebble_certificate(
            ports.websecure,
            "a.acme.test"
        )
        .is_some()),
        "HTTP-01 failed:\n{}",
        proc.log()
    ); // defaultGeneratedCert: an unknown SNI gets the resolver's certificate for its domain.
    let acme_default = wait_until(ISSUE_WAIT, || {
        pebble_certificate(ports.websecure, "zzz.test").is_some_and(|der| {
            let (_, c) = x509_parser::parse_x509_certificate(&der).unwrap();
            c.subject_alternative_name()
                .ok()
                .flatten()
                .is_some_and(|s| {
                    s.value
                        .general_names
                        .iter()
                        .any(|n| n.to_string().contains("default.acme.test"))
                })
        })
    });
    assert!(
        acme_default,
        "the default certificate never came from ACME:\n{}",
        proc.log()
    );
    // A name the CA refuses: reported with the CA's reason; the others were issued anyway.
    assert!(
        proc.wait_for_log("blocked.acme.test", ISSUE_WAIT)
            && proc.wait_for_log("rejectedIdentifier", ISSUE_WAIT),
        "{}",
        proc.log()
    );
}

#[test]
fn an_acme_json_written_by_traefik_is_served_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ports = ports();
    let pebble = Pebble::start(
        ports.web.port(),
        ports.websecure.port(),
        Duration::from_secs(3600),
    );
    let backend = EchoServer::start("svc");
    dynamic(
        dir.path(),
        &backend,
        "    c: {rule: \"Host(`c.acme.test`)\", service: svc, tls: {certResolver: http}}\n",
    );
    let storage = dir.path().join("acme.json");
    let config = static_config(dir.path(), &ports, &pebble, &storage);

    // The real Traefik obtains c.acme.test into its acme.json.
    let workdir = tempfile::tempdir_in(dir.path()).unwrap();
    let ca = pebble.ca.display().to_string();
    let traefik = WharfProcess::start_in(
        workdir,
        &common::traefik_bin(),
        &[
            format!("--configFile={}", config.display()),
            "--global.checkNewVersion=false".to_string(),
            "--global.sendAnonymousUsage=false".to_string(),
        ],
        &[("LEGO_CA_CERTIFICATES", ca.as_str())],
        &[ports.web, ports.websecure],
    );
    let written = wait_until(ISSUE_WAIT, || {
        stored_certificate(&storage, "http", "c.acme.test").is_some()
    });
    assert!(
        written,
        "Traefik wrote no certificate:\n{}\n{}",
        traefik.log(),
        pebble.log()
    );
    drop(traefik);
    let traefiks = stored_certificate(&storage, "http", "c.acme.test").unwrap();
    let before: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    assert!(
        before["http"]["Account"]["PrivateKey"].is_string(),
        "Traefik's account: {before}"
    );

    // wharf serves Traefik's certificate at once, and orders a new name with its own account
    // without losing Traefik's.
    dynamic(
        dir.path(),
        &backend,
        "    c: {rule: \"Host(`c.acme.test`)\", service: svc, tls: {certResolver: http}}\n    d: {rule: \"Host(`d.acme.test`)\", service: svc, tls: {certResolver: http}}\n",
    );
    let proc = start(dir.path(), &config, &ports);
    assert_eq!(
        pebble_certificate(ports.websecure, "c.acme.test").as_deref(),
        Some(traefiks.as_slice()),
        "{}",
        proc.log()
    );
    assert!(
        wait_until(ISSUE_WAIT, || pebble_certificate(
            ports.websecure,
            "d.acme.test"
        )
        .is_some()),
        "{}",
        proc.log()
    );
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    assert_eq!(
        after["http"]["Account"], before["http"]["Account"],
        "Traefik's account is kept"
    );
    assert!(after["http"]["WharfAccount"].is_object());
    assert_eq!(
        stored_certificate(&storage, "http", "c.acme.test").as_deref(),
        Some(traefiks.as_slice())
    );
}

#[test]
fn a_ca_that_is_down_is_reported_and_the_rest_serves() {
    let dir = tempfile::tempdir().unwrap();
    let ports = ports();
    let backend = EchoServer::start("svc");
    dynamic(
        dir.path(),
        &backend,
        "    a: {rule: \"Host(`a.acme.test`)\", service: svc, tls: {certResolver: http}}\n    plain: {rule: \"Host(`plain.test`)\", service: svc}\n",
    );
    let down = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let path = dir.path().join("traefik.yml");
    std::fs::write(
        &path,
        format!(
            "entryPoints:\n  web: {{address: \"{}\"}}\n  websecure: {{address: \"{}\"}}\nproviders:\n  file: {{filename: {}}}\ncertificatesResolvers:\n  http:\n    acme:\n      email: ops@example.com\n      caServer: https://{down}/dir\n      storage: {}\n      httpChallenge: {{entryPoint: web}}\n",
            ports.web,
            ports.websecure,
            dir.path().join("dynamic.yml").display(),
            dir.path().join("acme.json").display()
        ),
    )
    .unwrap();
    let proc = start(dir.path(), &path, &ports);
    assert!(
        proc.wait_for_log("ACME: cannot obtain", Duration::from_secs(30)),
        "{}",
        proc.log()
    );
    assert!(proc.log().contains("a.acme.test"), "{}", proc.log());
    let (served, resp) = TlsClient::new(Some("a.acme.test"))
        .get(ports.websecure, "a.acme.test", "/", &[])
        .unwrap();
    assert_eq!(
        resp.status, 200,
        "served with the default certificate meanwhile"
    );
    assert!(!served.certificate.is_empty());
    assert_eq!(
        raw::get(ports.web, "plain.test", "/", &[]).unwrap().status,
        200
    );
}

/// The subject CN of the first certificate of a PEM document.
fn first_cn(pem: &[u8]) -> String {
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem)
        .map(|c: rustls::pki_types::CertificateDer<'static>| c.as_ref().to_vec())
        .expect("a PEM certificate");
    common::common_name(&der)
}

#[test]
fn the_preferred_chain_is_picked_among_the_alternates() {
    let dir = tempfile::tempdir().unwrap();
    let ports = ports();
    let pebble = Pebble::start_with(
        ports.web.port(),
        ports.websecure.port(),
        Duration::from_secs(3600),
        &[],
        1,
    );
    // The alternate chain's root, from Pebble's management interface.
    let (_, root) = TlsClient::new(Some("localhost"))
        .get(pebble.management, "localhost", "/roots/1", &[])
        .expect("pebble's alternate root");
    let preferred = first_cn(&root.body);
    let (_, default_root) = TlsClient::new(Some("localhost"))
        .get(pebble.management, "localhost", "/roots/0", &[])
        .expect("pebble's root");
    assert_ne!(first_cn(&default_root.body), preferred);

    let backend = EchoServer::start("svc");
    dynamic(
        dir.path(),
        &backend,
        "    p: {rule: \"Host(`p.acme.test`)\", service: svc, tls: {certResolver: http}}\n",
    );
    let storage = dir.path().join("acme.json");
    let config = static_config(dir.path(), &ports, &pebble, &storage);
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "      keyType: EC256\n",
        &format!("      keyType: EC256\n      preferredChain: \"{preferred}\"\n"),
        1,
    );
    std::fs::write(&config, text).unwrap();
    let proc = start(dir.path(), &config, &ports);
    assert!(
        wait_until(ISSUE_WAIT, || stored_certificate(
            &storage,
            "http",
            "p.acme.test"
        )
        .is_some()),
        "{}\n{}",
        proc.log(),
        pebble.log()
    );
    // The stored chain leads to the preferred root.
    use base64::Engine;
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    let pem = base64::engine::general_purpose::STANDARD
        .decode(
            file["http"]["Certificates"][0]["certificate"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let chain: Vec<Vec<u8>> = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.unwrap().as_ref().to_vec())
        .collect();
    let (_, top) = x509_parser::parse_x509_certificate(chain.last().unwrap()).unwrap();
    let issuer = top
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(issuer, preferred, "{}", proc.log());
}
