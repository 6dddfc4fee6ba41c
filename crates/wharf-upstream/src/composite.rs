//! Services made of services, resolved per request down to one pool: `weighted` (its own
//! schedule and sticky cookie), `highestRandomWeight`, `failover` (the fallback while the
//! primary is down, or for the statuses listed in `errors`) and `mirroring` (the main service
//! answers; mirrors get copies).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wharf_model::{CompositeKind, CompositeSpec, StickyCookieSpec};

use crate::pool::ServicePool;
use crate::schedule::Schedule;
use crate::sticky;

/// A service as the request path sees it.
#[derive(Debug, Clone)]
pub enum ServiceNode {
    Pool(Arc<ServicePool>),
    Composite(Arc<CompositeNode>),
}

#[derive(Debug)]
pub struct CompositeNode {
    pub spec: CompositeSpec,
    children: Vec<ServiceNode>,
    /// Weighted: the children's cycle.
    schedule: Schedule,
    next: AtomicU64,
    /// Weighted sticky cookie: each child's value (sha256 of its name, as Traefik).
    sticky_values: Vec<String>,
    /// Mirroring: requests seen, for each mirror's percent.
    seen: AtomicU64,
}

/// What the request brings to the choice.
#[derive(Clone, Copy)]
pub struct Routing<'a> {
    pub client_ip: Option<IpAddr>,
    /// The value of a cookie in the request, by name.
    pub cookie: &'a dyn Fn(&str) -> Option<&'a str>,
}

/// A mirror to send a copy to.
#[derive(Debug, Clone)]
pub struct Mirror {
    pub pool: Arc<ServicePool>,
    pub with_body: bool,
    /// -1: no limit.
    pub max_body_size: i64,
}

/// Where an answer with one of `statuses` goes instead (failover `errors`).
#[derive(Debug, Clone)]
pub struct Fallback {
    pub node: ServiceNode,
    pub statuses: Vec<(u16, u16)>,
    pub max_request_body: i64,
}

/// A request's service, resolved.
#[derive(Debug, Default)]
pub struct Resolved {
    pub pool: Option<Arc<ServicePool>>,
    /// `Set-Cookie` values of the weighted levels passed (sticky).
    pub cookies: Vec<String>,
    pub mirrors: Vec<Mirror>,
    pub fallback: Option<Fallback>,
}

impl ServiceNode {
    /// Whether some server below may serve now.
    pub fn up(&self) -> bool {
        match self {
            ServiceNode::Pool(p) => p.any_available(),
            ServiceNode::Composite(c) => match &c.spec.kind {
                CompositeKind::Failover { .. } => c.children.iter().any(ServiceNode::up),
                CompositeKind::Mirroring { .. } => c.children[0].up(),
                _ => c.children.iter().any(ServiceNode::up),
            },
        }
    }

    /// Resolves down to the pool that serves this request.
    pub fn resolve(&self, routing: &Routing<'_>) -> Resolved {
        let mut out = Resolved::default();
        self.resolve_into(routing, &mut out);
        out
    }

    fn resolve_into(&self, routing: &Routing<'_>, out: &mut Resolved) {
        match self {
            ServiceNode::Pool(p) => out.pool = Some(p.clone()),
            ServiceNode::Composite(c) => c.resolve_into(routing, out),
        }
    }

    /// The pool a mirror copy goes to (no cookies, no mirrors of mirrors).
    fn first_pool(&self, routing: &Routing<'_>) -> Option<Arc<ServicePool>> {
        let mut r = Resolved::default();
        self.resolve_into(routing, &mut r);
        r.pool
    }
}

impl CompositeNode {
    pub fn new(spec: &CompositeSpec, children: Vec<ServiceNode>) -> Self {
        let (schedule, sticky_values) = match &spec.kind {
            CompositeKind::Weighted { children: c, .. } => (
                Schedule::new(&c.iter().map(|c| c.weight).collect::<Vec<_>>()),
                c.iter()
                    .map(|c| sticky::server_value(c.service.as_str()))
                    .collect(),
            ),
            _ => (Schedule::Empty, Vec::new()),
        };
        CompositeNode {
            spec: spec.clone(),
            children,
            schedule,
            next: AtomicU64::new(0),
            sticky_values,
            seen: AtomicU64::new(0),
        }
    }

    /// The nodes it was built over (to tell whether it can be kept).
    pub fn children(&self) -> &[ServiceNode] {
        &self.children
    }

    fn eligible(&self, i: usize) -> bool {
        !self.spec.health_check || self.children[i].up()
    }

    fn resolve_into(&self, routing: &Routing<'_>, out: &mut Resolved) {
        match &self.spec.kind {
            CompositeKind::Weighted { sticky, .. } => {
                let Some(i) = self.weighted(sticky.as_ref(), routing, out) else {
                    return;
                };
                self.children[i].resolve_into(routing, out);
            }
            CompositeKind::HighestRandomWeight { children } => {
                let candidates = (0..self.children.len())
                    .filter(|i| self.eligible(*i) && children[*i].weight > 0)
                    .map(|i| (i, children[i].service.as_str(), children[i].weight));
                if let Some(i) = crate::balance::hrw_pick(routing.client_ip, candidates) {
                    self.children[i].resolve_into(routing, out);
                }
            }
            CompositeKind::Failover {
                error_status,
                max_request_body,
                ..
            } => {
                let (main, fallback) = (&self.children[0], &self.children[1]);
                if main.up() {
                    if !error_status.is_empty() {
                        out.fallback = Some(Fallback {
                            node: fallback.clone(),
                            statuses: error_status.clone(),
                            max_request_body: *max_request_body,
                        });
                    }
                    main.resolve_into(routing, out);
                } else {
                    fallback.resolve_into(routing, out);
                }
            }
            CompositeKind::Mirroring {
                mirrors,
                mirror_body,
                max_body_size,
                ..
            } => {
                let n = self.seen.fetch_add(1, Ordering::Relaxed);
                for (k, m) in mirrors.iter().enumerate() {
                    // Exactly `percent` of every 100 requests, spread evenly.
                    let p = u64::from(m.weight.min(100));
                    if (n + 1) * p / 100 > n * p / 100 {
                        if let Some(pool) = self.children[k + 1].first_pool(routing) {
                            out.mirrors.push(Mirror {
                                pool,
                                with_body: *mirror_body,
                                max_body_size: *max_body_size,
                            });
                        }
                    }
                }
                self.children[0].resolve_into(routing, out);
            }
        }
    }

    /// The weighted child for this request: the sticky cookie's if it may serve, else the
    /// next in the cycle that may.
    fn weighted(
        &self,
        sticky: Option<&StickyCookieSpec>,
        routing: &Routing<'_>,
        out: &mut Resolved,
    ) -> Option<usize> {
        if let Some(spec) = sticky {
            if let Some(value) = (routing.cookie)(&spec.name) {
                if let Some(i) = self.sticky_values.iter().position(|v| v == value) {
                    if self.eligible(i) {
                        return Some(i);
                    }
                }
            }
        }
        let len = self.schedule.len();
        let pick = (0..len.min(64)).find_map(|_| {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            self.schedule.pick(n).filter(|i| self.eligible(*i))
        });
        let pick = pick.or_else(|| (0..self.children.len()).find(|i| self.eligible(*i)))?;
        if let Some(spec) = sticky {
            out.cookies
                .push(sticky::cookie(spec, &self.sticky_values[pick]));
        }
        Some(pick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_model::{
        Origin, ProviderName, QualifiedName, ServerSpec, ServiceSpec, UpstreamScheme, WeightedChild,
    };

    fn pool(n: u8) -> ServiceNode {
        let name = QualifiedName::new(&format!("s{n}"), &ProviderName::new("file"));
        let server = ServerSpec {
            url: format!("http://10.0.0.{n}:80"),
            scheme: UpstreamScheme::Http,
            host: format!("10.0.0.{n}"),
            port: 80,
            weight: 1,
            path_prefix: String::new(),
        };
        ServiceNode::Pool(Arc::new(ServicePool::standalone(&ServiceSpec::new(
            name,
            vec![server],
            Origin::Default,
        ))))
    }

    fn composite(kind: CompositeKind, children: Vec<ServiceNode>, hc: bool) -> ServiceNode {
        let spec = CompositeSpec {
            name: QualifiedName::new("c", &ProviderName::new("file")),
            kind,
            health_check: hc,
            origin: Origin::Default,
        };
        ServiceNode::Composite(Arc::new(CompositeNode::new(&spec, children)))
    }

    fn child(n: u8, weight: u32) -> WeightedChild {
        WeightedChild {
            service: QualifiedName::new(&format!("s{n}"), &ProviderName::new("file")),
            weight,
        }
    }

    fn served(node: &ServiceNode, count: usize) -> Vec<String> {
        let none = |_: &str| None;
        let routing = Routing {
            client_ip: None,
            cookie: &none,
        };
        (0..count)
            .map(|_| node.resolve(&routing).pool.unwrap().name.name().to_string())
            .collect()
    }

    fn down(node: &ServiceNode) {
        if let ServiceNode::Pool(p) = node {
            p.states[0].set_active(false);
        }
    }

    #[test]
    fn weighted_alternates_and_skips_a_down_child_only_with_a_health_check() {
        let (a, b) = (pool(1), pool(2));
        let kind = CompositeKind::Weighted {
            children: vec![child(1, 1), child(2, 1)],
            sticky: None,
        };
        let w = composite(kind.clone(), vec![a.clone(), b.clone()], true);
        assert_eq!(served(&w, 4), ["s1", "s2", "s1", "s2"]);
        down(&a);
        assert_eq!(served(&w, 3), ["s2", "s2", "s2"]);
        let unchecked = composite(kind, vec![a, b], false);
        assert_eq!(served(&unchecked, 2), ["s1", "s2"]);
    }

    #[test]
    fn failover_switches_and_returns() {
        let (main, fallback) = (pool(1), pool(2));
        let kind = CompositeKind::Failover {
            main: child(1, 1).service,
            fallback: child(2, 1).service,
            error_status: Vec::new(),
            max_request_body: -1,
        };
        let f = composite(kind, vec![main.clone(), fallback], true);
        assert_eq!(served(&f, 2), ["s1", "s1"]);
        down(&main);
        assert_eq!(served(&f, 2), ["s2", "s2"]);
        if let ServiceNode::Pool(p) = &main {
            p.states[0].set_active(true);
        }
        assert_eq!(served(&f, 1), ["s1"]);
    }

    #[test]
    fn mirrors_get_their_percent() {
        let kind = CompositeKind::Mirroring {
            main: child(1, 1).service,
            mirrors: vec![child(2, 25), child(3, 100)],
            mirror_body: true,
            max_body_size: -1,
        };
        let m = composite(kind, vec![pool(1), pool(2), pool(3)], false);
        let none = |_: &str| None;
        let routing = Routing {
            client_ip: None,
            cookie: &none,
        };
        let mut copies = std::collections::BTreeMap::<String, usize>::new();
        for _ in 0..100 {
            let r = m.resolve(&routing);
            assert_eq!(r.pool.unwrap().name.name(), "s1");
            for mirror in r.mirrors {
                *copies
                    .entry(mirror.pool.name.name().to_string())
                    .or_default() += 1;
            }
        }
        assert_eq!(copies["s2"], 25);
        assert_eq!(copies["s3"], 100);
    }
}
