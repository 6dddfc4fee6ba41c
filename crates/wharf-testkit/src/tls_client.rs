//! A TLS client for tests: what a handshake was served (certificate, version, suite, ALPN) or
//! which alert ended it, then one HTTP/1.1 request on the connection. It trusts any server
//! certificate: the tests look at which one is served, not at the web PKI.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

use crate::raw::{read_response, Response};

/// What the server's side of a handshake looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The leaf certificate (DER).
    pub certificate: Vec<u8>,
    /// `1.2` or `1.3`.
    pub version: String,
    /// IANA name.
    pub cipher: String,
    pub alpn: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TlsClient {
    sni: Option<String>,
    alpn: Vec<String>,
    tls12_only: bool,
    tls13_only: bool,
    client_cert: Option<(String, String)>,
}

pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

impl TlsClient {
    /// `sni`: the server name sent (`None`: no SNI). It offers ALPN `http/1.1` only (it
    /// speaks HTTP/1.1); see [`TlsClient::alpn`].
    pub fn new(sni: Option<&str>) -> Self {
        TlsClient {
            sni: sni.map(str::to_string),
            alpn: vec!["http/1.1".into()],
            tls12_only: false,
            tls13_only: false,
            client_cert: None,
        }
    }

    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_string()).collect();
        self
    }

    pub fn tls12_only(mut self) -> Self {
        self.tls12_only = true;
        self
    }

    pub fn tls13_only(mut self) -> Self {
        self.tls13_only = true;
        self
    }

    /// Presents this certificate (PEM) and key (PEM).
    pub fn client_cert(mut self, cert_pem: &str, key_pem: &str) -> Self {
        self.client_cert = Some((cert_pem.to_string(), key_pem.to_string()));
        self
    }

    fn config_with_sni(&self) -> Arc<ClientConfig> {
        let mut config = (*self.config()).clone();
        config.enable_sni = true;
        Arc::new(config)
    }

    /// The rustls configuration this client connects with (for clients of one's own).
    pub fn config(&self) -> Arc<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = if self.tls12_only {
            &[&rustls::version::TLS12]
        } else if self.tls13_only {
            &[&rustls::version::TLS13]
        } else {
            rustls::ALL_VERSIONS
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider)));
        let mut config = match &self.client_cert {
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> =
                    CertificateDer::pem_slice_iter(cert.as_bytes())
                        .collect::<Result<_, _>>()
                        .expect("client certificate");
                let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("client key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("client auth")
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        config.enable_sni = self.sni.is_some();
        Arc::new(config)
    }

    /// Connects and completes the handshake. An error names the alert or failure.
    pub fn connect(&self, addr: SocketAddr) -> Result<(Served, TlsStream), String> {
        let name = match &self.sni {
            Some(s) => ServerName::try_from(s.clone()).map_err(|e| e.to_string())?,
            None => ServerName::IpAddress(addr.ip().into()),
        };
        let conn = ClientConnection::new(self.config(), name).map_err(|e| e.to_string())?;
        let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut stream = StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| describe(&e))?;
        }
        let conn = &stream.conn;
        let served = Served {
            certificate: conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec())
                .unwrap_or_default(),
            version: match conn.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "1.3".into(),
                Some(rustls::ProtocolVersion::TLSv1_2) => "1.2".into(),
                other => format!("{other:?}"),
            },
            cipher: conn
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .unwrap_or_default()
                .to_string(),
            alpn: conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
        };
        Ok((served, stream))
    }

    /// Handshake, then `GET path` with `Host: host` (and `extra` headers), connection closed after.
    pub fn get(
        &self,
        addr: SocketAddr,
        host: &str,
        path: &str,
        extra: &[(&str, &str)],
    ) -> Result<(Served, Response), String> {
        let (served, mut stream) = self.connect(addr)?;
        let response = request(&mut stream, host, path, extra, true)?;
        Ok((served, response))
    }
}

/// A client configuration that trusts any server certificate and offers `alpn` (for async
/// clients, e.g. HTTP/2 through tokio-rustls and hyper).
pub fn trusting_config(alpn: &[&str]) -> Arc<ClientConfig> {
    TlsClient::new(None).alpn(alpn).config_with_sni()
}

/// One HTTP/1.1 GET on an open TLS connection.
pub fn request(
    stream: &mut TlsStream,
    host: &str,
    path: &str,
    extra: &[(&str, &str)],
    close: bool,
) -> Result<Response, String> {
    request_method(stream, "GET", host, path, extra, close)
}

/// One HTTP/1.1 request without a body on an open TLS connection.
pub fn request_method(
    stream: &mut TlsStream,
    method: &str,
    host: &str,
    path: &str,
    extra: &[(&str, &str)],
    close: bool,
) -> Result<Response, String> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    if close {
        req.push_str("Connection: close\r\n");
    }
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).map_err(|e| describe(&e))?;
    read_response(stream, false).map_err(|e| describe(&e))
}

/// An alert as `alert <Name>`, anything else as rustls says it.
fn describe(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::AlertReceived(alert)) => format!("alert {alert:?}"),
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
