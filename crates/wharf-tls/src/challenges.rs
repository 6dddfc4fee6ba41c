//! [`AcmeChallenges`]: the answers to ACME challenges in flight, written by the ACME client and
//! read by the edge: HTTP-01 (token -> key authorization, answered on the challenge
//! entrypoint before routing) and TLS-ALPN-01 (domain -> a handshake offering only
//! `acme-tls/1` is served the challenge certificate). Few and short-lived: each change
//! replaces a small map, so readers never lock.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Debug, Default)]
pub struct AcmeChallenges {
    http: ArcSwap<HashMap<String, String>>,
    tls_alpn: ArcSwap<HashMap<String, Arc<ServerConfig>>>,
}

impl AcmeChallenges {
    /// The key authorization for an HTTP-01 token.
    pub fn http(&self, token: &str) -> Option<String> {
        self.http.load().get(token).cloned()
    }

    pub fn set_http(&self, token: &str, key_authorization: &str) {
        self.http.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.insert(token.to_string(), key_authorization.to_string());
            map
        });
    }

    pub fn remove_http(&self, token: &str) {
        self.http.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.remove(token);
            map
        });
    }

    /// The TLS configuration answering a TLS-ALPN-01 handshake for `domain`.
    pub fn tls_alpn(&self, domain: &str) -> Option<Arc<ServerConfig>> {
        self.tls_alpn.load().get(domain).cloned()
    }

    /// Serves `certificate` (with its `acmeIdentifier` extension) to `acme-tls/1` handshakes
    /// for `domain`.
    pub fn set_tls_alpn(&self, domain: &str, certificate: Arc<CertifiedKey>) {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let Ok(builder) = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        else {
            return;
        };
        let mut config = builder
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(One(certificate)));
        config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
        let config = Arc::new(config);
        self.tls_alpn.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.insert(domain.to_string(), config.clone());
            map
        });
    }

    pub fn remove_tls_alpn(&self, domain: &str) {
        self.tls_alpn.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.remove(domain);
            map
        });
    }
}

#[derive(Debug)]
struct One(Arc<CertifiedKey>);

impl ResolvesServerCert for One {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
