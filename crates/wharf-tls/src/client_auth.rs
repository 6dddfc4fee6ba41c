//! `clientAuth`: Go's five client-certificate policies as rustls verifiers.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use wharf_model::{ClientAuthSpec, ClientAuthType};

use crate::certificate::{parse_certificates, read_source, CertError};

/// The verifier for a policy; `None` for `NoClientCert`.
pub(crate) fn verifier(
    spec: &ClientAuthSpec,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, CertError> {
    let any = |mandatory| -> Arc<dyn ClientCertVerifier> {
        Arc::new(AnyClientCertificate {
            mandatory,
            provider: provider.clone(),
        })
    };
    Ok(Some(match spec.kind {
        ClientAuthType::NoClientCert => return Ok(None),
        ClientAuthType::RequestClientCert => any(false),
        ClientAuthType::RequireAnyClientCert => any(true),
        ClientAuthType::VerifyClientCertIfGiven | ClientAuthType::RequireAndVerifyClientCert => {
            let mut roots = RootCertStore::empty();
            for source in &spec.ca_files {
                let name = source.describe();
                let pem = read_source("CA file", source)?;
                for ca in parse_certificates("CA file", &name, &pem)? {
                    roots.add(ca).map_err(|e| CertError::Parse {
                        source_name: name.clone(),
                        detail: e.to_string(),
                    })?;
                }
            }
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let builder = if spec.kind == ClientAuthType::VerifyClientCertIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder.build().map_err(|e| CertError::Parse {
                source_name: "clientAuth.caFiles".into(),
                detail: e.to_string(),
            })?
        }
    }))
}

/// Go's `RequestClientCert` / `RequireAnyClientCert`: a certificate is asked for (or
/// required) and its handshake signature checked, but it need not chain to anything.
#[derive(Debug)]
struct AnyClientCertificate {
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
        verify_tls13_signature(
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
