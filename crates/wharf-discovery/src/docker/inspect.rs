//! `docker inspect` -> [`ContainerInfo`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use bollard::models::{ContainerInspectResponse, HealthStatusEnum};
use wharf_config::docker::{ContainerInfo, HealthState, NetworkInfo, PortBinding};

fn port_number(spec: &str) -> Option<u16> {
    // "8080/tcp"; UDP ports are not HTTP backends.
    let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    (proto == "tcp").then(|| port.parse().ok()).flatten()
}

/// What wharf needs from an inspect response; None if it has no id.
pub fn container_from_inspect(r: &ContainerInspectResponse) -> Option<ContainerInfo> {
    let id = r.id.clone()?;
    let name = r
        .name
        .as_deref()
        .unwrap_or(&id)
        .trim_start_matches('/')
        .to_string();
    let config = r.config.as_ref();
    let labels: BTreeMap<String, String> = config
        .and_then(|c| c.labels.clone())
        .map(|l| l.into_iter().collect())
        .unwrap_or_default();
    let state = r.state.as_ref();
    let running = state.and_then(|s| s.running).unwrap_or(false)
        && !state.and_then(|s| s.paused).unwrap_or(false);
    let health = state
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.status)
        .and_then(|s| match s {
            HealthStatusEnum::STARTING => Some(HealthState::Starting),
            HealthStatusEnum::HEALTHY => Some(HealthState::Healthy),
            HealthStatusEnum::UNHEALTHY => Some(HealthState::Unhealthy),
            _ => None,
        });
    let settings = r.network_settings.as_ref();
    let mut networks: Vec<NetworkInfo> = settings
        .and_then(|s| s.networks.as_ref())
        .map(|nets| {
            nets.iter()
                .map(|(name, ep)| NetworkInfo {
                    name: name.clone(),
                    ipv4: ep
                        .ip_address
                        .as_deref()
                        .filter(|s| !s.is_empty())
                        .and_then(|s| s.parse::<IpAddr>().ok()),
                    ipv6: ep
                        .global_ipv6_address
                        .as_deref()
                        .filter(|s| !s.is_empty())
                        .and_then(|s| s.parse::<IpAddr>().ok()),
                })
                .collect()
        })
        .unwrap_or_default();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ports: Vec<u16> = config
        .and_then(|c| c.exposed_ports.clone())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| port_number(p))
        .collect();
    let mut bindings = Vec::new();
    if let Some(map) = settings.and_then(|s| s.ports.as_ref()) {
        for (spec, binds) in map {
            let Some(container_port) = port_number(spec) else {
                continue;
            };
            ports.push(container_port);
            for b in binds.iter().flatten() {
                if let Some(host_port) = b.host_port.as_deref().and_then(|p| p.parse().ok()) {
                    bindings.push(PortBinding {
                        container_port,
                        host_ip: b.host_ip.clone().unwrap_or_default(),
                        host_port,
                    });
                }
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    let network_mode = r
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.clone())
        .unwrap_or_default();
    Some(ContainerInfo {
        id,
        name,
        labels,
        running,
        health,
        networks,
        ports,
        bindings,
        network_mode,
        swarm_service: None,
    })
}
