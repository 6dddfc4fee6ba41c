//! One provider's dynamic configuration tree -> [`RawDynamicConfig`]: still unvalidated
//! (references unresolved, rules unparsed), but shaped, with every value's origin. An item
//! whose shape is wrong is dropped here, alone, with a located issue.

use std::collections::BTreeMap;

use wharf_model::{ConfigIssue, Origin};

use crate::decode::{check_keys, integer, join, list, string, Issues};
use crate::middlewares::{check_options, KINDS};
use crate::node::{Node, NodeValue};
pub use crate::services::{RawLoadBalancer, RawServer, RawService, RawStickyCookie};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRouter {
    pub origin: Origin,
    pub rule: Option<Sourced<String>>,
    pub entry_points: Option<Vec<Sourced<String>>>,
    pub middlewares: Vec<Sourced<String>>,
    pub service: Option<Sourced<String>>,
    pub priority: Option<Sourced<i64>>,
    pub tls: Option<crate::tls::RawRouterTls>,
    pub observability: wharf_model::RouterObservability,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawMiddleware {
    pub origin: Origin,
    pub kind: String,
    /// The type's options, decoded when providers are merged.
    pub body: Node,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawDynamicConfig {
    pub routers: BTreeMap<String, RawRouter>,
    pub services: BTreeMap<String, RawService>,
    pub middlewares: BTreeMap<String, RawMiddleware>,
    /// `http.serversTransports`, decoded when providers are merged (names get qualified).
    pub servers_transports: BTreeMap<String, Node>,
    pub tls: crate::tls::RawTls,
}

/// Decodes one provider's tree (a file's YAML, or labels lowered into the same shape).
pub fn decode_dynamic(root: &Node) -> (RawDynamicConfig, Vec<ConfigIssue>) {
    let mut issues = Issues::default();
    let mut out = RawDynamicConfig::default();
    check_keys(root, "", &["http", "tls"], &["tcp", "udp"], &mut issues);
    if let Some(tls) = root.get("tls") {
        out.tls = crate::tls::decode_tls(tls, &mut issues);
    }
    let Some(http) = root.get("http") else {
        return (out, issues.0);
    };
    if !check_keys(
        http,
        "http",
        &["routers", "services", "middlewares", "serversTransports"],
        &[],
        &mut issues,
    ) {
        return (out, issues.0);
    }
    if let Some(st) = http.get("serversTransports") {
        match &st.value {
            NodeValue::Map(entries) => {
                for (key, body) in entries {
                    out.servers_transports
                        .insert(key.name.clone(), body.clone());
                }
            }
            NodeValue::Null => {}
            _ => issues.error(
                &st.origin,
                "`http.serversTransports` must be a map of names to definitions",
            ),
        }
    }
    for (section, node) in [
        ("routers", http.get("routers")),
        ("services", http.get("services")),
        ("middlewares", http.get("middlewares")),
    ] {
        let Some(node) = node else { continue };
        let path = join("http", section);
        match &node.value {
            NodeValue::Map(entries) => {
                for (key, item) in entries {
                    let item_path = join(&path, &key.name);
                    let mut local = Issues::default();
                    match section {
                        "routers" => {
                            if let Some(r) = router(item, &key.origin, &item_path, &mut local) {
                                if !local.has_errors() {
                                    out.routers.insert(key.name.clone(), r);
                                }
                            }
                        }
                        "services" => {
                            if let Some(s) =
                                crate::services::service(item, &key.origin, &item_path, &mut local)
                            {
                                if !local.has_errors() {
                                    out.services.insert(key.name.clone(), s);
                                }
                            }
                        }
                        _ => {
                            if let Some(m) = middleware(item, &item_path, &mut local) {
                                if !local.has_errors() {
                                    out.middlewares.insert(key.name.clone(), m);
                                }
                            }
                        }
                    }
                    if local.has_errors() {
                        let what = &section[..section.len() - 1];
                        local.push(ConfigIssue::error(
                            key.origin.clone(),
                            format!(
                                "{what} `{}` is dropped because of the error(s) above",
                                key.name
                            ),
                        ));
                    }
                    issues.0.extend(local.0);
                }
            }
            NodeValue::Null => {}
            _ => issues.error(
                &node.origin,
                format!(
                    "`{path}` must be a map of names to definitions, found {}",
                    node.kind()
                ),
            ),
        }
    }
    (out, issues.0)
}

fn sourced_string(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Option<Sourced<String>> {
    let v = n.get(key)?;
    string(v, &join(path, key), issues).map(|value| Sourced {
        value,
        origin: v.origin.clone(),
    })
}

fn sourced_list(
    n: &Node,
    key: &str,
    path: &str,
    issues: &mut Issues,
) -> Option<Vec<Sourced<String>>> {
    let v = n.get(key)?;
    list(v, &join(path, key), issues).map(|items| {
        items
            .into_iter()
            .map(|(value, origin)| Sourced { value, origin })
            .collect()
    })
}

fn router(n: &Node, origin: &Origin, path: &str, issues: &mut Issues) -> Option<RawRouter> {
    if !check_keys(
        n,
        path,
        &[
            "rule",
            "entryPoints",
            "middlewares",
            "service",
            "priority",
            "tls",
            "ruleSyntax",
            "observability",
        ],
        &[],
        issues,
    ) {
        return None;
    }
    if let Some(syntax) = sourced_string(n, "ruleSyntax", path, issues) {
        if syntax.value != "v3" && !syntax.value.is_empty() {
            issues.push(
                ConfigIssue::error(
                    syntax.origin,
                    format!("`{path}.ruleSyntax: {}` is not supported: wharf implements the v3 rule syntax", syntax.value),
                )
                .with_hint("rewrite the rule in v3 syntax, e.g. Host(`a`) || Host(`b`) for v2 Host(`a`,`b`)"),
            );
        }
    }
    let priority = n.get("priority").and_then(|p| {
        integer(p, &join(path, "priority"), issues).map(|value| Sourced {
            value,
            origin: p.origin.clone(),
        })
    });
    let tls = n
        .get("tls")
        .and_then(|t| crate::tls::router_tls(t, &join(path, "tls"), issues));
    let observability = n
        .get("observability")
        .map(|o| observability(o, &join(path, "observability"), issues))
        .unwrap_or_default();
    Some(RawRouter {
        observability,
        origin: origin.clone(),
        rule: sourced_string(n, "rule", path, issues),
        entry_points: sourced_list(n, "entryPoints", path, issues),
        middlewares: sourced_list(n, "middlewares", path, issues).unwrap_or_default(),
        service: sourced_string(n, "service", path, issues),
        priority,
        tls,
    })
}

/// A router's `observability`: `accessLogs` and `metrics` switch those signals; wharf has no
/// tracing, so `tracing` and `traceVerbosity` are accepted and have no effect.
fn observability(n: &Node, path: &str, issues: &mut Issues) -> wharf_model::RouterObservability {
    check_keys(
        n,
        path,
        &["accessLogs", "metrics", "tracing", "traceVerbosity"],
        &[],
        issues,
    );
    let switch = |key: &str, issues: &mut Issues| {
        n.get(key)
            .and_then(|v| crate::decode::boolean(v, &join(path, key), issues))
            .unwrap_or(true)
    };
    wharf_model::RouterObservability {
        access_logs: switch("accessLogs", issues),
        metrics: switch("metrics", issues),
    }
}

fn middleware(n: &Node, path: &str, issues: &mut Issues) -> Option<RawMiddleware> {
    check_keys(n, path, KINDS, &[], issues);
    let entries = n.entries();
    if entries.len() != 1 {
        issues.error(
            &n.origin,
            format!(
                "middleware `{path}` must have exactly one type, found {}",
                entries.len()
            ),
        );
        return None;
    }
    let (key, body) = &entries[0];
    let kind = KINDS.iter().find(|k| k.eq_ignore_ascii_case(&key.name))?;
    check_options(kind, body, path, issues);
    Some(RawMiddleware {
        origin: key.origin.clone(),
        kind: (*kind).to_string(),
        body: body.clone(),
    })
}
