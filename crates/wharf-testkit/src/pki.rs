//! A throwaway certificate authority for tests: a CA, a server certificate for 127.0.0.1 and
//! localhost, and a client certificate, all made fresh with rcgen.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct TestPki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    /// A server certificate for 127.0.0.1 that also carries [`SAN_URI`].
    pub uri_cert_pem: String,
    pub uri_key_pem: String,
}

/// The URI subject alternative name of [`TestPki::uri_cert_pem`].
pub const SAN_URI: &str = "spiffe://wharf.test/backend";

/// Where [`TestPki::write`] put the files.
pub struct PkiFiles {
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// A fresh self-signed test CA and its key.
fn test_ca() -> (rcgen::Certificate, KeyPair) {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wharf test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (ca_params.self_signed(&ca_key).expect("ca cert"), ca_key)
}

/// A fresh RSA key (ring cannot generate one; the `rsa` crate does).
fn rsa_key_pair(bits: usize) -> KeyPair {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).expect("rsa key");
    let der = key.to_pkcs8_der().expect("pkcs8");
    let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
    KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).expect("rsa key pair")
}

impl TestPki {
    pub fn new() -> TestPki {
        let (ca, ca_key) = test_ca();
        let leaf_with_uri = |names: Vec<String>, cn: &str, uri: Option<&str>| {
            let key = KeyPair::generate().expect("leaf key");
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, cn);
            if let Some(uri) = uri {
                params
                    .subject_alt_names
                    .push(rcgen::SanType::URI(uri.try_into().expect("uri")));
            }
            let cert = params.signed_by(&key, &ca, &ca_key).expect("leaf cert");
            (cert.pem(), key.serialize_pem())
        };
        let leaf = |names: Vec<String>, cn: &str| leaf_with_uri(names, cn, None);
        let (server_cert_pem, server_key_pem) =
            leaf(vec!["127.0.0.1".into(), "localhost".into()], "localhost");
        let (client_cert_pem, client_key_pem) = leaf(vec!["client.test".into()], "client");
        let (uri_cert_pem, uri_key_pem) =
            leaf_with_uri(vec!["127.0.0.1".into()], "uri", Some(SAN_URI));
        TestPki {
            uri_cert_pem,
            uri_key_pem,
            ca_pem: ca.pem(),
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
        }
    }

    pub fn write(&self, dir: &Path) -> PkiFiles {
        let put = |name: &str, pem: &str| {
            let path = dir.join(name);
            std::fs::write(&path, pem).expect("write pem");
            path
        };
        PkiFiles {
            ca: put("ca.pem", &self.ca_pem),
            client_cert: put("client.pem", &self.client_cert_pem),
            client_key: put("client-key.pem", &self.client_key_pem),
        }
    }

    /// A TLS server configuration with the server certificate; `require_client`: only
    /// clients presenting a certificate of this CA get in.
    pub fn server_config(&self, require_client: bool) -> Arc<rustls::ServerConfig> {
        self.config_for(&self.server_cert_pem, &self.server_key_pem, require_client)
    }

    /// A TLS server configuration whose certificate carries [`SAN_URI`].
    pub fn uri_server_config(&self) -> Arc<rustls::ServerConfig> {
        self.config_for(&self.uri_cert_pem, &self.uri_key_pem, false)
    }

    fn config_for(
        &self,
        cert_pem: &str,
        key_pem: &str,
        require_client: bool,
    ) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("server cert");
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key");
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("protocols");
        let builder = if require_client {
            let mut roots = rustls::RootCertStore::empty();
            for ca in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
                roots.add(ca.expect("ca")).expect("add ca");
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(certs, key).expect("server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// Which key a test certificate has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    EcdsaP256,
    Rsa2048,
}

/// A self-signed certificate for `names` with `CN=cn`: (certificate PEM, key PEM).
pub fn self_signed(names: &[&str], cn: &str, kind: KeyKind) -> (String, String) {
    let key = match kind {
        KeyKind::EcdsaP256 => KeyPair::generate().expect("ecdsa key"),
        KeyKind::Rsa2048 => rsa_key_pair(2048),
    };
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.self_signed(&key).expect("self-signed");
    (cert.pem(), key.serialize_pem())
}

/// A CA and a server certificate it signed for `names` (RSA 2048, valid a year, with a CRL
/// distribution point, as a public CA issues them): (CA PEM, certificate PEM, key PEM).
pub fn ca_signed(names: &[&str]) -> (String, String, String) {
    let (ca, ca_key) = test_ca();
    let key = rsa_key_pair(2048);
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let now = std::time::SystemTime::now();
    params.not_before = now.into();
    params.not_after = (now + std::time::Duration::from_secs(365 * 86_400)).into();
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
        uris: vec!["http://crl.wharf.test/ca.crl".into()],
    }];
    let cert = params.signed_by(&key, &ca, &ca_key).expect("leaf");
    (ca.pem(), cert.pem(), key.serialize_pem())
}
