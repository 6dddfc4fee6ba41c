//! TLS on every entrypoint, as Traefik sniffs it: a connection whose first byte starts a TLS
//! record is handshaken here, with the options set its SNI maps to (so `tls.options` vary per
//! host, which one pingora listener with one `ServerConfig` cannot do), then handed to the
//! HTTP edge like any other stream. What a request needs of the handshake travels in a
//! [`TlsInfo`] through pingora's connection digest.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use pingora::http::ResponseHeader;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::SslDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, Ssl, Stream, UniqueID,
    UniqueIDType, ALPN,
};
use rustls::pki_types::CertificateDer;
use rustls::server::Acceptor;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;
use wharf_tls::{AcmeChallenges, Selected, SniOptions, ACME_TLS_ALPN};

/// The first byte of a TLS handshake record.
pub(crate) const TLS_HANDSHAKE: u8 = 0x16;

/// What a request may ask of its connection's TLS.
#[derive(Debug)]
pub struct TlsInfo {
    /// As sent (rustls lower-cases it).
    pub sni: Option<String>,
    /// The options set the SNI mapped to (`default` or qualified).
    pub options: Arc<str>,
    /// `1.2` or `1.3`, as Traefik labels metrics.
    pub version: &'static str,
    /// The IANA name, e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher: &'static str,
    /// The version and suite as the metrics label them.
    pub metrics_key: wharf_observe::TlsKey,
    /// The client's certificate chain, leaf first (empty without client authentication).
    pub peer_certificates: Arc<[CertificateDer<'static>]>,
}

impl TlsInfo {
    /// The connection's TLS, if any, from a request's digest.
    pub fn of(digest: Option<&pingora::protocols::Digest>) -> Option<&TlsInfo> {
        digest?
            .proxy_digest
            .as_ref()?
            .user_data
            .as_ref()?
            .downcast_ref::<TlsInfo>()
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("TLS handshake timed out")]
    Timeout,
    #[error("TLS handshake failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("no certificate for SNI {0:?} and sniStrict is on")]
    SniStrict(Option<String>),
    #[error("the TLS options for SNI {0:?} are broken (see the configuration errors)")]
    Refused(Option<String>),
    #[error("answered an ACME TLS-ALPN-01 challenge for {0}")]
    AcmeChallenge(String),
}

/// A fatal alert record (TLS 1.2 framing, as a server sends before any key is agreed).
fn alert(description: u8) -> [u8; 7] {
    [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description]
}
const UNRECOGNIZED_NAME: u8 = 112;
const INTERNAL_ERROR: u8 = 80;

/// Runs the server side of a TLS handshake on `stream`, by `deadline`.
pub(crate) async fn handshake(
    stream: Stream,
    sni_options: &SniOptions,
    challenges: &AcmeChallenges,
    deadline: Instant,
) -> Result<TlsConn, HandshakeError> {
    let accept = LazyConfigAcceptor::new(Acceptor::default(), stream);
    let mut start = tokio::time::timeout_at(deadline, accept)
        .await
        .map_err(|_| HandshakeError::Timeout)??;
    let hello = start.client_hello();
    let sni = hello.server_name().map(str::to_owned);
    // A CA validating TLS-ALPN-01 offers `acme-tls/1` alone (RFC 8737).
    let acme_only = hello.alpn().is_some_and(|mut protocols| {
        protocols.next() == Some(ACME_TLS_ALPN) && protocols.next().is_none()
    });
    if let (true, Some(domain)) = (acme_only, sni.as_deref()) {
        if let Some(config) = challenges.tls_alpn(domain) {
            let domain = domain.to_string();
            let mut tls = tokio::time::timeout_at(deadline, start.into_stream(config))
                .await
                .map_err(|_| HandshakeError::Timeout)??;
            let _ignored = tokio::time::timeout_at(deadline, tls.shutdown()).await;
            return Err(HandshakeError::AcmeChallenge(domain));
        }
    }
    let refusal = match sni_options.for_sni(sni.as_deref()) {
        Selected::Refused => Err((INTERNAL_ERROR, HandshakeError::Refused(sni.clone()))),
        Selected::Options(set)
            if set.sni_strict && sni.as_deref().and_then(|s| set.store.find(s)).is_none() =>
        {
            Err((UNRECOGNIZED_NAME, HandshakeError::SniStrict(sni.clone())))
        }
        Selected::Options(set) => Ok(set.clone()),
    };
    let set = match refusal {
        Ok(set) => set,
        Err((description, error)) => {
            // Best effort: the client learns why before the connection closes.
            let _ignored =
                tokio::time::timeout_at(deadline, start.io.write_all(&alert(description))).await;
            return Err(error);
        }
    };
    let tls = tokio::time::timeout_at(deadline, start.into_stream(set.config.clone()))
        .await
        .map_err(|_| HandshakeError::Timeout)??;
    TlsConn::new(tls, sni, set.name.clone())
}

/// A TLS connection as pingora's transport.
pub(crate) struct TlsConn {
    inner: TlsStream<Stream>,
    alpn: Option<ALPN>,
    ssl_digest: Arc<SslDigest>,
    info: Arc<ProxyDigest>,
}

impl TlsConn {
    fn new(
        inner: TlsStream<Stream>,
        sni: Option<String>,
        options: Arc<str>,
    ) -> Result<Self, HandshakeError> {
        let (_, conn) = inner.get_ref();
        let alpn = match conn.alpn_protocol() {
            Some(b"h2") => Some(ALPN::H2),
            Some(b"http/1.1") => Some(ALPN::H1),
            _ => None,
        };
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "1.3",
            _ => "1.2",
        };
        // IANA's names, as Traefik's metrics and logs use them (rustls says `TLS13_…`).
        let cipher = conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .map_or("", |name| match name {
                "TLS13_AES_128_GCM_SHA256" => "TLS_AES_128_GCM_SHA256",
                "TLS13_AES_256_GCM_SHA384" => "TLS_AES_256_GCM_SHA384",
                "TLS13_CHACHA20_POLY1305_SHA256" => "TLS_CHACHA20_POLY1305_SHA256",
                other => other,
            });
        let metrics_key = wharf_observe::TlsKey::new(
            conn.protocol_version().map_or(0, u16::from),
            conn.negotiated_cipher_suite()
                .map_or(0, |s| u16::from(s.suite())),
        );
        let peer_certificates: Arc<[CertificateDer<'static>]> = conn
            .peer_certificates()
            .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_else(|| Arc::from(Vec::new()));
        let ssl_digest = Arc::new(SslDigest::new(cipher, version, None, None, Vec::new()));
        let info = TlsInfo {
            sni,
            options,
            version,
            cipher,
            metrics_key,
            peer_certificates,
        };
        // The digest's response header is unused (this is not a CONNECT proxy).
        let header = ResponseHeader::build(200, Some(0))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let info = Arc::new(ProxyDigest::new(Box::new(header), Some(Box::new(info))));
        Ok(TlsConn {
            inner,
            alpn,
            ssl_digest,
            info,
        })
    }
}

impl std::fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConn").field("alpn", &self.alpn).finish()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[async_trait]
impl Shutdown for TlsConn {
    async fn shutdown(&mut self) {
        // close_notify, then the socket.
        let _ignored = AsyncWriteExt::shutdown(&mut self.inner).await;
    }
}

impl UniqueID for TlsConn {
    fn id(&self) -> UniqueIDType {
        self.inner.get_ref().0.id()
    }
}

impl Ssl for TlsConn {
    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        Some(self.ssl_digest.clone())
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.alpn.clone()
    }
}

impl GetTimingDigest for TlsConn {
    fn get_timing_digest(&self) -> Vec<Option<pingora::protocols::TimingDigest>> {
        self.inner.get_ref().0.get_timing_digest()
    }
}

impl GetProxyDigest for TlsConn {
    /// Not a CONNECT proxy: pingora's only per-connection slot for user data that reaches
    /// every request (HTTP/1 and each HTTP/2 stream) carries the [`TlsInfo`].
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        Some(self.info.clone())
    }
}

impl GetSocketDigest for TlsConn {
    fn get_socket_digest(&self) -> Option<Arc<pingora::protocols::SocketDigest>> {
        self.inner.get_ref().0.get_socket_digest()
    }
}

#[async_trait]
impl Peek for TlsConn {}
