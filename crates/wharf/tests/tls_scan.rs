//! testssl.sh (Debian's `testssl.sh`, installed by `scripts/test.sh`) scans a wharf TLS
//! entrypoint with the default options and a CA-issued certificate, behind the Compose
//! design's `secure-headers`: nothing may be rated MEDIUM or worse. The summary is printed
//! (`--nocapture`) for the record.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{compose_middlewares, file_proxy, start_ready, wharf_bin};
use wharf_testkit::pki::ca_signed;
use wharf_testkit::EchoServer;

#[test]
fn testssl_finds_nothing_medium_or_worse() {
    let backend = EchoServer::start("svc");
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = ca_signed(&["localhost"]);
    for (name, content) in [("ca.pem", &ca), ("srv.crt", &cert), ("srv.key", &key)] {
        std::fs::write(certs.path().join(name), content).unwrap();
    }
    let d = certs.path().display();
    let yaml = format!(
        "http:\n  routers:\n    ready: {{rule: \"Host(`ready.test`)\", service: svc}}\n    site: {{rule: \"Host(`localhost`)\", service: svc, tls: {{}}, middlewares: [secure-headers]}}\n  middlewares:\n{}  services:\n    svc: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\ntls:\n  stores:\n    default:\n      defaultCertificate: {{certFile: {d}/srv.crt, keyFile: {d}/srv.key}}\n",
        compose_middlewares(),
        backend.url()
    );
    let (dir, args, web) = file_proxy(&yaml, &[]);
    let _proc = start_ready(dir, &wharf_bin(), &args, &[web], web);

    let report = certs.path().join("testssl.json");
    let output = Command::new("testssl")
        .args([
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "batch",
            "--severity",
            "MEDIUM",
        ])
        .arg("--add-ca")
        .arg(certs.path().join("ca.pem"))
        .arg("--jsonfile")
        .arg(&report)
        .arg(format!("localhost:{}", web.port()))
        .output()
        .expect("testssl (scripts/test.sh installs Debian's testssl.sh)");
    let findings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap_or_else(|e| {
            panic!(
                "no testssl report ({e}):\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        }))
        .expect("testssl JSON");
    let findings = findings.as_array().expect("a list of findings");
    let mut by_severity: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for f in findings {
        let severity = f["severity"].as_str().unwrap_or("").to_string();
        if matches!(severity.as_str(), "MEDIUM" | "HIGH" | "CRITICAL") {
            bad.push(format!("{} {}: {}", severity, f["id"], f["finding"]));
        }
        *by_severity.entry(severity).or_default() += 1;
    }
    println!("testssl findings reported at MEDIUM or above, by severity: {by_severity:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines().filter(|l| {
        l.contains("TLS 1") || l.contains("Forward Secrecy") || l.contains("Strict Transport")
    }) {
        println!("{line}");
    }
    assert!(bad.is_empty(), "testssl findings:\n{}", bad.join("\n"));
    assert!(
        stdout.contains("TLS 1.3    offered"),
        "the scan did not run:\n{stdout}"
    );
}
