//! The options each Traefik middleware type accepts, so that a misspelt option is reported
//! where it was written (file:line:column or container label) before the middleware is used.

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
        "errors" => &["status", "service", "query", "statusRewrites"],
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
        ],
        "grpcWeb" => &["allowOrigins"],
        "headers" => &[
            "customRequestHeaders",
            "customResponseHeaders",
            "accessControlAllowCredentials",
            "accessControlAllowHeaders",
            "accessControlAllowMethods",
            "accessControlAllowOriginList",
            "accessControlAllowOriginListRegex",
            "accessControlExposeHeaders",
            "accessControlMaxAge",
            "addVaryHeader",
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
        "retry" => &["attempts", "initialInterval"],
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
    let type_path = join(path, kind);
    if !check_keys(body, &type_path, known, &[], issues) {
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
        "headers" => K::Headers(Box::new(headers(body, &p, issues)?)),
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
        "forwardAuth" => K::ForwardAuth(Box::new(forward_auth(body, &p, issues)?)),
        "ipAllowList" | "ipWhiteList" => {
            let source_range = strings(body, "sourceRange", &p, issues);
            if source_range.is_empty() {
                issues.push(
                    wharf_model::ConfigIssue::error(
                        body.origin.clone(),
                        format!("`{p}.sourceRange` is required"),
                    )
                    .with_hint("list the allowed IPs or CIDR ranges, e.g. [10.0.0.0/8]"),
                );
                return None;
            }
            for ip in &source_range {
                if ip.parse::<ipnet::IpNet>().is_err() && ip.parse::<std::net::IpAddr>().is_err() {
                    let origin = body
                        .get("sourceRange")
                        .map_or_else(|| body.origin.clone(), |v| v.origin.clone());
                    issues.push(wharf_model::ConfigIssue::error(
                        origin,
                        format!("`{p}.sourceRange`: `{ip}` is neither an IP nor a CIDR range"),
                    ));
                }
            }
            let strategy = body.get("ipStrategy");
            let sp = join(&p, "ipStrategy");
            K::IpAllowList {
                source_range,
                depth: strategy
                    .and_then(|s| s.get("depth"))
                    .and_then(|d| crate::decode::integer(d, &join(&sp, "depth"), issues))
                    .unwrap_or(0),
                excluded_ips: strategy
                    .map(|s| strings(s, "excludedIPs", &sp, issues))
                    .unwrap_or_default(),
                reject_status: body
                    .get("rejectStatusCode")
                    .and_then(|c| crate::decode::integer(c, &join(&p, "rejectStatusCode"), issues))
                    .and_then(|c| u16::try_from(c).ok())
                    .filter(|c| (100..600).contains(c))
                    .unwrap_or(403),
            }
        }
        "rateLimit" => {
            let int = |key: &str, issues: &mut Issues| {
                body.get(key)
                    .and_then(|v| crate::decode::integer(v, &join(&p, key), issues))
            };
            let average = int("average", issues).unwrap_or(0);
            let burst = int("burst", issues).unwrap_or(1);
            let period = body
                .get("period")
                .and_then(|v| crate::decode::duration(v, &join(&p, "period"), issues))
                .unwrap_or(std::time::Duration::from_secs(1));
            if average < 0 || burst < 0 || period.is_zero() {
                issues.push(
                    wharf_model::ConfigIssue::error(
                        body.origin.clone(),
                        format!(
                            "`{p}`: average and burst cannot be negative, period must be positive"
                        ),
                    )
                    .with_hint("e.g. average: 100, period: 1s, burst: 50"),
                );
                return None;
            }
            K::RateLimit {
                average,
                period_ms: u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
                burst,
                source: source_criterion(
                    body,
                    &p,
                    wharf_model::SourceCriterion::ClientIp {
                        depth: 0,
                        excluded: Vec::new(),
                    },
                    issues,
                ),
            }
        }
        "inFlightReq" => {
            let amount = body
                .get("amount")
                .and_then(|v| crate::decode::integer(v, &join(&p, "amount"), issues))
                .unwrap_or(0);
            if amount < 0 {
                issues.push(wharf_model::ConfigIssue::error(
                    body.origin.clone(),
                    format!("`{p}.amount` cannot be negative"),
                ));
                return None;
            }
            K::InFlightReq {
                amount,
                source: source_criterion(body, &p, wharf_model::SourceCriterion::Host, issues),
            }
        }
        "retry" => {
            let attempts = body
                .get("attempts")
                .and_then(|v| crate::decode::integer(v, &join(&p, "attempts"), issues))
                .unwrap_or(0);
            if attempts <= 0 {
                issues.push(
                    wharf_model::ConfigIssue::error(
                        body.origin.clone(),
                        format!("`{p}.attempts` must be at least 1"),
                    )
                    .with_hint("e.g. attempts: 3"),
                );
                return None;
            }
            let interval = body
                .get("initialInterval")
                .and_then(|v| crate::decode::duration(v, &join(&p, "initialInterval"), issues))
                .unwrap_or_default();
            K::Retry {
                attempts,
                initial_interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            }
        }
        "basicAuth" => {
            let mut users = strings(body, "users", &p, issues);
            if let Some(file) = text(body, "usersFile", &p, issues).filter(|f| !f.is_empty()) {
                match std::fs::read_to_string(&file) {
                    Ok(content) => users.extend(
                        content
                            .lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty() && !l.starts_with('#'))
                            .map(str::to_string),
                    ),
                    Err(e) => {
                        let origin = body
                            .get("usersFile")
                            .map_or_else(|| body.origin.clone(), |v| v.origin.clone());
                        issues.push(wharf_model::ConfigIssue::error(
                            origin,
                            format!("`{p}.usersFile`: cannot read `{file}`: {e}"),
                        ));
                        return None;
                    }
                }
            }
            if users.is_empty() {
                issues.push(
                    wharf_model::ConfigIssue::error(
                        body.origin.clone(),
                        format!("`{p}` has no users"),
                    )
                    .with_hint("set users: [\"name:hash\"] or usersFile (htpasswd format)"),
                );
                return None;
            }
            if let Some(bad) = users.iter().find(|u| !u.contains(':')) {
                issues.push(wharf_model::ConfigIssue::error(
                    body.origin.clone(),
                    format!("`{p}.users`: `{bad}` is not `name:hash`"),
                ));
                return None;
            }
            K::BasicAuth {
                users,
                realm: text(body, "realm", &p, issues)
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "traefik".into()),
                remove_header: flag(body, "removeHeader", &p, issues),
                header_field: text(body, "headerField", &p, issues).filter(|h| !h.is_empty()),
            }
        }
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
        let origin = n
            .get(key)
            .map_or_else(|| n.origin.clone(), |v| v.origin.clone());
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("").trim().to_string();
        issues.push(wharf_model::ConfigIssue::error(
            origin,
            format!("`{path}`: invalid regular expression `{re}`: {last}"),
        ));
    }
}

/// Header names and values must be sendable: no CR, LF or NUL (header injection).
fn header_map(n: &Node, key: &str, path: &str, issues: &mut Issues) -> Vec<(String, String)> {
    let Some(map) = n.get(key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in map.entries() {
        let p = join(&join(path, key), &k.name);
        let Some(value) = crate::decode::string(v, &p, issues) else {
            continue;
        };
        let bad = |s: &str| s.contains(['\r', '\n', '\0']);
        if bad(&k.name) || bad(&value) || http::HeaderName::from_bytes(k.name.as_bytes()).is_err() {
            issues.push(
                wharf_model::ConfigIssue::error(
                    v.origin.clone(),
                    format!(
                        "`{p}`: a header name or value cannot contain CR, LF, NUL or separators"
                    ),
                )
                .with_hint("remove the control characters; one header per entry"),
            );
            continue;
        }
        out.push((k.name.clone(), value));
    }
    out
}

fn headers(n: &Node, p: &str, issues: &mut Issues) -> Option<wharf_model::HeadersSpec> {
    use wharf_model::{CorsSpec, HeadersSpec};
    let opt = |key: &str, issues: &mut Issues| text(n, key, p, issues).filter(|s| !s.is_empty());
    let mut h = HeadersSpec {
        custom_request_headers: header_map(n, "customRequestHeaders", p, issues),
        custom_response_headers: header_map(n, "customResponseHeaders", p, issues),
        frame_deny: flag(n, "frameDeny", p, issues),
        custom_frame_options_value: opt("customFrameOptionsValue", issues),
        content_type_nosniff: flag(n, "contentTypeNosniff", p, issues),
        browser_xss_filter: flag(n, "browserXssFilter", p, issues),
        custom_browser_xss_value: opt("customBrowserXSSValue", issues),
        sts_seconds: n
            .get("stsSeconds")
            .and_then(|v| crate::decode::integer(v, &join(p, "stsSeconds"), issues))
            .unwrap_or(0),
        sts_include_subdomains: flag(n, "stsIncludeSubdomains", p, issues),
        sts_preload: flag(n, "stsPreload", p, issues),
        force_sts_header: flag(n, "forceSTSHeader", p, issues),
        content_security_policy: opt("contentSecurityPolicy", issues),
        content_security_policy_report_only: opt("contentSecurityPolicyReportOnly", issues),
        referrer_policy: opt("referrerPolicy", issues),
        permissions_policy: opt("permissionsPolicy", issues),
        public_key: opt("publicKey", issues),
        allowed_hosts: strings(n, "allowedHosts", p, issues),
        hosts_proxy_headers: strings(n, "hostsProxyHeaders", p, issues),
        ssl_proxy_headers: header_map(n, "sslProxyHeaders", p, issues),
        is_development: flag(n, "isDevelopment", p, issues),
        cors: None,
    };
    const CORS: &[&str] = &[
        "accessControlAllowCredentials",
        "accessControlAllowHeaders",
        "accessControlAllowMethods",
        "accessControlAllowOriginList",
        "accessControlAllowOriginListRegex",
        "accessControlExposeHeaders",
        "accessControlMaxAge",
        "addVaryHeader",
    ];
    if CORS.iter().any(|k| n.get(k).is_some()) {
        let regexes = strings(n, "accessControlAllowOriginListRegex", p, issues);
        for re in &regexes {
            check_regex(
                n,
                "accessControlAllowOriginListRegex",
                &join(p, "accessControlAllowOriginListRegex"),
                re,
                issues,
            );
        }
        h.cors = Some(CorsSpec {
            allow_credentials: flag(n, "accessControlAllowCredentials", p, issues),
            allow_headers: strings(n, "accessControlAllowHeaders", p, issues),
            allow_methods: strings(n, "accessControlAllowMethods", p, issues),
            allow_origin_list: strings(n, "accessControlAllowOriginList", p, issues),
            allow_origin_list_regex: regexes,
            expose_headers: strings(n, "accessControlExposeHeaders", p, issues),
            max_age: n
                .get("accessControlMaxAge")
                .and_then(|v| crate::decode::integer(v, &join(p, "accessControlMaxAge"), issues)),
            add_vary_header: flag(n, "addVaryHeader", p, issues),
        });
    }
    if n.entries().is_empty() {
        issues.push(
            wharf_model::ConfigIssue::error(n.origin.clone(), format!("`{p}` sets no option"))
                .with_hint("a headers middleware needs at least one option"),
        );
        return None;
    }
    Some(h)
}

fn forward_auth(n: &Node, p: &str, issues: &mut Issues) -> Option<wharf_model::ForwardAuthSpec> {
    let address = required(n, "address", p, issues)?;
    match address.parse::<http::Uri>() {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => {}
        _ => {
            let origin = n
                .get("address")
                .map_or_else(|| n.origin.clone(), |v| v.origin.clone());
            issues.push(
                wharf_model::ConfigIssue::error(
                    origin,
                    format!("`{p}.address`: `{address}` is not an http(s) URL"),
                )
                .with_hint("write e.g. http://auth:9000/verify"),
            );
            return None;
        }
    }
    if flag(n, "forwardBody", p, issues) {
        let origin = n
            .get("forwardBody")
            .map_or_else(|| n.origin.clone(), |v| v.origin.clone());
        issues.push(wharf_model::ConfigIssue::error(
            origin,
            format!("`{p}.forwardBody` is not implemented by wharf yet"),
        ));
        return None;
    }
    let regex = text(n, "authResponseHeadersRegex", p, issues).filter(|s| !s.is_empty());
    if let Some(re) = &regex {
        check_regex(
            n,
            "authResponseHeadersRegex",
            &join(p, "authResponseHeadersRegex"),
            re,
            issues,
        );
    }
    let tls = n.get("tls");
    Some(wharf_model::ForwardAuthSpec {
        address,
        trust_forward_header: n
            .get("trustForwardHeader")
            .and_then(|v| crate::decode::boolean(v, &join(p, "trustForwardHeader"), issues)),
        auth_response_headers: strings(n, "authResponseHeaders", p, issues),
        auth_response_headers_regex: regex,
        auth_request_headers: strings(n, "authRequestHeaders", p, issues),
        add_auth_cookies_to_response: strings(n, "addAuthCookiesToResponse", p, issues),
        preserve_location_header: flag(n, "preserveLocationHeader", p, issues),
        preserve_request_method: flag(n, "preserveRequestMethod", p, issues),
        header_field: text(n, "headerField", p, issues).filter(|s| !s.is_empty()),
        insecure_skip_verify: tls
            .is_some_and(|t| flag(t, "insecureSkipVerify", &join(p, "tls"), issues)),
    })
}

fn source_criterion(
    n: &Node,
    p: &str,
    default: wharf_model::SourceCriterion,
    issues: &mut Issues,
) -> wharf_model::SourceCriterion {
    let Some(sc) = n.get("sourceCriterion") else {
        return default;
    };
    let sp = join(p, "sourceCriterion");
    if let Some(h) = text(sc, "requestHeaderName", &sp, issues).filter(|h| !h.is_empty()) {
        return wharf_model::SourceCriterion::Header(h);
    }
    if flag(sc, "requestHost", &sp, issues) {
        return wharf_model::SourceCriterion::Host;
    }
    if let Some(ip) = sc.get("ipStrategy") {
        let ipp = join(&sp, "ipStrategy");
        return wharf_model::SourceCriterion::ClientIp {
            depth: ip
                .get("depth")
                .and_then(|d| crate::decode::integer(d, &join(&ipp, "depth"), issues))
                .unwrap_or(0),
            excluded: strings(ip, "excludedIPs", &ipp, issues),
        };
    }
    default
}
