//! The Swarm provider: services (their `deploy.labels`), their virtual IPs and their running
//! tasks, from a manager's API. Traefik only polls (every `refreshSeconds`, 15 s), so a rolling
//! update sends requests to tasks that are gone for up to that long. wharf lists again on the
//! engine's service, node and task-container events (a task being stopped is dropped as its
//! stop begins), and still polls at `refreshSeconds` for tasks on other nodes, whose container
//! events this engine does not see.
//!
//! Read-only, as the Docker provider: `/version`, `/services`, `/networks`, `/tasks`, `/events`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bollard::query_parameters::{EventsOptionsBuilder, ListNetworksOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;
use wharf_config::docker::{swarm_to_config, NetworkInfo, SwarmService, SwarmTask};
use wharf_model::{ProviderName, SwarmProviderConfig};

use super::engine::{DockerError, Engine};
use super::tasks::{addresses, running_tasks};
use crate::contain::contained;
use crate::reconnect::{reconnecting, Synced, UpdateSender};
use crate::{LoadError, ProviderUpdate};

/// Quiet time after an event before listing again (an update's burst coalesces).
const SETTLE: Duration = Duration::from_millis(5);
/// Listings after an event's own, each delay after the previous one.
const FOLLOW_UPS: &[Duration] = &[
    Duration::from_millis(50),
    Duration::from_millis(150),
    Duration::from_millis(300),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// Events after which the services are listed again. Container events count only for task
/// containers (`kill` is the start of a task's stop: its task is no longer meant to run).
const EVENTS: &[&str] = &[
    "create",
    "update",
    "remove",
    "start",
    "kill",
    "die",
    "health_status",
];

#[derive(Debug, Clone)]
pub struct SwarmProvider {
    config: SwarmProviderConfig,
    throttle: Option<Duration>,
    state: Arc<wharf_observe::ProviderState>,
}

/// A Swarm network: its name, and whether it is the routing mesh's `ingress`.
struct SwarmNetwork {
    name: String,
    ingress: bool,
}

impl SwarmProvider {
    pub fn new(config: SwarmProviderConfig, throttle: Option<Duration>) -> Self {
        SwarmProvider {
            config,
            throttle,
            state: Arc::default(),
        }
    }

    /// Reports the engine connection's state into `state` (wharf's provider metrics).
    pub fn with_state(mut self, state: Arc<wharf_observe::ProviderState>) -> Self {
        self.state = state;
        self
    }

    pub fn provider_name() -> ProviderName {
        ProviderName::new("swarm")
    }

    fn engine(&self) -> Engine<'_> {
        Engine {
            endpoint: &self.config.shared.endpoint,
        }
    }

    /// Every service with its virtual IPs and running tasks.
    pub async fn services(&self, docker: &Docker) -> Result<Vec<SwarmService>, DockerError> {
        let engine = self.engine();
        let mut filters = HashMap::new();
        filters.insert("scope", vec!["swarm"]);
        let networks: HashMap<String, SwarmNetwork> = engine
            .call(docker.list_networks(Some(
                ListNetworksOptionsBuilder::new().filters(&filters).build(),
            )))
            .await?
            .into_iter()
            .filter_map(|n| {
                let network = SwarmNetwork {
                    name: n.name?,
                    ingress: n.ingress.unwrap_or(false),
                };
                Some((n.id?, network))
            })
            .collect();
        let services = engine.call(docker.list_services(None)).await?;
        let version = docker.client_version().to_string();
        let tasks = running_tasks(engine.endpoint, &version).await?;
        let mut by_service: HashMap<&str, Vec<SwarmTask>> = HashMap::new();
        for t in tasks
            .iter()
            .filter(|t| t.status.state == "running" && t.desired_state == "running")
        {
            let networks = on_networks(&networks, addresses(t).into_iter());
            by_service
                .entry(t.service_id.as_str())
                .or_default()
                .push(SwarmTask {
                    id: t.id.clone(),
                    slot: t.slot,
                    networks,
                });
        }
        let mut out = Vec::new();
        for s in services {
            let (Some(id), Some(spec)) = (s.id, s.spec) else {
                continue;
            };
            let vips: Vec<(String, Vec<IpAddr>)> = s
                .endpoint
                .and_then(|e| e.virtual_ips)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|vip| {
                    let ip = vip.addr?.split('/').next()?.parse::<IpAddr>().ok()?;
                    Some((vip.network_id?, vec![ip]))
                })
                .collect();
            let virtual_ips = on_networks(
                &networks,
                vips.iter().map(|(net, ips)| (net.as_str(), ips.clone())),
            );
            out.push(SwarmService {
                name: spec.name.unwrap_or_else(|| id.clone()),
                labels: spec
                    .labels
                    .unwrap_or_default()
                    .into_iter()
                    .collect::<BTreeMap<_, _>>(),
                global: spec.mode.is_some_and(|m| m.global.is_some()),
                dnsrr: matches!(
                    spec.endpoint_spec.and_then(|e| e.mode),
                    Some(bollard::models::EndpointSpecModeEnum::DNSRR)
                ),
                virtual_ips,
                tasks: by_service.remove(id.as_str()).unwrap_or_default(),
                id,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn update(&self, services: &[SwarmService]) -> Result<ProviderUpdate, LoadError> {
        let (raw, issues) = contained("swarm", || swarm_to_config(services, &self.config.shared))?;
        Ok(ProviderUpdate {
            provider: Self::provider_name(),
            raw,
            issues,
        })
    }

    /// One connection and listing: the first configuration, for start-up.
    pub async fn load(&self) -> Result<ProviderUpdate, DockerError> {
        let docker = self.engine().connect().await?;
        let services = self.services(&docker).await?;
        Ok(self.update(&services)?)
    }

    /// Follows the swarm until `tx` closes. Errors are logged and retried with backoff;
    /// nothing is sent while the engine is unreachable, so the last configuration stays live.
    pub async fn watch(self, tx: UpdateSender) {
        let synced = Synced::default();
        reconnecting("swarm", &self.state, &tx, &synced, || {
            self.session(&tx, &synced)
        })
        .await;
    }

    fn subscribe(
        docker: &Docker,
    ) -> impl futures_util::Stream<Item = Result<bollard::models::EventMessage, bollard::errors::Error>>
    {
        let mut filters: HashMap<&str, Vec<&str>> = HashMap::new();
        filters.insert("type", vec!["service", "node", "container"]);
        filters.insert("event", EVENTS.to_vec());
        docker.events(Some(EventsOptionsBuilder::new().filters(&filters).build()))
    }

    /// One connected session; Ok(()) only when the receiver is gone.
    async fn session(&self, tx: &UpdateSender, synced: &Synced) -> Result<(), DockerError> {
        let engine = self.engine();
        let docker = engine.connect().await?;
        let mut events = Box::pin(Self::subscribe(&docker));
        let mut services = self.services(&docker).await?;
        synced.set();
        self.state.synced();
        tracing::info!(
            services = services.len(),
            endpoint = engine.endpoint,
            "swarm provider: synchronized"
        );
        if tx.send(self.update(&services)).await.is_err() {
            return Ok(());
        }
        if !self.config.shared.watch {
            return Ok(());
        }
        let mut poll = tokio::time::interval(self.config.refresh);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        let mut last_sent = tokio::time::Instant::now();
        // After an event, the engine catches up in steps (a started container's task is marked
        // running a little later): the services are listed again at these delays.
        let mut follow_ups: &[Duration] = &[];
        let mut follow_up_at = tokio::time::Instant::now();
        loop {
            let follow_up = async {
                match follow_ups.first() {
                    Some(_) => tokio::time::sleep_until(follow_up_at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                next = events.next() => {
                    match next {
                        None => return Err(engine.stream_ended()),
                        Some(Err(source)) => return Err(engine.api_error(source)),
                        Some(Ok(ev)) if !routing_event(&ev) => continue,
                        Some(Ok(_)) => {}
                    }
                    // Coalesce the rest of the burst.
                    loop {
                        tokio::select! {
                            next = events.next() => match next {
                                Some(Ok(_)) => {}
                                Some(Err(source)) => return Err(engine.api_error(source)),
                                None => break,
                            },
                            () = tokio::time::sleep(SETTLE) => break,
                        }
                    }
                    follow_ups = FOLLOW_UPS;
                    follow_up_at = tokio::time::Instant::now() + FOLLOW_UPS[0];
                }
                () = follow_up => {
                    follow_ups = &follow_ups[1..];
                    if let Some(next) = follow_ups.first() {
                        follow_up_at += *next;
                    }
                }
                _ = poll.tick() => {}
            }
            let now = self.services(&docker).await?;
            if now == services {
                continue;
            }
            services = now;
            if tracing::enabled!(tracing::Level::DEBUG) {
                let tasks: Vec<String> = services
                    .iter()
                    .map(|s| format!("{}={}", s.name, s.tasks.len()))
                    .collect();
                tracing::debug!(tasks = %tasks.join(","), "swarm provider: changed");
            }
            if let Some(throttle) = self.throttle {
                tokio::time::sleep_until(last_sent + throttle).await;
            }
            last_sent = tokio::time::Instant::now();
            if tx.send(self.update(&services)).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// Service and node events always; container events only for a Swarm task's container.
fn routing_event(ev: &bollard::models::EventMessage) -> bool {
    match ev.typ {
        Some(bollard::models::EventMessageTypeEnum::CONTAINER) => ev
            .actor
            .as_ref()
            .and_then(|a| a.attributes.as_ref())
            .is_some_and(|a| a.contains_key("com.docker.swarm.service.id")),
        _ => true,
    }
}

/// Addresses by network id -> [`NetworkInfo`]s on known Swarm networks, leaving out the
/// routing mesh's `ingress` (wharf is never attached to it; Traefik may pick it at random).
fn on_networks<'a>(
    networks: &HashMap<String, SwarmNetwork>,
    addresses: impl Iterator<Item = (&'a str, Vec<IpAddr>)>,
) -> Vec<NetworkInfo> {
    let mut out: Vec<NetworkInfo> = addresses
        .filter_map(|(id, ips)| {
            let net = networks.get(id).filter(|n| !n.ingress)?;
            Some(NetworkInfo {
                name: net.name.clone(),
                ipv4: ips.iter().copied().find(IpAddr::is_ipv4),
                ipv6: ips.iter().copied().find(IpAddr::is_ipv6),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
