//! `weighted`, `mirroring`, `failover` and `highestRandomWeight` services, shaped: children
//! still named as written (resolved when providers are merged).

use wharf_model::{ConfigIssue, Origin};

use crate::decode::{boolean, check_keys, integer, items, join, string, Issues};
use crate::dynamic::Sourced;
use crate::node::Node;
use crate::services::RawStickyCookie;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawChild {
    pub name: Sourced<String>,
    /// The weight, or a mirror's percent.
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawCompositeKind {
    Weighted {
        children: Vec<RawChild>,
        sticky: Option<RawStickyCookie>,
    },
    HighestRandomWeight {
        children: Vec<RawChild>,
    },
    Failover {
        main: Sourced<String>,
        fallback: Sourced<String>,
        error_status: Vec<(u16, u16)>,
        max_request_body: i64,
    },
    Mirroring {
        main: Sourced<String>,
        mirrors: Vec<RawChild>,
        mirror_body: bool,
        max_body_size: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawComposite {
    pub origin: Origin,
    pub kind: RawCompositeKind,
    pub health_check: bool,
}

fn name(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Option<Sourced<String>> {
    let Some(v) = n.get(key) else {
        issues.push(
            ConfigIssue::error(n.origin.clone(), format!("`{path}` has no `{key}`"))
                .with_hint(format!("name the service in `{key}`")),
        );
        return None;
    };
    let value = string(v, &join(path, key), issues)?;
    Some(Sourced {
        value,
        origin: v.origin.clone(),
    })
}

/// `services` (weighted, hrw) or `mirrors`: `{name, weight}` / `{name, percent}` items.
fn children(n: &Node, key: &str, amount: &str, path: &str, issues: &mut Issues) -> Vec<RawChild> {
    let lp = join(path, key);
    let Some(list) = n.get(key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items(list, &lp, issues)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let ip = format!("{lp}[{i}]");
        check_keys(item, &ip, &["name", amount], &[], issues);
        let Some(child) = name(item, "name", &ip, issues) else {
            continue;
        };
        let default = if amount == "percent" { 0 } else { 1 };
        let weight = match item.get(amount) {
            None => default,
            Some(w) => match integer(w, &join(&ip, amount), issues) {
                Some(v) if v < 0 || (amount == "percent" && v > 100) => {
                    issues.push(
                        ConfigIssue::error(
                            w.origin.clone(),
                            format!("`{ip}.{amount}: {v}` is out of range"),
                        )
                        .with_hint(if amount == "percent" {
                            "0 to 100"
                        } else {
                            "1 or more (0 keeps the service out)"
                        }),
                    );
                    continue;
                }
                Some(v) => u32::try_from(v).unwrap_or(u32::MAX),
                None => continue,
            },
        };
        out.push(RawChild {
            name: child,
            weight,
        });
    }
    out
}

/// One composite service body (`kind` as Traefik spells it).
pub(crate) fn composite(
    kind: &str,
    body: &Node,
    origin: &Origin,
    path: &str,
    issues: &mut Issues,
) -> Option<RawComposite> {
    let before = issues.0.len();
    let health_check = body.get("healthCheck").is_some();
    let kind = match kind {
        "weighted" => {
            check_keys(
                body,
                path,
                &["services", "sticky", "healthCheck"],
                &[],
                issues,
            );
            RawCompositeKind::Weighted {
                children: children(body, "services", "weight", path, issues),
                sticky: body
                    .get("sticky")
                    .and_then(|s| crate::services::sticky(s, &join(path, "sticky"), issues)),
            }
        }
        "highestRandomWeight" => {
            check_keys(body, path, &["services", "healthCheck"], &[], issues);
            RawCompositeKind::HighestRandomWeight {
                children: children(body, "services", "weight", path, issues),
            }
        }
        "failover" => {
            check_keys(
                body,
                path,
                &["service", "fallback", "healthCheck", "errors"],
                &[],
                issues,
            );
            let (mut error_status, mut max_request_body) = (Vec::new(), -1);
            if let Some(e) = body.get("errors") {
                let ep = join(path, "errors");
                check_keys(e, &ep, &["status", "maxRequestBodyBytes"], &[], issues);
                error_status = crate::middlewares::errors::status_ranges(e, "status", &ep, issues);
                if let Some(m) = e.get("maxRequestBodyBytes") {
                    max_request_body =
                        integer(m, &join(&ep, "maxRequestBodyBytes"), issues).unwrap_or(-1);
                }
            }
            RawCompositeKind::Failover {
                main: name(body, "service", path, issues)?,
                fallback: name(body, "fallback", path, issues)?,
                error_status,
                max_request_body,
            }
        }
        "mirroring" => {
            check_keys(
                body,
                path,
                &[
                    "service",
                    "mirrors",
                    "mirrorBody",
                    "maxBodySize",
                    "healthCheck",
                ],
                &[],
                issues,
            );
            RawCompositeKind::Mirroring {
                main: name(body, "service", path, issues)?,
                mirrors: children(body, "mirrors", "percent", path, issues),
                mirror_body: body
                    .get("mirrorBody")
                    .and_then(|m| boolean(m, &join(path, "mirrorBody"), issues))
                    .unwrap_or(true),
                max_body_size: body
                    .get("maxBodySize")
                    .and_then(|m| integer(m, &join(path, "maxBodySize"), issues))
                    .unwrap_or(-1),
            }
        }
        _ => return None,
    };
    if issues.has_errors_since(before) {
        return None;
    }
    Some(RawComposite {
        origin: origin.clone(),
        kind,
        health_check,
    })
}
