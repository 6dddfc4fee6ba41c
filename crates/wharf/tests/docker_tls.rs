//! The Compose design's routers over TLS, from Docker labels, differential against the real
//! Traefik 3.7.15 on the same engine: `tls=true` with the design's file middlewares, a
//! certificate resolver that does not exist (Traefik keeps the router on the default
//! certificate), `tls.options=…@file` and `tls.domains`. The same TLS requests must be
//! served the same certificate and answer, and the API must describe the same TLS.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use wharf_testkit::docker::{unique, ContainerSpec, TestContainer};
use wharf_testkit::pki::{self_signed, KeyKind};
use wharf_testkit::tls_client::TlsClient;
use wharf_testkit::{free_port, raw, wait_until, WharfProcess};

const WAIT: Duration = Duration::from_secs(30);

struct Proxy {
    proc: WharfProcess,
    websecure: SocketAddr,
    admin: SocketAddr,
}

fn start(binary: &std::path::Path, run: &str, dynamic: &std::path::Path) -> Proxy {
    let websecure = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let args = vec![
        format!("--entryPoints.websecure.address={websecure}"),
        format!("--entryPoints.traefik.address={admin}"),
        "--api.insecure=true".to_string(),
        "--providers.docker=true".to_string(),
        "--providers.docker.exposedByDefault=false".to_string(),
        format!("--providers.docker.constraints=Label(`wharftest.run`, `{run}`)"),
        format!("--providers.file.filename={}", dynamic.display()),
        "--global.checkNewVersion=false".to_string(),
        "--global.sendAnonymousUsage=false".to_string(),
        "--log.level=ERROR".to_string(),
    ];
    let proc = WharfProcess::start(binary, &args, &[], &[websecure, admin]);
    Proxy {
        proc,
        websecure,
        admin,
    }
}

impl Proxy {
    fn observe(&self, sni: &str, host: &str, path: &str) -> BTreeMap<String, String> {
        let mut o = BTreeMap::new();
        match TlsClient::new(Some(sni)).get(self.websecure, host, path, &[]) {
            Ok((served, r)) => {
                let cert = common::common_name(&served.certificate);
                // The generated certificate differs per process; its name does not.
                o.insert("cn".into(), cert);
                o.insert("status".into(), r.status.to_string());
                o.insert(
                    "backend".into(),
                    r.json()["backend"].as_str().unwrap_or("").to_string(),
                );
                for h in [
                    "strict-transport-security",
                    "x-frame-options",
                    "access-control-allow-credentials",
                ] {
                    o.insert(h.into(), r.header(h).unwrap_or("").to_string());
                }
            }
            Err(e) => {
                o.insert("error".into(), e);
            }
        }
        o
    }

    fn router_tls(&self) -> BTreeMap<String, serde_json::Value> {
        let r = raw::get(self.admin, "localhost", "/api/http/routers", &[]).expect("api");
        r.json()
            .as_array()
            .expect("routers")
            .iter()
            .filter(|v| v["provider"] == "docker")
            .map(|v| {
                (
                    v["name"].as_str().unwrap_or("").to_string(),
                    v["tls"].clone(),
                )
            })
            .collect()
    }
}

#[test]
fn the_designs_tls_routers_from_labels_behave_as_in_traefik() {
    let run = unique("dt");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(
        &["admin.design.test"],
        "admin.design.test",
        KeyKind::Rsa2048,
    );
    std::fs::write(dir.path().join("admin.crt"), cert).unwrap();
    std::fs::write(dir.path().join("admin.key"), key).unwrap();
    let dynamic = dir.path().join("dynamic.yml");
    std::fs::write(
        &dynamic,
        format!(
            "http:\n  middlewares:\n{}tls:\n  certificates:\n    - {{certFile: {d}/admin.crt, keyFile: {d}/admin.key}}\n  options:\n    modern: {{minVersion: VersionTLS13}}\n",
            common::compose_middlewares(),
            d = dir.path().display()
        ),
    )
    .unwrap();

    let base = ContainerSpec::default()
        .label("wharftest.run", &run)
        .label("traefik.enable", "true");
    let admin = TestContainer::run(
        "admin",
        &base
            .clone()
            .label(
                "traefik.http.routers.admin-app.rule",
                "Host(`admin.design.test`)",
            )
            .label("traefik.http.routers.admin-app.tls", "true")
            .label(
                "traefik.http.routers.admin-app.middlewares",
                "secure-headers@file",
            )
            .label(
                "traefik.http.services.admin-app.loadbalancer.server.port",
                "80",
            ),
    );
    let api = TestContainer::run(
        "api",
        &base
            .clone()
            .label(
                "traefik.http.routers.admin-api.rule",
                "Host(`admin.design.test`) && PathPrefix(`/api`)",
            )
            .label("traefik.http.routers.admin-api.tls", "true")
            .label("traefik.http.routers.admin-api.middlewares", "cors@file")
            .label(
                "traefik.http.services.admin-api.loadbalancer.server.port",
                "80",
            ),
    );
    let landing = TestContainer::run(
        "landing",
        &base
            .clone()
            .label(
                "traefik.http.routers.landing.rule",
                "Host(`landing.design.test`)",
            )
            .label("traefik.http.routers.landing.tls", "true")
            .label("traefik.http.routers.landing.tls.certresolver", "le")
            .label(
                "traefik.http.routers.landing.tls.domains[0].main",
                "landing.design.test",
            )
            .label(
                "traefik.http.routers.landing.tls.domains[0].sans",
                "www.landing.design.test",
            )
            .label(
                "traefik.http.routers.landing.middlewares",
                "secure-headers@file",
            )
            .label(
                "traefik.http.services.landing.loadbalancer.server.port",
                "80",
            ),
    );
    let modern = TestContainer::run(
        "modern",
        &base
            .clone()
            .label(
                "traefik.http.routers.modern.rule",
                "Host(`modern.design.test`)",
            )
            .label("traefik.http.routers.modern.tls.options", "modern@file")
            .label(
                "traefik.http.services.modern.loadbalancer.server.port",
                "80",
            ),
    );

    let wharf = start(&common::wharf_bin(), &run, &dynamic);
    let traefik = start(&common::traefik_bin(), &run, &dynamic);
    for p in [&wharf, &traefik] {
        let ready = wait_until(WAIT, || {
            [
                "admin.design.test",
                "landing.design.test",
                "modern.design.test",
            ]
            .iter()
            .all(|h| p.observe(h, h, "/").get("status").map(String::as_str) == Some("200"))
        });
        assert!(ready, "routes never appeared:\n{}", p.proc.log());
    }

    let cases = [
        ("admin", "admin.design.test", "admin.design.test", "/"),
        (
            "admin-api",
            "admin.design.test",
            "admin.design.test",
            "/api/x",
        ),
        ("landing", "landing.design.test", "landing.design.test", "/"),
        ("modern", "modern.design.test", "modern.design.test", "/"),
        ("fronting", "admin.design.test", "modern.design.test", "/"),
    ];
    let mut seen = BTreeMap::new();
    for (case, sni, host, path) in cases {
        let w = wharf.observe(sni, host, path);
        let t = traefik.observe(sni, host, path);
        assert_eq!(w, t, "{case}: wharf {w:#?} traefik {t:#?}");
        seen.insert(case, w);
    }
    let tls12 = |p: &Proxy| {
        TlsClient::new(Some("modern.design.test"))
            .tls12_only()
            .connect(p.websecure)
            .is_ok()
    };
    assert_eq!(tls12(&wharf), tls12(&traefik));
    assert!(!tls12(&wharf), "modern@file requires TLS 1.3");

    assert_eq!(seen["admin"]["cn"], "admin.design.test");
    assert_eq!(seen["admin"]["backend"], admin.name);
    assert_eq!(
        seen["admin"]["strict-transport-security"],
        "max-age=31536000; includeSubDomains; preload"
    );
    assert_eq!(seen["admin-api"]["backend"], api.name);
    assert_eq!(
        seen["admin-api"]["access-control-allow-credentials"],
        "true"
    );
    assert_eq!(seen["landing"]["cn"], "TRAEFIK DEFAULT CERT");
    assert_eq!(seen["landing"]["backend"], landing.name);
    assert_eq!(seen["modern"]["backend"], modern.name);
    assert_eq!(seen["fronting"]["status"], "421");

    let (w, t) = (wharf.router_tls(), traefik.router_tls());
    assert_eq!(w, t, "the API's tls of each router");
    assert_eq!(w["modern@docker"]["options"], "modern@file");
    assert_eq!(w["landing@docker"]["certResolver"], "le");
}
