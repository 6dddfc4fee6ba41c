//! `docs/configuration-reference.md` is generated from the decoders (see
//! `wharf_config::reference`): decoding the samples in `tests/reference/` records every section
//! and key wharf reads. The test fails if a decoder's `check_keys` call is not reached by the
//! samples (extend them) or if the committed reference differs (`WHARF_BLESS=1` rewrites it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use wharf_config::docker::{containers_to_config, ContainerInfo, NetworkInfo};
use wharf_config::reference::record;
use wharf_config::{decode_dynamic, decode_static, yaml};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sample(name: &str) -> wharf_config::Node {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("sample");
    yaml::parse(&text, name).expect("sample YAML")
}

/// Every `check_keys(` call in the crate's sources, as `file:line`.
fn call_sites() -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sites = BTreeSet::new();
    let mut dirs = vec![src];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            let rel = path
                .strip_prefix(root().canonicalize().expect("root"))
                .or_else(|_| path.strip_prefix(root()))
                .map(Path::to_path_buf)
                .unwrap_or(path.clone());
            for (i, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") || code.starts_with("pub fn check_keys") {
                    continue;
                }
                if code.contains("check_keys(") {
                    sites.insert(format!("{}:{}", rel.display(), i + 1));
                }
            }
        }
    }
    sites
}

/// The samples' placeholder names (`<m12>`) become one name per kind (`<middleware>`), so every
/// middleware type, service type, ... is listed under the same path.
fn fold(rec: wharf_config::reference::Recording) -> wharf_config::reference::Recording {
    let mut out = wharf_config::reference::Recording {
        call_sites: rec.call_sites,
        ..Default::default()
    };
    for (path, section) in rec.sections {
        let segments: Vec<&str> = path.split('.').collect();
        let folded: Vec<String> = segments
            .iter()
            .enumerate()
            .map(|(i, seg)| {
                // `domains[0]` -> `domains[]`
                if let Some((name, _)) = seg.split_once('[') {
                    return format!("{name}[]");
                }
                if !seg.starts_with('<') {
                    return seg.to_string();
                }
                let parent = if i > 0 { segments[i - 1] } else { "" };
                match parent {
                    "routers" => "<router>",
                    "services" => "<service>",
                    "middlewares" => "<middleware>",
                    "serversTransports" => "<transport>",
                    "options" => "<options>",
                    "entryPoints" => "<entrypoint>",
                    "certificatesResolvers" => "<resolver>",
                    _ => seg,
                }
                .to_string()
            })
            .collect();
        let merged = out.sections.entry(folded.join(".")).or_default();
        merged.keys.extend(section.keys);
        merged.unimplemented.extend(section.unimplemented);
    }
    out
}

#[test]
fn the_configuration_reference_is_generated_from_the_decoders() {
    let statics = record(|| {
        let _decoded = decode_static(&sample("static.yml"));
    });
    let dynamic = record(|| {
        // Some options are only read while validating (e.g. passTLSClientCert's `info`).
        let (raw, _issues) = decode_dynamic(&sample("dynamic.yml"));
        let statics = decode_static(&yaml::parse("{}", "s.yml").expect("yaml")).0;
        let _validated = wharf_config::validate(
            &[wharf_config::ProviderConfig {
                provider: wharf_model::ProviderName::new("file"),
                raw,
            }],
            &statics,
        );
        // The Docker provider checks `loadbalancer` labels itself.
        let container = ContainerInfo {
            id: "c".into(),
            name: "c".into(),
            labels: BTreeMap::from([(
                "traefik.http.services.<service>.loadbalancer.server.port".to_string(),
                "80".to_string(),
            )]),
            running: true,
            networks: vec![NetworkInfo {
                name: "n".into(),
                ipv4: Some([192, 0, 2, 1].into()),
                ipv6: None,
            }],
            ..ContainerInfo::default()
        };
        let config = decode_static(&yaml::parse("providers: {docker: {}}", "s.yml").expect("yaml"))
            .0
            .providers
            .docker
            .expect("docker");
        let _decoded = containers_to_config(&[container], &config);
    });
    let reached: BTreeSet<String> = statics
        .call_sites
        .iter()
        .chain(&dynamic.call_sites)
        .cloned()
        .collect();
    let sites = call_sites();
    let missed: Vec<&String> = sites
        .iter()
        .filter(|site| {
            !reached
                .iter()
                .any(|r| r.ends_with(site.as_str()) || site.ends_with(r.as_str()))
        })
        .collect();
    assert!(
        missed.is_empty(),
        "the reference samples do not reach these sections (extend tests/reference/*.yml): {missed:#?}"
    );
    let (statics, dynamic) = (fold(statics), fold(dynamic));
    let doc = format!(
        "# Configuration reference\n\n\
         Generated from wharf's decoders by `crates/wharf-config/tests/reference.rs`\n\
         (`WHARF_BLESS=1 cargo test -p wharf-config --test reference` rewrites it): every section\n\
         wharf reads and the keys it accepts there, as Traefik spells them (matched without case).\n\
         Names in angle brackets are yours. A key outside these lists is an error naming the\n\
         nearest valid one; a key listed as not implemented is accepted with a warning. Docker\n\
         labels are the dynamic keys prefixed with `traefik.` (`traefik.http.routers.<router>.rule`).\n\
         YAML and TOML files use the same keys.\n\n{}{}",
        statics.markdown("Static configuration (traefik.yml / traefik.toml, --flags, TRAEFIK_*)", ""),
        dynamic.markdown("Dynamic configuration (file provider, Docker labels)", "")
    );
    let path = root().join("docs/configuration-reference.md");
    if std::env::var_os("WHARF_BLESS").is_some() {
        std::fs::write(&path, &doc).expect("bless");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/configuration-reference.md is out of date: run WHARF_BLESS=1 cargo test -p wharf-config --test reference"
    );
}
