//! What the fuzz targets check, kept in the crate so ordinary tests can replay the corpus.

use wharf_model::ProviderName;

pub use crate::fuzz_anchors::yaml_anchors;
use crate::{decode_dynamic, decode_static, flags_to_node, validate, yaml, ProviderConfig};

/// A dynamic file of arbitrary bytes: parse, decode and validate must never panic, and every
/// reported position must lie inside the document.
pub fn dynamic_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // YAML breaks lines at \n, \r\n and a lone \r.
    let lines = text.replace("\r\n", "\n").matches(['\n', '\r']).count() + 2;
    match yaml::parse(text, "fuzz.yml") {
        Err(e) => assert!(e.line <= lines, "line {} of {lines}", e.line),
        Ok(root) => decode_and_validate(&root),
    }
}

/// A file provider's tree decoded and validated, as the control plane would.
fn decode_and_validate(root: &crate::Node) {
    let (raw, _issues) = decode_dynamic(root);
    let statics = decode_static(&yaml::parse("", "s.yml").expect("empty")).0;
    let _validated = validate(
        &[ProviderConfig {
            provider: ProviderName::new("file"),
            raw,
        }],
        &statics,
    );
}

/// A TOML file of arbitrary bytes (static or dynamic): parse, decode and validate must never
/// panic, and every reported position must lie inside the document.
pub fn dynamic_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.matches('\n').count() + 2;
    match crate::toml::parse(text, "fuzz.toml") {
        Err(e) => assert!(e.line <= lines, "line {} of {lines}", e.line),
        Ok(root) => {
            let _static = decode_static(&root);
            decode_and_validate(&root);
        }
    }
}

/// Arbitrary command-line flags (one per line) must decode or be rejected, never panic.
pub fn static_flags(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<String> = text.lines().map(str::to_string).collect();
    let _decoded = decode_static(&flags_to_node(&args));
}

/// Container labels (one `key=value` per line; a line `---` starts another container) must
/// lower, merge and decode without panicking, whatever they say.
pub fn docker_labels(data: &[u8]) {
    use crate::docker::{containers_to_config, ContainerInfo, HealthState, NetworkInfo};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let containers: Vec<ContainerInfo> = text
        .split("---\n")
        .enumerate()
        .map(|(i, block)| ContainerInfo {
            id: format!("id{i}"),
            name: format!("c{i}"),
            labels: block
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            running: i % 5 != 4,
            health: [
                None,
                Some(HealthState::Starting),
                Some(HealthState::Healthy),
            ][i % 3],
            networks: vec![NetworkInfo {
                name: "net".into(),
                ipv4: Some(std::net::IpAddr::from([10, 0, 0, (i % 250) as u8 + 2])),
                ipv6: None,
            }],
            ports: vec![80],
            bindings: Vec::new(),
            network_mode: "net".into(),
            swarm_service: None,
        })
        .collect();
    let config = wharf_model::DockerProviderConfig::default();
    let (raw, _issues) = containers_to_config(&containers, &config);
    let statics = decode_static(&yaml::parse("", "s.yml").expect("empty")).0;
    let _validated = validate(
        &[ProviderConfig {
            provider: ProviderName::new("docker"),
            raw,
        }],
        &statics,
    );
}

/// Redis keys and values (one `key=value` per line, as a KV store holds them) must turn into a
/// tree, decode and validate without panicking, whatever they say; every issue names a key.
pub fn redis_keys(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (node, _issues) = crate::kv::store_to_node("redis", "traefik", &pairs);
    let (raw, _decode_issues) = decode_dynamic(&node);
    let statics = decode_static(&yaml::parse("", "s.yml").expect("empty")).0;
    let _validated = validate(
        &[ProviderConfig {
            provider: ProviderName::new("redis"),
            raw,
        }],
        &statics,
    );
}
