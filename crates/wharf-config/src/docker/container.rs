//! What the Docker provider needs to know about a container, independent of the Docker API
//! client (the discovery crate fills it from `docker inspect`).

use std::collections::BTreeMap;
use std::net::IpAddr;

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
}

impl ContainerInfo {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// Traefik's `<name>`: normalize(`<compose service>_<compose project>`), else the
    /// normalized container name.
    pub fn service_name(&self) -> String {
        match (
            self.label("com.docker.compose.service"),
            self.label("com.docker.compose.project"),
        ) {
            (Some(service), Some(project)) => normalize(&format!("{service}_{project}")),
            _ => normalize(&self.name),
        }
    }
}
