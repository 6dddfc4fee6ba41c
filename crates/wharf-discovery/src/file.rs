//! The file provider: one file or a directory of YAML files, watched.
//!
//! A change is applied once its burst of events has settled. A file that does not parse, or
//! cannot be read, rejects the whole update and the last good configuration stays live. A file
//! that is suddenly empty is taken for a write in progress (an editor truncates, then writes):
//! it is re-read until it has content, and only accepted as empty after a grace period.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use wharf_config::{decode_dynamic, yaml, RawDynamicConfig, RawService};
use wharf_model::{ConfigIssue, FileProviderConfig, Origin, PemSource, ProviderName};

use crate::contain::contained;
use crate::ProviderUpdate;

/// Why a load was rejected as a whole (the previous configuration stays live).
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    #[error("{}: cannot read: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error(transparent)]
    Yaml(#[from] yaml::DocumentError),
    #[error("{}: is empty (a write in progress?)", path.display())]
    Empty { path: PathBuf },
    /// A bug in wharf reached while decoding the update (a panic, caught).
    #[error("provider {provider}: internal error while decoding its update ({message})")]
    Internal { provider: String, message: String },
}

impl LoadError {
    /// Whether this is a wharf bug rather than a problem with the configuration.
    pub fn is_internal(&self) -> bool {
        matches!(self, LoadError::Internal { .. })
    }

    pub fn to_issue(&self) -> ConfigIssue {
        let origin = match self {
            LoadError::Yaml(e) => e.origin(),
            LoadError::Internal { provider, .. } => Origin::Provider(provider.clone()),
            LoadError::Read { path, .. } | LoadError::Empty { path } => Origin::File {
                path: path.display().to_string().into(),
                line: 0,
                column: 0,
            },
        };
        let message = match self {
            LoadError::Yaml(e) => format!("invalid {}: {}", e.format, e.message),
            other => other.to_string(),
        };
        ConfigIssue::error(origin, message)
            .with_hint("the last valid configuration stays live until this is fixed")
    }
}

/// Quiet time after the last file event before the files are read.
const SETTLE: Duration = Duration::from_millis(30);
/// How long an emptied file may stay empty before it is believed.
const EMPTY_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct FileProvider {
    config: FileProviderConfig,
    throttle: Option<Duration>,
}

impl FileProvider {
    pub fn new(config: FileProviderConfig, throttle: Option<Duration>) -> Self {
        FileProvider { config, throttle }
    }

    pub fn provider_name() -> ProviderName {
        ProviderName::new("file")
    }

    fn root(&self) -> &Path {
        match &self.config {
            FileProviderConfig::File { path, .. } | FileProviderConfig::Directory { path, .. } => {
                path
            }
        }
    }

    fn watches(&self) -> bool {
        match &self.config {
            FileProviderConfig::File { watch, .. }
            | FileProviderConfig::Directory { watch, .. } => *watch,
        }
    }

    /// The YAML and TOML files to read, sorted.
    fn files(&self) -> Result<Vec<PathBuf>, LoadError> {
        match &self.config {
            FileProviderConfig::File { path, .. } => Ok(vec![path.clone()]),
            FileProviderConfig::Directory { path, .. } => {
                let mut files = Vec::new();
                collect_dir(path, &mut files)?;
                files.sort();
                Ok(files)
            }
        }
    }

    /// Reads and decodes every file. `allow_empty` accepts empty files as empty configs.
    pub fn load(&self, allow_empty: bool) -> Result<ProviderUpdate, LoadError> {
        contained("file", || self.load_files(allow_empty))?
    }

    fn load_files(&self, allow_empty: bool) -> Result<ProviderUpdate, LoadError> {
        load_paths(self.files()?, Vec::new(), allow_empty)
    }

    /// Follows changes (if `watch` is on) until `tx` closes; the caller does the first
    /// [`load`](Self::load). Every outcome is sent: a good load as `Ok`, a rejected one as
    /// `Err` (the receiver keeps the last good configuration).
    pub async fn watch(self, tx: mpsc::Sender<Result<ProviderUpdate, LoadError>>) {
        if !self.watches() {
            return;
        }
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<()>();
        let relevant = Arc::new(Mutex::new(Relevant::default()));
        let filter = relevant.clone();
        let mut watcher = match notify::recommended_watcher(
            move |res: notify::Result<notify::Event>| {
                let Ok(event) = res else { return };
                // Reading a file (ours, or the control plane's certificate loads) is an
                // access event: never a change, and reacting to it would loop.
                if matches!(event.kind, notify::EventKind::Access(_)) {
                    return;
                }
                let matters = filter
                    .lock()
                    .map(|r| event.paths.iter().any(|p| r.matches(p)))
                    .unwrap_or(true);
                if matters {
                    // The receiver only needs to know that something changed.
                    let _ignored = ev_tx.send(());
                }
            },
        ) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "file provider: cannot create a file watcher; changes will not be picked up");
                return;
            }
        };
        // Watch the directory: editors replace files by rename, which breaks a watch on the file.
        let (watch_path, mode) = match &self.config {
            FileProviderConfig::File { path, .. } => (
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf(),
                RecursiveMode::NonRecursive,
            ),
            FileProviderConfig::Directory { path, .. } => (path.clone(), RecursiveMode::Recursive),
        };
        let watch_path = std::fs::canonicalize(&watch_path).unwrap_or(watch_path);
        if let Err(e) = watcher.watch(&watch_path, mode) {
            tracing::error!(path = %watch_path.display(), error = %e, "file provider: cannot watch; changes will not be picked up");
            return;
        }
        if let Ok(mut r) = relevant.lock() {
            match &self.config {
                FileProviderConfig::File { path, .. } => {
                    r.config_file = path.file_name().map(|name| watch_path.join(name));
                }
                FileProviderConfig::Directory { .. } => r.config_dir = Some(watch_path.clone()),
            }
        }
        let mut watched_dirs: HashSet<PathBuf> = HashSet::from([watch_path.clone()]);
        // The certificate, key and CA files the configuration names are watched too: a
        // renewed certificate is served at the next handshake.
        let mut follow_tls = |raw: &RawDynamicConfig, watcher: &mut notify::RecommendedWatcher| {
            let files = tls_files(raw);
            for file in &files {
                if let Some(dir) = file.parent() {
                    if watched_dirs.insert(dir.to_path_buf()) {
                        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                            tracing::warn!(path = %dir.display(), error = %e, "file provider: cannot watch a TLS file's directory; its changes need a configuration change to be picked up");
                        }
                    }
                }
            }
            if let Ok(mut r) = relevant.lock() {
                r.tls_files = files;
            }
        };
        if let Ok(first) = self.load(true) {
            follow_tls(&first.raw, &mut watcher);
        }
        tracing::info!(path = %self.root().display(), "file provider: watching");

        let mut empty_since: Option<Instant> = None;
        let mut last_applied: Option<Instant> = None;
        loop {
            // Wait for a change (or for the re-check of an emptied file).
            let recheck = empty_since.map(|_| Instant::now() + Duration::from_millis(100));
            tokio::select! {
                ev = ev_rx.recv() => if ev.is_none() { return },
                () = async { match recheck { Some(t) => sleep_until(t).await, None => std::future::pending().await } } => {}
            }
            // Let the burst settle.
            loop {
                tokio::select! {
                    ev = ev_rx.recv() => if ev.is_none() { return },
                    () = tokio::time::sleep(SETTLE) => break,
                }
            }
            if let (Some(throttle), Some(last)) = (self.throttle, last_applied) {
                let next = last + throttle;
                if Instant::now() < next {
                    sleep_until(next).await;
                    while ev_rx.try_recv().is_ok() {}
                }
            }
            let allow_empty = empty_since.is_some_and(|t| t.elapsed() >= EMPTY_GRACE);
            let result = self.load(allow_empty);
            match &result {
                Err(LoadError::Empty { path }) => {
                    if empty_since.is_none() {
                        tracing::debug!(path = %path.display(), "file provider: file is empty, waiting for its content");
                        empty_since = Some(Instant::now());
                    }
                    continue;
                }
                _ => empty_since = None,
            }
            last_applied = Some(Instant::now());
            if let Ok(update) = &result {
                follow_tls(&update.raw, &mut watcher);
            }
            if tx.send(result).await.is_err() {
                return;
            }
        }
    }
}

/// Which changed paths matter to the provider.
#[derive(Debug, Default)]
struct Relevant {
    /// The one configuration file (in its canonical directory).
    config_file: Option<PathBuf>,
    /// Anything under the configuration directory.
    config_dir: Option<PathBuf>,
    tls_files: HashSet<PathBuf>,
}

impl Relevant {
    fn matches(&self, path: &Path) -> bool {
        self.config_file.as_deref() == Some(path)
            || self
                .config_dir
                .as_deref()
                .is_some_and(|d| path.starts_with(d))
            || self.tls_files.contains(path)
    }
}

/// The TLS files a configuration names, by canonical directory (as events name them).
fn tls_files(raw: &RawDynamicConfig) -> HashSet<PathBuf> {
    let tls = &raw.tls;
    let certificates = tls.certificates.iter().chain(&tls.default_certificate);
    let sources = certificates
        .flat_map(|c| [&c.cert, &c.key])
        .chain(tls.options.values().flat_map(|o| &o.client_auth.ca_files));
    sources
        .filter_map(|s| match s {
            PemSource::File(path) => {
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let dir = std::fs::canonicalize(dir).ok()?;
                Some(dir.join(path.file_name()?))
            }
            PemSource::Inline(_) => None,
        })
        .collect()
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Read {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue; // editor swap files, hidden files
        }
        if path.is_dir() {
            collect_dir(&path, files)?;
            continue;
        }
        if let Some("yml" | "yaml" | "toml") = path.extension().and_then(|e| e.to_str()) {
            files.push(path);
        }
    }
    Ok(())
}

fn merge(into: &mut RawDynamicConfig, from: RawDynamicConfig, issues: &mut Vec<ConfigIssue>) {
    merge_map(
        &mut into.routers,
        from.routers,
        "router",
        |r| &r.origin,
        issues,
    );
    merge_map(
        &mut into.services,
        from.services,
        "service",
        RawService::origin,
        issues,
    );
    merge_map(
        &mut into.middlewares,
        from.middlewares,
        "middleware",
        |m| &m.origin,
        issues,
    );
    for (name, body) in from.servers_transports {
        match into.servers_transports.entry(name) {
            std::collections::btree_map::Entry::Occupied(e) => issues.push(ConfigIssue::error(
                body.origin.clone(),
                format!(
                    "servers transport `{}` is defined in two files; this definition is ignored",
                    e.key()
                ),
            )),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(body);
            }
        }
    }
    into.tls.certificates.extend(from.tls.certificates);
    if into.tls.default_certificate.is_none() {
        into.tls.default_certificate = from.tls.default_certificate;
    }
    if into.tls.default_generated.is_none() {
        into.tls.default_generated = from.tls.default_generated;
    }
    merge_map(
        &mut into.tls.options,
        from.tls.options,
        "TLS options",
        |o| &o.origin,
        issues,
    );
}

/// Adds `from` to `into`; a name already defined by an earlier file is reported and skipped.
fn merge_map<T>(
    into: &mut BTreeMap<String, T>,
    from: BTreeMap<String, T>,
    kind: &str,
    origin: impl Fn(&T) -> &Origin,
    issues: &mut Vec<ConfigIssue>,
) {
    for (name, item) in from {
        match into.entry(name) {
            Entry::Vacant(slot) => {
                slot.insert(item);
            }
            Entry::Occupied(slot) => issues.push(
                ConfigIssue::error(
                    origin(&item).clone(),
                    format!(
                        "{kind} `{}` is defined in several files; this definition is ignored",
                        slot.key()
                    ),
                )
                .with_hint("give each definition a unique name"),
            ),
        }
    }
}

/// Reads and decodes `files` as one file provider's configuration (in this order), after
/// `issues` found on the way to them. `wharf check --compose` gives the host files behind a
/// container's Docker configs this way.
pub fn load_paths(
    files: Vec<PathBuf>,
    mut issues: Vec<ConfigIssue>,
    allow_empty: bool,
) -> Result<ProviderUpdate, LoadError> {
    contained("file", || {
        let mut merged = RawDynamicConfig::default();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|e| LoadError::Read {
                path: path.clone(),
                message: e.to_string(),
            })?;
            if text.trim().is_empty() {
                if allow_empty {
                    continue;
                }
                return Err(LoadError::Empty { path });
            }
            let root = wharf_config::parse_document(&text, &path)?;
            let (raw, file_issues) = decode_dynamic(&root);
            issues.extend(file_issues);
            merge(&mut merged, raw, &mut issues);
        }
        Ok(ProviderUpdate {
            provider: FileProvider::provider_name(),
            raw: merged,
            issues,
        })
    })?
}
