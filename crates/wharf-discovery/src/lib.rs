//! Providers: they watch a source of dynamic configuration and send [`ProviderUpdate`]s.
//!
//! The file provider watches YAML files; the Docker and Swarm providers follow the engine; the
//! Redis provider follows keys under a root, in Traefik's layout. A provider never
//! validates references (that needs every provider's config): it only decodes its own source
//! into a `RawDynamicConfig` with origins.

mod contain;
pub mod docker;
mod file;
mod reconnect;
mod redis;

pub use contain::panic_message;
pub use docker::{DockerProvider, SwarmProvider};
pub use file::{load_paths, FileProvider, LoadError};
pub use redis::{RedisProvider, RedisProviderError, POLL_WITHOUT_NOTIFICATIONS};

use wharf_config::RawDynamicConfig;
use wharf_model::{ConfigIssue, ProviderName};

/// One provider's complete, latest configuration.
#[derive(Debug, Clone)]
pub struct ProviderUpdate {
    pub provider: ProviderName,
    pub raw: RawDynamicConfig,
    /// Problems found while decoding (the items they name are already dropped).
    pub issues: Vec<ConfigIssue>,
}
