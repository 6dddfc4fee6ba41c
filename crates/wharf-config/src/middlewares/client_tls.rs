//! A middleware's `tls` client options (forwardAuth): the CA, certificate and key files are
//! read and checked at load, so a bad file is reported where it is named.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{error_at, flag, text};
use crate::decode::{join, Issues};
use crate::node::Node;

/// What `tls` holds once read: the CA PEM, the client certificate and key PEMs, and
/// insecureSkipVerify.
pub(super) struct ClientTls {
    pub ca: Option<String>,
    pub client: Option<(String, String)>,
    pub insecure_skip_verify: bool,
}

pub(super) fn client_tls(n: &Node, p: &str, issues: &mut Issues) -> Option<ClientTls> {
    let Some(tls) = n.get("tls") else {
        return Some(ClientTls {
            ca: None,
            client: None,
            insecure_skip_verify: false,
        });
    };
    let tp = join(p, "tls");
    let before = issues.0.len();
    let ca = read(tls, "ca", &tp, issues).filter(|pem| certificates(tls, "ca", &tp, pem, issues));
    let cert =
        read(tls, "cert", &tp, issues).filter(|pem| certificates(tls, "cert", &tp, pem, issues));
    let key = read(tls, "key", &tp, issues).filter(|pem| private_key(tls, &tp, pem, issues));
    let client = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ if issues.has_errors_since(before) => None,
        _ => {
            let message = format!("`{tp}`: cert and key go together");
            error_at(
                tls,
                "cert",
                issues,
                message,
                Some("set both tls.cert and tls.key, or neither"),
            );
            None
        }
    };
    let insecure_skip_verify = flag(tls, "insecureSkipVerify", &tp, issues);
    (!issues.has_errors_since(before)).then_some(ClientTls {
        ca,
        client,
        insecure_skip_verify,
    })
}

fn read(tls: &Node, key: &str, tp: &str, issues: &mut Issues) -> Option<String> {
    let path = text(tls, key, tp, issues).filter(|f| !f.is_empty())?;
    match std::fs::read_to_string(&path) {
        Ok(pem) => Some(pem),
        Err(e) => {
            let message = format!("`{tp}.{key}`: cannot read `{path}`: {e}");
            error_at(tls, key, issues, message, None);
            None
        }
    }
}

/// At least one certificate, each one valid X.509.
fn certificates(tls: &Node, key: &str, tp: &str, pem: &str, issues: &mut Issues) -> bool {
    let parsed: Result<Vec<CertificateDer<'_>>, _> =
        CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
    let problem = match parsed {
        Err(e) => Some(format!("is not PEM: {e}")),
        Ok(certs) if certs.is_empty() => Some("holds no certificate".to_string()),
        Ok(certs) => certs
            .iter()
            .find(|c| x509_parser::parse_x509_certificate(c).is_err())
            .map(|_| "holds a certificate that is not valid X.509".to_string()),
    };
    if let Some(problem) = &problem {
        let message = format!("`{tp}.{key}`: the file {problem}");
        error_at(
            tls,
            key,
            issues,
            message,
            Some("use a PEM file of -----BEGIN CERTIFICATE----- blocks"),
        );
    }
    problem.is_none()
}

fn private_key(tls: &Node, tp: &str, pem: &str, issues: &mut Issues) -> bool {
    let usable = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .ok()
        .is_some_and(|k| PrivateKeyDer::try_from(k.secret_der().to_vec()).is_ok());
    if !usable {
        let message = format!("`{tp}.key`: the file holds no usable private key");
        error_at(
            tls,
            "key",
            issues,
            message,
            Some("use a PEM PKCS#8, PKCS#1 or SEC1 key"),
        );
    }
    usable
}
