//! Middleware definitions: the options each Traefik type accepts (a misspelt option is
//! reported where it was written), and their decoding into validated specs. One file per family:
//! `headers.rs`, `auth.rs` (forwardAuth, basicAuth), `traffic.rs` (ipAllowList, rateLimit,
//! inFlightReq, retry), `compress.rs`, `errors.rs`.

pub(super) use crate::decode::error_at;
use crate::decode::{check_keys, join, Issues};
use crate::node::Node;

/// Middleware types, as Traefik spells them.
pub const KINDS: &[&str] = &[
    "addPrefix",
    "basicAuth",
    "buffering",
    "chain",
    "circuitBreaker",
    "compress",
    "contentType",
    "digestAuth",
    "encodedCharacters",
    "errors",
    "forwardAuth",
    "grpcWeb",
    "headers",
    "inFlightReq",
    "ipAllowList",
    "ipWhiteList",
    "passTLSClientCert",
    "plugin",
    "rateLimit",
    "redirectRegex",
    "redirectScheme",
    "replacePath",
    "replacePathRegex",
    "retry",
    "stripPrefix",
    "stripPrefixRegex",
];

/// The CORS options of `headers` (any of them switches CORS handling on).
const CORS_OPTIONS: &[&str] = &[
    "accessControlAllowCredentials",
    "accessControlAllowHeaders",
    "accessControlAllowMethods",
    "accessControlAllowOriginList",
    "accessControlAllowOriginListRegex",
    "accessControlExposeHeaders",
    "accessControlMaxAge",
    "addVaryHeader",
];

const IP_STRATEGY: &[&str] = &["depth", "excludedIPs", "ipv6Subnet"];
const SOURCE_CRITERION: &[&str] = &["ipStrategy", "requestHeaderName", "requestHost"];
const CLIENT_TLS: &[&str] = &["ca", "caOptional", "cert", "key", "insecureSkipVerify"];

/// A type's options; `None` for free-form types (plugins).
fn options(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "addPrefix" => &["prefix"],
        "basicAuth" | "digestAuth" => {
            &["users", "usersFile", "realm", "removeHeader", "headerField"]
        }
        "buffering" => &[
            "maxRequestBodyBytes",
            "memRequestBodyBytes",
            "maxResponseBodyBytes",
            "memResponseBodyBytes",
            "retryExpression",
        ],
        "chain" => &["middlewares"],
        "circuitBreaker" => &[
            "expression",
            "checkPeriod",
            "fallbackDuration",
            "recoveryDuration",
            "responseCode",
        ],
        "compress" => &[
            "excludedContentTypes",
            "includedContentTypes",
            "minResponseBodyBytes",
            "defaultEncoding",
            "encodings",
        ],
        "contentType" => &["autoDetect"],
        "encodedCharacters" => &[
            "allowEncodedSlash",
            "allowEncodedBackSlash",
            "allowEncodedNullCharacter",
            "allowEncodedSemicolon",
            "allowEncodedPercent",
            "allowEncodedQuestionMark",
            "allowEncodedHash",
        ],
        "errors" => &[
            "status",
            "service",
            "query",
            "statusRewrites",
            "errorRequestHeaders",
        ],
        "forwardAuth" => &[
            "address",
            "tls",
            "trustForwardHeader",
            "authResponseHeaders",
            "authResponseHeadersRegex",
            "authRequestHeaders",
            "addAuthCookiesToResponse",
            "headerField",
            "forwardBody",
            "maxBodySize",
            "preserveLocationHeader",
            "preserveRequestMethod",
            "maxResponseBodySize",
            "authSigninURL",
        ],
        "grpcWeb" => &["allowOrigins"],
        "headers" => &[
            "customRequestHeaders",
            "customResponseHeaders",
            "allowedHosts",
            "hostsProxyHeaders",
            "sslProxyHeaders",
            "stsSeconds",
            "stsIncludeSubdomains",
            "stsPreload",
            "forceSTSHeader",
            "frameDeny",
            "customFrameOptionsValue",
            "contentTypeNosniff",
            "browserXssFilter",
            "customBrowserXSSValue",
            "contentSecurityPolicy",
            "contentSecurityPolicyReportOnly",
            "publicKey",
            "referrerPolicy",
            "permissionsPolicy",
            "featurePolicy",
            "isDevelopment",
        ],
        "inFlightReq" => &["amount", "sourceCriterion"],
        "ipAllowList" | "ipWhiteList" => &["sourceRange", "ipStrategy", "rejectStatusCode"],
        "passTLSClientCert" => &["pem", "info"],
        "rateLimit" => &["average", "period", "burst", "sourceCriterion", "redis"],
        "redirectRegex" => &["regex", "replacement", "permanent"],
        "redirectScheme" => &["scheme", "port", "permanent"],
        "replacePath" => &["path"],
        "replacePathRegex" => &["regex", "replacement"],
        "retry" => &[
            "attempts",
            "initialInterval",
            "timeout",
            "maxRequestBodyBytes",
            "status",
            "disableRetryOnNetworkError",
            "retryNonIdempotentMethod",
        ],
        "stripPrefix" => &["prefixes", "forceSlash"],
        "stripPrefixRegex" => &["regex"],
        _ => return None,
    })
}

/// Options that are themselves structures with known keys.
fn nested(kind: &str, option: &str) -> Option<&'static [&'static str]> {
    match (kind, option.to_ascii_lowercase().as_str()) {
        ("forwardAuth", "tls") => Some(CLIENT_TLS),
        ("ipAllowList" | "ipWhiteList", "ipstrategy") => Some(IP_STRATEGY),
        ("inFlightReq" | "rateLimit", "sourcecriterion") => Some(SOURCE_CRITERION),
        _ => None,
    }
}

/// Reports unknown options of a middleware of type `kind` at `path` (`http.middlewares.m`).
pub fn check_options(kind: &str, body: &Node, path: &str, issues: &mut Issues) {
    let Some(known) = options(kind) else { return };
    let known: Vec<&str> = if kind == "headers" {
        known.iter().chain(CORS_OPTIONS).copied().collect()
    } else {
        known.to_vec()
    };
    let type_path = join(path, kind);
    if !check_keys(body, &type_path, &known, &[], issues) {
        return;
    }
    for (key, value) in body.entries() {
        if let Some(sub) = nested(kind, &key.name) {
            let sub_path = join(&type_path, &key.name);
            if check_keys(value, &sub_path, sub, &[], issues)
                && key.name.eq_ignore_ascii_case("sourceCriterion")
            {
                if let Some(ip) = value.get("ipStrategy") {
                    check_keys(ip, &join(&sub_path, "ipStrategy"), IP_STRATEGY, &[], issues);
                }
            }
        }
    }
}

/// Decodes the options of an implemented middleware type into its validated form; None if
/// the type is not implemented yet or its options are invalid (reported).
pub fn decode_spec(
    kind: &str,
    body: &Node,
    path: &str,
    provider: &wharf_model::ProviderName,
    issues: &mut Issues,
) -> Option<wharf_model::MiddlewareKind> {
    use wharf_model::MiddlewareKind as K;
    let p = join(path, kind);
    let before = issues.0.len();
    let out = match kind {
        "headers" => K::Headers(Box::new(headers::headers(body, &p, issues)?)),
        "stripPrefix" => K::StripPrefix {
            prefixes: strings(body, "prefixes", &p, issues),
        },
        "stripPrefixRegex" => {
            let regexes = strings(body, "regex", &p, issues);
            for (i, re) in regexes.iter().enumerate() {
                check_regex(body, "regex", &format!("{p}.regex[{i}]"), re, issues);
            }
            K::StripPrefixRegex { regexes }
        }
        "addPrefix" => K::AddPrefix {
            prefix: required(body, "prefix", &p, issues)?,
        },
        "replacePath" => K::ReplacePath {
            path: required(body, "path", &p, issues)?,
        },
        "replacePathRegex" => {
            let regex = required(body, "regex", &p, issues)?;
            check_regex(body, "regex", &p, &regex, issues);
            K::ReplacePathRegex {
                regex,
                replacement: text(body, "replacement", &p, issues).unwrap_or_default(),
            }
        }
        "redirectScheme" => K::RedirectScheme {
            scheme: required(body, "scheme", &p, issues)?,
            port: text(body, "port", &p, issues).filter(|s| !s.is_empty()),
            permanent: flag(body, "permanent", &p, issues),
        },
        "redirectRegex" => {
            let regex = required(body, "regex", &p, issues)?;
            check_regex(body, "regex", &p, &regex, issues);
            K::RedirectRegex {
                regex,
                replacement: required(body, "replacement", &p, issues)?,
                permanent: flag(body, "permanent", &p, issues),
            }
        }
        "forwardAuth" => K::ForwardAuth(Box::new(auth::forward_auth(body, &p, issues)?)),
        "ipAllowList" | "ipWhiteList" => traffic::ip_allow_list(body, &p, issues)?,
        "rateLimit" => traffic::rate_limit(body, &p, issues)?,
        "inFlightReq" => traffic::in_flight_req(body, &p, issues)?,
        "retry" => traffic::retry(body, &p, issues)?,
        "encodedCharacters" => K::EncodedCharacters {
            slash: flag(body, "allowEncodedSlash", &p, issues),
            back_slash: flag(body, "allowEncodedBackSlash", &p, issues),
            null_character: flag(body, "allowEncodedNullCharacter", &p, issues),
            semicolon: flag(body, "allowEncodedSemicolon", &p, issues),
            percent: flag(body, "allowEncodedPercent", &p, issues),
            question_mark: flag(body, "allowEncodedQuestionMark", &p, issues),
            hash: flag(body, "allowEncodedHash", &p, issues),
        },
        "buffering" => {
            if let Some(v) = body.get("retryExpression") {
                issues.push(wharf_model::ConfigIssue::warning(
                    v.origin.clone(),
                    format!("`{p}.retryExpression` is not implemented by wharf yet; it is ignored"),
                ));
            }
            let limit = |key: &str, issues: &mut Issues| {
                body.get(key)
                    .and_then(|v| crate::decode::integer(v, &join(&p, key), issues))
                    .unwrap_or(0)
            };
            K::Buffering {
                max_request_body_bytes: limit("maxRequestBodyBytes", issues),
                max_response_body_bytes: limit("maxResponseBodyBytes", issues),
            }
        }
        "compress" => K::Compress(Box::new(compress::compress(body, &p, issues)?)),
        "errors" => K::Errors(Box::new(errors::errors(body, &p, provider, issues)?)),
        "circuitBreaker" => {
            K::CircuitBreaker(Box::new(traffic::circuit_breaker(body, &p, issues)?))
        }
        "contentType" => {
            issues.push(wharf_model::ConfigIssue::warning(
                body.origin.clone(),
                format!("`{p}`: wharf does not sniff a Content-Type yet; a response without one is sent without one"),
            ));
            K::ContentType
        }
        "passTLSClientCert" => K::PassTlsClientCert(Box::new(pass_cert(body, &p, issues))),
        "grpcWeb" => K::GrpcWeb {
            allow_origins: strings(body, "allowOrigins", &p, issues),
        },
        "basicAuth" => auth::password_auth(body, &p, false, issues)?,
        "digestAuth" => auth::password_auth(body, &p, true, issues)?,
        "chain" => K::Chain {
            middlewares: strings(body, "middlewares", &p, issues)
                .iter()
                .map(|m| wharf_model::QualifiedName::resolve(m, provider))
                .collect(),
        },
        _ => return None,
    };
    (!issues.has_errors_since(before)).then_some(out)
}

fn text(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Option<String> {
    n.get(key)
        .and_then(|v| crate::decode::string(v, &join(path, key), issues))
}

fn required(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Option<String> {
    let v = text(n, key, path, issues).filter(|s| !s.is_empty());
    if v.is_none() {
        issues.push(
            wharf_model::ConfigIssue::error(
                n.origin.clone(),
                format!("`{path}.{key}` is required"),
            )
            .with_hint(format!("set {path}.{key}")),
        );
    }
    v
}

fn pass_cert(n: &Node, path: &str, issues: &mut Issues) -> wharf_model::PassTlsClientCertSpec {
    let info = n.get("info").map(|i| {
        let ip = join(path, "info");
        crate::decode::check_keys(
            i,
            &ip,
            &[
                "notAfter",
                "notBefore",
                "sans",
                "serialNumber",
                "subject",
                "issuer",
            ],
            &[],
            issues,
        );
        let mut dn = |key: &str| {
            let d = i.get(key)?;
            let dp = join(&ip, key);
            let fields = [
                "country",
                "province",
                "locality",
                "organization",
                "organizationalUnit",
                "commonName",
                "serialNumber",
                "domainComponent",
            ];
            crate::decode::check_keys(d, &dp, &fields, &[], issues);
            Some(wharf_model::DistinguishedNameSpec {
                country: flag(d, "country", &dp, issues),
                province: flag(d, "province", &dp, issues),
                locality: flag(d, "locality", &dp, issues),
                organization: flag(d, "organization", &dp, issues),
                organizational_unit: flag(d, "organizationalUnit", &dp, issues),
                common_name: flag(d, "commonName", &dp, issues),
                serial_number: flag(d, "serialNumber", &dp, issues),
                domain_component: flag(d, "domainComponent", &dp, issues),
            })
        };
        let subject = dn("subject");
        let issuer = dn("issuer");
        wharf_model::CertInfoSpec {
            not_after: flag(i, "notAfter", &ip, issues),
            not_before: flag(i, "notBefore", &ip, issues),
            sans: flag(i, "sans", &ip, issues),
            serial_number: flag(i, "serialNumber", &ip, issues),
            subject,
            issuer,
        }
    });
    wharf_model::PassTlsClientCertSpec {
        pem: flag(n, "pem", path, issues),
        info,
    }
}

fn flag(n: &Node, key: &str, path: &str, issues: &mut Issues) -> bool {
    n.get(key)
        .and_then(|v| crate::decode::boolean(v, &join(path, key), issues))
        .unwrap_or(false)
}

pub(crate) fn strings(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Vec<String> {
    n.get(key)
        .and_then(|v| crate::decode::list(v, &join(path, key), issues))
        .map(|items| items.into_iter().map(|(s, _)| s).collect())
        .unwrap_or_default()
}

fn check_regex(n: &Node, key: &str, path: &str, re: &str, issues: &mut Issues) {
    if let Err(e) = regex::Regex::new(re) {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("").trim().to_string();
        let message = format!("`{path}`: invalid regular expression `{re}`: {last}");
        error_at(n, key, issues, message, None);
    }
}

mod auth;
mod client_tls;
mod compress;
pub(crate) mod errors;
mod headers;
mod traffic;
