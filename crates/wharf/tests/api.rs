//! The API against the real Traefik 3.7.15 on the same configuration: routers (enabled,
//! disabled by a missing service or middleware, internal), services (load balancer with its
//! defaults and health, weighted, internal), middlewares, entrypoints, overview, version,
//! pagination, search and 404 bodies; the dashboard's pages and redirect. Differences that depend on the run (ports, dates) are
//! normalised; wharf's own additions (`errorDetails`) are checked apart.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use common::{file_proxy, start_ready, traefik_bin, wharf_bin};
use serde_json::Value;
use wharf_testkit::{free_port, raw, EchoServer, WharfProcess};

fn yaml(b: &EchoServer) -> String {
    format!(
        r#"
http:
  routers:
    ready: {{rule: "Host(`ready.test`)", service: svc}}
    app:
      rule: "Host(`app.test`)"
      service: svc
      middlewares: [sec, auth]
    broken: {{rule: "Host(`broken.test`)", service: missing}}
    badmw: {{rule: "Host(`badmw.test`)", service: svc, middlewares: [nope]}}
    quiet:
      rule: "Host(`quiet.test`)"
      service: w
      observability: {{accessLogs: false}}
    secret: {{rule: "PathPrefix(`/secret-api`)", service: api@internal}}
  services:
    svc:
      loadBalancer:
        servers: [{{url: "{b}"}}]
        healthCheck: {{path: /health, interval: 10s}}
    w:
      weighted:
        services: [{{name: svc, weight: 2}}]
  middlewares:
    sec: {{headers: {{frameDeny: true}}}}
    auth: {{basicAuth: {{users: ["u:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]}}}}
"#,
        b = b.url()
    )
}

struct Api {
    _proc: WharfProcess,
    admin: SocketAddr,
    web: SocketAddr,
}

fn start(binary: &Path, b: &EchoServer) -> Api {
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (dir, mut args, web) = file_proxy(
        &yaml(b),
        &[
            "--api.insecure=true",
            "--ping=true",
            "--metrics.prometheus=true",
        ],
    );
    args.push(format!("--entryPoints.traefik.address={admin}"));
    let proc = start_ready(dir, binary, &args, &[web, admin], web);
    Api {
        _proc: proc,
        admin,
        web,
    }
}

fn get(api: &Api, path: &str) -> raw::Response {
    raw::get(api.admin, "localhost", path, &[]).expect("API request")
}

/// Items by name, with what varies by run replaced and wharf's additions set apart.
fn normalise(list: &Value, b: &EchoServer, api: &Api) -> BTreeMap<String, Value> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|i| {
            let text = i
                .to_string()
                .replace(&b.url(), "B")
                .replace(&api.admin.to_string(), "ADMIN")
                .replace(&api.web.to_string(), "WEB");
            let mut v: Value = serde_json::from_str(&text).unwrap();
            let o = v.as_object_mut().unwrap();
            // Both explain a disabled item; the words are each proxy's own.
            if let Some(e) = o.get_mut("error") {
                *e = Value::from(e.as_array().map_or(0, Vec::len));
            }
            o.remove("errorDetails");
            (i["name"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

#[test]
fn api_documents_agree_with_traefik() {
    let b = EchoServer::start("b");
    let wharf = start(&wharf_bin(), &b);
    let traefik = start(&traefik_bin(), &b);
    for path in [
        "/api/http/routers",
        "/api/http/services",
        "/api/http/middlewares",
        "/api/entrypoints",
    ] {
        let (w, t) = (get(&wharf, path), get(&traefik, path));
        assert_eq!((w.status, t.status), (200, 200), "{path}");
        assert_eq!(w.header("content-type"), t.header("content-type"), "{path}");
        assert_eq!(w.header("x-next-page"), t.header("x-next-page"), "{path}");
        let wn = normalise(&w.json(), &b, &wharf);
        let tn = normalise(&t.json(), &b, &traefik);
        assert_eq!(
            wn.keys().collect::<Vec<_>>(),
            tn.keys().collect::<Vec<_>>(),
            "{path}: the same items"
        );
        for (name, item) in &wn {
            assert_eq!(item, &tn[name], "{path}: {name}");
        }
    }

    // The expected values (agreement alone could hide both being wrong).
    let routers = get(&wharf, "/api/http/routers").json();
    let find = |list: &Value, name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let broken = find(&routers, "broken@file");
    assert_eq!(broken["status"], "disabled");
    assert!(broken["errorDetails"][0]["origin"]
        .as_str()
        .unwrap()
        .contains("dynamic.yml:"));
    let badmw = find(&routers, "badmw@file");
    assert_eq!(badmw["errorDetails"][0]["hint"], "did you mean `sec@file`?");
    assert_eq!(
        find(&routers, "app@file")["middlewares"],
        serde_json::json!(["sec@file", "auth@file"])
    );
    assert_eq!(
        find(&routers, "quiet@file")["observability"]["accessLogs"],
        false
    );
    let services = get(&wharf, "/api/http/services").json();
    let svc = find(&services, "svc@file");
    assert_eq!(svc["serverStatus"][b.url()], "UP");
    assert_eq!(svc["loadBalancer"]["healthCheck"]["timeout"], "5s");
    assert_eq!(
        find(&services, "api@internal")["usedBy"],
        serde_json::json!(["api@internal", "secret@file"])
    );

    // Overview: the same counts.
    let (wo, to) = (
        get(&wharf, "/api/overview").json(),
        get(&traefik, "/api/overview").json(),
    );
    assert_eq!(wo["http"]["routers"]["errors"], 2);
    assert_eq!(wo["http"]["routers"]["total"], 10);
    assert_eq!(wo, to);

    // Single items, 404s, pagination and search.
    for api in [&wharf, &traefik] {
        assert_eq!(
            get(api, "/api/http/routers/app@file").json()["rule"],
            "Host(`app.test`)"
        );
        assert_eq!(get(api, "/api/http/routers/app%40file").status, 200);
        let missing = get(api, "/api/http/routers/nope@file");
        assert_eq!(missing.status, 404);
        assert_eq!(
            missing.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(missing.json()["message"], "router not found: nope@file");
        let page = get(api, "/api/http/routers?per_page=2&page=2");
        assert_eq!(page.json().as_array().unwrap().len(), 2);
        assert_eq!(page.header("x-next-page"), Some("3"));
        assert_eq!(get(api, "/api/http/routers?per_page=2&page=50").status, 400);
        let found = get(api, "/api/http/routers?search=BROKEN.test").json();
        assert_eq!(found.as_array().unwrap().len(), 1);
        let disabled = get(api, "/api/http/routers?status=disabled").json();
        assert_eq!(disabled.as_array().unwrap().len(), 2);
        let version = get(api, "/api/version");
        assert_eq!(
            version.header("content-type"),
            Some("application/json; charset=UTF-8")
        );
        let v = version.json();
        assert!(v["Version"].is_string() && v["startDate"].is_string());
        let post = raw::request(api.admin, "POST", "localhost", "/api/overview", &[]).unwrap();
        assert_eq!(post.status, 405);
        // The dashboard, and `/` redirected to it.
        let root = get(api, "/");
        assert_eq!(root.status, 301);
        assert_eq!(root.header("location"), Some("http://localhost/dashboard/"));
        for path in ["/dashboard/", "/dashboard"] {
            let page = get(api, path);
            assert_eq!(page.status, 200, "{path}");
            assert!(page
                .header("content-type")
                .unwrap()
                .starts_with("text/html"));
        }
    }
}

/// Without `api.insecure`, neither the API nor the dashboard is on any entrypoint until a
/// router sends requests to `api@internal` (here behind basicAuth); both proxies agree.
#[test]
fn api_is_exposed_only_where_configured() {
    let secured = r#"
http:
  routers:
    ready: {rule: "Host(`ready.test`)", service: noop@internal}
    admin:
      rule: "Host(`admin.test`) && (PathPrefix(`/api`) || PathPrefix(`/dashboard`))"
      service: api@internal
      middlewares: [auth]
  middlewares:
    auth: {basicAuth: {users: ["u:$apr1$abcdefgh$C5orPJWI8v4Qy8kOPQ1vA."]}}
"#;
    let statuses = |binary: &Path| -> Vec<u16> {
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let (dir, mut args, web) = file_proxy(secured, &["--api=true", "--ping=true"]);
        args.push(format!("--entryPoints.traefik.address={admin}"));
        let proc = WharfProcess::start_in(dir, binary, &args, &[], &[web, admin]);
        let ready = || raw::get(web, "ready.test", "/", &[]).is_ok_and(|r| r.status == 418);
        assert!(
            wharf_testkit::wait_until(std::time::Duration::from_secs(20), ready),
            "{}",
            proc.log()
        );
        let status = |addr, host: &str, path: &str, auth: bool| {
            let creds = [("Authorization", "Basic dTpw")];
            let extra: &[(&str, &str)] = if auth { &creds } else { &[] };
            raw::get(addr, host, path, extra).unwrap().status
        };
        vec![
            status(admin, "localhost", "/api/overview", false),
            status(admin, "localhost", "/dashboard/", false),
            status(admin, "localhost", "/metrics", false),
            status(web, "other.test", "/api/overview", false),
            status(web, "admin.test", "/api/overview", false),
            status(web, "admin.test", "/api/overview", true),
            status(web, "admin.test", "/dashboard/", true),
        ]
    };
    let wharf = statuses(&wharf_bin());
    assert_eq!(wharf, [404, 404, 404, 404, 401, 200, 200]);
    assert_eq!(wharf, statuses(&traefik_bin()));
}
