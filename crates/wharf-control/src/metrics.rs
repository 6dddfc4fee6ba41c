//! Resolving a configuration's metric series: one per load-balancer service (handed to its
//! pool), a `traefik_service_server_up` probe per health-checked server, and the served
//! certificates' expiry.

use std::sync::Arc;

use wharf_model::DynamicConfig;
use wharf_observe::{CertGauge, Round};
use wharf_tls::TlsSnapshot;
use wharf_upstream::PoolRegistry;

pub(crate) fn resolve(
    round: &mut Round<'_>,
    config: &DynamicConfig,
    pools: &PoolRegistry,
    tls: &TlsSnapshot,
) {
    for (name, spec) in &config.services {
        let Some(pool) = pools.get(name) else {
            continue;
        };
        if let Some(series) = round.service(name.as_str()) {
            // A kept pool already holds this very series (kept by name).
            pool.metrics.get_or_init(|| series);
        }
        if spec.health_check.is_some() {
            for (server, state) in spec.servers.iter().zip(&pool.states) {
                let state = state.clone();
                round.server_up(
                    name.as_str(),
                    &server.url,
                    Arc::new(move || state.active_up()),
                );
            }
        }
    }
    for cert in tls.store.configured() {
        round.certificate(CertGauge {
            cn: cert.common_name.clone(),
            serial: cert.serial_decimal.clone(),
            sans: cert.names.join(","),
            not_after: cert.not_after as f64,
        });
    }
}
