//! [`EdgeApp`]: pingora's HTTP application behind the edge. Each accepted connection is
//! wrapped in an [`EdgeStream`]; each new HTTP/1 session on it (a request boundary) lets the
//! stream hand over the next request.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::{HttpServerApp, HttpServerOptions, ReusedHttpStream, ServerApp};
use pingora::protocols::http::v2::server::H2Options;
use pingora::protocols::http::ServerSession;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;

use super::stream::{EdgeLimits, EdgeStream};

/// The application a listening service runs: the edge in front of `A` (pingora's proxy).
pub struct EdgeApp<A> {
    sessions: Arc<Sessions<A>>,
    limits: EdgeLimits,
}

impl<A> EdgeApp<A> {
    pub fn new(inner: A, limits: EdgeLimits) -> Self {
        EdgeApp {
            sessions: Arc::new(Sessions {
                inner: Arc::new(inner),
            }),
            limits,
        }
    }
}

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> ServerApp for EdgeApp<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let edge: Stream = Box::new(EdgeStream::new(stream, self.limits));
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
