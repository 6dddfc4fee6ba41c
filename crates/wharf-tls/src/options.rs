//! One `tls.options` set as a rustls `ServerConfig`: versions, suites in Go's order, curves,
//! ALPN, client authentication, tickets. Session state (ticket keys, the session cache) is
//! shared by every set and every generation, so a configuration change does not end
//! resumption.

use std::sync::Arc;

use rustls::crypto::ring::{cipher_suite as suite, kx_group, Ticketer};
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
};
use rustls::{ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use wharf_model::{CipherSuite, Curve, TlsOptionsSpec, TlsVersion};

use crate::certificate::CertError;
use crate::client_auth::verifier;
use crate::store::{CertStore, StoreResolver};

/// Resumption state shared by every options set for the life of the process.
#[derive(Debug, Clone)]
pub struct SessionState {
    ticketer: Arc<dyn ProducesTickets>,
    cache: Arc<dyn StoresServerSessions>,
}

impl SessionState {
    pub fn new() -> Result<Self, CertError> {
        Ok(SessionState {
            ticketer: Ticketer::new().map_err(|e| CertError::Generate(e.to_string()))?,
            cache: ServerSessionMemoryCache::new(4096),
        })
    }
}

/// A compiled options set: what a handshake whose SNI maps to it is served.
#[derive(Debug)]
pub struct OptionSet {
    /// `default` or qualified (`modern@file`).
    pub name: Arc<str>,
    pub config: Arc<ServerConfig>,
    pub sni_strict: bool,
    pub store: Arc<CertStore>,
}

/// Go's preference: AES-128 first, then AES-256, then ChaCha20 (TLS 1.3, and ECDSA before RSA
/// for each AEAD in TLS 1.2).
const TLS13_SUITES: [SupportedCipherSuite; 3] = [
    suite::TLS13_AES_128_GCM_SHA256,
    suite::TLS13_AES_256_GCM_SHA384,
    suite::TLS13_CHACHA20_POLY1305_SHA256,
];
const TLS12_DEFAULT: [CipherSuite; 6] = [
    CipherSuite::EcdheEcdsaAes128Gcm,
    CipherSuite::EcdheRsaAes128Gcm,
    CipherSuite::EcdheEcdsaAes256Gcm,
    CipherSuite::EcdheRsaAes256Gcm,
    CipherSuite::EcdheEcdsaChacha20,
    CipherSuite::EcdheRsaChacha20,
];

fn tls12_suite(s: CipherSuite) -> SupportedCipherSuite {
    match s {
        CipherSuite::EcdheEcdsaAes128Gcm => suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::EcdheEcdsaAes256Gcm => suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::EcdheEcdsaChacha20 => suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite::EcdheRsaAes128Gcm => suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::EcdheRsaAes256Gcm => suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::EcdheRsaChacha20 => suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    }
}

fn kx(c: Curve) -> &'static dyn SupportedKxGroup {
    match c {
        Curve::X25519 => kx_group::X25519,
        Curve::P256 => kx_group::SECP256R1,
        Curve::P384 => kx_group::SECP384R1,
    }
}

/// The crypto provider and protocol versions for TLS `min..=max` with `tls12` suites (empty:
/// Go's defaults) and `curves` (empty: rustls's): served options sets and the client to
/// backends alike.
pub fn crypto_policy(
    min: TlsVersion,
    max: TlsVersion,
    tls12: &[CipherSuite],
    curves: &[Curve],
) -> (Arc<CryptoProvider>, Vec<&'static SupportedProtocolVersion>) {
    let mut suites: Vec<SupportedCipherSuite> = Vec::new();
    if max >= TlsVersion::Tls13 {
        suites.extend(TLS13_SUITES);
    }
    let tls12: &[CipherSuite] = if tls12.is_empty() {
        &TLS12_DEFAULT
    } else {
        tls12
    };
    // Only TLS 1.3 names listed: a TLS 1.2 peer finds no suite, as with Go.
    let offer_tls12 = min <= TlsVersion::Tls12 && max >= TlsVersion::Tls12 && !tls12.is_empty();
    if offer_tls12 {
        suites.extend(tls12.iter().map(|s| tls12_suite(*s)));
    }
    let base = rustls::crypto::ring::default_provider();
    let kx_groups = if curves.is_empty() {
        base.kx_groups.clone()
    } else {
        curves.iter().map(|c| kx(*c)).collect()
    };
    let provider = Arc::new(CryptoProvider {
        cipher_suites: suites,
        kx_groups,
        ..base
    });
    let mut versions: Vec<&'static SupportedProtocolVersion> = Vec::new();
    if max >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if offer_tls12 {
        versions.push(&rustls::version::TLS12);
    }
    (provider, versions)
}

/// Builds one options set over `store`.
pub fn build_options(
    spec: &TlsOptionsSpec,
    store: &Arc<CertStore>,
    session: &SessionState,
) -> Result<OptionSet, CertError> {
    let (provider, versions) = crypto_policy(
        spec.min_version,
        spec.max_version,
        &spec.cipher_suites,
        &spec.curves,
    );
    let invalid = |detail: String| CertError::Parse {
        source_name: format!("tls options {}", spec.name),
        detail,
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| invalid(e.to_string()))?;
    let builder = match verifier(&spec.client_auth, &provider)? {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(StoreResolver(store.clone())));
    config.alpn_protocols = spec.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config.ignore_client_order = true;
    if spec.disable_session_tickets {
        // Go's disableSessionTickets turns resumption off entirely (it has no session cache).
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    } else {
        config.ticketer = session.ticketer.clone();
        config.session_storage = session.cache.clone();
    }
    Ok(OptionSet {
        name: Arc::from(spec.name.as_str()),
        config: Arc::new(config),
        sni_strict: spec.sni_strict,
        store: store.clone(),
    })
}
