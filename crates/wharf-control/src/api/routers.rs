//! Routers in the API: the configuration's (enabled, or `warning`), the ones validation
//! dropped (`disabled`, as read), and Traefik's internal ones.

use std::sync::Arc;

use serde_json::{json, Value};
use wharf_config::RawRouter;
use wharf_model::{
    ConfigIssue, DynamicConfig, QualifiedName, RouterObservability, RouterSpec, StaticConfig,
};
use wharf_router::{ApiItem, ItemJson};

use super::{as_written, item, problems, ApiInputs};

fn observability(o: RouterObservability) -> Value {
    json!({
        "accessLogs": o.access_logs,
        "metrics": o.metrics,
        "tracing": true,
        "traceVerbosity": "minimal",
    })
}

fn sorted(list: &[String]) -> Vec<String> {
    let mut v = list.to_vec();
    v.sort();
    v
}

/// What the configuration's routers are rendered from when first read.
struct Sources {
    config: Arc<DynamicConfig>,
    issues: Arc<[ConfigIssue]>,
}

/// A router of the configuration: what lists filter and sort on now, its representation
/// when first read.
fn enabled(r: &RouterSpec, inputs: &ApiInputs<'_>, sources: &Arc<Sources>) -> ApiItem {
    let name = r.name.as_str();
    let json = {
        let sources = sources.clone();
        let name = r.name.clone();
        ItemJson::lazy(move || {
            sources
                .config
                .routers
                .get(&name)
                .map_or(Value::Null, |r| enabled_json(r, &sources.issues))
        })
    };
    ApiItem {
        name: name.to_string(),
        provider: r.provider.as_str().to_string(),
        status: problems(inputs.issues, "router", name, false)
            .status
            .to_string(),
        rule: r.rule_source.clone(),
        service: as_written(&r.service, r.provider.as_str()),
        middlewares: r
            .middlewares
            .iter()
            .map(|m| m.as_str().to_string())
            .collect(),
        priority: r.priority,
        entry_points: r.entry_points.len(),
        json,
    }
}

fn enabled_json(r: &RouterSpec, issues: &[ConfigIssue]) -> Value {
    let mut v = json!({
        "entryPoints": r.entry_points,
        "service": as_written(&r.service, r.provider.as_str()),
        "rule": r.rule_source,
        "priority": r.priority,
        "priorityStr": r.priority.to_string(),
        "observability": observability(r.observability),
        "using": sorted(&r.entry_points),
        "name": r.name.as_str(),
        "provider": r.provider.as_str(),
    });
    if !r.middlewares.is_empty() {
        v["middlewares"] = json!(r.middlewares.iter().map(|m| m.as_str()).collect::<Vec<_>>());
    }
    if let Some(tls) = &r.tls {
        let mut t = json!({ "options": tls.options });
        if let Some(resolver) = &tls.cert_resolver {
            t["certResolver"] = json!(resolver);
        }
        if !tls.domains.is_empty() {
            t["domains"] = json!(tls
                .domains
                .iter()
                .map(|d| if d.sans.is_empty() {
                    json!({ "main": d.main })
                } else {
                    json!({ "main": d.main, "sans": d.sans })
                })
                .collect::<Vec<_>>());
        }
        v["tls"] = t;
    }
    problems(issues, "router", r.name.as_str(), false).apply(&mut v);
    v
}

/// A router validation dropped, as it was written.
fn disabled(name: &str, provider: &str, raw: &RawRouter, inputs: &ApiInputs<'_>) -> ApiItem {
    let entry_points: Vec<String> = match &raw.entry_points {
        Some(list) => list.iter().map(|e| e.value.clone()).collect(),
        None => wharf_config::default_entry_points(inputs.statics),
    };
    let rule = raw
        .rule
        .as_ref()
        .map(|r| r.value.clone())
        .unwrap_or_default();
    let priority = raw.priority.as_ref().map_or_else(
        || i64::try_from(rule.len()).unwrap_or(i64::MAX),
        |p| p.value,
    );
    let mut v = json!({
        "entryPoints": entry_points,
        "rule": rule,
        "priority": priority,
        "priorityStr": priority.to_string(),
        "observability": observability(raw.observability),
        "using": sorted(&entry_points),
        "name": name,
        "provider": provider,
    });
    if let Some(service) = &raw.service {
        v["service"] = json!(service.value);
    }
    if !raw.middlewares.is_empty() {
        let provider_name = wharf_model::ProviderName::new(provider);
        v["middlewares"] = json!(raw
            .middlewares
            .iter()
            .map(|m| QualifiedName::resolve(&m.value, &provider_name)
                .as_str()
                .to_string())
            .collect::<Vec<_>>());
    }
    problems(inputs.issues, "router", name, true).apply(&mut v);
    item(name, v)
}

/// Traefik's internal routers for this static configuration.
fn internal(statics: &StaticConfig) -> Vec<ApiItem> {
    let mut out = Vec::new();
    let mut add = |name: &str, ep: &str, rule: &str, priority: i64, service: &str| {
        let qualified = format!("{name}@internal");
        out.push(item(
            &qualified,
            json!({
                "entryPoints": [ep],
                "service": service,
                "rule": rule,
                "ruleSyntax": "default",
                "priority": priority,
                "priorityStr": priority.to_string(),
                "observability": observability(RouterObservability::default()),
                "status": "enabled",
                "using": [ep],
                "name": qualified,
                "provider": "internal",
            }),
        ));
    };
    if statics.api.as_ref().is_some_and(|a| a.insecure) {
        add(
            "api",
            "traefik",
            "PathPrefix(`/api`)",
            i64::MAX - 1,
            "api@internal",
        );
    }
    if statics
        .api
        .as_ref()
        .is_some_and(|a| a.insecure && a.dashboard)
    {
        add(
            "dashboard",
            "traefik",
            "PathPrefix(`/`)",
            i64::MAX - 2,
            "dashboard@internal",
        );
    }
    if let Some(p) = statics.ping.as_ref().filter(|p| !p.manual_routing) {
        add(
            "ping",
            &p.entry_point,
            "PathPrefix(`/ping`)",
            i64::MAX,
            "ping@internal",
        );
    }
    if let Some(m) = statics.metrics.as_ref().filter(|m| !m.manual_routing) {
        add(
            "prometheus",
            &m.entry_point,
            "PathPrefix(`/metrics`)",
            i64::MAX,
            "prometheus@internal",
        );
    }
    for (name, ep) in &statics.entry_points {
        if let Some(r) = &ep.redirect {
            let router = format!("{name}-to-{}", r.to.trim_start_matches(':'));
            add(
                &router,
                name,
                "HostRegexp(`^.+$`)",
                r.priority,
                "noop@internal",
            );
        }
    }
    if let Some(d) = out.iter_mut().find(|i| i.name == "dashboard@internal") {
        let mws = [
            "dashboard_redirect@internal",
            "dashboard_stripprefix@internal",
        ];
        d.json.get_mut()["middlewares"] = json!(mws);
        d.middlewares = mws.iter().map(|m| m.to_string()).collect();
    }
    out
}

pub(super) fn render(inputs: &ApiInputs<'_>, issues: &Arc<[ConfigIssue]>) -> Vec<ApiItem> {
    let sources = Arc::new(Sources {
        config: inputs.config.clone(),
        issues: issues.clone(),
    });
    let mut out: Vec<ApiItem> = inputs
        .config
        .routers
        .values()
        .map(|r| enabled(r, inputs, &sources))
        .collect();
    for p in inputs.raw {
        for (name, raw) in &p.raw.routers {
            let qualified = QualifiedName::new(name, &p.provider);
            if !inputs.config.routers.contains_key(&qualified) {
                out.push(disabled(
                    qualified.as_str(),
                    p.provider.as_str(),
                    raw,
                    inputs,
                ));
            }
        }
    }
    out.extend(internal(inputs.statics));
    out
}
