//! [`Controller`]: owns the generation writer and the pool registry.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use tokio::sync::mpsc;
use wharf_config::{validate, ProviderConfig, RawDynamicConfig};
use wharf_discovery::{LoadError, ProviderUpdate};
use wharf_model::{ConfigIssue, ProviderName, Severity, StaticConfig};
use wharf_router::{compile, GenerationWriter, InternalRoutes, MiddlewareCache};
use wharf_upstream::PoolRegistry;

/// What a provider reports: a complete configuration, or why its latest one was rejected.
pub type ProviderEvent = Result<ProviderUpdate, LoadError>;

/// The outcome of applying one event.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    /// The generation now live (unchanged when the event was rejected).
    pub generation: u64,
    /// Every current issue, from decoding and validation.
    pub issues: Vec<ConfigIssue>,
    /// Whether a new generation was published.
    pub published: bool,
}

pub struct Controller {
    statics: Arc<StaticConfig>,
    internal: InternalRoutes,
    writer: GenerationWriter,
    pools: PoolRegistry,
    middlewares: MiddlewareCache,
    providers: BTreeMap<ProviderName, (RawDynamicConfig, Vec<ConfigIssue>)>,
    next_id: u64,
    logged: HashSet<ConfigIssue>,
}

impl Controller {
    pub fn new(statics: Arc<StaticConfig>, writer: GenerationWriter) -> Self {
        let next_id = writer.current().id + 1;
        Controller {
            internal: InternalRoutes::from_static(&statics),
            statics,
            writer,
            pools: PoolRegistry::default(),
            middlewares: MiddlewareCache::default(),
            providers: BTreeMap::new(),
            next_id,
            logged: HashSet::new(),
        }
    }

    /// Publishes the internal routes (ping, redirections) before any provider has spoken.
    pub fn publish_initial(&mut self) -> ApplyReport {
        self.rebuild(Vec::new())
    }

    /// Applies one provider event and publishes the result.
    pub fn apply(&mut self, event: ProviderEvent) -> ApplyReport {
        match event {
            Ok(update) => {
                self.providers
                    .insert(update.provider, (update.raw, update.issues));
                self.rebuild(Vec::new())
            }
            Err(e) => {
                let issue = e.to_issue();
                tracing::error!(%issue, "provider update rejected; keeping the last valid configuration");
                let mut issues = self.current_decode_issues();
                issues.push(issue);
                ApplyReport {
                    generation: self.writer.current().id,
                    issues,
                    published: false,
                }
            }
        }
    }

    fn current_decode_issues(&self) -> Vec<ConfigIssue> {
        self.providers
            .values()
            .flat_map(|(_, issues)| issues.iter().cloned())
            .collect()
    }

    fn rebuild(&mut self, mut issues: Vec<ConfigIssue>) -> ApplyReport {
        issues.extend(self.current_decode_issues());
        let inputs: Vec<ProviderConfig> = self
            .providers
            .iter()
            .map(|(provider, (raw, _))| ProviderConfig {
                provider: provider.clone(),
                raw: raw.clone(),
            })
            .collect();
        let (config, validation_issues) = validate(&inputs, &self.statics);
        issues.extend(validation_issues);
        self.pools.sync(&config);
        let id = self.next_id;
        self.next_id += 1;
        let api = crate::api::render(&config);
        let generation = compile(
            id,
            &self.statics,
            &self.internal,
            &config,
            &self.pools,
            &mut self.middlewares,
            api,
        );
        self.writer.publish(generation);
        self.log_new(&issues);
        tracing::info!(
            generation = id,
            routers = config.routers.len(),
            services = config.services.len(),
            errors = issues.iter().filter(|i| i.is_error()).count(),
            "configuration applied"
        );
        ApplyReport {
            generation: id,
            issues,
            published: true,
        }
    }

    /// Logs each issue once, until it goes away and comes back.
    fn log_new(&mut self, issues: &[ConfigIssue]) {
        let current: HashSet<ConfigIssue> = issues.iter().cloned().collect();
        for issue in issues {
            if !self.logged.contains(issue) {
                match issue.severity {
                    Severity::Error => tracing::error!("{issue}"),
                    Severity::Warning => tracing::warn!("{issue}"),
                }
            }
        }
        self.logged = current;
    }

    /// Applies events until every sender is gone.
    pub async fn run(mut self, mut events: mpsc::Receiver<ProviderEvent>) {
        while let Some(event) = events.recv().await {
            self.apply(event);
        }
    }
}
