//! [`Metrics`]: the process-wide metrics state. The control plane resolves one
//! [`RequestSeries`] per entrypoint, router and service for each configuration ([`Round`]);
//! a scrape reads the live set of the last configuration, so series of removed routers and
//! services disappear with them, and series of the ones that stay keep counting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use crate::series::{HeaderLabels, RequestSeries};

/// `metrics.prometheus`, as the metrics need it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSettings {
    /// Histogram bounds in seconds, ascending.
    pub buckets: Vec<f64>,
    pub entry_points: bool,
    pub routers: bool,
    pub services: bool,
    pub header_labels: HeaderLabels,
    /// `metrics.addInternals`: requests to `@internal` services are counted too.
    pub add_internals: bool,
}

/// Whether the server behind a `traefik_service_server_up` series is up, read at a scrape.
pub type UpProbe = Arc<dyn Fn() -> bool + Send + Sync>;

/// What the control plane's health looks like (wharf's own gauges), read at a scrape.
pub trait ControlProbe: Send + Sync {
    fn ready(&self) -> bool;
    fn internal_errors(&self) -> u64;
    /// Requests each `rateLimit.redis` middleware limited locally because Redis was
    /// unreachable, by middleware name.
    fn rate_limit_fallbacks(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}

/// A provider's connection to its source (the Docker engine), kept by the provider.
#[derive(Debug, Default)]
pub struct ProviderState {
    pub connected: AtomicBool,
    /// Connections lost or refused.
    pub errors: AtomicU64,
    /// Unix seconds of the last full synchronisation.
    pub last_sync: AtomicU64,
}

impl ProviderState {
    pub fn synced(&self) {
        self.connected.store(true, Ordering::Relaxed);
        self.last_sync.store(unix_now() as u64, Ordering::Relaxed);
    }
    pub fn lost(&self) {
        self.connected.store(false, Ordering::Relaxed);
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// A certificate served now (`traefik_tls_certs_not_after`).
#[derive(Debug, Clone, PartialEq)]
pub struct CertGauge {
    pub cn: String,
    pub serial: String,
    /// Comma-separated, as Traefik labels them.
    pub sans: String,
    pub not_after: f64,
}

/// One entrypoint's gauges and series.
pub struct EntryPointMetrics {
    pub name: String,
    /// `traefik_open_connections{protocol="TCP"}`.
    pub open_connections: AtomicI64,
    /// `None` when `addEntryPointsLabels` is off.
    pub series: Option<Arc<RequestSeries>>,
}

impl EntryPointMetrics {
    /// Counts a connection as open until the guard drops.
    pub fn connection(self: &Arc<Self>) -> OpenConnection {
        self.open_connections.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }
}

/// An accepted connection, counted while it lives.
pub struct OpenConnection(Arc<EntryPointMetrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) struct RouterEntry {
    pub(crate) router: String,
    pub(crate) service: String,
    pub(crate) series: Arc<RequestSeries>,
}

pub(crate) struct ServiceEntry {
    pub(crate) name: String,
    pub(crate) series: Arc<RequestSeries>,
    /// Health-checked servers only, as Traefik (URL, probe).
    pub(crate) servers: Vec<(String, UpProbe)>,
}

/// What a scrape reads: the series of the last configuration.
#[derive(Default)]
pub(crate) struct LiveSet {
    pub(crate) routers: Vec<RouterEntry>,
    pub(crate) services: Vec<ServiceEntry>,
    pub(crate) certs: Vec<CertGauge>,
    pub(crate) issues_error: u64,
    pub(crate) issues_warning: u64,
    pub(crate) generation: u64,
}

/// Series by name, kept across configurations while their router or service exists.
#[derive(Default)]
struct Book {
    routers: HashMap<(String, String), Arc<RequestSeries>>,
    services: HashMap<String, Arc<RequestSeries>>,
}

pub struct Metrics {
    pub(crate) settings: MetricsSettings,
    bounds: Arc<[f64]>,
    header_labels: Arc<HeaderLabels>,
    pub(crate) entry_points: Vec<Arc<EntryPointMetrics>>,
    pub(crate) live: ArcSwap<LiveSet>,
    /// Only the control plane takes it, once per configuration.
    book: Mutex<Book>,
    pub(crate) reloads: AtomicU64,
    /// Unix seconds (f64 bits) of the last applied configuration.
    pub(crate) last_reload: AtomicU64,
    pub(crate) control: Mutex<Option<Arc<dyn ControlProbe>>>,
    pub(crate) providers: Mutex<Vec<(String, Arc<ProviderState>)>>,
    pub(crate) process: Option<prometheus::process_collector::ProcessCollector>,
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Metrics {
    /// `entry_points`: every static entrypoint, in the generation's order.
    pub fn new(settings: MetricsSettings, entry_points: &[String]) -> Arc<Metrics> {
        let bounds: Arc<[f64]> = Arc::from(settings.buckets.clone());
        let header_labels = Arc::new(settings.header_labels.clone());
        let entry_points = entry_points
            .iter()
            .map(|name| {
                Arc::new(EntryPointMetrics {
                    name: name.clone(),
                    open_connections: AtomicI64::new(0),
                    series: settings.entry_points.then(|| {
                        Arc::new(RequestSeries::new(bounds.clone(), header_labels.clone()))
                    }),
                })
            })
            .collect();
        Arc::new(Metrics {
            bounds,
            header_labels,
            entry_points,
            live: ArcSwap::default(),
            book: Mutex::default(),
            reloads: AtomicU64::new(0),
            last_reload: AtomicU64::new(0),
            control: Mutex::new(None),
            providers: Mutex::default(),
            process: Some(prometheus::process_collector::ProcessCollector::for_self()),
            settings,
        })
    }

    pub fn settings(&self) -> &MetricsSettings {
        &self.settings
    }

    /// The entrypoint at `index` (the generation's order).
    pub fn entry_point(&self, index: usize) -> Option<&Arc<EntryPointMetrics>> {
        self.entry_points.get(index)
    }

    pub fn set_control(&self, probe: Arc<dyn ControlProbe>) {
        if let Ok(mut c) = self.control.lock() {
            *c = Some(probe);
        }
    }

    /// A provider whose connection state is reported (`wharf_provider_*{provider}`).
    pub fn provider(&self, name: &str) -> Arc<ProviderState> {
        let state = Arc::new(ProviderState::default());
        if let Ok(mut p) = self.providers.lock() {
            p.push((name.to_string(), state.clone()));
        }
        state
    }

    /// Starts resolving the series of a new configuration.
    pub fn round(&self) -> Round<'_> {
        Round {
            metrics: self,
            routers: HashMap::new(),
            services: HashMap::new(),
            up: HashMap::new(),
            certs: Vec::new(),
        }
    }

    fn new_series(&self) -> Arc<RequestSeries> {
        Arc::new(RequestSeries::new(
            self.bounds.clone(),
            self.header_labels.clone(),
        ))
    }

    /// The Prometheus text exposition of every family.
    pub fn render(&self) -> Vec<u8> {
        crate::exposition::render(self)
    }
}

/// The series for `key` in this round: the one already resolved, else the one the last
/// configuration had (`kept` reads it from the book), else a new one.
fn resolve<K: std::hash::Hash + Eq + Clone>(
    metrics: &Metrics,
    round: &mut HashMap<K, Arc<RequestSeries>>,
    key: K,
    kept: impl Fn(&Book) -> &HashMap<K, Arc<RequestSeries>>,
) -> Arc<RequestSeries> {
    if let Some(s) = round.get(&key) {
        return s.clone();
    }
    let previous = metrics
        .book
        .lock()
        .ok()
        .and_then(|b| kept(&b).get(&key).cloned());
    let series = previous.unwrap_or_else(|| metrics.new_series());
    round.insert(key, series.clone());
    series
}

/// The series of one configuration, resolved by the control plane before it publishes.
pub struct Round<'m> {
    metrics: &'m Metrics,
    routers: HashMap<(String, String), Arc<RequestSeries>>,
    services: HashMap<String, Arc<RequestSeries>>,
    up: HashMap<String, Vec<(String, UpProbe)>>,
    certs: Vec<CertGauge>,
}

impl Round<'_> {
    /// A router's series (`None` unless `addRoutersLabels`). Names are qualified.
    pub fn router(&mut self, router: &str, service: &str) -> Option<Arc<RequestSeries>> {
        if !self.metrics.settings.routers {
            return None;
        }
        let key = (router.to_string(), service.to_string());
        Some(resolve(self.metrics, &mut self.routers, key, |b| {
            &b.routers
        }))
    }

    /// A load-balancer service's series (`None` unless `addServicesLabels`).
    pub fn service(&mut self, name: &str) -> Option<Arc<RequestSeries>> {
        if !self.metrics.settings.services {
            return None;
        }
        Some(resolve(
            self.metrics,
            &mut self.services,
            name.to_string(),
            |b| &b.services,
        ))
    }

    /// A health-checked server of `service` (`traefik_service_server_up`).
    pub fn server_up(&mut self, service: &str, url: &str, probe: UpProbe) {
        if self.metrics.settings.services {
            self.up
                .entry(service.to_string())
                .or_default()
                .push((url.to_string(), probe));
        }
    }

    pub fn certificate(&mut self, cert: CertGauge) {
        self.certs.push(cert);
    }

    /// Publishes the round: the live set changes, series no longer used are forgotten.
    pub fn finish(self, generation: u64, errors: u64, warnings: u64) {
        let Round {
            metrics,
            routers,
            services,
            mut up,
            certs,
        } = self;
        let mut live = LiveSet {
            routers: routers
                .iter()
                .map(|((router, service), series)| RouterEntry {
                    router: router.clone(),
                    service: service.clone(),
                    series: series.clone(),
                })
                .collect(),
            services: services
                .iter()
                .map(|(name, series)| ServiceEntry {
                    name: name.clone(),
                    series: series.clone(),
                    servers: up.remove(name).unwrap_or_default(),
                })
                .collect(),
            certs,
            issues_error: errors,
            issues_warning: warnings,
            generation,
        };
        live.routers
            .sort_by(|a, b| (&a.router, &a.service).cmp(&(&b.router, &b.service)));
        live.services.sort_by(|a, b| a.name.cmp(&b.name));
        if let Ok(mut book) = metrics.book.lock() {
            book.routers = routers;
            book.services = services;
        }
        metrics.live.store(Arc::new(live));
        metrics.reloads.fetch_add(1, Ordering::Relaxed);
        metrics
            .last_reload
            .store(unix_now().to_bits(), Ordering::Relaxed);
    }
}
