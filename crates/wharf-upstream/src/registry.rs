//! Pools by service id, kept across generations while their service is unchanged; server
//! state by (service, server URL), kept while the server stays in its service, so a changed
//! service gets a new pool without losing what is known of its servers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::DropGuard;
use wharf_model::{DynamicConfig, QualifiedName};

use crate::composite::{CompositeNode, ServiceNode};
use crate::exchange::Client;

/// The same node (so a parent over it can be kept).
fn same(a: &ServiceNode, b: &ServiceNode) -> bool {
    match (a, b) {
        (ServiceNode::Pool(x), ServiceNode::Pool(y)) => Arc::ptr_eq(x, y),
        (ServiceNode::Composite(x), ServiceNode::Composite(y)) => Arc::ptr_eq(x, y),
        _ => false,
    }
}
use crate::pool::ServicePool;
use crate::server::ServerState;

struct Entry {
    pool: Arc<ServicePool>,
    /// Stops the pool's health checks when the entry goes.
    _checks: Option<DropGuard>,
}

pub struct PoolRegistry {
    pools: HashMap<QualifiedName, Entry>,
    composites: HashMap<QualifiedName, Arc<CompositeNode>>,
    states: HashMap<(QualifiedName, String), Arc<ServerState>>,
    /// Servers gone from the last synced configuration, told so by [`Self::departed`] once
    /// the generation without them is published.
    departed: Vec<Arc<ServerState>>,
    client: Arc<Client>,
    changes: Arc<Notify>,
}

impl std::fmt::Debug for PoolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolRegistry")
            .field("pools", &self.pools.len())
            .field("servers", &self.states.len())
            .finish()
    }
}

impl Default for PoolRegistry {
    fn default() -> Self {
        PoolRegistry {
            pools: HashMap::new(),
            composites: HashMap::new(),
            states: HashMap::new(),
            departed: Vec::new(),
            client: Arc::new(Client::new()),
            changes: Arc::new(Notify::new()),
        }
    }
}

impl PoolRegistry {
    /// Tells the servers that left with the last [`Self::sync`] that they did: call it once the
    /// generation without them is published. Told before, a request still starting on the
    /// previous generation would find every server of a fully replaced service gone (503).
    pub fn departed(&mut self) {
        for state in self.departed.drain(..) {
            state.leave();
        }
    }

    /// Brings the registry in line with `config`: unchanged services keep their pool, changed
    /// or new ones get a fresh pool (with the state of the servers they keep), removed ones
    /// are forgotten (in-flight requests keep theirs through their `Arc`). Health checks run
    /// on the current tokio runtime; without one (unit tests) they do not run.
    pub fn sync(&mut self, config: &DynamicConfig) -> Vec<wharf_model::ConfigIssue> {
        self.pools
            .retain(|name, _| config.services.contains_key(name));
        let wanted: HashSet<(&QualifiedName, &str)> = config
            .services
            .iter()
            .flat_map(|(name, s)| s.servers.iter().map(move |srv| (name, srv.url.as_str())))
            .collect();
        let departed = &mut self.departed;
        self.states.retain(|(name, url), state| {
            let stays = wanted.contains(&(name, url.as_str()));
            if !stays {
                departed.push(state.clone());
            }
            stays
        });
        let runtime = tokio::runtime::Handle::try_current().ok();
        for (name, spec) in &config.services {
            if self.pools.get(name).is_some_and(|e| e.pool.serves(spec)) {
                continue;
            }
            let states = &mut self.states;
            let mut pool = ServicePool::new(spec, |url| {
                states
                    .entry((name.clone(), url.to_string()))
                    .or_insert_with(|| Arc::new(ServerState::new()))
                    .clone()
            });
            pool.changes = Some(self.changes.clone());
            let pool = Arc::new(pool);
            let checks = match (&spec.health_check, &runtime) {
                (Some(hc), Some(rt)) => Some(
                    crate::health::spawn(&pool, hc, &self.client, &self.changes, rt).drop_guard(),
                ),
                (None, _) => {
                    // Nothing will bring a server back but a good answer or the backoff.
                    for state in &pool.states {
                        state.set_active(true);
                    }
                    None
                }
                (Some(_), None) => None,
            };
            self.pools.insert(
                name.clone(),
                Entry {
                    pool,
                    _checks: checks,
                },
            );
        }
        self.sync_composites(config);
        // One report per transport, however many services use it.
        let mut issues: Vec<wharf_model::ConfigIssue> = Vec::new();
        for entry in self.pools.values() {
            for issue in &entry.pool.issues {
                if !issues.contains(issue) {
                    issues.push(issue.clone());
                }
            }
        }
        issues
    }

    pub fn get(&self, name: &QualifiedName) -> Option<Arc<ServicePool>> {
        self.pools.get(name).map(|e| e.pool.clone())
    }

    /// Any service (load balancer or composite) as the request path uses it.
    pub fn node(&self, name: &QualifiedName) -> Option<ServiceNode> {
        self.get(name).map(ServiceNode::Pool).or_else(|| {
            self.composites
                .get(name)
                .map(|c| ServiceNode::Composite(c.clone()))
        })
    }

    /// Composite nodes over the current pools; one is kept (with its schedule position and
    /// counters) while its definition and children are the same.
    fn sync_composites(&mut self, config: &DynamicConfig) {
        let old = std::mem::take(&mut self.composites);
        // Validation guarantees no cycles: building children first terminates.
        fn build(
            name: &QualifiedName,
            config: &DynamicConfig,
            reg: &mut PoolRegistry,
            old: &HashMap<QualifiedName, Arc<CompositeNode>>,
        ) -> Option<ServiceNode> {
            if let Some(node) = reg.node(name) {
                return Some(node);
            }
            let spec = config.composites.get(name)?;
            let mut children = Vec::new();
            for child in spec.children() {
                children.push(build(child, config, reg, old)?);
            }
            let kept = old.get(name).filter(|c| {
                c.spec == *spec
                    && c.children().len() == children.len()
                    && c.children().iter().zip(&children).all(|(a, b)| same(a, b))
            });
            let node = match kept {
                Some(c) => c.clone(),
                None => Arc::new(CompositeNode::new(spec, children)),
            };
            reg.composites.insert(name.clone(), node.clone());
            Some(ServiceNode::Composite(node))
        }
        for name in config.composites.keys() {
            build(name, config, self, &old);
        }
    }

    /// Notified when a health check changes a server's state.
    pub fn changes(&self) -> Arc<Notify> {
        self.changes.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(weights: &[u32]) -> DynamicConfig {
        let spec = crate::pool::test_service("s", weights);
        let mut config = DynamicConfig::default();
        config.services.insert(spec.name.clone(), spec);
        config
    }

    #[test]
    fn a_server_that_leaves_its_service_is_told_and_one_that_stays_keeps_its_state() {
        let mut registry = PoolRegistry::default();
        registry.sync(&config(&[1, 1]));
        let name = QualifiedName::new("s", &wharf_model::ProviderName::new("file"));
        let before = registry.get(&name).expect("pool");
        registry.sync(&config(&[1]));
        // Until the generation without it is published, the old pool still offers it.
        assert!(before.states[1].available());
        registry.departed();
        let after = registry.get(&name).expect("pool");
        assert!(Arc::ptr_eq(&before.states[0], &after.states[0]));
        assert!(!after.states[0].has_left() && after.states[0].available());
        // The old pool (still held by requests in flight) no longer offers the server.
        assert!(before.states[1].has_left() && !before.states[1].available());
    }
}
