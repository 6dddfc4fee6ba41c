//! `wharf check --compose FILE`: the stack as it would run, read without an engine. The proxy
//! service's static configuration and dynamic files are found through its mounts and Docker
//! configs (or its `command` flags and `TRAEFIK_*` environment), every service's labels go
//! through the Docker provider's own decoding, and each label problem is reported at the label's
//! line in the Compose file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use wharf_config::compose::{host_files_under, host_path, ComposeFile, ComposeService};
use wharf_config::docker::containers_to_config;
use wharf_config::lint::Attachment;
use wharf_config::{load_static, ProviderConfig, StaticInputs};
use wharf_discovery::{load_paths, FileProvider};
use wharf_model::{ConfigIssue, FileProviderConfig, Origin, PemSource, ProviderName};

use super::Loaded;

/// Where Traefik (and wharf) look for the static configuration in a container.
const STATIC_FILES: [&str; 3] = [
    "/etc/traefik/traefik.yml",
    "/etc/traefik/traefik.yaml",
    "/etc/traefik/traefik.toml",
];

pub fn check(path: &Path, project: Option<&str>, flags: &[String]) -> anyhow::Result<Loaded> {
    let (file, mut issues) = ComposeFile::read(path, project).map_err(anyhow::Error::msg)?;
    let proxy = file.proxy();
    let mounts = proxy.map(|p| p.mounts.clone()).unwrap_or_default();
    let file_origin = Origin::File {
        path: path.display().to_string().into(),
        line: 0,
        column: 0,
    };
    if proxy.is_none() {
        issues.push(
            ConfigIssue::warning(
                file_origin.clone(),
                "no service mounts the Docker socket or runs a wharf or Traefik image: the static configuration comes from the flags given",
            )
            .with_hint("mount /var/run/docker.sock into the proxy service"),
        );
    }
    // Flags given to `check` win; else the proxy's mounted traefik.yml, else its command line.
    let (args, env, mapped) = if !flags.is_empty() {
        (flags.to_vec(), Vec::new(), false)
    } else {
        let mounted = STATIC_FILES
            .iter()
            .find_map(|p| host_path(&mounts, p).filter(|h| h.is_file()));
        let env: Vec<(String, String)> = proxy.map(|p| p.environment.clone()).unwrap_or_default();
        match mounted {
            Some(host) => (vec![format!("--configFile={}", host.display())], env, true),
            None => (
                proxy.map(|p| p.command.clone()).unwrap_or_default(),
                env,
                true,
            ),
        }
    };
    let inputs = StaticInputs {
        args,
        env,
        cwd: std::env::current_dir().context("cannot read the working directory")?,
        home: None,
        xdg_config_home: None,
        // Never this host's /etc/traefik: the container's files come through its mounts.
        etc_dir: PathBuf::from("/nonexistent/wharf-check"),
    };
    let loaded = match load_static(&inputs) {
        Ok(loaded) => loaded,
        Err(e) => {
            issues.extend(e.into_issues());
            return Ok(Loaded::static_failed(issues));
        }
    };
    issues.extend(loaded.warnings.clone());
    let statics = loaded.config;
    let mut providers = Vec::new();
    if let Some(fp) = statics.providers.file.clone() {
        let update = if mapped {
            file_provider_files(&fp, &mounts, &mut issues)
        } else {
            Some(FileProvider::new(fp, None).load(true))
        };
        match update {
            Some(Ok(update)) => {
                issues.extend(update.issues);
                providers.push(ProviderConfig {
                    provider: update.provider,
                    raw: update.raw,
                });
            }
            Some(Err(e)) => issues.push(e.to_issue()),
            None => {}
        }
    }
    if let Some(docker) = &statics.providers.docker {
        let (raw, label_issues) = containers_to_config(&file.containers(), docker);
        issues.extend(label_issues);
        providers.push(ProviderConfig {
            provider: ProviderName::new("docker"),
            raw,
        });
        if let Some(proxy) = proxy {
            let enabled = |s: &ComposeService| match label(s, "traefik.enable") {
                Some(v) => v.eq_ignore_ascii_case("true"),
                None => docker.exposed_by_default,
            };
            for s in file
                .services
                .iter()
                .filter(|s| s.name != proxy.name && enabled(s))
            {
                issues.extend(unreachable(s, proxy, docker.network.as_deref()));
            }
            if enabled(proxy) {
                issues.extend(routes_to_itself(proxy));
            }
        }
    }
    let remap = |config: &mut wharf_model::DynamicConfig| {
        if mapped {
            remap_certificates(config, &mounts)
        }
    };
    let mut loaded = super::finish(issues, providers, &statics, &remap);
    // Validation names docker routers by their labels too: point those at the file as well.
    loaded.issues = std::mem::take(&mut loaded.issues)
        .into_iter()
        .map(|i| at_label(i, &file))
        .collect();
    Ok(loaded)
}

fn label<'a>(s: &'a ComposeService, key: &str) -> Option<&'a str> {
    s.labels
        .iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, v, _)| v.as_str())
}

/// The file provider's files on the host: a mounted directory, or the files mounted one by one
/// (Docker configs) under the configured directory, or the mounted file.
fn file_provider_files(
    fp: &FileProviderConfig,
    mounts: &[(String, PathBuf)],
    issues: &mut Vec<ConfigIssue>,
) -> Option<Result<wharf_discovery::ProviderUpdate, wharf_discovery::LoadError>> {
    let (container_path, is_dir) = match fp {
        FileProviderConfig::File { path, .. } => (path.display().to_string(), false),
        FileProviderConfig::Directory { path, .. } => (path.display().to_string(), true),
    };
    let exact = host_path(mounts, &container_path);
    let files = match exact {
        Some(host) if is_dir && host.is_dir() => {
            let config = FileProviderConfig::Directory {
                path: host,
                watch: false,
            };
            return Some(FileProvider::new(config, None).load(true));
        }
        Some(host) if !is_dir => vec![host],
        _ if is_dir => host_files_under(mounts, &container_path),
        _ => Vec::new(),
    };
    if files.is_empty() {
        issues.push(ConfigIssue::warning(
            Origin::Provider("file".into()),
            format!("the file provider reads {container_path} in the container, which no volume or config of the proxy service provides: its files are not checked"),
        ));
        return None;
    }
    Some(load_paths(files, Vec::new(), true))
}

/// A label problem at the label's place in the Compose file.
fn at_label(issue: ConfigIssue, file: &ComposeFile) -> ConfigIssue {
    match &issue.origin {
        Origin::Label { container, key } => match file.label_origin(container, key) {
            Some(origin) => ConfigIssue { origin, ..issue },
            None => issue,
        },
        _ => issue,
    }
}

/// A routed service wharf shares no network with (or not the one its label names).
fn unreachable(
    s: &ComposeService,
    proxy: &ComposeService,
    network: Option<&str>,
) -> Option<ConfigIssue> {
    if s.network_mode.is_some() || proxy.network_mode.as_deref() == Some("host") {
        return None;
    }
    let target = Attachment {
        kind: "service",
        name: s.name.clone(),
        networks: s.networks.clone(),
        network: label(s, "traefik.docker.network").or(network),
        origin: s.networks_origin.clone(),
    };
    let proxy = Attachment {
        kind: "service",
        name: proxy.name.clone(),
        networks: proxy.networks.clone(),
        network: None,
        origin: proxy.networks_origin.clone(),
    };
    wharf_config::lint::unreachable(&target, &proxy)
}

/// Routers labelled on the proxy's own container without a service: their default service is
/// the proxy's lowest port, so requests come back to the proxy (the design's dashboard labels).
fn routes_to_itself(proxy: &ComposeService) -> Vec<ConfigIssue> {
    let mut found = Vec::new();
    for (key, _, origin) in &proxy.labels {
        let Some(router) = key
            .strip_prefix("traefik.http.routers.")
            .and_then(|rest| rest.strip_suffix(".rule"))
        else {
            continue;
        };
        let service_key = format!("traefik.http.routers.{router}.service");
        let has_service = proxy.labels.iter().any(|(k, _, _)| *k == service_key);
        let has_own_service = proxy
            .labels
            .iter()
            .any(|(k, _, _)| k.starts_with("traefik.http.services."));
        if has_service || has_own_service {
            continue;
        }
        let port = proxy
            .ports
            .iter()
            .min()
            .map_or("?".to_string(), u16::to_string);
        found.push(
            ConfigIssue::warning(
                origin.clone(),
                format!(
                    "router `{router}` is labelled on the proxy's own container (service `{}`) with no service: its default service is the container's lowest port ({port}), so its requests come back to the proxy itself",
                    proxy.name
                ),
            )
            .with_hint(format!("to serve the dashboard and API there, add {service_key}=api@internal")),
        );
    }
    found
}

/// Certificate paths are the container's: read the host files behind them.
fn remap_certificates(config: &mut wharf_model::DynamicConfig, mounts: &[(String, PathBuf)]) {
    let remap = |source: &mut PemSource| {
        let path = match source {
            PemSource::File(p) => p.display().to_string(),
            PemSource::Inline(v) if v.starts_with('/') && !v.contains('\n') => v.clone(),
            PemSource::Inline(_) => return,
        };
        if let Some(host) = host_path(mounts, &path) {
            *source = PemSource::File(host);
        }
    };
    let tls = &mut config.tls;
    for cert in tls
        .certificates
        .iter_mut()
        .chain(tls.default_certificate.iter_mut())
    {
        remap(&mut cert.cert);
        remap(&mut cert.key);
    }
}
