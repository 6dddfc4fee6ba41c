//! `serversTransports`: how wharf connects to a service's servers (TLS to the backend, mutual
//! TLS, timeouts, HTTP/2).

use std::time::Duration;

use crate::ids::QualifiedName;
use crate::origin::Origin;
use crate::tls::{CertificateSpec, CipherSuite, PemSource, TlsVersion};

/// The transport every service uses unless it names another (the static `serversTransport`).
pub const DEFAULT_TRANSPORT: &str = "default@internal";

/// How long pingora 0.9's HTTP/2 client waits for a PING answer (a constant there): a
/// `pingTimeout` of this much is left to pingora's pinger.
pub const PINGORA_PING_WAIT: Duration = Duration::from_secs(5);

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
    /// TLS versions offered to backends (TLS 1.2 and 1.3 by default).
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// TLS 1.2 suites offered (empty: the defaults); TLS 1.3 suites are always on, as in Go.
    pub cipher_suites: Vec<CipherSuite>,
    /// A URI the backend certificate's SANs must carry (Traefik's `peerCertURI`).
    pub peer_cert_uri: Option<String>,
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
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            cipher_suites: Vec::new(),
            peer_cert_uri: None,
            origin,
        }
    }

    /// Whether TLS to the backends needs options beyond pingora's connector (versions,
    /// suites, a SAN URI check): wharf's own TLS client then connects.
    pub fn custom_tls(&self) -> bool {
        self.min_version != TlsVersion::Tls12
            || self.max_version != TlsVersion::Tls13
            || !self.cipher_suites.is_empty()
            || self.peer_cert_uri.is_some()
    }
}
