//! wharf's own connection to a backend, for what pingora's connector cannot do: give up when
//! the server leaves its service while connecting (a removed container's address drops SYNs
//! until the dial timeout), TLS with the transport's versions, suites and certificate checks
//! (`tls_client`), and Go's HTTP/2 PING health check with `pingTimeout` (`h2_keepalive`). It
//! is the peer's `custom_l4`, handing pingora a connected socket (a virtual one when wharf
//! speaks TLS or pings over it) over which pingora speaks plain HTTP/1.1 or h2.
//!
//! pingora cannot see the ALPN answer of such a socket, so the protocol is decided before
//! connecting, from what the server chose the last time (kept in its [`ServerState`]). When
//! the server chooses other than expected, the state learns it and the connection fails with
//! [`PROTOCOL_LEARNED`] before any byte of the request is sent; the caller tries again, which
//! then speaks the right protocol (once per server, or after a backend changed).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pingora::connectors::L4Connect;
use pingora::protocols::l4::socket::SocketAddr;
use pingora::protocols::l4::stream::Stream;
use pingora::protocols::l4::virt::{VirtualSockOpt, VirtualSocket, VirtualSocketStream};
use pingora::{Error, ErrorType};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::h2_keepalive::{H2Keepalive, KeepaliveTimes};
use crate::server::ServerState;
use crate::tls_client::Handshake;

/// The error of a connection closed because the server chose another protocol than expected
/// (now learnt): nothing was sent, so the request may go again on any method.
pub const PROTOCOL_LEARNED: ErrorType = ErrorType::Custom("BackendProtocolLearned");

/// Go's `TLSHandshakeTimeout`, which Traefik keeps.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `e` is a [`PROTOCOL_LEARNED`] failure.
pub fn protocol_learned(e: &Error) -> bool {
    e.etype() == &PROTOCOL_LEARNED
}

/// Connects one server (a peer's `custom_l4`).
#[derive(Debug)]
pub(crate) struct BackendConnect {
    pub dial: Option<Duration>,
    /// None: plain TCP (h2c). Err: the transport's TLS could not be built (why): refused.
    pub tls: Option<Result<Handshake, Arc<str>>>,
    /// What pingora will speak over the socket.
    pub expect_h2: bool,
    /// Where the ALPN choice is learnt (None: h2 is required).
    pub learn: Option<Arc<ServerState>>,
    /// Go's PING health check on h2 connections (`readIdleTimeout` set).
    pub keepalive: Option<KeepaliveTimes>,
    /// Cancelled when the server leaves its service (see [`ServerState::leave`]).
    pub left: CancellationToken,
}

/// The error of a connection given up because its server left the configuration.
const LEFT: &str = "the server left its service while wharf was connecting to it";

impl BackendConnect {
    async fn tcp(&self, inet: std::net::SocketAddr) -> pingora::Result<TcpStream> {
        let connecting = TcpStream::connect(inet);
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
        Ok(tcp)
    }

    async fn tls(
        &self,
        handshake: &Handshake,
        tcp: TcpStream,
        inet: std::net::SocketAddr,
    ) -> pingora::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let Some(name) = handshake.name.clone() else {
            return Error::e_explain(
                ErrorType::TLSHandshakeFailure,
                "the server name is neither a DNS name nor an IP address",
            );
        };
        let connecting =
            tokio_rustls::TlsConnector::from(handshake.config.clone()).connect(name, tcp);
        let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting)
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
        Ok(tls)
    }

    async fn establish(&self, inet: std::net::SocketAddr) -> pingora::Result<Stream> {
        let handshake = match &self.tls {
            Some(Err(why)) => {
                return Error::e_explain(ErrorType::TLSHandshakeFailure, why.to_string())
            }
            Some(Ok(handshake)) => Some(handshake),
            None => None,
        };
        let tcp = self.tcp(inet).await?;
        Ok(match handshake {
            Some(handshake) => self.socket(self.tls(handshake, tcp, inet).await?),
            // Nothing of wharf's own over the socket: pingora's stream, as its connector makes.
            None if self.pings().is_none() => Stream::from(tcp),
            None => self.socket(tcp),
        })
    }

    /// Go's PING health check, when pingora speaks h2 over the socket.
    fn pings(&self) -> Option<KeepaliveTimes> {
        self.keepalive.filter(|_| self.expect_h2)
    }

    /// `io` as pingora's socket, with the PING health check when pingora speaks h2 over it.
    fn socket<S: Tcp>(&self, io: S) -> Stream {
        let socket: Box<dyn VirtualSocket> = match self.pings() {
            Some(times) => Box::new(Socket(H2Keepalive::new(io, times))),
            None => Box::new(Socket(io)),
        };
        Stream::from(VirtualSocketStream::new(socket))
    }
}

#[async_trait::async_trait]
impl L4Connect for BackendConnect {
    async fn connect(&self, addr: &SocketAddr) -> pingora::Result<Stream> {
        let SocketAddr::Inet(inet) = addr else {
            return Error::e_explain(ErrorType::ConnectError, "a backend on a unix socket");
        };
        tokio::select! {
            biased;
            () = self.left.cancelled() => Error::e_explain(ErrorType::ConnectError, LEFT),
            connected = self.establish(*inet) => connected,
        }
    }
}

/// A stream over one TCP connection.
trait Tcp: AsyncRead + AsyncWrite + Unpin + Send + Sync + std::fmt::Debug + 'static {
    fn tcp(&self) -> &TcpStream;
}

impl Tcp for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Tcp for tokio_rustls::client::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

impl<S: Tcp> Tcp for H2Keepalive<S> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().tcp()
    }
}

/// A connected stream, as pingora's virtual socket.
#[derive(Debug)]
struct Socket<S>(S);

impl<S: Tcp> VirtualSocket for Socket<S> {
    fn set_socket_option(&self, opt: VirtualSockOpt) -> std::io::Result<()> {
        match opt {
            VirtualSockOpt::NoDelay => self.0.tcp().set_nodelay(true),
            // Keepalive is not set on backend connections.
            _ => Ok(()),
        }
    }
}

impl<S: Tcp> AsyncRead for Socket<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<S: Tcp> AsyncWrite for Socket<S> {
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

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::*;

    /// A plain connection to `addr` given up when `state`'s server leaves.
    fn plain(state: &ServerState) -> BackendConnect {
        BackendConnect {
            dial: None,
            tls: None,
            expect_h2: false,
            learn: None,
            keepalive: None,
            left: state.left().clone(),
        }
    }

    #[tokio::test]
    async fn a_connection_to_a_server_that_leaves_meanwhile_gives_up() {
        // A listener whose accept queue is full drops SYNs, as a removed container's address
        // does: the connection stays pending until the dial timeout (none here).
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(([127, 0, 0, 1], 0).into()).expect("bind");
        let listener = socket.listen(0).expect("listen");
        let addr = listener.local_addr().expect("addr");
        let _queued = TcpStream::connect(addr).await.expect("fills the queue");
        let state = ServerState::new();
        let connect = plain(&state);
        let target = SocketAddr::Inet(addr);
        let connecting = connect.connect(&target);
        tokio::pin!(connecting);
        let pending =
            std::future::poll_fn(|cx| Poll::Ready(connecting.as_mut().poll(cx).is_pending())).await;
        assert!(pending, "the SYN is dropped: still connecting");
        state.leave();
        let e = connecting.await.expect_err("given up");
        assert_eq!(e.etype(), &ErrorType::ConnectError);
        assert!(e.to_string().contains(LEFT), "{e}");
        // Once it has left, no connection is even tried.
        let e = plain(&state).connect(&target).await.expect_err("refused");
        assert!(e.to_string().contains(LEFT), "{e}");
    }

    #[tokio::test]
    async fn a_plain_connection_is_pingoras_own_stream() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("listen");
        let target = SocketAddr::Inet(listener.local_addr().expect("addr"));
        let stream = plain(&ServerState::new())
            .connect(&target)
            .await
            .expect("connects");
        let shown = format!("{stream:?}");
        assert!(
            shown.contains("Tcp(") && !shown.contains("Virtual"),
            "a TCP stream, not a virtual socket: {shown}"
        );
    }
}
