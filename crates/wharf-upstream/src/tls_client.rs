//! wharf's own TLS client to backends, for a servers transport that asks what pingora's
//! connector cannot do (its rustls config is fixed at TLS 1.2–1.3, default suites, and no
//! hook to check the certificate): `minVersion`, `maxVersion`, `cipherSuites`, `peerCertURI`.
//!
//! It plugs in as the peer's L4 connector: TCP, then the handshake, handed to pingora as a
//! virtual socket over which pingora speaks plain HTTP/1.1 or h2. pingora cannot see the ALPN
//! answer of such a socket, so the protocol is decided before connecting, from what the
//! server chose the last time (kept in its [`ServerState`]). When the server chooses other
//! than expected, the state learns it and the connection fails with
//! [`PROTOCOL_LEARNED`] before any byte of the request is sent; the caller tries again,
//! which then speaks the right protocol (once per server, or after a backend changed).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pingora::connectors::L4Connect;
use pingora::protocols::l4::socket::SocketAddr;
use pingora::protocols::l4::stream::Stream;
use pingora::protocols::l4::virt::{VirtualSockOpt, VirtualSocket, VirtualSocketStream};
use pingora::{Error, ErrorType};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use wharf_model::ServersTransportSpec;

use crate::server::ServerState;

/// The error of a connection closed because the server chose another protocol than expected
/// (now learnt): nothing was sent, so the request may go again on any method.
pub const PROTOCOL_LEARNED: ErrorType = ErrorType::Custom("BackendProtocolLearned");

/// Go's `TLSHandshakeTimeout`, which Traefik keeps.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `e` is a [`PROTOCOL_LEARNED`] failure.
pub fn protocol_learned(e: &Error) -> bool {
    e.etype() == &PROTOCOL_LEARNED
}

/// One transport's client configurations, one per ALPN offer, sharing the resumption cache.
#[derive(Debug)]
pub struct TlsClient {
    http1: Arc<ClientConfig>,
    h2_or_http1: Arc<ClientConfig>,
    h2: Arc<ClientConfig>,
    server_name: Option<String>,
    dial: Option<Duration>,
}

/// The certificate chain and key wharf presents to backends.
pub type ClientIdentity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

impl TlsClient {
    /// Builds the client for `spec`, trusting `roots` (none: the system's).
    pub fn build(
        spec: &ServersTransportSpec,
        roots: Vec<CertificateDer<'static>>,
        identity: Option<ClientIdentity>,
    ) -> Result<TlsClient, String> {
        let (provider, versions) =
            wharf_tls::crypto_policy(spec.min_version, spec.max_version, &spec.cipher_suites, &[]);
        let mut store = RootCertStore::empty();
        let roots = if roots.is_empty() {
            rustls_native_certs::load_native_certs().certs
        } else {
            roots
        };
        // A system certificate rustls cannot use is skipped, as Go skips it.
        let (_added, _skipped) = store.add_parsable_certificates(roots);
        let verifier = BackendVerifier {
            webpki: WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .ok(),
            insecure: spec.insecure_skip_verify,
            uri: spec.peer_cert_uri.clone(),
            provider: provider.clone(),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let config = match identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))?,
            None => builder.with_no_client_auth(),
        };
        let offer = |protocols: &[&[u8]]| {
            let mut c = config.clone();
            c.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
            Arc::new(c)
        };
        Ok(TlsClient {
            http1: offer(&[b"http/1.1"]),
            h2_or_http1: offer(&[b"h2", b"http/1.1"]),
            h2: offer(&[b"h2"]),
            server_name: spec.server_name.clone(),
            dial: spec
                .timeouts
                .dial
                .ne(&Duration::ZERO)
                .then_some(spec.timeouts.dial),
        })
    }

    /// The connector for a server whose URL names `host`. `offer_h2`: h2 is offered (with
    /// HTTP/1.1 unless `learn` is None, when h2 alone is); `expect_h2`: what pingora will speak.
    pub(crate) fn connector(
        &self,
        host: &str,
        offer_h2: bool,
        expect_h2: bool,
        learn: Option<Arc<ServerState>>,
    ) -> Arc<dyn L4Connect + Send + Sync> {
        let config = match (offer_h2, &learn) {
            (false, _) => &self.http1,
            (true, Some(_)) => &self.h2_or_http1,
            (true, None) => &self.h2,
        };
        let name = self.server_name.as_deref().unwrap_or(host);
        Arc::new(BackendConnect {
            config: config.clone(),
            name: ServerName::try_from(name.to_string()).ok(),
            dial: self.dial,
            expect_h2,
            learn,
        })
    }
}

/// Connects one server through [`TlsClient`] (a peer's `custom_l4`).
struct BackendConnect {
    config: Arc<ClientConfig>,
    /// None: the name is not a DNS name or an IP (every handshake fails, visibly).
    name: Option<ServerName<'static>>,
    dial: Option<Duration>,
    expect_h2: bool,
    learn: Option<Arc<ServerState>>,
}

impl std::fmt::Debug for BackendConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendConnect")
            .field("name", &self.name)
            .field("expect_h2", &self.expect_h2)
            .finish()
    }
}

#[async_trait::async_trait]
impl L4Connect for BackendConnect {
    async fn connect(&self, addr: &SocketAddr) -> pingora::Result<Stream> {
        let SocketAddr::Inet(inet) = addr else {
            return Error::e_explain(ErrorType::ConnectError, "TLS to a unix socket");
        };
        let connecting = TcpStream::connect(*inet);
        let tcp = match self.dial {
            Some(limit) => tokio::time::timeout(limit, connecting).await.map_err(|_| {
                Error::explain(
                    ErrorType::ConnectTimedout,
                    format!("timeout {limit:?} connecting to {inet}"),
                )
            })?,
            None => connecting.await,
        }
        .map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                ErrorType::ConnectRefused
            } else {
                ErrorType::ConnectError
            };
            Error::because(kind, format!("connecting to {inet}"), e)
        })?;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY on a backend connection");
        }
        let Some(name) = self.name.clone() else {
            return Error::e_explain(
                ErrorType::TLSHandshakeFailure,
                "the server name is neither a DNS name nor an IP address",
            );
        };
        let handshake = tokio_rustls::TlsConnector::from(self.config.clone()).connect(name, tcp);
        let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| Error::explain(ErrorType::TLSHandshakeTimedout, "TLS handshake"))?
            .map_err(|e| {
                Error::because(
                    ErrorType::TLSHandshakeFailure,
                    format!("TLS handshake with {inet}"),
                    e,
                )
            })?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        if h2 != self.expect_h2 {
            return match &self.learn {
                Some(state) => {
                    state.set_speaks_h2(h2);
                    Error::e_explain(
                        PROTOCOL_LEARNED,
                        format!(
                            "{inet} chose {} by ALPN",
                            if h2 { "h2" } else { "HTTP/1.1" }
                        ),
                    )
                }
                None => Error::e_explain(
                    ErrorType::TLSHandshakeFailure,
                    format!("{inet} does not speak h2 (ALPN)"),
                ),
            };
        }
        Ok(Stream::from(VirtualSocketStream::new(Box::new(TlsSocket(
            tls,
        )))))
    }
}

/// The handshaken stream, as pingora's virtual socket.
#[derive(Debug)]
struct TlsSocket(tokio_rustls::client::TlsStream<TcpStream>);

impl VirtualSocket for TlsSocket {
    fn set_socket_option(&self, opt: VirtualSockOpt) -> std::io::Result<()> {
        match opt {
            VirtualSockOpt::NoDelay => self.0.get_ref().0.set_nodelay(true),
            // Keepalive is not set on backend connections.
            _ => Ok(()),
        }
    }
}

impl AsyncRead for TlsSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Go's verification as Traefik sets it up: the chain and the name, unless
/// `insecureSkipVerify`; with `peerCertURI`, the chain (even when insecure) and a SAN URI
/// equal to it, ignoring case.
#[derive(Debug)]
struct BackendVerifier {
    /// None: no trusted root (then only an insecure transport without a URI connects).
    webpki: Option<Arc<WebPkiServerVerifier>>,
    insecure: bool,
    uri: Option<String>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for BackendVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure && self.uri.is_none() {
            return Ok(ServerCertVerified::assertion());
        }
        let webpki = self.webpki.as_ref().ok_or_else(|| {
            rustls::Error::General(
                "no trusted root certificate: set the transport's rootCAs".into(),
            )
        })?;
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Ok(_) => {}
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.insecure => {}
            Err(e) => return Err(e),
        }
        if let Some(uri) = &self.uri {
            if !san_uris(end_entity)
                .iter()
                .any(|u| u.eq_ignore_ascii_case(uri))
            {
                return Err(rustls::Error::General(format!(
                    "peer certificate mismatch: no SAN URI in peer certificate matches {uri}"
                )));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The URIs among a certificate's subject alternative names.
fn san_uris(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::URI(u) => Some(u.to_string()),
            _ => None,
        })
        .collect()
}
