//! `providers`: file, docker, throttle.

use std::path::PathBuf;

use wharf_model::{ConfigIssue, DockerProviderConfig, FileProviderConfig, ProvidersConfig};

use super::{get_bool, get_duration, get_string};
use crate::decode::{check_keys, duration, section_enabled, Issues};
use crate::node::Node;

pub(super) fn providers(n: Option<&Node>, issues: &mut Issues) -> ProvidersConfig {
    let mut out = ProvidersConfig::default();
    let Some(n) = n else { return out };
    check_keys(
        n,
        "providers",
        &["providersThrottleDuration", "file", "docker"],
        &[
            "swarm",
            "kubernetesCRD",
            "kubernetesIngress",
            "kubernetesIngressNGINX",
            "kubernetesGateway",
            "knative",
            "consul",
            "consulCatalog",
            "nomad",
            "ecs",
            "etcd",
            "redis",
            "http",
            "zooKeeper",
            "rest",
            "plugin",
            "precedence",
        ],
        issues,
    );
    out.throttle = get_duration(n, "providersThrottleDuration", "providers", issues);
    if let Some(f) = n
        .get("file")
        .filter(|f| section_enabled(f, "providers.file", issues))
    {
        let fp = "providers.file";
        check_keys(
            f,
            fp,
            &[
                "filename",
                "directory",
                "watch",
                "debugLogGeneratedTemplate",
            ],
            &[],
            issues,
        );
        let watch = get_bool(f, "watch", fp, issues).unwrap_or(true);
        let filename = get_string(f, "filename", fp, issues).filter(|s| !s.is_empty());
        let directory = get_string(f, "directory", fp, issues).filter(|s| !s.is_empty());
        out.file = match (filename, directory) {
            (Some(_), Some(_)) => {
                issues.push(
                    ConfigIssue::error(
                        f.origin.clone(),
                        "`providers.file.filename` and `providers.file.directory` are mutually exclusive",
                    )
                    .with_hint("keep one of them (Traefik's docs recommend `directory`)"),
                );
                None
            }
            (Some(p), None) => Some(FileProviderConfig::File {
                path: PathBuf::from(p),
                watch,
            }),
            (None, Some(p)) => Some(FileProviderConfig::Directory {
                path: PathBuf::from(p),
                watch,
            }),
            (None, None) => {
                issues.push(
                    ConfigIssue::error(
                        f.origin.clone(),
                        "`providers.file` needs `filename` or `directory`",
                    )
                    .with_hint("e.g. `providers.file.directory: /etc/traefik/dynamic`"),
                );
                None
            }
        };
    }
    if let Some(d) = n
        .get("docker")
        .filter(|d| section_enabled(d, "providers.docker", issues))
    {
        let dp = "providers.docker";
        check_keys(
            d,
            dp,
            &[
                "endpoint",
                "exposedByDefault",
                "network",
                "defaultRule",
                "constraints",
                "watch",
                "useBindPortIP",
                "allowEmptyServices",
                "httpClientTimeout",
                "username",
                "password",
                "tls",
            ],
            &[],
            issues,
        );
        if let Some(t) = d.get("httpClientTimeout") {
            duration(t, "providers.docker.httpClientTimeout", issues);
        }
        if let Some(c) = d.get("constraints") {
            if let Some(Err(e)) = c
                .as_scalar()
                .filter(|s| !s.is_empty())
                .map(wharf_rule::parse_constraints)
            {
                issues.push(
                    ConfigIssue::error(
                        c.origin.clone(),
                        format!("`providers.docker.constraints`: {e}"),
                    )
                    .with_hint_opt(e.hint),
                );
            }
        }
        if let Some(r) = d.get("defaultRule") {
            let template = r.as_scalar().unwrap_or("");
            let sample = crate::docker::ContainerInfo::default();
            if let Err(e) = crate::docker::render_default_rule(template, "name", &sample) {
                issues.error(&r.origin, format!("`providers.docker.defaultRule`: {e}"));
            }
        }
        let defaults = DockerProviderConfig::default();
        let text = |key: &str, issues: &mut Issues| {
            get_string(d, key, dp, issues).filter(|s| !s.is_empty())
        };
        out.docker = Some(DockerProviderConfig {
            endpoint: text("endpoint", issues).unwrap_or(defaults.endpoint),
            exposed_by_default: get_bool(d, "exposedByDefault", dp, issues)
                .unwrap_or(defaults.exposed_by_default),
            network: text("network", issues),
            default_rule: text("defaultRule", issues).unwrap_or(defaults.default_rule),
            constraints: text("constraints", issues),
            watch: get_bool(d, "watch", dp, issues).unwrap_or(defaults.watch),
            use_bind_port_ip: get_bool(d, "useBindPortIP", dp, issues)
                .unwrap_or(defaults.use_bind_port_ip),
            allow_empty_services: get_bool(d, "allowEmptyServices", dp, issues),
        });
    }
    out
}
