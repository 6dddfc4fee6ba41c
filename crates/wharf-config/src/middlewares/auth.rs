//! `forwardAuth` and `basicAuth`.

use super::{check_regex, error_at, flag, required, strings, text};
use crate::decode::{join, Issues};
use crate::node::Node;

pub(super) fn forward_auth(
    n: &Node,
    p: &str,
    issues: &mut Issues,
) -> Option<wharf_model::ForwardAuthSpec> {
    let address = required(n, "address", p, issues)?;
    match address.parse::<http::Uri>() {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => {}
        _ => {
            let message = format!("`{p}.address`: `{address}` is not an http(s) URL");
            error_at(
                n,
                "address",
                issues,
                message,
                Some("write e.g. http://auth:9000/verify"),
            );
            return None;
        }
    }
    let max_body_size = n
        .get("maxBodySize")
        .and_then(|v| crate::decode::integer(v, &join(p, "maxBodySize"), issues))
        .and_then(|v| u64::try_from(v).ok());
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
    let tls = super::client_tls::client_tls(n, p, issues)?;
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
        insecure_skip_verify: tls.insecure_skip_verify,
        tls_ca: tls.ca,
        tls_client: tls.client,
        forward_body: flag(n, "forwardBody", p, issues),
        max_body_size,
        max_response_body_size: n
            .get("maxResponseBodySize")
            .and_then(|v| crate::decode::integer(v, &join(p, "maxResponseBodySize"), issues))
            .and_then(|v| u64::try_from(v).ok()),
        auth_signin_url: text(n, "authSigninURL", p, issues).filter(|u| !u.is_empty()),
    })
}

/// basicAuth (`digest` false: `name:hash` lines) or digestAuth (`name:realm:ha1` lines).
pub(super) fn password_auth(
    body: &Node,
    p: &str,
    digest: bool,
    issues: &mut Issues,
) -> Option<wharf_model::MiddlewareKind> {
    use wharf_model::MiddlewareKind as K;
    let mut users = strings(body, "users", p, issues);
    if let Some(file) = text(body, "usersFile", p, issues).filter(|f| !f.is_empty()) {
        match std::fs::read_to_string(&file) {
            Ok(content) => users.extend(
                content
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string),
            ),
            Err(e) => {
                let message = format!("`{p}.usersFile`: cannot read `{file}`: {e}");
                error_at(body, "usersFile", issues, message, None);
                return None;
            }
        }
    }
    if users.is_empty() {
        issues.push(
            wharf_model::ConfigIssue::error(body.origin.clone(), format!("`{p}` has no users"))
                .with_hint("set users: [\"name:hash\"] or usersFile (htpasswd format)"),
        );
        return None;
    }
    let (fields, shape) = if digest {
        (3, "name:realm:md5-hash")
    } else {
        (2, "name:hash")
    };
    if let Some(bad) = users
        .iter()
        .find(|u| u.splitn(fields, ':').count() != fields)
    {
        issues.push(wharf_model::ConfigIssue::error(
            body.origin.clone(),
            format!("`{p}.users`: `{bad}` is not `{shape}`"),
        ));
        return None;
    }
    let realm = text(body, "realm", p, issues)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "traefik".into());
    let remove_header = flag(body, "removeHeader", p, issues);
    let header_field = text(body, "headerField", p, issues).filter(|h| !h.is_empty());
    Some(if digest {
        K::DigestAuth {
            users,
            realm,
            remove_header,
            header_field,
        }
    } else {
        K::BasicAuth {
            users,
            realm,
            remove_header,
            header_field,
        }
    })
}
