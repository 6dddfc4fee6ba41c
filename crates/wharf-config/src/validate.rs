//! Every provider's raw config -> one validated [`DynamicConfig`]. Invalid items are dropped
//! one at a time, each with a located issue; everything valid is kept.

use std::collections::{BTreeMap, BTreeSet};

use crate::middlewares::decode_spec;
use wharf_model::{
    ConfigIssue, DynamicConfig, MiddlewareKind, MiddlewareSpec, ProviderName, QualifiedName,
    RouterSpec, StaticConfig,
};

use crate::decode::nearest;
use crate::dynamic::{RawDynamicConfig, RawRouter, RawService};
use crate::tls::RawRouterTls;
use wharf_model::{qualify_tls_options, RouterTls, TlsOptionsSpec, DEFAULT_TLS_OPTIONS};

/// One provider's latest raw configuration.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub provider: ProviderName,
    pub raw: RawDynamicConfig,
}

/// The highest priority a user may set (Traefik reserves the top for internal routers).
const MAX_USER_PRIORITY: i64 = i64::MAX - 1000;

/// Merges and validates the providers' configurations.
pub fn validate(
    providers: &[ProviderConfig],
    statics: &StaticConfig,
) -> (DynamicConfig, Vec<ConfigIssue>) {
    let mut issues = Vec::new();
    let mut out = DynamicConfig::default();
    let mut composites = Vec::new();
    let mut middlewares: BTreeMap<QualifiedName, MiddlewareStatus> = BTreeMap::new();

    let transports = crate::validate_services::transports(providers, statics, &mut issues);
    for p in providers {
        for (name, raw) in &p.raw.services {
            let qn = QualifiedName::new(name, &p.provider);
            match raw {
                RawService::LoadBalancer(lb) => {
                    if let Some(spec) =
                        crate::validate_services::load_balancer(&qn, lb, &transports, &mut issues)
                    {
                        out.services.insert(qn, spec);
                    }
                }
                RawService::Composite(c) => composites.push((qn, p.provider.clone(), &**c)),
            }
        }
        for (name, m) in &p.raw.middlewares {
            let qn = QualifiedName::new(name, &p.provider);
            let path = format!("http.middlewares.{name}");
            let mut local = crate::decode::Issues::default();
            let status = match decode_spec(&m.kind, &m.body, &path, &p.provider, &mut local) {
                Some(kind) => {
                    out.middlewares.insert(
                        qn.clone(),
                        MiddlewareSpec {
                            name: qn.clone(),
                            kind,
                            origin: m.origin.clone(),
                        },
                    );
                    MiddlewareStatus::Valid
                }
                None if local.has_errors() => MiddlewareStatus::Invalid,
                None => {
                    issues.push(ConfigIssue::warning(
                        m.origin.clone(),
                        format!("middleware `{qn}`: the `{}` middleware is not implemented by wharf yet; routers using it are dropped", m.kind),
                    ));
                    MiddlewareStatus::Unimplemented(m.kind.clone())
                }
            };
            issues.extend(local.0);
            middlewares.insert(qn, status);
        }
    }
    crate::validate_composite::resolve(&composites, &mut out, &mut issues);
    check_error_services(&mut out, &mut middlewares, &mut issues);
    check_chains(&mut out, &mut middlewares, &mut issues);
    merge_tls(providers, &mut out, &mut issues);
    if let Some(g) = &out.tls.default_generated {
        if !statics.cert_resolvers.contains_key(&g.resolver) {
            issues.push(ConfigIssue::warning(
                g.origin.clone(),
                format!("`defaultGeneratedCert`: certificate resolver `{}` is not defined; the generated default certificate is served", g.resolver),
            ));
        }
    }

    let default_eps = default_entry_points(statics);
    for p in providers {
        for (name, raw) in &p.raw.routers {
            let qn = QualifiedName::new(name, &p.provider);
            let mut router_issues = Vec::new();
            let spec = router(
                &qn,
                &p.provider,
                raw,
                statics,
                &default_eps,
                &out,
                &middlewares,
                &mut router_issues,
            );
            let failed = router_issues.iter().any(ConfigIssue::is_error);
            issues.extend(router_issues);
            match (spec, failed) {
                (Some(spec), false) => {
                    out.routers.insert(qn, spec);
                }
                _ => {
                    if let Some(refused) =
                        refused_tls(raw, &p.provider, statics, &default_eps, &out)
                    {
                        out.tls_refused.push(refused);
                    }
                }
            }
        }
    }
    (out, issues)
}

/// The entrypoints a router without `entryPoints` is on (Traefik: every one but `traefik`, or
/// those marked `asDefault`).
pub fn default_entry_points(statics: &StaticConfig) -> Vec<String> {
    let tcp: Vec<&String> = statics
        .entry_points
        .keys()
        .filter(|n| n.as_str() != "traefik")
        .collect();
    let marked: Vec<String> = tcp
        .iter()
        .filter(|n| statics.entry_points[n.as_str()].as_default)
        .map(|n| (*n).clone())
        .collect();
    if marked.is_empty() {
        tcp.into_iter().cloned().collect()
    } else {
        marked
    }
}

fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    nearest(word, candidates).map(|n| format!("did you mean `{n}`?"))
}

#[allow(clippy::too_many_arguments)]
fn router(
    qn: &QualifiedName,
    provider: &ProviderName,
    raw: &RawRouter,
    statics: &StaticConfig,
    default_eps: &[String],
    config: &DynamicConfig,
    middlewares: &BTreeMap<QualifiedName, MiddlewareStatus>,
    issues: &mut Vec<ConfigIssue>,
) -> Option<RouterSpec> {
    let Some(rule_src) = &raw.rule else {
        issues.push(
            ConfigIssue::error(
                raw.origin.clone(),
                format!("router `{qn}` has no rule; it is dropped"),
            )
            .with_hint("add e.g. rule: \"Host(`example.com`)\""),
        );
        return None;
    };
    let rule = match wharf_rule::parse(&rule_src.value) {
        Ok(rule) => rule,
        Err(e) => {
            issues.push(
                ConfigIssue::error(
                    rule_src.origin.clone(),
                    format!(
                        "router `{qn}`: invalid rule `{}`: {e}; the router is dropped",
                        rule_src.value
                    ),
                )
                .with_hint_opt(e.hint.clone()),
            );
            return None;
        }
    };

    let entry_points = match &raw.entry_points {
        None => default_eps.to_vec(),
        Some(list) if list.is_empty() => default_eps.to_vec(),
        Some(list) => {
            let mut eps = Vec::new();
            for ep in list {
                if statics.entry_points.contains_key(&ep.value) {
                    if !eps.contains(&ep.value) {
                        eps.push(ep.value.clone());
                    }
                } else {
                    issues.push(
                        ConfigIssue::warning(
                            ep.origin.clone(),
                            format!("router `{qn}`: entrypoint `{}` does not exist", ep.value),
                        )
                        .with_hint_opt(did_you_mean(
                            &ep.value,
                            statics.entry_points.keys().map(String::as_str),
                        )),
                    );
                }
            }
            if eps.is_empty() {
                issues.push(ConfigIssue::error(
                    raw.origin.clone(),
                    format!("router `{qn}` has no valid entrypoint left; it is dropped"),
                ));
                return None;
            }
            eps
        }
    };

    let Some(service_ref) = &raw.service else {
        issues.push(
            ConfigIssue::error(
                raw.origin.clone(),
                format!("router `{qn}` has no service; it is dropped"),
            )
            .with_hint("add `service: <name>` naming a service under http.services"),
        );
        return None;
    };
    let service = QualifiedName::resolve(&service_ref.value, provider);
    if let Some(internal) = wharf_model::InternalService::from_name(&service) {
        if let Some(hint) = internal.unavailable(statics) {
            issues.push(
                ConfigIssue::error(
                    service_ref.origin.clone(),
                    format!("router `{qn}`: the service `{service}` is not enabled; the router is dropped"),
                )
                .with_hint(hint),
            );
            return None;
        }
    } else if !config.services.contains_key(&service) && !config.composites.contains_key(&service) {
        let names: BTreeSet<&str> = config
            .services
            .keys()
            .chain(config.composites.keys())
            .map(QualifiedName::as_str)
            .collect();
        issues.push(
            ConfigIssue::error(
                service_ref.origin.clone(),
                format!(
                    "router `{qn}`: the service `{service}` does not exist; the router is dropped"
                ),
            )
            .with_hint_opt(did_you_mean(service.as_str(), names)),
        );
        return None;
    }

    for ep in &entry_points {
        for m in &statics.entry_points[ep].middlewares {
            let mq = QualifiedName::resolve(m, provider);
            if middlewares.get(&mq) != Some(&MiddlewareStatus::Valid) {
                issues.push(
                    ConfigIssue::error(
                        statics.entry_points[ep].origin.clone(),
                        format!("router `{qn}`: entrypoint `{ep}` applies middleware `{mq}`, which does not exist or is not usable; the router is dropped"),
                    )
                    .with_hint("define it in the file provider, or fix the entrypoint's http.middlewares"),
                );
                return None;
            }
        }
    }

    let mut mws = Vec::new();
    for m in &raw.middlewares {
        let mq = QualifiedName::resolve(&m.value, provider);
        match middlewares.get(&mq) {
            Some(MiddlewareStatus::Valid) => mws.push(mq),
            Some(MiddlewareStatus::Invalid) => {
                issues.push(ConfigIssue::error(
                    m.origin.clone(),
                    format!("router `{qn}`: middleware `{mq}` is invalid (see its error); the router is dropped rather than served without it"),
                ));
                return None;
            }
            Some(MiddlewareStatus::Unimplemented(kind)) => {
                issues.push(ConfigIssue::error(
                    m.origin.clone(),
                    format!("router `{qn}`: middleware `{mq}` is of type `{kind}`, which wharf does not implement yet; the router is dropped rather than served without it"),
                ));
                return None;
            }
            None => {
                issues.push(
                    ConfigIssue::error(
                        m.origin.clone(),
                        format!("router `{qn}`: middleware `{mq}` does not exist; the router is dropped"),
                    )
                    .with_hint_opt(did_you_mean(
                        mq.as_str(),
                        middlewares.keys().map(QualifiedName::as_str),
                    )),
                );
                return None;
            }
        }
    }

    let priority = match &raw.priority {
        Some(p) if p.value > MAX_USER_PRIORITY => {
            issues.push(ConfigIssue::error(
                p.origin.clone(),
                format!("router `{qn}`: priority {} is above the maximum {MAX_USER_PRIORITY}; the router is dropped", p.value),
            ));
            return None;
        }
        Some(p) if p.value != 0 => p.value,
        _ => wharf_rule::default_priority(&rule_src.value),
    };

    let tls = match &raw.tls {
        Some(t) => Some(router_tls(qn, provider, t, config, statics, issues)?),
        None => None,
    };
    for ep in &entry_points {
        let Some(ep_tls) = statics.entry_points[ep]
            .tls
            .as_ref()
            .filter(|_| tls.is_none())
        else {
            continue;
        };
        let options = qualify_tls_options(&ep_tls.options, provider);
        if !config.tls.options.contains_key(&options) {
            issues.push(ConfigIssue::error(
                statics.entry_points[ep].origin.clone(),
                format!("router `{qn}`: entrypoint `{ep}` applies TLS options `{options}`, which do not exist (unknown TLS options); the router is dropped"),
            ));
            return None;
        }
    }
    Some(RouterSpec {
        name: qn.clone(),
        provider: provider.clone(),
        entry_points,
        rule_source: rule_src.value.clone(),
        rule,
        priority,
        service,
        middlewares: mws,
        tls,
        observability: raw.observability,
        origin: raw.origin.clone(),
    })
}

/// What became of a defined middleware. A router that needs an invalid or unimplemented one
/// is dropped rather than served without it (an auth middleware silently skipped is a hole).
#[derive(Debug, Clone, PartialEq)]
enum MiddlewareStatus {
    Valid,
    Invalid,
    Unimplemented(String),
}

/// A chain is valid only if every member is, and no chain contains itself.
fn check_chains(
    out: &mut DynamicConfig,
    status: &mut BTreeMap<QualifiedName, MiddlewareStatus>,
    issues: &mut Vec<ConfigIssue>,
) {
    fn reaches(
        config: &DynamicConfig,
        from: &QualifiedName,
        target: &QualifiedName,
        depth: usize,
    ) -> bool {
        let Some(MiddlewareKind::Chain { middlewares }) =
            config.middlewares.get(from).map(|m| &m.kind)
        else {
            return false;
        };
        depth < 64
            && middlewares
                .iter()
                .any(|m| m == target || reaches(config, m, target, depth + 1))
    }
    let chains: Vec<(QualifiedName, Vec<QualifiedName>, wharf_model::Origin)> = out
        .middlewares
        .values()
        .filter_map(|m| match &m.kind {
            MiddlewareKind::Chain { middlewares } => {
                Some((m.name.clone(), middlewares.clone(), m.origin.clone()))
            }
            _ => None,
        })
        .collect();
    for (name, members, origin) in chains {
        let problem = members.iter().find_map(|m| match status.get(m) {
            Some(MiddlewareStatus::Valid) if reaches(out, m, &name, 0) || *m == name => {
                Some(format!("contains itself through `{m}`"))
            }
            Some(MiddlewareStatus::Valid) => None,
            Some(_) => Some(format!("uses `{m}`, which is invalid or not implemented")),
            None => Some(format!("uses `{m}`, which does not exist")),
        });
        if let Some(problem) = problem {
            issues.push(ConfigIssue::error(
                origin,
                format!("chain `{name}` {problem}; it is dropped"),
            ));
            out.middlewares.remove(&name);
            status.insert(name, MiddlewareStatus::Invalid);
        }
    }
}

/// An `errors` middleware needs its page service: without it, the middleware is invalid (and
/// its routers are dropped), as Traefik refuses to build it.
fn check_error_services(
    out: &mut DynamicConfig,
    middlewares: &mut BTreeMap<QualifiedName, MiddlewareStatus>,
    issues: &mut Vec<ConfigIssue>,
) {
    let broken: Vec<(QualifiedName, String)> = out
        .middlewares
        .values()
        .filter_map(|m| match &m.kind {
            wharf_model::MiddlewareKind::Errors(spec)
                if !out.services.contains_key(&spec.service) =>
            {
                let why = if out.composites.contains_key(&spec.service) {
                    format!(
                        "its service `{}` must be a loadBalancer service to serve error pages",
                        spec.service
                    )
                } else {
                    format!("its service `{}` does not exist", spec.service)
                };
                Some((m.name.clone(), why))
            }
            _ => None,
        })
        .collect();
    for (name, why) in broken {
        if let Some(m) = out.middlewares.remove(&name) {
            issues.push(
                ConfigIssue::error(m.origin, format!("middleware `{name}`: {why}"))
                    .with_hint("define the service that serves the error pages, or fix its name"),
            );
        }
        middlewares.insert(name, MiddlewareStatus::Invalid);
    }
}

/// Every provider's `tls` section in one: certificates concatenated, options qualified by
/// provider (`default` stays `default`), the first default certificate kept.
fn merge_tls(providers: &[ProviderConfig], out: &mut DynamicConfig, issues: &mut Vec<ConfigIssue>) {
    for p in providers {
        let tls = &p.raw.tls;
        out.tls
            .certificates
            .extend(tls.certificates.iter().cloned());
        for (slot, value, what) in [(
            &mut out.tls.default_certificate,
            &tls.default_certificate,
            "defaultCertificate",
        )] {
            if let Some(v) = value {
                if slot.is_some() {
                    issues.push(ConfigIssue::warning(v.origin.clone(), format!("`tls.stores.default.{what}` is set by more than one provider; the first is kept")));
                } else {
                    *slot = Some(v.clone());
                }
            }
        }
        if let Some(g) = &tls.default_generated {
            if out.tls.default_generated.is_none() {
                out.tls.default_generated = Some(g.clone());
            }
        }
        for (name, spec) in &tls.options {
            let qualified = qualify_tls_options(name, &p.provider);
            if out.tls.options.contains_key(&qualified) {
                issues.push(ConfigIssue::warning(
                    spec.origin.clone(),
                    format!(
                        "TLS options `{qualified}` are defined twice; the first definition is kept"
                    ),
                ));
                continue;
            }
            out.tls.options.insert(
                qualified.clone(),
                TlsOptionsSpec {
                    name: qualified,
                    ..spec.clone()
                },
            );
        }
    }
    out.tls
        .options
        .entry(DEFAULT_TLS_OPTIONS.to_string())
        .or_insert_with(|| {
            TlsOptionsSpec::traefik_default(DEFAULT_TLS_OPTIONS, wharf_model::Origin::Default)
        });
}

/// A router's `tls`: its options must exist (Traefik disables the router otherwise); an
/// unknown certificate resolver leaves it on the default certificate, with a warning.
fn router_tls(
    qn: &QualifiedName,
    provider: &ProviderName,
    raw: &RawRouterTls,
    config: &DynamicConfig,
    statics: &StaticConfig,
    issues: &mut Vec<ConfigIssue>,
) -> Option<RouterTls> {
    let options = raw.options.as_ref().map_or_else(
        || DEFAULT_TLS_OPTIONS.to_string(),
        |o| qualify_tls_options(&o.value, provider),
    );
    if !config.tls.options.contains_key(&options) {
        let origin = raw
            .options
            .as_ref()
            .map_or(raw.origin.clone(), |o| o.origin.clone());
        issues.push(
            ConfigIssue::error(
                origin,
                format!("router `{qn}`: unknown TLS options: {options}; the router is dropped"),
            )
            .with_hint_opt(
                did_you_mean(&options, config.tls.options.keys().map(String::as_str)).or_else(
                    || {
                        (provider.as_str() != "file").then(|| {
                            "TLS options come from the file provider: write `name@file`".to_string()
                        })
                    },
                ),
            ),
        );
        return None;
    }
    if let Some(resolver) = raw
        .cert_resolver
        .as_ref()
        .filter(|r| !statics.cert_resolvers.contains_key(&r.value))
    {
        issues.push(
            ConfigIssue::warning(
                resolver.origin.clone(),
                format!("router `{qn}`: certificate resolver `{}` is not defined; the router is served with the certificate that matches its SNI, or the default one (as in Traefik)", resolver.value),
            )
            .with_hint_opt(did_you_mean(&resolver.value, statics.cert_resolvers.keys().map(String::as_str))),
        );
    }
    Some(RouterTls {
        options,
        cert_resolver: raw.cert_resolver.as_ref().map(|r| r.value.clone()),
        domains: raw.domains.clone(),
    })
}

/// A dropped router whose TLS options do not exist: its hosts' handshakes are refused.
fn refused_tls(
    raw: &RawRouter,
    provider: &ProviderName,
    statics: &StaticConfig,
    default_eps: &[String],
    config: &DynamicConfig,
) -> Option<wharf_model::RefusedTlsRouter> {
    let options = qualify_tls_options(&raw.tls.as_ref()?.options.as_ref()?.value, provider);
    if config.tls.options.contains_key(&options) {
        return None;
    }
    let rule = wharf_rule::parse(&raw.rule.as_ref()?.value).ok()?;
    let entry_points = match &raw.entry_points {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|e| e.value.clone())
            .filter(|e| statics.entry_points.contains_key(e))
            .collect(),
        _ => default_eps.to_vec(),
    };
    Some(wharf_model::RefusedTlsRouter {
        entry_points,
        rule,
        options,
    })
}
