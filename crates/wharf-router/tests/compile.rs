//! Compiling validated configs into generations: precedence, the host index, TLS separation,
//! internal routes.

use std::net::IpAddr;

use wharf_config::{decode_dynamic, decode_static, flags_to_node, validate, yaml, ProviderConfig};
use wharf_model::ProviderName;
use wharf_router::{compile, Generation, InternalRoutes, RouteAction};
use wharf_rule::{HeaderLookup, RequestView};
use wharf_upstream::PoolRegistry;

struct NoHeaders;
impl HeaderLookup for NoHeaders {
    fn any_value(&self, _: &str, _: &mut dyn FnMut(&str) -> bool) -> bool {
        false
    }
}

fn build(flags: &[&str], providers: &[(&str, &str)]) -> std::sync::Arc<Generation> {
    let args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    let (statics, issues) = decode_static(&flags_to_node(&args));
    assert!(!issues.iter().any(|i| i.is_error()), "{issues:?}");
    let inputs: Vec<ProviderConfig> = providers
        .iter()
        .map(|(p, doc)| ProviderConfig {
            provider: ProviderName::new(p),
            raw: decode_dynamic(&yaml::parse(doc, "t.yml").unwrap()).0,
        })
        .collect();
    let (config, _) = validate(&inputs, &statics);
    let mut pools = PoolRegistry::default();
    pools.sync(&config);
    compile(
        7,
        &statics,
        &InternalRoutes::from_static(&statics),
        &config,
        wharf_router::Built {
            pools: &pools,
            middlewares: &mut Default::default(),
            api: Default::default(),
            tls: &wharf_tls::TlsRegistry::new().expect("tls").empty_snapshot(),
            router_metrics: &mut |_, _| None,
        },
    )
}

fn find(g: &Generation, ep: usize, tls: bool, host: &str, path: &str) -> Option<String> {
    let view = RequestView {
        host,
        path,
        method: "GET",
        query: None,
        headers: &NoHeaders,
        client_ip: Some(IpAddr::from([127, 0, 0, 1])),
    };
    g.find(ep, tls, &view).map(|r| r.name.to_string())
}

const SVC: &str =
    "  services:\n    s: {loadBalancer: {servers: [{url: \"http://127.0.0.1:1\"}]}}\n";

#[test]
fn equal_priorities_are_ordered_by_provider_then_name() {
    let file = format!(
        "http:\n  routers:\n    zeta: {{rule: \"Host(`t.test`)\", service: s}}\n    alpha: {{rule: \"Host(`t.test`)\", service: s}}\n{SVC}"
    );
    let docker =
        format!("http:\n  routers:\n    omega: {{rule: \"Host(`t.test`)\", service: s}}\n{SVC}");
    for _ in 0..5 {
        let g = build(
            &["--entryPoints.web.address=:80"],
            &[("file", &file), ("docker", &docker)],
        );
        assert_eq!(
            find(&g, 0, false, "t.test", "/").as_deref(),
            Some("omega@docker")
        );
        let g = build(&["--entryPoints.web.address=:80"], &[("file", &file)]);
        assert_eq!(
            find(&g, 0, false, "t.test", "/").as_deref(),
            Some("alpha@file")
        );
    }
}

#[test]
fn the_host_index_agrees_with_a_linear_scan() {
    let mut doc = String::from("http:\n  routers:\n");
    let rules = [
        "Host(`a.test`)",
        "Host(`a.test`) && PathPrefix(`/x`)",
        "Host(`*.w.test`)",
        "Host(`*.w.test`) && Path(`/p`)",
        "Host(`a.test`) || Host(`b.test`)",
        "HostRegexp(`^[ab]\\\\.test$`)",
        "PathPrefix(`/x`)",
        "Host(`*`)",
        "!Host(`a.test`) && PathPrefix(`/`)",
        "Host(`c.w.test`)",
    ];
    for (i, r) in rules.iter().enumerate() {
        doc.push_str(&format!(
            "    r{i}: {{rule: \"{r}\", service: s, priority: {}}}\n",
            (i * 7) % 5
        ));
    }
    doc.push_str(SVC);
    let g = build(&["--entryPoints.web.address=:80"], &[("file", &doc)]);
    let table = &g.entry_points[0].plain;
    assert_eq!(table.len(), rules.len());
    for host in [
        "a.test",
        "b.test",
        "c.w.test",
        "x.w.test",
        "w.test",
        "y.x.w.test",
        "",
        "zz",
    ] {
        for path in ["/", "/x", "/p"] {
            let view = RequestView {
                host,
                path,
                method: "GET",
                query: None,
                headers: &NoHeaders,
                client_ip: None,
            };
            let linear = table
                .routes()
                .iter()
                .find(|r| r.rule.matches(&view))
                .map(|r| &r.name);
            let indexed = table.find(&view).map(|r| &r.name);
            assert_eq!(indexed, linear, "host {host:?} path {path:?}");
        }
    }
}

#[test]
fn tls_routers_only_match_tls_connections() {
    let doc = format!(
        "http:\n  routers:\n    secure: {{rule: \"Host(`s.test`)\", service: s, tls: {{}}}}\n    plain: {{rule: \"Host(`p.test`)\", service: s}}\n{SVC}"
    );
    let g = build(&["--entryPoints.web.address=:80"], &[("file", &doc)]);
    assert_eq!(find(&g, 0, false, "s.test", "/"), None);
    assert_eq!(
        find(&g, 0, true, "s.test", "/").as_deref(),
        Some("secure@file")
    );
    assert_eq!(find(&g, 0, true, "p.test", "/"), None);
}

#[test]
fn routers_without_entrypoints_go_everywhere_but_traefik() {
    let doc = format!("http:\n  routers:\n    r: {{rule: \"PathPrefix(`/`)\", service: s}}\n{SVC}");
    let g = build(
        &[
            "--entryPoints.web.address=:80",
            "--entryPoints.adm.address=:81",
            "--entryPoints.traefik.address=:8080",
            "--ping",
        ],
        &[("file", &doc)],
    );
    let names: Vec<&str> = g.entry_points.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["adm", "traefik", "web"]);
    assert_eq!(find(&g, 0, false, "h", "/x").as_deref(), Some("r@file"));
    assert_eq!(find(&g, 2, false, "h", "/x").as_deref(), Some("r@file"));
    // On `traefik` only the internal routers exist: wharf's health, then ping.
    assert_eq!(find(&g, 1, false, "h", "/x"), None);
    let internal = g.entry_points[1].plain.routes();
    assert_eq!(internal.len(), 2);
    assert_eq!(internal[0].name.as_str(), "health@internal");
    assert!(matches!(internal[0].action, RouteAction::Health));
    assert_eq!(internal[1].name.as_str(), "ping@internal");
    assert!(matches!(internal[1].action, RouteAction::Ping));
    assert_eq!(g.id, 7);
}

#[test]
fn entrypoint_redirection_shadows_user_routers() {
    let doc = format!(
        "http:\n  routers:\n    r: {{rule: \"Host(`a.test`)\", service: s, priority: 1000}}\n{SVC}"
    );
    let g = build(
        &[
            "--entryPoints.web.address=:80",
            "--entryPoints.web.http.redirections.entryPoint.to=websecure",
            "--entryPoints.websecure.address=:443",
        ],
        &[("file", &doc)],
    );
    assert_eq!(
        find(&g, 0, false, "a.test", "/").as_deref(),
        Some("web-to-websecure@internal")
    );
    // The generated router needs a host.
    assert_eq!(find(&g, 0, false, "", "/"), None);
    assert_eq!(find(&g, 1, false, "a.test", "/").as_deref(), Some("r@file"));
}
