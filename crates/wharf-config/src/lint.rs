//! Problems no single item has, found where items meet (`wharf check`): a router that can never
//! win because a higher-priority router matches everything it matches, a TLS router only on
//! entrypoints that take plain HTTP, a plain router only on an HTTPS port. Each is a warning:
//! the configuration is valid, but does not do what it says.

use wharf_model::{ConfigIssue, DynamicConfig, RouterSpec, StaticConfig};
use wharf_rule::{BoolExpr, Expr, Matcher};

pub fn lint(config: &DynamicConfig, statics: &StaticConfig) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    let routers: Vec<&RouterSpec> = config
        .routers
        .values()
        .filter(|r| r.name.provider() != "internal")
        .collect();
    for r in &routers {
        issues.extend(entry_point_mismatch(r, statics));
        issues.extend(v2_leftovers(r));
    }
    for loser in &routers {
        let winner = config
            .routers
            .values()
            .find(|w| w.name != loser.name && w.priority > loser.priority && covers(w, loser));
        if let Some(w) = winner {
            issues.push(
                ConfigIssue::warning(
                    loser.origin.clone(),
                    format!(
                        "router `{}` can never match: router `{}` (priority {}) matches every request it matches (priority {}) on {}",
                        loser.name,
                        w.name,
                        w.priority,
                        loser.priority,
                        list(&loser.entry_points)
                    ),
                )
                .with_hint(format!(
                    "give `{}` a priority above {}, or narrow the rule of `{}`",
                    loser.name, w.priority, w.name
                )),
            );
        }
    }
    issues
}

/// A container (or Compose service) and the networks it is on, for [`unreachable`].
pub struct Attachment<'a> {
    /// `service` (Compose) or `container` (engine).
    pub kind: &'a str,
    pub name: String,
    pub networks: Vec<String>,
    /// The network its traffic must use (`traefik.docker.network`, or the provider's).
    pub network: Option<&'a str>,
    pub origin: wharf_model::Origin,
}

/// A routed container the proxy shares no network with (or not the one it must be reached on).
pub fn unreachable(target: &Attachment<'_>, proxy: &Attachment<'_>) -> Option<ConfigIssue> {
    let names = |nets: &[String]| {
        nets.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let shared = |n: &str| proxy.networks.iter().any(|p| p == n);
    if let Some(wanted) = target.network {
        if target.networks.iter().any(|n| n == wanted) && !shared(wanted) {
            return Some(
                ConfigIssue::error(
                    target.origin.clone(),
                    format!(
                        "{} `{}` is reached on network `{wanted}`, which the proxy ({} `{}`) is not attached to (it is on {})",
                        target.kind,
                        target.name,
                        proxy.kind,
                        proxy.name,
                        names(&proxy.networks)
                    ),
                )
                .with_hint(format!("attach `{}` to `{wanted}`, or route over a network both share", proxy.name)),
            );
        }
        return None;
    }
    if target.networks.iter().any(|n| shared(n)) {
        return None;
    }
    Some(
        ConfigIssue::error(
            target.origin.clone(),
            format!(
                "{} `{}` is on {}, none of which the proxy ({} `{}`, on {}) is attached to: its servers are unreachable",
                target.kind,
                target.name,
                names(&target.networks),
                proxy.kind,
                proxy.name,
                names(&proxy.networks)
            ),
        )
        .with_hint(format!("attach the {} to one of the proxy's networks (or the proxy to one of its)", target.kind)),
    )
}

fn list(entry_points: &[String]) -> String {
    let names: Vec<String> = entry_points.iter().map(|e| format!("`{e}`")).collect();
    format!("entrypoint(s) {}", names.join(", "))
}

/// A TLS router whose entrypoints all take plain HTTP (port 80, or redirecting), or a plain
/// router whose entrypoints all listen on 443 without `http.tls`.
fn entry_point_mismatch(r: &RouterSpec, statics: &StaticConfig) -> Option<ConfigIssue> {
    let eps: Vec<_> = r
        .entry_points
        .iter()
        .filter_map(|name| statics.entry_points.get(name))
        .collect();
    if eps.is_empty() {
        return None;
    }
    if r.tls.is_some()
        && eps
            .iter()
            .all(|e| e.tls.is_none() && (e.redirect.is_some() || e.address.port() == 80))
    {
        return Some(
            ConfigIssue::warning(
                r.origin.clone(),
                format!(
                    "router `{}` has `tls`, but its {} take plain HTTP (port 80 or a redirection): browsers never reach it there, a TLS router matches TLS connections only",
                    r.name,
                    list(&r.entry_points)
                ),
            )
            .with_hint("put the router on the HTTPS entrypoint (e.g. entryPoints=websecure)"),
        );
    }
    if r.tls.is_none()
        && eps
            .iter()
            .all(|e| e.tls.is_none() && e.address.port() == 443)
    {
        return Some(
            ConfigIssue::warning(
                r.origin.clone(),
                format!(
                    "router `{}` has no `tls`, but its {} listen on port 443: HTTPS requests never match a router without tls (they get 404)",
                    r.name,
                    list(&r.entry_points)
                ),
            )
            .with_hint("add `tls` to the router (label: traefik.http.routers.<name>.tls=true), or `http.tls` to the entrypoint"),
        );
    }
    None
}

/// Valid v3 that is almost surely a v2 rule carried over: `{name:regex}` placeholders in a
/// Path or PathPrefix (literal braces in v3), `Query(`k=v`)` (a parameter named `k=v`).
fn v2_leftovers(r: &RouterSpec) -> Vec<ConfigIssue> {
    let mut found = Vec::new();
    let mut matchers = Vec::new();
    leaves(&r.rule, &mut matchers);
    for m in matchers {
        let hint = match m {
            Matcher::Path(p) | Matcher::PathPrefix(p) => wharf_rule::v2_placeholders_as_regex(p)
                .map(|re| {
                    let anchored = if matches!(m, Matcher::Path(_)) {
                        "$"
                    } else {
                        ""
                    };
                    (
                        format!("`{}(`{p}`)` matches the braces literally in v3", m.name()),
                        format!("a v2 placeholder: write PathRegexp(`^{re}{anchored}`)"),
                    )
                }),
            Matcher::Query(k, None) if k.contains('=') => {
                let (key, value) = k.split_once('=').unwrap_or_default();
                Some((
                    format!("`Query(`{k}`)` looks for a parameter named `{k}` in v3"),
                    format!("v2's form: write Query(`{key}`, `{value}`)"),
                ))
            }
            _ => None,
        };
        if let Some((message, hint)) = hint {
            found.push(
                ConfigIssue::warning(r.origin.clone(), format!("router `{}`: {message}", r.name))
                    .with_hint(hint),
            );
        }
    }
    found
}

fn leaves<'a>(e: &'a Expr, out: &mut Vec<&'a Matcher>) {
    match e {
        BoolExpr::Leaf(m) => out.push(m),
        BoolExpr::Not(a) => leaves(a, out),
        BoolExpr::And(a, b) | BoolExpr::Or(a, b) => {
            leaves(a, out);
            leaves(b, out);
        }
    }
}

/// Whether `w` matches every request `l` matches, on every entrypoint `l` is on.
fn covers(w: &RouterSpec, l: &RouterSpec) -> bool {
    if w.tls.is_some() != l.tls.is_some() {
        return false;
    }
    if !l.entry_points.iter().all(|e| w.entry_points.contains(e)) {
        return false;
    }
    let (Some(wa), Some(la)) = (conjuncts(&w.rule), conjuncts(&l.rule)) else {
        return false;
    };
    wa.iter().all(|a| implied(a, &la))
}

/// The matchers of a rule made only of `&&`, or None.
fn conjuncts(e: &Expr) -> Option<Vec<&Matcher>> {
    match e {
        BoolExpr::Leaf(m) => Some(vec![m]),
        BoolExpr::And(a, b) => {
            let mut v = conjuncts(a)?;
            v.extend(conjuncts(b)?);
            Some(v)
        }
        BoolExpr::Not(_) | BoolExpr::Or(..) => None,
    }
}

/// Whether every request matching all of `given` matches `m`.
fn implied(m: &Matcher, given: &[&Matcher]) -> bool {
    if let Matcher::PathPrefix(p) = m {
        if p == "/" {
            return true;
        }
    }
    given.iter().any(|g| match (m, g) {
        (Matcher::Host(a), Matcher::Host(b)) => a.eq_ignore_ascii_case(b),
        (Matcher::PathPrefix(p), Matcher::PathPrefix(q) | Matcher::Path(q)) => {
            q.starts_with(p.as_str())
        }
        _ => m == *g,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Expr {
        wharf_rule::parse(text).expect("rule")
    }

    #[test]
    fn implication_between_conjunctions() {
        let cases = [
            ("PathPrefix(`/`)", "Host(`a`)", true),
            ("Host(`a`)", "Host(`A`) && PathPrefix(`/api`)", true),
            (
                "Host(`a`) && PathPrefix(`/api`)",
                "Host(`a`) && Path(`/api/x`)",
                true,
            ),
            ("Host(`a`) && PathPrefix(`/api`)", "Host(`a`)", false),
            ("Host(`a`)", "Host(`b`)", false),
            ("Host(`a`) || Host(`b`)", "Host(`a`)", false),
            ("Method(`GET`)", "Method(`GET`) && Host(`a`)", true),
        ];
        for (winner, loser, expected) in cases {
            let (w, l) = (rule(winner), rule(loser));
            let got = match (conjuncts(&w), conjuncts(&l)) {
                (Some(wa), Some(la)) => wa.iter().all(|a| implied(a, &la)),
                _ => false,
            };
            assert_eq!(got, expected, "{winner} covers {loser}");
        }
    }
}
