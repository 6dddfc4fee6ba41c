//! Connection, initial sync, event following, reconnection.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bollard::query_parameters::{EventsOptionsBuilder, ListContainersOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;
use wharf_config::docker::{containers_to_config, ContainerInfo};
use wharf_model::{DockerProviderConfig, ProviderName};

use super::engine::{DockerError, Engine};
use super::inspect::container_from_inspect;
use crate::contain::contained;
use crate::reconnect::{reconnecting, Synced, UpdateSender};
use crate::{LoadError, ProviderUpdate};

/// After this long without an event, the engine is pinged and the event stream opened anew
/// from the last event seen (`since`), so a half-open connection cannot stall discovery.
const EVENTS_IDLE: Duration = Duration::from_secs(60);
/// Containers inspected at once during a full synchronisation.
const PARALLEL_INSPECTS: usize = 8;
/// Quiet time after an event before the configuration is rebuilt (bursts coalesce).
const SETTLE: Duration = Duration::from_millis(5);

/// Events that can change routing: container lifecycle and health, and (unlike Traefik) a
/// container joining or leaving a network, which changes its address.
const EVENTS: &[&str] = &[
    "start",
    "die",
    "stop",
    "destroy",
    "pause",
    "unpause",
    "health_status",
    "rename",
    "connect",
    "disconnect",
];

/// The container an event is about: the actor of a container event, the `container`
/// attribute of a network event.
fn container_of(ev: bollard::models::EventMessage) -> Option<(String, String)> {
    let action = ev.action.unwrap_or_default();
    let actor = ev.actor?;
    let is_network = matches!(ev.typ, Some(bollard::models::EventMessageTypeEnum::NETWORK));
    let id = if is_network {
        actor.attributes?.get("container")?.clone()
    } else {
        actor.id?
    };
    Some((id, action))
}

/// A `since` for the event stream: a few seconds before now (the engine's clock may be a
/// little off; an event seen twice is only inspected twice).
fn engine_time_before_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs().saturating_sub(5).to_string()
}

/// An event's time as a `since` value (seconds.nanoseconds).
fn event_time(ev: &bollard::models::EventMessage) -> Option<String> {
    let nanos = ev.time_nano?;
    Some(format!(
        "{}.{:09}",
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000)
    ))
}

#[derive(Debug, Clone)]
pub struct DockerProvider {
    config: DockerProviderConfig,
    throttle: Option<Duration>,
    /// The engine connection's state, for the metrics.
    state: Arc<wharf_observe::ProviderState>,
}

impl DockerProvider {
    pub fn new(config: DockerProviderConfig, throttle: Option<Duration>) -> Self {
        DockerProvider {
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
        ProviderName::new("docker")
    }

    fn endpoint(&self) -> &str {
        &self.config.endpoint
    }

    fn engine(&self) -> Engine<'_> {
        Engine {
            endpoint: self.endpoint(),
        }
    }

    async fn connect(&self) -> Result<Docker, DockerError> {
        self.engine().connect().await
    }

    async fn call<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, DockerError> {
        self.engine().call(fut).await
    }

    /// Inspects one container; Ok(None) if it no longer exists.
    async fn inspect(
        &self,
        docker: &Docker,
        id: &str,
    ) -> Result<Option<ContainerInfo>, DockerError> {
        match self.call(docker.inspect_container(id, None)).await {
            Ok(r) => Ok(container_from_inspect(&r)),
            Err(DockerError::Api {
                source:
                    bollard::errors::Error::DockerResponseServerError {
                        status_code: 404, ..
                    },
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists and inspects every container (a few inspections at a time).
    async fn sync_all(
        &self,
        docker: &Docker,
    ) -> Result<HashMap<String, ContainerInfo>, DockerError> {
        let list = self
            .call(
                docker.list_containers(Some(ListContainersOptionsBuilder::new().all(true).build())),
            )
            .await?;
        let inspected: Vec<Result<Option<(String, ContainerInfo)>, DockerError>> =
            futures_util::stream::iter(list.into_iter().filter_map(|summary| summary.id))
                .map(
                    |id| async move { Ok(self.inspect(docker, &id).await?.map(|info| (id, info))) },
                )
                .buffer_unordered(PARALLEL_INSPECTS)
                .collect()
                .await;
        let mut out = HashMap::new();
        for result in inspected {
            if let Some((id, info)) = result? {
                out.insert(id, info);
            }
        }
        Ok(out)
    }

    fn subscribe(
        docker: &Docker,
        since: &str,
    ) -> impl futures_util::Stream<Item = Result<bollard::models::EventMessage, bollard::errors::Error>>
    {
        let mut filters: HashMap<&str, Vec<&str>> = HashMap::new();
        filters.insert("type", vec!["container", "network"]);
        filters.insert("event", EVENTS.to_vec());
        docker.events(Some(
            EventsOptionsBuilder::new()
                .since(since)
                .filters(&filters)
                .build(),
        ))
    }

    fn update(
        &self,
        containers: &HashMap<String, ContainerInfo>,
    ) -> Result<ProviderUpdate, LoadError> {
        let list: Vec<ContainerInfo> = containers.values().cloned().collect();
        let (raw, issues) = contained("docker", || containers_to_config(&list, &self.config))?;
        Ok(ProviderUpdate {
            provider: Self::provider_name(),
            raw,
            issues,
        })
    }

    /// Every container as the provider sees it, once (`wharf check`).
    pub async fn containers(&self) -> Result<Vec<ContainerInfo>, DockerError> {
        let docker = self.connect().await?;
        let mut list: Vec<ContainerInfo> = self.sync_all(&docker).await?.into_values().collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    /// One connection and full sync: the first configuration, for start-up.
    pub async fn load(&self) -> Result<ProviderUpdate, DockerError> {
        let docker = self.connect().await?;
        let containers = self.sync_all(&docker).await?;
        Ok(self.update(&containers)?)
    }

    /// Follows the engine until `tx` closes: full sync on every (re)connection, then one
    /// inspect per event. Errors are logged and retried with backoff; nothing is sent while
    /// the engine is unreachable, so the last configuration stays live.
    pub async fn watch(self, tx: UpdateSender) {
        let synced = Synced::default();
        reconnecting("docker", &self.state, &tx, &synced, || {
            self.session(&tx, &synced)
        })
        .await;
    }

    /// One connected session. Returns Ok(()) only when the receiver is gone; `synced` tells
    /// whether it got as far as a full synchronisation.
    async fn session(&self, tx: &UpdateSender, synced: &Synced) -> Result<(), DockerError> {
        let mut docker = self.connect().await?;
        // bollard sends `GET /events` only when the stream is first polled, after the listing:
        // `since` (a little before the listing) replays what happened in between.
        let mut since = engine_time_before_now();
        let mut events = Box::pin(Self::subscribe(&docker, &since));
        let mut containers = self.sync_all(&docker).await?;
        synced.set();
        self.state.synced();
        tracing::info!(
            containers = containers.len(),
            endpoint = self.endpoint(),
            "docker provider: synchronized"
        );
        if tx.send(self.update(&containers)).await.is_err() {
            return Ok(());
        }
        if !self.config.watch {
            return Ok(());
        }
        let mut last_sent = tokio::time::Instant::now();
        loop {
            let mut changed: BTreeMap<String, String> = BTreeMap::new();
            let next = match tokio::time::timeout(EVENTS_IDLE, events.next()).await {
                Ok(next) => next,
                Err(_) => {
                    // Quiet for a while: the connections may be half-open (a NAT or firewall
                    // that forgot them). A new client (new connections, none of the old
                    // pool's) checks the engine is there, then listens again from the last
                    // event seen: nothing is missed, nothing is listed again.
                    docker = self.connect().await?;
                    self.call(docker.ping()).await?;
                    events = Box::pin(Self::subscribe(&docker, &since));
                    continue;
                }
            };
            match next {
                None => return Err(self.engine().stream_ended()),
                Some(Err(source)) => {
                    return Err(DockerError::Api {
                        endpoint: self.endpoint().to_string(),
                        source,
                    })
                }
                Some(Ok(ev)) => {
                    since = event_time(&ev).unwrap_or(since);
                    if let Some((id, action)) = container_of(ev) {
                        changed.insert(id, action);
                    }
                }
            }
            // Coalesce a burst of events.
            loop {
                tokio::select! {
                    next = events.next() => match next {
                        Some(Ok(ev)) => {
                            since = event_time(&ev).unwrap_or(since);
                            if let Some((id, action)) = container_of(ev) {
                                changed.insert(id, action);
                            }
                        }
                        Some(Err(source)) => return Err(DockerError::Api { endpoint: self.endpoint().to_string(), source }),
                        None => break,
                    },
                    () = tokio::time::sleep(SETTLE) => break,
                }
            }
            for (id, action) in changed {
                tracing::debug!(container = %id, action = %action, "docker provider: event");
                if action == "destroy" {
                    containers.remove(&id);
                    continue;
                }
                match self.inspect(&docker, &id).await? {
                    Some(info) => {
                        containers.insert(id, info);
                    }
                    None => {
                        containers.remove(&id);
                    }
                }
            }
            if let Some(throttle) = self.throttle {
                let next = last_sent + throttle;
                tokio::time::sleep_until(next).await;
            }
            last_sent = tokio::time::Instant::now();
            if tx.send(self.update(&containers)).await.is_err() {
                return Ok(());
            }
        }
    }
}
