//! `loadBalancer.healthCheck` and `passiveHealthCheck`, with Traefik's defaults.

use std::time::Duration;

use wharf_model::{
    ConfigIssue, HealthCheckMode, HealthCheckSpec, PassiveHealthCheckSpec, UpstreamScheme,
};

use crate::decode::{boolean, check_keys, duration, error_at, integer, join, string, Issues};
use crate::node::{Node, NodeValue};

/// Traefik's defaults (`dynamic.DefaultHealthCheck*`).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_FAILURE_WINDOW: Duration = Duration::from_secs(10);

fn positive(node: &Node, path: &str, issues: &mut Issues) -> Option<Duration> {
    let d = duration(node, path, issues)?;
    if d.is_zero() {
        issues.push(
            ConfigIssue::error(node.origin.clone(), format!("`{path}` must be positive"))
                .with_hint("e.g. 10s"),
        );
        return None;
    }
    Some(d)
}

/// `healthCheck`: None (reported) when an option is invalid.
pub(crate) fn health_check(node: &Node, hp: &str, issues: &mut Issues) -> Option<HealthCheckSpec> {
    if !check_keys(
        node,
        hp,
        &[
            "path",
            "method",
            "scheme",
            "port",
            "hostname",
            "headers",
            "status",
            "interval",
            "unhealthyInterval",
            "timeout",
            "followRedirects",
            "mode",
        ],
        &[],
        issues,
    ) {
        return None;
    }
    let before = issues.0.len();
    let text = |key: &str, issues: &mut Issues| {
        node.get(key)
            .and_then(|v| string(v, &join(hp, key), issues))
            .filter(|s| !s.is_empty())
    };
    let mode = match text("mode", issues) {
        None => HealthCheckMode::Http,
        Some(m) if m.eq_ignore_ascii_case("http") => HealthCheckMode::Http,
        Some(m) if m.eq_ignore_ascii_case("grpc") => HealthCheckMode::Grpc,
        Some(m) => {
            let message = format!("`{hp}.mode: {m}` is not a health-check mode");
            error_at(node, "mode", issues, message, Some("use http or grpc"));
            HealthCheckMode::Http
        }
    };
    let path = text("path", issues).unwrap_or_default();
    if mode == HealthCheckMode::Http {
        if path.is_empty() {
            issues.push(
                ConfigIssue::error(node.origin.clone(), format!("`{hp}` has no path"))
                    .with_hint("set the path to check, e.g. `path: /health`"),
            );
        } else if !path.starts_with('/') {
            let message = format!("`{hp}.path: {path}` must be a relative URL starting with `/`");
            let hint = "the check goes to each server's own address; e.g. `/health?full=1`";
            error_at(node, "path", issues, message, Some(hint));
        }
    }
    let scheme = text("scheme", issues).and_then(|s| {
        let scheme = UpstreamScheme::from_name(&s.to_ascii_lowercase());
        if scheme.is_none() {
            let message = format!("`{hp}.scheme: {s}` is not supported");
            error_at(
                node,
                "scheme",
                issues,
                message,
                Some("use http, https or h2c"),
            );
        }
        scheme
    });
    let port = match node.get("port") {
        None => None,
        Some(p) => match integer(p, &join(hp, "port"), issues) {
            Some(0) | None => None,
            Some(v) => match u16::try_from(v) {
                Ok(v) => Some(v),
                Err(_) => {
                    issues.error(
                        &p.origin,
                        format!("`{hp}.port: {v}` is not a port (1-65535)"),
                    );
                    None
                }
            },
        },
    };
    let status = match node.get("status") {
        None => None,
        Some(s) => match integer(s, &join(hp, "status"), issues) {
            Some(0) | None => None,
            Some(v) if (100..=599).contains(&v) => u16::try_from(v).ok(),
            Some(v) => {
                issues.error(
                    &s.origin,
                    format!("`{hp}.status: {v}` is not an HTTP status"),
                );
                None
            }
        },
    };
    let mut headers = Vec::new();
    if let Some(h) = node.get("headers") {
        match &h.value {
            NodeValue::Map(entries) => {
                for (k, v) in entries {
                    let hpath = join(&join(hp, "headers"), &k.name);
                    if http::HeaderName::from_bytes(k.name.as_bytes()).is_err() {
                        issues.error(&k.origin, format!("`{hpath}`: not a header name"));
                        continue;
                    }
                    if let Some(value) = string(v, &hpath, issues) {
                        if http::HeaderValue::from_str(&value).is_err() {
                            issues.error(&v.origin, format!("`{hpath}`: not a header value"));
                            continue;
                        }
                        headers.push((k.name.clone(), value));
                    }
                }
            }
            NodeValue::Null => {}
            _ => issues.error(
                &h.origin,
                format!("`{hp}.headers` must be a map of names to values"),
            ),
        }
    }
    let method = text("method", issues).unwrap_or_else(|| "GET".to_string());
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        let message = format!("`{hp}.method: {method}` is not an HTTP method");
        error_at(node, "method", issues, message, None);
    }
    let interval = match node.get("interval") {
        Some(i) => positive(i, &join(hp, "interval"), issues),
        None => Some(DEFAULT_INTERVAL),
    };
    let unhealthy_interval = match node.get("unhealthyInterval") {
        Some(i) => positive(i, &join(hp, "unhealthyInterval"), issues),
        None => interval,
    };
    let timeout = match node.get("timeout") {
        Some(t) => positive(t, &join(hp, "timeout"), issues),
        None => Some(DEFAULT_TIMEOUT),
    };
    let follow_redirects = node
        .get("followRedirects")
        .and_then(|f| boolean(f, &join(hp, "followRedirects"), issues))
        .unwrap_or(true);
    if issues.has_errors_since(before) {
        return None;
    }
    Some(HealthCheckSpec {
        path,
        method: method.to_ascii_uppercase(),
        scheme,
        port,
        hostname: text("hostname", issues),
        headers,
        status,
        interval: interval?,
        unhealthy_interval: unhealthy_interval?,
        timeout: timeout?,
        follow_redirects,
        mode,
    })
}

pub(crate) fn passive(
    node: &Node,
    pp: &str,
    issues: &mut Issues,
) -> Option<PassiveHealthCheckSpec> {
    if !check_keys(
        node,
        pp,
        &["failureWindow", "maxFailedAttempts"],
        &[],
        issues,
    ) {
        return None;
    }
    let failure_window = match node.get("failureWindow") {
        Some(w) => positive(w, &join(pp, "failureWindow"), issues)?,
        None => DEFAULT_FAILURE_WINDOW,
    };
    let max_failed_attempts = match node.get("maxFailedAttempts") {
        None => 1,
        Some(m) => match integer(m, &join(pp, "maxFailedAttempts"), issues)? {
            v if v >= 1 => u32::try_from(v).unwrap_or(u32::MAX),
            v => {
                issues.push(
                    ConfigIssue::error(
                        m.origin.clone(),
                        format!("`{pp}.maxFailedAttempts: {v}` must be 1 or more"),
                    )
                    .with_hint(
                        "the number of failures within failureWindow that take a server out",
                    ),
                );
                return None;
            }
        },
    };
    Some(PassiveHealthCheckSpec {
        failure_window,
        max_failed_attempts,
    })
}
