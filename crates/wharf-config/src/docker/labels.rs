//! A container's `traefik.*` labels -> an `http` node tree in the file provider's shape.

use wharf_model::ConfigIssue;

use super::container::ContainerInfo;
use crate::decode::{nearest, Issues};
use crate::node::{key_segments as segments, Node, NodeValue};

/// Lowers the labels; None if the container must be skipped (reported).
pub(super) fn lower(c: &ContainerInfo, issues: &mut Issues) -> Option<Node> {
    let here = c.origin("");
    let mut root = Node::empty_map(here.clone());
    root.set("http", Node::empty_map(here));
    let mut unsupported_warned = false;
    for (key, value) in &c.labels {
        let lower = key.to_ascii_lowercase();
        if !lower.starts_with("traefik.")
            || lower == "traefik.enable"
            || lower.starts_with("traefik.docker.")
            || lower.starts_with("traefik.swarm.")
        {
            continue;
        }
        let origin = c.origin(key);
        let segs = segments(key);
        if segs[0] != "traefik" {
            issues.push(
                ConfigIssue::error(
                    origin,
                    "labels must start with `traefik.` in lower case; the container is skipped",
                )
                .with_hint(format!("write {}", key.replacen(segs[0], "traefik", 1))),
            );
            return None;
        }
        let Some(kind) = segs.get(1) else { continue };
        match kind.to_ascii_lowercase().as_str() {
            "http" => {}
            // The only TLS setting labels may carry (as in Traefik).
            "tls"
                if key
                    .to_ascii_lowercase()
                    .starts_with("traefik.tls.stores.default.defaultgeneratedcert.") => {}
            "tls" => {
                issues.push(
                    ConfigIssue::warning(
                        origin,
                        "TLS options and certificates cannot come from labels (as in Traefik); the label is ignored",
                    )
                    .with_hint("define them in the file provider and reference options as `name@file`"),
                );
                continue;
            }
            "tcp" | "udp" => {
                if !unsupported_warned {
                    issues.push(ConfigIssue::warning(
                        origin,
                        format!("`traefik.{kind}.*` labels are not implemented by wharf yet; they are ignored"),
                    ));
                    unsupported_warned = true;
                }
                continue;
            }
            other => {
                let hint = nearest(other, ["http", "tcp", "udp", "tls"])
                    .map(|n| format!("did you mean `traefik.{n}.`?"));
                issues.push(
                    ConfigIssue::error(
                        origin,
                        format!("unknown label family `traefik.{other}`; the label is ignored"),
                    )
                    .with_hint_opt(hint),
                );
                continue;
            }
        }
        if segs.len() >= 4 && segs[3].contains('@') {
            issues.push(
                ConfigIssue::error(origin, format!("`{}` contains `@`, which names a provider; the label is ignored", segs[3]))
                    .with_hint("name it without `@`; reference other providers' items as name@provider in values"),
            );
            continue;
        }
        let leaf = Node::new(origin, NodeValue::Scalar(value.clone()));
        root.insert_path(&segs[1..], leaf);
    }
    Some(root)
}
