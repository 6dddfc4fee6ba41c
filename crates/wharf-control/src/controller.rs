//! [`Controller`]: owns the generation writer and the pool registry.

use std::collections::{BTreeMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tokio::sync::mpsc;
use wharf_acme::AcmeLink;
use wharf_config::{validate, ProviderConfig, RawDynamicConfig};
use wharf_discovery::{panic_message, LoadError, ProviderUpdate};
use wharf_model::{ConfigIssue, Origin, ProviderName, Severity, StaticConfig};
use wharf_router::{
    compile, Built, ControlStatus, GenerationWriter, InternalRoutes, MiddlewareCache, ProviderSlot,
};
use wharf_tls::TlsRegistry;
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
    tls: TlsRegistry,
    /// The ACME resolvers' certificates, and where to say what routers need.
    acme: Option<AcmeLink>,
    providers: BTreeMap<ProviderName, (RawDynamicConfig, Vec<ConfigIssue>)>,
    next_id: u64,
    logged: HashSet<ConfigIssue>,
    status: Arc<ControlStatus>,
    /// Prometheus metrics: the series of each configuration's routers and services.
    metrics: Option<Arc<wharf_observe::Metrics>>,
    /// Tests: the next rebuild panics, as a bug reached by an update would.
    #[cfg(test)]
    panic_next_rebuild: bool,
}

impl Controller {
    pub fn new(
        statics: Arc<StaticConfig>,
        writer: GenerationWriter,
        status: Arc<ControlStatus>,
        tls: TlsRegistry,
    ) -> Self {
        let next_id = writer.current().id + 1;
        Controller {
            status,
            internal: InternalRoutes::from_static(&statics),
            statics,
            writer,
            pools: PoolRegistry::default(),
            middlewares: MiddlewareCache::default(),
            tls,
            acme: None,
            providers: BTreeMap::new(),
            next_id,
            logged: HashSet::new(),
            metrics: None,
            #[cfg(test)]
            panic_next_rebuild: false,
        }
    }

    /// Serves the ACME resolvers' certificates and tells them what routers need.
    pub fn with_acme(mut self, link: AcmeLink) -> Self {
        self.acme = Some(link);
        self
    }

    /// Counts each configuration's requests per router and service.
    pub fn with_metrics(mut self, metrics: Arc<wharf_observe::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Rebuilds with the same provider configurations (certificates or health changed).
    pub fn refresh(&mut self) -> ApplyReport {
        self.status.begin_update();
        let report = match catch_unwind(AssertUnwindSafe(|| self.rebuild(Vec::new()))) {
            Ok(report) => report,
            Err(panic) => {
                self.status.internal_error();
                tracing::error!(
                    error = panic_message(&*panic),
                    "internal error while refreshing certificates; the live configuration stays"
                );
                ApplyReport {
                    generation: self.writer.current().id,
                    issues: Vec::new(),
                    published: false,
                }
            }
        };
        self.status.end_update();
        report
    }

    /// Publishes the internal routes (ping, redirections) before any provider has spoken.
    pub fn publish_initial(&mut self) -> ApplyReport {
        self.rebuild(Vec::new())
    }

    /// Applies one provider event and publishes the result. A bug reached by the update (a
    /// panic) rejects it: the provider's last good configuration is restored and republished,
    /// and the control plane goes on with the next update.
    pub fn apply(&mut self, event: ProviderEvent) -> ApplyReport {
        self.status.begin_update();
        let report = match event {
            Ok(update) => self.apply_update(update),
            Err(e) => self.reject(e),
        };
        self.status.end_update();
        report
    }

    fn apply_update(&mut self, update: ProviderUpdate) -> ApplyReport {
        let provider = update.provider.clone();
        let previous = self
            .providers
            .insert(provider.clone(), (update.raw, update.issues));
        match catch_unwind(AssertUnwindSafe(|| self.rebuild(Vec::new()))) {
            Ok(report) => {
                if let Some(slot) = ProviderSlot::from_name(provider.as_str()) {
                    self.status.delivered(slot);
                }
                report
            }
            Err(panic) => {
                self.status.internal_error();
                let issue = ConfigIssue::error(
                    Origin::Provider(provider.as_str().to_string()),
                    format!(
                        "internal error while applying this provider's update ({}); it is rejected",
                        panic_message(&*panic)
                    ),
                )
                .with_hint("the last valid configuration stays live; please report this bug with the configuration that caused it");
                match previous {
                    Some(last_good) => self.providers.insert(provider, last_good),
                    None => self.providers.remove(&provider),
                };
                // Pools and middlewares may have followed the rejected configuration part way:
                // rebuild from the last good inputs. If that fails too, the live generation
                // (published before) keeps serving.
                match catch_unwind(AssertUnwindSafe(|| self.rebuild(vec![issue.clone()]))) {
                    Ok(report) => report,
                    Err(_) => {
                        tracing::error!(%issue, "provider update rejected; the last good configuration could not be rebuilt either and stays live as it was");
                        ApplyReport {
                            generation: self.writer.current().id,
                            issues: vec![issue],
                            published: false,
                        }
                    }
                }
            }
        }
    }

    fn reject(&mut self, e: LoadError) -> ApplyReport {
        let issue = e.to_issue();
        tracing::error!(%issue, "provider update rejected; keeping the last valid configuration");
        if e.is_internal() {
            self.status.internal_error();
        }
        let mut issues = self.current_decode_issues();
        issues.push(issue);
        ApplyReport {
            generation: self.writer.current().id,
            issues,
            published: false,
        }
    }

    fn current_decode_issues(&self) -> Vec<ConfigIssue> {
        self.providers
            .values()
            .flat_map(|(_, issues)| issues.iter().cloned())
            .collect()
    }

    fn rebuild(&mut self, mut issues: Vec<ConfigIssue>) -> ApplyReport {
        #[cfg(test)]
        if std::mem::take(&mut self.panic_next_rebuild) {
            panic!("injected by a test");
        }
        issues.extend(self.current_decode_issues());
        let inputs: Vec<ProviderConfig> = self
            .providers
            .iter()
            .map(|(provider, (raw, _))| ProviderConfig {
                provider: provider.clone(),
                raw: raw.clone(),
            })
            .collect();
        let (mut config, validation_issues) = validate(&inputs, &self.statics);
        issues.extend(validation_issues);
        issues.extend(self.pools.sync(&config));
        if let Some(acme) = &self.acme {
            config
                .tls
                .certificates
                .extend(acme.certificates.load().iter().cloned());
        }
        let (tls, tls_issues) = self.tls.build(&config.tls);
        // Shared with the API, whose items are rendered when first read.
        let config = Arc::new(config);
        issues.extend(tls_issues);
        let id = self.next_id;
        self.next_id += 1;
        let api = crate::api::render(&crate::api::ApiInputs {
            config: &config,
            raw: &inputs,
            issues: &issues,
            statics: &self.statics,
            pools: &self.pools,
            tls: &tls,
        });
        let mut round = self.metrics.as_deref().map(|m| m.round());
        if let Some(round) = round.as_mut() {
            crate::metrics::resolve(round, &config, &self.pools, &tls);
        }
        let add_internals = self
            .metrics
            .as_ref()
            .is_some_and(|m| m.settings().add_internals);
        let mut router_metrics =
            |router: &wharf_model::QualifiedName, service: &wharf_model::QualifiedName| {
                if service.provider() == "internal" && !add_internals {
                    return None;
                }
                round
                    .as_mut()
                    .and_then(|r| r.router(router.as_str(), service.as_str()))
            };
        let generation = compile(
            id,
            &self.statics,
            &self.internal,
            &config,
            Built {
                pools: &self.pools,
                middlewares: &mut self.middlewares,
                api,
                tls: &tls,
                router_metrics: &mut router_metrics,
            },
        );
        self.writer.publish(generation);
        self.pools.departed();
        if let Some(round) = round {
            let errors = issues.iter().filter(|i| i.is_error()).count() as u64;
            round.finish(id, errors, issues.len() as u64 - errors);
        }
        if let Some(acme) = &self.acme {
            let wanted = wharf_acme::wanted(&config, &self.statics);
            acme.wanted.send_if_modified(|current| {
                let changed = *current != wanted;
                *current = wanted;
                changed
            });
        }
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

    /// Applies events until every sender is gone; then (or if this task is ever torn down)
    /// readiness reports the control plane as stopped.
    /// Applies provider events (and refreshes when `certificates` says ACME certificates
    /// changed) until the providers' channel closes.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<ProviderEvent>,
        mut certificates: Option<mpsc::Receiver<()>>,
    ) {
        let _dead_on_exit = DeadOnDrop(self.status.clone());
        let health = self.pools.changes();
        loop {
            let acme = async {
                match certificates.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => { self.apply(event); }
                    None => return,
                },
                changed = acme => match changed {
                    Some(()) => { self.refresh(); }
                    None => certificates = None,
                },
                // A server's health changed: the API shows it.
                () = health.notified() => { self.refresh(); }
            }
        }
    }
}

struct DeadOnDrop(Arc<ControlStatus>);

impl Drop for DeadOnDrop {
    fn drop(&mut self) {
        self.0.set_dead();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_config::{decode_dynamic, decode_static, flags_to_node, yaml};
    use wharf_router::Generation;

    fn update(doc: &str) -> ProviderEvent {
        let (raw, issues) = decode_dynamic(&yaml::parse(doc, "d.yml").unwrap());
        Ok(ProviderUpdate {
            provider: ProviderName::new("file"),
            raw,
            issues,
        })
    }

    const ONE: &str = "http:\n  routers:\n    r: {rule: \"Host(`a`)\", service: s}\n  services:\n    s: {loadBalancer: {servers: [{url: \"http://127.0.0.1:1\"}]}}\n";
    const TWO: &str = "http:\n  routers:\n    r: {rule: \"Host(`a`)\", service: s}\n    q: {rule: \"Host(`b`)\", service: s}\n  services:\n    s: {loadBalancer: {servers: [{url: \"http://127.0.0.1:1\"}]}}\n";

    #[test]
    fn a_panic_while_applying_rejects_the_update_and_the_next_one_applies() {
        let (statics, _) = decode_static(&flags_to_node(&[
            "--entryPoints.web.address=:80".to_string()
        ]));
        let ((writer, reader), tls) = {
            let tls = wharf_tls::TlsRegistry::new().unwrap();
            let empty = Generation::empty(&["web".to_string()], &tls.empty_snapshot());
            (GenerationWriter::new(empty), tls)
        };
        let status = Arc::new(ControlStatus::new(&[ProviderSlot::File]));
        let mut controller = Controller::new(Arc::new(statics), writer, status.clone(), tls);
        assert!(controller.apply(update(ONE)).published);
        assert_eq!(reader.load().entry_points[0].plain.len(), 1);

        controller.panic_next_rebuild = true;
        let report = controller.apply(update(TWO));
        assert_eq!(status.internal_errors(), 1);
        let internal = report
            .issues
            .iter()
            .find(|i| i.to_string().contains("internal error"))
            .expect("the rejection is reported");
        assert!(internal.to_string().contains("provider file"), "{internal}");
        assert_eq!(
            reader.load().entry_points[0].plain.len(),
            1,
            "the last good configuration stays live"
        );
        assert_eq!(status.readiness(), Ok(()), "an idle control plane is ready");

        assert!(controller.apply(update(TWO)).published);
        assert_eq!(reader.load().entry_points[0].plain.len(), 2);
    }
}
