//! The HTTP client instant-acme talks through, which also sees what instant-acme does not
//! expose: the `Link: rel="alternate"` chains of a certificate download (RFC 8555 §7.4.2),
//! and the body of a download it was asked to keep. `preferredChain` needs both: an
//! alternate is fetched with instant-acme's own signed POST-as-GET and kept here.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::order::AcmeError;

#[derive(Debug, Default)]
struct Seen {
    /// Alternate chain URLs offered by certificate downloads.
    alternates: Vec<String>,
    /// Bodies of downloads of those URLs.
    bodies: HashMap<String, Bytes>,
}

/// A hyper client (rustls, ring) that records alternate chains.
pub(crate) struct ObservingClient {
    inner: Client<hyper_rustls::HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>,
    seen: Arc<Mutex<Seen>>,
}

/// What the order code reads back from the client.
#[derive(Clone, Default)]
pub(crate) struct Observed(Arc<Mutex<Seen>>);

impl Observed {
    pub(crate) fn alternates(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|s| s.alternates.clone())
            .unwrap_or_default()
    }

    pub(crate) fn body(&self, url: &str) -> Option<Bytes> {
        self.0.lock().ok()?.bodies.get(url).cloned()
    }
}

/// The client, trusting `ca_files` (PEM) or else the platform's roots.
pub(crate) fn client(
    ca_files: &[impl AsRef<Path>],
) -> Result<(ObservingClient, Observed), AcmeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = if ca_files.is_empty() {
        builder
            .with_provider_and_platform_verifier(provider)
            .map_err(|e| AcmeError(format!("the platform's CA roots: {e}")))?
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for file in ca_files {
            let file = file.as_ref();
            let certs = CertificateDer::pem_file_iter(file)
                .map_err(|e| AcmeError(format!("caCertificates {}: {e}", file.display())))?;
            for cert in certs {
                let cert =
                    cert.map_err(|e| AcmeError(format!("caCertificates {}: {e}", file.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| AcmeError(format!("caCertificates {}: {e}", file.display())))?;
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| AcmeError(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        builder.with_tls_config(config)
    };
    let connector = builder.https_only().enable_http1().enable_http2().build();
    let seen = Arc::new(Mutex::new(Seen::default()));
    Ok((
        ObservingClient {
            inner: Client::builder(TokioExecutor::new()).build(connector),
            seen: seen.clone(),
        },
        Observed(seen),
    ))
}

/// `<url>;rel="alternate"` values of Link headers.
fn alternates(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|link| link.contains("rel=\"alternate\"") || link.contains("rel=alternate"))
        .filter_map(|link| {
            let start = link.find('<')? + 1;
            let end = link[start..].find('>')? + start;
            Some(link[start..end].to_string())
        })
        .collect()
}

impl HttpClient for ObservingClient {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let url = req.uri().to_string();
        let fut = HttpClient::request(&self.inner, req);
        let seen = self.seen.clone();
        Box::pin(async move {
            let mut rsp = fut.await?;
            let offered = alternates(&rsp.parts.headers);
            let keep = seen
                .lock()
                .map(|s| s.alternates.contains(&url))
                .unwrap_or(false);
            if let Ok(mut s) = seen.lock() {
                for alt in offered {
                    if !s.alternates.contains(&alt) {
                        s.alternates.push(alt);
                    }
                }
            }
            if keep {
                let body = rsp
                    .body
                    .into_bytes()
                    .await
                    .map_err(instant_acme::Error::Other)?;
                if let Ok(mut s) = seen.lock() {
                    s.bodies.insert(url, body.clone());
                }
                rsp.body = Box::new(body);
            }
            Ok(rsp)
        })
    }
}
