//! The API's documents, rendered once per configuration in Traefik's shapes
//! (`/api/http/routers`, `/api/http/services`, `/api/version`). The full API (pagination,
//! single items, overview, entrypoints, middlewares) belongs to the API issue.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Value};
use wharf_model::{CompositeKind, CompositeSpec, DynamicConfig, WeightedChild};
use wharf_router::ApiView;
use wharf_upstream::PoolRegistry;

fn doc(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

/// Renders the documents for `config`, with each server's health as `pools` know it now.
pub fn render(config: &DynamicConfig, pools: &PoolRegistry) -> Arc<ApiView> {
    let mut used_by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let routers: Vec<Value> = config
        .routers
        .values()
        .map(|r| {
            used_by
                .entry(r.service.as_str())
                .or_default()
                .push(r.name.as_str());
            let mut v = json!({
                "entryPoints": r.entry_points,
                "service": if r.service.provider() == r.provider.as_str() { r.service.name() } else { r.service.as_str() },
                "rule": r.rule_source,
                "priority": r.priority,
                "priorityStr": r.priority.to_string(),
                "status": "enabled",
                "using": r.entry_points,
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
            v
        })
        .collect();
    let services: Vec<Value> = config
        .services
        .values()
        .map(|s| {
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
            let pool = pools.get(&s.name);
            let status: HashMap<&str, &str> = s
                .servers
                .iter()
                .enumerate()
                .map(|(i, srv)| {
                    let up = pool
                        .as_ref()
                        .and_then(|p| p.states.get(i))
                        .is_none_or(|st| st.available());
                    (srv.url.as_str(), if up { "UP" } else { "DOWN" })
                })
                .collect();
            json!({
                "loadBalancer": { "servers": servers, "passHostHeader": s.pass_host_header },
                "status": "enabled",
                "usedBy": used_by.get(s.name.as_str()).cloned().unwrap_or_default(),
                "serverStatus": status,
                "name": s.name.as_str(),
                "provider": s.name.provider(),
                "type": "loadbalancer",
            })
        })
        .collect();
    let mut services = services;
    services.extend(
        config
            .composites
            .values()
            .map(|c| composite(c, used_by.get(c.name.as_str()).cloned().unwrap_or_default())),
    );
    services.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut documents = HashMap::new();
    documents.insert("/api/http/routers".to_string(), doc(&json!(routers)));
    documents.insert("/api/http/services".to_string(), doc(&json!(services)));
    documents.insert(
        "/api/version".to_string(),
        doc(&json!({ "Version": env!("CARGO_PKG_VERSION"), "Codename": "wharf" })),
    );
    Arc::new(ApiView { documents })
}

/// A composite service in Traefik's shape (`weighted.services`, `mirroring.mirrors`, ...).
fn composite(c: &CompositeSpec, used_by: Vec<&str>) -> Value {
    let children = |list: &[WeightedChild]| {
        list.iter()
            .map(|w| json!({ "name": w.service.as_str(), "weight": w.weight }))
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
            json!({ "service": main.as_str(), "fallback": fallback.as_str() }),
        ),
        CompositeKind::Mirroring {
            main,
            mirrors,
            mirror_body,
            max_body_size,
        } => (
            "mirroring",
            json!({
                "service": main.as_str(),
                "mirrorBody": mirror_body,
                "maxBodySize": max_body_size,
                "mirrors": mirrors.iter().map(|m| json!({ "name": m.service.as_str(), "percent": m.weight })).collect::<Vec<_>>(),
            }),
        ),
    };
    hc(&mut body);
    let mut v = json!({
        "status": "enabled",
        "usedBy": used_by,
        "name": c.name.as_str(),
        "provider": c.name.provider(),
        "type": kind.to_ascii_lowercase(),
    });
    v[kind] = body;
    v
}
