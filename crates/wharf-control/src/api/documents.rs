//! The API's whole documents (`/api/overview`, `/api/rawdata`, `/api/version`) and the
//! entrypoint and certificate lists.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use serde_json::{json, Map, Value};
use wharf_model::{format_go_duration, ConfigIssue, EntryPoint, StaticConfig};
use wharf_router::{ApiItem, ApiView};
use wharf_tls::TlsSnapshot;

use super::{item, ApiInputs};

fn doc(value: &Value) -> Bytes {
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    Bytes::from(body)
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// When this process started serving its API (`startDate`).
fn start_date() -> &'static str {
    static START: OnceLock<String> = OnceLock::new();
    START.get_or_init(|| rfc3339(SystemTime::now()))
}

/// An entrypoint as Traefik shows it: its static configuration, defaults filled in.
fn entry_point(name: &str, ep: &EntryPoint) -> Value {
    let address = if ep.address.ip().is_unspecified() {
        format!(":{}", ep.address.port())
    } else {
        ep.address.to_string()
    };
    let mut life_cycle = json!({ "graceTimeOut": format_go_duration(ep.grace_timeout) });
    if !ep.request_accept_grace_timeout.is_zero() {
        life_cycle["requestAcceptGraceTimeout"] =
            json!(format_go_duration(ep.request_accept_grace_timeout));
    }
    let mut responding = json!({
        "readTimeout": format_go_duration(ep.read_timeout),
        "idleTimeout": format_go_duration(ep.idle_timeout),
    });
    if !ep.write_timeout.is_zero() {
        responding["writeTimeout"] = json!(format_go_duration(ep.write_timeout));
    }
    let mut forwarded = json!({});
    if ep.forwarded_headers.insecure {
        forwarded["insecure"] = json!(true);
    }
    if !ep.forwarded_headers.trusted_ips.is_empty() {
        forwarded["trustedIPs"] = json!(ep
            .forwarded_headers
            .trusted_ips
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>());
    }
    let mut http = json!({ "sanitizePath": true, "maxHeaderBytes": ep.max_header_bytes });
    if !ep.middlewares.is_empty() {
        http["middlewares"] = json!(ep.middlewares);
    }
    if let Some(r) = &ep.redirect {
        http["redirections"] = json!({ "entryPoint": {
            "to": r.to, "scheme": r.scheme, "permanent": r.permanent, "priority": r.priority,
        }});
    }
    if let Some(tls) = &ep.tls {
        http["tls"] = json!({ "options": tls.options });
    }
    json!({
        "address": address,
        "transport": { "lifeCycle": life_cycle, "respondingTimeouts": responding },
        "forwardedHeaders": forwarded,
        "http": http,
        "http2": {
            "maxConcurrentStreams": ep.http2_max_concurrent_streams,
            "maxDecoderHeaderTableSize": 4096,
            "maxEncoderHeaderTableSize": 4096,
        },
        "udp": { "timeout": "3s" },
        "name": name,
    })
}

pub(super) fn entry_points(statics: &StaticConfig) -> Vec<ApiItem> {
    statics
        .entry_points
        .iter()
        .map(|(name, ep)| item(name, entry_point(name, ep)))
        .collect()
}

pub(super) fn certificates(tls: &TlsSnapshot) -> Vec<ApiItem> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut out: Vec<ApiItem> = tls
        .store
        .configured()
        .iter()
        .map(|c| {
            let at = |secs: i64| {
                u64::try_from(secs)
                    .ok()
                    .and_then(|s| {
                        SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s))
                    })
                    .map(rfc3339)
                    .unwrap_or_default()
            };
            // Traefik: `warning` within 30 days of expiry.
            let status = if c.not_after < now {
                "expired"
            } else if c.not_after < now.saturating_add(30 * 86_400) {
                "warning"
            } else {
                "enabled"
            };
            item(
                &c.fingerprint,
                json!({
                    "name": c.fingerprint,
                    "certFingerprint": c.fingerprint,
                    "sans": c.names,
                    "commonName": c.common_name,
                    "issuerCN": c.issuer_common_name,
                    "serialNumber": c.serial,
                    "notBefore": at(c.not_before),
                    "notAfter": at(c.not_after),
                    "status": status,
                    "source": c.source,
                }),
            )
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `{total, warnings, errors}` of a list.
fn counts(items: &[ApiItem]) -> Value {
    let n = |status: &str| items.iter().filter(|i| i.status == status).count();
    json!({ "total": items.len(), "warnings": n("warning"), "errors": n("disabled") })
}

/// A list keyed by name, without the fields `rawdata` does not show.
fn raw_map(items: &[ApiItem]) -> Value {
    let mut out = Map::new();
    for i in items {
        let mut v = i.json.get().clone();
        if let Some(o) = v.as_object_mut() {
            for k in ["name", "provider", "priorityStr", "type"] {
                o.remove(k);
            }
        }
        out.insert(i.name.clone(), v);
    }
    Value::Object(out)
}

/// What the whole documents show besides the view's lists.
struct Sources {
    providers: Vec<&'static str>,
    metrics: bool,
    access_log: bool,
    /// wharf's own: every current problem with its origin and hint (the dashboard's list).
    issues: Arc<[ConfigIssue]>,
}

/// Renders the whole documents of a view from what they need of `inputs` (kept until then).
pub(super) fn renderer(
    inputs: &ApiInputs<'_>,
    issues: Arc<[ConfigIssue]>,
) -> wharf_router::DocumentsRenderer {
    let statics = inputs.statics;
    let mut providers = Vec::new();
    if statics.providers.docker.is_some() {
        providers.push("Docker");
    }
    if statics.providers.file.is_some() {
        providers.push("File");
    }
    // startDate is when the API was first served, not when it was first read.
    let _ = start_date();
    let sources = Sources {
        providers,
        metrics: statics.metrics.is_some(),
        access_log: statics.access_log.is_some(),
        issues,
    };
    Box::new(move |view| documents(&sources, view))
}

fn documents(sources: &Sources, view: &ApiView) -> HashMap<String, Bytes> {
    let zero = json!({ "total": 0, "warnings": 0, "errors": 0 });
    let cert_counts = {
        let n = |s: &str| view.certificates.iter().filter(|c| c.status == s).count();
        json!({ "total": view.certificates.len(), "warnings": n("warning"), "errors": n("expired") })
    };
    let overview = json!({
        "http": {
            "routers": counts(&view.routers),
            "services": counts(&view.services),
            "middlewares": counts(&view.middlewares),
        },
        "tcp": { "routers": zero, "services": zero, "middlewares": zero },
        "udp": { "routers": zero, "services": zero },
        "certificates": cert_counts,
        "features": {
            "tracing": "",
            "metrics": if sources.metrics { "Prometheus" } else { "" },
            "accessLog": sources.access_log,
        },
        "providers": sources.providers,
    });
    let mut raw = Map::new();
    for (key, list) in [
        ("routers", &view.routers),
        ("middlewares", &view.middlewares),
        ("services", &view.services),
    ] {
        if !list.is_empty() {
            raw.insert(key.to_string(), raw_map(list));
        }
    }
    let version = json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Codename": "wharf",
        "startDate": start_date(),
    });
    let issues: Vec<Value> = sources.issues.iter().map(super::issue_json).collect();
    HashMap::from([
        ("/api/wharf/issues".to_string(), doc(&json!(issues))),
        ("/api/overview".to_string(), doc(&overview)),
        ("/api/rawdata".to_string(), doc(&Value::Object(raw))),
        ("/api/version".to_string(), doc(&version)),
    ])
}
