//! One HTTP exchange with another server (an auth server, an error-page service) over
//! pingora's connector, whose connections are pooled and reused.

use std::time::Duration;

use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::upstreams::peer::HttpPeer;
use wharf_upstream::Target;

/// Idle connections are kept as long as Traefik keeps them (`idleConnTimeout`).
pub(crate) const IDLE: Duration = Duration::from_secs(90);

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

pub(crate) struct Client {
    connector: Connector,
}

impl Client {
    pub(crate) fn new() -> Self {
        Client {
            connector: Connector::new(None),
        }
    }

    /// Sends `req` (with `body`, if any) to `peer` and reads the whole answer.
    pub(crate) async fn send(
        &self,
        peer: &HttpPeer,
        mut req: RequestHeader,
        body: Option<Bytes>,
    ) -> pingora::Result<(ResponseHeader, Bytes)> {
        // An empty body is sent as none, as Go's client does.
        let body = body.filter(|b| !b.is_empty());
        if let Some(b) = &body {
            req.insert_header(http::header::CONTENT_LENGTH, b.len())?;
        }
        let (mut session, _reused) = self.connector.get_http_session(peer).await?;
        session.write_request_header(Box::new(req)).await?;
        if let Some(b) = body {
            session.write_request_body(b, true).await?;
        }
        session.finish_request_body().await?;
        session.read_response_header().await?;
        let head = session.response_header().cloned().ok_or_else(|| {
            pingora::Error::explain(pingora::ErrorType::InvalidHTTPHeader, "no response")
        })?;
        let mut body = Vec::new();
        while let Some(chunk) = session.read_response_body().await? {
            body.extend_from_slice(&chunk);
        }
        self.connector
            .release_http_session(session, peer, Some(IDLE))
            .await;
        Ok((head, Bytes::from(body)))
    }
}

/// Where to connect for `target` now, as pingora's error when it cannot be resolved.
pub async fn connect_addr(target: &Target) -> pingora::Result<std::net::SocketAddr> {
    target
        .addr()
        .await
        .map_err(|e| pingora::Error::explain(pingora::ErrorType::ConnectNoRoute, e))
}

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
