//! The binary's command line: `check`, start-up refusal on static errors, `version`.

mod common;

use std::process::Command;

use common::wharf_bin;

fn run(args: &[&str], dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(wharf_bin())
        .args(args)
        .current_dir(dir)
        .env("WHARF_ETC_DIR", dir.join("etc"))
        .env("HOME", dir)
        .output()
        .expect("run wharf");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn check_accepts_the_shipped_demo() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (ok, out) = run(&["check", "--configFile=config/traefik.yml"], &root);
    assert!(ok, "{out}");
    assert!(
        out.contains("1 router(s), 1 service(s), 0 middleware(s); 0 error(s)"),
        "{out}"
    );
}

#[test]
fn check_reports_every_problem_with_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("traefik.yml"),
        "entryPoints:\n  web:\n    address: \":8000\"\nproviders:\n  file:\n    filename: dyn.yml\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("dyn.yml"),
        "http:\n  routers:\n    r:\n      rule: \"Host(`a`) &&\"\n      service: s\n    r2:\n      rule: \"Host(`b`)\"\n      service: s\n      entryPoints: [webb]\n  services:\n    s:\n      loadBalancer:\n        servers: [{url: \"http://127.0.0.1:1\"}]\n",
    )
    .unwrap();
    let (ok, out) = run(&["check"], dir.path());
    assert!(!ok, "{out}");
    let file = "dyn.yml"; // as written in providers.file.filename
    assert!(out.contains(&format!("{file}:4:13: error: router `r@file`: invalid rule `Host(`a`) &&`: the expression ends where a matcher was expected at column 13")), "{out}");
    assert!(out.contains(&format!("{file}:9:21: warning: router `r2@file`: entrypoint `webb` does not exist (hint: did you mean `web`?)")), "{out}");
    assert!(
        out.contains(&format!(
            "{file}:6:5: error: router `r2@file` has no valid entrypoint left; it is dropped"
        )),
        "{out}"
    );
    assert!(out.contains("the configuration has 2 error(s)"), "{out}");
}

#[test]
fn a_static_error_stops_start_up_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("traefik.yml"),
        "entryPoints:\n  web:\n    adress: \":8000\"\n",
    )
    .unwrap();
    let (ok, out) = run(&[], dir.path());
    assert!(!ok);
    let file = dir.path().join("traefik.yml").display().to_string();
    assert!(out.contains(&format!("{file}:3:5: error: unknown key `entryPoints.web.adress` (hint: did you mean `entryPoints.web.address`?)")), "{out}");
    assert!(
        out.contains(&format!(
            "{file}:2:3: error: `entryPoints.web` has no address"
        )),
        "{out}"
    );
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (ok, out) = run(&[&format!("--entryPoints.web.address={addr}")], dir.path());
    assert!(!ok);
    assert!(
        out.contains(&format!("entrypoint `web`: cannot listen on {addr}")),
        "{out}"
    );
}

#[test]
fn check_reports_tls_problems_with_their_origin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("traefik.yml"),
        "entryPoints:\n  websecure:\n    address: \":8443\"\nproviders:\n  file:\n    filename: dyn.yml\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("bad.crt"), "not a certificate\n").unwrap();
    std::fs::write(
        dir.path().join("dyn.yml"),
        "http:\n  routers:\n    r:\n      rule: \"Host(`a`)\"\n      service: s\n      tls:\n        options: missing\n  services:\n    s:\n      loadBalancer:\n        servers: [{url: \"http://127.0.0.1:1\"}]\ntls:\n  certificates:\n    - certFile: bad.crt\n      keyFile: nowhere.key\n  options:\n    modern:\n      minVersion: VersionTLS14\n      cipherSuites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
    )
    .unwrap();
    let (ok, out) = run(&["check"], dir.path());
    assert!(!ok, "{out}");
    let file = "dyn.yml";
    assert!(
        out.contains(&format!(
            "{file}:7:18: error: router `r@file`: unknown TLS options: missing@file"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("{file}:18:19: error: `tls.options.modern.minVersion`: unknown TLS version `VersionTLS14`")), "{out}");
    assert!(out.contains("is not offered: wharf's TLS library (rustls) implements only forward-secret AEAD suites"), "{out}");
    assert!(
        out.contains(&format!(
            "{file}:14:15: error: TLS certificate: cannot read key nowhere.key"
        )),
        "{out}"
    );
}

#[test]
fn check_reports_service_problems_with_their_origin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("traefik.yml"),
        "entryPoints:\n  web:\n    address: \":8080\"\nproviders:\n  file:\n    filename: dyn.yml\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("bad-ca.pem"), "not a certificate\n").unwrap();
    std::fs::write(
        dir.path().join("dyn.yml"),
        "http:\n  services:\n    s:\n      loadBalancer:\n        servers: [{url: \"https://127.0.0.1:1\"}]\n        serversTransport: t\n        healthCheck: {path: /h, mode: tcp}\n    w: {weighted: {services: [{name: nowhere}]}}\n  serversTransports:\n    t: {rootCAs: [bad-ca.pem]}\n",
    )
    .unwrap();
    let (ok, out) = run(&["check"], dir.path());
    assert!(!ok, "{out}");
    for needle in [
        "dyn.yml:7:39: error: `http.services.s.loadBalancer.healthCheck.mode: tcp` is not a health-check mode",
        "dyn.yml:8:38: error: service `w@file`: its child service `nowhere@file` does not exist",
    ] {
        assert!(out.contains(needle), "{needle}\n{out}");
    }
    // With the bad health check fixed, the transport's unreadable CA is reported.
    std::fs::write(
        dir.path().join("dyn.yml"),
        "http:\n  services:\n    s:\n      loadBalancer:\n        servers: [{url: \"https://127.0.0.1:1\"}]\n        serversTransport: t\n  serversTransports:\n    t: {rootCAs: [bad-ca.pem]}\n",
    )
    .unwrap();
    let (ok, out) = run(&["check"], dir.path());
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "servers transport `t@file`: root CA bad-ca.pem is not a PEM certificate list"
        ),
        "{out}"
    );
}

/// `traefik.toml` is found where `traefik.yml` is, and TOML dynamic files are read like YAML
/// ones: the same errors, at the TOML file's line and column.
#[test]
fn toml_configuration_is_read_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("traefik.toml"),
        "[entryPoints.web]\naddress = \":8000\"\n\n[providers.file]\nfilename = \"dyn.toml\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("dyn.toml"),
        "[http.routers.r]\nrule = \"Host(`a`)\"\nservice = \"s\"\nentryPoints = [\"webb\"]\n\n[http.routers.typo]\nrul = \"Host(`b`)\"\nservice = \"s\"\n\n[[http.services.s.loadBalancer.servers]]\nurl = \"http://127.0.0.1:1\"\n",
    )
    .unwrap();
    let (ok, out) = run(&["check"], dir.path());
    assert!(!ok, "{out}");
    for expected in [
        "dyn.toml:4:16: warning: router `r@file`: entrypoint `webb` does not exist (hint: did you mean `web`?)",
        "dyn.toml:7:1: error: unknown key `http.routers.typo.rul` (hint: did you mean `http.routers.typo.rule`?)",
    ] {
        assert!(out.contains(expected), "{expected}\nnot in:\n{out}");
    }
    // A static typo stops start-up, named at its place in traefik.toml.
    std::fs::write(
        dir.path().join("traefik.toml"),
        "[entryPoints.web]\nadress = \":8000\"\n",
    )
    .unwrap();
    let (ok, out) = run(&["check"], dir.path());
    assert!(!ok, "{out}");
    assert!(
        out.contains("traefik.toml:2:1: error: unknown key `entryPoints.web.adress` (hint: did you mean `entryPoints.web.address`?)"),
        "{out}"
    );
}
