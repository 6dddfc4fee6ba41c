//! Which certificates routers need from which resolver, as Traefik decides: a router's
//! `tls.domains` (each one certificate: main, then sans), else the `Host()` names of its
//! rule (one certificate, the first name main); and the default store's
//! `defaultGeneratedCert`. Wildcards need DNS-01, which wharf does not
//! implement, so they are left out (with a warning).

use wharf_model::{DynamicConfig, StaticConfig};
use wharf_rule::HostConstraint;

use crate::manager::Wanted;

pub fn wanted(config: &DynamicConfig, statics: &StaticConfig) -> Wanted {
    let mut out = Wanted::new();
    if let Some(g) = config
        .tls
        .default_generated
        .as_ref()
        .filter(|g| statics.cert_resolvers.contains_key(&g.resolver))
    {
        let names: Vec<String> = std::iter::once(g.domain.main.clone())
            .chain(g.domain.sans.iter().cloned())
            .filter(|n| !n.is_empty() && !n.starts_with("*."))
            .collect();
        if !names.is_empty() {
            out.entry(g.resolver.clone()).or_default().insert(names);
        }
    }
    for router in config.routers.values() {
        for ep in &router.entry_points {
            let Some(tls) = statics.entry_points.get(ep).and_then(|e| router.tls_on(e)) else {
                continue;
            };
            let Some(resolver) = tls
                .cert_resolver
                .as_ref()
                .filter(|r| statics.cert_resolvers.contains_key(*r))
            else {
                continue;
            };
            let sets: Vec<Vec<String>> = if tls.domains.is_empty() {
                match router.rule.host_constraint() {
                    HostConstraint::Hosts { exact, .. } if !exact.is_empty() => vec![exact],
                    _ => Vec::new(),
                }
            } else {
                tls.domains
                    .iter()
                    .map(|d| {
                        std::iter::once(d.main.clone())
                            .chain(d.sans.iter().cloned())
                            .filter(|n| !n.is_empty())
                            .collect()
                    })
                    .collect()
            };
            for set in sets {
                let (wild, plain): (Vec<String>, Vec<String>) =
                    set.into_iter().partition(|n| n.starts_with("*."));
                if !wild.is_empty() {
                    tracing::warn!(router = %router.name, names = ?wild, "ACME: wildcard names need the DNS-01 challenge, which wharf does not implement; they get no certificate");
                }
                if !plain.is_empty() {
                    out.entry(resolver.clone()).or_default().insert(plain);
                }
            }
        }
    }
    out
}
