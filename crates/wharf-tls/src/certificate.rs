//! A certificate and key loaded from PEM (a file or inline), checked (the key matches, the
//! certificate is not expired), with what the store and the API need to know of it.

use std::sync::Arc;
use std::time::SystemTime;

use rustls::crypto::ring::sign::any_supported_type;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use wharf_model::{CertificateSpec, PemSource};

/// Why a certificate could not be served.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{what} ({source_name}) holds no PEM certificate")]
    NoCertificate {
        what: &'static str,
        source_name: String,
    },
    #[error("{what} ({source_name}) is not valid PEM: {detail}")]
    BadPem {
        what: &'static str,
        source_name: String,
        detail: String,
    },
    #[error("key ({source_name}) holds no private key (expected PKCS#8, PKCS#1 or SEC1 PEM)")]
    NoKey { source_name: String },
    #[error("key ({source_name}) is of a type wharf cannot sign with: {detail}")]
    KeyType { source_name: String, detail: String },
    #[error("key ({key}) does not belong to certificate ({cert})")]
    KeyMismatch { cert: String, key: String },
    #[error("certificate ({source_name}) cannot be parsed: {detail}")]
    Parse { source_name: String, detail: String },
    #[error("certificate ({source_name}) expired at {not_after} (unix time)")]
    Expired { source_name: String, not_after: i64 },
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
}

/// A served certificate: the chain and signing key for rustls, and its description.
#[derive(Debug, Clone)]
pub struct LoadedCertificate {
    pub key: Arc<CertifiedKey>,
    pub info: Arc<CertificateInfo>,
}

/// What is known of a leaf certificate (the API, `traefik_tls_certs_not_after`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Lower-case DNS names it serves: its SANs, or its CN when it has none (wildcards as
    /// written, `*.example.com`).
    pub names: Vec<String>,
    pub common_name: String,
    pub issuer_common_name: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// Hex, lower case, as Go prints a serial.
    pub serial: String,
    /// Decimal, as Go's `big.Int` prints it (the `serial` label of
    /// `traefik_tls_certs_not_after`).
    pub serial_decimal: String,
    /// Where it came from: a path or `inline PEM` (or `generated`).
    pub source: String,
    /// SHA-256 of the DER, lower-case hex (the API's certificate id).
    pub fingerprint: String,
}

pub(crate) fn read_source(what: &'static str, source: &PemSource) -> Result<Vec<u8>, CertError> {
    match source {
        PemSource::Inline(pem) => Ok(pem.as_bytes().to_vec()),
        PemSource::File(path) => std::fs::read(path).map_err(|e| CertError::Read {
            what,
            path: path.display().to_string(),
            source: e,
        }),
    }
}

/// Every certificate in a PEM document (in order: leaf first).
pub(crate) fn parse_certificates(
    what: &'static str,
    source_name: &str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
    let certs = certs.map_err(|e| CertError::BadPem {
        what,
        source_name: source_name.to_string(),
        detail: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(CertError::NoCertificate {
            what,
            source_name: source_name.to_string(),
        });
    }
    Ok(certs)
}

/// Loads and checks one `tls.certificates` entry (or the default certificate).
pub fn load(spec: &CertificateSpec, now: SystemTime) -> Result<LoadedCertificate, CertError> {
    let cert_name = spec.cert.describe();
    let key_name = spec.key.describe();
    let cert_pem = read_source("certificate", &spec.cert)?;
    let key_pem = read_source("key", &spec.key)?;
    let chain = parse_certificates("certificate", &cert_name, &cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| CertError::NoKey {
        source_name: key_name.clone(),
    })?;
    certified(chain, &key, cert_name, key_name, now)
}

/// A chain and key (already parsed) as a checked, servable certificate.
pub(crate) fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'_>,
    cert_name: String,
    key_name: String,
    now: SystemTime,
) -> Result<LoadedCertificate, CertError> {
    let signing = any_supported_type(key).map_err(|e| CertError::KeyType {
        source_name: key_name.clone(),
        detail: e.to_string(),
    })?;
    let info = describe(&chain[0], &cert_name)?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => {
            return Err(CertError::KeyMismatch {
                cert: cert_name,
                key: key_name,
            })
        }
    }
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if info.not_after < now {
        return Err(CertError::Expired {
            source_name: cert_name,
            not_after: info.not_after,
        });
    }
    Ok(LoadedCertificate {
        key: Arc::new(certified),
        info: Arc::new(info),
    })
}

fn describe(leaf: &CertificateDer<'_>, source_name: &str) -> Result<CertificateInfo, CertError> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| CertError::Parse {
            source_name: source_name.to_string(),
            detail: e.to_string(),
        })?;
    let cn = |name: &x509_parser::x509::X509Name<'_>| {
        name.iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let common_name = cn(cert.subject());
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(dns) = name {
                names.push(dns.to_ascii_lowercase());
            }
        }
    }
    if names.is_empty() && !common_name.is_empty() {
        names.push(common_name.to_ascii_lowercase());
    }
    Ok(CertificateInfo {
        names,
        issuer_common_name: cn(cert.issuer()),
        common_name,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        serial: cert.tbs_certificate.raw_serial_as_string().replace(':', ""),
        serial_decimal: cert.tbs_certificate.serial.to_str_radix(10),
        source: source_name.to_string(),
        fingerprint: {
            use sha2::Digest;
            sha2::Sha256::digest(leaf.as_ref())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        },
    })
}
