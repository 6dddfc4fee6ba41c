//! `serversTransports`: how wharf connects to a service's servers (TLS to the backend, mutual
//! TLS, timeouts, HTTP/2).

use std::time::Duration;

use crate::ids::QualifiedName;
use crate::origin::Origin;
use crate::tls::{CertificateSpec, PemSource};

/// The transport every service uses unless it names another (the static `serversTransport`).
pub const DEFAULT_TRANSPORT: &str = "default@internal";

/// `forwardingTimeouts`, Traefik's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardingTimeouts {
    pub dial: Duration,
    /// Zero: none. Exceeded: 504.
    pub response_header: Duration,
    pub idle_conn: Duration,
    /// HTTP/2: a ping after this long without a frame (zero: none).
    pub read_idle: Duration,
    pub ping: Duration,
}

impl Default for ForwardingTimeouts {
    fn default() -> Self {
        ForwardingTimeouts {
            dial: Duration::from_secs(30),
            response_header: Duration::ZERO,
            idle_conn: Duration::from_secs(90),
            read_idle: Duration::ZERO,
            ping: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServersTransportSpec {
    pub name: QualifiedName,
    /// SNI and the name the backend's certificate must carry (default: the server's host).
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    /// CAs trusted for backends (none: the system's).
    pub root_cas: Vec<PemSource>,
    /// The client certificate presented to backends (mutual TLS); Traefik uses the first.
    pub certificates: Vec<CertificateSpec>,
    /// Negative in Traefik: no idle connection kept (pooling off).
    pub max_idle_conns_per_host: i64,
    pub disable_http2: bool,
    pub timeouts: ForwardingTimeouts,
    pub origin: Origin,
}

impl ServersTransportSpec {
    /// Traefik's defaults.
    pub fn new(name: QualifiedName, origin: Origin) -> Self {
        ServersTransportSpec {
            name,
            server_name: None,
            insecure_skip_verify: false,
            root_cas: Vec::new(),
            certificates: Vec::new(),
            max_idle_conns_per_host: 200,
            disable_http2: false,
            timeouts: ForwardingTimeouts::default(),
            origin,
        }
    }
}
