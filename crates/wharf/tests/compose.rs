//! The design's Compose stack, for real: the repository's `docker-compose.yml` (with wharf's
//! image built from a host binary and the stand-in services' image) is brought up on the machine's
//! Docker engine, and everything the design relies on is checked through wharf from the host:
//! every route over HTTP and TLS, the secure headers, a CORS preflight, forwardAuth allowing and
//! denying (wharf resolves `admin-backend` through Docker's DNS from its scratch image), the
//! API, dashboard and metrics on :8080 only, the `database` network out of wharf's reach,
//! admin-backend scaled to three replicas (balanced) and one stopped (no client error); then
//! `down` must leave no container, network or volume.

#[path = "compose/stack.rs"]
mod stack;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::Value;
use stack::Stack;
use wharf_testkit::raw;
use wharf_testkit::tls_client::{request_method, TlsClient};
use wharf_testkit::wait_until;

const LANDING: &str = "motovaultpro.com";
const ADMIN: &str = "admin.motovaultpro.com";
/// The design's three public routers, as the API names them.
const ROUTERS: [&str; 3] = ["admin-app@docker", "admin-api@docker", "landing@docker"];

fn https(
    stack: &Stack,
    method: &str,
    host: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> Result<(Vec<u8>, raw::Response), String> {
    let (served, mut stream) = TlsClient::new(Some(host)).connect(stack.https)?;
    let resp = request_method(&mut stream, method, host, path, extra, true)?;
    Ok((served.certificate, resp))
}

/// The stand-in's description of a request it answered.
fn answered_by(resp: &raw::Response) -> (String, String) {
    let json = resp.json();
    let s = |k: &str| json[k].as_str().unwrap_or_default().to_string();
    (s("service"), s("hostname"))
}

fn forwarded_header(resp: &raw::Response, name: &str) -> Option<String> {
    resp.json()["headers"].as_array()?.iter().find_map(|pair| {
        let pair = pair.as_array()?;
        (pair.first()?.as_str()? == name).then(|| pair.get(1)?.as_str().map(str::to_string))?
    })
}

fn api(stack: &Stack, path: &str) -> Value {
    raw::get(stack.dashboard, "localhost", path, &[])
        .map(|r| r.json())
        .unwrap_or(Value::Null)
}

/// The servers of a service as the API shows them, with their state.
fn servers(stack: &Stack, service: &str) -> Vec<(String, String)> {
    let doc = api(stack, &format!("/api/http/services/{service}"));
    let status = doc["serverStatus"].as_object().cloned().unwrap_or_default();
    doc["loadBalancer"]["servers"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|s| s["url"].as_str())
                .map(|url| {
                    let state = status.get(url).and_then(Value::as_str).unwrap_or("");
                    (url.to_string(), state.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_designs_stack_runs_behind_wharf() {
    let stack = Stack::up();
    let token = stack.secret("api-token");
    let bearer = format!("Bearer {token}");
    let auth: [(&str, &str); 1] = [("Authorization", bearer.as_str())];

    // The three routers and their health-checked servers, discovered from the labels.
    assert!(
        wait_until(Duration::from_secs(60), || {
            let listed = api(&stack, "/api/http/routers");
            ROUTERS.iter().all(|name| {
                listed.as_array().is_some_and(|l| {
                    l.iter()
                        .any(|r| r["name"] == *name && r["status"] == "enabled")
                })
            }) && servers(&stack, "admin-api@docker")
                .iter()
                .all(|(_, s)| s == "UP")
        }),
        "the design's routers never appeared in the API: {}",
        api(&stack, "/api/http/routers")
    );

    // Every route over TLS, served with the certificate from certs/ (a Docker config names it).
    let certificate =
        CertificateDer::from_pem_file(stack.dir.path().join("certs/motovaultpro.crt"))
            .expect("certs/motovaultpro.crt");
    for (host, path, extra, service) in [
        (LANDING, "/", &[][..], "mvp-platform-landing"),
        (ADMIN, "/", &[][..], "admin-frontend"),
        (ADMIN, "/api/vehicles", &auth[..], "admin-backend"),
    ] {
        let (served, resp) = https(&stack, "GET", host, path, extra).expect("TLS request");
        assert_eq!(
            served,
            certificate.as_ref(),
            "{host}: not the certificate from certs/"
        );
        assert_eq!(
            resp.status,
            200,
            "https://{host}{path}: {}",
            resp.body_text()
        );
        assert_eq!(answered_by(&resp).0, service, "https://{host}{path}");
    }

    // Over HTTP, the `web` entrypoint sends every route to HTTPS.
    for (host, path) in [(LANDING, "/"), (ADMIN, "/"), (ADMIN, "/api/vehicles")] {
        let resp = raw::get(stack.http, host, path, &[]).expect("HTTP request");
        assert!(
            resp.status == 308 || resp.status == 301,
            "http://{host}{path}: {}",
            resp.status
        );
        assert_eq!(
            resp.header("location"),
            Some(format!("https://{host}{path}").as_str())
        );
    }

    // secure-headers@file on the landing page and the admin app.
    for host in [LANDING, ADMIN] {
        let (_, resp) = https(&stack, "GET", host, "/", &[]).expect("TLS request");
        assert_eq!(
            resp.header("strict-transport-security"),
            Some("max-age=31536000; includeSubDomains; preload"),
            "{host}"
        );
        assert_eq!(resp.header("x-frame-options"), Some("DENY"), "{host}");
        assert_eq!(
            resp.header("x-content-type-options"),
            Some("nosniff"),
            "{host}"
        );
        assert_eq!(
            resp.header("x-xss-protection"),
            Some("1; mode=block"),
            "{host}"
        );
    }

    // forwardAuth: denied without the token, or with a wrong one, before the API is reached;
    // allowed with it, the identity headers forwarded to admin-backend.
    for headers in [&[][..], &[("Authorization", "Bearer wrong")][..]] {
        let (_, resp) = https(&stack, "GET", ADMIN, "/api/vehicles", headers).expect("TLS");
        assert_eq!(resp.status, 401, "{headers:?}: {}", resp.body_text());
        assert_eq!(
            resp.header("www-authenticate"),
            Some("Bearer realm=\"motovaultpro\"")
        );
    }
    let (_, resp) = https(&stack, "GET", ADMIN, "/api/vehicles", &auth).expect("TLS");
    assert_eq!(
        forwarded_header(&resp, "x-auth-user").as_deref(),
        Some("admin")
    );
    assert_eq!(
        forwarded_header(&resp, "x-auth-roles").as_deref(),
        Some("admin,fleet")
    );

    // A browser's CORS preflight (no credentials) passes forwardAuth and is answered by cors@file.
    let (_, resp) = https(
        &stack,
        "OPTIONS",
        ADMIN,
        "/api/vehicles",
        &[
            ("Origin", "https://admin.motovaultpro.com"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "Authorization,Content-Type",
            ),
        ],
    )
    .expect("TLS");
    assert_eq!(resp.status, 200, "preflight: {}", resp.body_text());
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://admin.motovaultpro.com")
    );
    assert_eq!(
        resp.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        resp.header("access-control-allow-methods"),
        Some("GET,POST,PUT,DELETE,OPTIONS")
    );
    assert_eq!(resp.header("access-control-max-age"), Some("100"));

    // The API, dashboard, ping and metrics on :8080; none of them routed from 80 or 443.
    for path in ["/api/version", "/dashboard/", "/ping", "/metrics"] {
        let resp = raw::get(stack.dashboard, "localhost", path, &[]).expect("8080");
        assert_eq!(resp.status, 200, ":8080{path}");
        let (_, resp) = https(&stack, "GET", "traefik.motovaultpro.local", path, &[]).expect("TLS");
        assert_eq!(resp.status, 404, ":443{path}: {}", resp.body_text());
        let resp = raw::get(stack.http, "localhost", path, &[]).expect("80");
        assert_ne!(resp.status, 200, ":80{path}");
    }
    let metrics = raw::get(stack.dashboard, "localhost", "/metrics", &[])
        .expect("metrics")
        .body_text();
    assert!(
        metrics.contains("traefik_service_requests_total{code=\"200\",method=\"GET\",protocol=\"http\",service=\"landing@docker\"}"),
        "no landing service series in:\n{metrics}"
    );

    // `wharf explain` and `wharf routes` against the running stack's API.
    let api = format!("--api=http://{}", stack.dashboard);
    let explain = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args([
            "explain",
            "https://admin.motovaultpro.com/api/vehicles",
            &api,
        ])
        .output()
        .expect("wharf explain");
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.status.success(), "{text}");
    assert!(text.contains("winner: admin-api@docker"), "{text}");
    assert!(
        text.contains("middlewares: api-auth@file -> cors@file"),
        "{text}"
    );
    assert!(text.contains(":3001 (UP)"), "{text}");
    let routes = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["routes", &api])
        .output()
        .expect("wharf routes");
    let text = String::from_utf8_lossy(&routes.stdout);
    for name in ROUTERS {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }

    // wharf is on frontend and backend only, and cannot reach the databases: not by name, not
    // by address, from its own network namespace. The same probe reaches admin-backend.
    let wharf = stack.container_of("wharf");
    assert_eq!(
        stack.networks_of(&wharf),
        BTreeSet::from([stack.network("backend"), stack.network("frontend")])
    );
    let postgres = stack.container_of("admin-postgres");
    let postgres_ip = stack.ip_on(&postgres, &stack.network("database"));
    assert!(stack.probe_from(&wharf, "http://admin-backend:3001/health/ready"));
    assert!(!stack.probe_from(&wharf, "http://admin-postgres:5432/health/ready"));
    assert!(!stack.probe_from(&wharf, &format!("http://{postgres_ip}:5432/health/ready")));

    // admin-backend scaled to three: wharf follows and balances across them.
    stack.scale("admin-backend", 3);
    assert!(
        wait_until(Duration::from_secs(90), || {
            let list = servers(&stack, "admin-api@docker");
            list.len() == 3 && list.iter().all(|(_, s)| s == "UP")
        }),
        "admin-api never had three servers: {:?}",
        servers(&stack, "admin-api@docker")
    );
    let mut seen = BTreeSet::new();
    for _ in 0..30 {
        let (_, resp) = https(&stack, "GET", ADMIN, "/api/vehicles", &auth).expect("TLS");
        assert_eq!(resp.status, 200);
        seen.insert(answered_by(&resp).1);
    }
    assert_eq!(seen.len(), 3, "answered by {seen:?}");

    // One replica stopped while a client keeps sending: no request fails.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let client = {
        let stop = stop.clone();
        let sent = sent.clone();
        let addr: SocketAddr = stack.https;
        let bearer = bearer.clone();
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let outcome = TlsClient::new(Some(ADMIN))
                    .connect(addr)
                    .and_then(|(_, mut s)| {
                        request_method(
                            &mut s,
                            "GET",
                            ADMIN,
                            "/api/vehicles",
                            &[("Authorization", &bearer)],
                            true,
                        )
                    })
                    .map(|r| r.status);
                answers.push(outcome);
                sent.fetch_add(1, Ordering::SeqCst);
            }
            answers
        })
    };
    let replicas = stack.containers_of("admin-backend");
    let victim = replicas.first().expect("a replica").clone();
    stack.docker(&["stop", &victim]);
    assert!(
        wait_until(Duration::from_secs(30), || servers(
            &stack,
            "admin-api@docker"
        )
        .len()
            == 2),
        "the stopped replica stayed in admin-api: {:?}",
        servers(&stack, "admin-api@docker")
    );
    // Ten more requests once wharf has dropped it.
    let after = sent.load(Ordering::SeqCst) + 10;
    assert!(wait_until(Duration::from_secs(60), || sent
        .load(Ordering::SeqCst)
        >= after));
    stop.store(true, Ordering::SeqCst);
    let answers = client.join().expect("client thread");
    let failed: Vec<_> = answers.iter().filter(|a| !matches!(a, Ok(200))).collect();
    assert!(answers.len() > 5, "too few requests: {answers:?}");
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        answers.len()
    );

    // `wharf check` in the proxy's container reads the running engine: the stack is sound; a
    // labelled container on `platform` alone is reported unreachable, by name.
    let check = |what: &str| {
        let out = std::process::Command::new("docker")
            .args(["exec", &wharf, "/wharf", "check"])
            .output()
            .expect("docker exec");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("wharf check ({what}):\n{text}");
        (out.status.success(), text)
    };
    let (ok, text) = check("the stack");
    assert!(ok && text.contains("; 0 error(s)"), "{text}");
    let hidden = wharf_testkit::docker::TestContainer::run(
        "hidden",
        &wharf_testkit::docker::ContainerSpec::default()
            .network(&stack.network("platform"))
            .label("traefik.enable", "true")
            .label(
                "traefik.http.routers.hidden.rule",
                "Host(`hidden.example.com`)",
            )
            .label(
                "traefik.http.services.hidden.loadbalancer.server.port",
                "80",
            ),
    );
    let (ok, text) = check("with a container on platform only");
    assert!(!ok, "{text}");
    let expected = format!(
        "container `{}` is on `{}`, none of which the proxy",
        hidden.name,
        stack.network("platform")
    );
    assert!(text.contains(&expected), "{expected}\nnot in:\n{text}");
    drop(hidden);

    // `down` removes everything the stack created.
    let project = stack.project.clone();
    stack.down();
    for kind in ["ps -a", "network ls", "volume ls"] {
        let mut args: Vec<&str> = kind.split(' ').collect();
        let filter = format!("label=com.docker.compose.project={project}");
        args.extend(["-q", "--filter", &filter]);
        let left = stack::docker_out(&args);
        assert!(left.trim().is_empty(), "docker {kind} after down: {left}");
    }
}
