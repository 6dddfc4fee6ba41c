//! A Compose file read without an engine, for `wharf check --compose`: each service as the
//! Docker provider would see its container (labels, networks, ports), the proxy service (the one
//! that mounts the Docker socket, or runs a wharf or Traefik image) with the host files behind
//! its mounts and Docker configs, and every label's position in the file, so a label's problem
//! is reported at its file:line:column.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use wharf_model::{ConfigIssue, Origin};

use crate::docker::{ContainerInfo, HealthState, NetworkInfo};
use crate::node::{Node, NodeValue};
use crate::yaml::{self, DocumentError};

/// The Docker socket: a service mounting it is the proxy.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

#[derive(Debug, Clone)]
pub struct ComposeService {
    pub name: String,
    /// Where the service is defined (its key).
    pub origin: Origin,
    pub image: Option<String>,
    /// `traefik.*` and other labels, with where each is written.
    pub labels: Vec<(String, String, Origin)>,
    /// Full network names (`<project>_<network>`, or the network's `name:`).
    pub networks: Vec<String>,
    pub networks_origin: Origin,
    pub network_mode: Option<String>,
    /// Container ports from `expose` and `ports`.
    pub ports: Vec<u16>,
    /// Container path -> host path, from bind mounts and file-based configs and secrets.
    pub mounts: Vec<(String, PathBuf)>,
    /// `command` as a list of arguments.
    pub command: Vec<String>,
    pub environment: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct ComposeFile {
    pub path: PathBuf,
    pub project: String,
    pub services: Vec<ComposeService>,
}

fn scalar_list(node: &Node) -> Vec<(String, Origin)> {
    match &node.value {
        NodeValue::Seq(items) => items
            .iter()
            .filter_map(|n| n.as_scalar().map(|s| (s.to_string(), n.origin.clone())))
            .collect(),
        NodeValue::Scalar(s) => s
            .split_whitespace()
            .map(|w| (w.to_string(), node.origin.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// `labels` / `environment` in list (`k=v`) or map form.
fn key_values(node: &Node) -> Vec<(String, String, Origin)> {
    match &node.value {
        NodeValue::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                let value = v.as_scalar().unwrap_or_default().to_string();
                (k.name.clone(), value, k.origin.clone())
            })
            .collect(),
        NodeValue::Seq(_) => scalar_list(node)
            .into_iter()
            .map(|(item, origin)| match item.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string(), origin),
                None => (item, String::new(), origin),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Compose's project name rules: lower case, `[a-z0-9_-]`.
fn project_name(raw: &str) -> String {
    raw.to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// The container side of a `ports` entry: `8080`, `80:8080`, `127.0.0.1:80:8080/tcp`, or the
/// long form's `target`.
fn container_port(node: &Node) -> Option<u16> {
    if let Some(target) = node.get("target") {
        return target.as_scalar()?.parse().ok();
    }
    let text = node.as_scalar()?;
    let text = text.split('/').next()?;
    text.rsplit(':').next()?.parse().ok()
}

impl ComposeFile {
    /// Reads `path`; `project` overrides the name (else `name:`, else the directory's name).
    pub fn read(
        path: &Path,
        project: Option<&str>,
    ) -> Result<(ComposeFile, Vec<ConfigIssue>), DocumentError> {
        let text = std::fs::read_to_string(path).map_err(|e| DocumentError {
            format: "YAML",
            path: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read the Compose file: {e}"),
        })?;
        let root = yaml::parse(&text, &path.display().to_string())?;
        // Host paths stay relative to where the Compose file was named from (as a user reads
        // them); the project name comes from the directory's real name.
        let dir = path.parent().unwrap_or(Path::new(""));
        let real_dir = std::fs::canonicalize(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
        .unwrap_or_else(|_| dir.to_path_buf());
        let project = project_name(
            project
                .or_else(|| root.get("name").and_then(Node::as_scalar))
                .or_else(|| real_dir.file_name().and_then(|n| n.to_str()))
                .unwrap_or("default"),
        );
        let mut issues = Vec::new();
        let networks = network_names(&root, &project);
        let configs = file_sources(&root, "configs", dir);
        let secrets = file_sources(&root, "secrets", dir);
        let mut services = Vec::new();
        for (key, svc) in root.get("services").map(Node::entries).unwrap_or_default() {
            let mut s = ComposeService {
                name: key.name.clone(),
                origin: key.origin.clone(),
                image: svc
                    .get("image")
                    .and_then(Node::as_scalar)
                    .map(str::to_string),
                labels: svc.get("labels").map(key_values).unwrap_or_default(),
                networks: Vec::new(),
                networks_origin: svc
                    .get("networks")
                    .map_or(key.origin.clone(), |n| n.origin.clone()),
                network_mode: svc
                    .get("network_mode")
                    .and_then(Node::as_scalar)
                    .map(str::to_string),
                ports: Vec::new(),
                mounts: Vec::new(),
                command: svc
                    .get("command")
                    .map(scalar_list)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect(),
                environment: svc
                    .get("environment")
                    .map(key_values)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v, _)| (k, v))
                    .collect(),
            };
            match svc.get("networks").map(|n| &n.value) {
                Some(NodeValue::Seq(_)) => {
                    for (short, origin) in scalar_list(svc.get("networks").expect("present")) {
                        s.networks.push(full_network(
                            &networks,
                            &short,
                            &project,
                            &origin,
                            &mut issues,
                        ));
                    }
                }
                Some(NodeValue::Map(entries)) => {
                    for (k, _) in entries {
                        s.networks.push(full_network(
                            &networks,
                            &k.name,
                            &project,
                            &k.origin,
                            &mut issues,
                        ));
                    }
                }
                // Compose attaches a service without networks to the project's `default`.
                _ if s.network_mode.is_none() => s.networks.push(format!("{project}_default")),
                _ => {}
            }
            s.networks.sort();
            for list in ["expose", "ports"] {
                if let Some(NodeValue::Seq(items)) = svc.get(list).map(|n| &n.value) {
                    s.ports.extend(items.iter().filter_map(container_port));
                }
            }
            if let Some(NodeValue::Seq(items)) = svc.get("volumes").map(|n| &n.value) {
                for item in items {
                    if let Some(mount) = bind_mount(item, dir) {
                        s.mounts.push(mount);
                    }
                }
            }
            for (kind, sources, default_dir) in [
                ("configs", &configs, ""),
                ("secrets", &secrets, "/run/secrets/"),
            ] {
                if let Some(NodeValue::Seq(items)) = svc.get(kind).map(|n| &n.value) {
                    for item in items {
                        let (source, target) = match item.as_scalar() {
                            Some(name) => (name.to_string(), None),
                            None => (
                                item.get("source")
                                    .and_then(Node::as_scalar)
                                    .unwrap_or_default()
                                    .to_string(),
                                item.get("target")
                                    .and_then(Node::as_scalar)
                                    .map(str::to_string),
                            ),
                        };
                        let Some(host) = sources.get(&source) else {
                            continue;
                        };
                        let target = target
                            .map(|t| {
                                if t.starts_with('/') || default_dir.is_empty() {
                                    t
                                } else {
                                    format!("{default_dir}{t}")
                                }
                            })
                            .unwrap_or_else(|| {
                                if default_dir.is_empty() {
                                    format!("/{source}")
                                } else {
                                    format!("{default_dir}{source}")
                                }
                            });
                        s.mounts.push((target, host.clone()));
                    }
                }
            }
            services.push(s);
        }
        Ok((
            ComposeFile {
                path: path.to_path_buf(),
                project,
                services,
            },
            issues,
        ))
    }

    /// The service wharf (or Traefik) runs as: the one mounting the Docker socket, else the one
    /// whose image names wharf or traefik.
    pub fn proxy(&self) -> Option<&ComposeService> {
        self.services
            .iter()
            .find(|s| s.mounts.iter().any(|(target, _)| target == DOCKER_SOCKET))
            .or_else(|| {
                self.services.iter().find(|s| {
                    s.image.as_deref().is_some_and(|i| {
                        let i = i.to_ascii_lowercase();
                        i.contains("wharf") || i.contains("traefik")
                    })
                })
            })
    }

    /// Each service as a running, healthy container (one replica: replicas only add servers).
    /// Addresses are placeholders from the documentation range: nothing is connected to.
    pub fn containers(&self) -> Vec<ContainerInfo> {
        self.services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, (i % 250) as u8 + 1));
                let mut labels: BTreeMap<String, String> = s
                    .labels
                    .iter()
                    .map(|(k, v, _)| (k.clone(), v.clone()))
                    .collect();
                labels.insert("com.docker.compose.service".into(), s.name.clone());
                labels.insert("com.docker.compose.project".into(), self.project.clone());
                ContainerInfo {
                    id: s.name.clone(),
                    name: self.container_name(&s.name),
                    labels,
                    running: true,
                    health: Some(HealthState::Healthy),
                    networks: s
                        .networks
                        .iter()
                        .map(|n| NetworkInfo {
                            name: n.clone(),
                            ipv4: Some(ip),
                            ipv6: None,
                        })
                        .collect(),
                    ports: s.ports.clone(),
                    bindings: Vec::new(),
                    network_mode: s.network_mode.clone().unwrap_or_else(|| "bridge".into()),
                    swarm_service: None,
                }
            })
            .collect()
    }

    /// The name Compose gives a service's first container.
    pub fn container_name(&self, service: &str) -> String {
        format!("{}-{service}-1", self.project)
    }

    /// Where a label of a service's container is written in the file.
    pub fn label_origin(&self, container: &str, key: &str) -> Option<Origin> {
        let s = self
            .services
            .iter()
            .find(|s| self.container_name(&s.name) == container)?;
        if key.is_empty() {
            return Some(s.origin.clone());
        }
        s.labels
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, o)| o.clone())
    }
}

/// The file a container path is read from on the host: an exact mount, or a file under a
/// mounted directory.
pub fn host_path(mounts: &[(String, PathBuf)], container_path: &str) -> Option<PathBuf> {
    let wanted = container_path.trim_end_matches('/');
    mounts.iter().find_map(|(target, host)| {
        let target = target.trim_end_matches('/');
        if wanted == target {
            return Some(host.clone());
        }
        let rest = wanted.strip_prefix(target)?.strip_prefix('/')?;
        Some(host.join(rest))
    })
}

/// The host files mounted under a container directory (Docker configs placed one by one).
pub fn host_files_under(mounts: &[(String, PathBuf)], container_dir: &str) -> Vec<PathBuf> {
    let dir = container_dir.trim_end_matches('/');
    let mut files: Vec<PathBuf> = mounts
        .iter()
        .filter(|(target, _)| {
            target
                .strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'))
        })
        .map(|(_, host)| host.clone())
        .collect();
    files.sort();
    files
}

/// Short network name -> full name (`name:` or `external`, else prefixed by the project).
fn network_names(root: &Node, project: &str) -> BTreeMap<String, String> {
    root.get("networks")
        .map(Node::entries)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| {
            let named = v.get("name").and_then(Node::as_scalar);
            let external = v.get("external").and_then(Node::as_scalar) == Some("true");
            let full = match (named, external) {
                (Some(n), _) => n.to_string(),
                (None, true) => k.name.clone(),
                (None, false) => format!("{project}_{}", k.name),
            };
            (k.name.clone(), full)
        })
        .collect()
}

fn full_network(
    known: &BTreeMap<String, String>,
    short: &str,
    project: &str,
    origin: &Origin,
    issues: &mut Vec<ConfigIssue>,
) -> String {
    match known.get(short) {
        Some(full) => full.clone(),
        None => {
            if short != "default" {
                issues.push(
                    ConfigIssue::error(
                        origin.clone(),
                        format!("network `{short}` is not defined under the top-level `networks`"),
                    )
                    .with_hint_opt(
                        crate::nearest(short, known.keys().map(String::as_str))
                            .map(|n| format!("did you mean `{n}`?")),
                    ),
                );
            }
            format!("{project}_{short}")
        }
    }
}

/// Top-level `configs` / `secrets` with a `file:`: name -> host path.
fn file_sources(root: &Node, kind: &str, dir: &Path) -> BTreeMap<String, PathBuf> {
    root.get(kind)
        .map(Node::entries)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| {
            let file = v.get("file").and_then(Node::as_scalar)?;
            Some((k.name.clone(), dir.join(file.trim_start_matches("./"))))
        })
        .collect()
}

/// A bind mount (`./src:/dst[:ro]`, or the long form with `type: bind`); named volumes are
/// not files on the host and are skipped.
fn bind_mount(item: &Node, dir: &Path) -> Option<(String, PathBuf)> {
    let (source, target) = match item.as_scalar() {
        Some(short) => {
            let mut parts = short.split(':');
            (parts.next()?.to_string(), parts.next()?.to_string())
        }
        None => {
            if item.get("type").and_then(Node::as_scalar) != Some("bind") {
                return None;
            }
            (
                item.get("source")?.as_scalar()?.to_string(),
                item.get("target")?.as_scalar()?.to_string(),
            )
        }
    };
    if !(source.starts_with('/') || source.starts_with('.') || source.starts_with('~')) {
        return None;
    }
    let host = if source.starts_with('/') {
        PathBuf::from(&source)
    } else {
        dir.join(source.trim_start_matches("./"))
    };
    Some((target, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(text: &str) -> Node {
        yaml::parse(text, "t.yml").expect("yaml")
    }

    #[test]
    fn ports_in_every_form() {
        for (text, port) in [
            ("8080", 8080),
            ("\"80:8080\"", 8080),
            ("\"127.0.0.1:80:8080/tcp\"", 8080),
            ("{target: 3000, published: 80}", 3000),
        ] {
            assert_eq!(container_port(&node(text)), Some(port), "{text}");
        }
    }

    #[test]
    fn container_paths_map_to_host_files() {
        let mounts = vec![
            (
                "/etc/traefik/traefik.yml".to_string(),
                PathBuf::from("cfg/traefik.yml"),
            ),
            ("/certs".to_string(), PathBuf::from("certs")),
            (
                "/etc/traefik/dynamic/a.yml".to_string(),
                PathBuf::from("a.yml"),
            ),
            (
                "/etc/traefik/dynamic/b.yml".to_string(),
                PathBuf::from("b.yml"),
            ),
        ];
        assert_eq!(
            host_path(&mounts, "/etc/traefik/traefik.yml"),
            Some(PathBuf::from("cfg/traefik.yml"))
        );
        assert_eq!(
            host_path(&mounts, "/certs/x.crt"),
            Some(PathBuf::from("certs/x.crt"))
        );
        assert_eq!(host_path(&mounts, "/certsx/x.crt"), None);
        assert_eq!(
            host_files_under(&mounts, "/etc/traefik/dynamic/"),
            vec![PathBuf::from("a.yml"), PathBuf::from("b.yml")]
        );
    }

    #[test]
    fn labels_and_environment_in_list_and_map_form() {
        let list = key_values(&node("[\"a=1\", \"b=x=y\", \"c\"]"));
        let got: Vec<(&str, &str)> = list
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, [("a", "1"), ("b", "x=y"), ("c", "")]);
        let map = key_values(&node("{a: 1, b: \"two\"}"));
        let got: Vec<(&str, &str)> = map
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, [("a", "1"), ("b", "two")]);
        assert_eq!(project_name("My.Stack_1"), "mystack_1");
    }
}
