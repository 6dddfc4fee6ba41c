//! Traefik's generated default certificate: self-signed, `CN=TRAEFIK DEFAULT CERT`, one SAN
//! `<32 hex>.<32 hex>.traefik.default`, RSA 2048 with SHA-256, valid for a year from start.
//! A new one at every start, as in Traefik.

use std::time::SystemTime;

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SerialNumber, PKCS_RSA_SHA256,
};
use rsa::pkcs8::EncodePrivateKey;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::certificate::{certified, CertError, LoadedCertificate};

const ONE_YEAR: time::Duration = time::Duration::days(365);

fn random_hex(bytes: usize) -> Result<String, CertError> {
    let mut buf = vec![0u8; bytes];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut buf)
        .map_err(|_| CertError::Generate("no system randomness".into()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A fresh default certificate.
pub fn traefik_default_certificate(now: SystemTime) -> Result<LoadedCertificate, CertError> {
    let gen_err = |e: &dyn std::fmt::Display| CertError::Generate(e.to_string());
    let rsa_key =
        rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).map_err(|e| gen_err(&e))?;
    let der = rsa_key.to_pkcs8_der().map_err(|e| gen_err(&e))?;
    let pkcs8 = PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
    let key_pair =
        KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &PKCS_RSA_SHA256).map_err(|e| gen_err(&e))?;

    let san = format!("{}.{}.traefik.default", random_hex(16)?, random_hex(16)?);
    let mut params = CertificateParams::new(vec![san]).map_err(|e| gen_err(&e))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "TRAEFIK DEFAULT CERT");
    let start = time::OffsetDateTime::from(now);
    params.not_before = start;
    params.not_after = start + ONE_YEAR;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DataEncipherment,
        KeyUsagePurpose::KeyAgreement,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let mut serial = vec![0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut serial)
        .map_err(|_| CertError::Generate("no system randomness".into()))?;
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let cert = params.self_signed(&key_pair).map_err(|e| gen_err(&e))?;
    certified(
        vec![cert.der().clone()],
        &PrivateKeyDer::Pkcs8(pkcs8),
        "generated".into(),
        "generated".into(),
        now,
    )
}
