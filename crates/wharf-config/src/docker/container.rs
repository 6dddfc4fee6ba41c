//! What the Docker provider needs to know about a container, independent of the Docker API
//! client (the discovery crate fills it from `docker inspect`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use wharf_model::Origin;

use super::naming::normalize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub name: String,
    pub ipv4: Option<IpAddr>,
    pub ipv6: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    pub container_port: u16,
    pub host_ip: String,
    pub host_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerInfo {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// State `running` (and not paused).
    pub running: bool,
    /// None: the image has no healthcheck.
    pub health: Option<HealthState>,
    /// Sorted by name, so "the first network" is deterministic.
    pub networks: Vec<NetworkInfo>,
    /// Exposed or published TCP ports.
    pub ports: Vec<u16>,
    pub bindings: Vec<PortBinding>,
    /// `bridge`, `host`, `container:<id>`, `none`, or a network name.
    pub network_mode: String,
    /// Set for what the Swarm provider describes (a service's virtual IP, or one of its
    /// tasks): the service's name, which names the routers and services; its labels are the
    /// service's, under `traefik.swarm.*` for the provider's own.
    pub swarm_service: Option<String>,
}

impl ContainerInfo {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// Traefik's `<name>`: normalize(`<compose service>_<compose project>`), else the
    /// normalized Swarm service or container name.
    pub fn service_name(&self) -> String {
        match (
            self.label("com.docker.compose.service"),
            self.label("com.docker.compose.project"),
        ) {
            (Some(service), Some(project)) => normalize(&format!("{service}_{project}")),
            _ => normalize(self.swarm_service.as_deref().unwrap_or(&self.name)),
        }
    }

    /// Where a label (or, with an empty key, the whole container or service) came from.
    pub fn origin(&self, key: &str) -> Origin {
        match &self.swarm_service {
            Some(service) => Origin::ServiceLabel {
                service: service.clone(),
                key: key.to_string(),
            },
            None => Origin::Label {
                container: self.name.clone(),
                key: key.to_string(),
            },
        }
    }

    /// The network label and its value: `traefik.docker.network` for containers;
    /// `traefik.swarm.network` (or the deprecated `traefik.docker.network`) for Swarm.
    pub fn network_label(&self) -> Option<(&'static str, &str)> {
        let docker = self
            .label("traefik.docker.network")
            .map(|v| ("traefik.docker.network", v));
        if self.swarm_service.is_some() {
            if let Some(v) = self.label("traefik.swarm.network") {
                return Some(("traefik.swarm.network", v));
            }
        }
        docker
    }
}
