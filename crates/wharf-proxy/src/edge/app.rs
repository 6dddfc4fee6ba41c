//! [`EdgeApp`]: pingora's HTTP application behind the edge. Each accepted connection is
//! wrapped in an [`EdgeStream`]; each new HTTP/1 session on it (a request boundary) lets the
//! stream hand over the next request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::{
    HttpPersistentSettings, HttpServerApp, HttpServerOptions, ReusedHttpStream, ServerApp,
};
use pingora::protocols::http::v2::server::H2Options;
use pingora::protocols::http::ServerSession;
use pingora::protocols::{Peek, Ssl, Stream};
use pingora::server::ShutdownWatch;

use tokio::time::Instant;
use wharf_router::GenerationReader;
use wharf_tls::AcmeChallenges;

use super::stream::{EdgeLimits, EdgeStream};
use super::tls::{handshake, TLS_HANDSHAKE};

/// How long a TLS handshake may take when `readTimeout` is zero (no limit in Go; a silent
/// client would otherwise hold the connection for ever).
const HANDSHAKE_CAP: Duration = Duration::from_secs(60);

/// The application a listening service runs: the edge in front of `A` (pingora's proxy).
pub struct EdgeApp<A> {
    sessions: Arc<Sessions<A>>,
    limits: EdgeLimits,
    generations: GenerationReader,
    entry_point: usize,
    challenges: Arc<AcmeChallenges>,
    /// `traefik_open_connections` of this entrypoint.
    metrics: Option<Arc<wharf_observe::EntryPointMetrics>>,
}

impl<A> EdgeApp<A> {
    /// `entry_point`: this listener's index in the generation (its TLS options by SNI);
    /// `challenges`: answers to ACME TLS-ALPN-01 challenges in flight.
    pub fn new(
        inner: A,
        limits: EdgeLimits,
        generations: GenerationReader,
        entry_point: usize,
        challenges: Arc<AcmeChallenges>,
    ) -> Self {
        EdgeApp {
            sessions: Arc::new(Sessions {
                inner: Arc::new(inner),
                idle_timeout: limits.idle_timeout,
                closing: tokio::sync::watch::Sender::new(false),
            }),
            limits,
            generations,
            entry_point,
            challenges,
            metrics: None,
        }
    }

    /// Counts this entrypoint's open connections.
    pub fn with_metrics(mut self, metrics: &wharf_observe::Metrics) -> Self {
        self.metrics = metrics.entry_point(self.entry_point).cloned();
        self
    }
}

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> ServerApp for EdgeApp<A> {
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let accepted = Instant::now();
        let _open = self.metrics.as_ref().map(|m| m.connection());
        let budget = if self.limits.read_timeout.is_zero() {
            HANDSHAKE_CAP
        } else {
            self.limits.read_timeout
        };
        // Every entrypoint sniffs for TLS, as Traefik's does. A client that sends nothing
        // within readTimeout is closed silently, as Go does.
        let mut first = [0u8; 1];
        match tokio::time::timeout_at(accepted + budget, stream.try_peek(&mut first)).await {
            Ok(Ok(true)) => {}
            _ => return None,
        }
        if first[0] == TLS_HANDSHAKE {
            let generation = self.generations.load();
            let sni = generation.entry_points.get(self.entry_point)?.sni.clone();
            drop(generation);
            // Boxed: the handshake's state would otherwise stay in every connection's future
            // for its whole life.
            let handshaking =
                Box::pin(handshake(stream, &sni, &self.challenges, accepted + budget));
            match handshaking.await {
                Ok(tls) => stream = Box::new(tls),
                Err(e) => {
                    tracing::debug!(error = %e, "TLS handshake refused");
                    return None;
                }
            }
        }
        let mut edge = Box::new(EdgeStream::new(stream, self.limits, accepted));
        let tls = edge.get_ssl_digest().is_some();
        if !tls && self.sessions.inner.server_options().is_some_and(|o| o.h2c) {
            // h2c: the edge recognises the preface (and then passes the bytes through).
            let mut preface = [0u8; 24];
            edge.try_peek(&mut preface).await.ok()?;
        }
        if edge.is_tunnel() {
            // HTTP/2: pingora's own connection handling, over the edge stream.
            return ServerApp::process_new(&self.sessions, edge, shutdown).await;
        }
        self.sessions.serve_http1(edge, shutdown).await
    }

    async fn cleanup(&self) {
        self.sessions.http_cleanup().await;
    }
}

/// Runs an HTTP/1 connection's sessions, telling its [`EdgeStream`] at each (a request
/// boundary). Between two requests of a keep-alive connection it waits for the next one's
/// first bytes before pingora starts a session: an idle connection so holds neither
/// pingora's per-request future (16 KiB) nor its header buffer (4 KiB), only the edge
/// stream.
pub struct Sessions<A> {
    inner: Arc<A>,
    idle_timeout: Duration,
    /// Set when the service stops: idle keep-alive connections close (as pingora's own).
    closing: tokio::sync::watch::Sender<bool>,
}

impl<A: HttpServerApp + Send + Sync + 'static> Sessions<A> {
    /// An HTTP/1 connection's requests, one session each (pingora's own loop, with the wait
    /// between requests done here, on the edge stream).
    async fn serve_http1(
        self: &Arc<Self>,
        edge: Box<EdgeStream>,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let mut stream: Stream = edge;
        let mut settings: Option<HttpPersistentSettings> = None;
        let mut first = true;
        loop {
            // The session lives in this block only: the future keeps no room for it (680
            // bytes) while the connection waits, idle, for its next request.
            let reused = {
                let mut session = ServerSession::new_http1(stream);
                if std::mem::take(&mut first) {
                    // As pingora: no reuse once shutting down; else a first default, which
                    // the proxy replaces with idleTimeout.
                    session.set_keepalive((!*shutdown.borrow()).then_some(60));
                    session.set_keepalive_reuses_remaining(
                        self.inner
                            .server_options()
                            .and_then(|o| o.keepalive_request_limit),
                    );
                }
                if let Some(settings) = settings.take() {
                    settings.apply_to_session(&mut session);
                }
                HttpServerApp::process_new_http(self, session, shutdown).await?
            };
            let (reusable, next_settings) = reused.consume();
            settings = next_settings;
            stream = self.next_request(reusable).await?;
        }
    }

    /// Waits for the next request on a reusable connection; `None` closes it (the client
    /// closed, `idleTimeout` passed or the service stops).
    async fn next_request(&self, stream: Stream) -> Option<Stream> {
        if !stream.as_any().is::<EdgeStream>() {
            return Some(stream);
        }
        let mut edge = stream.into_any().downcast::<EdgeStream>().ok()?;
        let mut closing = self.closing.subscribe();
        let arrived = std::future::poll_fn(|cx| edge.poll_next_request(cx));
        let idle = async {
            if self.idle_timeout.is_zero() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(self.idle_timeout).await;
        };
        let next = tokio::select! {
            arrived = arrived => arrived,
            () = idle => false,
            _ = closing.wait_for(|closing| *closing) => false,
        };
        next.then_some(edge as Stream)
    }
}

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> HttpServerApp for Sessions<A> {
    async fn process_new_http(
        self: &Arc<Self>,
        session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        if let ServerSession::H1(h1) = &session {
            if let Some(edge) = h1.stream().as_any().downcast_ref::<EdgeStream>() {
                edge.next_request();
            }
        }
        self.inner.process_new_http(session, shutdown).await
    }

    fn h2_options(&self) -> Option<H2Options> {
        self.inner.h2_options()
    }

    fn server_options(&self) -> Option<&HttpServerOptions> {
        self.inner.server_options()
    }

    async fn http_cleanup(&self) {
        self.closing.send_replace(true);
        self.inner.http_cleanup().await;
    }
}
