//! One HTTP exchange with a server outside the proxied request (an auth server, an error page,
//! a health check) over pingora's connector, whose connections are pooled and reused.

use std::time::Duration;

use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::upstreams::peer::HttpPeer;

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

    /// Sends `req` (with `body`, if any) to `peer` and reads the whole answer.
    pub async fn send(
        &self,
        peer: &HttpPeer,
        mut req: RequestHeader,
        body: Option<Bytes>,
    ) -> pingora::Result<(ResponseHeader, Bytes)> {
        // An empty body is sent as none, as Go's client does.
        let body = body.filter(|b| !b.is_empty());
        if let Some(b) = &body {
            req.insert_header(http::header::CONTENT_LENGTH, b.len())?;
        }
        let (mut session, _reused) = self.connector.get_http_session(peer).await?;
        session.write_request_header(Box::new(req)).await?;
        if let Some(b) = body {
            session.write_request_body(b, true).await?;
        }
        session.finish_request_body().await?;
        session.read_response_header().await?;
        let head = session.response_header().cloned().ok_or_else(|| {
            pingora::Error::explain(pingora::ErrorType::InvalidHTTPHeader, "no response")
        })?;
        let mut body = Vec::new();
        while let Some(chunk) = session.read_response_body().await? {
            body.extend_from_slice(&chunk);
        }
        self.connector
            .release_http_session(session, peer, Some(IDLE))
            .await;
        Ok((head, Bytes::from(body)))
    }
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
