//! The Docker provider's configuration: containers (as the engine describes them) lowered into
//! the same node tree the file provider reads, then decoded by the same code.
//!
//! Per container: filter (enable, constraints, state, health), lower its `traefik.*` labels
//! ([`labels`]), turn `loadbalancer.server.*` into a server URL ([`servers`]), add Traefik's
//! default service and router, then merge all containers ([`merge`]): replicas of one Compose
//! service become several servers of one service. The Swarm provider describes its services
//! and tasks the same way ([`swarm`]).

mod container;
mod labels;
mod merge;
mod naming;
mod servers;
mod swarm;

pub use container::{ContainerInfo, HealthState, NetworkInfo, PortBinding};
pub use naming::{normalize, render_default_rule, DefaultRuleError};
pub use swarm::{services_to_containers, swarm_to_config, SwarmService, SwarmTask};

use wharf_model::{ConfigIssue, DockerProviderConfig};
use wharf_rule::{parse_constraints, ConstraintExpr};

use crate::decode::Issues;
use crate::dynamic::{decode_dynamic, RawDynamicConfig};
use crate::node::Node;

/// Builds the Docker provider's raw configuration from every known container.
pub fn containers_to_config(
    containers: &[ContainerInfo],
    config: &DockerProviderConfig,
) -> (RawDynamicConfig, Vec<ConfigIssue>) {
    let mut issues = Issues::default();
    let constraints: Option<ConstraintExpr> = config
        .constraints
        .as_deref()
        .and_then(|c| parse_constraints(c).ok());
    let mut sorted: Vec<&ContainerInfo> = containers.iter().collect();
    sorted.sort_by_key(|c| format!("{}-{}", c.service_name(), c.id));
    let mut trees = Vec::new();
    for c in sorted {
        if let Some(tree) = container_tree(c, containers, config, constraints.as_ref(), &mut issues)
        {
            trees.push((c, tree));
        }
    }
    let merged = merge::merge(trees, &mut issues);
    let (raw, decode_issues) = decode_dynamic(&merged);
    issues.0.extend(decode_issues);
    (raw, issues.0)
}

/// One container's contribution (an `http` tree in file shape), or None if it is filtered out.
fn container_tree(
    c: &ContainerInfo,
    all: &[ContainerInfo],
    config: &DockerProviderConfig,
    constraints: Option<&ConstraintExpr>,
    issues: &mut Issues,
) -> Option<Node> {
    let origin = |key: &str| c.origin(key);
    let enabled = match c.label("traefik.enable") {
        None => config.exposed_by_default,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            issues.push(
                ConfigIssue::error(
                    origin("traefik.enable"),
                    format!("`{v}` is not true or false; the container is skipped"),
                )
                .with_hint("write traefik.enable=true"),
            );
            return None;
        }
    };
    if !enabled {
        return None;
    }
    if let Some(expr) = constraints {
        if !expr.accepts(&|k| c.label(k).map(str::to_string)) {
            return None;
        }
    }
    let allow_non_running = c
        .label("traefik.docker.allownonrunning")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !c.running && !allow_non_running {
        return None;
    }
    // Traefik drops starting/unhealthy containers (404). wharf keeps their routers with no
    // servers (503 `no available server`) unless allowEmptyServices is explicitly false.
    let healthy = !matches!(
        c.health,
        Some(HealthState::Starting | HealthState::Unhealthy)
    );
    if !healthy && config.allow_empty_services == Some(false) {
        return None;
    }
    let mut tree = labels::lower(c, issues)?;
    let name = c.service_name();
    let serve = c.running && healthy;
    if !servers::lower_services(&mut tree, c, all, config, &name, serve, issues) {
        // Nothing of it is used, but its other mistakes are still worth fixing now.
        let (_, shape_issues) = decode_dynamic(&tree);
        issues.0.extend(shape_issues);
        return None;
    }
    add_defaults(&mut tree, c, config, &name, issues);
    Some(tree)
}

/// Traefik's default service, default router, default rule and automatic service link.
fn add_defaults(
    tree: &mut Node,
    c: &ContainerInfo,
    config: &DockerProviderConfig,
    name: &str,
    issues: &mut Issues,
) {
    let here = c.origin("");
    let routers_origin = here.clone();
    let http = tree.get_mut("http").expect("lowered trees have http");
    let service_names: Vec<String> = http
        .get("services")
        .map(|s| s.entries().iter().map(|(k, _)| k.name.clone()).collect())
        .unwrap_or_default();
    let router_count = http.get("routers").map_or(0, |r| r.entries().len());
    if router_count == 0 && service_names.len() <= 1 {
        let mut routers = Node::empty_map(routers_origin.clone());
        routers.set(name, Node::empty_map(routers_origin));
        http.set("routers", routers);
    }
    let rule = match render_default_rule(&config.default_rule, name, c) {
        Ok(rule) => Some(rule),
        Err(e) => {
            issues.push(ConfigIssue::error(
                here.clone(),
                format!("providers.docker.defaultRule: {e}"),
            ));
            None
        }
    };
    let Some(routers) = http.get_mut("routers") else {
        return;
    };
    let crate::node::NodeValue::Map(entries) = &mut routers.value else {
        return;
    };
    entries.retain_mut(|(key, router)| {
        if router.get("rule").is_none() {
            if let Some(rule) = &rule {
                router.set("rule", Node::scalar(router.origin.clone(), rule.clone()));
            }
        }
        if router.get("service").is_none() {
            match service_names.as_slice() {
                [only] => router.set("service", Node::scalar(router.origin.clone(), only.clone())),
                [] => router.set("service", Node::scalar(router.origin.clone(), name.to_string())),
                many => {
                    issues.push(
                        ConfigIssue::error(
                            key.origin.clone(),
                            format!(
                                "router `{}` cannot be linked automatically with multiple services ({}); it is dropped",
                                key.name,
                                many.join(", ")
                            ),
                        )
                        .with_hint(format!("add traefik.http.routers.{}.service=<one of them>", key.name)),
                    );
                    return false;
                }
            }
        }
        true
    });
}
