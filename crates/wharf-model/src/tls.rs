//! Validated TLS configuration: certificates, the default store, `tls.options`, and what a
//! router or entrypoint asks of TLS. Names of suites, curves and versions are already
//! checked against what wharf can serve; loading the PEM happens later (wharf-tls).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::origin::Origin;

/// Traefik's `FileOrContent`: a path, or the PEM itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PemSource {
    File(PathBuf),
    Inline(String),
}

impl PemSource {
    /// Traefik's rule: a value that names an existing file is a path, anything else is
    /// content. A value that looks like PEM is content even if a file of that name exists.
    pub fn from_value(value: &str) -> PemSource {
        if value.contains("-----BEGIN") {
            PemSource::Inline(value.to_string())
        } else {
            PemSource::File(PathBuf::from(value))
        }
    }

    /// How an issue names it: the path, or `inline PEM`.
    pub fn describe(&self) -> String {
        match self {
            PemSource::File(path) => path.display().to_string(),
            PemSource::Inline(_) => "inline PEM".to_string(),
        }
    }
}

/// A certificate (chain) and its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateSpec {
    pub cert: PemSource,
    pub key: PemSource,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

/// TLS ≤ 1.2 suites wharf serves (the AEAD ECDHE ones; TLS 1.3 suites are always on, as in Go).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    EcdheEcdsaAes128Gcm,
    EcdheEcdsaAes256Gcm,
    EcdheEcdsaChacha20,
    EcdheRsaAes128Gcm,
    EcdheRsaAes256Gcm,
    EcdheRsaChacha20,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    X25519,
    P256,
    P384,
}

/// `clientAuth.clientAuthType`, Go's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ClientAuthType {
    #[default]
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ClientAuthSpec {
    pub kind: ClientAuthType,
    pub ca_files: Vec<PemSource>,
}

/// One `tls.options.<name>`, with Traefik's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsOptionsSpec {
    /// `default`, or qualified (`modern@file`).
    pub name: String,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// Empty: the default list.
    pub cipher_suites: Vec<CipherSuite>,
    /// Empty: the default preference.
    pub curves: Vec<Curve>,
    pub alpn: Vec<String>,
    pub sni_strict: bool,
    pub disable_session_tickets: bool,
    pub client_auth: ClientAuthSpec,
    pub origin: Origin,
}

/// The name of the options every TLS router without its own uses.
pub const DEFAULT_TLS_OPTIONS: &str = "default";

impl TlsOptionsSpec {
    /// Traefik's `default` options.
    pub fn traefik_default(name: &str, origin: Origin) -> Self {
        TlsOptionsSpec {
            name: name.to_string(),
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            cipher_suites: Vec::new(),
            curves: Vec::new(),
            alpn: vec!["h2".into(), "http/1.1".into(), "acme-tls/1".into()],
            sni_strict: false,
            disable_session_tickets: false,
            client_auth: ClientAuthSpec::default(),
            origin,
        }
    }
}

/// `tls.domains[n]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsDomain {
    pub main: String,
    pub sans: Vec<String>,
}

/// What a TLS router (or an entrypoint's `http.tls`) asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouterTls {
    /// `default` or qualified; always names options that exist.
    pub options: String,
    pub cert_resolver: Option<String>,
    pub domains: Vec<TlsDomain>,
}

/// `tls.stores.default.defaultGeneratedCert`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GeneratedCertSpec {
    pub resolver: String,
    pub domain: TlsDomain,
    pub origin: Origin,
}

/// The merged `tls` section of every provider.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    pub certificates: Vec<CertificateSpec>,
    pub default_certificate: Option<CertificateSpec>,
    pub default_generated: Option<GeneratedCertSpec>,
    /// By name (`default` always present once validated).
    pub options: BTreeMap<String, TlsOptionsSpec>,
}

/// A router's reference to options, qualified by its provider (`default` and names with `@`
/// stay as written).
pub fn qualify_tls_options(name: &str, provider: &crate::ProviderName) -> String {
    if name == DEFAULT_TLS_OPTIONS || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}@{provider}")
    }
}

impl crate::RouterSpec {
    /// What the router asks of TLS on entrypoint `ep`: its own `tls`, else the entrypoint's
    /// `http.tls` (which makes every router of the entrypoint a TLS router).
    pub fn tls_on(&self, ep: &crate::EntryPoint) -> Option<RouterTls> {
        self.tls.clone().or_else(|| {
            ep.tls.as_ref().map(|t| RouterTls {
                options: qualify_tls_options(&t.options, &self.provider),
                ..t.clone()
            })
        })
    }
}
