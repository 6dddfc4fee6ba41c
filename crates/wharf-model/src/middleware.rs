//! Validated middleware definitions, with Traefik's defaults applied.

use crate::ids::QualifiedName;
use crate::origin::Origin;

#[derive(Debug, Clone, PartialEq)]
pub struct MiddlewareSpec {
    pub name: QualifiedName,
    pub kind: MiddlewareKind,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MiddlewareKind {
    Headers(Box<HeadersSpec>),
    StripPrefix {
        prefixes: Vec<String>,
    },
    StripPrefixRegex {
        regexes: Vec<String>,
    },
    AddPrefix {
        prefix: String,
    },
    ReplacePath {
        path: String,
    },
    ReplacePathRegex {
        regex: String,
        replacement: String,
    },
    RedirectScheme {
        scheme: String,
        port: Option<String>,
        permanent: bool,
    },
    RedirectRegex {
        regex: String,
        replacement: String,
        permanent: bool,
    },
    ForwardAuth(Box<ForwardAuthSpec>),
    IpAllowList {
        /// IPs and CIDR ranges, validated.
        source_range: Vec<String>,
        /// `ipStrategy.depth`: take the n-th X-Forwarded-For entry from the right.
        depth: i64,
        /// `ipStrategy.excludedIPs`: skip these X-Forwarded-For entries, from the right.
        excluded_ips: Vec<String>,
        /// `ipStrategy.ipv6Subnet`: an IPv6 client stands for its whole subnet of this size.
        ipv6_subnet: Option<u8>,
        reject_status: u16,
    },
    RateLimit {
        average: i64,
        period_ms: u64,
        burst: i64,
        source: SourceCriterion,
        /// `redis`: the budget is kept in Redis, shared by every instance using it.
        redis: Option<Box<RateLimitRedis>>,
    },
    InFlightReq {
        amount: i64,
        source: SourceCriterion,
    },
    /// `encodedCharacters`: which percent-encoded characters a request path may contain
    /// (each false by default in the middleware).
    EncodedCharacters {
        slash: bool,
        back_slash: bool,
        null_character: bool,
        semicolon: bool,
        percent: bool,
        question_mark: bool,
        hash: bool,
    },
    /// `buffering`: body limits (0: none). The in-memory thresholds only decide where Traefik
    /// buffers; wharf streams, so they are accepted and have no effect.
    Buffering {
        max_request_body_bytes: i64,
        max_response_body_bytes: i64,
    },
    Retry(Box<RetrySpec>),
    BasicAuth {
        /// `name:hash` lines, from `users` and `usersFile`.
        users: Vec<String>,
        realm: String,
        remove_header: bool,
        header_field: Option<String>,
    },
    DigestAuth {
        /// `name:realm:md5(name:realm:password)` lines, from `users` and `usersFile`.
        users: Vec<String>,
        realm: String,
        remove_header: bool,
        header_field: Option<String>,
    },
    Compress(Box<CompressSpec>),
    Errors(Box<ErrorsSpec>),
    CircuitBreaker(Box<CircuitBreakerSpec>),
    /// `contentType`: accepted; Content-Type sniffing is not done (see the README).
    ContentType,
    /// `passTLSClientCert`: the client certificate chain as request headers.
    PassTlsClientCert(Box<PassTlsClientCertSpec>),
    /// `grpcWeb`: origins allowed to call (`*`: any).
    GrpcWeb {
        allow_origins: Vec<String>,
    },
    /// Flattened when routes are compiled.
    Chain {
        middlewares: Vec<QualifiedName>,
    },
}

/// `forwardAuth`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForwardAuthSpec {
    /// Used as-is (its path and query are kept).
    pub address: String,
    /// Tri-state, as in Traefik: unset, false and true build the auth request differently.
    pub trust_forward_header: Option<bool>,
    pub auth_response_headers: Vec<String>,
    pub auth_response_headers_regex: Option<String>,
    /// Empty: send every client header.
    pub auth_request_headers: Vec<String>,
    pub add_auth_cookies_to_response: Vec<String>,
    pub preserve_location_header: bool,
    pub preserve_request_method: bool,
    pub header_field: Option<String>,
    pub insecure_skip_verify: bool,
    /// Send the request body to the auth server too.
    pub forward_body: bool,
    /// With forwardBody: a larger body gets 401 (None: no limit).
    pub max_body_size: Option<u64>,
    /// A larger auth response body gets 401 (None: no limit).
    pub max_response_body_size: Option<u64>,
    /// When the auth server answers 401, the client is sent here (302) instead.
    pub auth_signin_url: Option<String>,
    /// `tls.ca`: the PEM certificates the auth server's certificate must chain to (instead of
    /// the system's).
    pub tls_ca: Option<String>,
    /// `tls.cert` and `tls.key`: the PEM client certificate (chain) and key wharf presents.
    pub tls_client: Option<(String, String)>,
}

/// `errors`: a page from another service replaces responses of some statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorsSpec {
    /// Inclusive status ranges that get the error page.
    pub status: Vec<(u16, u16)>,
    /// The service serving the pages.
    pub service: QualifiedName,
    /// The page's path and query; `{status}`, `{originalStatus}` and `{url}` are replaced.
    pub query: String,
    /// Inclusive ranges whose status the client gets as another code.
    pub status_rewrites: Vec<((u16, u16), u16)>,
    /// When not empty, the only request headers copied to the page request.
    pub error_request_headers: Vec<String>,
}

/// `retry`, with Traefik's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySpec {
    /// Total attempts, the first included.
    pub attempts: i64,
    /// The first backoff, doubled at each attempt.
    pub initial_interval_ms: u64,
    /// No new attempt after this long since the first (0: no limit).
    pub timeout_ms: u64,
    /// A larger request body is not resent.
    pub max_request_body_bytes: u64,
    /// Inclusive status ranges that are retried too (empty: only network errors).
    pub status: Vec<(u16, u16)>,
    pub disable_retry_on_network_error: bool,
    /// Resend POST, PATCH and LOCK too.
    pub retry_non_idempotent_method: bool,
}

/// `circuitBreaker`, with Traefik's defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreakerSpec {
    /// The condition that trips the breaker, parsed.
    pub expression: wharf_rule::BreakerExpr,
    /// How often the condition is evaluated (Traefik: 100ms).
    pub check_period_ms: u64,
    /// How long a tripped breaker answers alone (10s).
    pub fallback_ms: u64,
    /// How long traffic ramps back up afterwards (10s).
    pub recovery_ms: u64,
    /// What a tripped breaker answers (503).
    pub response_code: u16,
}

/// `compress`, with Traefik's defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressSpec {
    /// Media types never compressed (`application/grpc` always among them); each may carry
    /// parameters, which must then match too.
    pub excluded_content_types: Vec<String>,
    /// When set, only these media types are compressed (exclusive with the excluded list).
    pub included_content_types: Vec<String>,
    /// Smaller responses go out uncompressed.
    pub min_response_body_bytes: u64,
    /// Used when the request has no Accept-Encoding, and for `*`.
    pub default_encoding: Option<String>,
    /// `gzip`, `br`, `zstd`, in the server's order of preference.
    pub encodings: Vec<String>,
}

impl Default for CompressSpec {
    fn default() -> Self {
        CompressSpec {
            excluded_content_types: vec!["application/grpc".into()],
            included_content_types: Vec::new(),
            min_response_body_bytes: 1024,
            default_encoding: None,
            encodings: vec!["gzip".into(), "br".into(), "zstd".into()],
        }
    }
}

/// `headers`: security headers, custom headers, and CORS.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeadersSpec {
    /// Empty value: remove the header.
    pub custom_request_headers: Vec<(String, String)>,
    pub custom_response_headers: Vec<(String, String)>,
    pub frame_deny: bool,
    pub custom_frame_options_value: Option<String>,
    pub content_type_nosniff: bool,
    pub browser_xss_filter: bool,
    pub custom_browser_xss_value: Option<String>,
    pub sts_seconds: i64,
    pub sts_include_subdomains: bool,
    pub sts_preload: bool,
    pub force_sts_header: bool,
    pub content_security_policy: Option<String>,
    pub content_security_policy_report_only: Option<String>,
    pub referrer_policy: Option<String>,
    pub permissions_policy: Option<String>,
    pub public_key: Option<String>,
    pub allowed_hosts: Vec<String>,
    pub hosts_proxy_headers: Vec<String>,
    pub ssl_proxy_headers: Vec<(String, String)>,
    pub is_development: bool,
    /// Present when any CORS option is set.
    pub cors: Option<CorsSpec>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CorsSpec {
    pub allow_credentials: bool,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_origin_list: Vec<String>,
    pub allow_origin_list_regex: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<i64>,
    pub add_vary_header: bool,
}

/// `rateLimit.redis`: where a shared budget is kept, and how long wharf waits for Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitRedis {
    pub connection: crate::RedisConnection,
    /// `dialTimeout` (Traefik: 5s).
    pub dial_timeout: std::time::Duration,
    /// `readTimeout` (Traefik: 3s): a slower reply counts as Redis being down.
    pub read_timeout: std::time::Duration,
}

/// What rateLimit and inFlightReq count requests by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceCriterion {
    /// The client IP: the peer, or from X-Forwarded-For with `depth` / `excluded` IPs.
    ClientIp {
        depth: i64,
        excluded: Vec<String>,
        ipv6_subnet: Option<u8>,
    },
    /// The value of a request header.
    Header(String),
    /// The request host.
    Host,
}

/// `passTLSClientCert`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PassTlsClientCertSpec {
    /// `X-Forwarded-Tls-Client-Cert`: each certificate's DER in base64, comma-separated.
    pub pem: bool,
    /// `X-Forwarded-Tls-Client-Cert-Info`, when `info` is set.
    pub info: Option<CertInfoSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CertInfoSpec {
    pub not_after: bool,
    pub not_before: bool,
    pub sans: bool,
    pub serial_number: bool,
    pub subject: Option<DistinguishedNameSpec>,
    pub issuer: Option<DistinguishedNameSpec>,
}

/// Which parts of a subject or issuer name are passed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DistinguishedNameSpec {
    pub country: bool,
    pub province: bool,
    pub locality: bool,
    pub organization: bool,
    pub organizational_unit: bool,
    pub common_name: bool,
    pub serial_number: bool,
    pub domain_component: bool,
}
