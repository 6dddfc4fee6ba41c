//! `loadbalancer.server.{port,scheme,url,weight}` -> the server URL Traefik computes from the
//! container's networks and ports; and Traefik's default service.

use std::net::IpAddr;

use wharf_model::{ConfigIssue, DockerProviderConfig, Origin};

use super::container::ContainerInfo;
use crate::decode::{check_keys, Issues};
use crate::node::{Node, NodeValue};

const LB_KEYS: &[&str] = &[
    "server",
    "passHostHeader",
    "strategy",
    "healthCheck",
    "sticky",
    "serversTransport",
    "responseForwarding",
    "passiveHealthCheck",
];

/// Rewrites every label-defined service into file shape (a `servers` list), adding the default
/// service when the labels define none. `serve` false gives an empty server list (503).
/// Returns false if a service has no usable server: then, as in Traefik, nothing the labels
/// define is kept (reported here).
pub(super) fn lower_services(
    tree: &mut Node,
    c: &ContainerInfo,
    all: &[ContainerInfo],
    config: &DockerProviderConfig,
    default_name: &str,
    serve: bool,
    issues: &mut Issues,
) -> bool {
    let here = c.origin("");
    let http = tree.get_mut("http").expect("lowered trees have http");
    if http.get("services").is_none_or(|s| s.entries().is_empty()) {
        let mut services = Node::empty_map(here.clone());
        let mut lb = Node::empty_map(here.clone());
        lb.set("loadBalancer", Node::empty_map(here.clone()));
        services.set(default_name, lb);
        http.set("services", services);
    }
    let services = http.get_mut("services").expect("just set");
    let NodeValue::Map(entries) = &mut services.value else {
        return true;
    };
    let mut usable = true;
    entries.retain_mut(|(key, service)| {
        let path = format!("traefik.http.services.{}", key.name);
        let Some(lb) = service.get_mut("loadBalancer") else {
            // Labels can only express loadBalancer services; let decoding report the rest.
            return true;
        };
        if matches!(lb.value, NodeValue::Scalar(_) | NodeValue::Null) {
            lb.value = NodeValue::Map(Vec::new());
        }
        let lb_path = format!("{path}.loadbalancer");
        let mut local = Issues::default();
        check_keys(lb, &lb_path, LB_KEYS, &[], &mut local);
        if local.has_errors() {
            // Drop the unknown keys so decoding does not report them a second time.
            if let NodeValue::Map(lb_entries) = &mut lb.value {
                lb_entries.retain(|(k, _)| LB_KEYS.iter().any(|n| n.eq_ignore_ascii_case(&k.name)));
            }
        }
        issues.0.extend(local.0);
        let server = lb.remove("server");
        if let Some(port) = server.as_ref().and_then(|s| s.get("port")) {
            let value = port.as_scalar().unwrap_or("").trim();
            if let Ok(p) = value.parse::<u16>() {
                if !c.ports.is_empty() && !c.ports.contains(&p) && c.network_mode != "host" {
                    let mut ports = c.ports.clone();
                    ports.sort_unstable();
                    let exposed: Vec<String> = ports.iter().map(u16::to_string).collect();
                    issues.push(
                        ConfigIssue::warning(
                            port.origin.clone(),
                            format!("the container does not expose port {p} (it exposes {})", exposed.join(", ")),
                        )
                        .with_hint("check the port the application listens on; wharf uses the label's port as written"),
                    );
                }
            }
        }
        match server_url(server.as_ref(), c, all, config, serve) {
            Ok((url, origin)) => {
                let mut entry = Node::empty_map(origin.clone());
                entry.set("url", Node::scalar(origin.clone(), url));
                if let Some(w) = server.as_ref().and_then(|s| s.get("weight")) {
                    entry.set("weight", w.clone());
                }
                let items = if serve { vec![entry] } else { Vec::new() };
                lb.set("servers", Node::new(origin, NodeValue::Seq(items)));
                true
            }
            Err(issue) => {
                issues.push(issue.with_hint_opt(None));
                issues.push(ConfigIssue::error(
                    key.origin.clone(),
                    format!(
                        "service `{}` has no usable server, so nothing these labels define is used (as in Traefik)",
                        key.name
                    ),
                ));
                usable = false;
                false
            }
        }
    });
    usable
}

fn label_origin(c: &ContainerInfo, node: Option<&Node>) -> Origin {
    node.map_or_else(|| c.origin(""), |n| n.origin.clone())
}

/// The server URL and the origin to blame for it.
fn server_url(
    server: Option<&Node>,
    c: &ContainerInfo,
    all: &[ContainerInfo],
    config: &DockerProviderConfig,
    serve: bool,
) -> Result<(String, Origin), ConfigIssue> {
    let get = |k: &str| server.and_then(|s| s.get(k));
    let text = |n: &Node| n.as_scalar().unwrap_or("").trim().to_string();
    if let Some(url) = get("url") {
        if get("port").is_some() || get("scheme").is_some() {
            return Err(ConfigIssue::error(
                url.origin.clone(),
                "`server.url` cannot be combined with `server.port` or `server.scheme`",
            )
            .with_hint("keep either the url, or the port (and scheme)"));
        }
        return Ok((text(url), url.origin.clone()));
    }
    let scheme = get("scheme").map_or_else(|| "http".to_string(), text);
    let port = match get("port") {
        Some(p) => {
            let value = text(p);
            match value.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => {
                    return Err(ConfigIssue::error(
                        p.origin.clone(),
                        format!("`{value}` is not a port number"),
                    )
                    .with_hint("write e.g. loadbalancer.server.port=8080"))
                }
            }
        }
        None => match c.ports.iter().min() {
            Some(p) => *p,
            None => {
                return Err(ConfigIssue::error(
                    label_origin(c, None),
                    "port is missing: the container exposes no port and no `loadbalancer.server.port` label is set",
                )
                .with_hint("add traefik.http.services.<name>.loadbalancer.server.port=<the port the app listens on>"))
            }
        },
    };
    let origin = label_origin(c, get("port"));
    if !serve && c.networks.is_empty() && c.network_mode.is_empty() {
        // Nothing to serve yet and no address to serve it at (a Swarm service with no running
        // task): the service has no servers, and the port above is still checked.
        return Ok((String::new(), origin));
    }
    if config.use_bind_port_ip {
        if let Some(b) = c.bindings.iter().find(|b| {
            b.container_port == port && !matches!(b.host_ip.as_str(), "" | "0.0.0.0" | "::")
        }) {
            return Ok((
                format!("{scheme}://{}:{}", host_literal(&b.host_ip), b.host_port),
                origin,
            ));
        }
    }
    let ip = container_ip(c, all, config, 0)?;
    Ok((
        format!("{scheme}://{}:{port}", host_literal(&ip.to_string())),
        origin,
    ))
}

fn host_literal(ip: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    }
}

/// The address to reach the container at, following Traefik's network selection.
fn container_ip(
    c: &ContainerInfo,
    all: &[ContainerInfo],
    config: &DockerProviderConfig,
    depth: usize,
) -> Result<IpAddr, ConfigIssue> {
    let origin = |key: &str| c.origin(key);
    if c.network_mode == "host" {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    if let Some(other) = c.network_mode.strip_prefix("container:") {
        let target = all
            .iter()
            .find(|o| o.id.starts_with(other) || o.name == other)
            .filter(|_| depth < 4);
        return match target {
            Some(o) => container_ip(o, all, config, depth + 1),
            None => Err(ConfigIssue::error(
                origin(""),
                format!("shares the network of container `{other}`, which is not running"),
            )),
        };
    }
    let label = c.network_label();
    let wanted = label
        .map(|(_, v)| v.to_string())
        .or_else(|| config.network.clone());
    let key = label.map_or("", |(k, _)| k);
    let pick = |n: &super::container::NetworkInfo| n.ipv4.or(n.ipv6);
    if let Some(wanted) = wanted {
        return match c.networks.iter().find(|n| n.name == wanted) {
            Some(n) => pick(n).ok_or_else(|| {
                ConfigIssue::error(
                    origin(key),
                    format!("has no IP address on network `{wanted}`"),
                )
            }),
            None => {
                let names: Vec<&str> = c.networks.iter().map(|n| n.name.as_str()).collect();
                Err(ConfigIssue::error(
                    origin(key),
                    format!("is not attached to network `{wanted}` (it is on: {})", names.join(", ")),
                )
                .with_hint(
                    "use the network's full name as `docker network ls` shows it (Compose and `docker stack` prefix the project or stack name), or attach it to that network",
                ))
            }
        };
    }
    c.networks.iter().find_map(pick).ok_or_else(|| {
        ConfigIssue::error(origin(""), "has no IP address on any network")
            .with_hint("attach the container to a network shared with wharf")
    })
}
