//! Traefik's `@internal` services, which a user router may name (`service: api@internal`).

use crate::{QualifiedName, StaticConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InternalService {
    /// `api@internal`: the API (and, under `/dashboard`, the dashboard).
    Api,
    /// `dashboard@internal`: the dashboard.
    Dashboard,
    /// `ping@internal`.
    Ping,
    /// `prometheus@internal`: the metrics scrape.
    Prometheus,
    /// `noop@internal`: answers nothing useful (a router that only redirects).
    Noop,
}

impl InternalService {
    /// The internal service `name` refers to, if it is one.
    pub fn from_name(name: &QualifiedName) -> Option<InternalService> {
        if name.provider() != "internal" {
            return None;
        }
        Some(match name.name() {
            "api" => InternalService::Api,
            "dashboard" => InternalService::Dashboard,
            "ping" => InternalService::Ping,
            "prometheus" => InternalService::Prometheus,
            "noop" => InternalService::Noop,
            _ => return None,
        })
    }

    /// Why the static configuration does not provide it, if it does not.
    pub fn unavailable(self, statics: &StaticConfig) -> Option<&'static str> {
        match self {
            InternalService::Api if statics.api.is_none() => {
                Some("enable `api` in the static configuration")
            }
            InternalService::Dashboard if !statics.api.as_ref().is_some_and(|a| a.dashboard) => {
                Some("enable `api` (with `api.dashboard`, the default) in the static configuration")
            }
            InternalService::Ping if statics.ping.is_none() => {
                Some("enable `ping` in the static configuration")
            }
            InternalService::Prometheus if statics.metrics.is_none() => {
                Some("enable `metrics.prometheus` in the static configuration")
            }
            _ => None,
        }
    }
}
