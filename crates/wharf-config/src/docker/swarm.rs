//! Swarm services (as the engine describes them) -> the [`ContainerInfo`]s the Docker provider's
//! lowering reads, as Traefik's Swarm provider does: with `traefik.swarm.lbswarm=true`, one entry
//! at the service's virtual IP; otherwise one entry per running task, all named after the
//! service, so they merge into one service with a server per task.

use std::collections::BTreeMap;

use wharf_model::{ConfigIssue, DockerProviderConfig};

use super::container::{ContainerInfo, HealthState, NetworkInfo};
use crate::decode::parse_bool;
use crate::dynamic::RawDynamicConfig;

/// One Swarm service, with what routing needs of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmService {
    pub id: String,
    /// The service's name (`<stack>_<service>` for `docker stack deploy`).
    pub name: String,
    /// The service's labels (`deploy.labels` in a stack file), not its containers'.
    pub labels: BTreeMap<String, String>,
    /// `mode: global` (one task per node): tasks are named by id, not slot.
    pub global: bool,
    /// `endpoint_mode: dnsrr`: the service has no virtual IP.
    pub dnsrr: bool,
    /// The service's virtual IP on each Swarm network it is attached to.
    pub virtual_ips: Vec<NetworkInfo>,
    /// Its tasks that are running and meant to run (desired state `running`): a task being
    /// shut down (rolling update, scale down, drained node) is already left out.
    pub tasks: Vec<SwarmTask>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmTask {
    pub id: String,
    pub slot: Option<u64>,
    /// Its addresses on the Swarm networks it is attached to.
    pub networks: Vec<NetworkInfo>,
}

/// Builds the Swarm provider's raw configuration from every service.
pub fn swarm_to_config(
    services: &[SwarmService],
    config: &DockerProviderConfig,
) -> (RawDynamicConfig, Vec<ConfigIssue>) {
    let mut issues = Vec::new();
    let containers = services_to_containers(services, config, &mut issues);
    let (raw, more) = super::containers_to_config(&containers, config);
    issues.extend(more);
    (raw, issues)
}

/// The entries each service contributes; problems with the provider's own labels are reported
/// and skip that service only.
pub fn services_to_containers(
    services: &[SwarmService],
    config: &DockerProviderConfig,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<ContainerInfo> {
    let mut out = Vec::new();
    for s in services {
        let base = ContainerInfo {
            id: s.id.clone(),
            name: s.name.clone(),
            labels: s.labels.clone(),
            running: true,
            swarm_service: Some(s.name.clone()),
            ..ContainerInfo::default()
        };
        let Some(lbswarm) = lbswarm(&base, issues) else {
            continue;
        };
        // With no address to serve at, the service still routes (503) unless
        // allowEmptyServices is explicitly false (Traefik drops it: 404).
        let empty = |base: ContainerInfo| {
            (config.allow_empty_services != Some(false)).then_some(ContainerInfo {
                health: Some(HealthState::Starting),
                ..base
            })
        };
        if lbswarm && s.dnsrr {
            issues.push(
                ConfigIssue::warning(
                    base.origin(lbswarm_key(&base)),
                    "the service's endpoint mode is dnsrr, which has no virtual IP; wharf balances over its tasks",
                )
                .with_hint("remove the lbswarm label, or use endpoint_mode: vip"),
            );
        } else if lbswarm {
            if s.virtual_ips.is_empty() {
                out.extend(empty(base));
            } else {
                out.push(ContainerInfo {
                    networks: sorted(&s.virtual_ips),
                    ..base
                });
            }
            continue;
        }
        let before = out.len();
        for t in s.tasks.iter().filter(|t| !t.networks.is_empty()) {
            let suffix = match (s.global, t.slot) {
                (false, Some(slot)) => slot.to_string(),
                _ => t.id.clone(),
            };
            out.push(ContainerInfo {
                id: t.id.clone(),
                name: format!("{}.{suffix}", s.name),
                networks: sorted(&t.networks),
                ..base.clone()
            });
        }
        if out.len() == before {
            out.extend(empty(base));
        }
    }
    out
}

fn sorted(networks: &[NetworkInfo]) -> Vec<NetworkInfo> {
    let mut v = networks.to_vec();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

fn lbswarm_key(c: &ContainerInfo) -> &'static str {
    if c.label("traefik.swarm.lbswarm").is_some() {
        "traefik.swarm.lbswarm"
    } else {
        "traefik.docker.lbswarm"
    }
}

/// The provider's own labels: `traefik.swarm.*`, or the deprecated `traefik.docker.*` (never
/// both). Returns `lbswarm`, or None if the service must be skipped (reported).
fn lbswarm(c: &ContainerInfo, issues: &mut Vec<ConfigIssue>) -> Option<bool> {
    let under = |prefix: &str| {
        c.labels
            .keys()
            .find(|k| k.to_ascii_lowercase().starts_with(prefix))
            .cloned()
    };
    let swarm = under("traefik.swarm.");
    let docker = under("traefik.docker.");
    match (&swarm, &docker) {
        (Some(_), Some(d)) => {
            issues.push(
                ConfigIssue::error(
                    c.origin(d),
                    "both traefik.docker.* and traefik.swarm.* labels are set; the service is skipped",
                )
                .with_hint("keep the traefik.swarm.* labels only"),
            );
            return None;
        }
        (None, Some(d)) => issues.push(
            ConfigIssue::warning(
                c.origin(d),
                "traefik.docker.* labels on a Swarm service are deprecated",
            )
            .with_hint(format!("write {}", swap_prefix(d))),
        ),
        _ => {}
    }
    let key = lbswarm_key(c);
    let Some(value) = c.label(key) else {
        return Some(false);
    };
    match parse_bool(value) {
        Some(b) => Some(b),
        None => {
            issues.push(
                ConfigIssue::error(
                    c.origin(key),
                    format!("`{value}` is not true or false; the service is skipped"),
                )
                .with_hint(format!("write {key}=true")),
            );
            None
        }
    }
}

fn swap_prefix(key: &str) -> String {
    format!("traefik.swarm.{}", &key["traefik.docker.".len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, ip: [u8; 4]) -> NetworkInfo {
        NetworkInfo {
            name: name.into(),
            ipv4: Some(ip.into()),
            ipv6: None,
        }
    }

    fn service(labels: &[(&str, &str)], tasks: usize) -> SwarmService {
        SwarmService {
            id: "svc1".into(),
            name: "shop_web".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            virtual_ips: vec![net("shop_net", [10, 0, 1, 2])],
            tasks: (1..=tasks)
                .map(|i| SwarmTask {
                    id: format!("task{i}"),
                    slot: Some(i as u64),
                    networks: vec![net("shop_net", [10, 0, 1, 10 + i as u8])],
                })
                .collect(),
            ..SwarmService::default()
        }
    }

    fn servers(raw: &RawDynamicConfig, name: &str) -> Vec<String> {
        let mut urls: Vec<String> = match raw.services.get(name) {
            Some(crate::RawService::LoadBalancer(lb)) => {
                lb.servers.iter().map(|s| s.url.value.clone()).collect()
            }
            _ => Vec::new(),
        };
        urls.sort();
        urls
    }

    #[test]
    fn tasks_merge_into_one_service_named_after_the_swarm_service() {
        let s = service(
            &[("traefik.http.services.web.loadbalancer.server.port", "80")],
            3,
        );
        let (raw, issues) = swarm_to_config(&[s], &DockerProviderConfig::default());
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            servers(&raw, "web"),
            [
                "http://10.0.1.11:80",
                "http://10.0.1.12:80",
                "http://10.0.1.13:80"
            ]
        );
        assert!(raw.routers.contains_key("shop-web"), "{:?}", raw.routers);
    }

    #[test]
    fn lbswarm_uses_the_virtual_ip() {
        let s = service(
            &[
                ("traefik.swarm.lbswarm", "true"),
                ("traefik.http.services.web.loadbalancer.server.port", "80"),
            ],
            3,
        );
        let (raw, issues) = swarm_to_config(&[s], &DockerProviderConfig::default());
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(servers(&raw, "web"), ["http://10.0.1.2:80"]);
    }

    #[test]
    fn no_running_task_keeps_the_router_with_no_server_unless_disallowed() {
        let s = service(
            &[("traefik.http.services.web.loadbalancer.server.port", "80")],
            0,
        );
        let (raw, issues) =
            swarm_to_config(std::slice::from_ref(&s), &DockerProviderConfig::default());
        assert!(issues.is_empty(), "{issues:?}");
        assert!(raw.services.contains_key("web"));
        assert!(servers(&raw, "web").is_empty());
        let strict = DockerProviderConfig {
            allow_empty_services: Some(false),
            ..DockerProviderConfig::default()
        };
        let (raw, _) = swarm_to_config(&[s], &strict);
        assert!(raw.services.is_empty());
    }

    #[test]
    fn the_swarm_network_label_picks_the_address() {
        let mut s = service(
            &[
                ("traefik.swarm.network", "shop_back"),
                ("traefik.http.services.web.loadbalancer.server.port", "80"),
            ],
            1,
        );
        s.tasks[0].networks.push(net("shop_back", [10, 0, 2, 7]));
        let (raw, issues) = swarm_to_config(&[s], &DockerProviderConfig::default());
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(servers(&raw, "web"), ["http://10.0.2.7:80"]);
    }

    #[test]
    fn provider_label_problems_skip_only_their_service() {
        let both = service(
            &[
                ("traefik.swarm.network", "a"),
                ("traefik.docker.network", "a"),
            ],
            1,
        );
        let mut bad = service(&[("traefik.swarm.lbswarm", "yes")], 1);
        bad.name = "shop_api".into();
        let mut good = service(
            &[("traefik.http.services.ok.loadbalancer.server.port", "80")],
            1,
        );
        good.name = "shop_ok".into();
        let (raw, issues) = swarm_to_config(&[both, bad, good], &DockerProviderConfig::default());
        let text: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        assert!(
            text.iter().any(
                |t| t.contains("swarm service shop_web, label traefik.docker.network")
                    && t.contains("both")
            ),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("swarm service shop_api, label traefik.swarm.lbswarm")),
            "{text:?}"
        );
        assert_eq!(servers(&raw, "ok"), ["http://10.0.1.11:80"]);
        assert_eq!(raw.services.len(), 1);
    }

    #[test]
    fn a_missing_port_names_the_service() {
        let s = service(&[], 1);
        let (_, issues) = swarm_to_config(&[s], &DockerProviderConfig::default());
        let text: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("swarm service shop_web") && t.contains("port is missing")),
            "{text:?}"
        );
    }
}
