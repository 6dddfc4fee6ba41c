//! Validated config -> [`Generation`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use wharf_middleware::{Chain, Middleware};
use wharf_model::{DynamicConfig, MiddlewareKind, ProviderName, QualifiedName, StaticConfig};
use wharf_rule::{parse, HostConstraint};
use wharf_tls::TlsSnapshot;
use wharf_upstream::PoolRegistry;

use crate::api_view::ApiView;
use crate::generation::{EntryPointRoutes, Generation};
use crate::table::{Route, RouteAction, RouteTable};

/// The internal routers derived from the static configuration.
#[derive(Debug, Clone, Default)]
pub struct InternalRoutes {
    /// Entrypoint that serves `/ping` (None if ping is off or manually routed).
    pub ping_entry_point: Option<String>,
    /// Entrypoint that serves `/api` (`api.insecure`: always `traefik`).
    pub api_entry_point: Option<String>,
    /// Entrypoint that serves wharf's `/health`, `/health/live` and `/health/ready` (`traefik`, when
    /// it exists).
    pub health_entry_point: Option<String>,
    /// Entrypoints of ACME resolvers' `httpChallenge`.
    pub acme_http_entry_points: Vec<String>,
    /// Entrypoint that serves `/metrics` (None if metrics are off or manually routed).
    pub metrics_entry_point: Option<String>,
    /// Entrypoint that serves the dashboard (`api.insecure` with `api.dashboard`).
    pub dashboard_entry_point: Option<String>,
}

impl InternalRoutes {
    pub fn from_static(statics: &StaticConfig) -> Self {
        InternalRoutes {
            ping_entry_point: statics
                .ping
                .as_ref()
                .filter(|p| !p.manual_routing)
                .map(|p| p.entry_point.clone()),
            api_entry_point: statics
                .api
                .as_ref()
                .filter(|a| a.insecure)
                .map(|_| "traefik".to_string()),
            health_entry_point: statics
                .entry_points
                .contains_key("traefik")
                .then(|| "traefik".to_string()),
            acme_http_entry_points: statics
                .cert_resolvers
                .values()
                .filter_map(|r| r.acme.http_challenge.clone())
                .collect(),
            metrics_entry_point: statics
                .metrics
                .as_ref()
                .filter(|m| !m.manual_routing)
                .map(|m| m.entry_point.clone()),
            dashboard_entry_point: statics
                .api
                .as_ref()
                .filter(|a| a.insecure && a.dashboard)
                .map(|_| "traefik".to_string()),
        }
    }
}

const INTERNAL_PRIORITY: i64 = i64::MAX - 1;

struct Pending {
    route: Route,
    constraint: HostConstraint,
    provider_rank: u32,
    /// The TLS options a TLS route asks for; `None`: a plain route.
    tls: Option<String>,
}

fn internal_route(name: &str, rule: &str, action: RouteAction) -> Pending {
    let expr = parse(rule).unwrap_or_else(|e| panic!("internal rule {rule}: {e}"));
    Pending {
        constraint: expr.host_constraint(),
        route: Route {
            name: QualifiedName::new(name, &ProviderName::new("internal")),
            priority: INTERNAL_PRIORITY,
            rule: expr.compile(),
            action,
            metrics: None,
            observability: Default::default(),
        },
        provider_rank: 0,
        tls: None,
    }
}

/// What the control plane built for a configuration, besides its routes.
pub struct Built<'a> {
    /// Already synced with the configuration.
    pub pools: &'a PoolRegistry,
    pub middlewares: &'a mut MiddlewareCache,
    pub api: Arc<ApiView>,
    pub tls: &'a TlsSnapshot,
    /// A router's `traefik_router_*` series (router, service: both qualified).
    pub router_metrics: &'a mut dyn FnMut(
        &QualifiedName,
        &QualifiedName,
    ) -> Option<Arc<wharf_observe::RequestSeries>>,
}

/// Compiles a validated configuration.
pub fn compile(
    id: u64,
    statics: &StaticConfig,
    internal: &InternalRoutes,
    config: &DynamicConfig,
    parts: Built<'_>,
) -> Arc<Generation> {
    let Built {
        pools,
        middlewares,
        api,
        tls,
        router_metrics,
    } = parts;
    let mut per_ep: BTreeMap<&str, Vec<Pending>> = statics
        .entry_points
        .keys()
        .map(|k| (k.as_str(), Vec::new()))
        .collect();

    middlewares.retain(config);
    let mut built = Middlewares {
        config,
        pools,
        cache: middlewares,
    };
    for router in config.routers.values() {
        let action = |chain: &Arc<Chain>| match pools.node(&router.service) {
            Some(service) => Some(RouteAction::Forward {
                service,
                chain: chain.clone(),
            }),
            None => wharf_model::InternalService::from_name(&router.service).map(|service| {
                RouteAction::Internal {
                    service,
                    chain: chain.clone(),
                }
            }),
        };
        let metrics = router
            .observability
            .metrics
            .then(|| router_metrics(&router.name, &router.service))
            .flatten();

        let compiled = router.rule.compile();
        let constraint = router.rule.host_constraint();
        for ep in &router.entry_points {
            let route_tls = statics
                .entry_points
                .get(ep)
                .and_then(|e| router.tls_on(e))
                .map(|t| t.options);
            // The entrypoint's middlewares run first, then the router's.
            let names: Vec<QualifiedName> = statics
                .entry_points
                .get(ep)
                .map(|e| {
                    e.middlewares
                        .iter()
                        .map(|m| QualifiedName::resolve(m, &router.provider))
                        .collect()
                })
                .unwrap_or_default();
            let names: Vec<QualifiedName> = names
                .into_iter()
                .chain(router.middlewares.iter().cloned())
                .collect();
            let Some(chain) = built.chain(&names) else {
                tracing::error!(router = %router.name, "a middleware could not be built; the router is not served");
                continue;
            };
            // Validation guarantees the service; a missing pool would be a registry bug.
            let Some(action) = action(&chain) else {
                continue;
            };
            if let Some(list) = per_ep.get_mut(ep.as_str()) {
                list.push(Pending {
                    route: Route {
                        name: router.name.clone(),
                        priority: router.priority,
                        rule: compiled.clone(),
                        action,
                        metrics: metrics.clone(),
                        observability: router.observability,
                    },
                    constraint: constraint.clone(),
                    provider_rank: router.provider.precedence_rank(),
                    tls: route_tls,
                });
            }
        }
    }
    for (name, ep) in &statics.entry_points {
        let list = per_ep
            .get_mut(name.as_str())
            .expect("all entrypoints listed");
        if let Some(redirect) = &ep.redirect {
            list.push(internal_route(
                &format!("{name}-to-{}", redirect.to.trim_start_matches(':')),
                "HostRegexp(`^.+$`)",
                RouteAction::Redirect(redirect.clone()),
            ));
        }
        if internal.acme_http_entry_points.contains(name) {
            let mut challenge = internal_route(
                "acme-http",
                "PathPrefix(`/.well-known/acme-challenge/`)",
                RouteAction::AcmeHttp,
            );
            // Above the entrypoint redirection, as in Traefik: a CA never follows it.
            challenge.route.priority = i64::MAX;
            list.push(challenge);
        }
        if internal.ping_entry_point.as_deref() == Some(name.as_str()) {
            list.push(internal_route(
                "ping",
                "PathPrefix(`/ping`)",
                RouteAction::Ping,
            ));
        }
        if internal.health_entry_point.as_deref() == Some(name.as_str()) {
            list.push(internal_route(
                "health",
                "Path(`/health`) || Path(`/health/ready`) || Path(`/health/live`)",
                RouteAction::Health,
            ));
        }
        if internal.metrics_entry_point.as_deref() == Some(name.as_str()) {
            list.push(internal_route(
                "prometheus",
                "PathPrefix(`/metrics`)",
                RouteAction::Metrics,
            ));
        }
        if internal.dashboard_entry_point.as_deref() == Some(name.as_str()) {
            let mut dashboard =
                internal_route("dashboard", "PathPrefix(`/`)", RouteAction::Dashboard);
            // Below every other internal router, as in Traefik.
            dashboard.route.priority = i64::MAX - 2;
            list.push(dashboard);
        }
        if internal.api_entry_point.as_deref() == Some(name.as_str()) {
            list.push(internal_route(
                "api",
                "PathPrefix(`/api`)",
                RouteAction::Api,
            ));
        }
    }

    let entry_points = per_ep
        .into_iter()
        .map(|(name, mut list)| {
            // Deterministic precedence: priority, then provider precedence, then name.
            list.sort_by(|a, b| {
                b.route
                    .priority
                    .cmp(&a.route.priority)
                    .then(a.provider_rank.cmp(&b.provider_rank))
                    .then_with(|| a.route.name.cmp(&b.route.name))
            });
            let (tls_routes, plain): (Vec<Pending>, Vec<Pending>) =
                list.into_iter().partition(|p| p.tls.is_some());
            // Traefik picks a connection's TLS options by SNI among the Host() names of the
            // TLS routers that ask for them.
            let hosts: Vec<(&str, &str, &str)> = tls_routes
                .iter()
                .flat_map(|p| {
                    let options = p.tls.as_deref().unwrap_or_default();
                    let names: &[String] = match &p.constraint {
                        HostConstraint::Hosts { exact, .. } => exact,
                        HostConstraint::Any => &[],
                    };
                    names
                        .iter()
                        .map(move |h| (h.as_str(), options, p.route.name.as_str()))
                })
                .collect();
            let refused: Vec<(String, &str)> = config
                .tls_refused
                .iter()
                .filter(|r| r.entry_points.iter().any(|e| e == name))
                .flat_map(|r| {
                    let names = match r.rule.host_constraint() {
                        HostConstraint::Hosts { exact, .. } => exact,
                        HostConstraint::Any => Vec::new(),
                    };
                    names.into_iter().map(|h| (h, r.options.as_str()))
                })
                .collect();
            let hosts = hosts
                .into_iter()
                .chain(refused.iter().map(|(h, o)| (h.as_str(), *o, "")));
            let (sni, warnings) = tls.sni_options(hosts);
            for warning in warnings {
                tracing::warn!(entry_point = name, "{warning}");
            }
            let table = |v: Vec<Pending>| {
                RouteTable::new(v.into_iter().map(|p| (p.route, p.constraint)).collect())
            };
            EntryPointRoutes {
                name: name.to_string(),
                plain: table(plain),
                tls: table(tls_routes),
                sni: Arc::new(sni),
            }
        })
        .collect();
    Arc::new(Generation {
        id,
        entry_points,
        api,
    })
}

/// Built middlewares, kept across generations while their definition is unchanged: their
/// state (rate-limit buckets, in-flight counts, auth connections) survives a configuration
/// change, as pools do. Owned by the control plane.
#[derive(Default)]
pub struct MiddlewareCache {
    built: HashMap<QualifiedName, (MiddlewareKind, Arc<dyn Middleware>)>,
}

impl MiddlewareCache {
    /// Forgets middlewares that are gone or changed.
    fn retain(&mut self, config: &DynamicConfig) {
        self.built.retain(|name, (kind, _)| {
            config
                .middlewares
                .get(name)
                .is_some_and(|m| &m.kind == kind)
        });
    }
}

struct Middlewares<'a> {
    config: &'a DynamicConfig,
    pools: &'a PoolRegistry,
    cache: &'a mut MiddlewareCache,
}

impl Middlewares<'_> {
    /// The flattened chain for a router's middleware list (chains expanded in place).
    fn chain(&mut self, names: &[QualifiedName]) -> Option<Arc<Chain>> {
        let mut items = Vec::new();
        self.flatten(names, &mut items, 0)?;
        Some(Arc::new(Chain::new(items)))
    }

    fn flatten(
        &mut self,
        names: &[QualifiedName],
        out: &mut Vec<Arc<dyn Middleware>>,
        depth: usize,
    ) -> Option<()> {
        if depth > 32 {
            return None; // validation rejects cycles; this only bounds a bug
        }
        for name in names {
            let spec = self.config.middlewares.get(name)?;
            if let MiddlewareKind::Chain { middlewares } = &spec.kind {
                self.flatten(middlewares, out, depth + 1)?;
                continue;
            }
            if let MiddlewareKind::Errors(errors) = &spec.kind {
                // Built per generation: it holds this generation's pool of its page service.
                let pool = self.pools.get(&errors.service)?;
                out.push(wharf_middleware::build_errors(errors, pool).ok()?);
                continue;
            }
            if let Some((_, m)) = self.cache.built.get(name) {
                out.push(m.clone());
                continue;
            }
            let m = wharf_middleware::build(name.as_str(), &spec.kind).ok()?;
            self.cache
                .built
                .insert(name.clone(), (spec.kind.clone(), m.clone()));
            out.push(m);
        }
        Some(())
    }
}
