//! The validated dynamic configuration: every reference resolved, every rule parsed.

use std::collections::BTreeMap;

use wharf_rule::Expr;

use crate::ids::{ProviderName, QualifiedName};
use crate::origin::Origin;

#[derive(Debug, Clone, Default)]
pub struct DynamicConfig {
    pub routers: BTreeMap<QualifiedName, RouterSpec>,
    pub services: BTreeMap<QualifiedName, crate::ServiceSpec>,
    /// weighted, mirroring, failover and highestRandomWeight services (children valid, no
    /// cycles).
    pub composites: BTreeMap<QualifiedName, crate::CompositeSpec>,
    pub middlewares: BTreeMap<QualifiedName, crate::MiddlewareSpec>,
    pub tls: crate::TlsConfig,
    /// Routers dropped because their TLS options do not exist: as in Traefik, handshakes for
    /// their hosts are refused rather than served with other options.
    pub tls_refused: Vec<RefusedTlsRouter>,
}

#[derive(Debug, Clone)]
pub struct RefusedTlsRouter {
    pub entry_points: Vec<String>,
    pub rule: Expr,
    /// The missing options' name.
    pub options: String,
}

#[derive(Debug, Clone)]
pub struct RouterSpec {
    pub name: QualifiedName,
    pub provider: ProviderName,
    /// Filled in: the router's own list, or every default entrypoint.
    pub entry_points: Vec<String>,
    pub rule_source: String,
    pub rule: Expr,
    pub priority: i64,
    pub service: QualifiedName,
    pub middlewares: Vec<QualifiedName>,
    /// `tls` present on the router (or on its entrypoint): it only serves TLS connections.
    pub tls: Option<crate::RouterTls>,
    /// `observability`: which signals this router's requests produce.
    pub observability: RouterObservability,
    pub origin: Origin,
}

/// A router's `observability` switches (all on by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterObservability {
    pub access_logs: bool,
    pub metrics: bool,
}

impl Default for RouterObservability {
    fn default() -> Self {
        RouterObservability {
            access_logs: true,
            metrics: true,
        }
    }
}
