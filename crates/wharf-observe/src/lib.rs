//! Observability: Traefik 3.7's Prometheus metrics (and wharf's own), counted lock-free on
//! the request path and rendered at a scrape; Traefik's access log, formatted and written by
//! a thread of its own.

pub mod access_log;
mod exposition;
mod labels;
mod metrics;
mod series;
mod table;

pub use labels::{Method, Protocol, RequestKey, TlsKey};
pub use metrics::{
    CertGauge, ControlProbe, EntryPointMetrics, Metrics, MetricsSettings, OpenConnection,
    ProviderState, Round, UpProbe,
};
pub use series::{HeaderLabels, Observation, RequestSeries, MAX_HEADER_LABEL_SETS};
