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
