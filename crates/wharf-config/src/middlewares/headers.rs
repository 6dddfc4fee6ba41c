//! `headers`: custom headers, security headers and CORS.

use super::{check_regex, flag, strings, text};
use crate::decode::{join, Issues};
use crate::node::Node;

/// Header names and values must be sendable: no CR, LF or NUL (header injection).
pub(super) fn header_map(
    n: &Node,
    key: &str,
    path: &str,
    issues: &mut Issues,
) -> Vec<(String, String)> {
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

pub(super) fn headers(n: &Node, p: &str, issues: &mut Issues) -> Option<wharf_model::HeadersSpec> {
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
    if super::CORS_OPTIONS.iter().any(|k| n.get(k).is_some()) {
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
