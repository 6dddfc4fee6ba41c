//! Validated domain types shared by every stage: where a setting came from ([`Origin`]), what
//! is wrong with it ([`ConfigIssue`]), provider-qualified ids, and the validated static
//! ([`StaticConfig`]) and dynamic ([`DynamicConfig`]) configuration.
//!
//! No I/O, no async, no file formats: the config crate produces these values, the router
//! compiles them, and nothing on the request path reads them.

mod composite;
mod duration;
mod dynamic;
pub mod fuzz_logic;
mod ids;
mod internal;
mod ip_text;
mod issue;
mod middleware;
mod origin;
mod service;
mod static_config;
mod tls;
mod transport;

pub use composite::{CompositeKind, CompositeSpec, WeightedChild};
pub use duration::{format_go_duration, parse_go_duration};
pub use dynamic::{DynamicConfig, RefusedTlsRouter, RouterObservability, RouterSpec};
pub use ids::{ProviderName, QualifiedName};
pub use internal::InternalService;
pub use ip_text::IpText;
pub use issue::{ConfigIssue, Severity};
pub use middleware::{
    CertInfoSpec, CircuitBreakerSpec, CompressSpec, CorsSpec, DistinguishedNameSpec, ErrorsSpec,
    ForwardAuthSpec, HeadersSpec, MiddlewareKind, MiddlewareSpec, PassTlsClientCertSpec,
    RateLimitRedis, RetrySpec, SourceCriterion,
};
pub use origin::Origin;
pub use service::{
    uri_host_port, HealthCheckMode, HealthCheckSpec, PassiveHealthCheckSpec, SameSite, ServerSpec,
    ServiceSpec, StickyCookieSpec, Strategy, UpstreamScheme,
};
pub use static_config::{
    AccessLogConfig, AccessLogFields, AccessLogFilters, AccessLogFormat, AcmeConfig, AcmeKeyType,
    AcmeRedisStorage, ApiConfig, CertResolverConfig, DockerProviderConfig, EntryPoint,
    EntryPointRedirect, FileProviderConfig, ForwardedHeaders, HeaderMode, LogConfig, PingConfig,
    PrometheusConfig, ProvidersConfig, RedisConnection, RedisProviderConfig, RedisSentinel,
    RedisTls, StaticConfig, SwarmProviderConfig, UnderscoreHeaders, DEFAULT_MAX_HEADER_BYTES,
    LETS_ENCRYPT,
};
pub use tls::{
    qualify_tls_options, CertificateSpec, CipherSuite, ClientAuthSpec, ClientAuthType, Curve,
    GeneratedCertSpec, PemSource, RouterTls, TlsConfig, TlsDomain, TlsOptionsSpec, TlsVersion,
    DEFAULT_TLS_OPTIONS,
};
pub use transport::{
    ForwardingTimeouts, ServersTransportSpec, DEFAULT_TRANSPORT, PINGORA_PING_WAIT,
};

/// Go's canonical header spelling (`x-real-ip` -> `X-Real-Ip`), which Traefik's output
/// (headers it writes, access-log field names) and regexes see.
pub fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for ch in name.chars() {
        out.push(if upper {
            ch.to_ascii_uppercase()
        } else {
            ch.to_ascii_lowercase()
        });
        upper = ch == '-';
    }
    out
}
