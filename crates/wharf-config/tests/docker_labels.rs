//! Containers -> raw dynamic config, as Traefik's Docker provider builds it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use wharf_config::docker::{containers_to_config, ContainerInfo, HealthState, NetworkInfo};
use wharf_config::RawService;
use wharf_model::DockerProviderConfig;

fn provider() -> DockerProviderConfig {
    DockerProviderConfig::default()
}

fn container(name: &str, ip: &str, labels: &[(&str, &str)]) -> ContainerInfo {
    let mut map: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.entry("com.docker.compose.project".into())
        .or_insert_with(|| "myapp".into());
    ContainerInfo {
        id: format!("{name}-id"),
        name: name.into(),
        labels: map,
        running: true,
        health: None,
        networks: vec![NetworkInfo {
            name: "myapp_default".into(),
            ipv4: Some(ip.parse::<IpAddr>().unwrap()),
            ipv6: None,
        }],
        ports: vec![8080, 80],
        bindings: vec![],
        network_mode: "myapp_default".into(),
        swarm_service: None,
    }
}

fn urls(raw: &wharf_config::RawDynamicConfig, service: &str) -> Vec<String> {
    match raw.services.get(service) {
        Some(RawService::LoadBalancer(lb)) => {
            lb.servers.iter().map(|s| s.url.value.clone()).collect()
        }
        other => panic!("{service}: {other:?}"),
    }
}

#[test]
fn a_compose_service_gets_traefiks_default_router_and_service() {
    let c = container(
        "myapp-web-1",
        "172.20.0.5",
        &[("com.docker.compose.service", "web")],
    );
    let (raw, issues) = containers_to_config(&[c], &provider());
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(raw.routers.keys().collect::<Vec<_>>(), ["web-myapp"]);
    let r = &raw.routers["web-myapp"];
    assert_eq!(r.rule.as_ref().unwrap().value, "Host(`web-myapp`)");
    assert_eq!(r.service.as_ref().unwrap().value, "web-myapp");
    // The lowest exposed port.
    assert_eq!(urls(&raw, "web-myapp"), ["http://172.20.0.5:80"]);
}

#[test]
fn labels_define_routers_services_and_replicas_merge() {
    let labels = [
        ("com.docker.compose.service", "api"),
        (
            "traefik.http.routers.admin-api.rule",
            "Host(`admin.test`) && PathPrefix(`/api`)",
        ),
        (
            "traefik.http.routers.admin-api.entrypoints",
            "web, websecure",
        ),
        (
            "traefik.http.routers.admin-api.middlewares",
            "api-auth@file,cors@file",
        ),
        (
            "traefik.http.services.admin-api.loadbalancer.server.port",
            "3001",
        ),
        (
            "traefik.http.services.admin-api.loadbalancer.passhostheader",
            "false",
        ),
    ];
    let a = container("myapp-api-1", "172.20.0.5", &labels);
    let b = container("myapp-api-2", "172.20.0.6", &labels);
    let (raw, issues) = containers_to_config(&[b, a], &provider());
    assert!(issues.iter().all(|i| !i.is_error()), "{issues:?}");
    let r = &raw.routers["admin-api"];
    assert_eq!(
        r.entry_points
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.value.as_str())
            .collect::<Vec<_>>(),
        ["web", "websecure"]
    );
    assert_eq!(
        r.service.as_ref().unwrap().value,
        "admin-api",
        "auto-linked to the only service"
    );
    assert_eq!(r.middlewares.len(), 2);
    assert_eq!(
        urls(&raw, "admin-api"),
        ["http://172.20.0.5:3001", "http://172.20.0.6:3001"]
    );
    match &raw.services["admin-api"] {
        RawService::LoadBalancer(lb) => assert!(!lb.pass_host_header),
        other => panic!("{other:?}"),
    }
}

#[test]
fn health_and_state_decide_the_servers() {
    let mut starting = container(
        "myapp-web-1",
        "172.20.0.5",
        &[("com.docker.compose.service", "web")],
    );
    starting.health = Some(HealthState::Starting);
    let (raw, _) = containers_to_config(std::slice::from_ref(&starting), &provider());
    assert!(
        urls(&raw, "web-myapp").is_empty(),
        "kept with no servers: 503, not 404"
    );
    assert!(raw.routers.contains_key("web-myapp"));

    let mut traefik_like = provider();
    traefik_like.allow_empty_services = Some(false);
    let (raw, _) = containers_to_config(std::slice::from_ref(&starting), &traefik_like);
    assert!(
        raw.routers.is_empty(),
        "explicit allowEmptyServices=false drops it, as Traefik"
    );

    let mut healthy = starting.clone();
    healthy.health = Some(HealthState::Healthy);
    let (raw, _) = containers_to_config(&[healthy], &provider());
    assert_eq!(urls(&raw, "web-myapp").len(), 1);

    let mut stopped = starting;
    stopped.health = None;
    stopped.running = false;
    let (raw, _) = containers_to_config(&[stopped], &provider());
    assert!(raw.routers.is_empty());
}

#[test]
fn enable_and_constraints_filter_containers() {
    let mut p = provider();
    p.exposed_by_default = false;
    let off = container("a-1", "10.0.0.2", &[]);
    let on = container(
        "b-1",
        "10.0.0.3",
        &[("traefik.enable", "true"), ("team", "blue")],
    );
    let (raw, _) = containers_to_config(&[off.clone(), on.clone()], &p);
    assert_eq!(raw.routers.keys().collect::<Vec<_>>(), ["b-1"]);
    p.exposed_by_default = true;
    p.constraints = Some("Label(`team`, `red`)".into());
    let (raw, _) = containers_to_config(&[off, on], &p);
    assert!(raw.routers.is_empty());
}

#[test]
fn label_mistakes_are_reported_with_container_and_label_and_drop_only_their_item() {
    let bad = container(
        "myapp-bad-1",
        "10.0.0.2",
        &[
            ("com.docker.compose.service", "bad"),
            ("traefik.http.routers.x.rulee", "Host(`x.test`)"),
            ("traefik.http.routers.y.rule", "Host(`y.test`"),
            ("traefik.http.routers.y.service", "bad-myapp"),
            (
                "traefik.http.services.bad-myapp.loadbalancer.sever.port",
                "80",
            ),
        ],
    );
    let good = container(
        "myapp-good-1",
        "10.0.0.3",
        &[("com.docker.compose.service", "good")],
    );
    let (raw, issues) = containers_to_config(&[bad, good], &provider());
    let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    assert!(
        all.contains("container myapp-bad-1, label traefik.http.routers.x.rulee: error: unknown key `http.routers.x.rulee` (hint: did you mean `http.routers.x.rule`?)"),
        "{all}"
    );
    assert!(
        all.contains("container myapp-bad-1, label traefik.http.services.bad-myapp.loadbalancer.sever.port: error: unknown key `traefik.http.services.bad-myapp.loadbalancer.sever` (hint: did you mean `traefik.http.services.bad-myapp.loadbalancer.server`?)"),
        "{all}"
    );
    assert!(raw.routers.contains_key("good-myapp"));
    assert!(!raw.routers.contains_key("x"));
    // y's rule is checked by validation (it needs every provider); its raw form is kept.
    assert!(raw.routers.contains_key("y"));
}

#[test]
fn conflicting_replicas_and_missing_networks_are_errors() {
    let a = container(
        "p-web-1",
        "10.0.0.2",
        &[
            ("com.docker.compose.service", "web"),
            ("traefik.http.routers.r.rule", "Host(`a`)"),
        ],
    );
    let b = container(
        "p-web-2",
        "10.0.0.3",
        &[
            ("com.docker.compose.service", "web"),
            ("traefik.http.routers.r.rule", "Host(`b`)"),
        ],
    );
    let (raw, issues) = containers_to_config(&[a, b], &provider());
    assert!(!raw.routers.contains_key("r"));
    assert!(
        issues.iter().any(|i| i.to_string().contains(
            "router `r` is defined with different settings by containers p-web-1 and p-web-2"
        )),
        "{issues:?}"
    );

    let c = container("n-1", "10.0.0.4", &[("traefik.docker.network", "frontend")]);
    let (raw, issues) = containers_to_config(&[c], &provider());
    assert!(raw.services.is_empty());
    let all: Vec<String> = issues.iter().map(ToString::to_string).collect();
    assert!(all[0].starts_with("container n-1, label traefik.docker.network: error: is not attached to network `frontend` (it is on: myapp_default)"), "{all:?}");

    let mut none = container("np-1", "10.0.0.5", &[]);
    none.ports.clear();
    let (_, issues) = containers_to_config(&[none], &provider());
    assert!(
        issues[0].to_string().contains("port is missing"),
        "{issues:?}"
    );
}

#[test]
fn several_services_need_an_explicit_link() {
    let c = container(
        "m-1",
        "10.0.0.2",
        &[
            ("traefik.http.routers.r.rule", "Host(`m`)"),
            ("traefik.http.services.one.loadbalancer.server.port", "80"),
            ("traefik.http.services.two.loadbalancer.server.port", "81"),
        ],
    );
    let (raw, issues) = containers_to_config(&[c], &provider());
    assert!(raw.routers.is_empty());
    assert!(
        issues.iter().any(|i| i
            .to_string()
            .contains("cannot be linked automatically with multiple services (one, two)")),
        "{issues:?}"
    );
    assert_eq!(urls(&raw, "two"), ["http://10.0.0.2:81"]);
}

#[test]
fn a_port_the_container_does_not_expose_is_a_warning() {
    let c = container(
        "p-1",
        "10.0.0.2",
        &[("traefik.http.services.s.loadbalancer.server.port", "3000")],
    );
    let (raw, issues) = containers_to_config(&[c], &provider());
    assert_eq!(urls(&raw, "s"), ["http://10.0.0.2:3000"]);
    assert_eq!(
        issues[0].to_string(),
        "container p-1, label traefik.http.services.s.loadbalancer.server.port: warning: the container does not expose port 3000 (it exposes 80, 8080) (hint: check the port the application listens on; wharf uses the label's port as written)"
    );
}

#[test]
fn tls_labels_carry_router_tls_and_the_default_generated_certificate_only() {
    let c = container(
        "myapp-web-1",
        "172.20.0.5",
        &[
            ("traefik.http.routers.web.rule", "Host(`a.test`)"),
            ("traefik.http.routers.web.tls", "true"),
            ("traefik.http.routers.web.tls.certresolver", "le"),
            ("traefik.http.routers.web.tls.options", "modern@file"),
            ("traefik.http.routers.web.tls.domains[0].main", "a.test"),
            (
                "traefik.http.routers.web.tls.domains[0].sans",
                "www.a.test,api.a.test",
            ),
            (
                "traefik.tls.stores.default.defaultgeneratedcert.resolver",
                "le",
            ),
            (
                "traefik.tls.stores.default.defaultgeneratedcert.domain.main",
                "example.test",
            ),
            ("traefik.tls.options.modern.minversion", "VersionTLS13"),
        ],
    );
    let (raw, issues) = containers_to_config(&[c], &provider());
    let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 1, "{text:#?}");
    assert!(
        text[0].contains("label traefik.tls.options.modern.minversion")
            && text[0].contains("cannot come from labels"),
        "{text:#?}"
    );
    let tls = raw.routers["web"].tls.as_ref().expect("tls");
    assert_eq!(tls.cert_resolver.as_ref().unwrap().value, "le");
    assert_eq!(tls.options.as_ref().unwrap().value, "modern@file");
    assert_eq!(tls.domains[0].main, "a.test");
    assert_eq!(tls.domains[0].sans, ["www.a.test", "api.a.test"]);
    let generated = raw
        .tls
        .default_generated
        .as_ref()
        .expect("defaultGeneratedCert");
    assert_eq!(generated.resolver, "le");
    assert_eq!(generated.domain.main, "example.test");
    assert!(raw.tls.options.is_empty());
}
