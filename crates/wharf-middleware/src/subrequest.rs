//! One HTTP exchange with another server (an auth server, an error-page service) over
//! pingora's connector, whose connections are pooled and reused.

use std::time::Duration;

use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::upstreams::peer::HttpPeer;

/// Idle connections are kept as long as Traefik keeps them (`idleConnTimeout`).
pub(crate) const IDLE: Duration = Duration::from_secs(90);

/// Hop-by-hop headers, never copied between the exchanges.
pub(crate) const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub(crate) struct Client {
    connector: Connector,
}

impl Client {
    pub(crate) fn new() -> Self {
        Client {
            connector: Connector::new(None),
        }
    }

    /// Sends `req` (with `body`, if any) to `peer` and reads the whole answer.
    pub(crate) async fn send(
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

/// Resolves `host:port` (the first address), as Go's dialer does.
pub(crate) async fn resolve(host: &str, port: u16) -> pingora::Result<std::net::SocketAddr> {
    tokio::net::lookup_host((host, port))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            pingora::Error::explain(
                pingora::ErrorType::ConnectNoRoute,
                format!("cannot resolve {host}"),
            )
        })
}
