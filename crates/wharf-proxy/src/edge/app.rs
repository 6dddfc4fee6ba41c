//! [`EdgeApp`]: pingora's HTTP application behind the edge. Each accepted connection is
//! wrapped in an [`EdgeStream`]; each new HTTP/1 session on it (a request boundary) lets the
//! stream hand over the next request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::{HttpServerApp, HttpServerOptions, ReusedHttpStream, ServerApp};
use pingora::protocols::http::v2::server::H2Options;
use pingora::protocols::http::ServerSession;
use pingora::protocols::Stream;
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
            match handshake(stream, &sni, &self.challenges, accepted + budget).await {
                Ok(tls) => stream = Box::new(tls),
                Err(e) => {
                    tracing::debug!(error = %e, "TLS handshake refused");
                    return None;
                }
            }
        }
        let edge: Stream = Box::new(EdgeStream::new(stream, self.limits, accepted));
        // pingora's own HTTP loop (h2c detection, keep-alive), over the edge stream.
        ServerApp::process_new(&self.sessions, edge, shutdown).await
    }

    async fn cleanup(&self) {
        self.sessions.inner.http_cleanup().await;
    }
}

/// Tells the connection's [`EdgeStream`] at each new HTTP/1 session, then runs the session.
pub struct Sessions<A> {
    inner: Arc<A>,
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
        self.inner.http_cleanup().await;
    }
}
