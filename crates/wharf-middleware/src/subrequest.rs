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
    use pingora::utils::tls::{parse_x509, WrappedX509};
    Ok(der_certificates(pem)?
        .into_iter()
        .map(|der| WrappedX509::new(der, parse_x509))
        .collect::<Vec<_>>()
        .into())
}

/// A PEM certificate chain and key as pingora's client certificate.
pub(crate) fn client_cert(
    cert: &str,
    key: &str,
) -> Result<std::sync::Arc<pingora::utils::tls::CertKey>, crate::BuildError> {
    use rustls_pki_types::pem::PemObject;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| crate::BuildError(format!("client key: {e}")))?;
    Ok(std::sync::Arc::new(pingora::utils::tls::CertKey::new(
        der_certificates(cert)?,
        key.secret_der().to_vec(),
    )))
}

fn der_certificates(pem: &str) -> Result<Vec<Vec<u8>>, crate::BuildError> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<Vec<u8>> = rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| crate::BuildError(format!("certificates: {e}")))?;
    // pingora parses each certificate and panics on a bad one: checked here first.
    if certs.is_empty()
        || certs
            .iter()
            .any(|c| x509_parser::parse_x509_certificate(c).is_err())
    {
        return Err(crate::BuildError("not a valid PEM certificate list".into()));
    }
    Ok(certs)
}
