//! Node tree -> validated [`StaticConfig`], with Traefik's defaults. Entrypoints are decoded in
//! `entry_point.rs`, providers in `providers.rs`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use wharf_model::{
    AccessLogConfig, AccessLogFormat, ApiConfig, ConfigIssue, EntryPoint, ForwardedHeaders,
    LogConfig, Origin, PingConfig, PrometheusConfig, StaticConfig,
};

use crate::decode::{
    boolean, check_keys, duration, float, integer, join, list, section_enabled, string, Issues,
};
use crate::node::Node;

mod access_log;
mod acme;
mod entry_point;
mod providers;

pub(crate) use providers::redis_connection;

use entry_point::entry_point;
use providers::providers;

const TOP: &[&str] = &[
    "entryPoints",
    "providers",
    "api",
    "ping",
    "metrics",
    "log",
    "accessLog",
    "global",
    "certificatesResolvers",
    "serversTransport",
];
const TOP_LATER: &[&str] = &[
    "tcpServersTransport",
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

    let cert_resolvers = root
        .get("certificatesResolvers")
        .map(|n| acme::cert_resolvers(n, &mut issues))
        .unwrap_or_default();
    let default_transport =
        wharf_model::QualifiedName::new("default", &wharf_model::ProviderName::new("internal"));
    let servers_transport = root
        .get("serversTransport")
        .and_then(|n| {
            crate::transport::transport(
                n,
                "serversTransport",
                default_transport.clone(),
                &mut issues,
            )
        })
        .unwrap_or_else(|| {
            wharf_model::ServersTransportSpec::new(default_transport, wharf_model::Origin::Default)
        });
    let mut config = StaticConfig {
        servers_transport,
        entry_points,
        providers,
        api,
        ping,
        metrics,
        log,
        access_log,
        cert_resolvers,
    };
    apply_defaults(&mut config, &mut issues);
    resolve_redirects(&mut config, &mut issues);
    for resolver in config.cert_resolvers.values() {
        if let Some(ep) = &resolver.acme.http_challenge {
            if !config.entry_points.contains_key(ep) {
                issues.push(
                    ConfigIssue::error(
                        resolver.origin.clone(),
                        format!("certificate resolver `{}`: httpChallenge entrypoint `{ep}` does not exist", resolver.name),
                    )
                    .with_hint_opt(crate::decode::nearest(ep, config.entry_points.keys().map(String::as_str)).map(|n| format!("did you mean `{n}`?"))),
                );
            }
        }
    }
    (config, issues.0)
}

pub(super) fn get_string(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Option<String> {
    n.get(key).and_then(|v| string(v, &join(path, key), issues))
}
pub(super) fn get_bool(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Option<bool> {
    n.get(key)
        .and_then(|v| boolean(v, &join(path, key), issues))
}
pub(super) fn get_duration(
    n: &Node,
    key: &str,
    path: &str,
    issues: &mut Issues,
) -> Option<Duration> {
    n.get(key)
        .and_then(|v| duration(v, &join(path, key), issues))
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
    let mut header_labels = Vec::new();
    if let Some(h) = p.get("headerLabels") {
        for (key, node) in h.entries() {
            let path = join("metrics.prometheus.headerLabels", &key.name);
            let Some(header) = string(node, &path, issues) else {
                continue;
            };
            if let Some(problem) = header_label_problem(&key.name, &header) {
                issues.push(
                    ConfigIssue::error(key.origin.clone(), format!("`{path}`: {problem}"))
                        .with_hint("map a Prometheus label name (letters, digits, `_`) to a request header name, e.g. `useragent: User-Agent`"),
                );
                continue;
            }
            header_labels.push((key.name.clone(), header));
        }
    }
    let add_internals = get_bool(n, "addInternals", "metrics", issues).unwrap_or(false);
    Some(PrometheusConfig {
        header_labels,
        add_internals,
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

/// Why a `headerLabels` entry cannot be used, if it cannot.
fn header_label_problem(label: &str, header: &str) -> Option<String> {
    let valid_label = label
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_label || label.starts_with("__") {
        return Some(format!("`{label}` is not a valid Prometheus label name"));
    }
    const TAKEN: &[&str] = &[
        "code",
        "method",
        "protocol",
        "entrypoint",
        "router",
        "service",
    ];
    if TAKEN.contains(&label) {
        return Some(format!(
            "the label `{label}` is already one of Traefik's own labels"
        ));
    }
    if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
        return Some(format!("`{header}` is not a valid header name"));
    }
    None
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
    for key in ["maxSize", "maxAge", "maxBackups", "compress"] {
        if let Some(v) = n.get(key) {
            issues.push(
                ConfigIssue::warning(
                    v.origin.clone(),
                    format!("`log.{key}` is not implemented by wharf: it does not rotate its own log"),
                )
                .with_hint("rotate the file with logrotate (or the like) and send wharf SIGUSR1 to reopen it"),
            );
        }
    }
    out.file_path = get_string(n, "filePath", "log", issues)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
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
        &["otlp", "dualOutput"],
        issues,
    );
    let p = "accessLog";
    let format = match get_string(n, "format", p, issues).as_deref() {
        None | Some("common") | Some("") => AccessLogFormat::Common,
        Some("genericCLF") => AccessLogFormat::GenericClf,
        Some("json") => AccessLogFormat::Json,
        Some(other) => {
            issues.push(
                ConfigIssue::error(
                    n.get("format")
                        .map_or(n.origin.clone(), |f| f.origin.clone()),
                    format!("`accessLog.format`: unknown format `{other}`"),
                )
                .with_hint("use common, genericCLF or json"),
            );
            AccessLogFormat::Common
        }
    };
    let buffering_size = n
        .get("bufferingSize")
        .and_then(|b| integer(b, "accessLog.bufferingSize", issues))
        .and_then(|b| u64::try_from(b).ok())
        .unwrap_or(0);
    AccessLogConfig {
        file_path: get_string(n, "filePath", p, issues)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
        format,
        buffering_size,
        filters: n
            .get("filters")
            .map(|f| access_log::filters(f, issues))
            .unwrap_or_default(),
        fields: n
            .get("fields")
            .map(|f| access_log::fields(f, issues))
            .unwrap_or_default(),
        add_internals: get_bool(n, "addInternals", p, issues).unwrap_or(false),
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
        request_accept_grace_timeout: Duration::ZERO,
        max_header_bytes: wharf_model::DEFAULT_MAX_HEADER_BYTES,
        underscore_headers: wharf_model::UnderscoreHeaders::Keep,
        tls: None,
        http2_max_concurrent_streams: 250,
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
