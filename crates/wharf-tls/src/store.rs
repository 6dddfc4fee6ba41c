//! [`CertStore`]: the certificates served, by SNI: an exact name first, then a one-label
//! wildcard, then the default certificate. Built whole by the control plane; a handshake
//! only looks up.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::certificate::{CertificateInfo, LoadedCertificate};

#[derive(Debug)]
pub struct CertStore {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` under `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
    /// The configured certificates (not the generated default), for the API and metrics.
    configured: Vec<Arc<CertificateInfo>>,
}

impl CertStore {
    /// The first certificate listed for a name wins (Traefik keeps the first as well).
    pub fn new(
        certificates: &[LoadedCertificate],
        default: &LoadedCertificate,
        default_is_configured: bool,
    ) -> Self {
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for cert in certificates {
            for name in &cert.info.names {
                match name.strip_prefix("*.") {
                    Some(parent) => {
                        wildcard
                            .entry(parent.to_string())
                            .or_insert_with(|| cert.key.clone());
                    }
                    None => {
                        exact
                            .entry(name.clone())
                            .or_insert_with(|| cert.key.clone());
                    }
                }
            }
        }
        let mut configured: Vec<Arc<CertificateInfo>> =
            certificates.iter().map(|c| c.info.clone()).collect();
        if default_is_configured {
            configured.push(default.info.clone());
        }
        CertStore {
            exact,
            wildcard,
            default: default.key.clone(),
            configured,
        }
    }

    /// The certificate for this server name, if one matches it (not the default).
    pub fn find(&self, server_name: &str) -> Option<&Arc<CertifiedKey>> {
        let name = server_name.strip_suffix('.').unwrap_or(server_name);
        if let Some(cert) = self.exact.get(name) {
            return Some(cert);
        }
        let (_, parent) = name.split_once('.')?;
        self.wildcard.get(parent)
    }

    /// What a handshake with this SNI (or none) is served.
    pub fn resolve(&self, server_name: Option<&str>) -> &Arc<CertifiedKey> {
        server_name
            .and_then(|n| self.find(n))
            .unwrap_or(&self.default)
    }

    pub fn configured(&self) -> &[Arc<CertificateInfo>] {
        &self.configured
    }
}

/// rustls' view of a store.
#[derive(Debug)]
pub(crate) struct StoreResolver(pub(crate) Arc<CertStore>);

impl ResolvesServerCert for StoreResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.resolve(hello.server_name()).clone())
    }
}
