//! What the fuzz targets check, kept in the crate so ordinary tests replay the corpus: the
//! parsers of untrusted request input in the middlewares.

use pingora::http::RequestHeader;
use wharf_model::CompressSpec;

use crate::compress::Compress;
use crate::grpc_web::TextDecoder;

/// Arbitrary bytes as Accept-Encoding (and Content-Type) lines: negotiation never panics, and
/// only picks an encoding the policy offers.
pub fn accept_encoding(data: &[u8]) {
    let spec = CompressSpec {
        encodings: vec!["zstd".into(), "gzip".into()],
        default_encoding: Some("gzip".into()),
        ..CompressSpec::default()
    };
    let policy = Compress::new(&spec).expect("valid spec").policy();
    let mut req = RequestHeader::build("GET", b"/", None).expect("request");
    for line in data.split(|b| *b == b'\n') {
        if let Ok(v) = http::HeaderValue::from_bytes(line) {
            req.append_header(http::header::ACCEPT_ENCODING, v)
                .expect("header");
        }
    }
    if let Some(ct) = data
        .split(|b| *b == b'\n')
        .next()
        .and_then(|l| http::HeaderValue::from_bytes(l).ok())
    {
        req.insert_header(http::header::CONTENT_TYPE, ct)
            .expect("header");
    }
    if let crate::Negotiation::Compress(e) = policy.negotiate(&req) {
        assert!(
            matches!(e, crate::Encoding::Gzip | crate::Encoding::Zstd),
            "{e:?}"
        );
    }
}

/// Arbitrary bytes as a base64 gRPC-Web body, cut in arbitrary chunks: decoding never panics and
/// never yields more than 3 bytes for 4 characters.
pub fn grpc_web_text(data: &[u8]) {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let at = usize::from(cut).min(body.len());
    let mut decoder = TextDecoder::default();
    let mut out = 0;
    for (chunk, end) in [(&body[..at], false), (&body[at..], true)] {
        match decoder.decode(chunk, end) {
            Ok(b) => out += b.len(),
            Err(_) => return,
        }
    }
    assert!(out <= body.len() / 4 * 3 + 3, "{out} from {}", body.len());
}

/// Arbitrary bytes as a client's certificate chain (with `RequestClientCert` a client may
/// present anything that parses as a TLS certificate message): passTLSClientCert never panics
/// and only writes valid header values.
pub fn client_certificate(data: &[u8]) {
    use std::sync::Arc;
    use wharf_model::{CertInfoSpec, DistinguishedNameSpec, PassTlsClientCertSpec};
    let all = DistinguishedNameSpec {
        country: true,
        province: true,
        locality: true,
        organization: true,
        organizational_unit: true,
        common_name: true,
        serial_number: true,
        domain_component: true,
    };
    let spec = PassTlsClientCertSpec {
        pem: true,
        info: Some(CertInfoSpec {
            not_after: true,
            not_before: true,
            sans: true,
            serial_number: true,
            subject: Some(all.clone()),
            issuer: Some(all),
        }),
    };
    // A chain: the input split at 0xFF 0xFF.
    let chain: Arc<[rustls_pki_types::CertificateDer<'static>]> = data
        .split(|b| *b == 0xff)
        .filter(|c| !c.is_empty())
        .map(|c| rustls_pki_types::CertificateDer::from(c.to_vec()))
        .collect();
    let cx = crate::RequestContext {
        client_certificates: Some(chain),
        ..Default::default()
    };
    let mut req = RequestHeader::build("GET", b"/", None).expect("request");
    let middleware = crate::pass_cert::PassTlsClientCert(spec);
    crate::Middleware::request(&middleware, &mut req, &cx);
    for (_, v) in req.headers.iter() {
        assert!(v.to_str().is_ok(), "{v:?}");
    }
}
