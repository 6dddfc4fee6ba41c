//! Provider-qualified names (`web@docker`, `secure-headers@file`).

use std::fmt;
use std::sync::Arc;

/// The provider a dynamic item comes from: `file`, `docker`, `internal`, ...
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderName(pub Arc<str>);

impl ProviderName {
    pub fn new(name: &str) -> Self {
        ProviderName(Arc::from(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Traefik's `providers.precedence`: lower ranks win ties between equal priorities.
    pub fn precedence_rank(&self) -> u32 {
        match self.as_str() {
            "internal" => 0,
            "swarm" => 5,
            "docker" => 6,
            "file" => 7,
            "redis" => 8,
            _ => 100,
        }
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `name@provider`. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedName(Arc<str>);

impl QualifiedName {
    pub fn new(name: &str, provider: &ProviderName) -> Self {
        QualifiedName(Arc::from(format!("{name}@{provider}")))
    }

    /// Qualifies a reference: `x@p` stays as written, a bare `x` takes `default_provider`.
    pub fn resolve(reference: &str, default_provider: &ProviderName) -> Self {
        if reference.contains('@') {
            QualifiedName(Arc::from(reference))
        } else {
            Self::new(reference, default_provider)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a shared string (no copy: for what outlives the configuration).
    pub fn shared(&self) -> Arc<str> {
        self.0.clone()
    }

    pub fn name(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(n, _)| n)
    }

    pub fn provider(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, p)| p)
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
