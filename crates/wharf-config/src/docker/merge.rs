//! Merging every container's tree: identical routers and middlewares are defined once,
//! load-balancer services of replicas concatenate their servers, and a conflict removes the
//! item with an error naming the containers.

use std::collections::{BTreeMap, BTreeSet};

use wharf_model::{ConfigIssue, Origin};

use super::container::ContainerInfo;
use crate::decode::Issues;
use crate::node::{Node, NodeValue};

struct Slot {
    node: Node,
    containers: Vec<String>,
}

fn servers_of(service: &Node) -> Vec<Node> {
    match service
        .get("loadBalancer")
        .and_then(|lb| lb.get("servers"))
        .map(|s| &s.value)
    {
        Some(NodeValue::Seq(items)) => items.clone(),
        _ => Vec::new(),
    }
}

fn without_servers(service: &Node) -> Node {
    let mut copy = service.clone();
    if let Some(lb) = copy.get_mut("loadBalancer") {
        lb.remove("servers");
    }
    copy
}

pub(super) fn merge(trees: Vec<(&ContainerInfo, Node)>, issues: &mut Issues) -> Node {
    let mut sections: BTreeMap<&'static str, BTreeMap<String, Slot>> = BTreeMap::new();
    let mut conflicts: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    // `traefik.tls.stores.default.defaultgeneratedcert.*`: the first container's is kept.
    let mut tls: Option<Node> = None;
    for (c, tree) in trees {
        if tls.is_none() {
            tls = tree.get("tls").cloned();
        }
        let Some(http) = tree.get("http") else {
            continue;
        };
        // Anything but the three sections is left to decoding, which reports it.
        for (section, node) in http.entries().iter().map(|(k, v)| (k, v)) {
            let name: &'static str = match section.name.to_ascii_lowercase().as_str() {
                "routers" => "routers",
                "services" => "services",
                "middlewares" => "middlewares",
                _ => "other",
            };
            let slots = sections.entry(name).or_default();
            for (key, item) in node.entries() {
                if conflicts.get(name).is_some_and(|s| s.contains(&key.name)) {
                    continue;
                }
                let Some(slot) = slots.get_mut(&key.name) else {
                    slots.insert(
                        key.name.clone(),
                        Slot {
                            node: item.clone(),
                            containers: vec![c.name.clone()],
                        },
                    );
                    continue;
                };
                let same = if name == "services" {
                    without_servers(&slot.node).same_content(&without_servers(item))
                } else {
                    slot.node.same_content(item)
                };
                if !same {
                    let what = &name[..name.len() - 1];
                    issues.push(
                        ConfigIssue::error(
                            key.origin.clone(),
                            format!(
                                "{what} `{}` is defined with different settings by containers {} and {}; it is dropped",
                                key.name,
                                slot.containers.join(", "),
                                c.name
                            ),
                        )
                        .with_hint("give replicas identical labels, or give the items different names"),
                    );
                    slots.remove(&key.name);
                    conflicts.entry(name).or_default().insert(key.name.clone());
                    continue;
                }
                slot.containers.push(c.name.clone());
                if name == "services" {
                    let mut servers = servers_of(&slot.node);
                    for s in servers_of(item) {
                        let url = s.get("url").and_then(Node::as_scalar).map(str::to_string);
                        if !servers.iter().any(|e| {
                            e.get("url").and_then(Node::as_scalar).map(str::to_string) == url
                        }) {
                            servers.push(s);
                        }
                    }
                    if let Some(lb) = slot.node.get_mut("loadBalancer") {
                        let origin = lb.origin.clone();
                        lb.set("servers", Node::new(origin, NodeValue::Seq(servers)));
                    }
                }
            }
        }
    }
    let mut http = Node::empty_map(Origin::Default);
    for (name, slots) in sections {
        if name == "other" {
            continue;
        }
        let mut section = Node::empty_map(Origin::Default);
        for (item, slot) in slots {
            section.set(&item, slot.node);
        }
        http.set(name, section);
    }
    let mut root = Node::empty_map(Origin::Default);
    root.set("http", http);
    if let Some(tls) = tls {
        root.set("tls", tls);
    }
    root
}
