//! Typed reads from a [`Node`] tree, collecting located issues instead of stopping.

use std::time::Duration;

use wharf_model::{parse_go_duration, ConfigIssue, Origin};

use crate::node::{Node, NodeValue};

/// Collects issues while one source is decoded.
#[derive(Debug, Default)]
pub struct Issues(pub Vec<ConfigIssue>);

impl Issues {
    pub fn error(&mut self, origin: &Origin, message: impl Into<String>) {
        self.0.push(ConfigIssue::error(origin.clone(), message));
    }

    pub fn push(&mut self, issue: ConfigIssue) {
        self.0.push(issue);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(ConfigIssue::is_error)
    }

    /// Whether an error was reported after the first `len` issues.
    pub fn has_errors_since(&self, len: usize) -> bool {
        self.0[len.min(self.0.len())..]
            .iter()
            .any(ConfigIssue::is_error)
    }
}

/// The closest candidate to `word`, if it is close enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(&lower, &c.to_ascii_lowercase())))
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

/// Reports every key of `node` that is not in `known`. Keys in `unimplemented` are accepted
/// with one warning each. Returns false if `node` is not a map (already reported).
#[track_caller]
pub fn check_keys(
    node: &Node,
    path: &str,
    known: &[&str],
    unimplemented: &[&str],
    issues: &mut Issues,
) -> bool {
    crate::reference::note(path, known, unimplemented, std::panic::Location::caller());
    match &node.value {
        NodeValue::Map(entries) => {
            for (key, _) in entries {
                let is = |list: &[&str]| list.iter().any(|k| k.eq_ignore_ascii_case(&key.name));
                if is(known) {
                    continue;
                }
                let full = join(path, &key.name);
                if is(unimplemented) {
                    issues.push(ConfigIssue::warning(
                        key.origin.clone(),
                        format!("`{full}` is not implemented by wharf yet; it is ignored"),
                    ));
                    continue;
                }
                let all = known.iter().chain(unimplemented).copied();
                let hint = match nearest(&key.name, all) {
                    Some(n) => format!("did you mean `{}`?", join(path, n)),
                    None => format!("valid keys here: {}", known.join(", ")),
                };
                issues.push(
                    ConfigIssue::error(key.origin.clone(), format!("unknown key `{full}`"))
                        .with_hint(hint),
                );
            }
            true
        }
        NodeValue::Null => true,
        // `--ping` / `TRAEFIK_PING=true`: a section switched on with its defaults.
        NodeValue::Scalar(s) if parse_bool(s).is_some() => true,
        _ => {
            issues.error(
                &node.origin,
                format!("`{path}` must be a map of settings, found {}", node.kind()),
            );
            false
        }
    }
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Whether a section node turns its section on: a map, an empty value, or `true`.
pub fn section_enabled(node: &Node, path: &str, issues: &mut Issues) -> bool {
    match &node.value {
        NodeValue::Map(_) | NodeValue::Null => true,
        NodeValue::Scalar(s) => match parse_bool(s) {
            Some(b) => b,
            None => {
                issues.error(
                    &node.origin,
                    format!("`{path}` must be a map of settings or true/false, found `{s}`"),
                );
                false
            }
        },
        NodeValue::Seq(_) => {
            issues.error(
                &node.origin,
                format!("`{path}` must be a map, found a list"),
            );
            false
        }
    }
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

pub fn string(node: &Node, path: &str, issues: &mut Issues) -> Option<String> {
    match &node.value {
        NodeValue::Scalar(s) => Some(s.clone()),
        NodeValue::Null => Some(String::new()),
        _ => {
            issues.error(
                &node.origin,
                format!("`{path}` must be a single value, found {}", node.kind()),
            );
            None
        }
    }
}

pub fn boolean(node: &Node, path: &str, issues: &mut Issues) -> Option<bool> {
    let s = string(node, path, issues)?;
    if s.is_empty() {
        return Some(true);
    }
    let b = parse_bool(&s);
    if b.is_none() {
        issues.error(
            &node.origin,
            format!("`{path}` must be true or false, found `{s}`"),
        );
    }
    b
}

pub fn integer(node: &Node, path: &str, issues: &mut Issues) -> Option<i64> {
    parsed(node, path, "an integer", issues)
}

pub fn float(node: &Node, path: &str, issues: &mut Issues) -> Option<f64> {
    parsed(node, path, "a number", issues)
}

fn parsed<T: std::str::FromStr>(
    node: &Node,
    path: &str,
    what: &str,
    issues: &mut Issues,
) -> Option<T> {
    let s = string(node, path, issues)?;
    let v = s.trim().parse::<T>().ok();
    if v.is_none() {
        issues.error(
            &node.origin,
            format!("`{path}` must be {what}, found `{s}`"),
        );
    }
    v
}

pub fn duration(node: &Node, path: &str, issues: &mut Issues) -> Option<Duration> {
    let s = string(node, path, issues)?;
    match parse_go_duration(&s) {
        Ok(d) => Some(d),
        Err(e) => {
            issues.error(&node.origin, format!("`{path}`: {e}"));
            None
        }
    }
}

/// A list: a YAML sequence of values, or one comma-separated value (flags, env, labels).
pub fn list(node: &Node, path: &str, issues: &mut Issues) -> Option<Vec<(String, Origin)>> {
    match &node.value {
        NodeValue::Seq(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                out.push((
                    string(item, &format!("{path}[{i}]"), issues)?,
                    item.origin.clone(),
                ));
            }
            Some(out)
        }
        NodeValue::Scalar(s) => Some(
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| (p.to_string(), node.origin.clone()))
                .collect(),
        ),
        NodeValue::Null => Some(Vec::new()),
        NodeValue::Map(entries) => {
            // Indexed form from flags/env/labels: `key[0]=a` lowered as keys "0", "1", ...
            if entries.iter().all(|(k, _)| k.name.parse::<usize>().is_ok()) {
                let mut sorted: Vec<_> = entries.iter().collect();
                sorted.sort_by_key(|(k, _)| k.name.parse::<usize>().unwrap_or(0));
                let mut out = Vec::new();
                for (k, v) in sorted {
                    out.push((
                        string(v, &format!("{path}[{}]", k.name), issues)?,
                        v.origin.clone(),
                    ));
                }
                return Some(out);
            }
            issues.error(
                &node.origin,
                format!("`{path}` must be a list, found a map"),
            );
            None
        }
    }
}

/// The items of a list of maps: a YAML sequence, or the indexed form of flags, environment
/// variables and labels (`key[0].x`), in index order. None (reported) for anything else.
pub fn items<'a>(node: &'a Node, path: &str, issues: &mut Issues) -> Option<Vec<&'a Node>> {
    match &node.value {
        NodeValue::Seq(items) => Some(items.iter().collect()),
        NodeValue::Null => Some(Vec::new()),
        NodeValue::Map(entries) if entries.iter().all(|(k, _)| k.name.parse::<usize>().is_ok()) => {
            let mut sorted: Vec<_> = entries.iter().collect();
            sorted.sort_by_key(|(k, _)| k.name.parse::<usize>().unwrap_or(0));
            Some(sorted.into_iter().map(|(_, v)| v).collect())
        }
        _ => {
            issues.error(&node.origin, format!("`{path}` must be a list"));
            None
        }
    }
}

/// Where `key` of `n` was written (where `n` was, when the key is absent).
pub fn key_origin(n: &Node, key: &str) -> Origin {
    n.get(key)
        .map_or_else(|| n.origin.clone(), |v| v.origin.clone())
}

/// Reports an error at `key`'s value (or at `n` when the key is absent).
pub fn error_at(n: &Node, key: &str, issues: &mut Issues, message: String, hint: Option<&str>) {
    issues.push(
        ConfigIssue::error(key_origin(n, key), message).with_hint_opt(hint.map(str::to_string)),
    );
}
