//! A key-value store's pairs (Redis) -> the file provider's node tree, in Traefik's key layout:
//! `traefik/http/routers/web/rule` is `http.routers.web.rule`, and numbered segments
//! (`.../entryPoints/0`, `.../servers/1/url`) are list items, which the decoder reads as lists.

use wharf_model::{ConfigIssue, Origin};

use crate::node::{Node, NodeValue};

/// The tree under `root_key` (`traefik`) of `pairs` (key, value) read from `store`
/// (`redis`). Keys outside the root and empty values are left out, as Traefik does; a key
/// that is only the root, or has an empty segment, is reported.
pub fn store_to_node(
    store: &str,
    root_key: &str,
    pairs: &[(String, String)],
) -> (Node, Vec<ConfigIssue>) {
    let mut issues = Vec::new();
    let mut root = Node::empty_map(Origin::StoreKey {
        store: store.to_string(),
        key: String::new(),
    });
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    // Parents before children: a deeper key then replaces a value at its parent (the more
    // specific key wins, as for labels).
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in sorted {
        let Some(rest) = key.strip_prefix(root_key).and_then(|r| r.strip_prefix('/')) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let origin = Origin::StoreKey {
            store: store.to_string(),
            key: key.clone(),
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            issues.push(
                ConfigIssue::error(
                    origin,
                    "the key has an empty segment (`//` or a trailing `/`); it is ignored",
                )
                .with_hint(format!(
                    "write it as `{root_key}/{}`",
                    segments
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join("/")
                )),
            );
            continue;
        }
        root.insert_path(&segments, Node::scalar(origin, value.clone()));
    }
    numbered_maps_to_lists(&mut root);
    (root, issues)
}

/// A map whose keys are all numbers (`servers/0`, `servers/1`) is a list, in numeric order
/// (as Traefik's KV decoder reads slice indices); gaps are closed. The maps of named items
/// (a router may be called `0`) stay maps.
fn numbered_maps_to_lists(node: &mut Node) {
    const NAMED: [&str; 5] = [
        "routers",
        "services",
        "middlewares",
        "serversTransports",
        "options",
    ];
    let NodeValue::Map(entries) = &mut node.value else {
        return;
    };
    for (key, child) in entries.iter_mut() {
        if NAMED.iter().any(|n| n.eq_ignore_ascii_case(&key.name)) {
            if let NodeValue::Map(items) = &mut child.value {
                for (_, item) in items.iter_mut() {
                    numbered_maps_to_lists(item);
                }
            }
        } else {
            numbered_maps_to_lists(child);
        }
    }
    let indices: Option<Vec<u64>> = entries.iter().map(|(k, _)| k.name.parse().ok()).collect();
    let Some(indices) = indices.filter(|i| !i.is_empty()) else {
        return;
    };
    let mut items: Vec<(u64, Node)> = indices
        .into_iter()
        .zip(std::mem::take(entries).into_iter().map(|(_, n)| n))
        .collect();
    items.sort_by_key(|(i, _)| *i);
    node.value = NodeValue::Seq(items.into_iter().map(|(_, n)| n).collect());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_dynamic;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_become_routers_services_and_lists() {
        let (node, issues) = store_to_node(
            "redis",
            "traefik",
            &pairs(&[
                ("traefik/http/routers/web/rule", "Host(`a.test`)"),
                ("traefik/http/routers/web/entryPoints/1", "websecure"),
                ("traefik/http/routers/web/entryPoints/0", "web"),
                ("traefik/http/routers/web/service", "app"),
                (
                    "traefik/http/services/app/loadBalancer/servers/0/url",
                    "http://10.0.0.1:80",
                ),
                (
                    "traefik/http/services/app/loadBalancer/servers/1/url",
                    "http://10.0.0.2:80",
                ),
                ("traefik/http/routers/empty/rule", ""),
                ("traefik/http/routers/0/rule", "Host(`zero.test`)"),
                ("traefik/http/routers/0/service", "app"),
                ("traefikother/http/routers/x/rule", "Host(`x`)"),
                ("other/http/routers/y/rule", "Host(`y`)"),
            ]),
        );
        assert!(issues.is_empty(), "{issues:?}");
        let (raw, issues) = decode_dynamic(&node);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            raw.routers.keys().collect::<Vec<_>>(),
            vec!["0", "web"],
            "only the root's keys, and no empty values"
        );
        let web = &raw.routers["web"];
        let rule = web.rule.as_ref().expect("rule");
        assert_eq!(rule.value, "Host(`a.test`)");
        assert_eq!(
            rule.origin.to_string(),
            "redis key traefik/http/routers/web/rule"
        );
        assert_eq!(
            web.entry_points
                .iter()
                .flatten()
                .map(|e| e.value.as_str())
                .collect::<Vec<_>>(),
            vec!["web", "websecure"]
        );
        let servers = &raw.services["app"];
        assert_eq!(format!("{servers:?}").matches("10.0.0.").count(), 2);
    }

    #[test]
    fn an_empty_segment_is_reported_with_its_key() {
        let (_, issues) = store_to_node(
            "redis",
            "traefik",
            &pairs(&[("traefik/http//routers/web/rule", "Host(`a`)")]),
        );
        assert_eq!(issues.len(), 1);
        assert_eq!(
            issues[0].origin.to_string(),
            "redis key traefik/http//routers/web/rule"
        );
    }
}
