//! Where the static configuration comes from. Like Traefik, exactly one source is used:
//! a config file (`--configFile` or a default location), else the CLI flags, else the
//! `TRAEFIK_*` environment variables. They are never merged.

use std::path::{Path, PathBuf};

use wharf_model::{ConfigIssue, Origin, StaticConfig};

use crate::node::{Node, NodeValue};
use crate::static_decode::decode_static;
use crate::yaml;

/// Which source was used, for the start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaticSource {
    File(PathBuf),
    Flags,
    Env,
    Defaults,
}

/// What the process was started with.
#[derive(Debug, Clone, Default)]
pub struct StaticInputs {
    /// Arguments after the program name.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Where `./traefik.yml` is looked for.
    pub cwd: PathBuf,
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    /// `/etc/traefik`, replaceable in tests.
    pub etc_dir: PathBuf,
}

/// A static configuration that cannot be used: start-up stops here.
#[derive(Debug, thiserror::Error)]
pub enum StaticError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Yaml(#[from] yaml::DocumentError),
    #[error("the static configuration has {} error(s):\n{}", .0.iter().filter(|i| i.is_error()).count(), render(.0))]
    Invalid(Vec<ConfigIssue>),
}

impl StaticError {
    /// The problems as located issues (`wharf check` lists them with the rest).
    pub fn into_issues(self) -> Vec<ConfigIssue> {
        match self {
            StaticError::Invalid(issues) => issues,
            StaticError::Yaml(e) => vec![ConfigIssue::error(e.origin(), e.message.clone())],
            other => {
                let path = match &other {
                    StaticError::Read { path, .. } => path.display().to_string(),
                    _ => String::new(),
                };
                let origin = Origin::File {
                    path: path.into(),
                    line: 0,
                    column: 0,
                };
                vec![ConfigIssue::error(origin, other.to_string())]
            }
        }
    }
}

fn render(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .filter(|i| i.is_error())
        .map(|i| format!("  {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The loaded static configuration, with its warnings.
#[derive(Debug)]
pub struct LoadedStatic {
    pub config: StaticConfig,
    pub source: StaticSource,
    pub warnings: Vec<ConfigIssue>,
}

/// Loads the static configuration the way Traefik picks its source.
pub fn load_static(inputs: &StaticInputs) -> Result<LoadedStatic, StaticError> {
    let (root, source) = if let Some(path) = find_config_file(inputs) {
        let text = std::fs::read_to_string(&path).map_err(|source| StaticError::Read {
            path: path.clone(),
            source,
        })?;
        (
            crate::parse_document(&text, &path)?,
            StaticSource::File(path),
        )
    } else if inputs.args.iter().any(|a| a.starts_with("--")) {
        (flags_to_node(&inputs.args), StaticSource::Flags)
    } else if inputs.env.iter().any(|(k, _)| is_config_env(k)) {
        (env_to_node(&inputs.env), StaticSource::Env)
    } else {
        (Node::empty_map(Origin::Default), StaticSource::Defaults)
    };
    let (config, issues) = decode_static(&root);
    if issues.iter().any(ConfigIssue::is_error) {
        return Err(StaticError::Invalid(issues));
    }
    Ok(LoadedStatic {
        config,
        source,
        warnings: issues,
    })
}

fn is_config_flag(key: &str) -> bool {
    key.eq_ignore_ascii_case("configFile")
}

fn is_config_env(key: &str) -> bool {
    key.starts_with("TRAEFIK_") && key != "TRAEFIK_CONFIGFILE"
}

fn find_config_file(inputs: &StaticInputs) -> Option<PathBuf> {
    let mut args = inputs.args.iter();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            continue;
        };
        match flag.split_once('=') {
            Some((k, v)) if is_config_flag(k) => return Some(inputs.cwd.join(v)),
            None if is_config_flag(flag) => return args.next().map(|v| inputs.cwd.join(v)),
            _ => {}
        }
    }
    if let Some((_, v)) = inputs.env.iter().find(|(k, _)| k == "TRAEFIK_CONFIGFILE") {
        return Some(inputs.cwd.join(v));
    }
    let mut dirs: Vec<PathBuf> = vec![inputs.etc_dir.clone()];
    dirs.extend(inputs.xdg_config_home.clone());
    dirs.extend(inputs.home.as_ref().map(|h| h.join(".config")));
    dirs.push(inputs.cwd.clone());
    for dir in dirs {
        for ext in ["toml", "yaml", "yml"] {
            let candidate = dir.join(format!("traefik.{ext}"));
            if is_file(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

fn is_file(p: &Path) -> bool {
    p.metadata().is_ok_and(|m| m.is_file())
}

/// `--a.b.c=v`, `--a.b.c v` and bare `--a.b` (= true), keys case-insensitive.
pub fn flags_to_node(args: &[String]) -> Node {
    let mut root = Node::empty_map(Origin::Default);
    let mut i = 0;
    while i < args.len() {
        let Some(flag) = args[i].strip_prefix("--") else {
            i += 1;
            continue;
        };
        let (key, value) = match flag.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => match args.get(i + 1) {
                Some(next) if !next.starts_with('-') => {
                    i += 1;
                    (flag.to_string(), next.clone())
                }
                _ => (flag.to_string(), "true".to_string()),
            },
        };
        i += 1;
        if is_config_flag(&key) {
            continue;
        }
        let path = crate::node::key_segments(&key);
        let leaf = Node::new(Origin::Flag(key.clone()), NodeValue::Scalar(value));
        root.insert_path(&path, leaf);
    }
    root
}

/// `TRAEFIK_ENTRYPOINTS_WEB_ADDRESS=:80` -> `entrypoints.web.address`.
pub fn env_to_node(env: &[(String, String)]) -> Node {
    let mut root = Node::empty_map(Origin::Default);
    for (k, v) in env {
        if !is_config_env(k) {
            continue;
        }
        let lower = k["TRAEFIK_".len()..].to_ascii_lowercase();
        let path: Vec<&str> = lower.split('_').filter(|p| !p.is_empty()).collect();
        let leaf = Node::new(Origin::Env(k.clone()), NodeValue::Scalar(v.clone()));
        root.insert_path(&path, leaf);
    }
    root
}
