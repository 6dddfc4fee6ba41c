//! The API's documents and lists, rendered once per configuration in Traefik's shapes
//! (`/api/http/routers|services|middlewares`, `/api/entrypoints`, `/api/certificates`,
//! `/api/overview`, `/api/rawdata`, `/api/version`). Items that failed validation are listed
//! as `disabled` with their `error`, and wharf adds `errorDetails`: each problem's origin and
//! hint.

mod documents;
mod middlewares;
mod routers;
mod services;

use std::sync::Arc;

use serde_json::{json, Value};
use wharf_config::ProviderConfig;
use wharf_model::{ConfigIssue, DynamicConfig, Severity, StaticConfig};
use wharf_router::{ApiItem, ApiView};
use wharf_tls::TlsSnapshot;
use wharf_upstream::PoolRegistry;

/// What the API is rendered from.
pub struct ApiInputs<'a> {
    pub config: &'a Arc<DynamicConfig>,
    /// Each provider's configuration as read (the items validation dropped are there).
    pub raw: &'a [ProviderConfig],
    pub issues: &'a [ConfigIssue],
    pub statics: &'a StaticConfig,
    pub pools: &'a PoolRegistry,
    pub tls: &'a TlsSnapshot,
}

/// The problems an item has: issues whose message names it (`router `x@file``).
pub(crate) struct Problems {
    pub status: &'static str,
    pub error: Vec<String>,
    pub details: Vec<Value>,
}

pub(crate) fn problems(issues: &[ConfigIssue], kind: &str, name: &str, dropped: bool) -> Problems {
    if issues.is_empty() {
        return Problems {
            status: if dropped { "disabled" } else { "enabled" },
            error: Vec::new(),
            details: Vec::new(),
        };
    }
    let needle = format!("{kind} `{name}`");
    let mine: Vec<&ConfigIssue> = issues
        .iter()
        .filter(|i| i.message.contains(&needle))
        .collect();
    let status = if dropped {
        "disabled"
    } else if mine.iter().any(|i| i.severity == Severity::Warning) {
        "warning"
    } else {
        "enabled"
    };
    Problems {
        status,
        error: mine.iter().map(|i| i.message.clone()).collect(),
        details: mine.iter().map(|i| issue_json(i)).collect(),
    }
}

/// One problem as the API (and `wharf check --format=json`) shows it.
pub fn issue_json(i: &ConfigIssue) -> Value {
    let mut d = json!({
        "severity": if i.is_error() { "error" } else { "warning" },
        "message": i.message,
        "origin": i.origin.to_string(),
    });
    if let Some(hint) = &i.hint {
        d["hint"] = json!(hint);
    }
    d
}

impl Problems {
    /// Adds `status`, and `error` / `errorDetails` when there are problems.
    pub(crate) fn apply(self, v: &mut Value) {
        v["status"] = json!(self.status);
        if !self.error.is_empty() {
            v["error"] = json!(self.error);
            v["errorDetails"] = json!(self.details);
        }
    }
}

/// A service name as the user wrote it: unqualified when it is `provider`'s own.
pub(crate) fn as_written(service: &wharf_model::QualifiedName, provider: &str) -> String {
    if service.provider() == provider {
        service.name().to_string()
    } else {
        service.as_str().to_string()
    }
}

/// An item of a list, with its representation.
pub(crate) fn item(name: &str, json: Value) -> ApiItem {
    ApiItem {
        name: name.to_string(),
        provider: name
            .split_once('@')
            .map(|(_, p)| p)
            .unwrap_or_default()
            .to_string(),
        status: json["status"].as_str().unwrap_or_default().to_string(),
        rule: json["rule"].as_str().unwrap_or_default().to_string(),
        service: json["service"].as_str().unwrap_or_default().to_string(),
        middlewares: json["middlewares"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect(),
        priority: json["priority"].as_i64().unwrap_or_default(),
        entry_points: json["entryPoints"].as_array().map_or(0, Vec::len),
        json: json.into(),
    }
}

/// Renders the API for a configuration, with each server's health as the pools know it now.
pub fn render(inputs: &ApiInputs<'_>) -> Arc<ApiView> {
    // One copy of the issues for what is rendered when first read.
    let issues: Arc<[ConfigIssue]> = inputs.issues.into();
    let routers = routers::render(inputs, &issues);
    let services = services::render(inputs, &routers);
    let middlewares = middlewares::render(inputs, &routers);
    let mut view = ApiView::default();
    view.entry_points = documents::entry_points(inputs.statics);
    view.certificates = documents::certificates(inputs.tls);
    view.routers = routers;
    view.services = services;
    view.middlewares = middlewares;
    view.dashboard = inputs.statics.api.as_ref().is_some_and(|a| a.dashboard);
    for list in [&mut view.routers, &mut view.services, &mut view.middlewares] {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    view.set_documents(documents::renderer(inputs, issues));
    Arc::new(view)
}
