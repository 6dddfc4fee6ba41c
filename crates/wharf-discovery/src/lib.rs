//! Providers: they watch a source of dynamic configuration and send [`ProviderUpdate`]s.
//!
//! The file provider watches YAML files; the Docker provider follows the engine. A provider never
//! validates references (that needs every provider's config): it only decodes its own source
//! into a `RawDynamicConfig` with origins.

mod contain;
pub mod docker;
mod file;

pub use contain::panic_message;
pub use docker::DockerProvider;
pub use file::{load_paths, FileProvider, LoadError};

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
