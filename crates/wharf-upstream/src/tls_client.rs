//! wharf's own TLS client to backends, for a servers transport that asks what pingora's
//! connector cannot do (its rustls config is fixed at TLS 1.2–1.3, default suites, and no
//! hook to check the certificate): `minVersion`, `maxVersion`, `cipherSuites`, `peerCertURI`.
//!
//! It plugs in through the peer's L4 connector (`backend_connect`).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use wharf_model::ServersTransportSpec;

/// What the TLS handshake with one server needs.
#[derive(Clone, Debug)]
pub(crate) struct Handshake {
    pub config: Arc<ClientConfig>,
    /// None: the name is not a DNS name or an IP (every handshake fails, visibly).
    pub name: Option<ServerName<'static>>,
}

/// One transport's client configurations, one per ALPN offer, sharing the resumption cache.
#[derive(Debug)]
pub struct TlsClient {
    http1: Arc<ClientConfig>,
    h2_or_http1: Arc<ClientConfig>,
    h2: Arc<ClientConfig>,
    server_name: Option<String>,
}

/// The certificate chain and key wharf presents to backends.
pub type ClientIdentity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

impl TlsClient {
    /// Builds the client for `spec`, trusting `roots` (none: the system's).
    pub fn build(
        spec: &ServersTransportSpec,
        roots: Vec<CertificateDer<'static>>,
        identity: Option<ClientIdentity>,
    ) -> Result<TlsClient, String> {
        let (provider, versions) =
            wharf_tls::crypto_policy(spec.min_version, spec.max_version, &spec.cipher_suites, &[]);
        let mut store = RootCertStore::empty();
        let roots = if roots.is_empty() {
            rustls_native_certs::load_native_certs().certs
        } else {
            roots
        };
        // A system certificate rustls cannot use is skipped, as Go skips it.
        let (_added, _skipped) = store.add_parsable_certificates(roots);
        let verifier = BackendVerifier {
            webpki: WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .ok(),
            insecure: spec.insecure_skip_verify,
            uri: spec.peer_cert_uri.clone(),
            provider: provider.clone(),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let config = match identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))?,
            None => builder.with_no_client_auth(),
        };
        let offer = |protocols: &[&[u8]]| {
            let mut c = config.clone();
            c.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
            Arc::new(c)
        };
        Ok(TlsClient {
            http1: offer(&[b"http/1.1"]),
            h2_or_http1: offer(&[b"h2", b"http/1.1"]),
            h2: offer(&[b"h2"]),
            server_name: spec.server_name.clone(),
        })
    }

    /// The handshake with a server whose URL names `host`: h2 offered by ALPN (`offer_h2`),
    /// alone (`h2_only`) or before HTTP/1.1.
    pub(crate) fn handshake(&self, host: &str, offer_h2: bool, h2_only: bool) -> Handshake {
        let config = match (offer_h2, h2_only) {
            (false, _) => &self.http1,
            (true, false) => &self.h2_or_http1,
            (true, true) => &self.h2,
        };
        let name = self.server_name.as_deref().unwrap_or(host);
        Handshake {
            config: config.clone(),
            name: ServerName::try_from(name.to_string()).ok(),
        }
    }
}

/// Go's verification as Traefik sets it up: the chain and the name, unless
/// `insecureSkipVerify`; with `peerCertURI`, the chain (even when insecure) and a SAN URI
/// equal to it, ignoring case.
#[derive(Debug)]
struct BackendVerifier {
    /// None: no trusted root (then only an insecure transport without a URI connects).
    webpki: Option<Arc<WebPkiServerVerifier>>,
    insecure: bool,
    uri: Option<String>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for BackendVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure && self.uri.is_none() {
            return Ok(ServerCertVerified::assertion());
        }
        let webpki = self.webpki.as_ref().ok_or_else(|| {
            rustls::Error::General(
                "no trusted root certificate: set the transport's rootCAs".into(),
            )
        })?;
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Ok(_) => {}
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.insecure => {}
            Err(e) => return Err(e),
        }
        if let Some(uri) = &self.uri {
            if !san_uris(end_entity)
                .iter()
                .any(|u| u.eq_ignore_ascii_case(uri))
            {
                return Err(rustls::Error::General(format!(
                    "peer certificate mismatch: no SAN URI in peer certificate matches {uri}"
                )));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The URIs among a certificate's subject alternative names.
fn san_uris(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::URI(u) => Some(u.to_string()),
            _ => None,
        })
        .collect()
}
