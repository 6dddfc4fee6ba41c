//! Services in the API: load balancers (Traefik's defaults filled in, each server's health),
//! composite services, Traefik's internal services, and the services validation dropped.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};
use wharf_config::RawService;
use wharf_model::{
    format_go_duration, CompositeKind, CompositeSpec, HealthCheckMode, QualifiedName, ServiceSpec,
    Strategy, WeightedChild,
};
use wharf_router::ApiItem;
use wharf_upstream::PoolRegistry;

use super::{as_written, item, problems, ApiInputs};

/// The routers (qualified names) that send to each service (qualified), disabled ones too.
fn used_by(routers: &[ApiItem]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in routers {
        if r.service.is_empty() {
            continue;
        }
        let service = if r.service.contains('@') {
            r.service.clone()
        } else {
            format!("{}@{}", r.service, r.provider)
        };
        out.entry(service).or_default().push(r.name.clone());
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

fn strategy(s: Strategy) -> &'static str {
    match s {
        Strategy::Wrr => "wrr",
        Strategy::P2c => "p2c",
        Strategy::Hrw => "hrw",
        Strategy::LeastTime => "leasttime",
    }
}

fn load_balancer(s: &ServiceSpec) -> Value {
    let servers: Vec<Value> = s
        .servers
        .iter()
        .map(|srv| {
            if srv.weight == 1 {
                json!({ "url": srv.url })
            } else {
                json!({ "url": srv.url, "weight": srv.weight })
            }
        })
        .collect();
    let mut lb = json!({
        "servers": servers,
        "strategy": strategy(s.strategy),
        "passHostHeader": s.pass_host_header,
        "responseForwarding": { "flushInterval": format_go_duration(s.flush_interval) },
    });
    if let Some(hc) = &s.health_check {
        let mut h = json!({
            "mode": match hc.mode { HealthCheckMode::Http => "http", HealthCheckMode::Grpc => "grpc" },
            "path": hc.path,
            "interval": format_go_duration(hc.interval),
            "timeout": format_go_duration(hc.timeout),
            "followRedirects": hc.follow_redirects,
        });
        if hc.method != "GET" {
            h["method"] = json!(hc.method);
        }
        if hc.unhealthy_interval != hc.interval {
            h["unhealthyInterval"] = json!(format_go_duration(hc.unhealthy_interval));
        }
        if let Some(port) = hc.port {
            h["port"] = json!(port);
        }
        if let Some(host) = &hc.hostname {
            h["hostname"] = json!(host);
        }
        if let Some(status) = hc.status {
            h["status"] = json!(status);
        }
        if !hc.headers.is_empty() {
            h["headers"] = json!(hc.headers.iter().cloned().collect::<BTreeMap<_, _>>());
        }
        lb["healthCheck"] = h;
    }
    if let Some(sticky) = &s.sticky {
        lb["sticky"] = json!({ "cookie": { "name": sticky.name, "secure": sticky.secure, "httpOnly": sticky.http_only } });
    }
    if s.transport.name.provider() != "internal" {
        lb["serversTransport"] = json!(s.transport.name.as_str());
    }
    lb
}

/// Each server's health, as the pool knows it now.
fn server_status(s: &ServiceSpec, pools: &PoolRegistry) -> HashMap<String, &'static str> {
    let pool = pools.get(&s.name);
    s.servers
        .iter()
        .enumerate()
        .map(|(i, srv)| {
            let up = pool
                .as_ref()
                .and_then(|p| p.states.get(i))
                .is_none_or(|st| st.available());
            (srv.url.clone(), if up { "UP" } else { "DOWN" })
        })
        .collect()
}

fn internal_services(inputs: &ApiInputs<'_>, used: &BTreeMap<String, Vec<String>>) -> Vec<ApiItem> {
    let statics = inputs.statics;
    let mut names = vec!["noop"];
    if statics.api.is_some() {
        names.push("api");
    }
    if statics.api.as_ref().is_some_and(|a| a.dashboard) {
        names.push("dashboard");
    }
    if statics.ping.is_some() {
        names.push("ping");
    }
    if statics.metrics.is_some() {
        names.push("prometheus");
    }
    names
        .into_iter()
        .map(|n| {
            let name = format!("{n}@internal");
            let mut v = json!({ "status": "enabled", "name": name, "provider": "internal" });
            if let Some(by) = used.get(&name) {
                v["usedBy"] = json!(by);
            }
            item(&name, v)
        })
        .collect()
}

pub(super) fn render(inputs: &ApiInputs<'_>, routers: &[ApiItem]) -> Vec<ApiItem> {
    let used = used_by(routers);
    let mut out = Vec::new();
    for s in inputs.config.services.values() {
        let mut v = json!({
            "loadBalancer": load_balancer(s),
            "name": s.name.as_str(),
            "provider": s.name.provider(),
            "type": "loadbalancer",
        });
        if let Some(by) = used.get(s.name.as_str()) {
            v["usedBy"] = json!(by);
            // Traefik reports server health once a router uses the service.
            v["serverStatus"] = json!(server_status(s, inputs.pools));
        }
        problems(inputs.issues, "service", s.name.as_str(), false).apply(&mut v);
        out.push(item(s.name.as_str(), v));
    }
    for c in inputs.config.composites.values() {
        let mut v = composite(c, used.get(c.name.as_str()).cloned().unwrap_or_default());
        problems(inputs.issues, "service", c.name.as_str(), false).apply(&mut v);
        out.push(item(c.name.as_str(), v));
    }
    for p in inputs.raw {
        for (name, raw) in &p.raw.services {
            let qualified = QualifiedName::new(name, &p.provider);
            if inputs.config.services.contains_key(&qualified)
                || inputs.config.composites.contains_key(&qualified)
            {
                continue;
            }
            let kind = match raw {
                RawService::LoadBalancer(_) => "loadbalancer",
                RawService::Composite(_) => "composite",
            };
            let mut v = json!({
                "name": qualified.as_str(),
                "provider": p.provider.as_str(),
                "type": kind,
            });
            if let Some(by) = used.get(qualified.as_str()) {
                v["usedBy"] = json!(by);
            }
            problems(inputs.issues, "service", qualified.as_str(), true).apply(&mut v);
            out.push(item(qualified.as_str(), v));
        }
    }
    out.extend(internal_services(inputs, &used));
    out
}

/// A composite service in Traefik's shape (`weighted.services`, `mirroring.mirrors`, ...).
fn composite(c: &CompositeSpec, used_by: Vec<String>) -> Value {
    let children = |list: &[WeightedChild]| {
        list.iter()
            .map(|w| json!({ "name": as_written(&w.service, c.name.provider()), "weight": w.weight }))
            .collect::<Vec<_>>()
    };
    let hc = |v: &mut Value| {
        if c.health_check {
            v["healthCheck"] = json!({});
        }
    };
    let (kind, mut body) = match &c.kind {
        CompositeKind::Weighted { children: list, .. } => {
            ("weighted", json!({ "services": children(list) }))
        }
        CompositeKind::HighestRandomWeight { children: list } => {
            ("highestRandomWeight", json!({ "services": children(list) }))
        }
        CompositeKind::Failover { main, fallback, .. } => (
            "failover",
            json!({ "service": as_written(main, c.name.provider()), "fallback": as_written(fallback, c.name.provider()) }),
        ),
        CompositeKind::Mirroring {
            main,
            mirrors,
            mirror_body,
            max_body_size,
        } => (
            "mirroring",
            json!({
                "service": as_written(main, c.name.provider()),
                "mirrorBody": mirror_body,
                "maxBodySize": max_body_size,
                "mirrors": mirrors.iter().map(|m| json!({ "name": as_written(&m.service, c.name.provider()), "percent": m.weight })).collect::<Vec<_>>(),
            }),
        ),
    };
    hc(&mut body);
    let mut v = json!({
        "name": c.name.as_str(),
        "provider": c.name.provider(),
        "type": kind.to_ascii_lowercase(),
    });
    v[kind] = body;
    if !used_by.is_empty() {
        v["usedBy"] = json!(used_by);
    }
    v
}
