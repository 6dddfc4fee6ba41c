//! Composite services -> [`CompositeSpec`]s: children resolved by provider, missing children
//! and cycles reported with origins, a failover's primary checked for a health check (as
//! Traefik requires, with a clearer message). An invalid composite is dropped, and so is any
//! composite that needs it.

use std::collections::{BTreeMap, BTreeSet};

use wharf_model::{
    CompositeKind, CompositeSpec, ConfigIssue, DynamicConfig, ProviderName, QualifiedName,
    WeightedChild,
};

use crate::composite::{RawChild, RawComposite, RawCompositeKind};
use crate::dynamic::Sourced;

/// Adds the valid composites of `raw` to `out.composites` (load balancers are already in).
pub(crate) fn resolve(
    raw: &[(QualifiedName, ProviderName, &RawComposite)],
    out: &mut DynamicConfig,
    issues: &mut Vec<ConfigIssue>,
) {
    let declared: BTreeSet<&QualifiedName> = raw.iter().map(|(qn, _, _)| qn).collect();
    let mut specs: BTreeMap<QualifiedName, (CompositeSpec, Vec<Sourced<String>>)> = BTreeMap::new();
    for (qn, provider, c) in raw {
        let child = |s: &Sourced<String>| QualifiedName::resolve(&s.value, provider);
        let weighted = |list: &[RawChild]| {
            list.iter()
                .map(|c| WeightedChild {
                    service: child(&c.name),
                    weight: c.weight,
                })
                .collect::<Vec<_>>()
        };
        let (kind, refs): (CompositeKind, Vec<Sourced<String>>) = match &c.kind {
            RawCompositeKind::Weighted { children, sticky } => (
                CompositeKind::Weighted {
                    children: weighted(children),
                    sticky: sticky
                        .as_ref()
                        .map(|s| crate::validate_services::sticky_cookie(s, qn)),
                },
                children.iter().map(|c| c.name.clone()).collect(),
            ),
            RawCompositeKind::HighestRandomWeight { children } => (
                CompositeKind::HighestRandomWeight {
                    children: weighted(children),
                },
                children.iter().map(|c| c.name.clone()).collect(),
            ),
            RawCompositeKind::Failover {
                main,
                fallback,
                error_status,
                max_request_body,
            } => (
                CompositeKind::Failover {
                    main: child(main),
                    fallback: child(fallback),
                    error_status: error_status.clone(),
                    max_request_body: *max_request_body,
                },
                vec![main.clone(), fallback.clone()],
            ),
            RawCompositeKind::Mirroring {
                main,
                mirrors,
                mirror_body,
                max_body_size,
            } => (
                CompositeKind::Mirroring {
                    main: child(main),
                    mirrors: weighted(mirrors),
                    mirror_body: *mirror_body,
                    max_body_size: *max_body_size,
                },
                std::iter::once(main.clone())
                    .chain(mirrors.iter().map(|m| m.name.clone()))
                    .collect(),
            ),
        };
        let spec = CompositeSpec {
            name: qn.clone(),
            kind,
            health_check: c.health_check,
            origin: c.origin.clone(),
        };
        specs.insert(qn.clone(), (spec, refs));
    }

    // Missing children: reported once, where the reference is written.
    let mut invalid: BTreeSet<QualifiedName> = BTreeSet::new();
    for (qn, (spec, refs)) in &specs {
        for (child, r) in spec.children().into_iter().zip(refs) {
            if !out.services.contains_key(child) && !declared.contains(child) {
                let names = out
                    .services
                    .keys()
                    .chain(declared.iter().copied())
                    .map(QualifiedName::as_str);
                issues.push(
                    ConfigIssue::error(
                        r.origin.clone(),
                        format!("service `{qn}`: its child service `{child}` does not exist; the service is dropped"),
                    )
                    .with_hint_opt(crate::decode::nearest(child.as_str(), names).map(|n| format!("did you mean `{n}`?"))),
                );
                invalid.insert(qn.clone());
            }
        }
    }
    // Cycles: a service that reaches itself.
    for qn in specs.keys() {
        if let Some(path) = cycle_from(qn, &specs) {
            issues.push(
                ConfigIssue::error(
                    specs[qn].0.origin.clone(),
                    format!(
                        "service `{qn}` contains itself: {}; the service is dropped",
                        path.join(" -> ")
                    ),
                )
                .with_hint("break the loop: a child cannot lead back to its parent"),
            );
            invalid.insert(qn.clone());
        }
    }
    // A failover's primary must report its health.
    for (qn, (spec, refs)) in &specs {
        if let CompositeKind::Failover { main, .. } = &spec.kind {
            let checked = out
                .services
                .get(main)
                .map(|s| s.health_check.is_some())
                .or_else(|| specs.get(main).map(|(s, _)| s.health_check));
            if checked == Some(false) {
                issues.push(
                    ConfigIssue::error(
                        refs[0].origin.clone(),
                        format!("failover service `{qn}`: its primary `{main}` has no health check, so a failure could never be noticed; the service is dropped"),
                    )
                    .with_hint(format!("add a healthCheck to `{main}` (a loadBalancer needs a path; a weighted or other composite service `healthCheck: {{}}`)")),
                );
                invalid.insert(qn.clone());
            }
        }
    }
    // What needs an invalid composite is invalid too.
    loop {
        let more: Vec<QualifiedName> = specs
            .iter()
            .filter(|(qn, (spec, _))| {
                !invalid.contains(*qn) && spec.children().iter().any(|c| invalid.contains(*c))
            })
            .map(|(qn, _)| qn.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        for qn in more {
            let (spec, _) = &specs[&qn];
            issues.push(ConfigIssue::error(
                spec.origin.clone(),
                format!(
                    "service `{qn}` is dropped because a service it uses is invalid (see above)"
                ),
            ));
            invalid.insert(qn);
        }
    }
    for (qn, (spec, _)) in specs {
        if !invalid.contains(&qn) {
            out.composites.insert(qn, spec);
        }
    }
}

/// The loop through `start`, if following children leads back to it.
fn cycle_from(
    start: &QualifiedName,
    specs: &BTreeMap<QualifiedName, (CompositeSpec, Vec<Sourced<String>>)>,
) -> Option<Vec<String>> {
    fn walk(
        at: &QualifiedName,
        start: &QualifiedName,
        specs: &BTreeMap<QualifiedName, (CompositeSpec, Vec<Sourced<String>>)>,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<QualifiedName>,
    ) -> bool {
        let Some((spec, _)) = specs.get(at) else {
            return false;
        };
        for child in spec.children() {
            path.push(child.as_str().to_string());
            if child == start {
                return true;
            }
            if seen.insert(child.clone()) && walk(child, start, specs, path, seen) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = vec![start.as_str().to_string()];
    let mut seen = BTreeSet::new();
    walk(start, start, specs, &mut path, &mut seen).then_some(path)
}
