//! Validated services: a load balancer's servers and its options (strategy, health checks,
//! sticky cookie, transport).

use std::time::Duration;

use crate::ids::QualifiedName;
use crate::origin::Origin;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamScheme {
    Http,
    Https,
    H2c,
}

impl UpstreamScheme {
    /// `http`, `https` or `h2c`.
    pub fn from_name(name: &str) -> Option<UpstreamScheme> {
        match name {
            "http" => Some(UpstreamScheme::Http),
            "https" => Some(UpstreamScheme::Https),
            "h2c" => Some(UpstreamScheme::H2c),
            _ => None,
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            UpstreamScheme::Https => 443,
            UpstreamScheme::Http | UpstreamScheme::H2c => 80,
        }
    }
}

/// A URI's host (IPv6 brackets removed) and port (the scheme's default when absent), or None
/// without a host.
pub fn uri_host_port(uri: &http::Uri, scheme: UpstreamScheme) -> Option<(String, u16)> {
    let host = uri.host().filter(|h| !h.is_empty())?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Some((host, uri.port_u16().unwrap_or(scheme.default_port())))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSpec {
    /// As written, e.g. `http://10.0.0.3:8080` (it names the server in the API and metrics).
    pub url: String,
    pub scheme: UpstreamScheme,
    pub host: String,
    pub port: u16,
    /// Zero: the server is never picked (Traefik ignores non-positive weights).
    pub weight: u32,
    /// The URL's path (without a trailing `/`), prefixed to the request path when
    /// `preservePath` is set; empty otherwise.
    pub path_prefix: String,
}

/// `loadBalancer.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// Weighted round robin, earliest deadline first.
    #[default]
    Wrr,
    /// Power of two random choices, fewer requests in flight wins.
    P2c,
    /// Highest random weight of the client IP: a client stays on one server.
    Hrw,
    /// Lowest average time to first byte, in-flight requests as a tie-break.
    LeastTime,
}

impl Strategy {
    pub const NAMES: &'static [&'static str] = &["wrr", "p2c", "hrw", "leasttime"];

    pub fn parse(s: &str) -> Option<Strategy> {
        match s.to_ascii_lowercase().as_str() {
            "wrr" => Some(Strategy::Wrr),
            "p2c" => Some(Strategy::P2c),
            "hrw" => Some(Strategy::Hrw),
            "leasttime" => Some(Strategy::LeastTime),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthCheckMode {
    Http,
    /// grpc.health.v1 `Check` over HTTP/2.
    Grpc,
}

/// `loadBalancer.healthCheck`, Traefik's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthCheckSpec {
    /// Relative, query included.
    pub path: String,
    pub method: String,
    /// Replaces the server's scheme (`http` or `https`).
    pub scheme: Option<UpstreamScheme>,
    /// Replaces the server's port.
    pub port: Option<u16>,
    /// The check's `Host`.
    pub hostname: Option<String>,
    pub headers: Vec<(String, String)>,
    /// None: any 2xx or 3xx is healthy.
    pub status: Option<u16>,
    pub interval: Duration,
    pub unhealthy_interval: Duration,
    pub timeout: Duration,
    pub follow_redirects: bool,
    pub mode: HealthCheckMode,
}

/// `loadBalancer.passiveHealthCheck`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PassiveHealthCheckSpec {
    pub failure_window: Duration,
    pub max_failed_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    None,
    Lax,
    Strict,
}

/// `sticky.cookie`, its name resolved (configured and sanitised, or Traefik's hashed default).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StickyCookieSpec {
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<SameSite>,
    /// Zero: no `Max-Age`; negative: `Max-Age=0` (delete), as Go writes it.
    pub max_age: i64,
    pub path: String,
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceSpec {
    pub name: QualifiedName,
    pub servers: Vec<ServerSpec>,
    pub pass_host_header: bool,
    pub strategy: Strategy,
    pub health_check: Option<HealthCheckSpec>,
    pub passive_health_check: Option<PassiveHealthCheckSpec>,
    pub sticky: Option<StickyCookieSpec>,
    /// `responseForwarding.flushInterval`; negative in Traefik (flush every write) is zero.
    pub flush_interval: Duration,
    /// How its servers are reached (resolved: `default@internal` unless it names one).
    pub transport: crate::ServersTransportSpec,
    pub origin: Origin,
}

impl ServiceSpec {
    /// A load balancer over `servers` with Traefik's defaults.
    pub fn new(name: QualifiedName, servers: Vec<ServerSpec>, origin: Origin) -> Self {
        ServiceSpec {
            name,
            servers,
            pass_host_header: true,
            strategy: Strategy::Wrr,
            health_check: None,
            passive_health_check: None,
            sticky: None,
            flush_interval: Duration::from_millis(100),
            transport: crate::ServersTransportSpec::new(
                QualifiedName::new("default", &crate::ProviderName::new("internal")),
                Origin::Default,
            ),
            origin,
        }
    }
}
