//! The validated static configuration (Traefik's `traefik.yml` / flags / `TRAEFIK_*`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::origin::Origin;

#[derive(Debug, Clone, PartialEq)]
pub struct StaticConfig {
    /// `serversTransport`: the `default@internal` transport.
    pub servers_transport: crate::ServersTransportSpec,
    /// By name. Always at least one (Traefik creates `http` on `:80` when none is defined).
    pub entry_points: BTreeMap<String, EntryPoint>,
    pub providers: ProvidersConfig,
    pub api: Option<ApiConfig>,
    pub ping: Option<PingConfig>,
    pub metrics: Option<PrometheusConfig>,
    pub log: LogConfig,
    pub access_log: Option<AccessLogConfig>,
    /// `certificatesResolvers`, by name.
    pub cert_resolvers: BTreeMap<String, CertResolverConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntryPoint {
    pub name: String,
    pub address: SocketAddr,
    pub origin: Origin,
    pub as_default: bool,
    pub redirect: Option<EntryPointRedirect>,
    /// `http.middlewares`: qualified names, prepended to every router on this entrypoint.
    pub middlewares: Vec<String>,
    pub forwarded_headers: ForwardedHeaders,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub idle_timeout: Duration,
    pub grace_timeout: Duration,
    /// `lifeCycle.requestAcceptGraceTimeout`: how long requests are still accepted after
    /// SIGTERM (`/ping` answering 503 meanwhile), before draining.
    pub request_accept_grace_timeout: Duration,
    /// `http.maxHeaderBytes`: the request line and headers together.
    pub max_header_bytes: usize,
    /// `http.underscoreHeadersStrategy`.
    pub underscore_headers: UnderscoreHeaders,
    /// `http.tls`: every router of this entrypoint is a TLS router (options as written).
    pub tls: Option<crate::RouterTls>,
    /// `http2.maxConcurrentStreams` (Traefik's default 250).
    pub http2_max_concurrent_streams: u32,
}

/// What an entrypoint does with request headers whose name has an underscore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnderscoreHeaders {
    #[default]
    Keep,
    Delete,
    /// 400 Bad Request.
    Reject,
}

/// Traefik's (Go's) default `http.maxHeaderBytes`.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 1 << 20;

/// `http.redirections.entryPoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPointRedirect {
    /// The target entrypoint's name, or `:port` as written.
    pub to: String,
    /// The port put in `Location` (resolved from the target entrypoint).
    pub port: u16,
    pub scheme: String,
    pub permanent: bool,
    pub priority: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForwardedHeaders {
    /// Trust every peer.
    pub insecure: bool,
    /// Peers whose X-Forwarded-* headers are kept.
    pub trusted_ips: Vec<ipnet::IpNet>,
    /// `connection`: header names (lower case) a client's `Connection` may nominate that
    /// still reach the middlewares.
    pub connection: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProvidersConfig {
    /// An explicit `providersThrottleDuration`; unset, wharf applies a change as soon as its
    /// burst of events settles (milliseconds) instead of Traefik's 2 s.
    pub throttle: Option<Duration>,
    pub file: Option<FileProviderConfig>,
    pub docker: Option<DockerProviderConfig>,
    pub swarm: Option<SwarmProviderConfig>,
    pub redis: Option<RedisProviderConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProviderConfig {
    File { path: PathBuf, watch: bool },
    Directory { path: PathBuf, watch: bool },
}

/// `providers.swarm`: the Docker provider's options (labels under `deploy.labels`, read from
/// Swarm services) and the polling interval Traefik refreshes at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmProviderConfig {
    /// endpoint, exposedByDefault, network, defaultRule, constraints, watch, allowEmptyServices.
    pub shared: DockerProviderConfig,
    /// `refreshSeconds` (Traefik: 15 s, its only way to see changes). wharf follows the
    /// engine's events and lists again at this interval as well, for tasks on other nodes.
    pub refresh: std::time::Duration,
}

impl Default for SwarmProviderConfig {
    fn default() -> Self {
        SwarmProviderConfig {
            shared: DockerProviderConfig::default(),
            refresh: std::time::Duration::from_secs(15),
        }
    }
}

/// How to reach one Redis server (the Redis provider; later the `rateLimit.redis` and ACME
/// stores share it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConnection {
    /// `host:port` (Traefik accepts one endpoint without Sentinel); with `sentinel`, the
    /// first Sentinel.
    pub endpoint: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
    /// `tls`: the connection is TLS (None: plain TCP).
    pub tls: Option<RedisTls>,
    /// `sentinel`: `endpoint` and `sentinels` are Redis Sentinels, asked for the primary.
    pub sentinel: Option<RedisSentinel>,
}

/// A Redis client's `sentinel` section: the primary is the one the Sentinels name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedisSentinel {
    /// `masterName`.
    pub master_name: String,
    /// Every Sentinel, `host:port` (the connection's `endpoint` is the first).
    pub sentinels: Vec<String>,
    /// The Sentinels' own credentials.
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Default for RedisConnection {
    /// Traefik's defaults.
    fn default() -> Self {
        RedisConnection {
            endpoint: "127.0.0.1:6379".into(),
            username: None,
            password: None,
            db: 0,
            tls: None,
            sentinel: None,
        }
    }
}

/// A Redis client's `tls` section (Traefik's `ca`, `cert`, `key`, `insecureSkipVerify`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedisTls {
    /// PEM file of the CAs the server's certificate must lead to (None: the system's).
    pub ca: Option<PathBuf>,
    /// PEM files of a client certificate and its key, when the server asks for one.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub insecure_skip_verify: bool,
}

/// `providers.redis`: dynamic configuration stored under `rootKey`, in Traefik's key layout
/// (`traefik/http/routers/<name>/rule`, lists as `.../entryPoints/0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisProviderConfig {
    pub connection: RedisConnection,
    pub root_key: String,
}

impl Default for RedisProviderConfig {
    fn default() -> Self {
        RedisProviderConfig {
            connection: RedisConnection::default(),
            root_key: "traefik".into(),
        }
    }
}

/// `providers.docker`: validated now, used by the Docker provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerProviderConfig {
    pub endpoint: String,
    pub exposed_by_default: bool,
    pub network: Option<String>,
    pub default_rule: String,
    pub constraints: Option<String>,
    pub watch: bool,
    pub use_bind_port_ip: bool,
    pub allow_empty_services: Option<bool>,
}

impl Default for DockerProviderConfig {
    /// Traefik's defaults.
    fn default() -> Self {
        DockerProviderConfig {
            endpoint: "unix:///var/run/docker.sock".into(),
            exposed_by_default: true,
            network: None,
            default_rule: "Host(`{{ normalize .Name }}`)".into(),
            constraints: None,
            watch: true,
            use_bind_port_ip: false,
            allow_empty_services: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    pub insecure: bool,
    pub dashboard: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingConfig {
    pub entry_point: String,
    pub manual_routing: bool,
    pub terminating_status_code: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusConfig {
    pub entry_point: String,
    pub buckets: Vec<f64>,
    pub add_entry_points_labels: bool,
    pub add_routers_labels: bool,
    pub add_services_labels: bool,
    pub manual_routing: bool,
    /// `headerLabels`: (label, request header), as written.
    pub header_labels: Vec<(String, String)>,
    /// `metrics.addInternals`: requests to `@internal` services are counted too.
    pub add_internals: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// TRACE, DEBUG, INFO, WARN, ERROR (FATAL and PANIC map to ERROR).
    pub level: String,
    /// `common` or `json`.
    pub format: String,
    /// `log.filePath` (None: stdout).
    pub file_path: Option<PathBuf>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "ERROR".into(),
            format: "common".into(),
            file_path: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogConfig {
    /// None: stdout.
    pub file_path: Option<PathBuf>,
    pub format: AccessLogFormat,
    /// `bufferingSize`: lines that may wait for the writer (0: Traefik writes each line as the
    /// request ends; wharf still writes off the request path, with a small queue).
    pub buffering_size: u64,
    pub filters: AccessLogFilters,
    pub fields: AccessLogFields,
    /// `addInternals`: requests to `@internal` services are logged too.
    pub add_internals: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// Traefik's common log format (CLF plus request count, router, server URL, duration).
    Common,
    GenericClf,
    Json,
}

/// `accessLog.filters`: with none set every request is logged; otherwise a request is logged
/// when any set filter keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessLogFilters {
    /// Inclusive ranges.
    pub status_codes: Vec<(u16, u16)>,
    pub retry_attempts: bool,
    /// Zero: unset.
    pub min_duration: Duration,
}

/// What becomes of a header in the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    Keep,
    Drop,
    Redact,
}

/// `accessLog.fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogFields {
    /// `defaultMode` (keep).
    pub keep_by_default: bool,
    /// `names`: field (lower case) -> keep.
    pub names: Vec<(String, bool)>,
    /// `headers.defaultMode` (drop).
    pub headers_default: HeaderMode,
    /// `headers.names`: header (lower case) -> mode.
    pub headers: Vec<(String, HeaderMode)>,
    /// `queryParameters.defaultMode` (keep).
    pub keep_query: bool,
}

impl Default for AccessLogFields {
    fn default() -> Self {
        AccessLogFields {
            keep_by_default: true,
            names: Vec::new(),
            headers_default: HeaderMode::Drop,
            headers: Vec::new(),
            keep_query: true,
        }
    }
}

impl ForwardedHeaders {
    /// Whether X-Forwarded-* headers from this peer are kept.
    pub fn trusts(&self, peer: Option<IpAddr>) -> bool {
        if self.insecure {
            return true;
        }
        let Some(ip) = peer else { return false };
        let ip = ip.to_canonical();
        self.trusted_ips.iter().any(|net| net.contains(&ip))
    }
}

/// `certificatesResolvers.<name>` (an ACME resolver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertResolverConfig {
    pub name: String,
    pub acme: AcmeConfig,
    pub origin: Origin,
}

/// The key type of ACME certificates (`keyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcmeKeyType {
    Ec256,
    Ec384,
    Rsa2048,
    Rsa3072,
    Rsa4096,
    Rsa8192,
}

/// Where a shared ACME storage document lives in Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeRedisStorage {
    pub connection: RedisConnection,
    /// The document's key (`wharf/acme.json` unless `?key=` says otherwise); the lease, the
    /// challenges and the instances' heartbeats use keys beginning with it.
    pub key: String,
}

/// Let's Encrypt's production directory, Traefik's default `caServer`.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeConfig {
    pub email: String,
    pub ca_server: String,
    /// `acme.json` by default (Traefik's file format).
    pub storage: PathBuf,
    /// `storage: redis://...` (a wharf extension): the same document kept in Redis instead,
    /// shared by every instance; one of them at a time orders and renews. `storage` is then
    /// unused.
    pub redis_storage: Option<AcmeRedisStorage>,
    pub key_type: AcmeKeyType,
    /// `certificatesDuration` (hours in Traefik): how long the CA's certificates last.
    pub certificates_duration: Duration,
    pub preferred_chain: Option<String>,
    pub profile: Option<String>,
    /// External account binding: (kid, HMAC key in base64url).
    pub eab: Option<(String, String)>,
    /// `httpChallenge.entryPoint`.
    pub http_challenge: Option<String>,
    /// `tlsChallenge: {}` (TLS-ALPN-01).
    pub tls_challenge: bool,
    /// `caCertificates`: PEM files of CAs trusted for the ACME server's HTTPS (e.g. a test CA).
    pub ca_certificates: Vec<PathBuf>,
}
