//! Raw load balancers -> [`ServiceSpec`]s: server URLs parsed, the sticky cookie's name
//! resolved as Traefik does. A service with an unusable server is dropped with its origin.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};
use wharf_model::{
    ConfigIssue, QualifiedName, ServerSpec, ServersTransportSpec, ServiceSpec, StaticConfig,
    StickyCookieSpec, UpstreamScheme,
};

use crate::services::{RawLoadBalancer, RawStickyCookie};
use crate::validate::ProviderConfig;

/// Every provider's servers transports, and the static one as `default@internal`.
pub(crate) fn transports(
    providers: &[ProviderConfig],
    statics: &StaticConfig,
    issues: &mut Vec<ConfigIssue>,
) -> BTreeMap<QualifiedName, ServersTransportSpec> {
    let mut out = BTreeMap::new();
    out.insert(
        statics.servers_transport.name.clone(),
        statics.servers_transport.clone(),
    );
    for p in providers {
        for (name, body) in &p.raw.servers_transports {
            let qn = QualifiedName::new(name, &p.provider);
            let mut local = crate::decode::Issues::default();
            let path = format!("http.serversTransports.{name}");
            if let Some(t) = crate::transport::transport(body, &path, qn.clone(), &mut local) {
                out.insert(qn, t);
            }
            issues.extend(local.0);
        }
    }
    out
}

pub(crate) fn load_balancer(
    qn: &QualifiedName,
    lb: &RawLoadBalancer,
    transports: &BTreeMap<QualifiedName, ServersTransportSpec>,
    issues: &mut Vec<ConfigIssue>,
) -> Option<ServiceSpec> {
    let provider = wharf_model::ProviderName::new(qn.provider());
    let transport = match &lb.servers_transport {
        None => transports
            .get(&QualifiedName::new(
                "default",
                &wharf_model::ProviderName::new("internal"),
            ))
            .cloned(),
        Some(reference) => {
            let name = QualifiedName::resolve(&reference.value, &provider);
            match transports.get(&name) {
                Some(t) => Some(t.clone()),
                None => {
                    let hint = crate::decode::nearest(
                        name.as_str(),
                        transports.keys().map(QualifiedName::as_str),
                    )
                    .map_or_else(
                        || "define it under http.serversTransports (file provider)".to_string(),
                        |n| format!("did you mean `{n}`?"),
                    );
                    issues.push(
                        ConfigIssue::error(
                            reference.origin.clone(),
                            format!("service `{qn}`: servers transport `{name}` does not exist; the service is dropped"),
                        )
                        .with_hint(hint),
                    );
                    return None;
                }
            }
        }
    };
    let mut specs = Vec::new();
    let mut ok = true;
    for s in &lb.servers {
        match parse_server_url(&s.url.value) {
            Ok(url) => specs.push(ServerSpec {
                url: s.url.value.clone(),
                scheme: url.scheme,
                host: url.host,
                port: url.port,
                weight: s.weight,
                path_prefix: if s.preserve_path {
                    url.path.trim_end_matches('/').to_string()
                } else {
                    String::new()
                },
            }),
            Err(e) => {
                ok = false;
                issues.push(
                    ConfigIssue::error(
                        s.url.origin.clone(),
                        format!(
                            "service `{qn}`: server url `{}` {e}; the service is dropped",
                            s.url.value
                        ),
                    )
                    .with_hint("write e.g. `http://10.0.0.5:8080`"),
                );
            }
        }
    }
    if !ok {
        return None;
    }
    let mut spec = ServiceSpec::new(qn.clone(), specs, lb.origin.clone());
    spec.pass_host_header = lb.pass_host_header;
    spec.strategy = lb.strategy;
    spec.health_check = lb.health_check.clone();
    spec.passive_health_check = lb.passive_health_check;
    spec.sticky = lb.sticky.as_ref().map(|c| sticky_cookie(c, qn));
    spec.flush_interval = lb.flush_interval;
    if let Some(t) = transport {
        spec.transport = t;
    }
    Some(spec)
}

/// Traefik's cookie: a configured name with non-token characters replaced by `_`, or `_` and
/// the first 5 hex digits of sha1("_TRAEFIK_BACKEND_" + qualified service name).
pub(crate) fn sticky_cookie(c: &RawStickyCookie, service: &QualifiedName) -> StickyCookieSpec {
    let name = match &c.name {
        Some(n) => n
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || "!#$%&'*+-.^`|~".contains(ch) {
                    ch
                } else {
                    '_'
                }
            })
            .collect(),
        None => default_cookie_name(service.as_str()),
    };
    StickyCookieSpec {
        name,
        secure: c.secure,
        http_only: c.http_only,
        same_site: c.same_site,
        max_age: c.max_age,
        path: c.path.clone(),
        domain: c.domain.clone(),
    }
}

pub(crate) fn default_cookie_name(service: &str) -> String {
    let digest = Sha1::digest(format!("_TRAEFIK_BACKEND_{service}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("_{}", &hex[..5])
}

struct ServerUrl {
    scheme: UpstreamScheme,
    host: String,
    port: u16,
    path: String,
}

fn parse_server_url(url: &str) -> Result<ServerUrl, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("is not a URL ({e})"))?;
    let scheme = match uri.scheme_str() {
        Some(name) => UpstreamScheme::from_name(name).ok_or_else(|| {
            format!("has an unsupported scheme `{name}` (use http, https or h2c)")
        })?,
        None => return Err("has no scheme".into()),
    };
    let (host, port) = wharf_model::uri_host_port(&uri, scheme).ok_or("has no host")?;
    Ok(ServerUrl {
        scheme,
        host,
        port,
        path: uri.path().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cookie_name_is_traefiks() {
        // Observed with Traefik 3.7.15 (traefik-compat.md §5.3).
        assert_eq!(default_cookie_name("svcsticky@file"), "_2c04d");
    }
}
