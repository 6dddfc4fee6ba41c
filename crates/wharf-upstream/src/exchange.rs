//! One HTTP exchange with a server outside the proxied request (an auth server, an error page,
//! a health check) over pingora's connector, which keeps its connections for reuse.

use std::time::Duration;

use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::protocols::http::client::HttpSession;
use pingora::upstreams::peer::HttpPeer;
use pingora::RetryType;

use crate::Target;

/// Idle connections are kept as long as Traefik keeps them (`idleConnTimeout`).
pub const IDLE: Duration = Duration::from_secs(90);

pub struct Client {
    connector: Connector,
}

impl Client {
    pub fn new() -> Self {
        Client {
            connector: Connector::new(None),
        }
    }

    /// [`send`](Self::send) to the peer `peer()` builds; built and sent again once when the
    /// server's protocol was just learnt (wharf's own TLS client: nothing had been sent).
    pub async fn send_to(
        &self,
        peer: impl Fn() -> HttpPeer,
        req: RequestHeader,
        body: Option<Bytes>,
    ) -> pingora::Result<(ResponseHeader, Bytes)> {
        match self.send(&peer(), req.clone(), body.clone()).await {
            Err(e) if crate::protocol_learned(&e) => self.send(&peer(), req, body).await,
            answer => answer,
        }
    }

    /// Sends `req` (with `body`, if any) to `peer` and reads the whole answer. As Go's client
    /// (Traefik's), a safe request is sent again when the kept connection it went on turns
    /// out closed before any answer (the server ended it while idle).
    pub async fn send(
        &self,
        peer: &HttpPeer,
        req: RequestHeader,
        body: Option<Bytes>,
    ) -> pingora::Result<(ResponseHeader, Bytes)> {
        self.send_and_read(peer, req, body, |head, body| (head.clone(), body))
            .await
    }

    /// [`send`](Self::send), with the answer read by `read` where the session holds it, before
    /// the connection is kept: no copy of the response head is made.
    pub async fn send_and_read<R>(
        &self,
        peer: &HttpPeer,
        mut req: RequestHeader,
        body: Option<Bytes>,
        read: impl FnOnce(&ResponseHeader, Bytes) -> R,
    ) -> pingora::Result<R> {
        // An empty body is sent as none, as Go's client does.
        let body = body.filter(|b| !b.is_empty());
        if let Some(b) = &body {
            req.insert_header(http::header::CONTENT_LENGTH, b.len())?;
        }
        // Go's `isReplayable` (not `Method::is_safe`, which also counts QUERY).
        let replayable = matches!(
            req.method,
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS | http::Method::TRACE
        );
        let mut req = Box::new(req);
        // Each resend drops one closed kept connection; bounded all the same.
        for _ in 0..MAX_RESENDS {
            let (mut session, reused) = self.connector.get_http_session(peer).await?;
            match exchange(&mut session, req, body.clone()).await {
                Ok(body) => {
                    let head = session.response_header().ok_or_else(no_response)?;
                    let answer = read(head, body);
                    self.connector
                        .release_http_session(session, peer, Some(IDLE))
                        .await;
                    return Ok(answer);
                }
                Err(e) => {
                    let resend = replayable
                        && reused
                        && e.retry == RetryType::ReusedOnly
                        && session.response_header().is_none();
                    match session.as_http1().and_then(|s| s.request_header()) {
                        Some(written) if resend => req = Box::new(written.clone()),
                        _ => return Err(e),
                    }
                }
            }
        }
        Err(pingora::Error::explain(
            pingora::ErrorType::ConnectionClosed,
            "every kept connection to the server was closed",
        ))
    }
}

/// How many closed kept connections one exchange may come across before it gives up.
const MAX_RESENDS: usize = 8;

/// Writes the request on `session` and reads the whole answer: its body is returned, its
/// head stays in the session (there is one when this is Ok).
async fn exchange(
    session: &mut HttpSession,
    req: Box<RequestHeader>,
    body: Option<Bytes>,
) -> pingora::Result<Bytes> {
    session.write_request_header(req).await?;
    if let Some(b) = body {
        session.write_request_body(b, true).await?;
    }
    session.finish_request_body().await?;
    session.read_response_header().await?;
    if session.response_header().is_none() {
        return Err(no_response());
    }
    let mut body = Vec::new();
    while let Some(chunk) = session.read_response_body().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

fn no_response() -> Box<pingora::Error> {
    pingora::Error::explain(pingora::ErrorType::InvalidHTTPHeader, "no response")
}

/// Where to connect for `target` now, as pingora's error when it cannot be resolved.
pub async fn connect_addr(target: &Target) -> pingora::Result<std::net::SocketAddr> {
    target
        .addr()
        .await
        .map_err(|e| pingora::Error::explain(pingora::ErrorType::ConnectNoRoute, e))
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Clone, Copy, PartialEq)]
    enum Server {
        /// Answers `ok` to every request.
        KeepsAlive,
        /// Answers with `Connection: close`, and closes.
        Closes,
        /// Answers the first request, then closes when the second arrives, unanswered (its
        /// idle timeout ended just then).
        DropsSecond,
    }

    /// An HTTP/1.1 server answering `ok` as `mode` says, counting the connections it accepted.
    async fn server(mode: Server) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let close = mode == Server::Closes;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut answered = 0;
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = conn.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            answered += 1;
                            if mode == Server::DropsSecond && answered == 2 {
                                return;
                            }
                            let answer: &[u8] = if close {
                                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                            } else {
                                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                            };
                            if conn.write_all(answer).await.is_err() || close {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    async fn send(
        client: &Client,
        addr: std::net::SocketAddr,
        method: &str,
    ) -> pingora::Result<(ResponseHeader, Bytes)> {
        let peer = HttpPeer::new(addr, false, String::new());
        let req = RequestHeader::build(method, b"/", None).unwrap();
        client.send(&peer, req, None).await
    }

    async fn get(client: &Client, addr: std::net::SocketAddr) -> Bytes {
        let (head, body) = send(client, addr, "GET").await.unwrap();
        assert_eq!(head.status.as_u16(), 200);
        body
    }

    /// Connections the server accepted for three exchanges in a row.
    async fn accepted_for_three(mode: Server) -> usize {
        let (addr, accepted) = server(mode).await;
        let client = Client::new();
        for _ in 0..3 {
            assert_eq!(get(&client, addr).await, "ok");
        }
        accepted.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn keep_alive_connections_are_reused() {
        assert_eq!(accepted_for_three(Server::KeepsAlive).await, 1);
    }

    #[tokio::test]
    async fn connections_the_server_closes_are_not() {
        assert_eq!(accepted_for_three(Server::Closes).await, 3);
    }

    #[tokio::test]
    async fn a_safe_request_is_sent_again_when_its_kept_connection_was_closed() {
        // The second and third exchanges each find their kept connection closed.
        assert_eq!(accepted_for_three(Server::DropsSecond).await, 3);
    }

    #[tokio::test]
    async fn an_unsafe_request_is_not() {
        let (addr, accepted) = server(Server::DropsSecond).await;
        let client = Client::new();
        assert!(send(&client, addr, "POST").await.is_ok());
        let lost = send(&client, addr, "POST").await.unwrap_err();
        assert_eq!(lost.etype(), &pingora::ErrorType::ConnectionClosed);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }
}
