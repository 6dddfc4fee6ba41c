//! `passTLSClientCert`: the client's certificate chain, as Traefik passes it:
//! `X-Forwarded-Tls-Client-Cert` (each certificate's DER in base64, comma-separated) and
//! `X-Forwarded-Tls-Client-Cert-Info` (the chosen fields of each certificate, query-escaped).

use base64::Engine;
use http::HeaderValue;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use pingora::http::RequestHeader;
use rustls_pki_types::CertificateDer;
use wharf_model::{CertInfoSpec, DistinguishedNameSpec, PassTlsClientCertSpec};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

use crate::{Flow, Middleware, RequestContext};

const CERT_HEADER: &str = "X-Forwarded-Tls-Client-Cert";
const INFO_HEADER: &str = "X-Forwarded-Tls-Client-Cert-Info";
/// Go's `url.QueryEscape` keeps only letters, digits and `-_.~` (and writes a space as `+`).
const QUERY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const DOMAIN_COMPONENT_OID: &str = "0.9.2342.19200300.100.1.25";

#[derive(Debug)]
pub struct PassTlsClientCert(pub PassTlsClientCertSpec);

impl Middleware for PassTlsClientCert {
    fn request(&self, req: &mut RequestHeader, cx: &RequestContext) -> Flow {
        let Some(chain) = cx.client_certificates.as_deref().filter(|c| !c.is_empty()) else {
            return Flow::Continue;
        };
        if self.0.pem {
            let value = pem_value(chain);
            if let Ok(v) = HeaderValue::from_str(&value) {
                let _ignored = req.insert_header(CERT_HEADER, v);
            }
        }
        if let Some(info) = &self.0.info {
            let escaped = utf8_percent_encode(&info_value(info, chain), QUERY_ESCAPE)
                .to_string()
                .replace("%20", "+");
            if let Ok(v) = HeaderValue::from_str(&escaped) {
                let _ignored = req.insert_header(INFO_HEADER, v);
            }
        }
        Flow::Continue
    }
}

fn pem_value(chain: &[CertificateDer<'static>]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    chain
        .iter()
        .map(|c| engine.encode(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

fn info_value(spec: &CertInfoSpec, chain: &[CertificateDer<'static>]) -> String {
    chain
        .iter()
        .map(|der| match X509Certificate::from_der(der.as_ref()) {
            Ok((_, cert)) => cert_info(spec, &cert),
            Err(_) => String::new(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn cert_info(spec: &CertInfoSpec, cert: &X509Certificate<'_>) -> String {
    let mut values = Vec::new();
    if let Some(dn) = &spec.subject {
        let s = name_info(dn, cert.subject());
        if !s.is_empty() {
            values.push(format!("Subject=\"{}\"", s.trim_end_matches(',')));
        }
    }
    if let Some(dn) = &spec.issuer {
        let s = name_info(dn, cert.issuer());
        if !s.is_empty() {
            values.push(format!("Issuer=\"{}\"", s.trim_end_matches(',')));
        }
    }
    if spec.serial_number {
        values.push(format!("SerialNumber=\"{}\"", cert.tbs_certificate.serial));
    }
    if spec.not_before {
        values.push(format!("NB=\"{}\"", cert.validity().not_before.timestamp()));
    }
    if spec.not_after {
        values.push(format!("NA=\"{}\"", cert.validity().not_after.timestamp()));
    }
    if spec.sans {
        let sans = sans(cert);
        if !sans.is_empty() {
            values.push(format!("SAN=\"{}\"", sans.join(",")));
        }
    }
    values.join(";")
}

/// Go's order: DC, C, ST, L, O, OU, SN, CN; each `KEY=value,`.
fn name_info(spec: &DistinguishedNameSpec, name: &X509Name<'_>) -> String {
    let mut out = String::new();
    let mut put = |prefix: &str, values: Vec<&str>| {
        for v in values.into_iter().filter(|v| !v.is_empty()) {
            out.push_str(prefix);
            out.push('=');
            out.push_str(v);
            out.push(',');
        }
    };
    let all = |oid: &str| -> Vec<&str> {
        name.iter_attributes()
            .filter(|a| a.attr_type().to_id_string() == oid)
            .filter_map(|a| a.as_str().ok())
            .collect()
    };
    if spec.domain_component {
        put("DC", all(DOMAIN_COMPONENT_OID));
    }
    if spec.country {
        put("C", all("2.5.4.6"));
    }
    if spec.province {
        put("ST", all("2.5.4.8"));
    }
    if spec.locality {
        put("L", all("2.5.4.7"));
    }
    if spec.organization {
        put("O", all("2.5.4.10"));
    }
    if spec.organizational_unit {
        put("OU", all("2.5.4.11"));
    }
    // Go keeps the last CommonName and SerialNumber of a name.
    if spec.serial_number {
        put(
            "SN",
            all("2.5.4.5").into_iter().last().into_iter().collect(),
        );
    }
    if spec.common_name {
        put(
            "CN",
            all("2.5.4.3").into_iter().last().into_iter().collect(),
        );
    }
    out
}

/// Go's order: DNS names, e-mail addresses, IP addresses, URIs.
fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    let names = &ext.value.general_names;
    let mut out: Vec<String> = Vec::new();
    out.extend(names.iter().filter_map(|n| match n {
        GeneralName::DNSName(d) => Some(d.to_string()),
        _ => None,
    }));
    out.extend(names.iter().filter_map(|n| match n {
        GeneralName::RFC822Name(e) => Some(e.to_string()),
        _ => None,
    }));
    out.extend(names.iter().filter_map(|n| {
        match n {
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => <[u8; 4]>::try_from(*ip)
                    .ok()
                    .map(|b| std::net::IpAddr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*ip)
                    .ok()
                    .map(|b| std::net::IpAddr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        }
    }));
    out.extend(names.iter().filter_map(|n| match n {
        GeneralName::URI(u) => Some(u.to_string()),
        _ => None,
    }));
    out
}

/// A certificate's subject as Go's `pkix.Name.String()` writes it (RFC 2253: the last
/// relative name first, `CN=client,O=Org`); the access log's `TLSClientSubject`.
pub fn subject_string(der: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    let short = |oid: &str| match oid {
        "2.5.4.3" => Some("CN"),
        "2.5.4.5" => Some("SERIALNUMBER"),
        "2.5.4.6" => Some("C"),
        "2.5.4.7" => Some("L"),
        "2.5.4.8" => Some("ST"),
        "2.5.4.9" => Some("STREET"),
        "2.5.4.10" => Some("O"),
        "2.5.4.11" => Some("OU"),
        "2.5.4.17" => Some("POSTALCODE"),
        _ => None,
    };
    let mut rdns: Vec<String> = cert
        .subject()
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    let oid = a.attr_type().to_id_string();
                    let key = short(&oid).map_or(oid.clone(), str::to_string);
                    format!("{key}={}", a.as_str().unwrap_or_default())
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.reverse();
    Some(rdns.join(","))
}
