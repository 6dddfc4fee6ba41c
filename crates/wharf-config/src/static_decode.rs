//! Node tree -> validated [`StaticConfig`], with Traefik's defaults.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use wharf_model::{
    AccessLogConfig, ApiConfig, ConfigIssue, DockerProviderConfig, EntryPoint, EntryPointRedirect,
    FileProviderConfig, ForwardedHeaders, LogConfig, Origin, PingConfig, PrometheusConfig,
    ProvidersConfig, StaticConfig,
};

use crate::decode::{
    boolean, check_keys, duration, float, integer, join, list, section_enabled, string, Issues,
};
use crate::node::Node;

const TOP: &[&str] = &[
    "entryPoints",
    "providers",
    "api",
    "ping",
    "metrics",
    "log",
    "accessLog",
    "global",
];
const TOP_LATER: &[&str] = &[
    "serversTransport",
    "tcpServersTransport",
    "certificatesResolvers",
    "tracing",
    "experimental",
    "hostResolver",
    "core",
    "spiffe",
    "ocsp",
    "hub",
];

/// Decodes a static configuration tree. Errors are in the returned issues; the config is
/// usable only if none of them is an error.
pub fn decode_static(root: &Node) -> (StaticConfig, Vec<ConfigIssue>) {
    let mut issues = Issues::default();
    check_keys(root, "", TOP, TOP_LATER, &mut issues);

    if let Some(g) = root.get("global") {
        check_keys(
            g,
            "global",
            &["checkNewVersion", "sendAnonymousUsage"],
            &[],
            &mut issues,
        );
    }
    let mut entry_points = BTreeMap::new();
    if let Some(eps) = root.get("entryPoints") {
        if check_keys(eps, "entryPoints", &[], &[], &mut Issues::default()) {
            for (key, node) in eps.entries() {
                let path = join("entryPoints", &key.name);
                if let Some(ep) = entry_point(&key.name, &key.origin, node, &path, &mut issues) {
                    entry_points.insert(key.name.clone(), ep);
                }
            }
        }
    }
    let providers = providers(root.get("providers"), &mut issues);
    let api = root
        .get("api")
        .filter(|n| section_enabled(n, "api", &mut issues))
        .map(|n| api(n, &mut issues));
    let ping = root
        .get("ping")
        .filter(|n| section_enabled(n, "ping", &mut issues))
        .map(|n| ping(n, &mut issues));
    let metrics = root.get("metrics").and_then(|n| metrics(n, &mut issues));
    let log = root
        .get("log")
        .map_or_else(LogConfig::default, |n| log(n, &mut issues));
    let access_log = root
        .get("accessLog")
        .filter(|n| section_enabled(n, "accessLog", &mut issues))
        .map(|n| access_log(n, &mut issues));

    for (section, what) in [
        ("api", "the API and dashboard"),
        ("metrics", "Prometheus metrics"),
        ("accessLog", "access logs"),
    ] {
        if let Some(node) = root.get(section) {
            issues.push(ConfigIssue::warning(
                node.origin.clone(),
                format!("`{section}` is validated, but {what} are not implemented by wharf yet"),
            ));
        }
    }
    let mut config = StaticConfig {
        entry_points,
        providers,
        api,
        ping,
        metrics,
        log,
        access_log,
    };
    apply_defaults(&mut config, &mut issues);
    resolve_redirects(&mut config, &mut issues);
    (config, issues.0)
}

fn get_string(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Option<String> {
    n.get(key).and_then(|v| string(v, &join(path, key), issues))
}
fn get_bool(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Option<bool> {
    n.get(key)
        .and_then(|v| boolean(v, &join(path, key), issues))
}
fn get_duration(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Option<Duration> {
    n.get(key)
        .and_then(|v| duration(v, &join(path, key), issues))
}

fn parse_address(addr: &str) -> Result<SocketAddr, String> {
    let (hostport, proto) = match addr.rsplit_once('/') {
        Some((hp, p)) => (hp, p.to_ascii_lowercase()),
        None => (addr, "tcp".to_string()),
    };
    if proto == "udp" {
        return Err("UDP entrypoints are not supported by wharf".into());
    }
    if proto != "tcp" {
        return Err(format!("unknown protocol `/{proto}` (use /tcp)"));
    }
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| format!("`{addr}` has no port (write e.g. `:80`)"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a valid port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h
            .parse()
            .map_err(|_| format!("`{h}` is not an IP address (entrypoints bind to IPs)"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

fn entry_point(
    name: &str,
    key_origin: &Origin,
    n: &Node,
    path: &str,
    issues: &mut Issues,
) -> Option<EntryPoint> {
    check_keys(
        n,
        path,
        &[
            "address",
            "asDefault",
            "http",
            "forwardedHeaders",
            "transport",
        ],
        &[
            "http2",
            "http3",
            "proxyProtocol",
            "observability",
            "reusePort",
            "allowACMEByPass",
            "udp",
        ],
        issues,
    );
    let Some(addr_node) = n.get("address") else {
        issues.push(
            ConfigIssue::error(key_origin.clone(), format!("`{path}` has no address"))
                .with_hint(format!("add `{path}.address: \":8000\"`")),
        );
        return None;
    };
    let address = match string(addr_node, &join(path, "address"), issues).map(|a| parse_address(&a))
    {
        Some(Ok(a)) => a,
        Some(Err(e)) => {
            issues.error(&addr_node.origin, format!("`{path}.address`: {e}"));
            return None;
        }
        None => return None,
    };
    let mut redirect = None;
    let mut middlewares = Vec::new();
    if let Some(http) = n.get("http") {
        let hp = join(path, "http");
        if let Some(m) = http.get("middlewares") {
            for (name, origin) in list(m, &join(&hp, "middlewares"), issues).unwrap_or_default() {
                if !name.contains('@') {
                    issues.push(
                        ConfigIssue::error(
                            origin,
                            format!("`{hp}.middlewares`: `{name}` needs its provider"),
                        )
                        .with_hint(format!("write `{name}@file` (or @docker)")),
                    );
                } else {
                    middlewares.push(name);
                }
            }
        }
        check_keys(
            http,
            &hp,
            &["redirections", "middlewares"],
            &[
                "tls",
                "encodedCharacters",
                "encodeQuerySemicolons",
                "sanitizePath",
                "maxHeaderBytes",
                "underscoreHeadersStrategy",
            ],
            issues,
        );
        if let Some(r) = http.get("redirections") {
            let rp = join(&hp, "redirections");
            check_keys(r, &rp, &["entryPoint"], &[], issues);
            if let Some(e) = r.get("entryPoint") {
                let ep = join(&rp, "entryPoint");
                check_keys(
                    e,
                    &ep,
                    &["to", "scheme", "permanent", "priority"],
                    &[],
                    issues,
                );
                match get_string(e, "to", &ep, issues) {
                    Some(to) if !to.is_empty() => {
                        redirect = Some(EntryPointRedirect {
                            to,
                            port: 0,
                            scheme: get_string(e, "scheme", &ep, issues)
                                .unwrap_or_else(|| "https".into()),
                            permanent: get_bool(e, "permanent", &ep, issues).unwrap_or(true),
                            priority: e
                                .get("priority")
                                .and_then(|p| integer(p, &join(&ep, "priority"), issues))
                                .unwrap_or(i64::MAX - 1),
                        })
                    }
                    _ => issues.error(&e.origin, format!("`{ep}.to` is required")),
                }
            }
        }
    }
    let mut forwarded_headers = ForwardedHeaders::default();
    if let Some(f) = n.get("forwardedHeaders") {
        let fp = join(path, "forwardedHeaders");
        check_keys(
            f,
            &fp,
            &["trustedIPs", "insecure"],
            &["connection", "notAppendXForwardedFor"],
            issues,
        );
        forwarded_headers.insecure = get_bool(f, "insecure", &fp, issues).unwrap_or(false);
        if let Some(ips) = f.get("trustedIPs") {
            for (ip, origin) in list(ips, &join(&fp, "trustedIPs"), issues).unwrap_or_default() {
                match parse_net(&ip) {
                    Some(net) => forwarded_headers.trusted_ips.push(net),
                    None => issues.error(
                        &origin,
                        format!("`{fp}.trustedIPs`: `{ip}` is neither an IP nor a CIDR range"),
                    ),
                }
            }
        }
    }
    let mut ep = EntryPoint {
        name: name.to_string(),
        address,
        origin: key_origin.clone(),
        as_default: get_bool(n, "asDefault", path, issues).unwrap_or(false),
        redirect,
        middlewares,
        forwarded_headers,
        read_timeout: Duration::from_secs(60),
        write_timeout: Duration::ZERO,
        idle_timeout: Duration::from_secs(180),
        grace_timeout: Duration::from_secs(10),
    };
    if let Some(t) = n.get("transport") {
        let tp = join(path, "transport");
        check_keys(
            t,
            &tp,
            &["respondingTimeouts", "lifeCycle"],
            &["keepAliveMaxRequests", "keepAliveMaxTime"],
            issues,
        );
        if let Some(r) = t.get("respondingTimeouts") {
            let rp = join(&tp, "respondingTimeouts");
            check_keys(
                r,
                &rp,
                &["readTimeout", "writeTimeout", "idleTimeout"],
                &[],
                issues,
            );
            if let Some(d) = get_duration(r, "readTimeout", &rp, issues) {
                ep.read_timeout = d;
            }
            if let Some(d) = get_duration(r, "writeTimeout", &rp, issues) {
                ep.write_timeout = d;
            }
            if let Some(d) = get_duration(r, "idleTimeout", &rp, issues) {
                ep.idle_timeout = d;
            }
        }
        if let Some(l) = t.get("lifeCycle") {
            let lp = join(&tp, "lifeCycle");
            check_keys(
                l,
                &lp,
                &["graceTimeOut"],
                &["requestAcceptGraceTimeout"],
                issues,
            );
            if let Some(d) = get_duration(l, "graceTimeOut", &lp, issues) {
                ep.grace_timeout = d;
            }
        }
    }
    Some(ep)
}

fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

fn providers(n: Option<&Node>, issues: &mut Issues) -> ProvidersConfig {
    let mut out = ProvidersConfig::default();
    let Some(n) = n else { return out };
    check_keys(
        n,
        "providers",
        &["providersThrottleDuration", "file", "docker"],
        &[
            "swarm",
            "kubernetesCRD",
            "kubernetesIngress",
            "kubernetesIngressNGINX",
            "kubernetesGateway",
            "knative",
            "consul",
            "consulCatalog",
            "nomad",
            "ecs",
            "etcd",
            "redis",
            "http",
            "zooKeeper",
            "rest",
            "plugin",
            "precedence",
        ],
        issues,
    );
    out.throttle = get_duration(n, "providersThrottleDuration", "providers", issues);
    if let Some(f) = n
        .get("file")
        .filter(|f| section_enabled(f, "providers.file", issues))
    {
        let fp = "providers.file";
        check_keys(
            f,
            fp,
            &[
                "filename",
                "directory",
                "watch",
                "debugLogGeneratedTemplate",
            ],
            &[],
            issues,
        );
        let watch = get_bool(f, "watch", fp, issues).unwrap_or(true);
        let filename = get_string(f, "filename", fp, issues).filter(|s| !s.is_empty());
        let directory = get_string(f, "directory", fp, issues).filter(|s| !s.is_empty());
        out.file = match (filename, directory) {
            (Some(_), Some(_)) => {
                issues.push(
                    ConfigIssue::error(
                        f.origin.clone(),
                        "`providers.file.filename` and `providers.file.directory` are mutually exclusive",
                    )
                    .with_hint("keep one of them (Traefik's docs recommend `directory`)"),
                );
                None
            }
            (Some(p), None) => Some(FileProviderConfig::File {
                path: PathBuf::from(p),
                watch,
            }),
            (None, Some(p)) => Some(FileProviderConfig::Directory {
                path: PathBuf::from(p),
                watch,
            }),
            (None, None) => {
                issues.push(
                    ConfigIssue::error(
                        f.origin.clone(),
                        "`providers.file` needs `filename` or `directory`",
                    )
                    .with_hint("e.g. `providers.file.directory: /etc/traefik/dynamic`"),
                );
                None
            }
        };
    }
    if let Some(d) = n
        .get("docker")
        .filter(|d| section_enabled(d, "providers.docker", issues))
    {
        let dp = "providers.docker";
        check_keys(
            d,
            dp,
            &[
                "endpoint",
                "exposedByDefault",
                "network",
                "defaultRule",
                "constraints",
                "watch",
                "useBindPortIP",
                "allowEmptyServices",
                "httpClientTimeout",
                "username",
                "password",
                "tls",
            ],
            &[],
            issues,
        );
        if let Some(t) = d.get("httpClientTimeout") {
            duration(t, "providers.docker.httpClientTimeout", issues);
        }
        if let Some(c) = d.get("constraints") {
            if let Some(Err(e)) = c
                .as_scalar()
                .filter(|s| !s.is_empty())
                .map(wharf_rule::parse_constraints)
            {
                issues.push(
                    ConfigIssue::error(
                        c.origin.clone(),
                        format!("`providers.docker.constraints`: {e}"),
                    )
                    .with_hint_opt(e.hint),
                );
            }
        }
        if let Some(r) = d.get("defaultRule") {
            let template = r.as_scalar().unwrap_or("");
            let sample = crate::docker::ContainerInfo::default();
            if let Err(e) = crate::docker::render_default_rule(template, "name", &sample) {
                issues.error(&r.origin, format!("`providers.docker.defaultRule`: {e}"));
            }
        }
        let defaults = DockerProviderConfig::default();
        let text = |key: &str, issues: &mut Issues| {
            get_string(d, key, dp, issues).filter(|s| !s.is_empty())
        };
        out.docker = Some(DockerProviderConfig {
            endpoint: text("endpoint", issues).unwrap_or(defaults.endpoint),
            exposed_by_default: get_bool(d, "exposedByDefault", dp, issues)
                .unwrap_or(defaults.exposed_by_default),
            network: text("network", issues),
            default_rule: text("defaultRule", issues).unwrap_or(defaults.default_rule),
            constraints: text("constraints", issues),
            watch: get_bool(d, "watch", dp, issues).unwrap_or(defaults.watch),
            use_bind_port_ip: get_bool(d, "useBindPortIP", dp, issues)
                .unwrap_or(defaults.use_bind_port_ip),
            allow_empty_services: get_bool(d, "allowEmptyServices", dp, issues),
        });
    }
    out
}

fn api(n: &Node, issues: &mut Issues) -> ApiConfig {
    check_keys(
        n,
        "api",
        &[
            "insecure",
            "dashboard",
            "debug",
            "basePath",
            "disableDashboardAd",
            "dashboardName",
        ],
        &[],
        issues,
    );
    ApiConfig {
        insecure: get_bool(n, "insecure", "api", issues).unwrap_or(false),
        dashboard: get_bool(n, "dashboard", "api", issues).unwrap_or(true),
    }
}

fn ping(n: &Node, issues: &mut Issues) -> PingConfig {
    check_keys(
        n,
        "ping",
        &["entryPoint", "manualRouting", "terminatingStatusCode"],
        &[],
        issues,
    );
    PingConfig {
        entry_point: get_string(n, "entryPoint", "ping", issues)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "traefik".into()),
        manual_routing: get_bool(n, "manualRouting", "ping", issues).unwrap_or(false),
        terminating_status_code: n
            .get("terminatingStatusCode")
            .and_then(|c| integer(c, "ping.terminatingStatusCode", issues))
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(503),
    }
}

fn metrics(n: &Node, issues: &mut Issues) -> Option<PrometheusConfig> {
    check_keys(
        n,
        "metrics",
        &["prometheus", "addInternals"],
        &["datadog", "statsD", "influxDB2", "otlp"],
        issues,
    );
    let p = n
        .get("prometheus")
        .filter(|p| section_enabled(p, "metrics.prometheus", issues))?;
    let pp = "metrics.prometheus";
    check_keys(
        p,
        pp,
        &[
            "buckets",
            "addEntryPointsLabels",
            "addRoutersLabels",
            "addServicesLabels",
            "entryPoint",
            "manualRouting",
            "headerLabels",
        ],
        &[],
        issues,
    );
    let mut buckets = vec![0.1, 0.3, 1.2, 5.0];
    if let Some(b) = p.get("buckets") {
        if let Some(items) = list(b, "metrics.prometheus.buckets", issues) {
            buckets = items
                .iter()
                .filter_map(|(v, origin)| {
                    let node = Node::new(origin.clone(), crate::node::NodeValue::Scalar(v.clone()));
                    float(&node, "metrics.prometheus.buckets", issues)
                })
                .collect();
        }
    }
    Some(PrometheusConfig {
        entry_point: get_string(p, "entryPoint", pp, issues)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "traefik".into()),
        buckets,
        add_entry_points_labels: get_bool(p, "addEntryPointsLabels", pp, issues).unwrap_or(true),
        add_routers_labels: get_bool(p, "addRoutersLabels", pp, issues).unwrap_or(false),
        add_services_labels: get_bool(p, "addServicesLabels", pp, issues).unwrap_or(true),
        manual_routing: get_bool(p, "manualRouting", pp, issues).unwrap_or(false),
    })
}

fn log(n: &Node, issues: &mut Issues) -> LogConfig {
    check_keys(
        n,
        "log",
        &[
            "level",
            "format",
            "filePath",
            "noColor",
            "maxSize",
            "maxAge",
            "maxBackups",
            "compress",
        ],
        &[],
        issues,
    );
    let mut out = LogConfig::default();
    if let Some(level) = get_string(n, "level", "log", issues) {
        let upper = level.to_ascii_uppercase();
        match upper.as_str() {
            "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR" => out.level = upper,
            "FATAL" | "PANIC" => out.level = "ERROR".into(),
            _ => issues.push(
                ConfigIssue::error(
                    n.get("level").map_or(Origin::Default, |l| l.origin.clone()),
                    format!("`log.level`: unknown level `{level}`"),
                )
                .with_hint("use TRACE, DEBUG, INFO, WARN, ERROR, FATAL or PANIC"),
            ),
        }
    }
    if let Some(format) = get_string(n, "format", "log", issues) {
        match format.as_str() {
            "common" | "json" => out.format = format,
            _ => issues.error(
                &n.get("format")
                    .map_or(Origin::Default, |f| f.origin.clone()),
                format!("`log.format`: unknown format `{format}` (use common or json)"),
            ),
        }
    }
    out
}

fn access_log(n: &Node, issues: &mut Issues) -> AccessLogConfig {
    check_keys(
        n,
        "accessLog",
        &[
            "filePath",
            "format",
            "bufferingSize",
            "filters",
            "fields",
            "addInternals",
        ],
        &[],
        issues,
    );
    let format = get_string(n, "format", "accessLog", issues).unwrap_or_else(|| "common".into());
    if !["common", "genericCLF", "json"].contains(&format.as_str()) {
        issues.error(
            &n.origin,
            format!(
                "`accessLog.format`: unknown format `{format}` (use common, genericCLF or json)"
            ),
        );
    }
    AccessLogConfig {
        file_path: get_string(n, "filePath", "accessLog", issues)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
        format,
    }
}

fn default_entry_point(name: &str, port: u16) -> EntryPoint {
    EntryPoint {
        name: name.into(),
        address: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        origin: Origin::Default,
        as_default: false,
        redirect: None,
        middlewares: Vec::new(),
        forwarded_headers: ForwardedHeaders::default(),
        read_timeout: Duration::from_secs(60),
        write_timeout: Duration::ZERO,
        idle_timeout: Duration::from_secs(180),
        grace_timeout: Duration::from_secs(10),
    }
}

fn apply_defaults(c: &mut StaticConfig, issues: &mut Issues) {
    if c.entry_points.is_empty() {
        c.entry_points
            .insert("http".into(), default_entry_point("http", 80));
    }
    let wants_traefik = c.api.as_ref().is_some_and(|a| a.insecure)
        || c.ping
            .as_ref()
            .is_some_and(|p| p.entry_point == "traefik" && !p.manual_routing)
        || c.metrics
            .as_ref()
            .is_some_and(|m| m.entry_point == "traefik" && !m.manual_routing);
    if wants_traefik && !c.entry_points.contains_key("traefik") {
        c.entry_points
            .insert("traefik".into(), default_entry_point("traefik", 8080));
    }
    if let Some(p) = &c.ping {
        if !p.manual_routing && !c.entry_points.contains_key(&p.entry_point) {
            issues.push(
                ConfigIssue::error(
                    Origin::Default,
                    format!(
                        "`ping.entryPoint` names `{}`, which is not an entrypoint",
                        p.entry_point
                    ),
                )
                .with_hint(format!(
                    "define `entryPoints.{}` or pick one of: {}",
                    p.entry_point,
                    c.entry_points
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
    }
}

fn resolve_redirects(c: &mut StaticConfig, issues: &mut Issues) {
    let ports: BTreeMap<String, u16> = c
        .entry_points
        .iter()
        .map(|(k, v)| (k.clone(), v.address.port()))
        .collect();
    for ep in c.entry_points.values_mut() {
        let Some(r) = &mut ep.redirect else { continue };
        let port = if let Some(p) = r.to.strip_prefix(':') {
            p.parse::<u16>().ok()
        } else {
            ports.get(&r.to).copied()
        };
        match port {
            Some(p) => r.port = p,
            None => {
                issues.push(
                    ConfigIssue::error(
                        ep.origin.clone(),
                        format!(
                            "`entryPoints.{}.http.redirections.entryPoint.to` names `{}`, which is neither an entrypoint nor `:port`",
                            ep.name, r.to
                        ),
                    )
                    .with_hint_opt(
                        crate::decode::nearest(&r.to, ports.keys().map(String::as_str))
                            .map(|n| format!("did you mean `{n}`?")),
                    ),
                );
                ep.redirect = None;
            }
        }
    }
}
