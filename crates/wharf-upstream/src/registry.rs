//! Pools by service id, kept across generations while their service is unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use wharf_model::{DynamicConfig, QualifiedName};

use crate::pool::ServicePool;

#[derive(Debug, Default)]
pub struct PoolRegistry {
    pools: HashMap<QualifiedName, Arc<ServicePool>>,
}

impl PoolRegistry {
    /// Brings the registry in line with `config`: unchanged services keep their pool, changed
    /// or new ones get a fresh pool, removed ones are forgotten (in-flight requests keep theirs
    /// through their `Arc`).
    pub fn sync(&mut self, config: &DynamicConfig) {
        self.pools
            .retain(|name, _| config.services.contains_key(name));
        for (name, spec) in &config.services {
            let keep = self.pools.get(name).is_some_and(|p| p.serves(spec));
            if !keep {
                self.pools
                    .insert(name.clone(), Arc::new(ServicePool::new(spec)));
            }
        }
    }

    pub fn get(&self, name: &QualifiedName) -> Option<Arc<ServicePool>> {
        self.pools.get(name).cloned()
    }
}
