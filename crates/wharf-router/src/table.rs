//! Routes sorted by precedence, with a host index.

use std::collections::HashMap;
use std::sync::Arc;

use wharf_middleware::Chain;
use wharf_model::{EntryPointRedirect, QualifiedName};
use wharf_rule::{CompiledRule, HostConstraint, RequestView};
use wharf_upstream::ServiceNode;

/// What a matched route does.
#[derive(Debug, Clone)]
pub enum RouteAction {
    /// Run the router's middlewares, then proxy to a service's servers.
    Forward {
        service: ServiceNode,
        chain: Arc<Chain>,
    },
    /// A user router whose service is one of Traefik's `@internal` ones: its middlewares,
    /// then the internal answer.
    Internal {
        service: wharf_model::InternalService,
        chain: Arc<Chain>,
    },
    /// `prometheus@internal`'s own router (`/metrics`).
    Metrics,
    /// The entrypoint redirection (`<ep>-to-<target>@internal`).
    Redirect(EntryPointRedirect),
    /// `ping@internal`.
    Ping,
    /// `api@internal`: the documents of the generation's [`crate::ApiView`].
    Api,
    /// `dashboard@internal`: the dashboard's files (and `/` redirected to it).
    Dashboard,
    /// `health@internal`: wharf's `/health`, `/health/live` and `/health/ready` (see
    /// [`crate::ControlStatus`]).
    Health,
    /// `acme-http@internal`: the answer to an ACME HTTP-01 challenge in flight.
    AcmeHttp,
}

#[derive(Debug)]
pub struct Route {
    pub name: QualifiedName,
    pub priority: i64,
    pub rule: CompiledRule,
    pub action: RouteAction,
    /// `traefik_router_*` (with `addRoutersLabels`; internal routers only with
    /// `metrics.addInternals`).
    pub metrics: Option<Arc<wharf_observe::RequestSeries>>,
    /// `observability`: whether its requests count in the metrics and the access log.
    pub observability: wharf_model::RouterObservability,
}

/// The routes of one entrypoint (and one TLS-ness), ready to match.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// In match order: priority descending, then provider precedence, then name.
    routes: Vec<Route>,
    exact: HashMap<String, Vec<u32>>,
    /// Keyed by the suffix after the first label, with its dot (`.d.com`).
    one_label: HashMap<String, Vec<u32>>,
    any_host: Vec<u32>,
}

impl RouteTable {
    /// Builds the table; `routes` must already be in match order, each with its host constraint.
    pub(crate) fn new(routes: Vec<(Route, HostConstraint)>) -> Self {
        let mut table = RouteTable::default();
        for (i, (route, constraint)) in routes.into_iter().enumerate() {
            let idx = i as u32;
            match constraint {
                HostConstraint::Any => table.any_host.push(idx),
                HostConstraint::Hosts { exact, one_label } => {
                    for h in exact {
                        let v = table.exact.entry(h).or_default();
                        if v.last() != Some(&idx) {
                            v.push(idx);
                        }
                    }
                    for s in one_label {
                        let v = table.one_label.entry(s).or_default();
                        if v.last() != Some(&idx) {
                            v.push(idx);
                        }
                    }
                }
            }
            table.routes.push(route);
        }
        table
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The first route, in precedence order, whose rule matches.
    pub fn find(&self, req: &RequestView<'_>) -> Option<&Route> {
        const EMPTY: &[u32] = &[];
        let exact = self.exact.get(req.host).map_or(EMPTY, Vec::as_slice);
        let wildcard = req
            .host
            .find('.')
            .and_then(|dot| self.one_label.get(&req.host[dot..]))
            .map_or(EMPTY, Vec::as_slice);
        let (mut a, mut b, mut c) = (exact, wildcard, self.any_host.as_slice());
        // Three sorted candidate lists, merged lazily in precedence order.
        loop {
            let next = [a.first(), b.first(), c.first()]
                .into_iter()
                .flatten()
                .min()
                .copied()?;
            if a.first() == Some(&next) {
                a = &a[1..];
            }
            if b.first() == Some(&next) {
                b = &b[1..];
            }
            if c.first() == Some(&next) {
                c = &c[1..];
            }
            let route = &self.routes[next as usize];
            if route.rule.matches(req) {
                return Some(route);
            }
        }
    }
}
