//! `http.services.<name>`: a load balancer's shape and options, decoded with Traefik's
//! defaults. References (the transport) and the sticky cookie's default name are resolved when
//! providers are merged.

use std::time::Duration;

use wharf_model::{
    ConfigIssue, HealthCheckSpec, Origin, PassiveHealthCheckSpec, SameSite, Strategy,
};

use crate::decode::{boolean, check_keys, duration, integer, join, key_origin, string, Issues};
use crate::dynamic::Sourced;
use crate::node::{Node, NodeValue};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawServer {
    pub url: Sourced<String>,
    pub weight: u32,
    pub preserve_path: bool,
}

/// `sticky.cookie` before its default name is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawStickyCookie {
    pub name: Option<String>,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<SameSite>,
    pub max_age: i64,
    pub path: String,
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLoadBalancer {
    pub origin: Origin,
    pub servers: Vec<RawServer>,
    pub pass_host_header: bool,
    pub strategy: Strategy,
    pub health_check: Option<HealthCheckSpec>,
    pub passive_health_check: Option<PassiveHealthCheckSpec>,
    pub sticky: Option<RawStickyCookie>,
    pub flush_interval: Duration,
    pub servers_transport: Option<Sourced<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawService {
    LoadBalancer(Box<RawLoadBalancer>),
    Composite(Box<crate::composite::RawComposite>),
}

impl RawService {
    pub fn origin(&self) -> &Origin {
        match self {
            RawService::LoadBalancer(lb) => &lb.origin,
            RawService::Composite(c) => &c.origin,
        }
    }
}

const COMPOSITE_KINDS: &[&str] = &["weighted", "mirroring", "failover", "highestRandomWeight"];

pub(crate) fn service(
    n: &Node,
    origin: &Origin,
    path: &str,
    issues: &mut Issues,
) -> Option<RawService> {
    let mut kinds = vec!["loadBalancer"];
    kinds.extend(COMPOSITE_KINDS);
    if !check_keys(n, path, &kinds, &[], issues) {
        return None;
    }
    let entries = n.entries();
    if entries.len() != 1 {
        issues.push(
            ConfigIssue::error(
                n.origin.clone(),
                format!(
                    "service `{path}` must have exactly one type, found {}",
                    entries.len()
                ),
            )
            .with_hint(
                "define one of: loadBalancer, weighted, mirroring, failover, highestRandomWeight",
            ),
        );
        return None;
    }
    let (key, body) = &entries[0];
    if !key.name.eq_ignore_ascii_case("loadBalancer") {
        let kind = COMPOSITE_KINDS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(&key.name))?;
        return crate::composite::composite(kind, body, origin, &join(path, kind), issues)
            .map(|c| RawService::Composite(Box::new(c)));
    }
    load_balancer(body, origin, &join(path, "loadBalancer"), issues)
        .map(|lb| RawService::LoadBalancer(Box::new(lb)))
}

fn load_balancer(
    body: &Node,
    origin: &Origin,
    lp: &str,
    issues: &mut Issues,
) -> Option<RawLoadBalancer> {
    check_keys(
        body,
        lp,
        &[
            "servers",
            "passHostHeader",
            "strategy",
            "healthCheck",
            "passiveHealthCheck",
            "sticky",
            "responseForwarding",
            "serversTransport",
        ],
        &[],
        issues,
    );
    let strategy = match body.get("strategy") {
        None => Strategy::Wrr,
        Some(node) => {
            let value = string(node, &join(lp, "strategy"), issues)?;
            match Strategy::parse(&value) {
                Some(s) => s,
                None => {
                    issues.push(
                        ConfigIssue::error(
                            node.origin.clone(),
                            format!("`{lp}.strategy: {value}` is not a load-balancing strategy"),
                        )
                        .with_hint(format!("use one of: {}", Strategy::NAMES.join(", "))),
                    );
                    return None;
                }
            }
        }
    };
    let servers = servers(body, lp, issues);
    let health_check = match body.get("healthCheck") {
        Some(node) => Some(crate::health_check::health_check(
            node,
            &join(lp, "healthCheck"),
            issues,
        )?),
        None => None,
    };
    let passive_health_check = match body.get("passiveHealthCheck") {
        Some(node) => Some(crate::health_check::passive(
            node,
            &join(lp, "passiveHealthCheck"),
            issues,
        )?),
        None => None,
    };
    let sticky = match body.get("sticky") {
        Some(node) => sticky(node, &join(lp, "sticky"), issues),
        None => None,
    };
    let mut flush_interval = Duration::from_millis(100);
    if let Some(rf) = body.get("responseForwarding") {
        let rp = join(lp, "responseForwarding");
        check_keys(rf, &rp, &["flushInterval"], &[], issues);
        if let Some(f) = rf.get("flushInterval") {
            let fp = join(&rp, "flushInterval");
            // Negative: flush after every write (zero here).
            let negative = f.as_scalar().is_some_and(|s| s.trim().starts_with('-'));
            flush_interval = if negative {
                Duration::ZERO
            } else {
                duration(f, &fp, issues)?
            };
        }
    }
    Some(RawLoadBalancer {
        origin: origin.clone(),
        servers,
        pass_host_header: body
            .get("passHostHeader")
            .and_then(|p| boolean(p, &join(lp, "passHostHeader"), issues))
            .unwrap_or(true),
        strategy,
        health_check,
        passive_health_check,
        sticky,
        flush_interval,
        servers_transport: body.get("serversTransport").and_then(|t| {
            let value = string(t, &join(lp, "serversTransport"), issues)?;
            (!value.is_empty()).then(|| Sourced {
                value,
                origin: t.origin.clone(),
            })
        }),
    })
}

fn servers(body: &Node, lp: &str, issues: &mut Issues) -> Vec<RawServer> {
    let mut servers = Vec::new();
    let Some(list_node) = body.get("servers") else {
        return servers;
    };
    let sp = join(lp, "servers");
    let items: Vec<&Node> = match &list_node.value {
        NodeValue::Seq(items) => items.iter().collect(),
        NodeValue::Null => Vec::new(),
        _ => {
            issues.error(
                &list_node.origin,
                format!("`{sp}` must be a list of {{url: ...}}"),
            );
            return servers;
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        let ip = format!("{sp}[{i}]");
        check_keys(item, &ip, &["url", "weight", "preservePath"], &[], issues);
        let Some(url_node) = item.get("url") else {
            issues.error(&item.origin, format!("`{ip}` has no url"));
            continue;
        };
        let Some(url) = string(url_node, &join(&ip, "url"), issues) else {
            continue;
        };
        let weight = match item.get("weight") {
            None => 1,
            Some(w) => match integer(w, &join(&ip, "weight"), issues) {
                Some(v) if v < 0 => {
                    issues.push(
                        ConfigIssue::error(
                            w.origin.clone(),
                            format!("`{ip}.weight: {v}` is negative"),
                        )
                        .with_hint("a weight is 1 or more (0 keeps the server out of rotation)"),
                    );
                    continue;
                }
                Some(0) => {
                    issues.push(ConfigIssue::warning(
                        w.origin.clone(),
                        format!("`{ip}.weight` is 0: this server never receives traffic"),
                    ));
                    0
                }
                Some(v) => u32::try_from(v).unwrap_or(u32::MAX),
                None => continue,
            },
        };
        servers.push(RawServer {
            url: Sourced {
                value: url,
                origin: url_node.origin.clone(),
            },
            weight,
            preserve_path: item
                .get("preservePath")
                .and_then(|p| boolean(p, &join(&ip, "preservePath"), issues))
                .unwrap_or(false),
        });
    }
    servers
}

pub(crate) fn sticky(node: &Node, sp: &str, issues: &mut Issues) -> Option<RawStickyCookie> {
    check_keys(node, sp, &["cookie"], &[], issues);
    let cookie = node.get("cookie")?;
    let cp = join(sp, "cookie");
    check_keys(
        cookie,
        &cp,
        &[
            "name", "secure", "httpOnly", "sameSite", "maxAge", "path", "domain",
        ],
        &["expires"],
        issues,
    );
    let text = |key: &str, issues: &mut Issues| {
        cookie
            .get(key)
            .and_then(|v| string(v, &join(&cp, key), issues))
            .filter(|s| !s.is_empty())
    };
    let flag = |key: &str, issues: &mut Issues| {
        cookie
            .get(key)
            .and_then(|v| boolean(v, &join(&cp, key), issues))
            .unwrap_or(false)
    };
    let same_site = match text("sameSite", issues) {
        None => None,
        Some(s) => match s.to_ascii_lowercase().as_str() {
            "none" => Some(SameSite::None),
            "lax" => Some(SameSite::Lax),
            "strict" => Some(SameSite::Strict),
            _ => {
                issues.push(
                    ConfigIssue::warning(key_origin(cookie, "sameSite"), format!("`{cp}.sameSite: {s}` is not none, lax or strict; no SameSite attribute is sent"))
                        .with_hint("use none, lax or strict"),
                );
                None
            }
        },
    };
    Some(RawStickyCookie {
        name: text("name", issues),
        secure: flag("secure", issues),
        http_only: flag("httpOnly", issues),
        same_site,
        max_age: cookie
            .get("maxAge")
            .and_then(|m| integer(m, &join(&cp, "maxAge"), issues))
            .unwrap_or(0),
        path: text("path", issues).unwrap_or_else(|| "/".to_string()),
        domain: text("domain", issues),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;
    use wharf_model::UpstreamScheme;

    fn decode(doc: &str) -> (Option<RawService>, Vec<ConfigIssue>) {
        let root = yaml::parse(doc, "s.yml").unwrap();
        let mut issues = Issues::default();
        let s = service(&root, &Origin::Default, "http.services.s", &mut issues);
        (s, issues.0)
    }

    fn lb(doc: &str) -> RawLoadBalancer {
        match decode(doc) {
            (Some(RawService::LoadBalancer(lb)), issues) if issues.is_empty() => *lb,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_are_traefiks() {
        let b = lb("loadBalancer:\n  servers: [{url: 'http://a:1'}]\n  healthCheck: {path: /h}\n  passiveHealthCheck: {}\n  sticky: {cookie: {}}\n");
        let hc = b.health_check.unwrap();
        assert_eq!(hc.interval, Duration::from_secs(30));
        assert_eq!(hc.unhealthy_interval, Duration::from_secs(30));
        assert_eq!(hc.timeout, Duration::from_secs(5));
        assert_eq!(hc.method, "GET");
        assert!(hc.follow_redirects);
        let p = b.passive_health_check.unwrap();
        assert_eq!(
            (p.failure_window, p.max_failed_attempts),
            (Duration::from_secs(10), 1)
        );
        let c = b.sticky.unwrap();
        assert_eq!((c.name, c.path.as_str(), c.max_age), (None, "/", 0));
        assert_eq!(b.flush_interval, Duration::from_millis(100));
        assert_eq!(b.strategy, Strategy::Wrr);
    }

    #[test]
    fn every_health_check_option() {
        let b = lb("loadBalancer:\n  strategy: P2C\n  healthCheck:\n    path: /health?x=1\n    method: head\n    scheme: https\n    port: 8443\n    hostname: hc.example\n    headers: {X-HC: yes}\n    status: 204\n    interval: 2s\n    unhealthyInterval: 500ms\n    timeout: 1s\n    followRedirects: false\n");
        let hc = b.health_check.unwrap();
        assert_eq!(b.strategy, Strategy::P2c);
        assert_eq!(hc.path, "/health?x=1");
        assert_eq!(hc.method, "HEAD");
        assert_eq!(hc.scheme, Some(UpstreamScheme::Https));
        assert_eq!(hc.port, Some(8443));
        assert_eq!(hc.hostname.as_deref(), Some("hc.example"));
        assert_eq!(hc.headers, vec![("X-HC".to_string(), "yes".to_string())]);
        assert_eq!(hc.status, Some(204));
        assert_eq!(hc.interval, Duration::from_secs(2));
        assert_eq!(hc.unhealthy_interval, Duration::from_millis(500));
        assert!(!hc.follow_redirects);
    }

    #[test]
    fn bad_options_are_errors_with_origins() {
        for (doc, needle) in [
            (
                "loadBalancer: {strategy: fastest}",
                "not a load-balancing strategy",
            ),
            ("loadBalancer: {healthCheck: {interval: 1s}}", "has no path"),
            (
                "loadBalancer: {healthCheck: {path: 'http://x/h'}}",
                "relative URL",
            ),
            (
                "loadBalancer: {healthCheck: {path: /h, mode: tcp}}",
                "not a health-check mode",
            ),
            (
                "loadBalancer: {healthCheck: {path: /h, interval: 0s}}",
                "must be positive",
            ),
            (
                "loadBalancer: {healthCheck: {path: /h, port: 70000}}",
                "not a port",
            ),
            (
                "loadBalancer: {passiveHealthCheck: {maxFailedAttempts: 0}}",
                "1 or more",
            ),
            (
                "loadBalancer: {servers: [{url: 'http://a', weight: -1}]}",
                "negative",
            ),
        ] {
            let (_, issues) = decode(doc);
            let found = issues
                .iter()
                .find(|i| i.is_error() && i.message.contains(needle));
            let found = found.unwrap_or_else(|| panic!("{doc}: {issues:?}"));
            assert!(matches!(found.origin, Origin::File { .. }), "{found:?}");
        }
    }

    #[test]
    fn zero_weight_is_a_warning_and_preserve_path_is_read() {
        let (s, issues) =
            decode("loadBalancer: {servers: [{url: 'http://a/p', weight: 0, preservePath: true}]}");
        let Some(RawService::LoadBalancer(b)) = s else {
            panic!()
        };
        assert_eq!((b.servers[0].weight, b.servers[0].preserve_path), (0, true));
        assert!(
            issues.iter().all(|i| !i.is_error()) && issues.len() == 1,
            "{issues:?}"
        );
    }
}
