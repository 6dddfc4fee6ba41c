//! Pools by service id, kept across generations while their service is unchanged; server
//! state by (service, server URL), kept while the server stays in its service, so a changed
//! service gets a new pool without losing what is known of its servers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::DropGuard;
use wharf_model::{DynamicConfig, QualifiedName};

use crate::exchange::Client;
use crate::pool::ServicePool;
use crate::server::ServerState;

struct Entry {
    pool: Arc<ServicePool>,
    /// Stops the pool's health checks when the entry goes.
    _checks: Option<DropGuard>,
}

pub struct PoolRegistry {
    pools: HashMap<QualifiedName, Entry>,
    states: HashMap<(QualifiedName, String), Arc<ServerState>>,
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
            states: HashMap::new(),
            client: Arc::new(Client::new()),
            changes: Arc::new(Notify::new()),
        }
    }
}

impl PoolRegistry {
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
        self.states
            .retain(|(name, url), _| wanted.contains(&(name, url.as_str())));
        let runtime = tokio::runtime::Handle::try_current().ok();
        for (name, spec) in &config.services {
            if self.pools.get(name).is_some_and(|e| e.pool.serves(spec)) {
                continue;
            }
            let states = &mut self.states;
            let pool = Arc::new(ServicePool::new(spec, |url| {
                states
                    .entry((name.clone(), url.to_string()))
                    .or_insert_with(|| Arc::new(ServerState::new()))
                    .clone()
            }));
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

    /// Notified when a health check changes a server's state.
    pub fn changes(&self) -> Arc<Notify> {
        self.changes.clone()
    }
}

