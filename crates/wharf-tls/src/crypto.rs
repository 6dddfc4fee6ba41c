//! The cryptography wharf's TLS termination runs on, chosen here once: aws-lc-rs. Its RSA
//! signing, the bulk of a full handshake with the usual RSA 2048 certificate, takes about half
//! of ring's time on x86-64 (benches/tls). Clients wharf opens (to backends, to an auth server)
//! stay on pingora's ring.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::SigningKey;
use rustls_pki_types::PrivateKeyDer;

pub(crate) use rustls::crypto::aws_lc_rs::{cipher_suite, kx_group, Ticketer};

/// The provider every server configuration starts from.
pub fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// A certificate's private key, ready to sign handshakes.
pub fn signing_key(key: &PrivateKeyDer<'_>) -> Result<Arc<dyn SigningKey>, rustls::Error> {
    rustls::crypto::aws_lc_rs::sign::any_supported_type(key)
}

/// Fills `buf` from the system's randomness.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
    provider().secure_random.fill(buf)
}
