//! Exchanges with other servers (an auth server, an error-page service): wharf-upstream's
//! pooled client, and the TLS material they may need.

pub use wharf_upstream::{connect_addr, Client, IDLE};

/// Hop-by-hop headers, never copied between the exchanges.
pub(crate) const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// PEM certificates as pingora's CA list (checked at load; a bad one is a build error).
pub(crate) fn ca_list(
    pem: &str,
) -> Result<std::sync::Arc<pingora::protocols::tls::CaType>, crate::BuildError> {
    wharf_upstream::ca_list(pem).map_err(crate::BuildError)
}

/// A PEM certificate chain and key as pingora's client certificate.
pub(crate) fn client_cert(
    cert: &str,
    key: &str,
) -> Result<std::sync::Arc<pingora::utils::tls::CertKey>, crate::BuildError> {
    wharf_upstream::client_cert(cert, key).map_err(crate::BuildError)
}
